//! The executor: runs a validated workflow's DAG on this machine.
//!
//! Scheduling is event driven: a step starts as soon as its last predecessor finishes (no
//! polling), each step is a tokio task, and processes are bounded by one global semaphore (the
//! smaller of `--parallelism` and the workflow's `parallelism`) plus each map's own. A step's
//! templates see only its predecessors' outcomes, which is all it can reference, so starting a
//! step costs time proportional to its own in-degree, not to the workflow's size.
//!
//! Durability: a step is recorded `Succeeded` (with its outputs and artifact digests) only after
//! its artifacts are in the store, in one SQLite transaction with its last attempt and its cache
//! entry. `resume` restores exactly those rows, so no finished step runs twice and no artifact
//! is lost.
//!
//! Dispatch keeps at most [`MAX_IN_FLIGHT`] step tasks alive; the other ready steps wait as
//! indices, so memory does not grow with the width of the workflow.

use crate::artifacts::{ArtifactRef, Store};
use crate::mapped::combine_map;
use crate::render::{Context, Outcome, Unresolved, json_text};
use crate::runner::{self, AttemptFiles, ProcessEnd, ProcessSpec, Runtime};
use crate::state::{
    AttemptRecord, CachePut, Finished, RunStatus, State, StepEnd, StepOutputs, StepStatus, now,
};
use crate::{Error, Event};
use couler_ir::{
    ArtifactSource, Graph, MapOver, Reference, RetryOn, Step, StepKind, StepOutput, Storage,
    Workflow,
};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinSet;

/// Bump when the cache key's inputs change meaning, so old entries stop matching.
const CACHE_FORMAT: u32 = 1;

/// The most step tasks one executor keeps at once. Processes are bounded by the slots
/// (`--parallelism`) anyway; this bounds the tasks waiting for a slot, whose futures would
/// otherwise take memory for every ready step. Steps that wait without a slot (`suspend`,
/// retry backoff, sub-workflows) count too, so at most this many of them wait at once.
const MAX_IN_FLIGHT: usize = 256;

/// Aborts a task when its handle is dropped (a run's future dropped mid-way stops its steps).
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Everything the step tasks share.
#[derive(Clone)]
pub(crate) struct Exec {
    pub wf: Workflow,
    pub run_id: String,
    pub run_dir: PathBuf,
    pub state: State,
    pub store: Store,
    pub params: BTreeMap<String, serde_json::Value>,
    pub slots: Arc<Semaphore>,
    pub stop: watch::Receiver<bool>,
    pub runtime: Runtime,
    pub use_cache: bool,
    /// Rows `resume` keeps: node → status and outputs.
    pub kept: BTreeMap<String, (StepStatus, StepOutputs)>,
    pub events: Option<mpsc::UnboundedSender<Event>>,
    /// Where the workflow's spec came from, for its sub-workflow steps.
    pub nest: crate::subworkflow::Nest,
}

/// What a unit of work (a step, or one map instance) ended with.
struct UnitEnd {
    status: StepStatus,
    outputs: StepOutputs,
    message: Option<String>,
}

impl Exec {
    fn emit(&self, e: Event) {
        if let Some(tx) = &self.events {
            let _ = tx.send(e);
        }
    }

    fn stopped(&self) -> bool {
        *self.stop.borrow()
    }

    /// Runs the whole workflow, then the exit handler; returns the run's status and message.
    pub async fn run(self: Arc<Self>) -> Result<(RunStatus, Option<String>), Error> {
        // The dispatch loop runs as a task of its own, on a runtime worker: the step tasks it
        // spawns and the wake-up when one ends then stay on that worker instead of crossing to
        // the thread that called `block_on` (two thread hand-offs per step on a chain).
        let exit_stop = crate::stop::exit_handler_signal(self.stop.clone());
        let dispatch = AbortOnDrop(tokio::spawn(Arc::clone(&self).dispatch()));
        let outcomes = match (&mut { dispatch }.0).await {
            Ok(r) => r?,
            Err(e) => return Err(Error::Internal(format!("the dispatch task failed: {e}"))),
        };
        let wf = &self.wf;
        let mut status = RunStatus::Succeeded;
        let mut message = None;
        for (i, o) in outcomes.iter().enumerate() {
            let Some(o) = o else { continue };
            let step = &wf.steps[i];
            let failed = (o.status.is_failure() && !step.continue_on_failure)
                || o.status == StepStatus::Omitted;
            if failed && status == RunStatus::Succeeded {
                status = if o.status == StepStatus::Error {
                    RunStatus::Error
                } else {
                    RunStatus::Failed
                };
                message = Some(format!("step `{}` {}", step.name, o.status.as_str()));
            }
        }
        if self.stopped() {
            status = RunStatus::Stopped;
            message = Some("stopped".to_string());
        }
        if !wf.on_exit.is_empty() {
            let mut all: BTreeMap<String, Outcome> = outcomes
                .iter()
                .enumerate()
                .filter_map(|(i, o)| o.clone().map(|o| (wf.steps[i].name.clone(), o)))
                .collect();
            let visible = match status {
                RunStatus::Succeeded => "Succeeded",
                RunStatus::Error => "Error",
                _ => "Failed",
            };
            // The exit handler runs even after a stop: it is how users clean up; a second stop
            // request stops it too (`stop.rs`). Its steps run one at a time in dependency
            // order; one after a failed exit step is not run.
            let handler = Exec {
                stop: exit_stop,
                ..(*self).clone()
            };
            let exits = &wf.on_exit;
            let graph = Graph::of_exit_handler(wf);
            let order = graph
                .topological_order()
                .map_err(|_| Error::Internal("the exit steps form a cycle".to_string()))?;
            let mut ended: Vec<Option<StepStatus>> = vec![None; exits.len()];
            for i in order {
                let exit = &exits[i];
                let blocked = graph.predecessors(i).iter().copied().find(|&p| {
                    ended[p].is_some_and(|s| {
                        s == StepStatus::Omitted
                            || (s.is_failure() && !exits[p].continue_on_failure)
                    })
                });
                let outcome = match blocked {
                    Some(p) => {
                        let why = format!("`{}` did not succeed", exits[p].name);
                        self.omit(&exit.name, &why)?
                    }
                    None => {
                        let end = handler
                            .run_single(exit, &exit.name, None, &all, Some(visible), false)
                            .await?;
                        Outcome {
                            status: end.status,
                            outputs: end.outputs,
                        }
                    }
                };
                let failed = outcome.status == StepStatus::Omitted
                    || (outcome.status.is_failure() && !exit.continue_on_failure);
                if failed && status == RunStatus::Succeeded {
                    status = RunStatus::Failed;
                    message = Some(format!("the exit handler `{}` failed", exit.name));
                }
                ended[i] = Some(outcome.status);
                all.insert(exit.name.clone(), outcome);
            }
        }
        Ok((status, message))
    }

