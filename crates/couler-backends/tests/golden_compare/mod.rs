//! Compares Argo documents by meaning, not bytes: each is reduced to the list of runs it makes
//! (kind, image, the full command line after input parameters and a template's own path
//! placeholders are substituted, environment, resources, whether it is conditional) and the edges
//! between them. References to another run's outputs become `<out:#i>`, `i` being that run's
//! position. Shared by the tests against the original Couler's goldens
//! (`couler_golden.rs`, `python_golden.rs`).

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

/// One run of a leaf template.
#[derive(Debug, PartialEq)]
pub struct Run {
    kind: String,
    image: String,
    argv: Vec<String>,
    env: BTreeMap<String, String>,
    resources: Value,
    conditional: bool,
    deps: BTreeSet<usize>,
    /// Runs inside a recursive (loop) template.
    looped: bool,
}

struct Walker<'a> {
    templates: HashMap<&'a str, &'a Value>,
    runs: Vec<Run>,
}

fn leaf_kind(t: &Value) -> Option<&'static str> {
    ["container", "script", "resource", "suspend"]
        .into_iter()
        .find(|k| !t[*k].is_null())
}

impl<'a> Walker<'a> {
    /// Walks a DAG or steps template; returns the run indices of its tasks, in order, with their
    /// names. `stack` holds the templates being expanded (recursion marks a loop).
    fn walk(
        &mut self,
        template: &str,
        args: &HashMap<String, String>,
        stack: &mut Vec<String>,
        looped: bool,
    ) -> Vec<usize> {
        let Some(t) = self.templates.get(template).copied() else {
            return Vec::new();
        };
        // Tasks with the names they depend on.
        let mut tasks: Vec<(&Value, Vec<String>)> = Vec::new();
        if let Some(ts) = t["dag"]["tasks"].as_array() {
            for task in ts {
                let mut deps: Vec<String> = task["dependencies"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|d| d.as_str().map(String::from))
                            .collect()
                    })
                    .unwrap_or_default();
                if let Some(expr) = task["depends"].as_str() {
                    for w in expr.split(|c: char| {
                        !(c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
                    }) {
                        if let Some(n) = w.split('.').next().filter(|n| !n.is_empty()) {
                            deps.push(n.to_string());
                        }
                    }
                }
                tasks.push((task, deps));
            }
        }
        if let Some(groups) = t["steps"].as_array() {
            let mut prev: Vec<String> = Vec::new();
            for g in groups {
                let members: Vec<&Value> =
                    g.as_array().map(|a| a.iter().collect()).unwrap_or_default();
                for m in &members {
                    tasks.push((m, prev.clone()));
                }
                prev = members
                    .iter()
                    .filter_map(|m| m["name"].as_str().map(String::from))
                    .collect();
            }
        }
        let mut by_name: HashMap<String, Vec<usize>> = HashMap::new();
        let mut all = Vec::new();
        for (task, deps) in tasks {
            let name = task["name"].as_str().unwrap_or_default().to_string();
            let callee = task["template"].as_str().unwrap_or_default().to_string();
            let dep_runs: BTreeSet<usize> = deps
                .iter()
                .flat_map(|d| by_name.get(d).cloned().unwrap_or_default())
                .collect();
            let mut call_args = HashMap::new();
            for p in task["arguments"]["parameters"]
                .as_array()
                .into_iter()
                .flatten()
            {
                let v = p["value"].as_str().unwrap_or_default();
                call_args.insert(
                    p["name"].as_str().unwrap_or_default().to_string(),
                    self.resolve(v, args, &by_name),
                );
            }
            let conditional = !task["when"].is_null();
            let callee_t = self.templates.get(callee.as_str()).copied();
            let runs = match callee_t {
                Some(ct) if leaf_kind(ct).is_some() => {
                    vec![self.leaf(ct, &call_args, conditional, dep_runs.clone(), looped)]
                }
                Some(_) if stack.contains(&callee) => Vec::new(),
                Some(_) => {
                    stack.push(callee.clone());
                    let first = self.runs.len();
                    let inner = self.walk(
                        &callee,
                        &call_args,
                        stack,
                        looped || is_recursive(&self.templates, &callee),
                    );
                    stack.pop();
                    for r in &mut self.runs[first..] {
                        if r.deps.is_empty() {
                            r.deps.extend(dep_runs.iter().copied());
                        }
                        r.conditional |= conditional;
                    }
                    inner
                }
                None => Vec::new(),
            };
            by_name.insert(name, runs.clone());
            all.extend(runs);
        }
        all
    }

    fn resolve(
        &self,
        text: &str,
        args: &HashMap<String, String>,
        by_name: &HashMap<String, Vec<usize>>,
    ) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(i) = rest.find("{{") {
            out.push_str(&rest[..i]);
            let after = &rest[i + 2..];
            let Some(j) = after.find("}}") else {
                out.push_str(&rest[i..]);
                rest = "";
                break;
            };
            let tag = after[..j].trim();
            let parts: Vec<&str> = tag.split('.').collect();
            let replacement = match parts.as_slice() {
                ["inputs", "parameters", n] => args.get(*n).cloned(),
                ["inputs" | "outputs", _, _, "path"] => args.get(tag).cloned(),
                ["tasks" | "steps", task, ..] => by_name
                    .get(*task)
                    .and_then(|r| r.last())
                    .map(|i| format!("<out:#{i}>")),
                _ => None,
            };
            out.push_str(&replacement.unwrap_or_else(|| format!("{{{{{tag}}}}}")));
            rest = &after[j + 2..];
        }
        out.push_str(rest);
        out
    }

    fn leaf(
        &mut self,
        t: &Value,
        args: &HashMap<String, String>,
        conditional: bool,
        deps: BTreeSet<usize>,
        looped: bool,
    ) -> usize {
        let kind = leaf_kind(t).unwrap_or_default();
        let c = &t[kind];
        // A template's own path placeholders are the paths it declares.
        let mut args = args.clone();
        for (io, list, path) in [
            ("outputs", "parameters", "/valueFrom/path"),
            ("outputs", "artifacts", "/path"),
            ("inputs", "artifacts", "/path"),
        ] {
            for d in t[io][list].as_array().into_iter().flatten() {
                if let (Some(n), Some(p)) = (d["name"].as_str(), d.pointer(path)) {
                    let p = p.as_str().unwrap_or_default().to_string();
                    args.insert(format!("{io}.{list}.{n}.path"), p);
                }
            }
        }
        let args = &args;
        let strings = |v: &Value| -> Vec<String> {
            v.as_array()
                .map(|a| {
                    a.iter()
                        .map(|x| {
                            self.resolve(x.as_str().unwrap_or_default(), args, &HashMap::new())
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
        let mut argv = strings(&c["command"]);
        argv.extend(strings(&c["args"]));
        // Script sources compare line by line, blank lines and indentation aside.
        if let Some(src) = c["source"].as_str() {
            let lines: Vec<&str> = src
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect();
            argv.push(lines.join("\n"));
        }
        // A single shell word holding a whole command line is split like the shell would.
        if argv.len() == 1 && argv[0].contains(' ') && kind == "container" {
            argv = argv[0].split_whitespace().map(String::from).collect();
        }
        let mut env = BTreeMap::new();
        for e in c["env"].as_array().into_iter().flatten() {
            let name = e["name"].as_str().unwrap_or_default().to_string();
            let value = if let Some(k) = e["valueFrom"]["secretKeyRef"]["key"].as_str() {
                format!("secret:{k}")
            } else {
                e["value"].as_str().unwrap_or_default().to_string()
            };
            env.insert(name, value);
        }
        let resources = normalise_resources(&c["resources"]);
        self.runs.push(Run {
            kind: kind.to_string(),
            image: c["image"].as_str().unwrap_or_default().to_string(),
            argv,
            env,
            resources,
            conditional,
            deps,
            looped,
        });
        self.runs.len() - 1
    }
}

fn is_recursive(templates: &HashMap<&str, &Value>, name: &str) -> bool {
    templates.get(name).is_some_and(|t| {
        t["steps"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_array)
            .flatten()
            .any(|s| s["template"] == name)
    })
}

/// Quantities as strings (`1` and `'1'` are the same quantity).
fn normalise_resources(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| (k.clone(), normalise_resources(x)))
                .collect(),
        ),
        Value::Number(n) => Value::String(n.to_string()),
        other => other.clone(),
    }
}

fn spec_of(doc: &Value) -> &Value {
    if doc["kind"] == "CronWorkflow" {
        &doc["spec"]["workflowSpec"]
    } else {
        &doc["spec"]
    }
}

/// The runs of a document: the entrypoint's, then the exit handler's.
pub fn runs(doc: &Value) -> Vec<Run> {
    let spec = spec_of(doc);
    let templates: HashMap<&str, &Value> = spec["templates"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["name"].as_str().map(|n| (n, t)))
        .collect();
    let mut w = Walker {
        templates,
        runs: Vec::new(),
    };
    let entry = spec["entrypoint"].as_str().unwrap_or_default().to_string();
    let looped = is_recursive(&w.templates, &entry);
    w.walk(&entry, &HashMap::new(), &mut vec![entry.clone()], looped);
    if let Some(exit) = spec["onExit"].as_str() {
        let exit = exit.to_string();
        match w.templates.get(exit.as_str()).copied() {
            Some(t) if leaf_kind(t).is_some() => {
                w.leaf(t, &HashMap::new(), false, BTreeSet::new(), false);
            }
            _ => {
                w.walk(&exit, &HashMap::new(), &mut vec![exit.clone()], false);
            }
        }
    }
    // Compare what must run before what: the transitive closure of the edges (a nested steps
    // template's caller depends on all its runs, a flattened DAG on the last one).
    let mut runs = w.runs;
    for i in 0..runs.len() {
        let direct: Vec<usize> = runs[i].deps.iter().copied().collect();
        let mut all = runs[i].deps.clone();
        for d in direct {
            if d < i {
                all.extend(runs[d].deps.iter().copied());
            }
        }
        runs[i].deps = all;
    }
    runs
}

/// Asserts that `actual` makes the same runs as the golden `expected` (and, for a cron
/// workflow, has the same schedule, time zone and concurrency policy).
pub fn assert_same(stem: &str, expected: &Value, actual: &Value) {
    assert_eq!(
        expected["kind"], actual["kind"],
        "{stem}: document kind differs"
    );
    let (e, a) = (runs(expected), runs(actual));
    assert!(!e.is_empty(), "{stem}: the golden has no runs");
    assert_eq!(e, a, "{stem}: runs differ");
    if expected["kind"] == "CronWorkflow" {
        let (es, as_) = (&expected["spec"], &actual["spec"]);
        assert_eq!(es["schedule"], as_["schedules"][0], "{stem}: schedule");
        assert_eq!(es["timezone"], as_["timezone"], "{stem}: timezone");
        assert_eq!(
            es["concurrencyPolicy"], as_["concurrencyPolicy"],
            "{stem}: concurrencyPolicy"
        );
    }
}

/// Compares every golden of `../shared/couler-golden` with `actual(stem)`, which is `None` when
/// it has no counterpart (`where_` names where counterparts live, for the message). Skips, saying
/// so, when the goldens are absent; fails when one lacks a counterpart.
pub fn compare_all(where_: &str, mut actual: impl FnMut(&str) -> Option<Value>) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/couler-golden");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        println!("skipping: {} is absent", dir.display());
        return;
    };
    let mut goldens: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    goldens.sort();
    let mut missing = Vec::new();
    for golden in &goldens {
        let stem = golden.file_stem().unwrap().to_string_lossy().to_string();
        let Some(doc) = actual(&stem) else {
            missing.push(stem);
            continue;
        };
        let expected: Value =
            serde_norway::from_str(&std::fs::read_to_string(golden).unwrap()).unwrap();
        assert_same(&stem, &expected, &doc);
    }
    println!("compared {} goldens", goldens.len() - missing.len());
    assert!(
        missing.is_empty(),
        "goldens without a counterpart in {where_}: {}",
        missing.join(", ")
    );
    assert!(!goldens.is_empty());
}
