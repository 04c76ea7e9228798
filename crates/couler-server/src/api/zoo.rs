//! `GET /api/v1/zoo`: the step zoo's entries, for the editor's palette (docs/zoo.md).

use axum::Json;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// Every entry with its category, typed parameters, inputs, outputs and step body, as
/// `couler zoo list --output json` prints them.
pub async fn list() -> Response {
    Json(couler_ir::zoo::entries()).into_response()
}

/// The answer's JSON Schema.
pub fn schema() -> Value {
    let named = json!({"type": "object", "required": ["name", "path", "description"]});
    json!({
        "type": "array",
        "items": {
            "type": "object",
            "required": ["name", "version", "category", "description", "outputs", "step"],
            "properties": {
                "name": {"type": "string"},
                "version": {"type": "integer"},
                "category": {"enum": ["data", "transform", "train", "evaluate", "select", "publish", "generic"]},
                "description": {"type": "string"},
                "params": {"type": "array", "items": {
                    "type": "object",
                    "required": ["name", "type", "description"],
                    "properties": {
                        "type": {"enum": ["string", "int", "float", "bool", "json"]},
                        "default": {},
                    },
                }},
                "inputs": {"type": "array", "items": named},
                "outputs": {"type": "object", "properties": {
                    "parameters": {"type": "array", "items": named},
                    "artifacts": {"type": "array", "items": named},
                }},
                "step": {"type": "object"},
            },
        },
    })
}
