//! Semantic checks Argo's linter makes, run on emitted documents: the entrypoint and `onExit`
//! exist, every template reference resolves, DAG tasks are acyclic, and every `{{…}}` tag
//! resolves to a declared parameter, artifact or output in its scope.
//!
//! Expression tags (`{{=…}}`) are not checked.

use serde_json::Value;
use std::collections::{BTreeSet, HashMap};

/// Checks one Argo document (`Workflow`, `WorkflowTemplate` or `CronWorkflow`); returns the
/// problems found, empty when it is clean.
pub fn lint(doc: &Value) -> Vec<String> {
    let spec = if doc["kind"] == "CronWorkflow" {
        &doc["spec"]["workflowSpec"]
    } else {
        &doc["spec"]
    };
    let named: Vec<(&str, &Value)> = spec["templates"]
        .as_array()
        .map(|ts| {
            ts.iter()
                .filter_map(|t| t["name"].as_str().map(|n| (n, t)))
                .collect()
        })
        .unwrap_or_default();
    let templates: HashMap<&str, &Value> = named.iter().copied().collect();
    let globals: BTreeSet<&str> = spec["arguments"]["parameters"]
        .as_array()
        .map(|ps| ps.iter().filter_map(|p| p["name"].as_str()).collect())
        .unwrap_or_default();
    let mut problems = entry_problems(doc, spec, &templates);
    // In document order, so equal documents give equal reports; of templates sharing a name,
    // the one lookups see (the last).
    let checked = named.iter().filter(|(n, t)| std::ptr::eq(templates[n], *t));
    for &(name, t) in checked {
        let ctx = Ctx {
            name,
            template: t,
            globals: &globals,
            templates: &templates,
        };
        ctx.body_problems(&mut problems);
        for (prefix, tasks) in task_lists(t) {
            ctx.task_list_problems(prefix, &tasks, &mut problems);
        }
    }
    problems
}

/// The entrypoint (required but in a `WorkflowTemplate`) and `onExit` name templates.
fn entry_problems(doc: &Value, spec: &Value, templates: &HashMap<&str, &Value>) -> Vec<String> {
    let mut problems = Vec::new();
    for key in ["entrypoint", "onExit"] {
        if let Some(n) = spec[key].as_str()
            && !templates.contains_key(n)
        {
            problems.push(format!("{key} `{n}` is not a template"));
        }
    }
    if spec["entrypoint"].as_str().is_none() && doc["kind"] != "WorkflowTemplate" {
        problems.push("no entrypoint".into());
    }
    problems
}

fn names_of(v: &Value) -> BTreeSet<&str> {
    v.as_array()
        .map(|ps| ps.iter().filter_map(|p| p["name"].as_str()).collect())
        .unwrap_or_default()
}

fn task_lists(t: &Value) -> Vec<(&'static str, Vec<&Value>)> {
    let mut out = Vec::new();
    if let Some(tasks) = t["dag"]["tasks"].as_array() {
        out.push(("tasks", tasks.iter().collect()));
    }
    if let Some(groups) = t["steps"].as_array() {
        let all: Vec<&Value> = groups
            .iter()
            .filter_map(Value::as_array)
            .flatten()
            .collect();
        out.push(("steps", all));
    }
    out
}

fn collect_strings<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::String(s) => out.push(s),
        Value::Array(a) => a.iter().for_each(|x| collect_strings(x, out)),
        Value::Object(m) => m.values().for_each(|x| collect_strings(x, out)),
        _ => {}
    }
}

/// The `{{…}}` tags of a string, trimmed; expression tags (`=…`) are skipped.
pub fn tags(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(i) = rest.find("{{") {
        let after = &rest[i + 2..];
        let Some(j) = after.find("}}") else { break };
        let tag = after[..j].trim();
        if !tag.starts_with('=') {
            out.push(tag);
        }
        rest = &after[j + 2..];
    }
    out
}

