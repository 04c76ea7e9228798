//! An asynchronous study (docs/tuning.md, "Asynchronous studies"): a tuned step the runtime
//! drives itself instead of running lowered rounds. Its trials are units of the step core like
//! any map instance (`NAME-trials[K]`, cached, retried and recorded as they are); what differs
//! is where their settings come from: [`couler_tune::live::Live`], asked whenever a worker is
//! free and told each objective as it arrives. The step `NAME` then publishes the best setting,
//! as the lowered selection step would.
//!
//! What the study is asked and told is appended to a journal, `tune/NAME.jsonl` in the run's
//! directory, before it takes effect; a resumed run replays it, so the trials proposed before
//! are proposed again in the same order, and only those that had not reported run again (a
//! trial that had finished is kept, as any finished unit is).

use super::{Exec, Item};
use crate::Error;
use crate::outcome::{Outcome, StepOutputs, StepStatus};
use crate::state::{Finished, now};
use crate::step;
use couler_ir::Step;
use couler_ir::tune::Tune;
use couler_tune::live::{Event as Journaled, Live};
use futures_util::stream::{FuturesUnordered, StreamExt};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

impl Exec {
    /// Runs the asynchronous study of `step` given its predecessors' outcomes `seen`.
    pub(super) async fn run_study(
        &self,
        step: &Step,
        tune: &Tune,
        seen: &BTreeMap<String, Outcome>,
        consumers: u32,
    ) -> Result<Outcome, Error> {
        let started = now();
        let ctx = self.context(seen, None, None);
        if let Some(why) = step::skipped_upstream(step, &ctx) {
            let o = Outcome::new(StepStatus::Skipped, why);
            return self.finish_plain(&step.name, &step.name, o);
        }
        let journal = Journal::at(&self.run_dir, &step.name);
        let resumed = journal.read().and_then(|events| {
            let fresh = events.is_empty();
            Live::resume(tune, &events)
                .map(|(live, pending)| (live, pending, fresh))
                .map_err(|e| format!("{}: {e}", journal.path.display()))
        });
        let (mut live, pending, fresh) = match resumed {
            Ok(resumed) => resumed,
            Err(e) => {
                let o = Outcome::new(StepStatus::Error, format!("the study cannot run: {e}"));
                return self.finish_plain(&step.name, &step.name, o);
            }
        };
        if fresh {
            self.journal(&journal, &live.study_event())?;
        }
        let trial = live.trial_step(step);
        let run = |k: usize, item: serde_json::Value| {
            let trial = &trial;
            async move {
                let node = format!("{}[{k}]", trial.name);
                let item = Item {
                    value: &item,
                    of: None,
                };
                let o = self
                    .run_unit(trial, &node, Some(item), seen, None, true, Some(consumers))
                    .await;
                (k, o)
            }
        };
        let mut running = FuturesUnordered::new();
        for (k, item) in pending {
            running.push(run(k, item));
        }
        // The first trial that did not give an objective: the study asks nothing more, lets
        // the running trials end, and ends with it.
        let mut stopped: Option<Outcome> = None;
        loop {
            if stopped.is_none() && !self.stopped() {
                let free = live.workers().saturating_sub(running.len());
                if free > 0 {
                    self.journal(&journal, &Journaled::Ask(free))?;
                    for (k, item) in live.ask(free) {
                        running.push(run(k, item));
                    }
                }
            }
            let Some((k, o)) = running.next().await else {
                break;
            };
            let o = o?;
            if stopped.is_some() {
                continue;
            }
            let value = match o.status {
                StepStatus::Succeeded | StepStatus::Cached => o
                    .outputs
                    .parameters
                    .get(&tune.objective.parameter)
                    .cloned()
                    .ok_or_else(|| {
                        format!("trial {k} did not publish `{}`", tune.objective.parameter)
                    }),
                status => {
                    stopped = Some(trial_ended(k, status, o.message));
                    continue;
                }
            };
            match value {
                Ok(text) => match live.tell(k, &text) {
                    Ok(()) => self.journal(
                        &journal,
                        &Journaled::Tell {
                            trial: k,
                            objective: text,
                        },
                    )?,
                    Err(e) => stopped = Some(Outcome::new(StepStatus::Failed, e)),
                },
                Err(e) => stopped = Some(Outcome::new(StepStatus::Failed, e)),
            }
        }
        let o = match stopped {
            Some(o) => o,
            None if self.stopped() => Outcome::new(
                StepStatus::Failed,
                "the run was stopped before the study ended".to_string(),
            ),
            None => match live.select() {
                Ok(best) => Outcome {
                    status: StepStatus::Succeeded,
                    outputs: StepOutputs {
                        parameters: best.parameters,
                        result: Some(best.result),
                        ..StepOutputs::default()
                    },
                    message: Some(best.summary),
                },
                Err(e) => Outcome::new(StepStatus::Failed, e),
            },
        };
        let fin = Finished {
            started_at: Some(started),
            outputs: Some(o.outputs.clone()),
            message: o.message.clone(),
            ..Finished::default()
        };
        self.state
            .step_finished(&self.run_id, &step.name, &step.name, o.status, &fin)?;
        self.emit(crate::Event::Finished {
            node: step.name.clone(),
            status: o.status,
            seconds: now() - started,
            message: o.message.clone(),
            stdout: None,
        });
        Ok(o)
    }

