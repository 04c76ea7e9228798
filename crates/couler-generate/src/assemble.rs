//! Stage (c)'s second half: the sub-tasks' steps put together into one workflow. A step whose
//! name an earlier sub-task took is renamed (`train` → `train-2`, with its sub-task's references
//! and `dependsOn`); a sub-task that reads nothing of the earlier ones runs after the previous
//! sub-task's last steps (its first steps, those with no `dependsOn` of their own, get
//! `dependsOn` them), so the workflow is connected.
//! The result is canonical YAML when it parses (so diagnostics and the output share lines).

use couler_ir::spec::{self, Format};
use serde_json::{Map, Value, json};
use std::collections::BTreeSet;

/// One sub-task's answer: its steps and the parameters they need.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Fragment {
    pub steps: Vec<Value>,
    pub params: Vec<Value>,
}

/// A sub-task's answer read: a mapping with `steps` (and `params`), or a list of steps.
pub fn fragment(yaml: &str) -> Result<Fragment, String> {
    let value: Value =
        serde_norway::from_str(yaml).map_err(|e| format!("the answer is not YAML: {e}"))?;
    let list = |v: Option<&Value>, what: &str| -> Result<Vec<Value>, String> {
        match v {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(items)) if items.iter().all(Value::is_object) => Ok(items.clone()),
            Some(_) => Err(format!("`{what}` must be a list of mappings")),
        }
    };
    let fragment = match &value {
        Value::Array(_) => Fragment {
            steps: list(Some(&value), "steps")?,
            params: Vec::new(),
        },
        Value::Object(map) => Fragment {
            steps: list(map.get("steps"), "steps")?,
            params: list(map.get("params"), "params")?,
        },
        _ => return Err("the answer must be a mapping with `steps`, or a list of steps".into()),
    };
    if fragment.steps.is_empty() {
        return Err("the answer has no steps".into());
    }
    Ok(fragment)
}

/// One workflow named `name` of `fragments`' steps, in order.
pub fn assemble(name: &str, fragments: Vec<Fragment>) -> String {
    let mut taken: BTreeSet<String> = BTreeSet::new();
    let mut params: Vec<Value> = Vec::new();
    let mut steps: Vec<Value> = Vec::new();
    let mut previous: Vec<String> = Vec::new();
    for mut fragment in fragments {
        rename_taken(&mut fragment.steps, &taken);
        let own = names(&fragment.steps);
        let reads_earlier = fragment
            .steps
            .iter()
            .any(|s| taken.iter().any(|n| mentions(s, n)));
        if !reads_earlier && !previous.is_empty() {
            for step in &mut fragment.steps {
                let has_depends = step.get("dependsOn").is_some();
                if !has_depends && !own.iter().any(|n| mentions(step, n)) {
                    step["dependsOn"] = json!(previous);
                }
            }
        }
        previous = sinks(&fragment.steps);
        taken.extend(own);
        for p in fragment.params {
            let known = params.iter().any(|q| q.get("name") == p.get("name"));
            if !known {
                params.push(p);
            }
        }
        steps.extend(fragment.steps);
    }
    let mut doc = Map::new();
    doc.insert("apiVersion".into(), json!(couler_ir::API_VERSION));
    doc.insert("kind".into(), json!("Workflow"));
    doc.insert("name".into(), json!(name));
    if !params.is_empty() {
        doc.insert("params".into(), Value::Array(params));
    }
    doc.insert("steps".into(), Value::Array(steps));
    canonical(&serde_norway::to_string(&Value::Object(doc)).unwrap_or_default())
}

/// A whole spec from a calibration or revision answer's `text`: a spec as it is; only steps
/// (a model forgetting the header) as the workflow `name` of those steps; canonical when it
/// parses, else unchanged (checking then says what is wrong).
pub fn whole(text: &str, name: &str) -> String {
    let is_spec = serde_norway::from_str::<Value>(text)
        .is_ok_and(|v| v.get("apiVersion").is_some() || v.get("kind").is_some());
    match fragment(text) {
        Ok(steps) if !is_spec => assemble(name, vec![steps]),
        _ => canonical(&json_as_yaml(text)),
    }
}

/// A JSON object (what the calibration schema has the model write) as YAML, its keys in their
/// order, so that a spec saved before it is valid (`wf.invalid.yaml`) reads, and is located
/// by its diagnostics, as every other spec; any other text unchanged.
fn json_as_yaml(text: &str) -> String {
    if !text.trim_start().starts_with('{') {
        return text.to_string();
    }
    serde_norway::from_str::<serde_norway::Value>(text)
        .ok()
        .and_then(|v| serde_norway::to_string(&v).ok())
        .unwrap_or_else(|| text.to_string())
}

/// `text` in canonical form when it parses (not necessarily valid); else unchanged.
pub fn canonical(text: &str) -> String {
    match spec::parse(text, Format::Yaml) {
        Ok(wf) => spec::to_yaml(&wf),
        Err(_) => text.to_string(),
    }
}

/// A DNS-1123 name from the description's first words (`generated` when none).
pub fn workflow_name(description: &str) -> String {
    let words: Vec<String> = description
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(5)
        .map(str::to_ascii_lowercase)
        .collect();
    let mut name = words.join("-");
    name.truncate(40);
    let name = name.trim_matches('-').to_string();
    match name.chars().next() {
        Some(c) if c.is_ascii_lowercase() => name,
        Some(_) => format!("wf-{name}"),
        None => "generated".into(),
    }
}

fn names(steps: &[Value]) -> Vec<String> {
    steps
        .iter()
        .filter_map(|s| s.get("name")?.as_str().map(str::to_string))
        .collect()
}

