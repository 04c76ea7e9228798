//! The JSON Schemas (draft 2020-12, as OpenAPI 3.1 uses them) of the API's request and
//! response bodies, for the route table and `/api/v1/openapi.json`.

use crate::store::STATES;
use serde_json::{Value, json};

fn nullable(t: &str) -> Value {
    json!({"type": [t, "null"]})
}

/// `{error, detail}`.
pub fn error() -> Value {
    json!({
        "type": "object",
        "required": ["error", "detail"],
        "properties": {
            "error": {"type": "string", "description": "what went wrong, in a few words"},
            "detail": {"type": "string", "description": "the particulars, naming the place and the fix"},
        },
    })
}

fn state() -> Value {
    json!({"type": "string", "enum": STATES})
}

fn seconds() -> Value {
    json!({"type": ["number", "null"], "description": "seconds since the Unix epoch"})
}

pub fn submit_body() -> Value {
    json!({
        "type": "object",
        "required": ["spec"],
        "additionalProperties": false,
        "properties": {
            "spec": {"type": "string", "description": "the workflow spec, YAML or JSON text"},
            "parameters": {"type": "object", "description": "workflow parameters: a string as given, another JSON value as its JSON text"},
            "namespace": {"type": "string", "default": "default", "description": "a DNS-1123 label"},
        },
    })
}

pub fn submitted() -> Value {
    json!({
        "type": "object",
        "required": ["id", "namespace", "workflow", "state", "warnings"],
        "properties": {
            "id": {"type": "string"},
            "namespace": {"type": "string"},
            "workflow": {"type": "string"},
            "state": {"const": "Queued"},
            "warnings": {"type": "array", "items": {"type": "string"}},
        },
    })
}

fn run_fields() -> serde_json::Map<String, Value> {
    let v = json!({
        "id": {"type": "string"},
        "namespace": {"type": "string"},
        "workflow": {"type": "string"},
        "submittedBy": {"type": "string"},
        "submittedAt": seconds(),
        "state": state(),
        "message": nullable("string"),
        "startedAt": seconds(),
        "finishedAt": seconds(),
        "priority": {"type": "integer"},
        "cluster": {"type": ["string", "null"], "description": "the cluster it was admitted to"},
    });
    match v {
        Value::Object(m) => m,
        _ => serde_json::Map::new(),
    }
}

/// A run as listed.
pub fn run_summary() -> Value {
    json!({"type": "object", "required": ["id", "namespace", "state"], "properties": run_fields()})
}

/// A step (or map instance) as the runtime records it.
pub fn step() -> Value {
    json!({
        "type": "object",
        "required": ["node", "step", "status", "attempts"],
        "properties": {
            "node": {"type": "string", "description": "the step, or a map instance such as `train[2]`"},
            "step": {"type": "string"},
            "status": {"type": "string"},
            "attempts": {"type": "integer"},
            "exitCode": nullable("integer"),
            "startedAt": seconds(),
            "finishedAt": seconds(),
            "message": nullable("string"),
            "outputs": {"type": ["object", "null"], "description": "parameters, result, artifact digests"},
            "peakRssKb": {"type": ["integer", "null"], "description": "the peak resident memory of its last attempt, KiB"},
            "cpuSeconds": {"type": ["number", "null"], "description": "the CPU time of its last attempt"},
            "tries": {"type": "array", "description": "in `GET /runs/{id}`: its ended attempts, from the local runtime (none for a cluster engine's run)", "items": {
                "type": "object",
                "required": ["attempt", "status", "startedAt", "finishedAt"],
                "properties": {"attempt": {"type": "integer"}, "status": {"type": "string"}, "startedAt": {"type": "number"}, "finishedAt": seconds()},
            }},
        },
    })
}

/// `GET /runs/{id}/critical-path`.
pub fn critical_path() -> Value {
    json!({
        "type": "object",
        "required": ["steps", "seconds"],
        "properties": {
            "steps": {"type": "array", "items": {"type": "string"}, "description": "the chain's steps, first to last (the exit handler aside)"},
            "seconds": {"type": "number", "description": "its summed wall time; a running step counts until now, a map step its longest instance"},
        },
    })
}

/// `GET /runs/{id}/compiled`.
pub fn compiled() -> Value {
    json!({
        "type": "object",
        "required": ["target", "files", "warnings", "refused"],
        "properties": {
            "target": {"type": "string"},
            "files": {"type": "object", "additionalProperties": {"type": "string"}, "description": "file name → text, as `couler compile --output DIR` writes them"},
            "warnings": {"type": "array", "items": {"type": "string"}},
            "refused": {"type": ["string", "null"], "description": "why the engine cannot run the workflow (naming the step and the engines that can); `files` is then empty"},
        },
    })
}

