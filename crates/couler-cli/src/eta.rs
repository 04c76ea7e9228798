//! `couler status`'s estimated time to finish a run under way (`couler_history::eta`): the
//! critical path over each unfinished step's predicted median duration, from the state
//! directory's history (the per-template baseline: a step's inputs are not known before it
//! starts).

use couler_history::eta::{Eta, Progress, eta};
use couler_history::predict::{Predictor, TemplateBaseline};
use couler_history::store::{FILE_NAME, Filter};
use couler_history::{History, StepFeatures, Target};
use couler_run::{RunRecord, StepRecord};
use std::path::Path;

/// The ETA of `run` when it is running, its spec readable and a history recorded.
pub(crate) fn of_run(dir: &Path, run: &RunRecord, steps: &[StepRecord]) -> Option<Eta> {
    if run.status != "Running" {
        return None;
    }
    let wf = couler_ir::spec::parse(&run.spec, couler_ir::Format::Json).ok()?;
    let history = History::open_existing(&dir.join(FILE_NAME)).ok()?;
    let baseline = TemplateBaseline::train(&history.list(&Filter::default()).ok()?);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let progress = |s: &couler_ir::Step| {
        let nodes: Vec<&StepRecord> = steps.iter().filter(|r| r.step == s.name).collect();
        if let Some(r) = nodes.iter().find(|r| r.status == "Running") {
            let elapsed = r.started_at.map_or(0.0, |t| (now - t).max(0.0));
            return Progress::Running { elapsed };
        }
        match nodes.is_empty() || nodes.iter().any(|r| r.status == "Pending") {
            true => Progress::Pending,
            false => Progress::Finished,
        }
    };
    let median = |s: &couler_ir::Step| {
        let f = StepFeatures {
            template: couler_run::template_key(&wf, s),
            ..StepFeatures::default()
        };
        baseline.predict(Target::Duration, &f).map(|p| p.median)
    };
    eta(&wf, progress, median)
}

/// `1h02m03s`, `4m05s`, `12s`.
pub(crate) fn duration_text(secs: f64) -> String {
    let s = secs.round().max(0.0) as u64;
    match (s / 3600, s % 3600 / 60, s % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, s) => format!("{m}m{s:02}s"),
        (h, m, s) => format!("{h}h{m:02}m{s:02}s"),
    }
}