/// Whether `step` depends on step `name`: `dependsOn` it, or a reference to it.
fn mentions(step: &Value, name: &str) -> bool {
    let depends = step
        .get("dependsOn")
        .and_then(Value::as_array)
        .is_some_and(|d| d.iter().any(|n| n.as_str() == Some(name)));
    depends || step.to_string().contains(&format!("steps.{name}."))
}

/// The steps no other step of the same list depends on.
fn sinks(steps: &[Value]) -> Vec<String> {
    names(steps)
        .into_iter()
        .filter(|n| !steps.iter().any(|s| mentions(s, n)))
        .collect()
}

/// Renames the steps whose names are taken, and what refers to them within `steps`.
fn rename_taken(steps: &mut [Value], taken: &BTreeSet<String>) {
    let mut used: BTreeSet<String> = taken.iter().cloned().chain(names(steps)).collect();
    for old in names(steps) {
        if !taken.contains(&old) {
            continue;
        }
        let new = (2..)
            .map(|i| format!("{old}-{i}"))
            .find(|n| !used.contains(n))
            .expect("a free name");
        used.insert(new.clone());
        for step in steps.iter_mut() {
            if step.get("name").and_then(Value::as_str) == Some(old.as_str()) {
                step["name"] = json!(new);
            }
            rewrite(step, &old, &new);
        }
    }
}

/// Rewrites references to step `old` into references to `new` in every string of `value`, and
/// `old` in a `dependsOn` list.
fn rewrite(value: &mut Value, old: &str, new: &str) {
    match value {
        Value::String(s) => *s = s.replace(&format!("steps.{old}."), &format!("steps.{new}.")),
        Value::Array(items) => items.iter_mut().for_each(|v| rewrite(v, old, new)),
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                match v {
                    Value::Array(items) if key == "dependsOn" => {
                        for item in items {
                            if item.as_str() == Some(old) {
                                *item = json!(new);
                            }
                        }
                    }
                    _ => rewrite(v, old, new),
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(name: &str, extra: &str) -> String {
        format!(
            "- name: {name}\n  container:\n    image: alpine:3.19\n    command: [echo, '{extra}']\n"
        )
    }

    #[test]
    fn sub_tasks_are_chained_and_taken_names_renamed() {
        let first = fragment(&format!("steps:\n{}", step("prep", "x"))).unwrap();
        // Two steps named `prep` again; the second reads the first: both renamed consistently.
        let second = fragment(&format!(
            "{}{}  dependsOn: [prep]\n",
            step("prep", "y"),
            step("train", "{{steps.prep.outputs.result}}")
        ))
        .unwrap();
        let text = assemble("demo", vec![first, second]);
        let (wf, _) = spec::load(&text, Format::Yaml).unwrap_or_else(|d| panic!("{d:?}\n{text}"));
        let names: Vec<&str> = wf.steps.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["prep", "prep-2", "train"]);
        assert_eq!(
            wf.steps[1].depends_on,
            ["prep"],
            "chained to the first sub-task"
        );
        assert_eq!(wf.steps[2].depends_on, ["prep-2"]);
        assert!(text.contains("steps.prep-2.outputs.result"), "{text}");
    }

    #[test]
    fn a_sub_task_that_reads_an_earlier_one_is_not_chained_again() {
        let first = fragment(&step("a", "1")).unwrap();
        let second = fragment(&step("b", "{{steps.a.outputs.result}}")).unwrap();
        let text = assemble("demo", vec![first, second]);
        assert!(!text.contains("dependsOn"), "{text}");
    }

    #[test]
    fn answers_that_are_not_steps_are_refused_with_the_reason() {
        assert!(fragment("a: [").unwrap_err().contains("not YAML"));
        assert!(
            fragment("steps: 3")
                .unwrap_err()
                .contains("list of mappings")
        );
        assert!(fragment("params: []").unwrap_err().contains("no steps"));
        assert!(
            fragment("just text")
                .unwrap_err()
                .contains("mapping with `steps`")
        );
    }

    #[test]
    fn an_answer_of_steps_only_becomes_a_whole_spec() {
        let text = whole(&step("a", "1"), "demo");
        let (wf, _) = spec::load(&text, Format::Yaml).unwrap_or_else(|d| panic!("{d:?}\n{text}"));
        assert_eq!((wf.name.as_str(), wf.steps.len()), ("demo", 1));
        // A spec keeps its own header (and its errors).
        let spec = format!(
            "apiVersion: couler.dev/v1alpha1\nkind: Workflow\nname: mine\nsteps:\n{}",
            step("a", "1")
        );
        assert!(whole(&spec, "demo").contains("name: mine"));
        assert!(
            whole(
                &format!("kind: Workflow\nsteps:\n{}", step("a", "1")),
                "demo"
            )
            .contains("kind: Workflow")
        );
        // A calibration answer is JSON: saved as YAML, in its order, even while invalid.
        let json = r#"{"apiVersion": "couler.dev/v1alpha1", "kind": "Workflow", "name": "j",
            "steps": [{"name": "a", "container": {"image": "alpine:3.19"}, "when": "exists('x')"}]}"#;
        let text = whole(json, "demo");
        assert!(spec::load(&text, Format::Yaml).is_err(), "{text}");
        assert!(
            text.starts_with(
                "apiVersion: couler.dev/v1alpha1\nkind: Workflow\nname: j\nsteps:\n- name: a\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn workflow_names_are_dns_labels() {
        assert_eq!(
            workflow_name("Train a model, then publish it!"),
            "train-a-model-then-publish"
        );
        assert_eq!(workflow_name("42 models"), "wf-42-models");
        assert_eq!(workflow_name("…"), "generated");
    }
}
