//! Expanding `uses: zoo/NAME@VERSION` steps into the ordinary steps they stand for.

use super::{Entry, EntryParam, entries, env_name, versions};
use crate::diag::{Diagnostic, suggest};
use crate::model::{ParamType, STEP_KINDS};
use serde_json::{Map, Value, json};

/// Where a path of an expanded step came from: diagnostics at `from` (or inside it) belong at
/// `to`, the `with` key that set it.
pub type Renames = Vec<(String, String)>;

/// The spec document (as a JSON value) with every `uses` step of `steps` expanded, and the
/// [`Renames`] of what `with` set; `Ok(None)` when no step uses the zoo. Problems are placed at
/// spec paths (`steps[2].with.seed`).
pub fn expand(doc: &Value) -> Result<Option<(Value, Renames)>, Vec<Diagnostic>> {
    let Some(steps) = doc.get("steps").and_then(Value::as_array) else {
        return Ok(None);
    };
    if !steps.iter().any(|s| s.get("uses").is_some()) {
        return Ok(None);
    }
    let mut problems = Vec::new();
    let mut expanded = Vec::with_capacity(steps.len());
    let mut renames = Renames::new();
    for (i, step) in steps.iter().enumerate() {
        match step.as_object().filter(|s| s.contains_key("uses")) {
            Some(s) => match expand_step(s, &format!("steps[{i}]"), &mut renames) {
                Ok(s) => expanded.push(Value::Object(s)),
                Err(mut p) => problems.append(&mut p),
            },
            None => expanded.push(step.clone()),
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let mut doc = doc.clone();
    doc["steps"] = Value::Array(expanded);
    Ok(Some((doc, renames)))
}

/// The entry `uses` names, or why there is none.
fn lookup(uses: &Value, path: &str) -> Result<&'static Entry, Diagnostic> {
    let at = format!("{path}.uses");
    let text = uses.as_str().ok_or_else(|| {
        Diagnostic::error("`uses` must be a string such as `zoo/split@1`").at(&at)
    })?;
    let Some((name, version)) = text.strip_prefix("zoo/").and_then(|r| r.split_once('@')) else {
        return Err(Diagnostic::error(format!("`uses: {text}` is not a zoo reference"))
            .at(&at)
            .help("write `zoo/NAME@VERSION`, e.g. `zoo/split@1`; `couler zoo list` lists the entries"));
    };
    let mut found = versions(name).peekable();
    if found.peek().is_none() {
        let names = entries().iter().map(|e| e.name.as_str());
        let mut d = Diagnostic::error(format!("unknown zoo entry `{name}`")).at(&at);
        d = match suggest(name, names) {
            Some(s) => d.help(format!(
                "did you mean `zoo/{s}`? `couler zoo list` lists the entries"
            )),
            None => d.help("`couler zoo list` lists the entries"),
        };
        return Err(d);
    }
    let all: Vec<&Entry> = found.collect();
    all.iter()
        .find(|e| e.version.to_string() == version)
        .copied()
        .ok_or_else(|| {
            let have: Vec<String> = all.iter().map(|e| e.reference()).collect();
            Diagnostic::error(format!("zoo entry `{name}` has no version `{version}`"))
                .at(&at)
                .help(format!("available: {}", have.join(", ")))
        })
}

fn expand_step(
    step: &Map<String, Value>,
    path: &str,
    renames: &mut Renames,
) -> Result<Map<String, Value>, Vec<Diagnostic>> {
    let entry = lookup(&step["uses"], path).map_err(|d| vec![d])?;
    let mut problems = Vec::new();
    // The entry supplies the kind; a step that `uses` one cannot set one too.
    for key in STEP_KINDS.iter().filter(|k| step.contains_key(**k)) {
        problems.push(
            Diagnostic::error(format!(
                "a step that `uses` {} cannot set `{key}` too",
                entry.reference()
            ))
            .at(format!("{path}.{key}"))
            .help("the entry supplies what the step runs: remove this field, or drop `uses`"),
        );
    }
    let empty = Map::new();
    let with = match step.get("with") {
        None | Some(Value::Null) => &empty,
        Some(Value::Object(m)) => m,
        Some(_) => {
            problems.push(
                Diagnostic::error("`with` must be a mapping of parameter names to values")
                    .at(format!("{path}.with")),
            );
            &empty
        }
    };
    let values = bind(entry, with, path, &mut problems);
    if !problems.is_empty() {
        return Err(problems);
    }
    let mut out = step.clone();
    out.remove("uses");
    out.remove("with");
    if !out.contains_key("description") {
        out.insert("description".into(), entry.description.clone().into());
    }
    let mut body = entry.step.clone();
    let mut substituted = Vec::new();
    substitute(&mut body, &values, &mut substituted);
    let mut env = Map::new();
    for (name, value) in &values {
        if !substituted.contains(name) {
            env.insert(env_name("", name), env_text(value).into());
            if with.contains_key(name) {
                renames.push((
                    format!("{path}.env.{}", env_name("", name)),
                    format!("{path}.with.{name}"),
                ));
            }
        }
    }
    let own = out
        .get("inputs")
        .and_then(|i| i.get("artifacts"))
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    for (k, to) in wire_artifacts(entry, with, &mut env, &mut out)
        .into_iter()
        .enumerate()
    {
        renames.push((
            format!("{path}.inputs.artifacts[{}]", own + k),
            format!("{path}.with.{to}"),
        ));
    }
    if let Value::Object(body) = body {
        for (key, value) in body {
            if key == "env" {
                for (k, v) in value.as_object().into_iter().flatten() {
                    env.insert(k.clone(), v.clone());
                }
            } else {
                out.insert(key, value);
            }
        }
    }
    // The step's own env wins over what the entry sets.
    if let Some(Value::Object(own)) = out.get("env") {
        env.extend(own.clone());
    }
    out.insert("env".into(), Value::Object(env));
    Ok(out)
}

/// Each parameter's value: from `with`, else its default; problems for unknown keys, wrong
/// types and missing required values.
fn bind(
    entry: &Entry,
    with: &Map<String, Value>,
    path: &str,
    problems: &mut Vec<Diagnostic>,
) -> Vec<(String, Value)> {
    let reference = entry.reference();
    for key in with.keys() {
        let known = entry
            .params
            .iter()
            .map(|p| p.name.as_str())
            .chain(entry.inputs.iter().map(|i| i.name.as_str()));
        if !known.clone().any(|k| k == key) {
            let mut d = Diagnostic::error(format!("{reference} has no parameter or input `{key}`"))
                .at(format!("{path}.with.{key}"));
            d = match suggest(key, known.clone()) {
                Some(s) => d.help(format!(
                    "did you mean `{s}`? `couler zoo show {}` lists them",
                    entry.name
                )),
                None => d.help(format!("`couler zoo show {}` lists them", entry.name)),
            };
            problems.push(d);
        }
    }
    for input in &entry.inputs {
        if !with.contains_key(&input.name) {
            problems.push(
                Diagnostic::error(format!(
                    "{reference} needs the input artifact `{}`",
                    input.name
                ))
                .at(path)
                .help(format!(
                    "add `with: {{{}: steps.STEP.outputs.artifacts.NAME}}`",
                    input.name
                )),
            );
        }
    }
    let mut values = Vec::new();
    for p in &entry.params {
        match with.get(&p.name).or(p.default.as_ref()) {
            Some(v) => match check(p, v) {
                Ok(()) => values.push((p.name.clone(), v.clone())),
                Err(got) => problems.push(
                    Diagnostic::error(format!(
                        "parameter `{}` of {reference} expects {}, got {got}",
                        p.name,
                        expected(p.ty)
                    ))
                    .at(format!("{path}.with.{}", p.name))
                    .help(p.description.clone()),
                ),
            },
            None => problems.push(
                Diagnostic::error(format!("{reference} needs the parameter `{}`", p.name))
                    .at(path)
                    .help(format!("add it under `with:` ({})", p.description)),
            ),
        }
    }
    values
}

fn expected(ty: ParamType) -> &'static str {
    match ty {
        ParamType::String => "a string",
        ParamType::Int => "an integer",
        ParamType::Float => "a number",
        ParamType::Bool => "`true` or `false`",
        ParamType::Json => "any value",
    }
}

