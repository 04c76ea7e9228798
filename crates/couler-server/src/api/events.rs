//! `GET /api/v1/runs/{id}/events` and `GET /api/v1/events`: server-sent events of run and step
//! changes. A subscriber first gets the current state (a `run` event and a `step` event per
//! step, marked `"snapshot": true`), then each change as the bus publishes it, only of runs in
//! namespaces where it may view; one that falls behind gets `event: lagged` and should re-fetch.
//! A `: keepalive` comment goes out every 15 s. A run's stream ends after its final `run` event.

use super::runs::find;
use super::stream::{self, Chunk};
use super::{ApiError, Shared};
use crate::auth::{Principal, Role};
use crate::events::{BusEvent, run_event, step_event};
use crate::store::{QUEUED, RUNNING, RunFilter, RunRow};
use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc};

const KEEPALIVE: Duration = Duration::from_secs(15);
/// The most queued and the most running runs the snapshot of `GET /events` shows.
const SNAPSHOT_RUNS: usize = 1000;

/// `GET /api/v1/runs/{id}/events`.
pub async fn of_run(
    State(app): State<Shared>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let row = find(&app, &p, &id, Role::Viewer)?;
    // Subscribed before the snapshot is read, so no change falls between the two.
    let rx = app.pool.events.subscribe();
    let snapshot = snapshot(&app, &row)?;
    Ok(respond(rx, snapshot, Some(id), p))
}

/// `GET /api/v1/events`: every run the caller may view.
pub async fn all(
    State(app): State<Shared>,
    Extension(p): Extension<Principal>,
) -> Result<Response, ApiError> {
    let rx = app.pool.events.subscribe();
    let mut events = Vec::new();
    for state in [QUEUED, RUNNING] {
        let filter = RunFilter {
            state: Some(state.to_string()),
            namespaces: p.namespaces_with(Role::Viewer),
            before: None,
            limit: SNAPSHOT_RUNS,
            ..RunFilter::default()
        };
        for row in app.db(|s| s.runs(&filter))? {
            events.extend(snapshot(&app, &row)?);
        }
    }
    Ok(respond(rx, events, None, p))
}

/// The run's current state and its steps', as events.
fn snapshot(app: &Shared, row: &RunRow) -> Result<Vec<BusEvent>, ApiError> {
    let state = app.pool.runtime_state().map_err(ApiError::internal)?;
    let internal = |e: couler_run::Error| ApiError::internal(e.to_string());
    let rec = state.run(&row.id).map_err(internal)?;
    let status = super::runs::shown_state(row, rec.as_ref());
    let message = rec.and_then(|r| r.message).or_else(|| row.message.clone());
    let mut run = run_event(
        &row.id,
        &row.namespace,
        &row.workflow,
        &status,
        message.as_deref(),
    );
    run.ended = crate::store::ENDED.contains(&row.state.as_str());
    let mut out = vec![run];
    for s in app.pool.steps(&row.id).map_err(ApiError::internal)? {
        out.push(step_event(row, &s));
    }
    for e in &mut out {
        e.data["snapshot"] = true.into();
    }
    Ok(out)
}