/// The template under check and what its tags may name.
struct Ctx<'a> {
    name: &'a str,
    template: &'a Value,
    globals: &'a BTreeSet<&'a str>,
    templates: &'a HashMap<&'a str, &'a Value>,
}

const WORKFLOW_VARS: [&str; 6] = [
    "workflow.name",
    "workflow.uid",
    "workflow.status",
    "workflow.namespace",
    "workflow.serviceAccountName",
    "workflow.failures",
];

impl Ctx<'_> {
    /// Every tag in the template's body (`container`, `script`, `resource`, `suspend`) resolves.
    fn body_problems(&self, problems: &mut Vec<String>) {
        let (name, t) = (self.name, self.template);
        for field in ["container", "script", "resource", "suspend"] {
            if !t[field].is_null() {
                let mut strings = Vec::new();
                collect_strings(&t[field], &mut strings);
                for s in strings {
                    for tag in tags(s) {
                        if !self.body_tag_ok(tag) {
                            problems.push(format!(
                                "template `{name}`: `{{{{{tag}}}}}` does not resolve"
                            ));
                        }
                    }
                }
            }
        }
    }

    /// The DAG's tasks (`prefix` `tasks`) or the steps' (`steps`): each task checked, and DAG
    /// tasks acyclic.
    fn task_list_problems(&self, prefix: &str, tasks: &[&Value], problems: &mut Vec<String>) {
        let names: BTreeSet<&str> = tasks.iter().filter_map(|x| x["name"].as_str()).collect();
        for task in tasks {
            self.task_problems(prefix, &names, tasks, task, problems);
        }
        if prefix == "tasks"
            && let Some(c) = cycle(tasks)
        {
            problems.push(format!(
                "template `{}`: tasks form a cycle through `{c}`",
                self.name
            ));
        }
    }

    /// One task: its template exists, its tags resolve, it gives every input the called
    /// template declares.
    fn task_problems(
        &self,
        prefix: &str,
        names: &BTreeSet<&str>,
        tasks: &[&Value],
        task: &Value,
        problems: &mut Vec<String>,
    ) {
        let name = self.name;
        let tname = task["name"].as_str().unwrap_or("?");
        match task["template"].as_str() {
            Some(tt) if self.templates.contains_key(tt) => {}
            Some(tt) => problems.push(format!(
                "template `{name}`, task `{tname}`: template `{tt}` does not exist"
            )),
            None => problems.push(format!("template `{name}`, task `{tname}`: no template")),
        }
        let looped = !task["withItems"].is_null()
            || !task["withParam"].is_null()
            || !task["withSequence"].is_null();
        let mut strings = Vec::new();
        for f in ["arguments", "when", "withParam"] {
            collect_strings(&task[f], &mut strings);
        }
        for s in strings {
            for tag in tags(s) {
                if !self.task_tag_ok(tag, prefix, names, tasks, looped) {
                    problems.push(format!(
                        "template `{name}`, task `{tname}`: `{{{{{tag}}}}}` does not resolve"
                    ));
                }
            }
        }
        // Arguments must match the called template's inputs.
        if let Some(called) = task["template"]
            .as_str()
            .and_then(|tt| self.templates.get(tt))
        {
            let declared = names_of(&called["inputs"]["parameters"]);
            let given = names_of(&task["arguments"]["parameters"]);
            for d in declared.difference(&given) {
                problems.push(format!(
                    "template `{name}`, task `{tname}`: input parameter `{d}` is not given"
                ));
            }
        }
    }

    fn global_ok(&self, tag: &str) -> bool {
        if WORKFLOW_VARS.contains(&tag) {
            return true;
        }
        tag.strip_prefix("workflow.parameters.")
            .is_some_and(|p| self.globals.contains(p))
    }

    fn body_tag_ok(&self, tag: &str) -> bool {
        let t = self.template;
        if self.global_ok(tag) || tag == "pod.name" {
            return true;
        }
        let parts: Vec<&str> = tag.split('.').collect();
        match parts.as_slice() {
            ["inputs", "parameters", n] => names_of(&t["inputs"]["parameters"]).contains(n),
            ["inputs", "artifacts", n, "path"] => names_of(&t["inputs"]["artifacts"]).contains(n),
            ["outputs", "parameters", n, "path"] => {
                names_of(&t["outputs"]["parameters"]).contains(n)
            }
            ["outputs", "artifacts", n, "path"] => names_of(&t["outputs"]["artifacts"]).contains(n),
            _ => false,
        }
    }

    fn task_tag_ok(
        &self,
        tag: &str,
        prefix: &str,
        names: &BTreeSet<&str>,
        tasks: &[&Value],
        looped: bool,
    ) -> bool {
        if self.global_ok(tag) {
            return true;
        }
        if tag == "item" || tag.starts_with("item.") {
            return looped;
        }
        let parts: Vec<&str> = tag.split('.').collect();
        match parts.as_slice() {
            ["inputs", "parameters", n] => {
                names_of(&self.template["inputs"]["parameters"]).contains(n)
            }
            ["inputs", "artifacts", n] => {
                names_of(&self.template["inputs"]["artifacts"]).contains(n)
            }
            [p, task, rest @ ..] if *p == prefix && names.contains(task) => {
                let called = tasks
                    .iter()
                    .find(|x| x["name"] == *task)
                    .and_then(|x| x["template"].as_str())
                    .and_then(|n| self.templates.get(n));
                match rest {
                    ["exitCode"]
                    | ["status"]
                    | ["outputs", "result"]
                    | ["outputs", "parameters"] => true,
                    ["outputs", "parameters", n] => {
                        called.is_some_and(|c| names_of(&c["outputs"]["parameters"]).contains(n))
                    }
                    ["outputs", "artifacts", n] => {
                        called.is_some_and(|c| names_of(&c["outputs"]["artifacts"]).contains(n))
                    }
                    // Argo puts a task's `ip` in scope only when its template is a daemon.
                    ["ip"] => called.is_some_and(|c| c["daemon"] == true),
                    _ => false,
                }
            }
            _ => false,
        }
    }
}

