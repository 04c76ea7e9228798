//! Which mapped steps run as a Tekton `matrix` and which run every instance in one TaskRun, in
//! the launcher (docs/tekton.md, "Maps"; docs/launcher.md, "What `step` does"), and the other
//! runs the launcher does more than once inside one TaskRun (`repeat`).
//!
//! A `matrix` gives each instance its own TaskRun, but Tekton cannot bound them
//! (`map.parallelism`), a matrixed task's results are arrays the launcher's environment cannot
//! carry (reading the collected outputs or the status), a matrix over a result needs an array result the
//! launcher cannot write from another step's list (`map.from`), and a `when` on `item` is the
//! instance's, not the task's. A step needing any of these runs as one TaskRun whose launcher
//! runs the instances itself, exactly as `couler run` does (at most `map.parallelism` at once),
//! and publishes the combined outcome (status, and each output as the list of the instances'
//! values), so readers get it as from any step.

use couler_ir::{MapOver, Reference, Step, Workflow};
use std::collections::HashSet;

/// The steps whose outcome (an output, `status` or `exitCode`) another step reads: a matrixed
/// task's `outcome` result would be an array.
pub(super) fn outputs_read(wf: &Workflow) -> HashSet<String> {
    let mut read = HashSet::new();
    for s in wf.steps.iter().chain(&wf.on_exit) {
        for (_, r) in s.references() {
            if let Reference::Step { step, .. } = r
                && *step != s.name
            {
                read.insert(step.clone());
            }
        }
    }
    read
}

/// Whether `step` is mapped and its launcher runs every instance in one TaskRun (no `matrix`).
pub(super) fn in_launcher(step: &Step, outputs_read: &HashSet<String>) -> bool {
    let Some(map) = &step.map else {
        return false;
    };
    matches!(map.over, MapOver::From(_))
        || map.parallelism.is_some()
        || step.when_reads_item()
        || outputs_read.contains(&step.name)
}

/// Whether one TaskRun runs the step's command more than once (a `repeat` loop, or instances in
/// the launcher): the step's `timeout` is then the launcher's, on each run, as in `couler run`,
/// and no Tekton task `timeout` (which would bound them all together) is written.
pub(super) fn runs_many(step: &Step, outputs_read: &HashSet<String>) -> bool {
    step.repeat.is_some() || in_launcher(step, outputs_read)
}
