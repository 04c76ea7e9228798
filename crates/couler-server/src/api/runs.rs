//! `/api/v1/runs`: submit, list, get (with each step's status and attempts, read from the
//! runtime's state), stop, resume, delete.

use super::{ApiError, ListQuery, Shared, Touched, listing, page, require};
use crate::auth::{Principal, Role};
use crate::events::run_event;
use crate::pool::Stop;
use crate::store::{QUEUED, RUNNING, RunFilter, RunRow};
use crate::submission;
use axum::Extension;
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// A response that names what it touched, for the audit log.
fn touched(row_ns: &str, run: &str, status: StatusCode, body: serde_json::Value) -> Response {
    let mut r = (status, Json(body)).into_response();
    r.extensions_mut().insert(Touched {
        namespace: Some(row_ns.to_string()),
        run: Some(run.to_string()),
    });
    r
}

/// The body, or why it cannot be read (over `--max-body-bytes`: 413).
pub(super) fn body_bytes(
    body: Result<Bytes, BytesRejection>,
    max: usize,
) -> Result<Bytes, ApiError> {
    body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "request too large",
                format!("the body is over {max} bytes (the server's --max-body-bytes)"),
            )
        } else {
            ApiError::bad_request("unreadable body", e.body_text())
        }
    })
}

/// `POST /api/v1/runs`: `{spec, parameters?, namespace?}` → 201 `{id, namespace, state,
/// warnings}`, recorded before the answer.
pub async fn submit(
    State(app): State<Shared>,
    Extension(p): Extension<Principal>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let bytes = body_bytes(body, app.max_body)?;
    let body: submission::Body = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request("invalid body", format!("the JSON body: {e}")))?;
    submission::check_namespace(&body.namespace)?;
    require(&p, Role::Editor, &body.namespace, None)?;
    let account = app.pool.config().account_of(&p.user);
    let checked = submission::check(body, &p.user, &account)?;
    app.pool
        .admissible(&checked.run.account, checked.run.request)
        .map_err(|r| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "cannot be admitted",
                format!("run of `{}`: {r}", checked.run.workflow),
            )
        })?;
    app.db(|s| s.submit(&checked.run))?;
    let run = &checked.run;
    let queued = run_event(&run.id, &run.namespace, &run.workflow, QUEUED, None);
    app.pool.events.publish(queued);
    app.pool.wake();
    Ok(touched(
        &run.namespace,
        &run.id,
        StatusCode::CREATED,
        json!({
            "id": run.id,
            "namespace": run.namespace,
            "workflow": run.workflow,
            "state": QUEUED,
            "warnings": checked.warnings,
        }),
    ))
}

/// `GET /api/v1/runs?state=&workflow=&user=&q=&namespace=&limit=&continue=`: the runs the
/// caller may view, newest first.
pub async fn list(
    State(app): State<Shared>,
    Extension(p): Extension<Principal>,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let l = listing(q, &p, Role::Viewer)?;
    if let Some(s) = &l.state
        && !crate::store::STATES.contains(&s.as_str())
    {
        return Err(ApiError::bad_request(
            "invalid state",
            format!("state `{s}`: one of {}", crate::store::STATES.join(", ")),
        ));
    }
    let filter = RunFilter {
        state: l.state,
        namespaces: l.namespaces,
        before: l.before,
        limit: l.limit + 1,
        workflow: l.workflow,
        user: l.user,
        search: l.search,
    };
    let rows = app.db(|s| s.runs(&filter))?;
    let (rows, next) = page(rows, l.limit, |r| r.seq);
    // When each started and ended, and its state while it runs, are the runtime's.
    let state = app.pool.runtime_state().map_err(ApiError::internal)?;
    let mut runs = Vec::with_capacity(rows.len());
    for row in rows {
        let rec = state
            .run(&row.id)
            .map_err(|e| ApiError::internal(e.to_string()))?;
        let mut v = serde_json::to_value(&row).map_err(|e| ApiError::internal(e.to_string()))?;
        v["state"] = shown_state(&row, rec.as_ref()).into();
        v["startedAt"] = json!(rec.as_ref().map(|r| r.started_at));
        v["finishedAt"] = json!(rec.as_ref().and_then(|r| r.finished_at));
        runs.push(v);
    }
    Ok(Json(json!({"runs": runs, "continue": next})).into_response())
}

/// The run `id` if the caller has at least `role` in its namespace.
pub(super) fn find(app: &Shared, p: &Principal, id: &str, role: Role) -> Result<RunRow, ApiError> {
    let what = format!("no run `{id}`");
    let row = app
        .db(|s| s.run(id))?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "not found", what.clone()))?;
    require(p, role, &row.namespace, Some(&what))?;
    Ok(row)
}

/// The state the API shows of `row`: while the server holds a run, the runtime's status
/// (`rec`), except that an ended attempt stays `Running` until the server has decided (an
/// automatic retry queues it again).
pub(super) fn shown_state(row: &RunRow, rec: Option<&couler_run::RunRecord>) -> String {
    match rec {
        Some(r) if row.state == RUNNING && !crate::store::ENDED.contains(&r.status.as_str()) => {
            r.status.clone()
        }
        _ => row.state.clone(),
    }
}

/// The message the API shows of `row`: the server's once it has ended the run (it mirrors the
/// runtime's, or says why the server ended it: stopped while queued, no cluster can hold it),
/// else the runtime's.
fn shown_message(row: &RunRow, rec: Option<&couler_run::RunRecord>) -> Option<String> {
    let runtime = rec.and_then(|r| r.message.clone());
    if crate::store::ENDED.contains(&row.state.as_str()) {
        row.message.clone().or(runtime)
    } else {
        runtime.or_else(|| row.message.clone())
    }
}

