//! The estimated time to finish a run under way (`couler_history::eta`) of `couler status` and
//! of `couler run`'s live display: the
//! critical path over each unfinished step's predicted median duration, from the state
//! directory's history (the per-template baseline: a step's inputs are not known before it
//! starts).

use couler_history::History;
use couler_history::eta::{Eta, Progress, eta};
use couler_history::store::{FILE_NAME, Filter};
use couler_ir::{Step, Workflow};
use couler_run::{RunRecord, StepRecord};
use std::collections::HashMap;
use std::path::Path;

/// Predicted median durations of a workflow's steps, from a state directory's history.
pub(crate) struct Medians(couler_history::critical::Medians);

impl Medians {
    /// The medians of `wf`'s steps from `dir`'s history; `None` when it predicts none of them.
    pub(crate) fn of(dir: &Path, wf: &Workflow) -> Option<Medians> {
        let history = History::open_existing(&dir.join(FILE_NAME)).ok()?;
        let executions = history.list(&Filter::default()).ok()?;
        let medians = couler_history::critical::Medians::of(&executions, wf, |s| {
            couler_run::template_key(wf, s)
        });
        (!medians.is_empty()).then_some(Medians(medians))
    }

    /// The ETA of a run of `wf` where `progress` says where each step stands.
    pub(crate) fn eta(&self, wf: &Workflow, progress: impl Fn(&Step) -> Progress) -> Option<Eta> {
        eta(wf, progress, |s| self.0.get(&s.name))
    }
}

/// The ETA of `run` when it is running, its spec readable and a history recorded.
pub(crate) fn of_run(dir: &Path, run: &RunRecord, steps: &[StepRecord]) -> Option<Eta> {
    if run.status != "Running" {
        return None;
    }
    let wf = couler_ir::spec::parse(&run.spec, couler_ir::Format::Json).ok()?;
    let medians = Medians::of(dir, &wf)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    medians.eta(&wf, |s| {
        let nodes: Vec<&StepRecord> = steps.iter().filter(|r| r.step == s.name).collect();
        if let Some(r) = nodes.iter().find(|r| r.status == "Running") {
            let elapsed = r.started_at.map_or(0.0, |t| (now - t).max(0.0));
            return Progress::Running { elapsed };
        }
        match nodes.is_empty() || nodes.iter().any(|r| r.status == "Pending") {
            true => Progress::Pending,
            false => Progress::Finished,
        }
    })
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

/// The ETA of `couler run`'s live display: what has started and ended, read from the run's
/// events, over the history's medians; recomputed at most once a second (a workflow's critical
/// path is linear in its steps, and events come per step).
pub(crate) struct LiveEta {
    wf: Workflow,
    medians: Medians,
    since: HashMap<String, std::time::Instant>,
    ended: std::collections::HashSet<String>,
    last: Option<(std::time::Instant, f64)>,
}

impl LiveEta {
    /// The live ETA of a run of `wf` in `dir`; `None` when the history predicts none of its steps.
    pub(crate) fn new(dir: &Path, wf: &Workflow) -> Option<LiveEta> {
        Some(LiveEta {
            medians: Medians::of(dir, wf)?,
            wf: wf.clone(),
            since: HashMap::new(),
            ended: Default::default(),
            last: None,
        })
    }

    pub(crate) fn started(&mut self, node: &str) {
        self.since
            .insert(node.to_string(), std::time::Instant::now());
    }

    pub(crate) fn finished(&mut self, node: &str) {
        self.ended.insert(node.to_string());
        self.last = None;
    }

    /// Seconds left: the critical path over what has not ended.
    pub(crate) fn left(&mut self) -> f64 {
        let now = std::time::Instant::now();
        match self.last {
            Some((at, left)) if now.duration_since(at).as_secs() < 1 => {
                (left - now.duration_since(at).as_secs_f64()).max(0.0)
            }
            _ => {
                let progress = |s: &Step| match self.since.get(&s.name) {
                    _ if self.ended.contains(&s.name) => Progress::Finished,
                    Some(t) => Progress::Running {
                        elapsed: now.duration_since(*t).as_secs_f64(),
                    },
                    None => Progress::Pending,
                };
                let left = self
                    .medians
                    .eta(&self.wf, progress)
                    .map_or(0.0, |e| e.seconds);
                self.last = Some((now, left));
                left
            }
        }
    }
}
