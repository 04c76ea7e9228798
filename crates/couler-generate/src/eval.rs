//! The evaluation harness (`couler generate eval --tasks FILE`): each task's description generated
//! under the full pipeline and each ablation of the paper's Table II, and checked against the
//! task's structural expectations (never exact text), `samples` times each; pass@1 and pass@k
//! per variant with the unbiased estimator of Chen et al. (2021), and pass@1 per difficulty.

use crate::lake;
use crate::pipeline::{self, Asker, Config};
use crate::retrieve::Retriever;
use couler_ir::spec::{self, Format};
use couler_ir::{Graph, Workflow};
use serde::Deserialize;
use serde_json::{Value, json};

/// One task: a description and what its workflow must have.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Task {
    pub description: String,
    /// How hard the task is; reported separately (optional outside the shipped task set).
    #[serde(default)]
    pub difficulty: Option<Difficulty>,
    #[serde(default)]
    pub expect: Expect,
    /// A hand-written spec that meets `expect` (the task set's own check; never shown to the
    /// model).
    #[serde(default)]
    pub reference: Option<String>,
}

/// A task's difficulty.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Difficulty {
    Easy,
    Medium,
    Hard,
}

impl Difficulty {
    pub const ALL: [Difficulty; 3] = [Difficulty::Easy, Difficulty::Medium, Difficulty::Hard];

    pub fn name(self) -> &'static str {
        match self {
            Difficulty::Easy => "easy",
            Difficulty::Medium => "medium",
            Difficulty::Hard => "hard",
        }
    }
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
    /// The workflow has an exit handler (`onExit`).
    #[serde(default)]
    pub exit_handler: bool,
    /// Some step retries (its own `retry`, or `defaults.retry`).
    #[serde(default)]
    pub retry: bool,
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
        format!("{file}: {e}; a task file is a list of `description:` with optional `difficulty:` (easy, medium or hard), `expect:` and `reference:` (docs/generate.md, \"Evaluation\")")
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
    if expect.exit_handler && wf.on_exit.is_empty() {
        out.push("no exit handler".into());
    }
    if expect.retry && wf.defaults.retry.is_none() && !any(|s| s.retry.is_some()) {
        out.push("no retry".into());
    }
    out
}

/// The unbiased estimator of pass@k for one task (Chen et al. 2021): of `n` samples `c` were
/// correct; the chance that `k` drawn without replacement hold a correct one,
/// `1 - C(n-c, k) / C(n, k)`, computed as a product so that large `n` does not overflow.
/// `k` is clamped to `1..=n`; no samples (`n = 0`) is 0.
pub fn pass_at_k(n: usize, c: usize, k: usize) -> f64 {
    let c = c.min(n);
    if n == 0 || c == 0 {
        return 0.0;
    }
    let k = k.clamp(1, n);
    if n - c < k {
        return 1.0;
    }
    let none: f64 = (n - c + 1..=n).map(|i| 1.0 - k as f64 / i as f64).product();
    1.0 - none
}

/// One variant's results.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub variant: String,
    pub tasks: usize,
    /// Samples per task (`n`), and `k` of pass@k (equal: every sample drawn).
    pub samples: usize,
    /// Correct samples, over all tasks.
    pub correct: usize,
    /// Mean over tasks of pass@1 and pass@k.
    pub pass_at_1: f64,
    pub pass_at_k: f64,
    /// Mean pass@1 of the tasks of each difficulty (`None`: no task of it).
    pub by_difficulty: Vec<(Difficulty, Option<f64>)>,
}

/// The sampling temperature of every question when `samples > 1` (Chen et al. sample at 0.8
/// for pass@k); with one sample the stages keep their own (greedy) settings.
pub const SAMPLE_TEMPERATURE: f32 = 0.8;

