//! Daemon steps (`container.daemon`, docs/spec.md "Daemon steps") on the local runtime.
//!
//! A daemon's process runs in the background: its step is Succeeded as soon as the process
//! exists, and the process keeps running while the workflow's other steps run. When they have
//! all ended, whatever the outcome, the executor stops every daemon of its run ([`Daemons::
//! stop_all`]) before the exit handler runs, as Argo kills daemon pods when the entry DAG ends:
//! the process group (and the step's cgroup, where there is one) gets SIGTERM, then SIGKILL after
//! the grace period, which is [`run_process`]'s stop. A daemon that exits on its own earlier
//! leaves its Succeeded as it was: its dependants have started already, and its logs stay in
//! its attempt's directory.

use crate::runner::{ProcessEnd, ProcessSpec, run_process};
use std::sync::Mutex;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinSet;

/// The daemons one run (or one nested sub-workflow run) started.
pub(crate) struct Daemons {
    stop: watch::Sender<bool>,
    running: Mutex<JoinSet<()>>,
}

impl Default for Daemons {
    fn default() -> Self {
        Daemons {
            stop: watch::channel(false).0,
            running: Mutex::new(JoinSet::new()),
        }
    }
}

impl Daemons {
    /// Starts `spec` in the background. Returns once its process exists (`spawned` has been
    /// called with its process group), or with how it ended when it could not start.
    pub(crate) async fn start(
        &self,
        spec: ProcessSpec,
        spawned: impl FnOnce(i32) + Send + 'static,
    ) -> Result<(), ProcessEnd> {
        let (started_tx, started) = oneshot::channel();
        let (ended_tx, ended) = oneshot::channel();
        let stop = self.stop.subscribe();
        let task = async move {
            let end = run_process(&spec, stop, |pgid| {
                spawned(pgid);
                let _ = started_tx.send(());
            })
            .await;
            let _ = ended_tx.send(end);
        };
        self.running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .spawn(task);
        // The `started` sender is dropped unused when the process could not start.
        match started.await {
            Ok(()) => Ok(()),
            Err(_) => Err(ended.await.unwrap_or_else(|_| {
                ProcessEnd::Error("the daemon's task ended without a word".to_string())
            })),
        }
    }

    /// Stops every daemon started so far and waits until each one's process has been reaped.
    pub(crate) async fn stop_all(&self) {
        self.stop.send_replace(true);
        let mut running =
            std::mem::take(&mut *self.running.lock().unwrap_or_else(|e| e.into_inner()));
        while running.join_next().await.is_some() {}
    }
}
