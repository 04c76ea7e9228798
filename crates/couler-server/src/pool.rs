//! The worker pool: at most `workers` runs at once, each on the embedded local runtime
//! (`couler_run::Host`: the executor and step core of `couler run`, in one state directory the
//! server holds for its lifetime).
//!
//! A worker claims the oldest queued run and looks it up in the runtime's state: unknown there,
//! it starts under the server's id; recorded and unfinished (the server died under it), it is
//! resumed (finished steps are kept); recorded and ended (the server died before mirroring
//! its end), its end is mirrored. On start every run the database says is running goes back to
//! the queue, so a server killed at any moment finishes what it accepted.

use crate::store::{ENDED, QUEUED, RUNNING, RunRow, Store};
use couler_run::{Host, RunOptions, State};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::sync::{Notify, watch};

/// The outcome of a stop request.
#[derive(Debug, PartialEq, Eq)]
pub enum Stop {
    /// It was queued: it will never start.
    Dequeued,
    /// It runs: its stop channel was signalled.
    Signalled,
    /// It has ended.
    NotActive,
}

pub struct Pool {
    host: Host,
    store: Arc<dyn Store>,
    /// The stop channel of each run a worker holds. Claiming a run and entering it here happen
    /// under this lock, as does a stop request, so a stop never falls between the two.
    active: Mutex<HashMap<String, watch::Sender<bool>>>,
    wake: Notify,
    workers: usize,
    busy: AtomicUsize,
}

/// How long an idle worker waits before looking at the queue again without being woken.
const IDLE_POLL: Duration = Duration::from_secs(1);

impl Pool {
    /// Requeues the runs a previous server left running and starts `workers` workers.
    pub fn start(host: Host, store: Arc<dyn Store>, workers: usize) -> Result<Arc<Pool>, String> {
        let requeued = store.requeue_running().map_err(|e| e.to_string())?;
        if requeued > 0 {
            crate::log(format_args!(
                "{requeued} run(s) left unfinished are queued again"
            ));
        }
        let pool = Arc::new(Pool {
            host,
            store,
            active: Mutex::new(HashMap::new()),
            wake: Notify::new(),
            workers,
            busy: AtomicUsize::new(0),
        });
        for _ in 0..workers {
            tokio::spawn(pool.clone().work());
        }
        Ok(pool)
    }

    pub fn workers(&self) -> usize {
        self.workers
    }

    pub fn busy(&self) -> usize {
        self.busy.load(Ordering::Relaxed)
    }

    /// Tells an idle worker that a run was queued.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// A reader of the runtime's state.
    pub fn runtime_state(&self) -> Result<State, String> {
        self.host.state().map_err(|e| e.to_string())
    }

    fn active(&self) -> MutexGuard<'_, HashMap<String, watch::Sender<bool>>> {
        self.active.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Stops run `id`: dequeued if queued, signalled if running.
    pub fn stop(&self, id: &str) -> Result<Stop, String> {
        let active = self.active();
        if let Some(tx) = active.get(id) {
            // Every request counts, as repeated `couler stop`s do.
            tx.send_replace(true);
            return Ok(Stop::Signalled);
        }
        let dequeued = self
            .store
            .set_state(
                id,
                "Stopped",
                Some("stopped before it started"),
                Some(QUEUED),
            )
            .map_err(|e| e.to_string())?;
        Ok(if dequeued {
            Stop::Dequeued
        } else {
            Stop::NotActive
        })
    }

    /// Forgets an ended run's runtime records and directories (nothing if it never started).
    pub async fn forget(&self, id: &str) -> Result<(), String> {
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

    /// The next queued run, entered in `active` with its stop channel.
    fn claim(&self) -> Option<(RunRow, watch::Receiver<bool>)> {
        let mut active = self.active();
        match self.store.claim() {
            Ok(Some(row)) => {
                let (tx, rx) = watch::channel(false);
                active.insert(row.id.clone(), tx);
                Some((row, rx))
            }
            Ok(None) => None,
            Err(e) => {
                crate::log(format_args!("{e}"));
                None
            }
        }
    }

    async fn work(self: Arc<Self>) {
        loop {
            let Some((row, stop)) = self.claim() else {
                tokio::select! {
                    () = self.wake.notified() => {}
                    () = tokio::time::sleep(IDLE_POLL) => {}
                }
                continue;
            };
            self.busy.fetch_add(1, Ordering::Relaxed);
            let (state, message) = self
                .execute(&row, stop)
                .await
                .unwrap_or_else(|e| ("Error".to_string(), Some(e)));
            if let Err(e) = self
                .store
                .set_state(&row.id, &state, message.as_deref(), Some(RUNNING))
            {
                crate::log(format_args!("run {}: {e}", row.id));
            }
            self.active().remove(&row.id);
            self.busy.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Runs, resumes or reads the end of `row` in the runtime: its final status and message.
    async fn execute(
        &self,
        row: &RunRow,
        stop: watch::Receiver<bool>,
    ) -> Result<(String, Option<String>), String> {
        let opts = RunOptions {
            params: crate::submission::params_of(&row.params)?,
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
            // server's to run again.
            Some(rec) if ENDED.contains(&rec.status.as_str()) => {
                return Ok((rec.status, rec.message));
            }
            Some(_) => self.host.resume(&row.id, opts).await,
        };
        report
            .map(|r| (r.status.as_str().to_string(), r.message))
            .map_err(|e| e.to_string())
    }
}