/// Runs every task `samples` times under every variant. With more than one sample, sample `s`
/// (from 0) asks every question with seed `s` at [`SAMPLE_TEMPERATURE`].
pub fn run(
    tasks: &[Task],
    samples: usize,
    base: &Config,
    lake: &[lake::Entry],
    retriever: &dyn Retriever,
    asker: &mut Asker,
) -> Vec<Row> {
    let samples = samples.max(1);
    let seed = asker.seed;
    let mut rows = Vec::new();
    for (name, decompose, retrieve, calibrate) in VARIANTS {
        let config = Config {
            decompose,
            retrieve,
            calibrate,
            ..base.clone()
        };
        // Correct samples per task.
        let mut correct = vec![0; tasks.len()];
        for (i, task) in tasks.iter().enumerate() {
            for s in 0..samples {
                asker.seed = (samples > 1).then_some(s as u64);
                let verdict = verdict(task, &config, lake, retriever, asker);
                let ok = verdict.is_empty();
                correct[i] += usize::from(ok);
                let shown = if ok { "pass" } else { verdict.as_str() };
                let sample = if samples > 1 {
                    format!(" sample {}", s + 1)
                } else {
                    String::new()
                };
                (asker.progress)(&format!("eval {name} task {}{sample}: {shown}", i + 1));
            }
        }
        asker.seed = seed;
        let mean = |pick: &dyn Fn(usize) -> bool, k: usize| -> Option<f64> {
            let chosen: Vec<f64> = (0..tasks.len())
                .filter(|&i| pick(i))
                .map(|i| pass_at_k(samples, correct[i], k))
                .collect();
            (!chosen.is_empty()).then(|| chosen.iter().sum::<f64>() / chosen.len() as f64)
        };
        rows.push(Row {
            variant: name.to_string(),
            tasks: tasks.len(),
            samples,
            correct: correct.iter().sum(),
            pass_at_1: mean(&|_| true, 1).unwrap_or(0.0),
            pass_at_k: mean(&|_| true, samples).unwrap_or(0.0),
            by_difficulty: Difficulty::ALL
                .iter()
                .map(|&d| (d, mean(&|i| tasks[i].difficulty == Some(d), 1)))
                .collect(),
        });
    }
    rows
}

/// Why one sample of `task` fails (empty: it passes).
fn verdict(
    task: &Task,
    config: &Config,
    lake: &[lake::Entry],
    retriever: &dyn Retriever,
    asker: &mut Asker,
) -> String {
    match pipeline::run(&task.description, config, lake, retriever, asker) {
        Err(e) => format!("error: {e}"),
        Ok(o) if !o.check.is_valid() => format!("{} error(s)", o.check.errors.len()),
        Ok(o) => match spec::load(&o.spec, Format::Yaml) {
            Ok((wf, _)) => misses(&wf, &task.expect).join(", "),
            Err(_) => "invalid".into(),
        },
    }
}

fn percent(rate: f64) -> String {
    format!("{:.1}%", 100.0 * rate)
}

/// The Markdown report: one row a variant.
pub fn markdown(rows: &[Row]) -> String {
    let k = rows.first().map_or(1, |r| r.samples);
    let mut report = format!(
        "| variant | passed | pass@1 | pass@{k} | easy pass@1 | medium pass@1 | hard pass@1 |\n|---|---|---|---|---|---|---|\n"
    );
    for row in rows {
        let by: Vec<String> = row
            .by_difficulty
            .iter()
            .map(|(_, r)| r.map_or("-".into(), percent))
            .collect();
        report.push_str(&format!(
            "| {} | {}/{} | {} | {} | {} |\n",
            row.variant,
            row.correct,
            row.tasks * row.samples,
            percent(row.pass_at_1),
            percent(row.pass_at_k),
            by.join(" | ")
        ));
    }
    report
}

