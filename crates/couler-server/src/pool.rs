//! The worker pool: one admission loop decides which queued run starts next and on which
//! cluster (`queue::WeightedQueue`, within each cluster's capacity and workers and each
//! account's quota: docs/server.md, "The queue in the server"); each admitted run executes on
//! the embedded local runtime (`couler_run::Host`: the executor and step core of `couler run`,
//! in one state directory the server holds for its lifetime), or, on a `kind: argo` cluster,
//! as a Workflow through the Kubernetes API ([`argo`]), or, on a `kind: airflow` cluster, as a
//! DAG run through Airflow's REST API ([`airflow`]).
//!
//! An admitted run is looked up in the runtime's state: unknown there, it starts under the
//! server's id; recorded and unfinished (the server died under it), or flagged for resume
//! (an automatic retry, `POST …/resume`), it is resumed (finished steps are kept); recorded
//! and ended (the server died before mirroring its end), its end is mirrored. A run that ends
//! Failed or Error on a retryable system error is queued again, flagged for resume, after the
//! pattern's backoff ([`autoretry`]). On start every run the database says is running goes
//! back to the queue, so a server killed at any moment finishes what it accepted.

mod airflow;
mod argo;
mod autoretry;
mod ledger;
mod metrics;
mod mirror;
mod request;

pub use ledger::ClusterUse;
pub use request::request_of;

use crate::config::{Config, Target};
use crate::queue::{Pending, Refusal, WeightedQueue};
use crate::store::{ENDED, QUEUED, RUNNING, Retry, RunRow, Store};
use couler_run::state::StepRecord;
use couler_run::{Host, RunOptions, State, StepEnvironment};
use ledger::Ledger;
use metrics::Metrics;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::sync::{Notify, watch};

