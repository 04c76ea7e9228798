//! `POST /api/v1/generate`: a workflow spec from a description in natural language, through
//! the pipeline `couler generate` runs (couler-generate: decompose, retrieve, generate,
//! calibrate against the target's compiler) with the model the server was started with
//! (`--generate-model`). Nothing is recorded but the audit entry; the answer carries the spec,
//! its check and every exchange with the model, for the caller's own audit.

use super::{ApiError, Shared, require};
use crate::auth::{Principal, Role};
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use couler_generate::calibrate::TARGETS;
use couler_generate::pipeline::{self, Config};
use couler_model::Choice;
use couler_model::log::Log;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;

/// The most calibration rounds a request may ask for.
pub const MAX_ROUNDS: u32 = 10;

/// The pipeline's generator with the model of `--generate-model`, and a gate: one generation
/// at a time (a local model takes every core; an endpoint's rate limit is shared).
pub struct Generator {
    inner: pipeline::Generator,
    gate: tokio::sync::Semaphore,
}

impl Generator {
    /// The generator asking the model `choice` names.
    pub fn open(choice: &Choice) -> Result<Generator, String> {
        let model = couler_model::open(choice).map_err(|e| e.to_string())?;
        Ok(Generator {
            inner: pipeline::Generator::new(model),
            gate: tokio::sync::Semaphore::new(1),
        })
    }

    /// What the model is, for the startup line.
    pub fn describe(&self) -> String {
        self.inner.describe()
    }

    /// How the Code Lake is ranked, for the startup line.
    pub fn retrieval(&self) -> &str {
        self.inner.retrieval()
    }

    fn run(&self, body: &Body) -> Result<Value, String> {
        let config = Config {
            target: body.target.clone(),
            rounds: body.rounds,
            decompose: body.decompose,
            retrieve: body.retrieve,
            calibrate: body.calibrate,
            top_k: body.top_k,
            file: "generated.yaml".into(),
        };
        let mut log = Log::memory();
        let outcome = self.inner.run(&body.description, &config, &mut log)?;
        Ok(json!({
            "valid": outcome.check.is_valid(),
            "target": body.target,
            "spec": outcome.spec,
            "errors": outcome.check.errors,
            "warnings": outcome.check.warnings,
            "model": self.inner.describe(),
            "exchanges": log.entries(),
        }))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Body {
    description: String,
    #[serde(default = "default_namespace")]
    namespace: String,
    #[serde(default = "default_target")]
    target: String,
    #[serde(default = "default_rounds")]
    rounds: u32,
    #[serde(default = "yes")]
    decompose: bool,
    #[serde(default = "yes")]
    retrieve: bool,
    #[serde(default = "yes")]
    calibrate: bool,
    #[serde(default = "default_top_k")]
    top_k: usize,
}

fn default_namespace() -> String {
    "default".into()
}
fn default_target() -> String {
    "argo".into()
}
fn default_rounds() -> u32 {
    3
}
fn yes() -> bool {
    true
}
fn default_top_k() -> usize {
    3
}

/// `{description, …}` → `{valid, spec, errors, …}`; the caller needs `editor` in `namespace`.
pub async fn generate(
    State(app): State<Shared>,
    Extension(p): Extension<Principal>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let bytes = super::runs::body_bytes(body, app.max_body)?;
    let body: Body = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request("invalid body", format!("the JSON body: {e}")))?;
    require(&p, Role::Editor, &body.namespace, None)?;
    if body.description.trim().is_empty() {
        return Err(ApiError::bad_request(
            "invalid body",
            "`description` is empty: say what the workflow should do, e.g. \"train a model on iris and publish it if accuracy > 0.9\"",
        ));
    }
    if !TARGETS.contains(&body.target.as_str()) {
        return Err(ApiError::bad_request(
            "invalid body",
            format!(
                "`target` is `{}`: give one of {}",
                body.target,
                TARGETS.join(", ")
            ),
        ));
    }
    if body.rounds > MAX_ROUNDS || body.top_k == 0 || body.top_k > 20 {
        return Err(ApiError::bad_request(
            "invalid body",
            format!("`rounds` may be 0 to {MAX_ROUNDS}, `topK` 1 to 20"),
        ));
    }
    let Some(generator) = app.generator.clone() else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "no model",
            "this server asks no model: start it with --generate-model NAME (with --generate-endpoint URL of an OpenAI-compatible API, its key in $OPENAI_API_KEY) or --generate-model local",
        ));
    };
    let _turn = generator
        .gate
        .acquire()
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let asked = Arc::clone(&generator);
    let answer = tokio::task::spawn_blocking(move || asked.run(&body))
        .await
        .map_err(|e| ApiError::internal(format!("the generation failed: {e}")))?;
    match answer {
        Ok(v) => Ok(Json(v).into_response()),
        Err(e) => Err(ApiError::new(
            StatusCode::BAD_GATEWAY,
            "the model failed",
            e,
        )),
    }
}

/// The request body's JSON Schema.
pub fn body_schema() -> Value {
    json!({
        "type": "object",
        "required": ["description"],
        "additionalProperties": false,
        "properties": {
            "description": {"type": "string", "description": "what the workflow should do, in plain words"},
            "namespace": {"type": "string", "default": "default", "description": "the caller needs `editor` here"},
            "target": {"enum": TARGETS, "default": "argo", "description": "the engine the spec must compile for"},
            "rounds": {"type": "integer", "minimum": 0, "maximum": MAX_ROUNDS, "default": 3, "description": "the most calibration rounds"},
            "decompose": {"type": "boolean", "default": true},
            "retrieve": {"type": "boolean", "default": true},
            "calibrate": {"type": "boolean", "default": true},
            "topK": {"type": "integer", "minimum": 1, "maximum": 20, "default": 3, "description": "Code Lake entries retrieved per sub-task"},
        },
    })
}

/// The answer's JSON Schema.
pub fn schema() -> Value {
    let strings = json!({"type": "array", "items": {"type": "string"}});
    json!({
        "type": "object",
        "required": ["valid", "target", "spec", "errors", "warnings", "model", "exchanges"],
        "properties": {
            "valid": {"type": "boolean", "description": "the spec validates and compiles for the target; never run or save an invalid one as if it were valid"},
            "target": {"type": "string"},
            "spec": {"type": "string", "description": "the spec (YAML): the attempt with the fewest errors"},
            "errors": strings.clone(),
            "warnings": strings,
            "model": {"type": "string", "description": "the model asked"},
            "exchanges": {"type": "array", "description": "every prompt and answer, as `couler generate` logs them (FILE.generate.jsonl)", "items": {
                "type": "object",
                "required": ["stage", "round", "messages", "answer", "millis"],
                "properties": {
                    "stage": {"type": "string"},
                    "round": {"type": "integer"},
                    "messages": {"type": "array", "items": {"type": "object"}},
                    "answer": {"type": "string"},
                    "millis": {"type": "integer"},
                },
            }},
        },
    })
}
