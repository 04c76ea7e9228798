//! Semantic checks of emitted Tekton documents, the ones Tekton's admission webhook and
//! controller make and the CRD schemas cannot (they leave most of a Task's and Pipeline's spec
//! to `x-kubernetes-preserve-unknown-fields`): names are valid, every `taskRef`, `runAfter`,
//! param, result, workspace and volume reference resolves, the task graph is acyclic, and every
//! `$(…)` variable is one Tekton knows in its place. The last check is what proves no user
//! string reached a field Tekton substitutes: such a string would show up as an unknown variable.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Checks a set of documents that are applied together; returns the problems, empty when clean.
pub fn lint(docs: &[Value]) -> Vec<String> {
    let mut p = Vec::new();
    let mut tasks: BTreeMap<&str, &Value> = BTreeMap::new();
    let mut pipelines: BTreeMap<&str, &Value> = BTreeMap::new();
    for d in docs {
        let name = d["metadata"]["name"].as_str().unwrap_or("");
        let kind = d["kind"].as_str().unwrap_or("");
        if kind == "ConfigMap" {
            // A Task's launcher inputs (`tekton::task_file`).
            if d["apiVersion"] != "v1" || !dns_label(name) || !d["data"].is_object() {
                p.push(format!(
                    "ConfigMap `{name}`: not a v1 ConfigMap of a Task's inputs"
                ));
            }
            continue;
        }
        if d["apiVersion"] != "tekton.dev/v1" {
            p.push(format!("{kind} `{name}`: apiVersion is not tekton.dev/v1"));
        }
        if !dns_label(name) {
            p.push(format!("{kind} `{name}`: the name is not a DNS-1123 label"));
        }
        let seen = match kind {
            "Task" => tasks.insert(name, d).is_some(),
            "Pipeline" => pipelines.insert(name, d).is_some(),
            "PipelineRun" => false,
            other => {
                p.push(format!("unexpected kind `{other}`"));
                false
            }
        };
        if seen {
            p.push(format!("{kind} `{name}` is defined twice"));
        }
    }
    for (name, t) in &tasks {
        task(name, &t["spec"], &mut p);
    }
    for (name, pl) in &pipelines {
        pipeline(name, &pl["spec"], &tasks, &mut p);
    }
    for d in docs.iter().filter(|d| d["kind"] == "PipelineRun") {
        pipeline_run(d, &pipelines, &mut p);
    }
    p
}

fn dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

fn names(v: &Value) -> Vec<&str> {
    v.as_array()
        .map(|a| a.iter().filter_map(|x| x["name"].as_str()).collect())
        .unwrap_or_default()
}

fn strings<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::String(s) => out.push(s),
        Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        Value::Object(m) => m.values().for_each(|x| strings(x, out)),
        _ => {}
    }
}

/// The variables (`x` of `$(x)`) in a string; an unterminated `$(` is reported as itself.
fn variables(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(i) = rest.find("$(") {
        let after = &rest[i + 2..];
        match after.find(')') {
            Some(j) => {
                out.push(&after[..j]);
                rest = &after[j + 1..];
            }
            None => {
                out.push(after);
                break;
            }
        }
    }
    out
}