fn respond(
    rx: broadcast::Receiver<Arc<BusEvent>>,
    snapshot: Vec<BusEvent>,
    only: Option<String>,
    p: Principal,
) -> Response {
    let (tx, body) = stream::channel();
    tokio::spawn(pump(rx, snapshot, only, p, tx));
    (
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

fn frame(e: &BusEvent) -> Chunk {
    Ok(Bytes::from(format!(
        "event: {}\ndata: {}\n\n",
        e.kind.as_str(),
        e.data
    )))
}

/// Sends the snapshot, then the bus's events for `p` (of run `only`, if given), until the
/// client goes away or `only` has ended.
async fn pump(
    mut rx: broadcast::Receiver<Arc<BusEvent>>,
    snapshot: Vec<BusEvent>,
    only: Option<String>,
    p: Principal,
    tx: mpsc::Sender<Chunk>,
) {
    for e in &snapshot {
        if tx.send(frame(e)).await.is_err() {
            return;
        }
    }
    if only.is_some() && snapshot.first().is_some_and(|e| e.ended) {
        return;
    }
    let wanted = |e: &BusEvent| match &only {
        Some(id) => &e.run == id,
        None => p.role_in(&e.namespace).is_some(),
    };
    let mut keepalive =
        tokio::time::interval_at(tokio::time::Instant::now() + KEEPALIVE, KEEPALIVE);
    loop {
        let chunk = tokio::select! {
            r = rx.recv() => match r {
                Ok(e) if wanted(&e) => {
                    if only.is_some() && e.ended {
                        let _ = tx.send(frame(&e)).await;
                        return;
                    }
                    frame(&e)
                }
                Ok(_) => continue,
                Err(broadcast::error::RecvError::Lagged(n)) => Ok(lagged(n, only.as_deref())),
                Err(broadcast::error::RecvError::Closed) => return,
            },
            _ = keepalive.tick() => Ok(Bytes::from_static(b": keepalive\n\n")),
            () = tx.closed() => return,
        };
        if tx.send(chunk).await.is_err() {
            return;
        }
    }
}

fn lagged(missed: u64, only: Option<&str>) -> Bytes {
    let fetch = only.map_or_else(
        || "GET /api/v1/runs".to_string(),
        |id| format!("GET /api/v1/runs/{id}"),
    );
    let data = serde_json::json!({
        "missed": missed,
        "detail": format!("this stream fell behind and missed {missed} events: re-fetch {fetch} for the current state"),
    });
    Bytes::from(format!("event: lagged\ndata: {data}\n\n"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{Bus, CAPACITY};

    fn row() -> RunRow {
        RunRow {
            id: "r-1".into(),
            namespace: "team-a".into(),
            workflow: "r".into(),
            submitted_by: "ann".into(),
            state: QUEUED.into(),
            submitted_at: 0.0,
            message: None,
            seq: 1,
            spec: String::new(),
            params: String::new(),
            priority: 0,
            cluster: None,
            request: crate::queue::Resources::default(),
            account: "ann".into(),
            resume: false,
            not_before: 0.0,
        }
    }

    async fn frames(mut rx: mpsc::Receiver<Chunk>) -> Vec<String> {
        let mut out = Vec::new();
        while let Some(c) = rx.recv().await {
            let c = c.unwrap_or_else(|e| panic!("{e}"));
            out.push(String::from_utf8_lossy(&c).to_string());
        }
        out
    }

    #[tokio::test]
    async fn a_subscriber_that_falls_behind_is_told_it_lagged_and_goes_on() {
        let bus = Bus::default();
        let rx = bus.subscribe();
        let row = row();
        // Published while nobody reads: the bus never waits, the oldest 10 are lost to it.
        for _ in 0..CAPACITY + 10 {
            bus.run(&row, RUNNING, None);
        }
        bus.run(&row, "Succeeded", None);
        let (tx, chunks) = mpsc::channel(4);
        tokio::spawn(pump(
            rx,
            Vec::new(),
            Some(row.id.clone()),
            Principal::anonymous(),
            tx,
        ));
        let got = frames(chunks).await;
        assert!(got[0].starts_with("event: lagged\ndata: {"), "{}", got[0]);
        assert!(
            got[0].contains("\"missed\":11") && got[0].contains("re-fetch GET /api/v1/runs/r-1"),
            "{}",
            got[0]
        );
        // Then the events still held, the run's end last, and the stream ends.
        assert_eq!(got.len(), 1 + CAPACITY);
        assert!(
            got[CAPACITY].contains("\"state\":\"Succeeded\""),
            "{}",
            got[CAPACITY]
        );
    }

    #[tokio::test]
    async fn the_all_runs_stream_shows_only_namespaces_the_caller_may_view() {
        let bus = Bus::default();
        let rx = bus.subscribe();
        let (tx, chunks) = mpsc::channel(4);
        let viewer_b = Principal {
            user: "vic".into(),
            bindings: vec![crate::store::Binding {
                namespace: "team-b".into(),
                role: Role::Viewer,
            }],
        };
        let task = tokio::spawn(pump(rx, Vec::new(), None, viewer_b, tx));
        let a = row();
        let b = RunRow {
            id: "r-2".into(),
            namespace: "team-b".into(),
            ..row()
        };
        bus.run(&a, RUNNING, None);
        bus.run(&b, RUNNING, None);
        drop(bus);
        task.await.unwrap_or_else(|e| panic!("{e}"));
        let got = frames(chunks).await;
        assert_eq!(got.len(), 1, "{got:?}");
        assert!(got[0].contains("\"run\":\"r-2\""), "{}", got[0]);
    }
}
