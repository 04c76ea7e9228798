//! `GET /api/v1/runs/{id}/steps/{node}/logs[?follow=true]`: a step's logs, the bytes `couler
//! logs ID NODE 2>&1` prints (the same reader, `couler_run::logs`), streamed; for a run on an
//! airflow cluster, its task's output as Airflow logged it (`follow` is not applied there).

use super::runs::find;
use super::stream::{self, ChannelWriter};
use super::{ApiError, Shared};
use crate::auth::{Principal, Role};
use axum::Extension;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use couler_run::logs::{self, LogSink, LogTarget};
use std::io::Write;

#[derive(serde::Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct LogsQuery {
    follow: bool,
}

/// Both streams into one body.
struct Body(ChannelWriter);

impl LogSink for Body {
    fn out(&mut self) -> &mut dyn Write {
        &mut self.0
    }
    fn err(&mut self) -> &mut dyn Write {
        &mut self.0
    }
}

pub async fn get(
    State(app): State<Shared>,
    Extension(p): Extension<Principal>,
    Path((id, node)): Path<(String, String)>,
    q: Result<Query<LogsQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::bad_request("invalid query", e.body_text()))?;
    let row = find(&app, &p, &id, Role::Viewer)?;
    if let Some(read) = app.pool.airflow_logs(&row, &node).await {
        return match read {
            Ok(Some(text)) => {
                Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response())
            }
            Ok(None) => Err(no_step(&id, &node)),
            Err(e) => Err(ApiError::new(StatusCode::BAD_GATEWAY, "bad gateway", e)),
        };
    }
    super::runs::not_remote(&app, &row, "logs")?;
    let state = app.pool.runtime_state().map_err(ApiError::internal)?;
    let nodes = match logs::target(&state, &id, &node) {
        Ok(LogTarget::Nodes(n)) => n,
        Ok(LogTarget::NoRun | LogTarget::NoStep) => return Err(no_step(&id, &node)),
        Err(e) => return Err(ApiError::internal(e.to_string())),
    };
    let (tx, body) = stream::channel();
    tokio::task::spawn_blocking(move || {
        let mut sink = Body(ChannelWriter::new(tx));
        match logs::write(&state, &id, &nodes, q.follow, &mut sink) {
            Ok(()) => {
                let _ = sink.0.flush();
            }
            Err(e) if e.reader_gone() => {}
            Err(e) => {
                crate::log(format_args!("run {id}, step {node}: {e}"));
                sink.0.fail(std::io::Error::other(e.to_string()));
            }
        }
    });
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response())
}

fn no_step(id: &str, node: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not found",
        format!("run `{id}` has no step `{node}` that started"),
    )
}
