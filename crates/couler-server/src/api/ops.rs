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
    let queued = app.db(|s| s.queued())?;
    let _ = writeln!(
        out,
        "# HELP couler_queue_depth_by_priority Runs accepted and not yet started, by priority (0-9).\n# TYPE couler_queue_depth_by_priority gauge"
    );
    for p in 0..=crate::submission::MAX_PRIORITY {
        let n = queued.iter().filter(|r| r.priority == p).count();
        let _ = writeln!(
            out,
            "couler_queue_depth_by_priority{{priority=\"{p}\"}} {n}"
        );
    }
    cluster_usage(&app, &mut out);
    app.pool.render_metrics(&mut out);
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

/// Each cluster's used and total CPU (cores), memory (bytes) and GPUs.
fn cluster_usage(app: &Shared, out: &mut String) {
    let clusters = app.pool.clusters();
    for (what, help) in [
        ("used", "held by the runs admitted onto it"),
        ("total", "its capacity"),
    ] {
        let _ = writeln!(
            out,
            "# HELP couler_server_cluster_{what} A cluster's resources {help}: cpu in cores, memory in bytes, gpu in devices.\n# TYPE couler_server_cluster_{what} gauge"
        );
        for c in &clusters {
            let r = if what == "used" { c.used } else { c.total };
            for (resource, value) in [
                ("cpu", r.cpu_milli as f64 / 1000.0),
                ("memory", r.mem_mib as f64 * 1_048_576.0),
                ("gpu", r.gpu as f64),
            ] {
                let _ = writeln!(
                    out,
                    "couler_server_cluster_{what}{{cluster=\"{}\",resource=\"{resource}\"}} {value}",
                    c.name
                );
            }
        }
    }
}
