//! The step core: what happens to one unit of work (a step, one map instance, an exit step)
//! given what it can see, the same for every driver. A driver is the local executor
//! (`executor`, which records outcomes in SQLite and retries attempts itself), the sub-workflow
//! runner (`subworkflow`, driven by the executor) or the in-task launcher (`launch`, which
//! reports outcomes to an engine that does the retrying); drivers differ only in where outcomes
//! are recorded, how retries happen and how inputs arrive.
//!
//! - [`decide`] decides a unit's fate before anything runs, in this order: `when` false or an
//!   upstream output skipped → Skipped; a kind the local runtime cannot run → Error (read from
//!   its capability row, `couler_backends::local::refusal`); a sub-workflow or a timed suspend
//!   → the driver's; an input artifact missing → Error; the cache key, then the driver's cache
//!   lookup → Cached; else ready to run.
//! - [`Loop`] is the `repeat … while` loop: after each successful iteration, the condition
//!   read with this iteration's outputs says whether another runs, up to `maxIterations`.
//! - [`attempt_outcome`] turns how an attempt's process ended into an outcome (timeouts,
//!   non-zero exits with the tail of stderr, outputs collected and published).
//!
//! Nothing here records, retries or prints: those are the drivers'.

mod io;
mod plan;
#[cfg(test)]
mod tests;

pub(crate) use io::{Input, publish};
pub use plan::template_key;
pub(crate) use plan::{AttemptPlan, PlanInputs};

use crate::Error;
use crate::artifacts::Store;
use crate::outcome::{Outcome, StepOutputs, StepStatus};
use crate::render::{Context, Unresolved};
use crate::runner::{AttemptFiles, ProcessEnd};
use couler_ir::{Reference, Step, StepKind, StepOutput, SubWorkflow, Workflow};
use std::time::Duration;

/// A unit's fate, decided before anything runs.
#[derive(Debug)]
pub(crate) enum Fate<'s> {
    /// It ends without running: Skipped (its `when` is false, it reads an output of a skipped
    /// step) or Error (a kind the local runtime cannot run, a missing input artifact, a
    /// template that cannot be rendered), with the reason as its message.
    Ended(Outcome),
    /// Its cache entry under `key` restores it: Cached with the entry's outputs (its
    /// `storage: local` outputs written), or Error when they could not be written.
    Cached { key: String, outcome: Outcome },
    /// A sub-workflow step: the driver runs its child (the executor as a nested run).
    SubWorkflow(&'s SubWorkflow),
    /// A suspend with a duration: it succeeds after waiting this long.
    Wait(Duration),
    /// It runs.
    Ready(Ready),
}

/// A unit ready to run.
#[derive(Debug)]
pub(crate) struct Ready {
    /// Its input artifacts, each present in the store.
    pub inputs: Vec<Input>,
    /// Its memoization key.
    pub key: String,
    /// Whether its outcome enters the cache when it succeeds.
    pub caching: bool,
}

/// The cache lookup [`decide`] asks its driver for: the key and the entry's maximum age when
/// the unit is cached here, `None` when it is not (the driver may still record the start).
pub(crate) type Probe<'k> = Option<(&'k str, Option<Duration>)>;

/// How a driver caches.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Caching<'a> {
    /// Whether it caches at all.
    pub enabled: bool,
    /// Where secrets are read from when not from the host's environment (a sealed
    /// environment's directory): a step that reads secrets is cached apart for each, since the
    /// same definition with another namespace's secrets is another result.
    pub secrets_from: Option<&'a std::path::Path>,
}

