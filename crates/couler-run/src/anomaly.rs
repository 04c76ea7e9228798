//! Anomaly detection and self-healing (docs/history.md): an attempt running past its step's
//! predicted p99 × k is flagged, an [`Event::Anomaly`]; where the step's `retry.slow` opts in
//! (k is then its value), it is also stopped and retried, a retry that counts against
//! `retry.limit`. An attempt whose peak memory ends past k × its p99 peak is flagged too. The
//! prediction is the history's per-template baseline of successful executions, and only one
//! that rests on at least [`MIN_SUPPORT`] of them is trusted.
//!
//! The executor arms a [`Watch`] around each attempt's process: the one step path of
//! `couler run`, `couler resume` and the server's runs.

use crate::Event;
use couler_history::predict::{Predictor, TemplateBaseline};
use couler_history::store::Filter;
use couler_history::{History, StepFeatures, Target};
use couler_ir::{Step, Workflow};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// The fewest successful executions a prediction must rest on before it can flag an attempt.
pub const MIN_SUPPORT: u64 = 5;

/// k when the step does not set `retry.slow`: an attempt is flagged past 3 × its p99.
pub const DEFAULT_FACTOR: f64 = 3.0;

/// No attempt is flagged slow before this many seconds, nor for a peak under this many bytes,
/// whatever its history: k × the p99 of a step of milliseconds is noise (a loaded machine).
pub const MIN_SLOW_SECONDS: f64 = 1.0;
pub const MIN_MEMORY_BYTES: f64 = 32.0 * 1_048_576.0;

/// The kinds of anomaly, as the server's metric labels them: an attempt running past k × its
/// p99 duration; one whose peak memory ended past k × its p99 peak.
pub const SLOW: &str = "slow";
pub const MEMORY: &str = "memory";

/// When an attempt of a step becomes anomalous: past `factor` × the p99 (of its duration or
/// its peak memory) of `support` runs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Threshold {
    pub p99: f64,
    pub support: u64,
    pub factor: f64,
    /// The least [`Threshold::limit`], whatever the p99.
    pub floor: f64,
}

impl Threshold {
    /// The threshold of a step whose duration's p99 over `support` executions is `p99`;
    /// `None` when that rests on fewer than [`MIN_SUPPORT`] executions.
    pub fn new(p99: f64, support: u64, factor: f64) -> Option<Threshold> {
        (support >= MIN_SUPPORT && p99.is_finite() && p99 > 0.0).then_some(Threshold {
            p99,
            support,
            factor,
            floor: 0.0,
        })
    }

    /// The value past which an execution is flagged: factor × p99 (seconds after an attempt's
    /// start, or bytes of peak memory).
    pub fn limit(&self) -> f64 {
        (self.p99 * self.factor).max(self.floor)
    }

    /// The flag of `step` having run `elapsed` seconds, when that is past the threshold.
    pub fn check(&self, step: &str, elapsed: f64) -> Option<String> {
        (elapsed >= self.limit()).then(|| {
            format!(
                "anomaly: step {step} running {} s, p99 of {} runs is {} s",
                seconds(elapsed),
                self.support,
                seconds(self.p99)
            )
        })
    }
}

/// The flag of an attempt whose peak resident memory was `bytes`, when that is past k × the
/// p99 of its history's peaks (`self` over bytes).
pub fn check_memory(t: &Threshold, node: &str, bytes: f64) -> Option<String> {
    (bytes >= t.limit()).then(|| {
        format!(
            "anomaly: step {node} peaked at {} MiB of memory, p99 of {} runs is {} MiB",
            mib(bytes),
            t.support,
            mib(t.p99)
        )
    })
}

fn mib(bytes: f64) -> String {
    seconds(bytes / 1_048_576.0)
}

/// Seconds as a person reads them: whole above 10, else two significant decimals.
fn seconds(s: f64) -> String {
    if s >= 10.0 {
        format!("{s:.0}")
    } else {
        format!("{s:.2}")
    }
}

/// k for `step`: its `retry.slow` (the opt-in to healing), else [`DEFAULT_FACTOR`].
pub fn factor(wf: &Workflow, step: &Step) -> f64 {
    wf.effective_retry(step)
        .and_then(|r| r.slow)
        .unwrap_or(DEFAULT_FACTOR)
}

/// The duration threshold of `step` from `history` (its template's successful executions);
/// `None` without enough history.
pub fn threshold(history: &History, wf: &Workflow, step: &Step) -> Option<Threshold> {
    thresholds(history, wf, step)[0]
}

