//! The server's one event bus: run state transitions (published by the API and the pool) and
//! step events (from the runtime's `RunOptions.events`, forwarded per run by a [`Tracker`]),
//! fanned out to every subscriber of the event streams (`GET /api/v1/events`). A broadcast
//! channel: publishing never waits, and a subscriber that falls behind is told it lagged.

use crate::store::RunRow;
use couler_run::{Event, State, StepRecord};
use serde_json::{Value, json};
use std::sync::Arc;
use tokio::sync::{broadcast, mpsc, oneshot};

/// How many events the bus holds for its slowest subscriber before that one lags.
pub(crate) const CAPACITY: usize = 4096;

/// What an event is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Run,
    Step,
}

impl Kind {
    /// Its SSE `event:` name.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Run => "run",
            Kind::Step => "step",
        }
    }
}

/// One event: `data` is its JSON object, with `run` and `namespace` among its fields.
#[derive(Debug)]
pub struct BusEvent {
    pub kind: Kind,
    pub run: String,
    pub namespace: String,
    /// A run event whose state is final: the run's stream ends after it.
    pub ended: bool,
    pub data: Value,
}

/// Run `id`'s (of `workflow`, in `namespace`) event with `state`.
pub fn run_event(
    id: &str,
    namespace: &str,
    workflow: &str,
    state: &str,
    message: Option<&str>,
) -> BusEvent {
    BusEvent {
        kind: Kind::Run,
        run: id.to_string(),
        namespace: namespace.to_string(),
        ended: crate::store::ENDED.contains(&state),
        data: json!({
            "run": id,
            "namespace": namespace,
            "workflow": workflow,
            "state": state,
            "message": message,
        }),
    }
}

/// A step's event: the step as `GET /api/v1/runs/{id}` shows it, with its run's id and
/// namespace.
pub fn step_event(row: &RunRow, s: &StepRecord) -> BusEvent {
    let mut data = step_json(s);
    data["run"] = json!(row.id);
    data["namespace"] = json!(row.namespace);
    BusEvent {
        kind: Kind::Step,
        run: row.id.clone(),
        namespace: row.namespace.clone(),
        ended: false,
        data,
    }
}

/// A step as the API shows it.
pub fn step_json(s: &StepRecord) -> Value {
    json!({
        "node": s.node,
        "step": s.step,
        "status": s.status,
        "attempts": s.attempts,
        "exitCode": s.exit_code,
        "startedAt": s.started_at,
        "finishedAt": s.finished_at,
        "message": s.message,
        "outputs": s.outputs,
        "peakRssKb": s.peak_rss_kb,
        "cpuSeconds": s.cpu_seconds,
    })
}

pub struct Bus {
    tx: broadcast::Sender<Arc<BusEvent>>,
}

impl Default for Bus {
    fn default() -> Bus {
        Bus {
            tx: broadcast::channel(CAPACITY).0,
        }
    }
}

impl Bus {
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<BusEvent>> {
        self.tx.subscribe()
    }

    pub fn publish(&self, e: BusEvent) {
        // No subscriber: nobody to tell.
        let _ = self.tx.send(Arc::new(e));
    }

    /// Publishes that `row` is now in `state`.
    pub fn run(&self, row: &RunRow, state: &str, message: Option<&str>) {
        self.publish(run_event(
            &row.id,
            &row.namespace,
            &row.workflow,
            state,
            message,
        ));
    }

    /// Forwards the step events of `row`'s run, read with `state`, until [`Tracker::finish`];
    /// each anomaly's kind is also told to `anomaly` (the metrics count them).
    pub fn track(
        self: &Arc<Self>,
        row: &RunRow,
        state: State,
        anomaly: impl Fn(&'static str) + Send + Sync + 'static,
    ) -> Tracker {
        let (tx, mut rx) = mpsc::unbounded_channel::<Event>();
        let (done, mut done_rx) = oneshot::channel::<()>();
        let (bus, row) = (self.clone(), row.clone());
        let task = tokio::spawn(async move {
            let forward = |e: Event| {
                if let Event::Anomaly { kind, .. } = &e {
                    anomaly(kind);
                }
                bus.step(&row, &state, &e);
            };
            loop {
                tokio::select! {
                    biased;
                    Some(e) = rx.recv() => forward(e),
                    _ = &mut done_rx => break,
                }
            }
            // The run has returned: what it sent is all in the channel.
            while let Ok(e) = rx.try_recv() {
                forward(e);
            }
        });
        Tracker { tx, done, task }
    }

    /// Publishes a step event: its row as recorded now, with the status the event tells.
    fn step(&self, row: &RunRow, state: &State, e: &Event) {
        let (node, status, flag) = match e {
            Event::Started { node } => (node, "Running", None),
            Event::Finished { node, status, .. } => (node, status.as_str(), None),
            Event::Anomaly { node, message, .. } => (node, "Running", Some(message)),
        };
        let recorded = state
            .steps(&row.id)
            .ok()
            .and_then(|rows| rows.into_iter().find(|s| &s.node == node));
        let mut s = recorded
            .unwrap_or_else(|| StepRecord::new(node, node.split('[').next().unwrap_or(node), ""));
        s.status = status.to_string();
        if let Some(m) = flag {
            s.message = Some(m.clone());
        }
        self.publish(step_event(row, &s));
    }
}

/// The step events of one run on their way to the bus.
pub struct Tracker {
    tx: mpsc::UnboundedSender<Event>,
    done: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Tracker {
    /// The sender for `RunOptions.events`.
    pub fn sender(&self) -> mpsc::UnboundedSender<Event> {
        self.tx.clone()
    }

    /// Waits until every step event the run sent is published (call once the run returned).
    pub async fn finish(self) {
        let _ = self.done.send(());
        let _ = self.task.await;
    }
}