/// Decides the fate of `step` of `wf` in `ctx`, what it can read: the outcomes it has seen,
/// params, its map item (module doc for the order). `store` is where artifacts
/// live (`None`: nowhere, and a step with artifacts errs); `caching` how the driver caches;
/// `lookup` the driver's cache lookup (it is called once, only when the unit would run, so a
/// driver may record the unit's start there).
pub(crate) async fn decide<'s>(
    wf: &Workflow,
    ctx: &Context<'_>,
    step: &'s Step,
    store: Option<&Store>,
    caching: Caching<'_>,
    lookup: impl FnOnce(Probe<'_>) -> Result<Option<StepOutputs>, Error>,
) -> Result<Fate<'s>, Error> {
    if let Some(end) = skipped(step, ctx) {
        return Ok(Fate::Ended(end));
    }
    if let Some(why) = couler_backends::local::refusal(step) {
        return Ok(Fate::Ended(Outcome::new(StepStatus::Error, why)));
    }
    match &step.kind {
        StepKind::Workflow(sub) => return Ok(Fate::SubWorkflow(sub)),
        StepKind::Suspend(s) => {
            return Ok(Fate::Wait(
                s.duration.map(|d| d.as_std()).unwrap_or_default(),
            ));
        }
        _ => {}
    }
    let inputs = match store {
        Some(store) => match io::resolve_inputs(store, step, ctx.steps).await {
            Ok(inputs) => inputs,
            Err(why) => return Ok(Fate::Ended(Outcome::new(StepStatus::Error, why))),
        },
        None if !step.inputs.artifacts.is_empty() || !step.outputs.artifacts.is_empty() => {
            return Ok(Fate::Ended(Outcome::new(
                StepStatus::Error,
                format!(
                    "step `{}` has artifacts but no artifact store is configured; pass --store DIR|s3://BUCKET/PREFIX or set COULER_ARTIFACT_STORE",
                    step.name
                ),
            )));
        }
        None => Vec::new(),
    };
    let def = match plan::render_for_cache_key(wf, step, &mut ctx.clone()) {
        Ok(def) => def,
        Err(u) => return Ok(Fate::Ended(unresolved(u))),
    };
    let memo = wf.memoized(step);
    let key = plan::cache_key(wf, step, &def, &inputs, ctx.item, caching.secrets_from);
    let caching = caching.enabled && memo.is_some();
    let max_age = memo.and_then(|m| m.max_age()).map(|d| d.as_std());
    let hit = lookup(caching.then_some((key.as_str(), max_age)))?;
    if let (Some(outputs), Some(store)) = (hit, store)
        && all_stored(store, &outputs).await
    {
        let outcome = match publish(store, step, &outputs).await {
            Ok(()) => Outcome {
                status: StepStatus::Cached,
                outputs,
                message: Some("outputs restored from the cache".into()),
            },
            Err(why) => Outcome {
                status: StepStatus::Error,
                outputs,
                message: Some(why),
            },
        };
        return Ok(Fate::Cached { key, outcome });
    }
    Ok(Fate::Ready(Ready {
        inputs,
        key,
        caching,
    }))
}

/// Whether every artifact of a cache entry is still in the store (one deleted from it: the
/// unit runs again).
async fn all_stored(store: &Store, outputs: &StepOutputs) -> bool {
    for a in outputs.artifacts.values() {
        if !store.contains(a).await {
            return false;
        }
    }
    true
}

/// The end of a unit that does not run for its `when` or an upstream skip (docs/spec.md §11.3).
fn skipped(step: &Step, ctx: &Context<'_>) -> Option<Outcome> {
    if let Some(cond) = &step.when {
        match ctx.eval(cond) {
            Ok(true) => {}
            Ok(false) => {
                return Some(Outcome::new(
                    StepStatus::Skipped,
                    format!("skipped: `when: {cond}` is false"),
                ));
            }
            Err(u) => return Some(unresolved(u)),
        }
    }
    skipped_upstream(step, ctx).map(|why| Outcome::new(StepStatus::Skipped, why))
}

/// The end of a unit whose inputs could not be resolved: Skipped (it reads an output of a
/// skipped step) or Error.
pub(crate) fn unresolved(u: Unresolved) -> Outcome {
    match u {
        Unresolved::Skipped(why) => Outcome::new(StepStatus::Skipped, format!("skipped: {why}")),
        Unresolved::Error(why) => Outcome::new(StepStatus::Error, why),
    }
}

/// Why `step` is skipped for reading an output of a skipped step (`skipped: …`), if it is.
/// Reading another step's `status`, or only depending on it, does not skip.
pub(crate) fn skipped_upstream(step: &Step, ctx: &Context<'_>) -> Option<String> {
    for (_, r) in step.references() {
        let Reference::Step { step: s, output } = r else {
            continue;
        };
        if s == &step.name || matches!(output, StepOutput::Status) {
            continue;
        }
        if let Err(Unresolved::Skipped(why)) = ctx.resolve(r) {
            return Some(format!("skipped: {why}"));
        }
    }
    None
}

/// A `repeat … while` loop (docs/spec.md §13): after each iteration, whether another runs.
/// A step without `repeat` is a loop of one iteration.
pub(crate) struct Loop<'a> {
    step: &'a Step,
    /// What the step reads, its own outcome aside.
    ctx: Context<'a>,
    iterations: u32,
}