/// Names a task in a dependency cycle, if there is one.
fn cycle(tasks: &[&Value]) -> Option<String> {
    let index: HashMap<&str, usize> = tasks
        .iter()
        .enumerate()
        .filter_map(|(i, t)| t["name"].as_str().map(|n| (n, i)))
        .collect();
    let deps: Vec<Vec<usize>> = tasks
        .iter()
        .map(|t| {
            let mut d: Vec<usize> = t["dependencies"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|n| n.as_str().and_then(|n| index.get(n).copied()))
                        .collect()
                })
                .unwrap_or_default();
            if let Some(expr) = t["depends"].as_str() {
                for word in expr.split(|c: char| {
                    !(c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_')
                }) {
                    let name = word.split('.').next().unwrap_or_default();
                    if let Some(&i) = index.get(name) {
                        d.push(i);
                    }
                }
            }
            d
        })
        .collect();
    // Kahn's algorithm.
    let mut indeg: Vec<usize> = deps.iter().map(Vec::len).collect();
    let mut succ: Vec<Vec<usize>> = vec![Vec::new(); tasks.len()];
    for (i, ds) in deps.iter().enumerate() {
        for &d in ds {
            succ[d].push(i);
        }
    }
    let mut ready: Vec<usize> = (0..tasks.len()).filter(|&i| indeg[i] == 0).collect();
    let mut seen = 0;
    while let Some(i) = ready.pop() {
        seen += 1;
        for &s in &succ[i] {
            indeg[s] -= 1;
            if indeg[s] == 0 {
                ready.push(s);
            }
        }
    }
    if seen == tasks.len() {
        None
    } else {
        (0..tasks.len())
            .find(|&i| indeg[i] > 0)
            .and_then(|i| tasks[i]["name"].as_str().map(String::from))
    }
}