    /// Runs the DAG: each step once its predecessors ended (at most [`MAX_IN_FLIGHT`] step
    /// tasks at once); returns every step's outcome.
    async fn dispatch(self: Arc<Self>) -> Result<Vec<Option<Outcome>>, Error> {
        let wf = &self.wf;
        let graph = Graph::new(wf);

        let n = wf.steps.len();
        let mut waiting: Vec<usize> = (0..n).map(|i| graph.predecessors(i).len()).collect();
        let mut outcomes: Vec<Option<Outcome>> = vec![None; n];
        let mut ready: Vec<usize> = (0..n).filter(|&i| waiting[i] == 0).rev().collect();
        let mut tasks: JoinSet<(usize, Result<Outcome, Error>)> = JoinSet::new();
        let mut first_error: Option<Error> = None;
        let mut done = 0usize;
        while done < n {
            // At most MAX_IN_FLIGHT step tasks at once: the rest wait in `ready` as an index,
            // so memory stays flat when thousands of steps become ready together (a fan-out).
            while tasks.len() < MAX_IN_FLIGHT
                && let Some(i) = ready.pop()
            {
                let step = &wf.steps[i];
                let preds = graph.predecessors(i);
                let blocked = preds.iter().find(|&&p| {
                    outcomes[p].as_ref().is_some_and(|o| {
                        o.status == StepStatus::Omitted
                            || (o.status.is_failure() && !wf.steps[p].continue_on_failure)
                    })
                });
                if blocked.is_some() || self.stopped() || first_error.is_some() {
                    let why = match blocked {
                        Some(&p) => format!("`{}` did not succeed", wf.steps[p].name),
                        None => "the run was stopped".to_string(),
                    };
                    let o = self.omit(&step.name, &why)?;
                    outcomes[i] = Some(o);
                    done += 1;
                    for &s in graph.successors(i) {
                        waiting[s] -= 1;
                        if waiting[s] == 0 {
                            ready.push(s);
                        }
                    }
                    continue;
                }
                let seen: BTreeMap<String, Outcome> = preds
                    .iter()
                    .filter_map(|&p| {
                        outcomes[p]
                            .as_ref()
                            .map(|o| (wf.steps[p].name.clone(), o.clone()))
                    })
                    .collect();
                let me = Arc::clone(&self);
                let consumers = u32::try_from(graph.successors(i).len()).unwrap_or(u32::MAX);
                tasks.spawn(async move {
                    let r = me.run_step(i, seen, consumers).await;
                    (i, r)
                });
            }
            let Some(joined) = tasks.join_next().await else {
                break;
            };
            let (i, r) = match joined {
                Ok(x) => x,
                Err(e) => return Err(Error::Internal(format!("a step task panicked: {e}"))),
            };
            let o = match r {
                Ok(o) => o,
                Err(e) => {
                    // A state or store failure: stop scheduling, let running steps finish.
                    first_error.get_or_insert(e);
                    Outcome {
                        status: StepStatus::Error,
                        outputs: StepOutputs::default(),
                    }
                }
            };
            outcomes[i] = Some(o);
            done += 1;
            for &s in graph.successors(i) {
                waiting[s] -= 1;
                if waiting[s] == 0 {
                    ready.push(s);
                }
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(outcomes),
        }
    }

    fn omit(&self, node: &str, why: &str) -> Result<Outcome, Error> {
        let fin = Finished {
            message: Some(format!("not run: {why}")),
            ..Finished::default()
        };
        self.state
            .step_finished(&self.run_id, node, node, StepStatus::Omitted, &fin)?;
        self.emit(Event::Finished {
            node: node.to_string(),
            status: StepStatus::Omitted,
            seconds: 0.0,
            message: fin.message,
            stdout: None,
        });
        Ok(Outcome {
            status: StepStatus::Omitted,
            outputs: StepOutputs::default(),
        })
    }

    /// Ends a step whose inputs could not be resolved: Skipped (an upstream was skipped) or Error.
    fn finish_unresolved(
        &self,
        node: &str,
        step: &str,
        unresolved: Unresolved,
    ) -> Result<UnitEnd, Error> {
        let (status, message) = match unresolved {
            Unresolved::Skipped(why) => (StepStatus::Skipped, format!("skipped: {why}")),
            Unresolved::Error(why) => (StepStatus::Error, why),
        };
        self.finish_plain(node, step, status, StepOutputs::default(), Some(message))
    }

    fn finish_plain(
        &self,
        node: &str,
        step: &str,
        status: StepStatus,
        outputs: StepOutputs,
        message: Option<String>,
    ) -> Result<UnitEnd, Error> {
        let fin = Finished {
            message: message.clone(),
            outputs: Some(outputs.clone()),
            ..Finished::default()
        };
        self.state
            .step_finished(&self.run_id, node, step, status, &fin)?;
        self.emit(Event::Finished {
            node: node.to_string(),
            status,
            seconds: 0.0,
            message: message.clone(),
            stdout: None,
        });
        Ok(UnitEnd {
            status,
            outputs,
            message,
        })
    }

    /// Runs step `i` (all its map instances, or its loop) given its predecessors' outcomes.
    async fn run_step(
        &self,
        i: usize,
        seen: BTreeMap<String, Outcome>,
        consumers: u32,
    ) -> Result<Outcome, Error> {
        let step = &self.wf.steps[i];
        if let Some((status, outputs)) = self.kept.get(&step.name) {
            self.emit(Event::Finished {
                node: step.name.clone(),
                status: *status,
                seconds: 0.0,
                message: Some("kept from the earlier attempt of this run".into()),
                stdout: None,
            });
            return Ok(Outcome {
                status: *status,
                outputs: outputs.clone(),
            });
        }
        let end = match &step.map {
            None => {
                self.run_unit(step, &step.name, None, &seen, None, true, Some(consumers))
                    .await?
            }
            Some(map) => {
                // Reading a skipped step's output skips the whole step, not each instance.
                if let Some(why) = skipped_upstream(step, &self.context(&seen, None, None)) {
                    let end = self.finish_plain(
                        &step.name,
                        &step.name,
                        StepStatus::Skipped,
                        StepOutputs::default(),
                        Some(why),
                    )?;
                    return Ok(Outcome {
                        status: end.status,
                        outputs: end.outputs,
                    });
                }
                let items = match self.map_items(step, &map.over, &seen) {
                    Ok(items) => items,
                    Err(Unresolved::Skipped(why)) => MapItems::Ended(self.finish_plain(
                        &step.name,
                        &step.name,
                        StepStatus::Skipped,
                        StepOutputs::default(),
                        Some(format!("skipped: {why}")),
                    )?),
                    Err(Unresolved::Error(why)) => MapItems::Ended(self.finish_plain(
                        &step.name,
                        &step.name,
                        StepStatus::Error,
                        StepOutputs::default(),
                        Some(why),
                    )?),
                };
                match items {
                    MapItems::Items(items) => {
                        self.run_map(step, items, map.parallelism, &seen, consumers)
                            .await?
                    }
                    MapItems::Ended(end) => end,
                }
            }
        };
        Ok(Outcome {
            status: end.status,
            outputs: end.outputs,
        })
    }

    fn map_items(
        &self,
        step: &Step,
        over: &MapOver,
        seen: &BTreeMap<String, Outcome>,
    ) -> Result<MapItems, Unresolved> {
        Ok(MapItems::Items(match over {
            MapOver::Items(v) => v.clone(),
            MapOver::Range {
                start,
                stop,
                step: by,
            } => range_items(*start, *stop, *by),
            MapOver::From(r) => {
                let ctx = self.context(seen, None, None);
                let text = ctx.resolve(r)?;
                crate::capture::map_items(r, &step.name, &text).map_err(Unresolved::Error)?
            }
        }))
    }

    async fn run_map(
        &self,
        step: &Step,
        items: Vec<serde_json::Value>,
        parallelism: Option<u32>,
        seen: &BTreeMap<String, Outcome>,
        consumers: u32,
    ) -> Result<UnitEnd, Error> {
        let started = now();
        let limit = parallelism
            .map(|p| p.max(1) as usize)
            .unwrap_or(items.len().max(1));
        let map_slots = Arc::new(Semaphore::new(limit));
        let mut ends: Vec<Option<UnitEnd>> = Vec::new();
        // Instances run concurrently inside this step's task; the map semaphore bounds them.
        let mut futs = Vec::with_capacity(items.len());
        for (k, item) in items.iter().enumerate() {
            futs.push(Box::pin(self.instance(
                step,
                k,
                item,
                seen,
                Arc::clone(&map_slots),
                consumers,
            )));
        }
        for r in futures_util::future::join_all(futs).await {
            ends.push(Some(r?));
        }
        let ends: Vec<UnitEnd> = ends.into_iter().flatten().collect();
        let (status, outputs) = combine_map(
            step,
            &ends
                .iter()
                .map(|e| (e.status, &e.outputs))
                .collect::<Vec<_>>(),
        );
        let message = ends.iter().find_map(|e| e.message.clone());
        let fin = Finished {
            started_at: Some(started),
            outputs: Some(outputs.clone()),
            message: message.clone(),
            ..Finished::default()
        };
        self.state
            .step_finished(&self.run_id, &step.name, &step.name, status, &fin)?;
        self.emit(Event::Finished {
            node: step.name.clone(),
            status,
            seconds: now() - started,
            message: message.clone(),
            stdout: None,
        });
        Ok(UnitEnd {
            status,
            outputs,
            message,
        })
    }

    async fn instance(
        &self,
        step: &Step,
        k: usize,
        item: &serde_json::Value,
        seen: &BTreeMap<String, Outcome>,
        map_slots: Arc<Semaphore>,
        consumers: u32,
    ) -> Result<UnitEnd, Error> {
        let _permit = map_slots.acquire_owned().await;
        let node = format!("{}[{k}]", step.name);
        self.run_unit(step, &node, Some(item), seen, None, true, Some(consumers))
            .await
    }

    fn context<'a>(
        &'a self,
        seen: &'a BTreeMap<String, Outcome>,
        item: Option<&'a serde_json::Value>,
        workflow_status: Option<&'a str>,
    ) -> Context<'a> {
        Context {
            workflow_name: &self.wf.name,
            run_id: &self.run_id,
            workflow_status,
            params: &self.params,
            steps: seen,
            item,
            input_params: BTreeMap::new(),
            input_artifact_paths: BTreeMap::new(),
            output_param_paths: BTreeMap::new(),
            output_artifact_paths: BTreeMap::new(),
        }
    }

    /// Runs one unit: a step without map, one map instance, or the exit handler; with its
    /// `when`, cache lookup, retries, timeout and `repeat` loop.
    async fn run_single(
        &self,
        step: &Step,
        node: &str,
        item: Option<&serde_json::Value>,
        seen: &BTreeMap<String, Outcome>,
        workflow_status: Option<&str>,
        cacheable: bool,
    ) -> Result<UnitEnd, Error> {
        self.run_unit(step, node, item, seen, workflow_status, cacheable, None)
            .await
    }

    /// [`Exec::run_single`] given the step's number of successors in the graph, which the
    /// cache entry records (`None`: counted here, an O(workflow) walk).
    #[allow(clippy::too_many_arguments)]
    async fn run_unit(
        &self,
        step: &Step,
        node: &str,
        item: Option<&serde_json::Value>,
        seen: &BTreeMap<String, Outcome>,
        workflow_status: Option<&str>,
        cacheable: bool,
        consumers: Option<u32>,
    ) -> Result<UnitEnd, Error> {
        if let Some((status, outputs)) = self.kept.get(node) {
            return Ok(UnitEnd {
                status: *status,
                outputs: outputs.clone(),
                message: None,
            });
        }
        let mut ctx = self.context(seen, item, workflow_status);
        // `when` false, or reading an output of a skipped step: Skipped (docs/spec.md §11.3).
        if let Some(cond) = &step.when {
            match ctx.eval(cond) {
                Ok(true) => {}
                Ok(false) => {
                    return self.finish_plain(
                        node,
                        &step.name,
                        StepStatus::Skipped,
                        StepOutputs::default(),
                        Some(format!("skipped: `when: {cond}` is false")),
                    );
                }
                Err(unresolved) => {
                    return self.finish_unresolved(node, &step.name, unresolved);
                }
            }
        }
        if let Some(why) = skipped_upstream(step, &ctx) {
            return self.finish_plain(
                node,
                &step.name,
                StepStatus::Skipped,
                StepOutputs::default(),
                Some(why),
            );
        }
        if let StepKind::Workflow(sub) = &step.kind {
            self.state
                .step_started(&self.run_id, node, &step.name, None)?;
            self.emit(Event::Started {
                node: node.to_string(),
            });
            let (status, message) =
                crate::subworkflow::run_step(self, step, sub, node, &ctx).await?;
            return self.finish_plain(
                node,
                &step.name,
                status,
                StepOutputs::default(),
                Some(message),
            );
        }
        if let Some(why) = unsupported(step) {
            return self.finish_plain(
                node,
                &step.name,
                StepStatus::Error,
                StepOutputs::default(),
                Some(why),
            );
        }
        if let StepKind::Suspend(s) = &step.kind {
            let secs = s.duration.map(|d| d.as_std()).unwrap_or_default();
            self.sleep_unless_stopped(secs).await;
            return self.finish_plain(
                node,
                &step.name,
                StepStatus::Succeeded,
                StepOutputs::default(),
                None,
            );
        }

        // Input artifacts: what each one is, before anything runs.
        let mut inputs: Vec<(String, String, ArtifactRef)> = Vec::new();
        for a in &step.inputs.artifacts {
            let found = input_artifact(&self.store, a, seen).await;
            let present = match &found {
                Ok(r) => self.store.contains(r).await,
                Err(_) => false,
            };
            match found {
                Ok(r) if present => inputs.push((a.name.clone(), a.path.clone(), r)),
                Ok(r) => {
                    return self.finish_plain(
                        node,
                        &step.name,
                        StepStatus::Error,
                        StepOutputs::default(),
                        Some(format!(
                            "input artifact `{}` ({}) is missing from the artifact store",
                            a.name, r.digest
                        )),
                    );
                }
                Err(_) if a.optional => {}
                Err(why) => {
                    return self.finish_plain(
                        node,
                        &step.name,
                        StepStatus::Error,
                        StepOutputs::default(),
                        Some(format!("missing input artifact `{}`: {why}", a.name)),
                    );
                }
            }
        }

        let key_def = match render_for_cache_key(&self.wf, step, &mut ctx) {
            Ok(r) => r,
            Err(unresolved) => {
                return self.finish_unresolved(node, &step.name, unresolved);
            }
        };
        let memo = self.wf.memoized(step);
        let caching = cacheable && self.use_cache && memo.is_some();
        let cache_key = cache_key(&self.wf, step, &key_def, &inputs, item);
        let max_age = memo.and_then(|m| m.max_age()).map(|d| d.as_std());
        let steps_dir = self.run_dir.join("steps");
        let started = now();
        // The start's row, the last attempt number recorded (so `resume` numbers on) and the
        // cache entry under the step's key, in one round trip.
        let (mut attempt, mut hit) = self.state.step_started(
            &self.run_id,
            node,
            &step.name,
            caching.then_some((cache_key.as_str(), max_age)),
        )?;
        if let Some(out) = &hit {
            for a in out.artifacts.values() {
                if !self.store.contains(a).await {
                    // The object was deleted from the store: run the step again.
                    hit = None;
                    break;
                }
            }
        }
        if let Some(out) = hit {
            self.state.cache_hit(&cache_key)?;
            // A cached step still writes its `storage: local` outputs (a split's exchange).
            if let Err(why) = crate::subworkflow::publish(&self.store, step, &out).await {
                return self.finish_plain(node, &step.name, StepStatus::Error, out, Some(why));
            }
            let fin = Finished {
                cache_key: Some(cache_key.clone()),
                outputs: Some(out.clone()),
                exit_code: out.exit_code,
                message: Some("outputs restored from the cache".into()),
                ..Finished::default()
            };
            self.state
                .step_finished(&self.run_id, node, &step.name, StepStatus::Cached, &fin)?;
            self.emit(Event::Finished {
                node: node.to_string(),
                status: StepStatus::Cached,
                seconds: 0.0,
                message: None,
                stdout: None,
            });
            return Ok(UnitEnd {
                status: StepStatus::Cached,
                outputs: out,
                message: None,
            });
        }
        self.emit(Event::Started {
            node: node.to_string(),
        });
        let max_iter = step
            .repeat
            .as_ref()
            .map(|r| r.max_iterations.max(1))
            .unwrap_or(1);
        let retry = self.wf.effective_retry(step);
        let timeout = self.wf.effective_timeout(step).map(|d| d.as_std());
        let mut iterations = 0u32;
        let mut peak = 0i64;
        let mut cpu = 0.0f64;
        let (status, outputs, message, last, last_row) = 'iter: loop {
            iterations += 1;
            let mut tries = 0u32;
            let end = loop {
                attempt += 1;
                tries += 1;
                // An attempt the executor did not see end (kill -9) has a directory but no row,
                // and its orphaned process may still write there: number past it.
                let files = loop {
                    let files = AttemptFiles::numbered(&steps_dir, node, attempt);
                    if !files.work().exists() {
                        break files;
                    }
                    attempt += 1;
                };
                let a = self
                    .attempt(
                        step,
                        node,
                        &files,
                        &inputs,
                        seen,
                        item,
                        workflow_status,
                        timeout,
                    )
                    .await?;
                peak = peak.max(a.peak_rss_kb.unwrap_or(0));
                cpu += a.cpu_seconds.unwrap_or(0.0);
                let row = AttemptRecord {
                    attempt,
                    status: a.status,
                    exit_code: a.outputs.exit_code,
                    started_at: a.started,
                    peak_rss_kb: a.peak_rss_kb,
                    cpu_seconds: a.cpu_seconds,
                    log_dir: files.work().to_string_lossy().into_owned(),
                    message: a.message.clone(),
                };
                let retryable = match (retry, a.status) {
                    (_, StepStatus::Succeeded) => false,
                    (Some(r), s) if tries <= r.limit && !self.stopped() && !a.stopped => {
                        match r.on {
                            RetryOn::Always => true,
                            RetryOn::Failure => s == StepStatus::Failed,
                            RetryOn::Error | RetryOn::Transient => s == StepStatus::Error,
                        }
                    }
                    _ => false,
                };
                if !retryable {
                    break (a, files, row);
                }
                // Not the last attempt: its row now (the last one goes with the step's end).
                self.state.attempt_ended(&self.run_id, node, &row)?;
                if let Some(b) = retry.and_then(|r| r.backoff.as_ref()) {
                    let base = b.duration.as_std().as_secs_f64();
                    let mut wait = base * f64::from(b.factor).powi(tries as i32 - 1);
                    if let Some(max) = b.max {
                        wait = wait.min(max.as_std().as_secs_f64());
                    }
                    self.sleep_unless_stopped(Duration::from_secs_f64(wait.min(86_400.0)))
                        .await;
                }
            };
            let (a, files, row) = end;
            if a.status != StepStatus::Succeeded {
                break 'iter (a.status, a.outputs, a.message, files, row);
            }
            if let Some(rep) = &step.repeat
                && iterations < max_iter
            {
                let mut mine = seen.clone();
                mine.insert(
                    step.name.clone(),
                    Outcome {
                        status: StepStatus::Succeeded,
                        outputs: a.outputs.clone(),
                    },
                );
                let c = self.context(&mine, item, workflow_status);
                match c.eval(&rep.condition) {
                    Ok(true) if !self.stopped() => {
                        self.state.attempt_ended(&self.run_id, node, &row)?;
                        continue 'iter;
                    }
                    Ok(_) => {}
                    Err(Unresolved::Skipped(why) | Unresolved::Error(why)) => {
                        break 'iter (
                            StepStatus::Error,
                            a.outputs,
                            Some(format!("cannot evaluate `repeat.while`: {why}")),
                            files,
                            row,
                        );
                    }
                }
            }
            break 'iter (a.status, a.outputs, a.message, files, row);
        };
        let mut outputs = outputs;
        if step.repeat.is_some() {
            outputs.iterations = Some(iterations);
        }
        let fin = Finished {
            attempts: attempt,
            exit_code: outputs.exit_code,
            started_at: Some(started),
            peak_rss_kb: Some(peak),
            cpu_seconds: Some(cpu),
            cache_key: Some(cache_key.clone()),
            outputs: Some(outputs.clone()),
            log_dir: Some(last.work().to_string_lossy().into_owned()),
            message: message.clone(),
        };
        // What the budget's policy ranks by: the seconds a miss costs, who reads it.
        let meta =
            (caching && status == StepStatus::Succeeded).then(|| crate::cache_budget::PutMeta {
                step: step.name.clone(),
                recompute_secs: now() - started,
                consumers: consumers
                    .unwrap_or_else(|| crate::cache_budget::consumers(&self.wf, &step.name)),
            });
        // The last attempt, the step's row and its cache entry: one transaction.
        let end = StepEnd {
            run_id: &self.run_id,
            node,
            step: &step.name,
            status,
            fin: &fin,
        };
        let put = meta.as_ref().map(|meta| CachePut {
            key: &cache_key,
            outputs: &outputs,
            meta,
        });
        self.state
            .step_ended(&end, &last_row, put)
            .map_err(|e| crate::unrecorded::step_end(&self.state, &self.run_id, node, e))?;
        self.emit(Event::Finished {
            node: node.to_string(),
            status,
            seconds: now() - started,
            message: message.clone(),
            stdout: Some(last.stdout()),
        });
        Ok(UnitEnd {
            status,
            outputs,
            message,
        })
    }

    async fn sleep_unless_stopped(&self, d: Duration) {
        let mut stop = self.stop.clone();
        tokio::select! {
            _ = tokio::time::sleep(d) => {}
            _ = async {
                while !*stop.borrow_and_update() {
                    if stop.changed().await.is_err() {
                        std::future::pending::<()>().await;
                    }
                }
            } => {}
        }
    }

    /// One attempt: fresh directory, inputs placed, templates rendered, process run, outputs
    /// collected and artifacts stored.
    #[allow(clippy::too_many_arguments)]
    async fn attempt(
        &self,
        step: &Step,
        node: &str,
        files: &AttemptFiles,
        inputs: &[(String, String, ArtifactRef)],
        seen: &BTreeMap<String, Outcome>,
        item: Option<&serde_json::Value>,
        workflow_status: Option<&str>,
        timeout: Option<Duration>,
    ) -> Result<Attempt, Error> {
        let started = now();
        let work = files.work();
        let fail = |status: StepStatus, msg: String| Attempt {
            status,
            outputs: StepOutputs::default(),
            message: Some(msg),
            started,
            peak_rss_kb: None,
            cpu_seconds: None,
            stopped: false,
        };
        let mut ctx = self.context(seen, item, workflow_status);
        let plan = AttemptPlan::new(
            &PlanInputs {
                wf: &self.wf,
                step,
                store: Some(&self.store),
                inputs,
                files,
                run_id: &self.run_id,
                node,
                // Locally a secret is read from the host environment variable of the same name.
                secret_hint: "on the local runtime set it in the environment of `couler run`",
                work_dir_on_host: self.runtime == Runtime::Host,
            },
            &mut ctx,
        )
        .await;
        let AttemptPlan {
            mut argv,
            env,
            cwd,
            script,
        } = match plan {
            Ok(p) => p,
            Err(why) => return Ok(fail(StepStatus::Error, why)),
        };
        let mut container = None;
        if let (Some(engine), Some(image)) = (self.runtime.engine(), self.wf.effective_image(step))
        {
            let c = runner::ContainerRef::of_step(engine, &self.run_id, node);
            let limits = self.wf.effective_resources(step).map(|r| &r.limits);
            let mounts = crate::paths::step_mounts(step, work);
            argv = runner::container_argv(&runner::ContainerSpec {
                container: &c,
                image,
                work_dir: work,
                script: script.as_deref(),
                mounts: &mounts,
                env: &env,
                cpu_limit: limits.and_then(|l| l.cpu.as_ref()).map(|q| q.value()),
                memory_limit_bytes: limits
                    .and_then(|l| l.memory.as_ref())
                    .map(|q| q.value() as u64),
                command: &argv,
            });
            container = Some(c);
        }
        let spec = ProcessSpec {
            argv,
            env,
            cwd,
            stdout: files.stdout(),
            stderr: files.stderr(),
            timeout,
            container,
        };
        let permit = match Arc::clone(&self.slots).acquire_owned().await {
            Ok(p) => p,
            Err(_) => return Ok(fail(StepStatus::Error, "the run is shutting down".into())),
        };
        if self.stopped() {
            let mut a = fail(StepStatus::Error, "stopped before it started".into());
            a.stopped = true;
            return Ok(a);
        }
        let end = runner::run_process(&spec, self.stop.clone(), |pgid| {
            // Best effort: without it, `resume` cannot stop what a killed executor left.
            let dir = work.to_string_lossy();
            let _ = self.state.step_spawned(&self.run_id, node, pgid, &dir);
        })
        .await;
        drop(permit);
        let (code, rss, cpu) = match end {
            ProcessEnd::Exited {
                code,
                peak_rss_kb,
                cpu_seconds,
            } => (code, peak_rss_kb, cpu_seconds),
            ProcessEnd::TimedOut {
                peak_rss_kb,
                cpu_seconds,
            } => {
                let mut a = fail(
                    StepStatus::Failed,
                    format!(
                        "timed out after {:.1}s and was stopped",
                        timeout.unwrap_or_default().as_secs_f64()
                    ),
                );
                a.peak_rss_kb = Some(peak_rss_kb);
                a.cpu_seconds = Some(cpu_seconds);
                return Ok(a);
            }
            ProcessEnd::Stopped => {
                let mut a = fail(StepStatus::Error, "stopped".into());
                a.stopped = true;
                return Ok(a);
            }
            ProcessEnd::Error(m) => return Ok(fail(StepStatus::Error, m)),
        };
        let captured = match crate::capture::Captured::from_log(&spec.stdout) {
            Ok(c) => c,
            Err(e) => return Ok(fail(StepStatus::Error, unreadable(&spec.stdout, &e))),
        };
        let mut a = Attempt {
            status: StepStatus::Succeeded,
            outputs: StepOutputs::default(),
            message: captured.notice(&spec.stdout),
            started,
            peak_rss_kb: Some(rss),
            cpu_seconds: Some(cpu),
            stopped: false,
        };
        let mut outputs = StepOutputs {
            exit_code: Some(code),
            result: Some(captured.result),
            ..StepOutputs::default()
        };
        if code != 0 {
            a.status = StepStatus::Failed;
            a.message = Some(crate::capture::failure_message(code, &spec.stderr));
            a.outputs = outputs;
            return Ok(a);
        }
        if let Err(why) = collect_outputs(&self.store, step, work, &mut outputs).await {
            a.status = StepStatus::Error;
            a.message = Some(why);
        } else if let Err(why) = crate::subworkflow::publish(&self.store, step, &outputs).await {
            a.status = StepStatus::Error;
            a.message = Some(why);
        }
        a.outputs = outputs;
        Ok(a)
    }
}

