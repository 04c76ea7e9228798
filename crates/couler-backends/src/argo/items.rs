//! `map` items as Argo can read them (docs/argo.md, "Map items"). Argo's `withItems` declares
//! only `item` for scalars and `item.KEY` for the top-level keys of objects, and `withParam`
//! sets only `item` and `item.KEY`; locally any `item.KEY.SUB…` and a whole object `{{item}}`
//! work. So static object items get one more key per deeper path the step reads (the key
//! `cfg.lr` makes Argo's `{{item.cfg.lr}}` resolve), and a whole-object read becomes the key
//! [`WHOLE`]; each such value is the text the local runtime renders. A nested read of a
//! run-time list (`withParam`) cannot be lowered and is refused.

use crate::CompileError;
use couler_ir::{Map, MapOver, Reference, Step, value_text};
use serde_json::Value;

/// The key holding a static object item's whole text.
const WHOLE: &str = "couler-item";

/// The item paths the step reads (`[]` is the whole item).
fn item_reads(step: &Step) -> Vec<&[String]> {
    let mut out: Vec<&[String]> = step
        .references()
        .into_iter()
        .filter_map(|(_, r)| match r {
            Reference::Item(keys) => Some(keys.as_slice()),
            _ => None,
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Whether `{{item}}` of this step reads [`WHOLE`]: its static items hold an object.
fn whole_is_keyed(step: &Step) -> bool {
    matches!(step.map.as_deref(), Some(Map { over: MapOver::Items(items), .. }) if items.iter().any(Value::is_object))
}

/// The Argo placeholder for the item path `keys` of `step`.
pub(super) fn placeholder(step: &Step, keys: &[String]) -> String {
    if keys.is_empty() && whole_is_keyed(step) {
        super::render::item(&[WHOLE.to_string()])
    } else {
        super::render::item(keys)
    }
}

/// The `withItems` list: each object item with a string key per deeper path read and, when
/// the whole item is read, [`WHOLE`] (a scalar item in such a list becomes `{WHOLE: text}`).
pub(super) fn with_items(step: &Step, items: &[Value]) -> Vec<Value> {
    let reads = item_reads(step);
    let whole = reads.iter().any(|k| k.is_empty()) && whole_is_keyed(step);
    let deep: Vec<&[String]> = reads.into_iter().filter(|k| k.len() > 1).collect();
    if !whole && deep.is_empty() {
        return items.to_vec();
    }
    items
        .iter()
        .map(|item| {
            let mut obj = match item {
                Value::Object(o) => o.clone(),
                _ => serde_json::Map::new(),
            };
            for keys in &deep {
                let mut v = Some(item);
                for k in *keys {
                    v = v.and_then(|v| v.get(k));
                }
                if let Some(v) = v {
                    obj.insert(keys.join("."), Value::String(value_text(v)));
                }
            }
            if whole {
                obj.insert(WHOLE.into(), Value::String(value_text(item)));
            }
            Value::Object(obj)
        })
        .collect()
}

/// Refuses a nested item read over a run-time list, which Argo's `withParam` cannot resolve.
pub(super) fn check_run_time(step: &Step) -> Result<(), CompileError> {
    if let Some(keys) = item_reads(step).into_iter().find(|k| k.len() > 1) {
        return Err(CompileError::Invalid(format!(
            "step `{}` reads `item.{}` of a run-time list (`map.from`); Argo's withParam sets only `item` and `item.KEY`, so the read would fail on Argo: read `item.{}` and take the field apart in the step, or produce a flat list",
            step.name,
            keys.join("."),
            keys[0]
        )));
    }
    Ok(())
}