fn task(name: &str, spec: &Value, p: &mut Vec<String>) {
    let params: BTreeSet<&str> = names(&spec["params"]).into_iter().collect();
    let results: BTreeSet<&str> = names(&spec["results"]).into_iter().collect();
    let workspaces: BTreeSet<&str> = names(&spec["workspaces"]).into_iter().collect();
    let volumes: BTreeSet<&str> = names(&spec["volumes"]).into_iter().collect();
    for r in &results {
        if !crate::tekton::valid_result_name(r) {
            p.push(format!(
                "Task `{name}`: result `{r}` is not a valid result name"
            ));
        }
    }
    let steps = spec["steps"].as_array().cloned().unwrap_or_default();
    if steps.is_empty() {
        p.push(format!("Task `{name}` has no steps"));
    }
    let mut step_names = BTreeSet::new();
    for s in &steps {
        let sn = s["name"].as_str().unwrap_or("");
        if !dns_label(sn) || !step_names.insert(sn) {
            p.push(format!(
                "Task `{name}`: step name `{sn}` is invalid or repeated"
            ));
        }
        if s["image"].as_str().is_none_or(str::is_empty) {
            p.push(format!("Task `{name}`, step `{sn}`: no image"));
        }
        for m in s["volumeMounts"].as_array().into_iter().flatten() {
            let v = m["name"].as_str().unwrap_or("");
            if !volumes.contains(v) {
                p.push(format!(
                    "Task `{name}`, step `{sn}`: volume `{v}` is not declared"
                ));
            }
        }
        let mut all = Vec::new();
        strings(s, &mut all);
        for text in all {
            for var in variables(text) {
                let ok = if let Some(x) = var.strip_prefix("params.") {
                    params.contains(x)
                } else if let Some(x) = var.strip_prefix("results.") {
                    x.strip_suffix(".path").is_some_and(|r| results.contains(r))
                } else if let Some(x) = var.strip_prefix("workspaces.") {
                    x.strip_suffix(".path")
                        .or_else(|| x.strip_suffix(".claim"))
                        .is_some_and(|w| workspaces.contains(w))
                } else {
                    // Tekton substitutes only `context.taskRun.*`/`context.task.*` in a Task.
                    matches!(var, "context.taskRun.name" | "context.taskRun.uid")
                };
                if !ok {
                    p.push(format!(
                        "Task `{name}`, step `{sn}`: `$({var})` is not a variable Tekton knows here"
                    ));
                }
            }
        }
    }
}

fn pipeline<'a>(
    name: &'a str,
    spec: &'a Value,
    tasks: &BTreeMap<&str, &'a Value>,
    p: &mut Vec<String>,
) {
    let main: Vec<&Value> = spec["tasks"].as_array().into_iter().flatten().collect();
    let finally: Vec<&Value> = spec["finally"].as_array().into_iter().flatten().collect();
    if main.is_empty() {
        p.push(format!("Pipeline `{name}` has no tasks"));
    }
    let all: Vec<(bool, &Value)> = main
        .iter()
        .map(|t| (false, *t))
        .chain(finally.iter().map(|t| (true, *t)))
        .collect();
    let mut pl = PipelineLint {
        name,
        params: names(&spec["params"]).into_iter().collect(),
        workspaces: names(&spec["workspaces"]).into_iter().collect(),
        main_names: main.iter().filter_map(|t| t["name"].as_str()).collect(),
        results: BTreeMap::new(),
        order: BTreeMap::new(),
    };
    // First every task's own declarations (its results are what later variables read), then
    // what each one refers to.
    for &(is_finally, pt) in &all {
        pl.task(is_finally, pt, tasks, p);
    }
    for &(is_finally, pt) in &all {
        pl.references(is_finally, pt, p);
    }
    if let Some(cycle) = cycle(&pl.order) {
        p.push(format!(
            "Pipeline `{name}`: the tasks form a cycle: {}",
            cycle.join(" → ")
        ));
    }
}

/// One Pipeline under check: what its tasks may name, and what the first pass over them learnt.
struct PipelineLint<'a> {
    name: &'a str,
    params: BTreeSet<&'a str>,
    workspaces: BTreeSet<&'a str>,
    main_names: BTreeSet<&'a str>,
    /// Pipeline task name → its Task's declared results.
    results: BTreeMap<&'a str, BTreeSet<&'a str>>,
    /// Pipeline task name → the tasks it runs after (`runAfter`, and the results it reads).
    order: BTreeMap<&'a str, BTreeSet<&'a str>>,
}

impl<'a> PipelineLint<'a> {
    fn here(&self, pt: &Value) -> String {
        let tn = pt["name"].as_str().unwrap_or("");
        format!("Pipeline `{}`, task `{tn}`", self.name)
    }