/// Reads a successful attempt's output parameters (file `path`, else `result`, already in
/// `outputs`; [`crate::capture`]) and stores its output artifacts; on the first one missing or
/// too big, says which (the attempt errs).
pub(crate) async fn collect_outputs(
    store: &Store,
    step: &Step,
    work: &Path,
    outputs: &mut StepOutputs,
) -> Result<(), String> {
    for p in &step.outputs.parameters {
        let result = outputs.result.as_deref().unwrap_or_default();
        let value = parameter_value(step, p, work, result)?;
        outputs.parameters.insert(p.name.clone(), value);
    }
    for o in &step.outputs.artifacts {
        let p = under(work, &o.path);
        if !p.exists() {
            if o.optional {
                continue;
            }
            return Err(crate::paths::not_written(
                &format!("output artifact `{}`", o.name),
                work,
                &o.path,
            ));
        }
        // A symlink out of the working directory is refused, as inside a stored directory.
        let p = couler_store::contained(&p, work)
            .map_err(|e| format!("output artifact `{}`: {e}", o.name))?;
        match store.put(&p).await {
            Ok(stored) => {
                outputs.artifacts.insert(o.name.clone(), stored);
            }
            // A full disk, say: the attempt errs (and may be retried); the run goes on.
            Err(e) => return Err(format!("cannot store output artifact `{}`: {e}", o.name)),
        }
    }
    Ok(())
}

