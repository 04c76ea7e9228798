//! `/healthz` and `/metrics` (Prometheus text format), unauthenticated.

use super::{ApiError, Shared};
use crate::store::{QUEUED, STATES};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use std::fmt::Write;

/// `GET /healthz`: the server answers and its database reads.
pub async fn healthz(State(app): State<Shared>) -> Result<Response, ApiError> {
    app.db(|s| s.count_by_state())?;
    Ok(axum::Json(serde_json::json!({"status": "ok"})).into_response())
}

/// `GET /metrics`.
pub async fn metrics(State(app): State<Shared>) -> Result<Response, ApiError> {
    let counts = app.db(|s| s.count_by_state())?;
    let count = |state: &str| {
        counts
            .iter()
            .find(|(s, _)| s == state)
            .map_or(0, |(_, n)| *n)
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# HELP couler_runs Runs known to the server, by state."
    );
    let _ = writeln!(out, "# TYPE couler_runs gauge");
    for state in STATES {
        let _ = writeln!(out, "couler_runs{{state=\"{state}\"}} {}", count(state));
    }
    let _ = writeln!(
        out,
        "# HELP couler_queue_depth Runs accepted and not yet started."
    );
    let _ = writeln!(out, "# TYPE couler_queue_depth gauge");
    let _ = writeln!(out, "couler_queue_depth {}", count(QUEUED));
    let _ = writeln!(
        out,
        "# HELP couler_workers Runs the worker pool runs at once."
    );
    let _ = writeln!(out, "# TYPE couler_workers gauge");
    let _ = writeln!(out, "couler_workers {}", app.pool.workers());
    let _ = writeln!(out, "# HELP couler_workers_busy Workers running a run now.");
    let _ = writeln!(out, "# TYPE couler_workers_busy gauge");
    let _ = writeln!(out, "couler_workers_busy {}", app.pool.busy());
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response())
}
