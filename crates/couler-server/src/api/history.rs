//! `GET /api/v1/runs/{id}/history`: the runs of run `id`'s workflow in its namespace, newest
//! first and a page at a time, each with its parameters and each step's duration, peak memory
//! and outputs: what the web UI's history charts and run comparison draw (docs/ui.md).

use super::runs::find;
use super::{ApiError, Shared, page, page_size};
use crate::auth::{Principal, Role};
use crate::store::{RunFilter, RunRow};
use axum::Extension;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use couler_run::StepRecord;
use serde::Deserialize;
use serde_json::{Map, Value, json};

/// The most runs a page holds, and the default.
pub const MAX_RUNS: usize = 100;
pub const DEFAULT_RUNS: usize = 20;

#[derive(Deserialize)]
pub struct HistoryQuery {
    limit: Option<usize>,
    #[serde(rename = "continue")]
    cont: Option<i64>,
}

pub async fn history(
    State(app): State<Shared>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    query: Result<Query<HistoryQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::bad_request("invalid query", e.body_text()))?;
    let limit = page_size(q.limit, DEFAULT_RUNS, MAX_RUNS)?;
    let row = find(&app, &p, &id, Role::Viewer)?;
    let filter = RunFilter {
        state: None,
        namespaces: Some(vec![row.namespace.clone()]),
        before: q.cont,
        limit: limit + 1,
        workflow: Some(row.workflow.clone()),
        user: None,
        search: None,
    };
    let rows = app.db(|s| s.runs(&filter))?;
    let (rows, next) = page(rows, limit, |r| r.seq);
    let mut runs = Vec::with_capacity(rows.len());
    for r in &rows {
        let steps = app.pool.steps(&r.id).map_err(ApiError::internal)?;
        runs.push(run_json(r, &steps));
    }
    Ok(Json(json!({"workflow": row.workflow, "runs": runs, "continue": next})).into_response())
}

/// One run: `{id, state, submittedAt, params, steps: {step: {seconds, peakRssKb}}, outputs:
/// {node: {parameters, result}}}`. A map step's duration and memory are its largest
/// instance's; a step that has not ended has none.
pub fn run_json(row: &RunRow, records: &[StepRecord]) -> Value {
    let mut steps = Map::new();
    let mut outputs = Map::new();
    for r in records {
        if let (Some(start), Some(end)) = (r.started_at, r.finished_at) {
            let e = steps
                .entry(r.step.clone())
                .or_insert_with(|| json!({"seconds": 0.0, "peakRssKb": null}));
            let secs = (end - start)
                .max(0.0)
                .max(e["seconds"].as_f64().unwrap_or(0.0));
            e["seconds"] = json!(secs);
            if let Some(kb) = r.peak_rss_kb {
                e["peakRssKb"] = json!(kb.max(e["peakRssKb"].as_i64().unwrap_or(0)));
            }
        }
        if let Some(o) = &r.outputs {
            outputs.insert(
                r.node.clone(),
                json!({"parameters": o.parameters, "result": o.result}),
            );
        }
    }
    let params: Map<String, Value> = crate::submission::params_of(&row.params)
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    json!({
        "id": row.id,
        "state": row.state,
        "submittedAt": row.submitted_at,
        "params": params,
        "steps": steps,
        "outputs": outputs,
    })
}