/// The items of a `map` over a `range` (start inclusive, stop exclusive, by `step`).
pub(crate) fn range_items(start: i64, stop: i64, by: i64) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    let mut x = start;
    while (by > 0 && x < stop) || (by < 0 && x > stop) {
        out.push(serde_json::Value::from(x));
        x += by;
    }
    out
}

enum MapItems {
    Items(Vec<serde_json::Value>),
    Ended(UnitEnd),
}

struct Attempt {
    status: StepStatus,
    outputs: StepOutputs,
    message: Option<String>,
    started: f64,
    peak_rss_kb: Option<i64>,
    cpu_seconds: Option<f64>,
    stopped: bool,
}

/// What [`AttemptPlan::new`] needs: the step, where its attempt runs, and how to say that a
/// secret is missing where the attempt runs.
pub(crate) struct PlanInputs<'a> {
    pub wf: &'a Workflow,
    pub step: &'a Step,
    /// Where input artifacts come from; `None` only when the step has none.
    pub store: Option<&'a Store>,
    /// (name, path, artifact) of every input artifact, resolved by the caller.
    pub inputs: &'a [(String, String, ArtifactRef)],
    /// Where the attempt's working directory, logs and script go.
    pub files: &'a AttemptFiles,
    pub run_id: &'a str,
    pub node: &'a str,
    /// How to provide a secret's variable here (the local runtime and the launcher differ).
    pub secret_hint: &'a str,
    /// A container's `workingDir` applies to the host process (not inside a container engine).
    pub work_dir_on_host: bool,
}

