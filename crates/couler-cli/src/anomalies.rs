//! `couler status`'s anomalies: the running steps of a run past k × their predicted p99, by the
//! runtime's own rule (`couler_run::anomaly`) over the state directory's history.

use couler_history::History;
use couler_history::store::FILE_NAME;
use couler_run::{RunRecord, StepRecord};
use std::path::Path;

/// One line per running step of `run` that is an anomaly now (none when the run is not
/// running, or without history).
pub(crate) fn of_run(dir: &Path, run: &RunRecord, steps: &[StepRecord]) -> Vec<String> {
    if run.status != "Running" {
        return Vec::new();
    }
    let (Ok(wf), Ok(history)) = (
        couler_ir::spec::parse(&run.spec, couler_ir::Format::Json),
        History::open_existing(&dir.join(FILE_NAME)),
    ) else {
        return Vec::new();
    };
    let now = couler_run::state::now();
    steps
        .iter()
        .filter(|s| s.status == "Running")
        .filter_map(|s| {
            let step = wf.steps.iter().find(|x| x.name == s.step)?;
            let t = couler_run::anomaly::threshold(&history, &wf, step)?;
            t.check(&s.node, now - s.started_at?)
        })
        .collect()
}