/// What follows an iteration.
#[derive(Debug)]
pub(crate) enum Turn {
    /// The iteration succeeded and the condition holds: another runs (unless the driver
    /// stops, then [`Loop::end`]); here is the iteration's outcome.
    Again(Outcome),
    /// The loop is over with this outcome (`iterations` set for a `repeat` step).
    End(Outcome),
}

impl<'a> Loop<'a> {
    pub fn new(step: &'a Step, ctx: Context<'a>) -> Self {
        Loop {
            step,
            ctx,
            iterations: 0,
        }
    }

    /// Whether another iteration follows one that ended with `o`: not after a failure, nor
    /// at `maxIterations`; otherwise as the condition reads with `o`'s outputs as the step's
    /// own (a condition that cannot be evaluated ends the loop in an Error).
    pub fn after(&mut self, o: Outcome) -> Turn {
        self.iterations += 1;
        let Some(rep) = &self.step.repeat else {
            return Turn::End(o);
        };
        if o.status != StepStatus::Succeeded || self.iterations >= rep.max_iterations.max(1) {
            return Turn::End(self.end(o));
        }
        let mut mine = self.ctx.steps.clone();
        mine.insert(
            self.step.name.clone(),
            Outcome::with_outputs(StepStatus::Succeeded, o.outputs.clone()),
        );
        let reading = Context {
            steps: &mine,
            ..self.ctx.clone()
        };
        match reading.eval(&rep.condition) {
            Ok(true) => Turn::Again(o),
            Ok(false) => Turn::End(self.end(o)),
            Err(Unresolved::Skipped(why) | Unresolved::Error(why)) => {
                Turn::End(self.end(Outcome {
                    status: StepStatus::Error,
                    outputs: o.outputs,
                    message: Some(format!("cannot evaluate `repeat.while`: {why}")),
                }))
            }
        }
    }

    /// The loop's outcome, ending with `o`: for a `repeat` step, with the iterations run.
    pub fn end(&self, mut o: Outcome) -> Outcome {
        if self.step.repeat.is_some() {
            o.outputs.iterations = Some(self.iterations);
        }
        o
    }
}

/// Where an attempt ran, for [`attempt_outcome`].
pub(crate) struct Ran<'a> {
    pub step: &'a Step,
    pub files: &'a AttemptFiles,
    /// Where output artifacts go (`None` only for a step without artifacts).
    pub store: Option<&'a Store>,
    pub timeout: Option<Duration>,
}

/// An attempt's outcome from how its process ended: a timeout is Failed, a stop or a start
/// failure Error, a non-zero exit Failed with the last lines of stderr; a zero exit Succeeded
/// once its outputs are collected and its `storage: local` outputs written (Error if not),
/// its message saying when `result` was cut ([`crate::capture`]).
pub(crate) async fn attempt_outcome(end: &ProcessEnd, ran: &Ran<'_>) -> Outcome {
    let code = match end {
        ProcessEnd::Exited { code, .. } => *code,
        ProcessEnd::TimedOut { .. } => {
            return Outcome::new(
                StepStatus::Failed,
                format!(
                    "timed out after {:.1}s and was stopped",
                    ran.timeout.unwrap_or_default().as_secs_f64()
                ),
            );
        }
        ProcessEnd::Stopped => return Outcome::new(StepStatus::Error, "stopped".to_string()),
        ProcessEnd::Error(m) => return Outcome::new(StepStatus::Error, m.clone()),
    };
    let log = ran.files.stdout();
    let captured = match crate::capture::Captured::from_log(&log) {
        Ok(c) => c,
        Err(e) => return Outcome::new(StepStatus::Error, io::unreadable(&log, &e)),
    };
    let notice = captured.notice(&log);
    let mut outputs = StepOutputs {
        exit_code: Some(code),
        result: Some(captured.result),
        ..StepOutputs::default()
    };
    if code != 0 {
        let message = crate::capture::failure_message(code, &ran.files.stderr());
        return Outcome {
            status: StepStatus::Failed,
            outputs,
            message: Some(message),
        };
    }
    let work = ran.files.work();
    let mut collected = io::collect_outputs(ran.store, ran.step, work, &mut outputs).await;
    if let (Ok(()), Some(store)) = (&collected, ran.store) {
        collected = publish(store, ran.step, &outputs).await;
    }
    match collected {
        Ok(()) => Outcome {
            status: StepStatus::Succeeded,
            outputs,
            message: notice,
        },
        Err(why) => Outcome {
            status: StepStatus::Error,
            outputs,
            message: Some(why),
        },
    }
}