/// `Err` with what was given when `v` does not fit the parameter's type. A string holding a
/// `{{…}}` reference fits every type: its value is only known at run time.
fn check(p: &EntryParam, v: &Value) -> Result<(), String> {
    let fits = match (p.ty, v) {
        (_, Value::String(s)) if s.contains("{{") => true,
        (ParamType::String, Value::String(_)) => true,
        (ParamType::Int, Value::Number(n)) => n.is_i64() || n.is_u64(),
        (ParamType::Float, Value::Number(_)) => true,
        (ParamType::Bool, Value::Bool(_)) => true,
        (ParamType::Json, _) => true,
        _ => false,
    };
    if fits {
        return Ok(());
    }
    Err(match v {
        Value::String(s) => format!("the string `{s}`"),
        other => format!("`{other}`"),
    })
}

/// A value as the step's environment sees it: a string as it is, anything else as JSON text.
fn env_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Replaces every string that is exactly `{{with.NAME}}` in the body by that value.
fn substitute(node: &mut Value, values: &[(String, Value)], used: &mut Vec<String>) {
    match node {
        Value::String(s) => {
            let name = s
                .strip_prefix("{{with.")
                .and_then(|r| r.strip_suffix("}}"))
                .map(str::trim);
            if let Some((n, v)) = name.and_then(|n| values.iter().find(|(k, _)| k == n)) {
                used.push(n.clone());
                *node = v.clone();
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| substitute(i, values, used)),
        Value::Object(m) => m.values_mut().for_each(|i| substitute(i, values, used)),
        _ => {}
    }
}

/// Declares the entry's inputs (with `from` as `with` binds them) and outputs on the step,
/// after any the step declares itself, and the `IN_*` / `OUT_*` variables holding their paths.
/// Returns the `with` path of each input artifact declared, in order (`models[1]` for a list's).
fn wire_artifacts(
    entry: &Entry,
    with: &Map<String, Value>,
    env: &mut Map<String, Value>,
    out: &mut Map<String, Value>,
) -> Vec<String> {
    let mut inputs = Vec::new();
    let mut origins = Vec::new();
    for input in &entry.inputs {
        let var = env_name("IN_", &input.name);
        match &with[&input.name] {
            Value::Array(refs) => {
                let mut paths = Vec::new();
                for (k, r) in refs.iter().enumerate() {
                    let name = format!("{}-{}", input.name, k + 1);
                    paths.push(Value::String(format!(
                        "{{{{inputs.artifacts.{name}.path}}}}"
                    )));
                    inputs.push(json!({"name": name, "path": format!("{}/{}", input.path, k + 1), "from": r}));
                    origins.push(format!("{}[{k}]", input.name));
                }
                env.insert(var, Value::Array(paths).to_string().into());
            }
            r => {
                env.insert(
                    var,
                    format!("{{{{inputs.artifacts.{}.path}}}}", input.name).into(),
                );
                inputs.push(json!({"name": input.name, "path": input.path, "from": r}));
                origins.push(input.name.clone());
            }
        }
    }
    append(out, "inputs", "artifacts", inputs);
    for (kind, list) in [
        ("parameters", &entry.outputs.parameters),
        ("artifacts", &entry.outputs.artifacts),
    ] {
        let mut declared = Vec::new();
        for o in list {
            env.insert(
                env_name("OUT_", &o.name),
                format!("{{{{outputs.{kind}.{}.path}}}}", o.name).into(),
            );
            declared.push(json!({"name": o.name, "path": o.path}));
        }
        append(out, "outputs", kind, declared);
    }
    origins
}

/// Moves each diagnostic at (or inside) a renamed path to where `with` set it.
pub fn rename(diags: &mut [Diagnostic], renames: &Renames) {
    for d in diags {
        let Some(path) = d.path.as_deref() else {
            continue;
        };
        let found = renames.iter().find(|(from, _)| {
            path.strip_prefix(from.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[']))
        });
        if let Some((_, to)) = found {
            d.path = Some(to.clone());
            d.location = None;
        }
    }
}

/// Appends `items` to `step[section][kind]`, creating what is missing.
fn append(step: &mut Map<String, Value>, section: &str, kind: &str, items: Vec<Value>) {
    if items.is_empty() {
        return;
    }
    let section = step.entry(section).or_insert_with(|| json!({}));
    if let Some(map) = section.as_object_mut() {
        let list = map.entry(kind).or_insert_with(|| json!([]));
        if let Some(list) = list.as_array_mut() {
            list.extend(items);
        }
    }
}
