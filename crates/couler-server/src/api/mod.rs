//! The HTTP API (`/api/v1`, JSON), `/healthz` and `/metrics`: the router, the error shape
//! (`{error, detail}` with its status code) and the guard every `/api/v1` request passes
//! (authentication, the per-user rate limit, and an audit entry for each mutating request,
//! whatever its outcome).

mod artifacts;
mod audit;
mod compiled;
mod events;
pub mod generate;
mod history;
pub mod limit;
mod logs;
mod ops;
pub mod routes;
mod runs;
mod schemas;
mod stream;
mod timeline;
mod ui;
pub mod validate;
mod zoo;

pub use routes::router;

use crate::auth::{self, Principal, Role};
use crate::pool::Pool;
use crate::store::{AuditEntry, Store};
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::sync::Arc;

/// How requests are authenticated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthMode {
    /// Bearer tokens (`couler server token create`).
    Token,
    /// Everyone is `anonymous`, admin everywhere: only on loopback.
    None,
}

/// Where the JSON API lives.
pub const API_PREFIX: &str = "/api/v1";

/// What every handler shares.
pub struct App {
    pub store: Arc<dyn Store>,
    pub pool: Arc<Pool>,
    pub auth: AuthMode,
    pub max_body: usize,
    /// `--rate-limit`: requests a second per user.
    pub limiter: limit::Limiter,
    /// `--generate-model`: what `POST /api/v1/generate` asks (`None`: it answers 503).
    pub generator: Option<Arc<generate::Generator>>,
}

pub type Shared = Arc<App>;

impl App {
    /// A store call, its failure an internal error. The one place store calls leave the
    /// handlers. It runs on the handler's thread: SQLite answers in microseconds, and the
    /// PostgreSQL store hands the call to its own thread and waits (store/postgres/thread.rs).
    fn db<T>(&self, f: impl FnOnce(&dyn Store) -> crate::store::Result<T>) -> Result<T, ApiError> {
        f(self.store.as_ref()).map_err(|e| ApiError::internal(e.to_string()))
    }
}

/// An error answer: `{"error": …, "detail": …}` with its status.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub error: String,
    pub detail: String,
}

impl ApiError {
    pub fn new(status: StatusCode, error: &str, detail: impl Into<String>) -> ApiError {
        ApiError {
            status,
            error: error.to_string(),
            detail: detail.into(),
        }
    }
    pub fn bad_request(error: &str, detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, error, detail)
    }
    pub fn internal(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error", detail)
    }
    fn not_found(what: &str) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not found", what)
    }
    fn forbidden(p: &Principal, role: Role, namespace: &str) -> ApiError {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!(
                "user `{}` needs the {} role in namespace `{namespace}`",
                p.user,
                role.as_str()
            ),
        )
    }
}

/// What the audit log records of an error: its text.
#[derive(Clone)]
struct Outcome(String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let outcome = Outcome(format!("{}: {}", self.error, self.detail));
        let mut r = (
            self.status,
            Json(json!({"error": self.error, "detail": self.detail})),
        )
            .into_response();
        r.extensions_mut().insert(outcome);
        r
    }
}

/// What a handler tells the audit log about a mutation: the namespace and run it touched.
#[derive(Clone, Default)]
pub struct Touched {
    pub namespace: Option<String>,
    pub run: Option<String>,
}

/// Requires `role` in `namespace`, else 403; but with `hidden`, a user with no role at all
/// there gets 404 `hidden` (a run that is not theirs to see does not exist for them).
fn require(
    p: &Principal,
    role: Role,
    namespace: &str,
    hidden: Option<&str>,
) -> Result<(), ApiError> {
    match (p.role_in(namespace), hidden) {
        (Some(r), _) if r >= role => Ok(()),
        (None, Some(what)) => Err(ApiError::not_found(what)),
        _ => Err(ApiError::forbidden(p, role, namespace)),
    }
}

