//! `POST /api/v1/validate`: a spec checked as `couler validate` checks it (couler-ir's
//! `spec::load`), nothing recorded. The web UI's editor sends its spec here as the user edits
//! (docs/ui.md): the answer carries the located diagnostics, the document as JSON (what the
//! editor's canvas is built from) and a hash of the IR (equal hashes: equal workflows, the
//! editor's round-trip check).

use super::{ApiError, Shared};
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::response::{IntoResponse, Response};
use couler_ir::{Diagnostic, Format, Severity, spec};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// Its path under `/api/v1`: a POST that changes nothing, so the audit log leaves it out.
pub const PATH: &str = "/validate";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    spec: String,
}

/// `{spec}` → `{valid, diagnostics, document, ir}`; 400 only for a body that is not `{spec}`.
pub async fn validate(
    State(app): State<Shared>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let bytes = super::runs::body_bytes(body, app.max_body)?;
    let body: Body = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request("invalid body", format!("the JSON body: {e}")))?;
    Ok(Json(check(&body.spec)).into_response())
}

/// The answer for a spec's text (YAML, or JSON when it starts with `{`).
pub fn check(text: &str) -> Value {
    let format = if text.trim_start().starts_with('{') {
        Format::Json
    } else {
        Format::Yaml
    };
    let (diags, ir) = match spec::load(text, format) {
        Ok((wf, warnings)) => {
            let hash = Sha256::digest(spec::to_json(&wf).as_bytes());
            let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
            (warnings, Some(hex))
        }
        Err(errors) => (errors, None),
    };
    // The document as written, for the editor; `null` where it is not YAML or JSON at all.
    let document = serde_norway::from_str::<serde_norway::Value>(text)
        .ok()
        .and_then(|v| serde_json::to_value(v).ok())
        .unwrap_or(Value::Null);
    json!({
        "valid": ir.is_some(),
        "diagnostics": diags.iter().map(|d| diagnostic(d, text)).collect::<Vec<_>>(),
        "document": document,
        "ir": ir,
    })
}

/// One diagnostic as JSON: `couler validate --output json` gives it so, and so does this route
/// (with `rendered` added).
pub fn diagnostic_json(d: &Diagnostic) -> Value {
    json!({
        "severity": match d.severity { Severity::Error => "error", Severity::Warning => "warning" },
        "message": d.message,
        "path": d.path,
        "line": d.location.map(|l| l.line),
        "column": d.location.map(|l| l.column),
        "help": d.help,
    })
}

fn diagnostic(d: &Diagnostic, text: &str) -> Value {
    let mut v = diagnostic_json(d);
    v["rendered"] = json!(d.render("spec", Some(text)));
    v
}

/// The request body's JSON Schema.
pub fn body_schema() -> Value {
    json!({
        "type": "object",
        "required": ["spec"],
        "additionalProperties": false,
        "properties": {"spec": {"type": "string", "description": "the workflow spec, YAML or JSON text"}},
    })
}

/// The answer's JSON Schema.
pub fn schema() -> Value {
    let nullable = |t: &str| json!({"type": [t, "null"]});
    json!({
        "type": "object",
        "required": ["valid", "diagnostics", "document", "ir"],
        "properties": {
            "valid": {"type": "boolean", "description": "no error: `couler validate` exits 0 on it"},
            "diagnostics": {"type": "array", "items": {
                "type": "object",
                "required": ["severity", "message", "path", "line", "column", "help", "rendered"],
                "properties": {
                    "severity": {"enum": ["error", "warning"]},
                    "message": {"type": "string"},
                    "path": nullable("string"),
                    "line": nullable("integer"),
                    "column": nullable("integer"),
                    "help": nullable("string"),
                    "rendered": {"type": "string", "description": "as the CLI prints it, naming `spec:LINE:COL`"},
                },
            }},
            "document": {"description": "the spec as written, as JSON (null: not YAML or JSON)"},
            "ir": {"type": ["string", "null"], "description": "SHA-256 of the workflow's canonical JSON IR, when valid"},
        },
    })
}
