//! The route table: every route of the server with its method, path, handler, summary, the
//! role it needs, its parameters, request and response bodies (JSON Schema) and error statuses.
//! The router is built from it ([`router`]) and so is the OpenAPI 3.1 document
//! (`GET /api/v1/openapi.json`, [`openapi`]) and docs/server.md's API table
//! ([`markdown_table`]): a route cannot exist undocumented.

use super::{
    Shared, artifacts, audit, compiled, events, generate, guard, history, logs, ops, runs, schemas,
    timeline, ui, validate, zoo,
};
use crate::auth::Role;
use axum::extract::DefaultBodyLimit;
use axum::handler::Handler;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter, on};
use axum::{Json, Router};
use serde_json::{Map, Value, json};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verb {
    Get,
    Post,
    Delete,
}

impl Verb {
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "GET",
            Verb::Post => "POST",
            Verb::Delete => "DELETE",
        }
    }
    fn filter(self) -> MethodFilter {
        match self {
            Verb::Get => MethodFilter::GET,
            Verb::Post => MethodFilter::POST,
            Verb::Delete => MethodFilter::DELETE,
        }
    }
}

/// What a successful answer carries.
pub enum Answer {
    /// JSON of this schema.
    Json(Value),
    /// Bytes of this media type, described.
    Bytes(&'static str, &'static str),
}

/// A query parameter.
pub struct Query {
    pub name: &'static str,
    pub schema: Value,
    pub description: &'static str,
}

/// One route.
pub struct Route {
    pub verb: Verb,
    /// As axum and OpenAPI both write it: `/api/v1/runs/{id}`.
    pub path: &'static str,
    /// The OpenAPI `operationId`.
    pub id: &'static str,
    pub summary: &'static str,
    /// The role needed (in the namespace concerned); `None`: no token needed.
    pub role: Option<Role>,
    pub query: Vec<Query>,
    /// The JSON request body's schema.
    pub body: Option<Value>,
    /// The success status and what it carries.
    pub ok: (u16, Answer),
    /// The error statuses besides 401 and 429 (every authenticated route) and 500 (every route).
    pub errors: &'static [u16],
    handler: MethodRouter<Shared>,
}

fn route<H, T>(
    verb: Verb,
    path: &'static str,
    id: &'static str,
    summary: &'static str,
    role: Option<Role>,
    handler: H,
) -> Route
where
    H: Handler<T, Shared>,
    T: 'static,
{
    Route {
        verb,
        path,
        id,
        summary,
        role,
        query: Vec::new(),
        body: None,
        ok: (200, Answer::Json(json!({"type": "object"}))),
        errors: &[],
        handler: on(verb.filter(), handler),
    }
}

impl Route {
    fn query(mut self, name: &'static str, schema: Value, description: &'static str) -> Route {
        self.query.push(Query {
            name,
            schema,
            description,
        });
        self
    }
    fn body(mut self, schema: Value) -> Route {
        self.body = Some(schema);
        self
    }
    fn ok(mut self, status: u16, answer: Answer) -> Route {
        self.ok = (status, answer);
        self
    }
    fn errors(mut self, errors: &'static [u16]) -> Route {
        self.errors = errors;
        self
    }

    /// Every error status it may answer, ascending.
    pub fn error_statuses(&self) -> Vec<u16> {
        let mut all = self.errors.to_vec();
        if self.role.is_some() {
            all.extend([401, 429]);
        }
        all.push(500);
        all.sort_unstable();
        all.dedup();
        all
    }

    /// The names of its path parameters (`{id}` …), in order.
    pub fn path_params(&self) -> Vec<&'static str> {
        self.path
            .split('/')
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
            .collect()
    }
}

const VIEWER: Option<Role> = Some(Role::Viewer);
const EDITOR: Option<Role> = Some(Role::Editor);
const ADMIN: Option<Role> = Some(Role::Admin);
const RUNS: &str = "/api/v1/runs";