    /// A pipeline task's name, its Task, the params and workspaces it binds, its `runAfter`.
    fn task(
        &mut self,
        is_finally: bool,
        pt: &'a Value,
        tasks: &BTreeMap<&str, &'a Value>,
        p: &mut Vec<String>,
    ) {
        let tn = pt["name"].as_str().unwrap_or("");
        let here = self.here(pt);
        if !dns_label(tn) {
            p.push(format!("{here}: the name is not a DNS-1123 label"));
        }
        if self.results.contains_key(tn) {
            p.push(format!("{here}: the name is used twice"));
        }
        let task_ref = pt["taskRef"]["name"].as_str().unwrap_or("");
        let Some(t) = tasks.get(task_ref) else {
            p.push(format!("{here}: Task `{task_ref}` is not defined"));
            return;
        };
        let ts = &t["spec"];
        self.results
            .insert(tn, names(&ts["results"]).into_iter().collect());
        let mut given: BTreeSet<&str> = names(&pt["params"]).into_iter().collect();
        given.extend(names(&pt["matrix"]["params"]));
        check_params(
            &here,
            &format!("Task `{task_ref}`"),
            &ts["params"],
            &given,
            p,
        );
        self.workspace_bindings(&here, pt, ts, p);
        let after: BTreeSet<&str> = pt["runAfter"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if is_finally && !after.is_empty() {
            p.push(format!("{here}: a finally task cannot have runAfter"));
        }
        self.order.entry(tn).or_default().extend(after);
    }

    /// Each workspace the task binds is the Pipeline's; each its Task declares is bound.
    fn workspace_bindings(&self, here: &str, pt: &Value, ts: &Value, p: &mut Vec<String>) {
        let bound: BTreeSet<&str> = names(&pt["workspaces"]).into_iter().collect();
        for w in pt["workspaces"].as_array().into_iter().flatten() {
            let to = w["workspace"].as_str().unwrap_or("");
            if !self.workspaces.contains(to) {
                p.push(format!(
                    "{here}: workspace `{to}` is not a Pipeline workspace"
                ));
            }
        }
        for w in names(&ts["workspaces"]) {
            if !bound.contains(w) {
                p.push(format!("{here}: Task workspace `{w}` is not bound"));
            }
        }
    }

    /// `runAfter` names main tasks; every `$(…)` in params, matrix and `when` is known here (a
    /// result read orders the task after its producer).
    fn references(&mut self, is_finally: bool, pt: &'a Value, p: &mut Vec<String>) {
        let tn = pt["name"].as_str().unwrap_or("");
        let here = self.here(pt);
        for a in self.order.get(tn).cloned().unwrap_or_default() {
            if !self.main_names.contains(a) {
                p.push(format!("{here}: runAfter `{a}` is not a task"));
            }
        }
        let mut all = Vec::new();
        for f in ["params", "matrix", "when"] {
            strings(&pt[f], &mut all);
        }
        for text in all {
            for var in variables(text) {
                let read = pipeline_var(
                    var,
                    is_finally,
                    &self.params,
                    &self.main_names,
                    &self.results,
                );
                match read {
                    Some(Some(t)) if !is_finally => {
                        self.order.entry(tn).or_default().insert(t);
                    }
                    Some(_) => {}
                    None => p.push(format!(
                        "{here}: `$({var})` is not a variable Tekton knows here"
                    )),
                }
            }
        }
    }
}

/// Whether a pipeline task may read `$(var)`: `None` when it may not, `Some(Some(task))` when
/// it reads a result of that main task (which orders it after the task), else `Some(None)`.
fn pipeline_var<'v>(
    var: &'v str,
    is_finally: bool,
    params: &BTreeSet<&str>,
    main_names: &BTreeSet<&str>,
    results: &BTreeMap<&str, BTreeSet<&str>>,
) -> Option<Option<&'v str>> {
    if let Some(x) = var.strip_prefix("params.") {
        return params.contains(x).then_some(None);
    }
    let Some(x) = var.strip_prefix("tasks.") else {
        let context = matches!(
            var,
            "context.pipelineRun.uid"
                | "context.pipelineRun.name"
                | "context.pipelineRun.namespace"
        );
        return context.then_some(None);
    };
    if x == "status" {
        return is_finally.then_some(None);
    }
    let mut parts = x.splitn(3, '.');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(t), Some("results"), Some(r))
            if main_names.contains(t) && results.get(t).is_some_and(|rs| rs.contains(r)) =>
        {
            Some(Some(t))
        }
        _ => None,
    }
}

