//! Argo's own checks of an emitted document, shared by the Argo test files: its JSON Schema
//! (from `../shared`, skipped with a message when absent) and the semantic lint.

use couler_backends::argo;
use serde_json::Value;
use std::sync::OnceLock;

/// Argo's JSON Schema, when `../shared` has it.
fn schema() -> Option<&'static jsonschema::Validator> {
    static V: OnceLock<Option<jsonschema::Validator>> = OnceLock::new();
    V.get_or_init(|| {
        let path = super::repo().join("../shared/schemas/argo/schema-v4.1.2.json");
        let Ok(text) = std::fs::read_to_string(&path) else {
            println!("skipping JSON Schema checks: {} is absent", path.display());
            return None;
        };
        let schema: Value = serde_json::from_str(&text).unwrap();
        Some(jsonschema::validator_for(&schema).expect("Argo's schema compiles"))
    })
    .as_ref()
}

/// Schema + lint checks of one emitted document.
pub fn check_document(name: &str, yaml: &str) {
    let doc: Value = serde_norway::from_str(yaml).unwrap();
    let problems = argo::lint::lint(&doc);
    assert!(problems.is_empty(), "{name}: lint: {problems:#?}\n{yaml}");
    if let Some(v) = schema() {
        let errors: Vec<String> = v
            .iter_errors(&doc)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{name}: schema: {errors:#?}");
    }
}
