//! The executor: runs a validated workflow's DAG on this machine, driving the step core
//! (`crate::step`) for each unit: it records outcomes in SQLite, retries attempts itself (with
//! backoff) and hands each step its predecessors' outcomes from memory.
//!
//! Scheduling is event driven: a step starts as soon as its last predecessor finishes (no
//! polling), each step is a tokio task, and processes are bounded by one global slot queue (the
//! smaller of `--parallelism` and the workflow's `parallelism`; `slots.rs`, served by the
//! priorities of `dispatch.rs`) plus each map's `parallelism`, which bounds the instances it has
//! in flight. A step's
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

use crate::artifacts::Store;
use crate::cache_budget::{self, CacheBudget, PutMeta};
use crate::daemon::Daemons;
use crate::dispatch::Priorities;
use crate::ledger::Ledger;
use crate::mapped::{combine_map, map_items};
use crate::outcome::{Outcome, StepOutputs, StepStatus};
use crate::render::Context;
use crate::runner::{self, AttemptFiles, ProcessEnd, Runtime};
use crate::slots::SlotQueue;
use crate::state::{AttemptRecord, CachePut, Finished, RunStatus, State, StepEnd, now};
use crate::step::{self, AttemptPlan, Fate, Input, PlanInputs, Probe, Ran, Ready, Turn};
use crate::subworkflow::{self, Child, Nest, Parent, RunFuture};
use crate::{Error, Event};
use couler_ir::{Graph, RetryOn, Step, Workflow};
use futures_util::StreamExt;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

