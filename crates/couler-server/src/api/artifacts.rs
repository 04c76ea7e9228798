//! `GET /api/v1/runs/{id}/steps/{node}/artifacts` and `…/artifacts/{name}`: a step's output
//! artifacts, listed from its recorded outputs and read from the run's artifact store, streamed.

use super::runs::find;
use super::stream::{self, ChannelWriter};
use super::{ApiError, Shared};
use crate::auth::{Principal, Role};
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use couler_run::RunRecord;
use couler_run::artifacts::{ArtifactKind, ArtifactRef, Location, Store};
use serde_json::json;
use std::collections::BTreeMap;
use std::io::Write;

/// Why `name` cannot name an artifact, or `None`: artifact names are single path segments, so
/// none reaches outside the step's outputs.
pub fn bad_name(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        Some("an artifact name is not empty")
    } else if name.starts_with('/') {
        Some("an artifact name is not an absolute path")
    } else if name.contains('/') || name.contains('\\') {
        Some("an artifact name holds no `/` or `\\`")
    } else if name == "." || name == ".." {
        Some("an artifact name is not `.` or `..`")
    } else if name.chars().any(char::is_control) {
        Some("an artifact name holds no control characters")
    } else {
        None
    }
}

/// The run's runtime record and the output artifacts of its step `node`.
fn outputs(
    app: &Shared,
    id: &str,
    node: &str,
) -> Result<(RunRecord, BTreeMap<String, ArtifactRef>), ApiError> {
    let state = app.pool.runtime_state().map_err(ApiError::internal)?;
    let internal = |e: couler_run::Error| ApiError::internal(e.to_string());
    let missing = || {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not found",
            format!("run `{id}` has no step `{node}` that started"),
        )
    };
    let rec = state.run(id).map_err(internal)?.ok_or_else(missing)?;
    let step = state
        .steps(id)
        .map_err(internal)?
        .into_iter()
        .find(|s| s.node == node)
        .ok_or_else(missing)?;
    let artifacts = step.outputs.map(|o| o.artifacts).unwrap_or_default();
    Ok((rec, artifacts))
}

/// `GET …/artifacts`: `{artifacts: [{name, size, kind, digest}]}`, by name.
pub async fn list(
    State(app): State<Shared>,
    Extension(p): Extension<Principal>,
    Path((id, node)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let row = find(&app, &p, &id, Role::Viewer)?;
    super::runs::not_remote(&app, &row, "artifacts")?;
    let (_, artifacts) = outputs(&app, &id, &node)?;
    let list: Vec<_> = artifacts
        .iter()
        .map(|(name, a)| json!({"name": name, "size": a.size, "kind": kind(a), "digest": a.digest}))
        .collect();
    Ok(Json(json!({"artifacts": list})).into_response())
}

fn kind(a: &ArtifactRef) -> &'static str {
    match a.kind {
        ArtifactKind::File => "file",
        ArtifactKind::Directory => "directory",
    }
}

/// The run's artifact store: the one it recorded, else the state directory's.
async fn store_of(app: &Shared, rec: &RunRecord) -> Result<Store, ApiError> {
    let opened = match &rec.artifact_store_json {
        Some(t) => {
            let l: Location = serde_json::from_str(t).map_err(|e| {
                ApiError::internal(format!("run `{}`'s artifact store: {e}", rec.id))
            })?;
            Store::open_at(&l).await
        }
        None => Store::open(&app.pool.state_dir().join("artifacts")).await,
    };
    opened.map_err(|e| ApiError::internal(e.to_string()))
}

/// `GET …/artifacts/{name}`: a file artifact's bytes.
pub async fn download(
    State(app): State<Shared>,
    Extension(p): Extension<Principal>,
    Path((id, node, name)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    if let Some(rule) = bad_name(&name) {
        return Err(ApiError::bad_request(
            "invalid artifact name",
            format!("`{name}`: {rule}"),
        ));
    }
    let row = find(&app, &p, &id, Role::Viewer)?;
    super::runs::not_remote(&app, &row, "artifacts")?;
    let (rec, artifacts) = outputs(&app, &id, &node)?;
    let a = artifacts.get(&name).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not found",
            format!("step `{node}` of run `{id}` has no output artifact `{name}`"),
        )
    })?;
    if a.kind == ArtifactKind::Directory {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "directory artifact",
            format!("`{name}` is a directory; only file artifacts are served as bytes"),
        ));
    }
    // Fetched (verified against its digest) into a file of the state directory, opened and
    // unlinked at once, then streamed from it.
    let tmp = app.pool.state_dir().join(format!(
        ".download-{}",
        crate::auth::random_hex(8).map_err(ApiError::internal)?
    ));
    let store = store_of(&app, &rec).await?;
    store
        .get(a, &tmp)
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let opened = std::fs::File::open(&tmp);
    let _ = std::fs::remove_file(&tmp);
    let mut file = opened.map_err(|e| ApiError::internal(format!("{}: {e}", tmp.display())))?;
    let (tx, body) = stream::channel();
    tokio::task::spawn_blocking(move || {
        let mut w = ChannelWriter::new(tx);
        match std::io::copy(&mut file, &mut w).and_then(|_| w.flush()) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
            Err(e) => w.fail(e),
        }
    });
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (header::CONTENT_LENGTH, a.size.to_string()),
        ],
        body,
    )
        .into_response())
}