fn list_query(r: Route) -> Route {
    r.query("namespace", json!({"type": "string"}), "only this namespace")
        .query(
            "limit",
            json!({"type": "integer", "minimum": 1, "maximum": super::MAX_LIMIT, "default": super::DEFAULT_LIMIT}),
            "the page size",
        )
        .query(
            "continue",
            json!({"type": "string"}),
            "the previous page's `continue`, as it was",
        )
}

/// Every route of the server.
pub fn table() -> Vec<Route> {
    use Verb::{Delete, Get, Post};
    let sse = Answer::Bytes(
        "text/event-stream",
        "server-sent events: `event: run` / `event: step` / `event: lagged`, `data:` one JSON object",
    );
    vec![
        route(
            Post,
            RUNS,
            "submitRun",
            "Submit a workflow run",
            EDITOR,
            runs::submit,
        )
        .body(schemas::submit_body())
        .ok(201, Answer::Json(schemas::submitted()))
        .errors(&[400, 403, 413, 422]),
        list_query(route(
            Get,
            RUNS,
            "listRuns",
            "List runs, newest first",
            VIEWER,
            runs::list,
        ))
        .query(
            "state",
            json!({"enum": crate::store::STATES}),
            "only runs in this state",
        )
        .query(
            "workflow",
            json!({"type": "string"}),
            "only runs of this workflow",
        )
        .query(
            "user",
            json!({"type": "string"}),
            "only runs this user submitted",
        )
        .query(
            "q",
            json!({"type": "string"}),
            "only runs whose id, workflow or submitter holds this text (ASCII letters in either case)",
        )
        .ok(200, Answer::Json(schemas::run_list()))
        .errors(&[400, 403]),
        route(
            Get,
            "/api/v1/runs/{id}",
            "getRun",
            "A run and its steps",
            VIEWER,
            runs::get,
        )
        .ok(200, Answer::Json(schemas::run()))
        .errors(&[404]),
        route(
            Get,
            "/api/v1/runs/{id}/workflow",
            "runWorkflow",
            "A run's workflow: its YAML, steps and dependency edges",
            VIEWER,
            ui::workflow,
        )
        .ok(200, Answer::Json(schemas::run_workflow()))
        .errors(&[404]),
        route(
            Get,
            "/api/v1/runs/{id}/critical-path",
            "runCriticalPath",
            "The chain of a run's steps that took longest, by their actual durations",
            VIEWER,
            timeline::critical_path,
        )
        .ok(200, Answer::Json(schemas::critical_path()))
        .errors(&[404]),
        route(
            Get,
            "/api/v1/runs/{id}/compiled",
            "compileRun",
            "A run's workflow compiled for an engine, as `couler compile` writes it",
            VIEWER,
            compiled::compiled,
        )
        .query(
            "target",
            json!({"enum": compiled::TARGETS}),
            "the engine (required)",
        )
        .ok(200, Answer::Json(schemas::compiled()))
        .errors(&[400, 404]),
        route(
            Get,
            "/api/v1/runs/{id}/history",
            "runHistory",
            "Runs of the run's workflow in its namespace, newest first: params, each step's duration, peak memory and outputs",
            VIEWER,
            history::history,
        )
        .query(
            "limit",
            json!({"type": "integer", "minimum": 1, "maximum": history::MAX_RUNS, "default": history::DEFAULT_RUNS}),
            "the page size",
        )
        .query(
            "continue",
            json!({"type": "string"}),
            "the previous page's `continue`, as it was",
        )
        .ok(200, Answer::Json(schemas::history()))
        .errors(&[400, 404]),
        route(
            Delete,
            "/api/v1/runs/{id}",
            "deleteRun",
            "Forget an ended run",
            EDITOR,
            runs::delete,
        )
        .ok(200, Answer::Json(schemas::deleted()))
        .errors(&[403, 404, 409]),
        route(
            Post,
            "/api/v1/runs/{id}/stop",
            "stopRun",
            "Stop a queued or running run",
            EDITOR,
            runs::stop,
        )
        .ok(202, Answer::Json(schemas::stopped()))
        .errors(&[403, 404, 409]),
        route(
            Post,
            "/api/v1/runs/{id}/resume",
            "resumeRun",
            "Queue a Failed, Error or Stopped run to resume from failure",
            EDITOR,
            runs::resume,
        )
        .ok(202, Answer::Json(schemas::resumed()))
        .errors(&[403, 404, 409]),
        route(
            Get,
            "/api/v1/runs/{id}/steps/{node}/logs",
            "stepLogs",
            "A step's logs, as `couler logs ID NODE 2>&1` prints them",
            VIEWER,
            logs::get,
        )
        .query(
            "follow",
            json!({"type": "boolean", "default": false}),
            "stream until the step has ended",
        )
        .ok(
            200,
            Answer::Bytes(
                "text/plain; charset=utf-8",
                "the step's standard output, then its standard error",
            ),
        )
        .errors(&[400, 404]),
        route(
            Get,
            "/api/v1/runs/{id}/steps/{node}/artifacts",
            "listArtifacts",
            "A step's output artifacts",
            VIEWER,
            artifacts::list,
        )
        .ok(200, Answer::Json(schemas::artifact_list()))
        .errors(&[404]),
        route(
            Get,
            "/api/v1/runs/{id}/steps/{node}/artifacts/{name}",
            "getArtifact",
            "A file artifact's bytes",
            VIEWER,
            artifacts::download,
        )
        .ok(
            200,
            Answer::Bytes("application/octet-stream", "the artifact's bytes"),
        )
        .errors(&[400, 404, 409]),
        route(
            Get,
            "/api/v1/runs/{id}/events",
            "runEvents",
            "A run's events, from its current state until it ends",
            VIEWER,
            events::of_run,
        )
        .ok(200, sse)
        .errors(&[404]),
        route(
            Get,
            "/api/v1/events",
            "events",
            "Events of every run the caller may view",
            VIEWER,
            events::all,
        )
        .ok(
            200,
            Answer::Bytes("text/event-stream", "server-sent events, as for a run's"),
        ),
        route(
            Get,
            "/api/v1/me",
            "me",
            "The caller: user, roles per namespace, auth mode (any token)",
            VIEWER,
            ui::me,
        )
        .ok(200, Answer::Json(schemas::me())),
        list_query(route(
            Get,
            "/api/v1/audit",
            "listAudit",
            "The audit log, newest first",
            ADMIN,
            audit::list,
        ))
        .ok(200, Answer::Json(schemas::audit_list()))
        .errors(&[400, 403]),
        route(
            Get,
            "/api/v1/openapi.json",
            "openapi",
            "This document",
            None,
            openapi_handler,
        )
        .ok(200, Answer::Json(schemas::openapi())),
        route(
            Get,
            "/api/v1/zoo",
            "listZoo",
            "The step zoo: templates a spec uses with `uses: zoo/NAME@VERSION`",
            VIEWER,
            zoo::list,
        )
        .ok(200, Answer::Json(zoo::schema())),
        route(
            Post,
            "/api/v1/validate",
            "validateSpec",
            "Check a spec as `couler validate` does (nothing recorded): located diagnostics, the document as JSON, the IR's hash",
            VIEWER,
            validate::validate,
        )
        .body(validate::body_schema())
        .ok(200, Answer::Json(validate::schema()))
        .errors(&[400, 413]),
        route(
            Post,
            "/api/v1/generate",
            "generateSpec",
            "Write a spec from a description in natural language (`couler generate`'s pipeline, with the model of --generate-model); every exchange with the model comes back",
            EDITOR,
            generate::generate,
        )
        .body(generate::body_schema())
        .ok(200, Answer::Json(generate::schema()))
        .errors(&[400, 403, 413, 502, 503]),
        route(
            Get,
            "/healthz",
            "healthz",
            "The server answers and its database reads",
            None,
            ops::healthz,
        )
        .ok(200, Answer::Json(schemas::health())),
        route(
            Get,
            "/metrics",
            "metrics",
            "Prometheus metrics",
            None,
            ops::metrics,
        )
        .ok(
            200,
            Answer::Bytes("text/plain; version=0.0.4", "Prometheus text format"),
        ),
    ]
}