/// A cycle in `after` (task → the tasks it runs after), if any; iterative depth-first search.
fn cycle<'a>(after: &BTreeMap<&'a str, BTreeSet<&'a str>>) -> Option<Vec<&'a str>> {
    // 0 unvisited, 1 on the stack, 2 done.
    let mut state: BTreeMap<&str, u8> = BTreeMap::new();
    for &start in after.keys() {
        if state.get(start).copied().unwrap_or(0) != 0 {
            continue;
        }
        let mut stack: Vec<(&str, Vec<&str>)> =
            vec![(start, after[start].iter().copied().collect())];
        state.insert(start, 1);
        while let Some((node, next)) = stack.last_mut() {
            match next.pop() {
                Some(n) => match state.get(n).copied().unwrap_or(0) {
                    0 => {
                        state.insert(n, 1);
                        let succ = after.get(n).map(|s| s.iter().copied().collect());
                        stack.push((n, succ.unwrap_or_default()));
                    }
                    1 => {
                        let mut path: Vec<&str> = stack.iter().map(|(x, _)| *x).collect();
                        let from = path.iter().position(|x| *x == n).unwrap_or(0);
                        path.drain(..from);
                        path.push(n);
                        return Some(path);
                    }
                    _ => {}
                },
                None => {
                    state.insert(node, 2);
                    stack.pop();
                }
            }
        }
    }
    None
}

fn pipeline_run(doc: &Value, pipelines: &BTreeMap<&str, &Value>, p: &mut Vec<String>) {
    let name = doc["metadata"]["name"].as_str().unwrap_or("");
    let here = format!("PipelineRun `{name}`");
    let spec = &doc["spec"];
    let pref = spec["pipelineRef"]["name"].as_str().unwrap_or("");
    let Some(pl) = pipelines.get(pref) else {
        p.push(format!("{here}: Pipeline `{pref}` is not defined"));
        return;
    };
    let ps = &pl["spec"];
    let given: BTreeSet<&str> = names(&spec["params"]).into_iter().collect();
    check_params(&here, "the Pipeline", &ps["params"], &given, p);
    let bound: BTreeSet<&str> = names(&spec["workspaces"]).into_iter().collect();
    for w in names(&ps["workspaces"]) {
        if !bound.contains(w) {
            p.push(format!("{here}: workspace `{w}` is not bound"));
        }
    }
    let tasks: BTreeSet<&str> = ["tasks", "finally"]
        .iter()
        .flat_map(|k| names(&ps[*k]))
        .collect();
    for s in spec["taskRunSpecs"].as_array().into_iter().flatten() {
        let t = s["pipelineTaskName"].as_str().unwrap_or("");
        if !tasks.contains(t) {
            p.push(format!(
                "{here}: taskRunSpecs names `{t}`, not a pipeline task"
            ));
        }
    }
    check_timeouts(&here, &spec["timeouts"], p);
}

/// The run's `timeouts` as Tekton's validation reads them (0 is no limit): `tasks` and `finally`
/// within `pipeline` unless it is 0, neither 0 under a limited `pipeline`, and, when both are
/// set, their sum within `pipeline`, which Tekton checks even when `pipeline` is 0.
fn check_timeouts(here: &str, t: &Value, p: &mut Vec<String>) {
    let mut secs = |k: &str| match &t[k] {
        Value::Null => None,
        v => {
            let s = v
                .as_str()
                .and_then(|s| s.strip_suffix('s')?.parse::<u64>().ok());
            if s.is_none() {
                p.push(format!(
                    "{here}: timeouts.{k} `{v}` is not whole seconds (`90s`)"
                ));
            }
            s
        }
    };
    let (pipeline, tasks, finally) = (secs("pipeline"), secs("tasks"), secs("finally"));
    let limit = pipeline.unwrap_or(3600);
    for (k, v) in [("tasks", tasks), ("finally", finally)] {
        match v {
            Some(v) if limit != 0 && (v > limit || v == 0) => p.push(format!(
                "{here}: timeouts.{k} ({v}s) must be within timeouts.pipeline ({limit}s)"
            )),
            _ => {}
        }
    }
    if let (Some(a), Some(b)) = (tasks, finally)
        && a + b > limit
    {
        p.push(format!(
            "{here}: timeouts.tasks + timeouts.finally ({a}s + {b}s) must be within timeouts.pipeline ({limit}s)"
        ));
    }
}

