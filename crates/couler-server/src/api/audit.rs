//! `GET /api/v1/audit`: the audit log, for admins (of the namespaces they administer).

use super::{ApiError, PageQuery, Shared, page, require};
use crate::auth::{Principal, Role};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::json;

#[derive(serde::Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct AuditQuery {
    namespace: Option<String>,
    limit: Option<usize>,
    #[serde(rename = "continue")]
    cont: Option<String>,
}

/// `GET /api/v1/audit?namespace=&limit=&continue=`: entries newest first.
pub async fn list(
    State(app): State<Shared>,
    Extension(p): Extension<Principal>,
    q: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::bad_request("invalid query", e.body_text()))?;
    let (limit, before) = PageQuery {
        limit: q.limit,
        cont: q.cont,
    }
    .read()?;
    let namespaces = match &q.namespace {
        Some(ns) => {
            require(&p, Role::Admin, ns, "namespace")?;
            Some(vec![ns.clone()])
        }
        None => match p.namespaces_with(Role::Admin) {
            Some(ns) if ns.is_empty() => {
                return Err(ApiError::new(
                    axum::http::StatusCode::FORBIDDEN,
                    "forbidden",
                    format!("user `{}` is admin in no namespace", p.user),
                ));
            }
            other => other,
        },
    };
    let rows = app.db(|s| s.audit_log(namespaces.as_deref(), before, limit + 1))?;
    let (entries, next) = page(rows, limit, |e| e.seq);
    Ok(Json(json!({"entries": entries, "continue": next})).into_response())
}