/// The router: the table's routes, the authenticated ones behind the guard.
pub fn router(app: Shared) -> Router {
    let guard = middleware::from_fn_with_state(app.clone(), guard);
    let mut router = Router::new();
    for r in table() {
        let handler = match r.role {
            Some(_) => r.handler.layer(guard.clone()),
            None => r.handler,
        };
        router = router.route(r.path, handler);
    }
    router
        .layer(DefaultBodyLimit::max(app.max_body))
        .fallback(crate::web::fallback)
        .with_state(app)
}

async fn openapi_handler() -> Response {
    Json(openapi()).into_response()
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "created",
        202 => "accepted",
        400 => "bad input: `detail` names it and the fix",
        401 => "no token, or one the server does not know",
        403 => "the caller's role is too low in the namespace",
        404 => "no such run, step or artifact (or one in a namespace where the caller has no role)",
        409 => "the run's state forbids it",
        413 => "the body is over --max-body-bytes",
        422 => "no cluster or quota of the server's configuration can ever hold the run",
        502 => {
            "the model failed: unreachable, refused, or answers that never parsed (`detail` says which)"
        }
        503 => "the server was started without a model (--generate-model)",
        429 => "over the user's --rate-limit: `Retry-After` says when to try again",
        _ => "the server's own failure",
    }
}

