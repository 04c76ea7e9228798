//! The evaluation harness (`couler generate --eval TASKS`): each task's description generated
//! under the full pipeline and each ablation of the paper's Table II, and checked against the
//! task's structural expectations (never exact text); pass@1 per variant.

use crate::lake;
use crate::pipeline::{self, Asker, Config};
use crate::retrieve::Retriever;
use couler_ir::spec::{self, Format};
use couler_ir::{Graph, Workflow};
use serde::Deserialize;

/// One task: a description and what its workflow must have.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Task {
    pub description: String,
    #[serde(default)]
    pub expect: Expect,
}

/// Structural expectations; absent ones are not checked.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Expect {
    pub min_steps: Option<usize>,
    pub max_steps: Option<usize>,
    /// Step kinds that must occur: container, script, resource, job, workflow, suspend.
    #[serde(default)]
    pub kinds: Vec<String>,
    /// At least this many dependency edges.
    pub min_edges: Option<usize>,
    /// Some step has a `when` / a `map` / a `repeat`.
    #[serde(default)]
    pub condition: bool,
    #[serde(default)]
    pub map: bool,
    #[serde(default)]
    pub repeat: bool,
    /// Workflow parameters that must exist.
    #[serde(default)]
    pub params: Vec<String>,
}

/// The pipeline's variants: the full method and one stage left out each.
pub const VARIANTS: [(&str, bool, bool, bool); 4] = [
    ("full", true, true, true),
    ("no-decompose", false, true, true),
    ("no-retrieve", true, false, true),
    ("no-calibrate", true, true, false),
];

/// Reads a task file (YAML: a list of tasks); an error names the file.
pub fn read_tasks(file: &str, text: &str) -> Result<Vec<Task>, String> {
    let tasks: Vec<Task> = serde_norway::from_str(text).map_err(|e| {
        format!("{file}: {e}; a task file is a list of `description:` with an optional `expect:` (docs/generate.md)")
    })?;
    if tasks.is_empty() {
        return Err(format!("{file}: no tasks"));
    }
    Ok(tasks)
}

/// What `wf` misses of `expect`.
pub fn misses(wf: &Workflow, expect: &Expect) -> Vec<String> {
    let mut out = Vec::new();
    let n = wf.steps.len();
    if expect.min_steps.is_some_and(|m| n < m) || expect.max_steps.is_some_and(|m| n > m) {
        out.push(format!("{n} steps"));
    }
    for kind in &expect.kinds {
        if !wf.steps.iter().any(|s| s.kind.key() == kind) {
            out.push(format!("no {kind} step"));
        }
    }
    let edges = Graph::new(wf).edge_count();
    if expect.min_edges.is_some_and(|m| edges < m) {
        out.push(format!("{edges} edges"));
    }
    let any = |f: fn(&couler_ir::Step) -> bool| wf.steps.iter().any(f);
    if expect.condition && !any(|s| s.when.is_some()) {
        out.push("no condition".into());
    }
    if expect.map && !any(|s| s.map.is_some()) {
        out.push("no map".into());
    }
    if expect.repeat && !any(|s| s.repeat.is_some()) {
        out.push("no repeat".into());
    }
    for p in &expect.params {
        if !wf.params.iter().any(|q| &q.name == p) {
            out.push(format!("no param {p}"));
        }
    }
    out
}

/// Runs every task under every variant; returns the Markdown report (one row a variant).
pub fn run(
    tasks: &[Task],
    base: &Config,
    lake: &[lake::Entry],
    retriever: &dyn Retriever,
    asker: &mut Asker,
) -> String {
    let mut report = String::from("| variant | passed | pass@1 |\n|---|---|---|\n");
    for (name, decompose, retrieve, calibrate) in VARIANTS {
        let config = Config {
            decompose,
            retrieve,
            calibrate,
            ..base.clone()
        };
        let mut passed = 0;
        for (i, task) in tasks.iter().enumerate() {
            let verdict = match pipeline::run(&task.description, &config, lake, retriever, asker) {
                Err(e) => format!("error: {e}"),
                Ok(o) if !o.check.is_valid() => format!("{} error(s)", o.check.errors.len()),
                Ok(o) => match spec::load(&o.spec, Format::Yaml) {
                    Ok((wf, _)) => misses(&wf, &task.expect).join(", "),
                    Err(_) => "invalid".into(),
                },
            };
            let ok = verdict.is_empty();
            passed += usize::from(ok);
            let shown = if ok { "pass" } else { verdict.as_str() };
            (asker.progress)(&format!("eval {name} task {}: {shown}", i + 1));
        }
        let rate = 100.0 * passed as f64 / tasks.len() as f64;
        report.push_str(&format!(
            "| {name} | {passed}/{} | {rate:.1}% |\n",
            tasks.len()
        ));
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expectations_are_checked_on_structure() {
        let text = "apiVersion: couler.dev/v1alpha1\nkind: Workflow\nname: w\nparams:\n- name: n\n  default: '1'\nsteps:\n- name: a\n  container:\n    image: alpine:3.19\n    command: [echo, hi]\n- name: b\n  dependsOn: [a]\n  container:\n    image: alpine:3.19\n    command: [echo, hi]\n";
        let (wf, _) = spec::load(text, Format::Yaml).unwrap();
        let met = read_tasks("t.yaml", "- description: d\n  expect: {minSteps: 2, kinds: [container], minEdges: 1, params: [n]}\n").unwrap();
        assert!(misses(&wf, &met[0].expect).is_empty());
        let unmet = read_tasks("t.yaml", "- description: d\n  expect: {maxSteps: 1, kinds: [script], minEdges: 2, condition: true, map: true, repeat: true, params: [m]}\n").unwrap();
        assert_eq!(
            misses(&wf, &unmet[0].expect),
            [
                "2 steps",
                "no script step",
                "1 edges",
                "no condition",
                "no map",
                "no repeat",
                "no param m"
            ]
        );
        let err = read_tasks("t.yaml", "- description: d\n  expect: {steps: 2}\n").unwrap_err();
        assert!(
            err.starts_with("t.yaml: ") && err.contains("steps"),
            "{err}"
        );
    }
}