/// The thresholds of `step` from `history`: of its duration (seconds) and of its peak memory
/// (bytes), each `None` without enough history.
pub fn thresholds(history: &History, wf: &Workflow, step: &Step) -> [Option<Threshold>; 2] {
    let template = crate::step::template_key(wf, step);
    applied(predicted(history, template), wf, step)
}

/// The p99 and support of a template's durations and peaks (`None`: no prediction).
type Predicted = [Option<(f64, u64)>; 2];

/// What `history`'s baseline predicts for `template`.
fn predicted(history: &History, template: String) -> Predicted {
    let Ok(runs) = history.list(&Filter {
        template: Some(template.clone()),
        step: None,
    }) else {
        return [None, None];
    };
    let f = StepFeatures {
        template,
        ..StepFeatures::default()
    };
    let baseline = TemplateBaseline::train(&runs);
    [Target::Duration, Target::Memory].map(|target| {
        let p = baseline.predict(target, &f)?;
        Some((p.p99, p.support))
    })
}

/// The thresholds of `step` from its template's predictions.
fn applied(p: Predicted, wf: &Workflow, step: &Step) -> [Option<Threshold>; 2] {
    let k = factor(wf, step);
    let [duration, memory] = p;
    [(duration, MIN_SLOW_SECONDS), (memory, MIN_MEMORY_BYTES)].map(|(p, floor)| {
        let (p99, support) = p?;
        let t = Threshold::new(p99, support, k)?;
        Some(Threshold { floor, ..t })
    })
}

/// The predictions of a run's templates, each read from the history at the first attempt of a
/// step of that template and kept for the run: read per attempt, a map of N instances (or N
/// steps of one template) read the template's history N times while adding N executions to it,
/// quadratic in N.
#[derive(Default)]
pub(crate) struct RunThresholds(Mutex<HashMap<String, Predicted>>);

impl RunThresholds {
    /// [`thresholds`] of `step`, its template's history read once per run.
    pub fn of(&self, history: &History, wf: &Workflow, step: &Step) -> [Option<Threshold>; 2] {
        let template = crate::step::template_key(wf, step);
        let mut known = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let p = *known
            .entry(template.clone())
            .or_insert_with(|| predicted(history, template));
        drop(known);
        applied(p, wf, step)
    }
}

/// The watch over one attempt: the stop signal its process obeys (the run's, plus one when a
/// healing step is flagged) and the flag once raised.
pub(crate) struct Watch {
    pub stop: watch::Receiver<bool>,
    flag: Arc<OnceLock<String>>,
    heal: bool,
    task: tokio::task::JoinHandle<()>,
}

impl Watch {
    /// Watches an attempt of `node` (a step, or a map's instance) that starts now; `events`
    /// hears the flag.
    pub fn arm(
        t: Threshold,
        heal: bool,
        node: &str,
        mut stop: watch::Receiver<bool>,
        events: Option<mpsc::UnboundedSender<Event>>,
    ) -> Watch {
        let (tx, rx) = watch::channel(*stop.borrow_and_update());
        let flag = Arc::new(OnceLock::new());
        let (raised, node) = (Arc::clone(&flag), node.to_string());
        let task = tokio::spawn(async move {
            let after = tokio::time::sleep(Duration::from_secs_f64(t.limit().min(1e9)));
            tokio::pin!(after);
            let (mut open, mut pending) = (true, true);
            loop {
                tokio::select! {
                    changed = stop.changed(), if open => match changed {
                        Ok(()) => {
                            let _ = tx.send(*stop.borrow_and_update());
                        }
                        Err(_) => open = false,
                    },
                    () = &mut after, if pending => {
                        pending = false;
                        let message = t.check(&node, t.limit()).unwrap_or_default();
                        if let Some(ev) = &events {
                            let _ = ev.send(Event::Anomaly {
                                node: node.clone(),
                                kind: SLOW,
                                message: message.clone(),
                            });
                        }
                        let _ = raised.set(message);
                        if heal {
                            let _ = tx.send(true);
                        }
                    }
                    else => return,
                }
            }
        });
        Watch {
            stop: rx,
            flag,
            heal,
            task,
        }
    }

    /// The flag's message once the attempt was flagged.
    pub fn flag(&self) -> Option<&str> {
        self.flag.get().map(String::as_str)
    }