fn operation(r: &Route) -> Value {
    let mut params: Vec<Value> = r
        .path_params()
        .into_iter()
        .map(|name| {
            json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"},
                   "description": path_param(name)})
        })
        .collect();
    params.extend(r.query.iter().map(|q| {
        json!({"name": q.name, "in": "query", "required": false, "schema": q.schema,
               "description": q.description})
    }));
    let content = match &r.ok.1 {
        Answer::Json(schema) => json!({"application/json": {"schema": schema}}),
        Answer::Bytes(media, what) => {
            json!({media.to_string(): {"schema": {"type": "string", "description": what}}})
        }
    };
    let mut responses = Map::new();
    responses.insert(
        r.ok.0.to_string(),
        json!({"description": reason(r.ok.0), "content": content}),
    );
    for s in r.error_statuses() {
        responses.insert(
            s.to_string(),
            json!({"description": reason(s), "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}),
        );
    }
    let mut op = json!({
        "operationId": r.id,
        "summary": r.summary,
        "parameters": params,
        "responses": responses,
        "security": match r.role { Some(_) => json!([{"bearer": []}]), None => json!([]) },
        "x-couler-role": r.role.map(Role::as_str),
    });
    if let Some(b) = &r.body {
        op["requestBody"] =
            json!({"required": true, "content": {"application/json": {"schema": b}}});
    }
    op
}

fn path_param(name: &str) -> &'static str {
    match name {
        "id" => "the run's id",
        "node" => "a step, or a map instance such as `train[2]`",
        "name" => "an output artifact's name",
        _ => "",
    }
}

/// The OpenAPI 3.1 document of [`table`].
pub fn openapi() -> Value {
    let mut paths = Map::new();
    for r in table() {
        let item = paths.entry(r.path).or_insert_with(|| json!({}));
        item[r.verb.as_str().to_ascii_lowercase()] = operation(&r);
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Couler server API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "docs/server.md. Errors are `{error, detail}`. Roles hold per namespace: viewer < editor < admin.",
        },
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Error": schemas::error()},
        },
    })
}

/// docs/server.md's table of routes.
pub fn markdown_table() -> String {
    let mut out =
        String::from("| Method | Path | Role | Answers | What |\n|---|---|---|---|---|\n");
    for r in table() {
        let errors: Vec<String> = r.error_statuses().iter().map(u16::to_string).collect();
        out.push_str(&format!(
            "| `{}` | `{}` | {} | {}; {} | {} |\n",
            r.verb.as_str(),
            r.path,
            r.role.map_or("none (no token)", Role::as_str),
            r.ok.0,
            errors.join(", "),
            r.summary.replace('|', "\\|"),
        ));
    }
    out
}