/// 404 for the logs and artifacts (`what`) of a run on a remote (argo, airflow) cluster: they
/// stay in its engine.
pub(super) fn not_remote(app: &Shared, row: &RunRow, what: &str) -> Result<(), ApiError> {
    match app.pool.remote(row) {
        Some((place, source)) => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not found",
            format!(
                "run `{}` ran {place}: the server does not serve the {what} of its steps; read them from {source}",
                row.id
            ),
        )),
        None => Ok(()),
    }
}

/// `GET /api/v1/runs/{id}`: the run, its status (the runtime's while it runs) and its steps.
pub async fn get(
    State(app): State<Shared>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let row = find(&app, &p, &id, Role::Viewer)?;
    let state = app.pool.runtime_state().map_err(ApiError::internal)?;
    let rec = state
        .run(&id)
        .map_err(|e| ApiError::internal(e.to_string()))?;
    // A local run's steps from the runtime, an Argo run's from its Workflow's nodes.
    let steps = app.pool.steps(&id).map_err(ApiError::internal)?;
    let status = shown_state(&row, rec.as_ref());
    let retries = app.db(|s| s.retries(&id))?;
    let steps = with_tries(
        steps.iter().map(crate::events::step_json).collect(),
        &state
            .attempt_spans(&id)
            .map_err(|e| ApiError::internal(e.to_string()))?,
    );
    Ok(Json(json!({
        "id": row.id,
        "namespace": row.namespace,
        "workflow": row.workflow,
        "submittedBy": row.submitted_by,
        "submittedAt": row.submitted_at,
        "state": status,
        "startedAt": rec.as_ref().map(|r| r.started_at),
        "finishedAt": rec.as_ref().and_then(|r| r.finished_at),
        "message": shown_message(&row, rec.as_ref()),
        "priority": row.priority,
        "cluster": row.cluster,
        "retries": retries,
        "steps": steps,
    }))
    .into_response())
}

/// Each step object with `tries`: its ended attempts from the runtime's `attempts` table
/// (`{attempt, status, startedAt, finishedAt}`), for the Gantt's segments. A run mirrored from
/// a cluster engine has none: its steps get `[]` and the Gantt draws the step's one bar.
fn with_tries(mut steps: Vec<Value>, spans: &[couler_run::state::AttemptSpan]) -> Vec<Value> {
    for s in &mut steps {
        let tries: Vec<Value> = spans
            .iter()
            .filter(|a| s["node"] == a.node.as_str())
            .map(|a| {
                json!({"attempt": a.attempt, "status": a.status,
                       "startedAt": a.started_at, "finishedAt": a.finished_at})
            })
            .collect();
        s["tries"] = Value::Array(tries);
    }
    steps
}

/// `POST /api/v1/runs/{id}/stop`: a queued run never starts; a running one stops as with
/// `couler stop` (a second request stops its exit handler too).
pub async fn stop(
    State(app): State<Shared>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let row = find(&app, &p, &id, Role::Editor)?;
    let how = match app.pool.stop(&id).map_err(ApiError::internal)? {
        Stop::Dequeued(why) => {
            app.pool.events.run(&row, "Stopped", Some(why));
            "dequeued"
        }
        Stop::Signalled => "signalled",
        Stop::NotActive => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "not running",
                format!("run `{id}` has ended ({})", row.state),
            ));
        }
    };
    Ok(touched(
        &row.namespace,
        &id,
        StatusCode::ACCEPTED,
        json!({"id": id, "stop": how}),
    ))
}

/// `DELETE /api/v1/runs/{id}`: forgets an ended run (its runtime records, logs and work
/// directories too); refused while it is queued or running.
pub async fn delete(
    State(app): State<Shared>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let row = find(&app, &p, &id, Role::Editor)?;
    if row.state == QUEUED || row.state == RUNNING {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "run not ended",
            format!(
                "run `{id}` is {}; stop it first (POST /api/v1/runs/{id}/stop)",
                row.state
            ),
        ));
    }
    app.pool.forget(&id).await.map_err(ApiError::internal)?;
    app.db(|s| s.delete(&id))?;
    Ok(touched(
        &row.namespace,
        &id,
        StatusCode::OK,
        json!({"id": id, "deleted": true}),
    ))
}

/// `POST /api/v1/runs/{id}/resume`: a Failed, Error or Stopped run is queued again and re-run
/// from failure (Succeeded, Skipped and Cached steps kept, as `couler resume`); 409 for a run
/// that is queued, running or Succeeded.
pub async fn resume(
    State(app): State<Shared>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let row = find(&app, &p, &id, Role::Editor)?;
    if let Some((place, _)) = app.pool.remote(&row)
        && row.state != QUEUED
        && row.state != RUNNING
    {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "not resumable",
            format!(
                "run `{id}` ran {place}: resume from failure is not supported there; submit the spec again"
            ),
        ));
    }
    let resumable = ["Failed", "Error", "Stopped"];
    let now = couler_run::state::now();
    if !app.db(|s| s.requeue_for_resume(&id, &resumable, now))? {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "not resumable",
            format!(
                "run `{id}` is {}; only a Failed, Error or Stopped run is resumed",
                row.state
            ),
        ));
    }
    app.pool
        .events
        .run(&row, QUEUED, Some("queued to resume from failure"));
    app.pool.wake();
    Ok(touched(
        &row.namespace,
        &id,
        StatusCode::ACCEPTED,
        json!({"id": id, "state": QUEUED}),
    ))
}