/// Every param given is declared by `owner`, and every declared param without a default is given.
fn check_params(
    here: &str,
    owner: &str,
    declared: &Value,
    given: &BTreeSet<&str>,
    p: &mut Vec<String>,
) {
    let names_declared: BTreeSet<&str> = names(declared).into_iter().collect();
    for g in given {
        if !names_declared.contains(g) {
            p.push(format!("{here}: param `{g}` is not declared by {owner}"));
        }
    }
    for d in declared.as_array().into_iter().flatten() {
        let n = d["name"].as_str().unwrap_or("");
        if d.get("default").is_none() && !given.contains(n) {
            p.push(format!("{here}: {owner} needs param `{n}`"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn docs(run_after: &str, var: &str) -> Vec<Value> {
        let task = json!({"apiVersion": "tekton.dev/v1", "kind": "Task", "metadata": {"name": "t"},
            "spec": {"params": [{"name": "x"}], "results": [{"name": "r"}],
                     "steps": [{"name": "s", "image": "alpine", "args": [var]}]}});
        let pl = json!({"apiVersion": "tekton.dev/v1", "kind": "Pipeline", "metadata": {"name": "p"},
        "spec": {"tasks": [
            {"name": "a", "taskRef": {"name": "t"}, "params": [{"name": "x", "value": "$(tasks.b.results.r)"}]},
            {"name": "b", "taskRef": {"name": "t"}, "params": [{"name": "x", "value": "1"}], "runAfter": [run_after]},
        ]}});
        vec![task, pl]
    }

    #[test]
    fn timeouts_are_checked_as_tekton_validates_them() {
        let check = |t: Value| {
            let mut p = Vec::new();
            check_timeouts("run", &t, &mut p);
            p
        };
        assert!(check(json!({"pipeline": "0s"})).is_empty());
        assert!(check(json!({"pipeline": "90s"})).is_empty());
        assert!(check(json!({"pipeline": "0s", "tasks": "90s"})).is_empty());
        assert!(check(json!({"pipeline": "90s", "tasks": "60s", "finally": "30s"})).is_empty());
        let sum = check(json!({"pipeline": "0s", "tasks": "90s", "finally": "0s"}));
        assert!(sum[0].contains("90s + 0s"), "{sum:?}");
        assert_eq!(check(json!({"pipeline": "60s", "tasks": "90s"})).len(), 1);
        assert_eq!(check(json!({"pipeline": "60s", "finally": "0s"})).len(), 1);
        assert_eq!(check(json!({"pipeline": "1h"})).len(), 1);
    }

    #[test]
    fn clean_documents_pass() {
        let d = docs("c", "$(params.x)");
        let p = lint(&d);
        // `c` does not exist; that is the only problem.
        assert_eq!(p.len(), 1, "{p:#?}");
        assert!(p[0].contains("runAfter `c`"));
    }

    #[test]
    fn cycles_and_unknown_variables_are_found() {
        let p = lint(&docs("a", "$(params.y) $(inputs.params.x)"));
        assert!(p.iter().any(|m| m.contains("cycle")), "{p:#?}");
        assert!(p.iter().any(|m| m.contains("$(params.y)")), "{p:#?}");
        assert!(p.iter().any(|m| m.contains("$(inputs.params.x)")), "{p:#?}");
    }
}