/// Authenticates every `/api/v1` request and appends an audit entry for each mutating one
/// (refused ones included).
pub(super) async fn guard(State(app): State<Shared>, mut req: Request, next: Next) -> Response {
    let method = req.method().clone();
    // Recorded under `/api/v1` as it always was: `/runs/ID/stop`.
    let full = req.uri().path();
    let path = full.strip_prefix(API_PREFIX).unwrap_or(full).to_string();
    // Validating changes nothing: it is left out of the audit log, as a GET is.
    let mutating = !matches!(method, Method::GET | Method::HEAD) && path != validate::PATH;
    let principal = match app.auth {
        AuthMode::None => Ok(Principal::anonymous()),
        AuthMode::Token => {
            let header = req
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok());
            auth::authenticate(app.store.as_ref(), header)
        }
    };
    let (user, response) = match principal {
        Err(why) => (
            None,
            ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", why).into_response(),
        ),
        Ok(p) => {
            let user = p.user.clone();
            match app.limiter.take(&user, std::time::Instant::now()) {
                Ok(()) => {
                    req.extensions_mut().insert(p);
                    (Some(user), next.run(req).await)
                }
                Err(limited) => {
                    let wait = limit::retry_after(&limited);
                    let mut r = ApiError::from(limited).into_response();
                    if let Ok(v) = header::HeaderValue::from_str(&wait) {
                        r.headers_mut().insert(header::RETRY_AFTER, v);
                    }
                    (Some(user), r)
                }
            }
        }
    };
    if mutating {
        let touched = response
            .extensions()
            .get::<Touched>()
            .cloned()
            .unwrap_or_default();
        let outcome = response
            .extensions()
            .get::<Outcome>()
            .map_or_else(|| "ok".to_string(), |o| o.0.clone());
        let entry = AuditEntry {
            seq: 0,
            at: couler_run::state::now(),
            user,
            method: method.to_string(),
            path,
            namespace: touched.namespace,
            run: touched.run,
            status: response.status().as_u16(),
            outcome,
        };
        if let Err(e) = app.store.audit(&entry) {
            crate::log(format_args!("{e} ({} {})", entry.method, entry.path));
            return ApiError::internal(format!(
                "the request was carried out but its audit entry could not be written: {e}"
            ))
            .into_response();
        }
    }
    response
}

/// The query of a list (`GET /runs`, `GET /audit`): filters and a page, newest first.
#[derive(serde::Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct ListQuery {
    state: Option<String>,
    namespace: Option<String>,
    limit: Option<usize>,
    #[serde(rename = "continue")]
    cont: Option<String>,
    workflow: Option<String>,
    user: Option<String>,
    q: Option<String>,
}

/// The most entries a page holds, and the default.
pub const MAX_LIMIT: usize = 500;
pub const DEFAULT_LIMIT: usize = 50;

/// A list query, read.
pub struct Listing {
    pub state: Option<String>,
    /// The namespaces to list: `None` for every one.
    pub namespaces: Option<Vec<String>>,
    /// The page size (1..=MAX_LIMIT).
    pub limit: usize,
    /// The position to continue before.
    pub before: Option<i64>,
    /// Filters of runs beside `state` (`workflow`, `user`, `q`); an empty one is none.
    pub workflow: Option<String>,
    pub user: Option<String>,
    pub search: Option<String>,
}

/// A page size asked for (`?limit=`), `default` when none, refused outside 1..=`max`.
fn page_size(limit: Option<usize>, default: usize, max: usize) -> Result<usize, ApiError> {
    let limit = limit.unwrap_or(default);
    if limit == 0 || limit > max {
        return Err(ApiError::bad_request(
            "invalid limit",
            format!("limit must be 1 to {max}"),
        ));
    }
    Ok(limit)
}

/// Reads a list query for `p`, who needs `role` in the namespace named, or lists the
/// namespaces where they have it.
fn listing(
    q: Result<Query<ListQuery>, QueryRejection>,
    p: &Principal,
    role: Role,
) -> Result<Listing, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::bad_request("invalid query", e.body_text()))?;
    let limit = page_size(q.limit, DEFAULT_LIMIT, MAX_LIMIT)?;
    let before = match &q.cont {
        None => None,
        Some(t) => Some(t.parse::<i64>().map_err(|_| {
            ApiError::bad_request(
                "invalid continue token",
                "pass the `continue` value of the previous page as it was",
            )
        })?),
    };
    let namespaces = match &q.namespace {
        Some(ns) => {
            require(p, role, ns, None)?;
            Some(vec![ns.clone()])
        }
        None => p.namespaces_with(role),
    };
    let given = |v: Option<String>| v.filter(|v| !v.is_empty());
    Ok(Listing {
        state: q.state,
        namespaces,
        limit,
        before,
        workflow: given(q.workflow),
        user: given(q.user),
        search: given(q.q),
    })
}

/// A page of `items` fetched with one more than `limit`: the items and the continue token
/// (the last item's position), when there are more.
fn page<T>(mut items: Vec<T>, limit: usize, seq: impl Fn(&T) -> i64) -> (Vec<T>, Option<String>) {
    if items.len() > limit {
        items.truncate(limit);
        let next = items.last().map(|i| seq(i).to_string());
        (items, next)
    } else {
        (items, None)
    }
}