/// `GET /runs/{id}/history`.
pub fn history() -> Value {
    json!({
        "type": "object",
        "required": ["workflow", "runs", "continue"],
        "properties": {
            "workflow": {"type": "string"},
            "runs": {"type": "array", "items": {
                "type": "object",
                "required": ["id", "state", "submittedAt", "params", "steps", "outputs"],
                "properties": {
                    "id": {"type": "string"},
                    "state": state(),
                    "submittedAt": seconds(),
                    "params": {"type": "object", "additionalProperties": {"type": "string"}},
                    "steps": {"type": "object", "description": "step → {seconds, peakRssKb} of its ended attempt (a map step: its largest instance's)"},
                    "outputs": {"type": "object", "description": "step or map instance → {parameters, result}"},
                },
            }},
            "continue": {"type": ["string", "null"], "description": "pass as `continue` for the next page"},
        },
    })
}

/// `GET /me`.
pub fn me() -> Value {
    json!({
        "type": "object",
        "required": ["user", "roles", "auth"],
        "properties": {
            "user": {"type": "string"},
            "roles": {"type": "array", "items": {
                "type": "object",
                "properties": {
                    "namespace": {"type": "string", "description": "a namespace, or `*` for every one"},
                    "role": {"enum": ["viewer", "editor", "admin"]},
                },
            }},
            "auth": {"enum": ["token", "none"]},
        },
    })
}

/// `GET /runs/{id}/workflow`.
pub fn run_workflow() -> Value {
    json!({
        "type": "object",
        "required": ["workflow", "yaml", "nodes", "edges"],
        "properties": {
            "workflow": {"type": "string"},
            "yaml": {"type": "string", "description": "the stored workflow, as `couler fmt` prints it"},
            "nodes": {"type": "array", "items": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "kind": {"enum": ["container", "script", "resource", "job", "workflow", "suspend"]},
                    "onExit": {"type": "boolean", "description": "a step of the exit handler"},
                    "map": {"type": "boolean", "description": "fans out into instances `NAME[i]`"},
                    "inputs": {"type": "object", "description": "its declared inputs, as the spec writes them"},
                },
            }},
            "edges": {"type": "array", "items": {
                "type": "object",
                "properties": {"from": {"type": "string"}, "to": {"type": "string"}},
            }},
        },
    })
}

/// A run with its steps.
pub fn run() -> Value {
    let mut props = run_fields();
    props.insert(
        "retries".into(),
        json!({"type": "array", "description": "automatic retries, oldest first", "items": {
            "type": "object",
            "properties": {
                "attempt": {"type": "integer"},
                "at": seconds(),
                "node": {"type": "string"},
                "pattern": {"type": "string"},
                "delaySecs": {"type": "number"},
            },
        }}),
    );
    props.insert("steps".into(), json!({"type": "array", "items": step()}));
    json!({"type": "object", "required": ["id", "namespace", "state", "steps"], "properties": props})
}

fn page(field: &str, item: Value) -> Value {
    json!({
        "type": "object",
        "required": [field, "continue"],
        "properties": {
            field: {"type": "array", "items": item},
            "continue": {"type": ["string", "null"], "description": "pass as `continue` for the next page; null on the last"},
        },
    })
}

pub fn run_list() -> Value {
    page("runs", run_summary())
}

pub fn audit_list() -> Value {
    page(
        "entries",
        json!({
            "type": "object",
            "properties": {
                "at": seconds(),
                "user": nullable("string"),
                "method": {"type": "string"},
                "path": {"type": "string"},
                "namespace": nullable("string"),
                "run": nullable("string"),
                "status": {"type": "integer"},
                "outcome": {"type": "string"},
            },
        }),
    )
}

pub fn stopped() -> Value {
    json!({
        "type": "object",
        "required": ["id", "stop"],
        "properties": {"id": {"type": "string"}, "stop": {"enum": ["dequeued", "signalled"]}},
    })
}

pub fn resumed() -> Value {
    json!({
        "type": "object",
        "required": ["id", "state"],
        "properties": {"id": {"type": "string"}, "state": {"const": "Queued"}},
    })
}

pub fn deleted() -> Value {
    json!({
        "type": "object",
        "required": ["id", "deleted"],
        "properties": {"id": {"type": "string"}, "deleted": {"const": true}},
    })
}

pub fn artifact_list() -> Value {
    json!({
        "type": "object",
        "required": ["artifacts"],
        "properties": {"artifacts": {"type": "array", "items": {
            "type": "object",
            "required": ["name", "size"],
            "properties": {
                "name": {"type": "string"},
                "size": {"type": "integer", "description": "bytes (a directory: the sum of its files')"},
                "kind": {"enum": ["file", "directory"]},
                "digest": {"type": "string", "description": "sha256:HEX"},
            },
        }}},
    })
}

pub fn health() -> Value {
    json!({"type": "object", "required": ["status"], "properties": {"status": {"const": "ok"}}})
}

/// The OpenAPI document itself.
pub fn openapi() -> Value {
    json!({"type": "object", "required": ["openapi", "info", "paths"]})
}
