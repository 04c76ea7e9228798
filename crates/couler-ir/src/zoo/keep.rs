//! `couler fmt` on a spec that uses the zoo: each `uses` step is printed as written (canonical
//! key order: `name`, `uses`, `with`, then the rest by name), not as the step it expands to.

use serde_json::Value;

/// `canonical` (the printed, expanded spec) with each step that `uses` an entry in `doc` (the
/// spec as read) put back in its `uses` form.
pub fn keep_uses(doc: &Value, canonical: &str) -> String {
    let Some(steps) = doc.get("steps").and_then(Value::as_array) else {
        return canonical.to_string();
    };
    let mut out = String::with_capacity(canonical.len());
    let mut lines = canonical.split_inclusive('\n').peekable();
    // Up to and including `steps:`.
    for line in lines.by_ref() {
        out.push_str(line);
        if line.trim_end() == "steps:" {
            break;
        }
    }
    let mut index = None::<usize>;
    let mut replaced = false;
    while let Some(line) = lines.next() {
        if line.starts_with("- ") {
            let i = index.map_or(0, |i| i + 1);
            index = Some(i);
            replaced = match steps.get(i).filter(|s| s.get("uses").is_some()) {
                Some(step) => {
                    out.push_str(&step_yaml(step));
                    true
                }
                None => false,
            };
        } else if !line.starts_with(' ') && !line.starts_with('#') && line.trim() != "" {
            // The end of the steps list: copy the rest as printed.
            out.push_str(line);
            lines.by_ref().for_each(|l| out.push_str(l));
            break;
        }
        if !replaced {
            out.push_str(line);
        }
    }
    out
}

fn step_yaml(step: &Value) -> String {
    let Some(map) = step.as_object() else {
        return String::new();
    };
    let mut ordered = serde_norway::Mapping::new();
    let first = ["name", "uses", "with"];
    let rest = map.keys().filter(|k| !first.contains(&k.as_str()));
    for key in first.iter().map(|k| k.to_string()).chain(rest.cloned()) {
        if let Some(v) = map.get(&key) {
            let v = serde_norway::to_value(v).unwrap_or(serde_norway::Value::Null);
            ordered.insert(serde_norway::Value::String(key), v);
        }
    }
    serde_norway::to_string(&vec![serde_norway::Value::Mapping(ordered)]).unwrap_or_default()
}
