//! Arguments and inputs between a caller and the template it calls: the plumbing that wrapper
//! templates (`repeat`, `map`, memoized loops) share.

use super::render;
use serde_json::{Map, Value, json};

/// Splits a caller's arguments into a wrapper's inputs and the wrapper's forwarding arguments.
pub(super) fn forward_through(
    params: &[Value],
    artifacts: &[Value],
) -> (Map<String, Value>, Vec<Value>, Vec<Value>) {
    let mut inputs = Map::new();
    let names: Vec<&str> = params.iter().filter_map(|p| p["name"].as_str()).collect();
    if !names.is_empty() {
        inputs.insert(
            "parameters".into(),
            json!(names.iter().map(|n| json!({"name": n})).collect::<Vec<_>>()),
        );
    }
    // An optional argument stays optional through the wrapper.
    let arts: Vec<(&str, bool)> = artifacts
        .iter()
        .filter_map(|a| Some((a["name"].as_str()?, a["optional"] == json!(true))))
        .collect();
    let with_optional = |mut v: Value, optional: bool| {
        if optional {
            v["optional"] = json!(true);
        }
        v
    };
    if !arts.is_empty() {
        inputs.insert(
            "artifacts".into(),
            json!(
                arts.iter()
                    .map(|(n, o)| with_optional(json!({"name": n}), *o))
                    .collect::<Vec<_>>()
            ),
        );
    }
    let inner_params = names
        .iter()
        .map(|n| json!({"name": n, "value": render::input_param(n)}))
        .collect();
    let inner_artifacts = arts
        .iter()
        .map(|(n, o)| {
            with_optional(
                json!({"name": n, "from": format!("{{{{inputs.artifacts.{n}}}}}")}),
                *o,
            )
        })
        .collect();
    (inputs, inner_params, inner_artifacts)
}

pub(super) fn push_input_param(inputs: &mut Map<String, Value>, name: &str) {
    let list = inputs.entry("parameters").or_insert_with(|| json!([]));
    if let Some(a) = list.as_array_mut() {
        a.push(json!({"name": name}));
    }
}

pub(super) fn insert_arguments(
    task: &mut Map<String, Value>,
    params: Vec<Value>,
    artifacts: Vec<Value>,
) {
    insert_lists(task, "arguments", params, artifacts);
}

/// `key: {parameters, artifacts}`, each list only when not empty, `key` only when one is.
pub(super) fn insert_lists(
    m: &mut Map<String, Value>,
    key: &str,
    params: Vec<Value>,
    artifacts: Vec<Value>,
) {
    let mut a = Map::new();
    if !params.is_empty() {
        a.insert("parameters".into(), json!(params));
    }
    if !artifacts.is_empty() {
        a.insert("artifacts".into(), json!(artifacts));
    }
    if !a.is_empty() {
        m.insert(key.into(), Value::Object(a));
    }
}