mod study;

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
    /// Shared, not copied, by the exit handler's and a timeout's views of the run.
    pub wf: Arc<Workflow>,
    pub run_id: String,
    pub run_dir: PathBuf,
    pub state: State,
    pub store: Store,
    pub params: BTreeMap<String, serde_json::Value>,
    /// The run's slots, handed out by `priorities` (`slots.rs`, `dispatch.rs`).
    pub slots: Arc<SlotQueue>,
    pub priorities: Arc<Priorities>,
    pub stop: watch::Receiver<bool>,
    pub runtime: Runtime,
    pub use_cache: bool,
    /// Rows `resume` keeps: node → status and outputs.
    pub kept: BTreeMap<String, (StepStatus, StepOutputs)>,
    pub events: Option<mpsc::UnboundedSender<Event>>,
    /// Where the workflow's spec came from, for its sub-workflow steps.
    pub nest: Nest,
    /// Keep the memoization cache under this budget after each put (`--cache-size`).
    pub cache_budget: Option<CacheBudget>,
    /// Where steps' environment and secrets come from.
    pub environment: Arc<crate::StepEnvironment>,
    /// The daemon steps this run started, stopped when its steps have ended.
    pub daemons: Arc<Daemons>,
    /// Where each step that ran is recorded for predictions (`history.rs`); `None`: nowhere.
    pub history: Option<Arc<couler_history::History>>,
    /// The anomaly thresholds of this executor's steps, each read from `history` once.
    pub thresholds: Arc<crate::anomaly::RunThresholds>,
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
    /// The workflow's `timeout` counts from here (`deadline.rs`).
    pub async fn run(self: Arc<Self>) -> Result<(RunStatus, Option<String>), Error> {
        let (stop, deadline) = crate::deadline::arm(self.stop.clone(), self.wf.timeout);
        let exec = match self.wf.timeout {
            Some(_) => Arc::new(Exec {
                stop,
                ..(*self).clone()
            }),
            None => self,
        };
        exec.run_until(&deadline).await
    }

    async fn run_until(
        self: Arc<Self>,
        deadline: &crate::deadline::Deadline,
    ) -> Result<(RunStatus, Option<String>), Error> {
        // The dispatch loop runs as a task of its own, on a runtime worker: the step tasks it
        // spawns and the wake-up when one ends then stay on that worker instead of crossing to
        // the thread that called `block_on` (two thread hand-offs per step on a chain).
        let exit_stop = crate::stop::exit_handler_signal(self.stop.clone());
        let dispatch = AbortOnDrop(tokio::spawn(Arc::clone(&self).dispatch()));
        let dispatched = match (&mut { dispatch }.0).await {
            Ok(r) => r,
            Err(e) => Err(Error::Internal(format!("the dispatch task failed: {e}"))),
        };
        deadline.disarm();
        // Daemons serve the workflow's steps: they end with them, before the exit handler.
        self.daemons.stop_all().await;
        let (statuses, mut all) = dispatched?.into_parts(&self.wf);
        let wf = &*self.wf;
        let mut status = RunStatus::Succeeded;
        let mut message = None;
        for (i, s) in statuses.iter().enumerate() {
            let Some(s) = *s else { continue };
            let step = &wf.steps[i];
            let failed = (s.is_failure() && !step.continue_on_failure) || s == StepStatus::Omitted;
            if failed && status == RunStatus::Succeeded {
                status = if s == StepStatus::Error {
                    RunStatus::Error
                } else {
                    RunStatus::Failed
                };
                message = Some(format!("step `{}` {}", step.name, s.as_str()));
            }
        }
        drop(statuses);
        if self.stopped() {
            let (s, m) = deadline.stopped_run();
            (status, message) = (s, Some(m));
        }
        if !wf.on_exit.is_empty() {
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
                        handler
                            .run_unit(exit, &exit.name, None, &all, Some(visible), false, None)
                            .await?
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
    /// tasks at once); returns what the run keeps of the steps' ends (`ledger.rs`).
    async fn dispatch(self: Arc<Self>) -> Result<Ledger, Error> {
        let wf = &*self.wf;
        let graph = Graph::new(wf);

        let n = wf.steps.len();
        let mut waiting: Vec<u32> = (0..n)
            .map(|i| u32::try_from(graph.predecessors(i).len()).unwrap_or(u32::MAX))
            .collect();
        let mut ledger = Ledger::new(wf, &graph);
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
                    ledger.status(p).is_some_and(|s| {
                        s == StepStatus::Omitted
                            || (s.is_failure() && !wf.steps[p].continue_on_failure)
                    })
                });
                if blocked.is_some() || self.stopped() || first_error.is_some() {
                    let why = match blocked {
                        Some(&p) => format!("`{}` did not succeed", wf.steps[p].name),
                        None => "the run was stopped".to_string(),
                    };
                    let o = self.omit(&step.name, &why)?;
                    ledger.started(wf, &graph, i);
                    ledger.ended(i, o);
                    done += 1;
                    unblock(&graph, &mut waiting, &mut ready, i);
                    continue;
                }
                let seen = ledger.seen_by(wf, &graph, i);
                ledger.started(wf, &graph, i);
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
                    Outcome::new(StepStatus::Error, None)
                }
            };
            ledger.ended(i, o);
            done += 1;
            unblock(&graph, &mut waiting, &mut ready, i);
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(ledger),
        }
    }

    /// Records a unit's end with `fin` and shows it (with message `shown`) to the display.
    fn record(
        &self,
        node: &str,
        step: &str,
        status: StepStatus,
        fin: &Finished,
        shown: Option<String>,
    ) -> Result<(), Error> {
        self.state
            .step_finished(&self.run_id, node, step, status, fin)?;
        self.emit(Event::Finished {
            node: node.to_string(),
            status,
            seconds: 0.0,
            message: shown,
            stdout: None,
        });
        Ok(())
    }

    fn omit(&self, node: &str, why: &str) -> Result<Outcome, Error> {
        let fin = Finished {
            message: Some(format!("not run: {why}")),
            ..Finished::default()
        };
        self.record(node, node, StepStatus::Omitted, &fin, fin.message.clone())?;
        Ok(Outcome::new(StepStatus::Omitted, None))
    }

    /// Records a unit that ended without running (skipped, refused, waited, a sub-workflow).
    fn finish_plain(&self, node: &str, step: &str, o: Outcome) -> Result<Outcome, Error> {
        let fin = Finished {
            message: o.message.clone(),
            outputs: Some(o.outputs.clone()),
            ..Finished::default()
        };
        self.record(node, step, o.status, &fin, o.message.clone())?;
        Ok(o)
    }

    /// Records a unit its cache entry under `key` restored (counting the hit).
    fn restored(&self, node: &str, step: &str, key: &str, o: Outcome) -> Result<Outcome, Error> {
        self.state.cache_hit(key)?;
        if o.status != StepStatus::Cached {
            return self.finish_plain(node, step, o);
        }
        let fin = Finished {
            cache_key: Some(key.to_string()),
            outputs: Some(o.outputs.clone()),
            exit_code: o.outputs.exit_code,
            message: o.message,
            ..Finished::default()
        };
        self.record(node, step, StepStatus::Cached, &fin, None)?;
        Ok(Outcome::with_outputs(StepStatus::Cached, o.outputs))
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
            return Ok(Outcome::with_outputs(*status, outputs.clone()));
        }
        if let Some(tune) = step.tune.as_deref().filter(|t| t.asynchronous()) {
            return self.run_study(step, tune, &seen, consumers).await;
        }
        let Some(map) = &step.map else {
            return self
                .run_unit(step, &step.name, None, &seen, None, true, Some(consumers))
                .await;
        };
        // Reading a skipped step's output skips the whole step, not each instance.
        let ctx = self.context(&seen, None, None);
        if let Some(why) = step::skipped_upstream(step, &ctx) {
            let o = Outcome::new(StepStatus::Skipped, why);
            return self.finish_plain(&step.name, &step.name, o);
        }
        match map_items(step, &map.over, &ctx) {
            Ok(items) => {
                self.run_map(step, items, map.parallelism, &seen, consumers)
                    .await
            }
            Err(u) => self.finish_plain(&step.name, &step.name, step::unresolved(u)),
        }
    }

    async fn run_map(
        &self,
        step: &Step,
        items: Vec<serde_json::Value>,
        parallelism: Option<u32>,
        seen: &BTreeMap<String, Outcome>,
        consumers: u32,
    ) -> Result<Outcome, Error> {
        let started = now();
        // Instances are made as earlier ones end, at most the map's parallelism (and
        // [`MAX_IN_FLIGHT`]) at once: each holds a future and, once planned, an attempt
        // directory and a `Running` row, which 100,000 instances made up front would multiply.
        let limit = parallelism
            .map_or(usize::MAX, |p| p.max(1) as usize)
            .min(MAX_IN_FLIGHT);
        let mut pending = futures_util::stream::FuturesUnordered::new();
        let mut next = items.iter().enumerate();
        let mut ends: Vec<Option<Outcome>> = vec![None; items.len()];
        // Every instance is let end before an error is returned, as its siblings' records
        // must be.
        let mut failed = None;
        loop {
            while pending.len() < limit
                && let Some((k, item)) = next.next()
            {
                pending.push(self.instance(step, (k, items.len()), item, seen, consumers));
            }
            let Some((k, r)) = pending.next().await else {
                break;
            };
            match r {
                Ok(o) => ends[k] = Some(o),
                Err(e) => {
                    failed.get_or_insert(e);
                }
            }
        }
        drop(pending);
        if let Some(e) = failed {
            return Err(e);
        }
        let ends: Vec<Outcome> = ends.into_iter().flatten().collect();
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
        Ok(Outcome {
            status,
            outputs,
            message,
        })
    }

    /// Instance `k` of `of` of a mapped step.
    async fn instance(
        &self,
        step: &Step,
        (k, of): (usize, usize),
        item: &serde_json::Value,
        seen: &BTreeMap<String, Outcome>,
        consumers: u32,
    ) -> (usize, Result<Outcome, Error>) {
        let node = format!("{}[{k}]", step.name);
        let item = Item {
            value: item,
            of: Some(of as u64),
        };
        let r = self
            .run_unit(step, &node, Some(item), seen, None, true, Some(consumers))
            .await;
        (k, r)
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

    /// Drives the step core for one unit (a step without map, one map instance, or an exit
    /// step): its fate decided by [`step::decide`] (the unit's start recorded with the cache
    /// lookup, in one round trip), then recorded, or run. `consumers` is the step's number of
    /// successors in the graph, which a cache entry records (`None`: counted here, an
    /// O(workflow) walk).
    #[allow(clippy::too_many_arguments)]
    async fn run_unit(
        &self,
        step: &Step,
        node: &str,
        item: Option<Item<'_>>,
        seen: &BTreeMap<String, Outcome>,
        workflow_status: Option<&str>,
        cacheable: bool,
        consumers: Option<u32>,
    ) -> Result<Outcome, Error> {
        if let Some((status, outputs)) = self.kept.get(node) {
            return Ok(Outcome::with_outputs(*status, outputs.clone()));
        }
        let ctx = self.context(seen, item.map(|i| i.value), workflow_status);
        // The start's row, the last attempt number recorded (so `resume` numbers on) and the
        // cache entry under the step's key, in one round trip.
        let mut attempt = 0;
        let lookup = |probe: Probe<'_>| {
            let (last, hit) = self
                .state
                .step_started(&self.run_id, node, &step.name, probe)?;
            attempt = last;
            Ok(hit)
        };
        let use_cache = cacheable && self.use_cache;
        let caching = step::Caching {
            enabled: use_cache,
            secrets_from: self.environment.secrets_dir(),
        };
        let fate = step::decide(&self.wf, &ctx, step, Some(&self.store), caching, lookup).await?;
        match fate {
            Fate::Ready(ready) => {
                let unit = Unit {
                    step,
                    node,
                    ctx,
                    consumers,
                    map_items: item.and_then(|i| i.of),
                };
                self.run_ready(&unit, ready, attempt).await
            }
            Fate::Ended(o) => self.finish_plain(node, &step.name, o),
            Fate::Cached { key, outcome } => self.restored(node, &step.name, &key, outcome),
            Fate::SubWorkflow(sub) => {
                self.state
                    .step_started(&self.run_id, node, &step.name, None)?;
                self.emit(Event::Started {
                    node: node.to_string(),
                });
                let parent = Parent {
                    run_id: &self.run_id,
                    run_dir: &self.run_dir,
                    state: &self.state,
                    nest: &self.nest,
                };
                let start = |child| self.nested(child, self.priorities.of_step(&step.name));
                let (status, message) =
                    subworkflow::run_step(&parent, step, sub, node, &ctx, start).await?;
                self.finish_plain(node, &step.name, Outcome::new(status, message))
            }
            Fate::Wait(d) => {
                self.sleep_unless_stopped(d).await;
                let o = Outcome::new(StepStatus::Succeeded, None);
                self.finish_plain(node, &step.name, o)
            }
        }
    }

    /// A sub-workflow's nested run: a child executor sharing this one's state, store, slots
    /// and stop signal (boxed: a child may hold sub-workflow steps in turn).
    fn nested(&self, c: Child, priority: f64) -> RunFuture {
        let child = Arc::new(Exec {
            wf: Arc::new(c.wf),
            run_id: c.run_id,
            run_dir: c.run_dir,
            state: self.state.clone(),
            store: self.store.clone(),
            params: c.params,
            slots: Arc::clone(&self.slots),
            // Its steps compete for the shared slots as the sub-workflow step does.
            priorities: Arc::new(Priorities::uniform(priority)),
            stop: self.stop.clone(),
            runtime: self.runtime,
            use_cache: self.use_cache,
            kept: c.kept,
            // The display knows the parent's steps only; the child's are in its own run.
            events: None,
            nest: c.nest,
            cache_budget: self.cache_budget.clone(),
            environment: Arc::clone(&self.environment),
            daemons: Arc::default(),
            history: self.history.clone(),
            // The child's steps are its workflow's, not this one's.
            thresholds: Arc::default(),
        });
        Box::pin(child.run())
    }

    /// Runs a unit that is ready: its `repeat` loop of retried attempts, then its end, last
    /// attempt and cache entry recorded in one transaction (and the cache kept in budget).
    async fn run_ready(&self, u: &Unit<'_>, ready: Ready, attempt: u32) -> Result<Outcome, Error> {
        let (step, node) = (u.step, u.node);
        self.emit(Event::Started {
            node: node.to_string(),
        });
        let started = now();
        let mut tally = Tally {
            attempt,
            peak_rss_kb: 0,
            cpu_seconds: 0.0,
            anomaly: None,
        };
        let mut repeat = step::Loop::new(step, u.ctx.clone());
        let (out, last) = loop {
            let (o, last) = self.retried(u, &ready.inputs, &mut tally).await?;
            match repeat.after(o) {
                Turn::Again(_) if !self.stopped() => {
                    self.state.attempt_ended(&self.run_id, node, &last.1)?;
                }
                Turn::Again(o) => break (repeat.end(o), last),
                Turn::End(o) => break (o, last),
            }
        };
        let (files, row) = last;
        let fin = Finished {
            attempts: tally.attempt,
            exit_code: out.outputs.exit_code,
            started_at: Some(started),
            peak_rss_kb: Some(tally.peak_rss_kb),
            cpu_seconds: Some(tally.cpu_seconds),
            cache_key: Some(ready.key.clone()),
            outputs: Some(out.outputs.clone()),
            log_dir: Some(files.work().to_string_lossy().into_owned()),
            // A flagged attempt's anomaly stays on a step that has nothing else to say.
            message: out.message.clone().or_else(|| tally.anomaly.clone()),
        };
        // What the budget's policy ranks by: the seconds a miss costs, who reads it.
        let meta = (ready.caching && out.status == StepStatus::Succeeded).then(|| PutMeta {
            step: step.name.clone(),
            recompute_secs: now() - started,
            consumers: u
                .consumers
                .unwrap_or_else(|| cache_budget::consumers(&self.wf, &step.name)),
        });
        let end = StepEnd {
            run_id: &self.run_id,
            node,
            step: &step.name,
            status: out.status,
            fin: &fin,
        };
        let put = meta.as_ref().map(|meta| CachePut {
            key: &ready.key,
            outputs: &out.outputs,
            meta,
        });
        self.state
            .step_ended(&end, &row, put)
            .map_err(|e| crate::unrecorded::step_end(&self.state, &self.run_id, node, e))?;
        if let Some(h) = &self.history {
            crate::history::record(
                h,
                &crate::history::Ended {
                    wf: &self.wf,
                    step,
                    run_id: &self.run_id,
                    ctx: &u.ctx,
                    inputs: &ready.inputs,
                    map_items: u.map_items,
                    status: out.status,
                    fin: &fin,
                    seconds: now() - started,
                    finished_at: now(),
                },
            );
        }
        if meta.is_some()
            && let Some(budget) = &self.cache_budget
        {
            cache_budget::enforce(&self.state, budget, Some(&self.run_id))?;
        }
        self.emit(Event::Finished {
            node: node.to_string(),
            status: out.status,
            seconds: now() - started,
            message: out.message.clone(),
            stdout: Some(files.stdout()),
        });
        Ok(out)
    }

    /// One iteration: attempts until one is not retried (the step's `retry`, with backoff);
    /// each attempt but the last recorded here. Returns the last attempt's outcome, files and
    /// row.
    async fn retried(
        &self,
        u: &Unit<'_>,
        inputs: &[Input],
        tally: &mut Tally,
    ) -> Result<(Outcome, (AttemptFiles, AttemptRecord)), Error> {
        let retry = self.wf.effective_retry(u.step);
        let timeout = self.wf.effective_timeout(u.step).map(|d| d.as_std());
        let steps_dir = self.run_dir.join("steps");
        let mut tries = 0u32;
        loop {
            tally.attempt += 1;
            tries += 1;
            // An attempt the executor did not see end (kill -9) has a directory but no row,
            // and its orphaned process may still write there: number past it.
            let files = loop {
                let files = AttemptFiles::numbered(&steps_dir, u.node, tally.attempt);
                if !files.work().exists() {
                    break files;
                }
                tally.attempt += 1;
            };
            // Self-healing stops a slow attempt only when a retry is left to run.
            let heal = retry.is_some_and(|r| r.slow.is_some() && tries <= r.limit);
            let a = self.attempt(u, &files, inputs, timeout, heal).await?;
            tally.anomaly = a.anomaly.clone().or(tally.anomaly.take());
            tally.peak_rss_kb = tally.peak_rss_kb.max(a.peak_rss_kb.unwrap_or(0));
            tally.cpu_seconds += a.cpu_seconds.unwrap_or(0.0);
            let row = AttemptRecord {
                attempt: tally.attempt,
                status: a.outcome.status,
                exit_code: a.outcome.outputs.exit_code,
                started_at: a.started,
                peak_rss_kb: a.peak_rss_kb,
                cpu_seconds: a.cpu_seconds,
                log_dir: files.work().to_string_lossy().into_owned(),
                message: a.outcome.message.clone(),
            };
            let retryable = match (retry, a.outcome.status) {
                (_, StepStatus::Succeeded) => false,
                (Some(r), s) if tries <= r.limit && !self.stopped() && !a.stopped => {
                    a.healed
                        || match r.on {
                            RetryOn::Always => true,
                            RetryOn::Failure => s == StepStatus::Failed,
                            RetryOn::Error | RetryOn::Transient => s == StepStatus::Error,
                        }
                }
                _ => false,
            };
            if !retryable {
                return Ok((a.outcome, (files, row)));
            }
            // Not the last attempt: its row now (the last one goes with the step's end).
            self.state.attempt_ended(&self.run_id, u.node, &row)?;
            if let Some(b) = retry.and_then(|r| r.backoff.as_ref()) {
                let base = b.duration.as_std().as_secs_f64();
                let mut wait = base * f64::from(b.factor).powi(tries as i32 - 1);
                if let Some(max) = b.max {
                    wait = wait.min(max.as_std().as_secs_f64());
                }
                self.sleep_unless_stopped(Duration::from_secs_f64(wait.min(86_400.0)))
                    .await;
            }
        }
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

    /// One attempt: fresh directory, inputs placed, templates rendered, process run (in a
    /// slot), its outcome from the step core.
    async fn attempt(
        &self,
        u: &Unit<'_>,
        files: &AttemptFiles,
        inputs: &[Input],
        timeout: Option<Duration>,
        heal: bool,
    ) -> Result<Attempt, Error> {
        let (step, node) = (u.step, u.node);
        let started = now();
        let work = files.work();
        let plan = match self.plan(u, files, inputs).await {
            Ok(p) => p,
            Err(why) => return Ok(Attempt::failed(&why, started)),
        };
        let script = plan.script.clone();
        let mut spec = plan.process(files, timeout);
        self.in_container(step, node, work, script.as_deref(), &mut spec);
        let [threshold, memory] = match self.history.as_deref() {
            Some(h) if !step.is_daemon() => self.thresholds.of(h, &self.wf, step),
            _ => [None, None],
        };
        let permit = self
            .slots
            .acquire(self.priorities.of_step(&step.name))
            .await;
        if self.stopped() {
            let mut a = Attempt::failed("stopped before it started", started);
            a.stopped = true;
            return Ok(a);
        }
        // Best effort: without it, `resume` cannot stop what a killed executor left.
        let (state, run_id, owned_node) =
            (self.state.clone(), self.run_id.clone(), node.to_owned());
        let dir = work.to_string_lossy().into_owned();
        let record = move |pgid| {
            let _ = state.step_spawned(&run_id, &owned_node, pgid, &dir);
        };
        let watch = threshold.map(|t| {
            let (stop, events) = (self.stop.clone(), self.events.clone());
            crate::anomaly::Watch::arm(t, heal, node, stop, events)
        });
        let stop = watch.as_ref().map_or(&self.stop, |w| &w.stop).clone();
        let end = if step.is_daemon() {
            // Succeeded once started; it runs on without a slot until the steps have ended.
            match self.daemons.start(spec, record).await {
                Ok(()) => return Ok(Attempt::daemon_started(started)),
                Err(end) => end,
            }
        } else {
            runner::run_process(&spec, stop, record).await
        };
        drop(permit);
        let (peak_rss_kb, cpu_seconds) = end.usage();
        let ran = Ran {
            step,
            files,
            store: Some(&self.store),
            timeout,
        };
        let mut a = Attempt {
            outcome: step::attempt_outcome(&end, &ran).await,
            started,
            peak_rss_kb,
            cpu_seconds,
            stopped: matches!(end, ProcessEnd::Stopped),
            anomaly: watch.as_ref().and_then(|w| w.flag().map(str::to_string)),
            healed: false,
        };
        if let Some(flag) = memory
            .and_then(|t| crate::anomaly::check_memory(&t, node, peak_rss_kb? as f64 * 1024.0))
        {
            self.emit(Event::Anomaly {
                node: node.to_string(),
                kind: crate::anomaly::MEMORY,
                message: flag.clone(),
            });
            a.anomaly.get_or_insert(flag);
        }
        if let Some(flag) = watch.as_ref().and_then(|w| w.healed())
            && a.stopped
            && !self.stopped()
        {
            let why = format!("{flag}; stopped to retry it (retry.slow)");
            (a.outcome, a.stopped, a.healed) = (Outcome::new(StepStatus::Failed, why), false, true);
        }
        Ok(a)
    }

    /// The attempt's plan: inputs placed and templates rendered, or why it cannot run.
    async fn plan(
        &self,
        u: &Unit<'_>,
        files: &AttemptFiles,
        inputs: &[Input],
    ) -> Result<AttemptPlan, String> {
        let mut ctx = u.ctx.clone();
        AttemptPlan::new(
            &PlanInputs {
                wf: &self.wf,
                step: u.step,
                store: Some(&self.store),
                inputs,
                files,
                run_id: &self.run_id,
                node: u.node,
                // Inherited, a secret is read from the host environment variable of its name.
                secret_hint: "on the local runtime set it in the environment of `couler run`",
                environment: &self.environment,
                work_dir_on_host: self.runtime == Runtime::Host,
            },
            &mut ctx,
        )
        .await
    }

    /// With a container engine and an image, wraps the process in a container run with the
    /// step's mounts and limits.
    fn in_container(
        &self,
        step: &Step,
        node: &str,
        work: &std::path::Path,
        script: Option<&std::path::Path>,
        spec: &mut runner::ProcessSpec,
    ) {
        let (Some(engine), Some(image)) = (self.runtime.engine(), self.wf.effective_image(step))
        else {
            return;
        };
        let c = runner::ContainerRef::of_step(engine, &self.run_id, node);
        let limits = self.wf.effective_resources(step).map(|r| &r.limits);
        let mounts = crate::paths::step_mounts(step, work);
        spec.argv = runner::container_argv(&runner::ContainerSpec {
            container: &c,
            image,
            work_dir: work,
            script,
            mounts: &mounts,
            env: &spec.env,
            cpu_limit: limits.and_then(|l| l.cpu.as_ref()).map(|q| q.value()),
            memory_limit_bytes: limits
                .and_then(|l| l.memory.as_ref())
                .map(|q| q.value() as u64),
            command: &spec.argv,
            host_network: step.is_daemon() || reads_a_daemon(step),
        });
        spec.container = Some(c);
    }
}