/// The process one attempt runs, built the same way by the executor and by the in-task
/// launcher: inputs placed in the working directory, paths bound in the template context, the
/// step rendered, a script written beside the working directory, secrets and `COULER_*`
/// variables in the env.
pub(crate) struct AttemptPlan {
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
    pub cwd: PathBuf,
    /// The script file, for a script step.
    pub script: Option<PathBuf>,
}

impl AttemptPlan {
    pub(crate) async fn new(i: &PlanInputs<'_>, ctx: &mut Context<'_>) -> Result<Self, String> {
        let (step, work) = (i.step, i.files.work());
        std::fs::create_dir_all(work)
            .map_err(|e| format!("cannot create the step directory {}: {e}", work.display()))?;
        crate::paths::make_output_dirs(step, work)?;
        if let Some(store) = i.store {
            for (name, path, r) in i.inputs {
                store
                    .get(r, &under(work, path))
                    .await
                    .map_err(|e| format!("cannot place input artifact `{name}`: {e}"))?;
            }
        }
        bind_paths(ctx, step, |_, _, path| path.map(|p| under(work, p)));
        let def = match render_step(i.wf, step, ctx) {
            Ok(d) => d,
            Err(Unresolved::Skipped(why) | Unresolved::Error(why)) => return Err(why),
        };
        let mut argv = def.command.clone();
        argv.extend(def.args.iter().cloned());
        let mut script = None;
        if let Some(src) = &def.source {
            let file = i.files.script();
            std::fs::write(&file, src)
                .map_err(|e| format!("cannot write the script {}: {e}", file.display()))?;
            argv.push(file.to_string_lossy().into_owned());
            script = Some(file);
        }
        let mut env = def.env.clone();
        for s in &step.secrets {
            let v = std::env::var(&s.env).map_err(|_| {
                format!(
                    "secret `{}` (key `{}`) for variable {}: {}",
                    s.secret, s.key, s.env, i.secret_hint
                )
            })?;
            env.push((s.env.clone(), v));
        }
        env.push(("COULER_RUN_ID".into(), i.run_id.to_string()));
        env.push(("COULER_STEP".into(), i.node.to_string()));
        let mut cwd = work.to_path_buf();
        if let StepKind::Container(c) = &step.kind
            && let Some(wd) = &c.working_dir
            && i.work_dir_on_host
        {
            cwd = work.join(wd);
            let _ = std::fs::create_dir_all(&cwd);
        }
        Ok(AttemptPlan {
            argv,
            env,
            cwd,
            script,
        })
    }
}

