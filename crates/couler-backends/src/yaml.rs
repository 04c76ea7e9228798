//! YAML printing of engine documents. Every backend that writes YAML builds its documents as
//! `serde_json::Value` trees (never text, so quoting and escaping are by construction) and
//! prints them here: mapping keys in the engine's conventional order first, the rest
//! alphabetically, so equal documents print equal bytes.

use crate::CompileError;
use serde_json::Value;

/// Prints `doc` as YAML, the keys of every mapping in the order of `first`, then the others
/// alphabetically; `what` names the document in the error (`the Argo document`).
pub fn print(doc: &Value, first: &[&str], what: &str) -> Result<String, CompileError> {
    serde_norway::to_string(&ordered(doc, first))
        .map_err(|e| CompileError::Invalid(format!("cannot print {what}: {e}")))
}

/// The document as an insertion-ordered YAML value with its keys in order.
fn ordered(v: &Value, first: &[&str]) -> serde_norway::Value {
    use serde_norway::Value as Y;
    match v {
        Value::Null => Y::Null,
        Value::Bool(b) => Y::Bool(*b),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Y::Number(i.into())
            } else if let Some(u) = n.as_u64() {
                Y::Number(u.into())
            } else {
                Y::Number(n.as_f64().unwrap_or_default().into())
            }
        }
        Value::String(s) => Y::String(s.clone()),
        Value::Array(a) => Y::Sequence(a.iter().map(|x| ordered(x, first)).collect()),
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            let rank = |k: &str| first.iter().position(|x| *x == k).unwrap_or(first.len());
            keys.sort_by(|a, b| rank(a).cmp(&rank(b)).then_with(|| a.cmp(b)));
            let mut out = serde_norway::Mapping::new();
            for k in keys {
                out.insert(Y::String(k.clone()), ordered(&m[k], first));
            }
            Y::Mapping(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_in_the_given_order_then_alphabetically() {
        let doc = json!({"b": 1, "spec": {"z": [{"y": 1, "name": "n"}]}, "a": null, "kind": "K"});
        let text = print(&doc, &["kind", "spec", "name"], "the document").unwrap();
        assert_eq!(
            text,
            "kind: K\nspec:\n  z:\n  - name: n\n    y: 1\na: null\nb: 1\n"
        );
    }
}
