//! YAML printing of engine documents. Every backend that writes YAML builds its documents as
//! `serde_json::Value` trees (never text, so quoting and escaping are by construction) and
//! prints them here: mapping keys in the engine's conventional order first, the rest
//! alphabetically, so equal documents print equal bytes.

use crate::CompileError;
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;

/// Prints `doc` as YAML, the keys of every mapping in the order of `first`, then the others
/// alphabetically; `what` names the document in the error (`the Argo document`).
pub fn print(doc: &Value, first: &[&str], what: &str) -> Result<String, CompileError> {
    serde_norway::to_string(&Ordered { value: doc, first })
        .map_err(|e| CompileError::Invalid(format!("cannot print {what}: {e}")))
}

/// The document serialized with its mapping keys in order, straight from the JSON tree (no
/// second tree: a large workflow's document is printed without a copy).
struct Ordered<'a> {
    value: &'a Value,
    first: &'a [&'a str],
}

impl Serialize for Ordered<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let first = self.first;
        match self.value {
            Value::Array(a) => s.collect_seq(a.iter().map(|value| Ordered { value, first })),
            Value::Object(m) => {
                let mut entries: Vec<(&String, &Value)> = m.iter().collect();
                let rank = |k: &str| first.iter().position(|x| *x == k).unwrap_or(first.len());
                entries.sort_by(|(a, _), (b, _)| rank(a).cmp(&rank(b)).then_with(|| a.cmp(b)));
                let mut map = s.serialize_map(Some(entries.len()))?;
                for (k, value) in entries {
                    map.serialize_entry(k, &Ordered { value, first })?;
                }
                map.end()
            }
            scalar => scalar.serialize(s),
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