/// An output parameter's value: its file (at most [`crate::capture::PARAMETER_LIMIT`] bytes),
/// else its `default`; without `path`, the step's `result`.
fn parameter_value(
    step: &Step,
    p: &couler_ir::OutputParameter,
    work: &Path,
    result: &str,
) -> Result<String, String> {
    let Some(path) = &p.path else {
        return Ok(result.to_string());
    };
    let mut file = under(work, path);
    if file.exists() {
        // A symlink out of the working directory is refused, as for an output artifact.
        file = couler_store::contained(&file, work)
            .map_err(|e| format!("output parameter `{}`: {e}", p.name))?;
    }
    match crate::capture::parameter_file(&file) {
        Ok(Some(v)) => Ok(v),
        Ok(None) => p.default.clone().ok_or_else(|| {
            crate::paths::not_written(&format!("output parameter `{}`", p.name), work, path)
        }),
        Err(size) => Err(format!(
            "output parameter `{}` of step `{}`: its file {} holds {size} bytes, more than the {} MiB a parameter may hold (parameters are kept in the state database, and on Argo in the Workflow object); declare it as an output artifact instead",
            p.name,
            step.name,
            file.display(),
            crate::capture::PARAMETER_LIMIT / (1024 * 1024)
        )),
    }
}

/// Where declared path `p` lives for an attempt working in `work` ([`crate::paths`]).
pub(crate) fn under(work: &Path, p: &str) -> PathBuf {
    crate::paths::declared(work, p)
}