/// Step `i` ended: each successor whose last predecessor it was becomes ready.
fn unblock(graph: &Graph, waiting: &mut [u32], ready: &mut Vec<usize>, i: usize) {
    for &s in graph.successors(i) {
        waiting[s] -= 1;
        if waiting[s] == 0 {
            ready.push(s);
        }
    }
}

/// Whether `step` reads a daemon's address (`steps.S.ip`).
fn reads_a_daemon(step: &Step) -> bool {
    step.references().iter().any(|(_, r)| {
        matches!(
            r,
            couler_ir::Reference::Step {
                output: couler_ir::StepOutput::Ip,
                ..
            }
        )
    })
}

/// One unit the executor drives: the step, its node (`step` or `step[k]`), what it reads, and
/// its number of successors (`None`: counted when its cache entry needs it).
struct Unit<'a> {
    step: &'a Step,
    node: &'a str,
    /// What it reads.
    ctx: Context<'a>,
    consumers: Option<u32>,
    /// How many items its map has, when it is a map's instance.
    map_items: Option<u64>,
}

/// A unit's item (a map's instance, or a study's trial) and how many items its map has (a
/// trial's study has no fixed number).
#[derive(Clone, Copy)]
pub(crate) struct Item<'a> {
    pub value: &'a serde_json::Value,
    pub of: Option<u64>,
}