    /// The flag's message when the attempt was flagged and stopped to be retried.
    pub fn healed(&self) -> Option<&str> {
        self.flag.get().filter(|_| self.heal).map(String::as_str)
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use couler_history::Execution;

    #[test]
    fn a_threshold_needs_enough_history_and_says_what_it_rests_on() {
        assert_eq!(Threshold::new(1.0, MIN_SUPPORT - 1, 3.0), None);
        assert_eq!(Threshold::new(0.0, 40, 3.0), None);
        let t = Threshold::new(95.0, 38, 3.0).unwrap_or_else(|| panic!("enough history"));
        assert_eq!(t.limit(), 285.0);
        assert_eq!(t.check("train", 284.0), None);
        let quick = Threshold::new(0.01, 38, 3.0).map(|t| Threshold { floor: 1.0, ..t });
        assert_eq!(quick.map(|t| t.limit()), Some(1.0), "never under the floor");
        assert_eq!(
            t.check("train", 412.0).as_deref(),
            Some("anomaly: step train running 412 s, p99 of 38 runs is 95 s")
        );
    }

    #[test]
    fn a_memory_peak_far_above_its_history_is_flagged() {
        let t = Threshold::new(100.0 * 1_048_576.0, 6, 3.0).unwrap_or_else(|| panic!("enough"));
        assert_eq!(check_memory(&t, "s", 299.0 * 1_048_576.0), None);
        assert_eq!(
            check_memory(&t, "s", 812.0 * 1_048_576.0).as_deref(),
            Some("anomaly: step s peaked at 812 MiB of memory, p99 of 6 runs is 100 MiB")
        );
    }

    /// Steps of one template share its prediction, read at the first one's attempt: what the
    /// run records meanwhile is not read again (it was, per attempt: quadratic in a map's
    /// width); the factor stays each step's own.
    #[test]
    fn a_runs_steps_of_one_template_read_its_history_once() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let history =
            History::open(&dir.path().join("history.db")).unwrap_or_else(|e| panic!("{e}"));
        let wf = couler_ir::spec::load(
            "apiVersion: couler.dev/v1alpha1\nkind: Workflow\nname: w\nsteps:\n- name: a\n  container: {command: [train]}\n- name: b\n  container: {command: [train]}\n  retry: {limit: 1, slow: 5}\n",
            couler_ir::Format::Yaml,
        )
        .map(|(wf, _)| wf)
        .unwrap_or_else(|d| panic!("{d:?}"));
        let (a, b) = (&wf.steps[0], &wf.steps[1]);
        let template = crate::step::template_key(&wf, a);
        assert_eq!(template, crate::step::template_key(&wf, b));
        let ran = |seconds: f64| Execution {
            source: "run:r".into(),
            workflow: "w".into(),
            features: StepFeatures {
                template: template.clone(),
                step: "a".into(),
                ..StepFeatures::default()
            },
            finished_at: 1.0e9,
            duration_s: seconds,
            peak_rss_bytes: None,
            cpu_seconds: None,
            exit_reason: "succeeded".into(),
            succeeded: true,
        };
        let record = |seconds: f64, n: usize| {
            let runs: Vec<Execution> = (0..n).map(|_| ran(seconds)).collect();
            history.record(&runs).unwrap_or_else(|e| panic!("{e}"));
        };
        record(10.0, 6);
        let run = RunThresholds::default();
        let [first, _] = run.of(&history, &wf, a);
        let first = first.unwrap_or_else(|| panic!("six runs are enough"));
        assert_eq!((first.support, first.factor), (6, DEFAULT_FACTOR));
        record(100.0, 50);
        let [kept, _] = run.of(&history, &wf, b);
        let kept = kept.unwrap_or_else(|| panic!("kept"));
        assert_eq!((kept.p99, kept.support, kept.factor), (first.p99, 6, 5.0));
        // A new run reads what the history holds now.
        let [fresh, _] = RunThresholds::default().of(&history, &wf, b);
        assert_eq!(fresh.map(|t| t.support), Some(56));
    }

    #[tokio::test]
    async fn a_flag_stops_the_attempt_only_when_the_step_heals() {
        for heal in [false, true] {
            let (_run, stop) = watch::channel(false);
            let (tx, mut rx) = mpsc::unbounded_channel();
            let t = Threshold::new(0.01, 5, 3.0).unwrap_or_else(|| panic!("enough history"));
            let mut w = Watch::arm(t, heal, "s[0]", stop, Some(tx));
            let ev = tokio::time::timeout(Duration::from_secs(10), rx.recv()).await;
            match ev {
                Ok(Some(Event::Anomaly {
                    node,
                    kind,
                    message,
                })) => {
                    assert_eq!((node.as_str(), kind), ("s[0]", SLOW));
                    assert!(
                        message.starts_with("anomaly: step s[0] running 0.03 s"),
                        "{message}"
                    );
                }
                other => panic!("no anomaly event: {other:?}"),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            assert_eq!(*w.stop.borrow_and_update(), heal);
            assert_eq!(w.healed().is_some(), heal);
        }
    }
}