/// The stand-in for a path in the cache key, which must not change with the run's directories.
pub(crate) fn symbolic(kind: &str, n: &str) -> PathBuf {
    PathBuf::from(format!("<{kind}.{n}.path>"))
}

/// Why a step's log could not be read back (the attempt errs).
pub(crate) fn unreadable(log: &Path, e: &std::io::Error) -> String {
    format!("cannot read the step's log {}: {e}", log.display())
}

/// Why a step kind cannot run locally, if it cannot.
pub(crate) fn unsupported(step: &Step) -> Option<String> {
    match &step.kind {
        StepKind::Resource(_) => Some(format!(
            "step `{}` is a Kubernetes resource step; the local runtime has no cluster to create it in (compile the workflow for Argo or Tekton, or replace the step with a script)",
            step.name
        )),
        StepKind::Job(j) => Some(format!(
            "step `{}` is a distributed {:?} job; the local runtime cannot run distributed jobs (compile the workflow for a cluster engine)",
            step.name, j.framework
        )),
        StepKind::Workflow(w) => Some(format!(
            "step `{}` runs the sub-workflow `{}`; sub-workflows are not supported by the local runtime yet",
            step.name, w.reference
        )),
        StepKind::Suspend(s) if s.duration.is_none() => Some(format!(
            "step `{}` suspends until someone resumes it; the local runtime supports only suspends with a `duration`",
            step.name
        )),
        _ => None,
    }
}