/// The JSON report: a list, one object a variant (rates as fractions).
pub fn json(rows: &[Row]) -> Value {
    Value::Array(
        rows.iter()
            .map(|row| {
                let by: serde_json::Map<String, Value> = row
                    .by_difficulty
                    .iter()
                    .map(|(d, r)| (d.name().to_string(), json!(r)))
                    .collect();
                json!({
                    "variant": row.variant,
                    "tasks": row.tasks,
                    "samples": row.samples,
                    "correct": row.correct,
                    "k": row.samples,
                    "pass_at_1": row.pass_at_1,
                    "pass_at_k": row.pass_at_k,
                    "pass_at_1_by_difficulty": by,
                })
            })
            .collect(),
    )
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

    #[test]
    fn exit_handlers_and_retries_are_checked() {
        let text = "apiVersion: couler.dev/v1alpha1\nkind: Workflow\nname: w\nsteps:\n- name: a\n  container:\n    image: alpine:3.19\n    command: [echo, hi]\n";
        let (plain, _) = spec::load(text, Format::Yaml).unwrap();
        let expect = Expect {
            exit_handler: true,
            retry: true,
            ..Expect::default()
        };
        assert_eq!(misses(&plain, &expect), ["no exit handler", "no retry"]);
        let with = format!(
            "{text}  retry: {{limit: 2}}\nonExit:\n  name: notify\n  container:\n    image: alpine:3.19\n    command: [echo, '{{{{workflow.status}}}}']\n"
        );
        let (wf, _) = spec::load(&with, Format::Yaml).unwrap();
        assert!(misses(&wf, &expect).is_empty());
        let defaults = format!("{text}defaults:\n  retry: {{limit: 1}}\n");
        let (wf, _) = spec::load(&defaults, Format::Yaml).unwrap();
        assert_eq!(misses(&wf, &expect), ["no exit handler"]);
    }

    #[test]
    fn difficulty_is_one_of_three_words() {
        let tasks = read_tasks(
            "t.yaml",
            "- description: d\n  difficulty: hard\n  reference: x\n",
        )
        .unwrap();
        assert_eq!(tasks[0].difficulty, Some(Difficulty::Hard));
        let err = read_tasks("t.yaml", "- description: d\n  difficulty: extreme\n").unwrap_err();
        assert!(
            err.starts_with("t.yaml: ") && err.contains("easy, medium or hard"),
            "{err}"
        );
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn pass_at_k_is_the_unbiased_estimator() {
        assert_eq!(pass_at_k(5, 0, 1), 0.0);
        assert_eq!(pass_at_k(5, 0, 5), 0.0);
        assert_eq!(pass_at_k(5, 5, 1), 1.0);
        assert_eq!(pass_at_k(5, 5, 5), 1.0);
        assert!(close(pass_at_k(5, 1, 1), 0.2));
        // 1 - C(7,5)/C(10,5) = 1 - 21/252
        assert!(close(pass_at_k(10, 3, 5), 1.0 - 21.0 / 252.0));
        // pass@1 is c/n whatever n; pass@n is 1 once any sample is correct.
        assert!(close(pass_at_k(8, 3, 1), 3.0 / 8.0));
        assert_eq!(pass_at_k(8, 1, 8), 1.0);
        // 1 - C(1,2)/C(3,2) = 1: with one wrong sample, any two hold a correct one.
        assert_eq!(pass_at_k(3, 2, 2), 1.0);
        // 1 - C(2,2)/C(3,2) = 2/3
        assert!(close(pass_at_k(3, 1, 2), 2.0 / 3.0));
        // Out of range: no samples, c > n, k > n.
        assert_eq!(pass_at_k(0, 0, 1), 0.0);
        assert_eq!(pass_at_k(2, 9, 1), 1.0);
        assert_eq!(pass_at_k(2, 1, 9), 1.0);
        // Large n does not overflow.
        assert!(close(pass_at_k(200, 10, 1), 0.05));
    }

    #[test]
    fn the_reports_carry_every_column() {
        let rows = vec![Row {
            variant: "full".into(),
            tasks: 2,
            samples: 2,
            correct: 3,
            pass_at_1: 0.75,
            pass_at_k: 1.0,
            by_difficulty: vec![
                (Difficulty::Easy, Some(1.0)),
                (Difficulty::Medium, Some(0.5)),
                (Difficulty::Hard, None),
            ],
        }];
        let md = markdown(&rows);
        assert!(
            md.starts_with("| variant | passed | pass@1 | pass@2 | easy pass@1 |"),
            "{md}"
        );
        assert!(
            md.contains("| full | 3/4 | 75.0% | 100.0% | 100.0% | 50.0% | - |"),
            "{md}"
        );
        let j = json(&rows);
        assert_eq!(j[0]["variant"], "full");
        assert_eq!(j[0]["k"], 2);
        assert_eq!(j[0]["tasks"], 2);
        assert_eq!(j[0]["pass_at_1"], 0.75);
        assert_eq!(j[0]["pass_at_k"], 1.0);
        assert_eq!(j[0]["pass_at_1_by_difficulty"]["hard"], Value::Null);
    }
}
