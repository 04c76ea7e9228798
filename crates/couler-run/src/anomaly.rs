//! Anomaly detection and self-healing (docs/history.md): an attempt running past its step's
//! predicted p99 × k is flagged, an [`Event::Anomaly`]; where the step's `retry.slow` opts in
//! (k is then its value), it is also stopped and retried, a retry that counts against
//! `retry.limit`. The prediction is the history's per-template baseline of successful
//! executions, and only one that rests on at least [`MIN_SUPPORT`] of them is trusted.
//!
//! The executor arms a [`Watch`] around each attempt's process: the one step path of
//! `couler run`, `couler resume` and the server's runs.

use crate::Event;
use couler_history::predict::{Predictor, TemplateBaseline};
use couler_history::store::Filter;
use couler_history::{History, StepFeatures, Target};
use couler_ir::{Step, Workflow};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// The fewest successful executions a prediction must rest on before it can flag an attempt.
pub const MIN_SUPPORT: u64 = 5;

/// k when the step does not set `retry.slow`: an attempt is flagged past 3 × its p99.
pub const DEFAULT_FACTOR: f64 = 3.0;

/// The kind of anomaly, as the server's metric labels it.
pub const SLOW: &str = "slow";

/// When an attempt of a step becomes anomalous: past `factor` × the p99 of `support` runs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Threshold {
    pub p99: f64,
    pub support: u64,
    pub factor: f64,
}

impl Threshold {
    /// The threshold of a step whose duration's p99 over `support` executions is `p99`;
    /// `None` when that rests on fewer than [`MIN_SUPPORT`] executions.
    pub fn new(p99: f64, support: u64, factor: f64) -> Option<Threshold> {
        (support >= MIN_SUPPORT && p99.is_finite() && p99 > 0.0).then_some(Threshold {
            p99,
            support,
            factor,
        })
    }

    /// Seconds after its start at which an attempt is flagged.
    pub fn seconds(&self) -> f64 {
        self.p99 * self.factor
    }

    /// The flag of `step` having run `elapsed` seconds, when that is past the threshold.
    pub fn check(&self, step: &str, elapsed: f64) -> Option<String> {
        (elapsed >= self.seconds()).then(|| {
            format!(
                "anomaly: step {step} running {} s, p99 of {} runs is {} s",
                seconds(elapsed),
                self.support,
                seconds(self.p99)
            )
        })
    }
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

/// The threshold of `step` from `history` (its template's successful executions); `None`
/// without enough history.
pub fn threshold(history: &History, wf: &Workflow, step: &Step) -> Option<Threshold> {
    let template = crate::step::template_key(wf, step);
    let runs = history
        .list(&Filter {
            template: Some(template.clone()),
            step: None,
        })
        .ok()?;
    let f = StepFeatures {
        template,
        ..StepFeatures::default()
    };
    let p = TemplateBaseline::train(&runs).predict(Target::Duration, &f)?;
    Threshold::new(p.p99, p.support, factor(wf, step))
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
            let after = tokio::time::sleep(Duration::from_secs_f64(t.seconds().min(1e9)));
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
                        let message = t.check(&node, t.seconds()).unwrap_or_default();
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

    #[test]
    fn a_threshold_needs_enough_history_and_says_what_it_rests_on() {
        assert_eq!(Threshold::new(1.0, MIN_SUPPORT - 1, 3.0), None);
        assert_eq!(Threshold::new(0.0, 40, 3.0), None);
        let t = Threshold::new(95.0, 38, 3.0).unwrap_or_else(|| panic!("enough history"));
        assert_eq!(t.seconds(), 285.0);
        assert_eq!(t.check("train", 284.0), None);
        assert_eq!(
            t.check("train", 412.0).as_deref(),
            Some("anomaly: step train running 412 s, p99 of 38 runs is 95 s")
        );
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