/// Where an input artifact comes from: an upstream step's output (by digest) or a local path
/// (stored first, so the step reads it from the store like any other input).
pub(crate) async fn input_artifact(
    store: &Store,
    a: &couler_ir::InputArtifact,
    seen: &BTreeMap<String, Outcome>,
) -> Result<ArtifactRef, String> {
    match &a.source {
        Some(ArtifactSource::From(Reference::Step {
            step: s,
            output: StepOutput::Artifact(name),
        })) => seen
            .get(s)
            .and_then(|o| o.outputs.artifacts.get(name))
            .cloned()
            .ok_or_else(|| format!("`{s}` produced no artifact `{name}`")),
        Some(ArtifactSource::Storage(Storage::Local(l))) => {
            let p = Path::new(&l.path);
            if p.exists() {
                store.put(p).await.map_err(|e| e.to_string())
            } else {
                Err(format!("{} does not exist", l.path))
            }
        }
        Some(ArtifactSource::Storage(st)) => Err(format!(
            "{} storage is not available on the local runtime",
            st.key()
        )),
        Some(ArtifactSource::From(r)) => Err(format!("`{r}` is not an artifact")),
        None => Err("it has no source".to_string()),
    }
}

/// A step's definition with every template rendered.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub(crate) struct Rendered {
    kind: &'static str,
    image: Option<String>,
    pub(crate) command: Vec<String>,
    pub(crate) args: Vec<String>,
    pub(crate) source: Option<String>,
    pub(crate) env: Vec<(String, String)>,
    inputs: Vec<(String, String)>,
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

/// Binds the step's artifact and output-parameter paths in `ctx`: `place(kind, name, path)` gives
/// where each lives (`kind` is `inputs.artifacts`, `outputs.artifacts` or `outputs.parameters`;
/// `path` is `None` for an output parameter read from stdout), `None` leaves it unbound.
fn bind_paths(
    ctx: &mut Context<'_>,
    step: &Step,
    place: impl Fn(&str, &str, Option<&str>) -> Option<PathBuf>,
) {
    let bind = |kind: &str, items: Vec<(&String, Option<&str>)>| {
        items
            .into_iter()
            .filter_map(|(name, path)| place(kind, name, path).map(|p| (name.clone(), p)))
            .collect()
    };
    ctx.input_artifact_paths = bind(
        "inputs.artifacts",
        step.inputs
            .artifacts
            .iter()
            .map(|a| (&a.name, Some(a.path.as_str())))
            .collect(),
    );
    ctx.output_artifact_paths = bind(
        "outputs.artifacts",
        step.outputs
            .artifacts
            .iter()
            .map(|a| (&a.name, Some(a.path.as_str())))
            .collect(),
    );
    ctx.output_param_paths = bind(
        "outputs.parameters",
        step.outputs
            .parameters
            .iter()
            .map(|p| (&p.name, p.path.as_deref()))
            .collect(),
    );
}

/// The step rendered for its cache key: paths are symbolic (`{{inputs.artifacts.a.path}}`),
/// so the key does not change with the run's directories, and the run id is a placeholder.
/// The run id is run metadata, not an input: a step that differs from an earlier run's only by
/// `{{workflow.runId}}` reuses that run's result (disable its cache to opt out).
pub(crate) fn render_for_cache_key(
    wf: &Workflow,
    step: &Step,
    ctx: &mut Context<'_>,
) -> Result<Rendered, Unresolved> {
    bind_paths(ctx, step, |kind, name, _| Some(symbolic(kind, name)));
    ctx.run_id = "<workflow.runId>";
    render_step(wf, step, ctx)
}

pub(crate) fn render_step(
    wf: &Workflow,
    step: &Step,
    ctx: &mut Context<'_>,
) -> Result<Rendered, Unresolved> {
    let mut input_params = BTreeMap::new();
    for p in &step.inputs.parameters {
        let v = match &p.value {
            Some(t) => ctx.render(t)?,
            None => String::new(),
        };
        input_params.insert(p.name.clone(), v);
    }
    ctx.input_params = input_params.clone();
    let mut r = Rendered {
        kind: step.kind.key(),
        image: wf.effective_image(step).map(str::to_string),
        inputs: input_params.into_iter().collect(),
        ..Rendered::default()
    };
    match &step.kind {
        StepKind::Container(c) => {
            for t in &c.command {
                r.command.push(ctx.render(t)?);
            }
            for t in &c.args {
                r.args.push(ctx.render(t)?);
            }
        }
        StepKind::Script(s) => {
            r.command = s.command.clone();
            r.source = Some(ctx.render(&s.source)?);
        }
        _ => {}
    }
    for (k, t) in &step.env {
        r.env.push((k.clone(), ctx.render(t)?));
    }
    Ok(r)
}

/// The memoization key: the rendered definition, input values, input artifact digests, the
/// declared outputs, the loop, the cache version. Secrets contribute their names only.
pub(crate) fn cache_key(
    wf: &Workflow,
    step: &Step,
    def: &Rendered,
    inputs: &[(String, String, ArtifactRef)],
    item: Option<&serde_json::Value>,
) -> String {
    let secrets: BTreeSet<(&str, &str, &str)> = step
        .secrets
        .iter()
        .map(|s| (s.env.as_str(), s.secret.as_str(), s.key.as_str()))
        .collect();
    let key = serde_json::json!({
        "format": CACHE_FORMAT,
        "def": def,
        "secrets": secrets,
        "inputArtifacts": inputs.iter().map(|(n, p, r)| (n, p, &r.digest)).collect::<Vec<_>>(),
        "outputs": serde_json::to_value(&step.outputs).unwrap_or_default(),
        "repeat": step.repeat.as_ref().map(|r| (r.condition.to_string(), r.max_iterations)),
        "version": wf.effective_cache(step).and_then(|c| c.version.clone()),
        "item": item.map(json_text),
        "workingDir": match &step.kind { StepKind::Container(c) => c.working_dir.clone(), _ => None },
    });
    format!("sha256:{:x}", Sha256::digest(key.to_string().as_bytes()))
}