/// What a unit's attempts add up to: the last attempt number, the peak memory, the CPU time.
struct Tally {
    attempt: u32,
    peak_rss_kb: i64,
    cpu_seconds: f64,
    /// The last anomaly flag of its attempts.
    anomaly: Option<String>,
}

/// One attempt's outcome and measurements.
struct Attempt {
    outcome: Outcome,
    started: f64,
    peak_rss_kb: Option<i64>,
    cpu_seconds: Option<f64>,
    /// It ended because the run was stopped: not retried.
    stopped: bool,
    /// Its anomaly flag (`anomaly.rs`), when it ran past its history.
    anomaly: Option<String>,
    /// Stopped as an anomaly to be retried (`retry.slow`): retried whatever `retry.on` says.
    healed: bool,
}

impl Attempt {
    /// An attempt that ended in `Error` before its process ran.
    fn failed(msg: &str, started: f64) -> Attempt {
        Attempt {
            outcome: Outcome::new(StepStatus::Error, msg.to_string()),
            started,
            peak_rss_kb: None,
            cpu_seconds: None,
            stopped: false,
            anomaly: None,
            healed: false,
        }
    }

    /// A daemon's attempt, Succeeded once its process has started.
    fn daemon_started(started: f64) -> Attempt {
        Attempt {
            outcome: Outcome::new(StepStatus::Succeeded, None),
            ..Attempt::failed("", started)
        }
    }
}
