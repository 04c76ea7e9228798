//! `GET /api/v1/audit`: the audit log, for admins (of the namespaces they administer).

use super::{ApiError, ListQuery, Shared, listing, page};
use crate::auth::{Principal, Role};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::json;

/// `GET /api/v1/audit?namespace=&limit=&continue=`: entries newest first.
pub async fn list(
    State(app): State<Shared>,
    Extension(p): Extension<Principal>,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let l = listing(q, &p, Role::Admin)?;
    let run_filters = [
        ("state", &l.state),
        ("workflow", &l.workflow),
        ("user", &l.user),
        ("q", &l.search),
    ];
    if let Some((name, _)) = run_filters.iter().find(|(_, v)| v.is_some()) {
        return Err(ApiError::bad_request(
            "invalid query",
            format!("`{name}` filters runs, not the audit log"),
        ));
    }
    if l.namespaces.as_ref().is_some_and(Vec::is_empty) {
        return Err(ApiError::new(
            axum::http::StatusCode::FORBIDDEN,
            "forbidden",
            format!("user `{}` is admin in no namespace", p.user),
        ));
    }
    let rows = app.db(|s| s.audit_log(l.namespaces.as_deref(), l.before, l.limit + 1))?;
    let (entries, next) = page(rows, l.limit, |e| e.seq);
    Ok(Json(json!({"entries": entries, "continue": next})).into_response())
}