    /// Appends `event` to the study's journal, or fails the run: a study that cannot keep its
    /// journal could not be resumed as it ran.
    fn journal(&self, journal: &Journal, event: &Journaled) -> Result<(), Error> {
        journal.append(event).map_err(|e| {
            Error::Io(format!(
                "cannot write the study's journal {}: {e}",
                journal.path.display()
            ))
        })
    }
}

/// The study's outcome when trial `k` ended with `status` (not a success): the study fails as
/// the lowered one does, where every trial must succeed; a skipped trial skips it.
fn trial_ended(k: usize, status: StepStatus, message: Option<String>) -> Outcome {
    let why = message.map(|m| format!(": {m}")).unwrap_or_default();
    let status = match status {
        StepStatus::Skipped | StepStatus::Omitted => status,
        StepStatus::Error => StepStatus::Error,
        _ => StepStatus::Failed,
    };
    Outcome::new(status, format!("trial {k} {}{why}", status_word(status)))
}

fn status_word(status: StepStatus) -> &'static str {
    match status {
        StepStatus::Skipped | StepStatus::Omitted => "was skipped",
        StepStatus::Error => "could not run",
        _ => "failed",
    }
}

/// A study's journal: one JSON event a line.
struct Journal {
    path: PathBuf,
}

impl Journal {
    fn at(run_dir: &Path, step: &str) -> Journal {
        Journal {
            path: run_dir.join("tune").join(format!("{step}.jsonl")),
        }
    }

    /// The events so far; none when there is no journal yet. A last line cut short by a
    /// crash mid-write is dropped: its event had not taken effect.
    fn read(&self) -> Result<Vec<Journaled>, String> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(format!("cannot read {}: {e}", self.path.display())),
        };
        let lines: Vec<&str> = text.lines().collect();
        let mut events = Vec::with_capacity(lines.len());
        for (i, line) in lines.iter().enumerate() {
            match serde_json::from_str(line) {
                Ok(e) => events.push(e),
                Err(_) if i + 1 == lines.len() && !text.ends_with('\n') => break,
                Err(e) => {
                    return Err(format!("{}:{}: {e}", self.path.display(), i + 1));
                }
            }
        }
        Ok(events)
    }

    fn append(&self, event: &Journaled) -> std::io::Result<()> {
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut line = serde_json::to_string(event).expect("an event serialises");
        line.push('\n');
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        // One write: a crash leaves the line whole or cut short, never interleaved.
        f.write_all(line.as_bytes())
    }
}
