//! The workflow's `parallelism` on Tekton: no Tekton object bounds how many of a PipelineRun's
//! tasks run at once (a Pipeline has no concurrency field; the controller starts every task
//! whose `runAfter` and result references are satisfied), so the limit cannot be kept. It is
//! refused, naming the spec field and the flag that compiles it anyway, dropped with a warning
//! (docs/tekton.md, "Workflow parallelism"). A map's own `parallelism` is kept: such a map runs
//! in its launcher (`fan_out`).

use crate::capability::Feature;
use crate::{CompileError, Options};
use couler_ir::Workflow;

/// `Ok` when the workflow has no `parallelism`, or the caller chose to drop it (then a warning
/// says so); else the refusal.
pub(super) fn check(
    wf: &Workflow,
    options: &Options,
    warnings: &mut Vec<String>,
) -> Result<(), CompileError> {
    let Some(n) = wf.parallelism else {
        return Ok(());
    };
    if options.ignore_parallelism {
        warnings.push(format!(
            "workflow `{}`: `parallelism: {n}` is dropped (--ignore-parallelism): Tekton starts every task whose predecessors are done, however many",
            wf.name
        ));
        return Ok(());
    }
    let enforcing: Vec<&str> = crate::backends()
        .iter()
        .filter(|b| b.name() != "tekton" && b.support(Feature::Parallelism).is_supported())
        .map(|b| b.name())
        .collect();
    Err(CompileError::Invalid(format!(
        "workflow `{}`: tekton cannot enforce its `parallelism: {n}` (the workflow's top-level field `parallelism`): a Tekton Pipeline has no concurrency limit, so every task whose predecessors are done would run at once. Compile with `--ignore-parallelism` (Python: `ignore_parallelism=True`) to drop the limit, remove `parallelism` from the spec, or compile for {}, which enforce it",
        wf.name,
        enforcing.join(", ")
    )))
}