/// The outcome of a stop request.
#[derive(Debug, PartialEq, Eq)]
pub enum Stop {
    /// It was queued: it will not run (again); why, as recorded on it.
    Dequeued(&'static str),
    /// It runs: its stop channel was signalled.
    Signalled,
    /// It has ended.
    NotActive,
}

pub struct Pool {
    host: Host,
    store: Arc<dyn Store>,
    config: Config,
    policy: WeightedQueue,
    /// The stop channel of each run admitted. Admitting a run and entering it here happen
    /// under this lock, as do a stop request and a run's end, so a stop never falls between.
    /// A remote run queued again after its engine's API broke off a stop keeps its signalled
    /// channel here, and its next attempt starts stopping.
    active: Mutex<HashMap<String, watch::Sender<bool>>>,
    ledger: Mutex<Ledger>,
    wake: Notify,
    busy: AtomicUsize,
    metrics: Arc<Metrics>,
    /// `--secrets-dir`: a run's secrets are read from `secrets/NAMESPACE/SECRET/KEY`.
    secrets: PathBuf,
    /// Where run and step events go (the API's event streams).
    pub events: Arc<crate::events::Bus>,
    /// The steps of runs on argo and airflow clusters, as their engines last reported them.
    mirror: mirror::Mirror,
}

/// How long the admission loop waits before looking at the queue again without being woken
/// (a retry's backoff ends, aging moves scores).
const IDLE_POLL: Duration = Duration::from_secs(1);

impl Pool {
    /// Requeues the runs a previous server left running and starts the admission loop.
    /// Steps run in a sealed environment: nothing of the server's own (its database URL, cloud
    /// keys) reaches them, and their secrets come from files under `secrets`.
    pub fn start(
        host: Host,
        store: Arc<dyn Store>,
        config: Config,
        secrets: PathBuf,
    ) -> Result<Arc<Pool>, String> {
        let requeued = store.requeue_running().map_err(|e| e.to_string())?;
        if requeued > 0 {
            crate::log(format_args!(
                "{requeued} run(s) left unfinished are queued again"
            ));
        }
        let pool = Arc::new(Pool {
            host,
            store,
            ledger: Mutex::new(Ledger::new(&config)),
            policy: WeightedQueue::new(config.weights.clone()),
            config,
            active: Mutex::new(HashMap::new()),
            wake: Notify::new(),
            busy: AtomicUsize::new(0),
            metrics: Arc::default(),
            secrets,
            events: Arc::default(),
            mirror: mirror::Mirror::default(),
        });
        tokio::spawn(pool.clone().admit_loop());
        Ok(pool)
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// How many runs execute at once, all clusters together.
    pub fn workers(&self) -> usize {
        self.config.workers.iter().sum()
    }

    pub fn busy(&self) -> usize {
        self.busy.load(Ordering::Relaxed)
    }

    /// Whether a run of `account` asking `request` can ever be admitted (its reason if not).
    pub fn admissible(
        &self,
        account: &str,
        request: crate::queue::Resources,
    ) -> Result<(), Refusal> {
        let w = Pending {
            id: 0,
            user: account.to_string(),
            priority: 0,
            request,
            submitted_at: 0,
        };
        let quota = self
            .config
            .quotas
            .get(account)
            .copied()
            .unwrap_or(crate::queue::Resources::UNLIMITED);
        crate::queue::admissible(&w, &self.config.clusters, &quota)
    }

    /// Each cluster's use now.
    pub fn clusters(&self) -> Vec<ClusterUse> {
        self.ledger().clusters()
    }

    /// The step duration histogram and retry counters, Prometheus text.
    pub fn render_metrics(&self, out: &mut String) {
        self.metrics.render(out);
    }

    /// Tells the admission loop that a run was queued.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// A reader of the runtime's state.
    pub fn runtime_state(&self) -> Result<State, String> {
        self.host.state().map_err(|e| e.to_string())
    }

    /// The runtime's state directory.
    pub fn state_dir(&self) -> &std::path::Path {
        self.host.dir()
    }

    fn active(&self) -> MutexGuard<'_, HashMap<String, watch::Sender<bool>>> {
        self.active.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn ledger(&self) -> MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Stops run `id`: dequeued if queued, signalled if running.
    pub fn stop(&self, id: &str) -> Result<Stop, String> {
        let active = self.active();
        if let Some(tx) = active.get(id) {
            // Every request counts, as repeated `couler stop`s do.
            tx.send_replace(true);
            return Ok(Stop::Signalled);
        }
        // A queued run the runtime knows was queued to resume (a retry's wait, `resume`).
        let started = self
            .runtime_state()?
            .run(id)
            .map_err(|e| e.to_string())?
            .is_some();
        let why = if started {
            "stopped while queued to resume"
        } else {
            "stopped before it started"
        };
        let dequeued = self
            .store
            .set_state(id, "Stopped", Some(why), Some(QUEUED))
            .map_err(|e| e.to_string())?;
        Ok(if dequeued {
            Stop::Dequeued(why)
        } else {
            Stop::NotActive
        })
    }

    /// Where `row` runs if it was admitted onto a remote (argo, airflow) cluster: its object
    /// there in words, and where its steps' logs and artifacts are read.
    pub fn remote(&self, row: &RunRow) -> Option<(String, String)> {
        let name = couler_submit::name_of(&row.id);
        match self.target_of(row)? {
            Target::Local => None,
            Target::Argo(k8s) => {
                let namespace = k8s.namespace.as_deref().unwrap_or("default");
                Some((
                    format!("on Argo as Workflow {namespace}/{name}"),
                    format!("Argo (`argo logs {name} -n {namespace}`, its artifact repository)"),
                ))
            }
            Target::Airflow(af) => Some((
                format!("on Airflow at {} as DAG run {name}/{name}", af.url),
                "Airflow (its UI and REST API) and the artifact store its tasks use".to_string(),
            )),
        }
    }

    /// The logs of step `node` of `row` if it was admitted onto an airflow cluster (`None`
    /// otherwise), read from Airflow; `Ok(None)`: no such step, or it has not started.
    pub async fn airflow_logs(
        &self,
        row: &RunRow,
        node: &str,
    ) -> Option<Result<Option<String>, String>> {
        let Target::Airflow(af) = self.target_of(row)? else {
            return None;
        };
        Some(airflow::logs(self, af, row, node).await)
    }

    /// Where `row` was admitted, if anywhere.
    fn target_of(&self, row: &RunRow) -> Option<&Target> {
        let cluster = row.cluster.as_deref()?;
        let i = self
            .config
            .clusters
            .iter()
            .position(|c| c.name == cluster)?;
        Some(&self.config.targets[i])
    }

    /// The steps of run `id`: as its engine reports them for a remote run, else the runtime's
    /// records.
    pub fn steps(&self, id: &str) -> Result<Vec<StepRecord>, String> {
        match self.mirror.steps(id) {
            Some(steps) => Ok(steps),
            None => self.runtime_state()?.steps(id).map_err(|e| e.to_string()),
        }
    }

    /// Forgets an ended run's runtime records and directories (nothing if it never started).
    pub async fn forget(&self, id: &str) -> Result<(), String> {
        self.mirror.forget(id);
        if self
            .runtime_state()?
            .run(id)
            .map_err(|e| e.to_string())?
            .is_none()
        {
            return Ok(());
        }
        self.host
            .forget(id)
            .await
            .map(drop)
            .map_err(|e| e.to_string())
    }

    /// Admits queued runs while the policy finds one that fits, then waits to be woken.
    async fn admit_loop(self: Arc<Self>) {
        loop {
            if let Err(e) = self.admit_ready() {
                crate::log(format_args!("{e}"));
            }
            tokio::select! {
                () = self.wake.notified() => {}
                () = tokio::time::sleep(IDLE_POLL) => {}
            }
        }
    }

    /// Admits, one at a time, what the weighted queue picks among the queued runs whose
    /// backoff (if any) is over.
    fn admit_ready(self: &Arc<Self>) -> Result<(), String> {
        let now = couler_run::state::now();
        let mut ready: Vec<RunRow> = self
            .store
            .queued()
            .map_err(|e| e.to_string())?
            .into_iter()
            .filter(|r| r.not_before <= now && self.still_admissible(r))
            .collect();
        loop {
            let pending: Vec<Pending> = ready.iter().map(pending_of).collect();
            let pick = self
                .ledger()
                .pick(&self.policy, &self.config.quotas, &pending, now as u64);
            let Some((index, cluster)) = pick else {
                return Ok(());
            };
            let row = ready.swap_remove(index);
            self.launch(row, cluster)?;
        }
    }

    /// Whether a queued run can still ever be admitted; one that cannot (the configuration
    /// shrank while it waited) ends `Error` with the queue's reason instead of waiting forever.
    fn still_admissible(&self, row: &RunRow) -> bool {
        let Err(refusal) = self.admissible(&row.account, row.request) else {
            return true;
        };
        let why = format!("cannot be admitted under the server's configuration: {refusal}");
        match self
            .store
            .set_state(&row.id, "Error", Some(&why), Some(QUEUED))
        {
            Ok(_) => self.events.run(row, "Error", Some(&why)),
            Err(e) => crate::log(format_args!("run {}: {e}", row.id)),
        }
        false
    }

    /// Marks `row` running on `cluster` (unless it was stopped meanwhile) and starts it.
    fn launch(self: &Arc<Self>, row: RunRow, cluster: usize) -> Result<(), String> {
        let name = &self.config.clusters[cluster].name;
        let stop = {
            let mut active = self.active();
            if !self.store.admit(&row.id, name).map_err(|e| e.to_string())? {
                return Ok(());
            }
            // A stop owed from its last attempt (see `work`) is delivered at once.
            let owed = active.get(&row.id).is_some_and(|tx| *tx.borrow());
            let (tx, rx) = watch::channel(owed);
            active.insert(row.id.clone(), tx);
            self.ledger()
                .hold(&row.id, cluster, &row.account, row.request);
            rx
        };
        tokio::spawn(self.clone().work(row, cluster, stop));
        Ok(())
    }

    async fn work(self: Arc<Self>, row: RunRow, cluster: usize, stop: watch::Receiver<bool>) {
        self.busy.fetch_add(1, Ordering::Relaxed);
        self.events.run(&row, RUNNING, None);
        let started = couler_run::state::now();
        let asked = stop.clone();
        let (outcome, remote) = match &self.config.targets[cluster] {
            Target::Local => (self.execute(&row, stop).await, false),
            Target::Argo(k8s) => (argo::execute(&self, k8s, &row, stop).await, true),
            Target::Airflow(af) => (airflow::execute(&self, af, &row, stop).await, true),
        };
        let stopping = *asked.borrow();
        // Every failure of a local run may be retried, unless it was asked to stop; of a
        // remote run, its API's errors: one that broke off a stop retries the stop (the
        // engine's run would go on otherwise), owed to the next attempt in `active`.
        let may_retry = if remote { outcome.is_err() } else { !stopping };
        let (state, message) = outcome.unwrap_or_else(|e| ("Error".to_string(), Some(e)));
        self.ledger().release(&row.id);
        self.observe_steps(&row.id, started);
        {
            let mut active = self.active();
            match self.finish(&row, &state, message.as_deref(), may_retry) {
                Ok(true) if stopping => {}
                Ok(_) => {
                    active.remove(&row.id);
                }
                Err(e) => {
                    active.remove(&row.id);
                    crate::log(format_args!("run {}: {e}", row.id));
                }
            }
        }
        self.busy.fetch_sub(1, Ordering::Relaxed);
        self.wake.notify_one();
    }

    /// Records the end of `row`, or queues it again for an automatic retry (if `may_retry`):
    /// whether it was queued again.
    fn finish(
        &self,
        row: &RunRow,
        state: &str,
        message: Option<&str>,
        may_retry: bool,
    ) -> Result<bool, String> {
        let e = |e: crate::store::StoreError| e.to_string();
        if may_retry && (state == "Failed" || state == "Error") {
            let steps = self.steps(&row.id)?;
            let attempt = self.store.retries(&row.id).map_err(e)?.len() as u32 + 1;
            let decision = autoretry::decide(
                &steps,
                state,
                message,
                attempt,
                &self.config.retry,
                &mut autoretry::uniform,
            );
            if let Some(d) = decision {
                let now = couler_run::state::now();
                self.store
                    .record_retry(&Retry {
                        run: row.id.clone(),
                        attempt,
                        at: now,
                        node: d.node.clone(),
                        pattern: d.pattern.name.to_string(),
                        delay_secs: d.delay.as_secs_f64(),
                    })
                    .map_err(e)?;
                self.store
                    .requeue_for_resume(&row.id, &[RUNNING], now + d.delay.as_secs_f64())
                    .map_err(e)?;
                self.metrics.retried(d.pattern.name);
                let why = format!(
                    "step `{}` failed on `{}`; retry {attempt} in {:.1}s",
                    d.node,
                    d.pattern.name,
                    d.delay.as_secs_f64()
                );
                crate::log(format_args!("run {}: {why}", row.id));
                self.events.run(row, QUEUED, Some(&why));
                return Ok(true);
            }
        }
        if self
            .store
            .set_state(&row.id, state, message, Some(RUNNING))
            .map_err(e)?
        {
            self.events.run(row, state, message);
        }
        Ok(false)
    }

    /// Counts the steps of `id` that finished since `since` in the duration histogram.
    fn observe_steps(&self, id: &str, since: f64) {
        let Ok(steps) = self.steps(id) else {
            return;
        };
        for s in steps {
            if let (Some(start), Some(end)) = (s.started_at, s.finished_at)
                && end >= since
            {
                self.metrics.step_finished(end - start);
            }
        }
    }

    /// Runs, resumes or reads the end of `row` in the runtime: its final status and message.
    async fn execute(
        &self,
        row: &RunRow,
        stop: watch::Receiver<bool>,
    ) -> Result<(String, Option<String>), String> {
        let metrics = Arc::clone(&self.metrics);
        let steps = self.events.track(row, self.runtime_state()?, move |kind| {
            metrics.anomaly(kind)
        });
        let opts = RunOptions {
            params: crate::submission::params_of(&row.params)?,
            environment: StepEnvironment::sealed(self.secrets.join(&row.namespace)),
            events: Some(steps.sender()),
            // Only the status is read here; the steps are in the state, which the API reads.
            report_steps: false,
            ..RunOptions::new(self.host.dir().to_path_buf(), stop)
        };
        let recorded = self
            .runtime_state()?
            .run(&row.id)
            .map_err(|e| e.to_string())?;
        let report = match recorded {
            None => {
                let wf =
                    couler_ir::spec::parse(&row.spec, couler_ir::Format::Json).map_err(|_| {
                        format!("the stored spec of run `{}` cannot be read back", row.id)
                    })?;
                self.host.run(&wf, &row.id, opts).await
            }
            // Ended before the server could mirror it: a failed or stopped run is not the
            // server's to run again unless it was queued to resume.
            Some(rec) if ENDED.contains(&rec.status.as_str()) && !row.resume => {
                return Ok((rec.status, rec.message));
            }
            Some(_) => self.host.resume(&row.id, opts).await,
        };
        steps.finish().await;
        report
            .map(|r| (r.status.as_str().to_string(), r.message))
            .map_err(|e| e.to_string())
    }
}

/// The queue's view of a queued run (its sequence number orders ties).
fn pending_of(r: &RunRow) -> Pending {
    Pending {
        id: r.seq as u64,
        user: r.account.clone(),
        priority: r.priority,
        request: r.request,
        submitted_at: r.submitted_at as u64,
    }
}
