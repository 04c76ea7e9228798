//! Differential test of conditions: for every example and for generated workflows, each `when`
//! (and `repeat.while`) is decided by the local runtime's own evaluation (`couler_run::render`)
//! and by Argo's compiled YAML evaluated with the libraries Argo uses (govaluate, expr, sprig)
//! in `tests/argo_expr` (built by `scripts/go-deps`), given the same step outputs. Any
//! difference fails with the workflow and the values.

#[path = "support/generated.rs"]
mod generated;

use couler_backends::argo::Argo;
use couler_backends::{Backend, Options};
use couler_ir::{Expr, Reference, Workflow};
use couler_run::outcome::{Outcome, StepOutputs, StepStatus};
use couler_run::render::{Context, json_text};
use generated::{VALUES, conds, generated, rng};
use proptest::test_runner::{Config, TestRng, TestRunner};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

/// The Go harness, one process for the whole test.
struct Harness {
    _child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Harness {
    /// The harness, or `None` when the opt-out `COULER_SKIP_ARGO_HARNESS=1` is set and it is absent.
    fn start() -> Option<Harness> {
        let path = std::env::var_os("COULER_ARGO_EXPR_HARNESS").map(PathBuf::from);
        let Some(path) = path.filter(|p| p.is_file()) else {
            if std::env::var("COULER_SKIP_ARGO_HARNESS").as_deref() == Ok("1") {
                println!("skipping: COULER_SKIP_ARGO_HARNESS=1 and no harness");
                return None;
            }
            panic!(
                "COULER_ARGO_EXPR_HARNESS does not name the Argo expression harness: run \
                 `export COULER_ARGO_EXPR_HARNESS=$(bash scripts/go-deps)` (installs Go, govaluate, \
                 expr and sprig from Debian and builds it), or set COULER_SKIP_ARGO_HARNESS=1 to skip"
            );
        };
        let mut child = Command::new(&path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Some(Harness {
            _child: child,
            stdin,
            stdout,
        })
    }

    /// The harness's answer to one request of `kind` (`when` or `text`).
    fn ask(&mut self, kind: &str, text: &str, values: &BTreeMap<String, String>) -> Value {
        let req = json!({"kind": kind, "text": text, "values": values});
        writeln!(self.stdin, "{req}").unwrap();
        self.stdin.flush().unwrap();
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        serde_json::from_str(&line).unwrap()
    }

    /// Argo's decision for a compiled `when`, or the error that would make the node Error.
    fn when(&mut self, text: &str, values: &BTreeMap<String, String>) -> Result<bool, String> {
        let resp = self.ask("when", text, values);
        match resp["ok"].as_bool() {
            Some(true) => Ok(resp["when"].as_bool().unwrap()),
            _ => Err(resp["error"].as_str().unwrap_or_default().to_string()),
        }
    }

    /// An argument's value as Argo substitutes it, every tag resolved.
    fn text(&mut self, text: &str, values: &BTreeMap<String, String>) -> String {
        let resp = self.ask("text", text, values);
        let out = resp["text"]
            .as_str()
            .unwrap_or_else(|| panic!("{text}: {resp}"));
        assert!(
            out != text || !text.contains("{{"),
            "unresolved tag in {text}"
        );
        out.to_string()
    }
}

/// The outputs every step is given in one assignment.
#[derive(Clone, Debug)]
struct Outputs {
    result: String,
    params: BTreeMap<String, String>,
    exit_code: i32,
}

/// One condition to decide, with where it sits in the compiled YAML.
struct Case<'a> {
    step: &'a str,
    cond: &'a Expr,
    /// The compiled `when`.
    compiled: String,
    /// `tasks` (a DAG task) or `steps` (the loop's `again` step: the step itself is `run`).
    in_loop: bool,
    /// The `withItems` of the task holding the `when`.
    items: Vec<Value>,
    /// Set when the `when` sits on the loop task inside the step's own template (`S-map`).
    inner: Option<Inner>,
}

/// A `when` inside the step's own template: it sees only `workflow.*`, `item` and the
/// template's `inputs.parameters`, which the calling task passes as arguments.
struct Inner {
    /// The calling task's arguments (name, value text in the workflow's DAG scope).
    args: Vec<(String, String)>,
    /// The calling task's own `when` (a guard), decided in the workflow's DAG scope first.
    outer: Option<String>,
}

fn compiled_doc(wf: &Workflow) -> Value {
    let out = Argo
        .compile(wf, &Options::default())
        .unwrap_or_else(|e| panic!("{}: {e}", wf.name));
    let yaml = out.files.into_values().next().unwrap();
    let doc: Value = serde_norway::from_str(&yaml).unwrap();
    // A CronWorkflow holds the workflow's spec under `workflowSpec`.
    match doc["kind"].as_str() {
        Some("CronWorkflow") => {
            json!({"metadata": doc["metadata"], "spec": doc["spec"]["workflowSpec"]})
        }
        _ => doc,
    }
}

fn cases<'a>(wf: &'a Workflow, doc: &Value) -> Vec<Case<'a>> {
    let templates = doc["spec"]["templates"].as_array().unwrap();
    let entry = doc["spec"]["entrypoint"].as_str().unwrap();
    let task = |tmpl: &str, name: &str| -> Option<Value> {
        let t = templates.iter().find(|t| t["name"] == tmpl)?;
        let list = t["dag"]["tasks"].as_array().cloned().or_else(|| {
            t["steps"].as_array().map(|g| {
                g.iter()
                    .flat_map(|s| s.as_array().cloned().unwrap_or_default())
                    .collect()
            })
        })?;
        list.into_iter().find(|x| x["name"] == name)
    };
    let mut out = Vec::new();
    for s in &wf.steps {
        if let Some(cond) = &s.when {
            let t = task(entry, &s.name).unwrap_or_else(|| panic!("no task {}", s.name));
            // A mapped step's `when` that filters instances sits on the loop task in `S-map`.
            let looped = (t["template"].as_str())
                .and_then(|tmpl| task(tmpl, &s.name))
                .filter(|x| x.get("when").is_some());
            let inner = looped.is_some().then(|| Inner {
                args: (t["arguments"]["parameters"]
                    .as_array()
                    .into_iter()
                    .flatten())
                .map(|p| {
                    let value = p["value"].as_str().unwrap_or_else(|| panic!("{p}"));
                    (p["name"].as_str().unwrap().to_string(), value.to_string())
                })
                .collect(),
                outer: t["when"].as_str().map(str::to_string),
            });
            let at = looped.unwrap_or(t);
            let compiled = at["when"].as_str().unwrap_or_else(|| {
                panic!(
                    "{}: step `{}` has a `when`, but neither its task nor the loop task in its \
                     template has one:\n{at:#}",
                    wf.name, s.name
                )
            });
            out.push(Case {
                step: &s.name,
                cond,
                compiled: compiled.to_string(),
                in_loop: false,
                items: at["withItems"].as_array().cloned().unwrap_or_default(),
                inner,
            });
        }
        if let Some(rep) = s.repeat.as_deref() {
            let mut loop_name = task(entry, &s.name).unwrap()["template"]
                .as_str()
                .unwrap()
                .to_string();
            // A memoized loop is called through its `S-cached` wrapper (docs/argo.md, Cache).
            if let Some(inner) = task(&loop_name, "loop") {
                loop_name = inner["template"].as_str().unwrap().to_string();
            }
            let again = task(&loop_name, "again").unwrap();
            out.push(Case {
                step: &s.name,
                cond: &rep.condition,
                compiled: again["when"].as_str().unwrap().to_string(),
                in_loop: true,
                items: Vec::new(),
                inner: None,
            });
        }
    }
    out
}

/// Argo's variables for a decision: the workflow's arguments as compiled, and each finished
/// step's outputs under `tasks.S` (or `steps.run` for the loop's own step).
fn argo_values(
    doc: &Value,
    case: &Case,
    outputs: &BTreeMap<String, Outputs>,
    item: Option<&Value>,
) -> BTreeMap<String, String> {
    let mut v = BTreeMap::new();
    for p in doc["spec"]["arguments"]["parameters"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let value = p["value"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| json_text(&p["value"]));
        v.insert(
            format!("workflow.parameters.{}", p["name"].as_str().unwrap()),
            value,
        );
    }
    let name = doc["metadata"]["generateName"].as_str().unwrap_or_default();
    v.insert("workflow.name".into(), format!("{name}x7k2p"));
    v.insert(
        "workflow.uid".into(),
        "3f1c0a52-5f2e-4d53-a8f1-0d7d8e6b9c11".into(),
    );
    for (s, o) in outputs {
        let at = if case.in_loop && s == case.step {
            "steps.run".to_string()
        } else if s == case.step {
            continue;
        } else {
            format!("tasks.{s}")
        };
        v.insert(format!("{at}.status"), "Succeeded".into());
        v.insert(format!("{at}.exitCode"), o.exit_code.to_string());
        v.insert(format!("{at}.outputs.result"), o.result.clone());
        for (n, x) in &o.params {
            v.insert(format!("{at}.outputs.parameters.{n}"), x.clone());
        }
    }
    if case.in_loop {
        v.insert("inputs.parameters.couler_iteration".into(), "1".into());
    }
    if let Some(i) = item {
        v.insert("item".into(), json_text(i));
        for (k, x) in i.as_object().into_iter().flatten() {
            v.insert(format!("item.{k}"), json_text(x));
        }
    }
    v
}

/// Argo's decision for `case` given the workflow-scope `values`: on the task, or (when the
/// `when` sits in `S-map`) the calling task's guard, then the loop task's `when` in the
/// template's own scope (`workflow.*`, `item`, and the arguments as `inputs.parameters`).
fn argo_decision(
    h: &mut Harness,
    case: &Case,
    values: &BTreeMap<String, String>,
) -> (Result<bool, String>, BTreeMap<String, String>) {
    let Some(inner) = &case.inner else {
        return (h.when(&case.compiled, values), values.clone());
    };
    if let Some(outer) = &inner.outer {
        let guard = h.when(outer, values);
        if guard != Ok(true) {
            return (guard, values.clone());
        }
    }
    let mut scoped: BTreeMap<String, String> = (values.iter())
        .filter(|(k, _)| k.starts_with("workflow.") || *k == "item" || k.starts_with("item."))
        .map(|(k, x)| (k.clone(), x.clone()))
        .collect();
    for (name, text) in &inner.args {
        let value = h.text(text, values);
        scoped.insert(format!("inputs.parameters.{name}"), value);
    }
    (h.when(&case.compiled, &scoped), scoped)
}

/// The local decision, by the runtime's own evaluation.
fn local(
    wf: &Workflow,
    params: &BTreeMap<String, Value>,
    case: &Case,
    outputs: &BTreeMap<String, Outputs>,
    item: Option<&Value>,
) -> Result<bool, String> {
    let steps: BTreeMap<String, Outcome> = outputs
        .iter()
        .filter(|(s, _)| case.in_loop || s.as_str() != case.step)
        .map(|(s, o)| {
            let out = StepOutputs {
                result: Some(o.result.clone()),
                exit_code: Some(o.exit_code),
                parameters: o.params.clone(),
                ..StepOutputs::default()
            };
            (s.clone(), Outcome::with_outputs(StepStatus::Succeeded, out))
        })
        .collect();
    let ctx = Context {
        workflow_name: &wf.name,
        run_id: "r1",
        workflow_status: None,
        params,
        steps: &steps,
        item,
        input_params: BTreeMap::new(),
        input_artifact_paths: BTreeMap::new(),
        output_param_paths: BTreeMap::new(),
        output_artifact_paths: BTreeMap::new(),
    };
    ctx.eval(case.cond).map_err(|e| format!("{e:?}"))
}

/// Compares every decision of `wf` under each assignment; returns how many were compared.
fn check(h: &mut Harness, wf: &Workflow, assignments: &[BTreeMap<String, Outputs>]) -> usize {
    let doc = compiled_doc(wf);
    let params = couler_run::resolve_params(wf, &[]).unwrap();
    let (mut compared, mut evaluated) = (0, 0);
    let cases = cases(wf, &doc);
    let conditions = (wf.steps.iter())
        .map(|s| usize::from(s.when.is_some()) + usize::from(s.repeat.is_some()))
        .sum::<usize>();
    assert_eq!(
        cases.len(),
        conditions,
        "{}: a condition was not found",
        wf.name
    );
    for case in cases {
        let step = wf.steps.iter().find(|s| s.name == case.step).unwrap();
        let local_items: Vec<Option<Value>> = match step.map.as_ref().map(|m| &m.over) {
            Some(couler_ir::MapOver::Items(l)) => l.iter().cloned().map(Some).collect(),
            _ => vec![None],
        };
        if case
            .cond
            .refs()
            .iter()
            .any(|r| matches!(r, Reference::Item(_)))
        {
            assert_eq!(
                case.items.len(),
                local_items.len(),
                "{}: step `{}` reads `item`: one Argo item per local one",
                wf.name,
                case.step
            );
        }
        for outputs in assignments {
            for (i, item) in local_items.iter().enumerate() {
                let argo_item = case.items.get(i);
                let want = local(wf, &params, &case, outputs, item.as_ref());
                let Ok(want) = want else { continue };
                evaluated += 1;
                let values = argo_values(&doc, &case, outputs, argo_item);
                let (got, values) = argo_decision(h, &case, &values);
                assert_eq!(
                    got,
                    Ok(want),
                    "workflow `{}`, step `{}`: condition `{}` compiled to\n  {}\n\
                     locally {want}, on Argo {got:?}\nvalues: {values:#?}\nspec:\n{}",
                    wf.name,
                    case.step,
                    case.cond,
                    case.compiled,
                    couler_ir::spec::to_yaml(wf),
                );
                compared += 1;
            }
        }
    }
    assert_eq!(
        compared, evaluated,
        "{}: every decision made locally is compared",
        wf.name
    );
    compared
}

fn examples() -> Vec<Workflow> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let mut paths: Vec<PathBuf> = [root.clone(), root.join("cluster")]
        .iter()
        .flat_map(|dir| std::fs::read_dir(dir).unwrap())
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| {
            let text = std::fs::read_to_string(p).unwrap();
            let wf = couler_ir::spec::load(&text, couler_ir::Format::Yaml)
                .unwrap_or_else(|d| panic!("{}: {d:?}", p.display()))
                .0;
            // Tuned steps reach an engine lowered, as the CLI lowers them.
            couler_tune::lower::expand(&wf).unwrap_or_else(|d| panic!("{}: {d:?}", p.display()))
        })
        .collect()
}

/// Assignments of outputs to every step of `wf`: each step's declared parameters and its result.
fn assignments(wf: &Workflow, rng: &mut TestRng, n: usize) -> Vec<BTreeMap<String, Outputs>> {
    use proptest::prelude::Rng;
    let pick = |rng: &mut TestRng| VALUES[rng.next_u32() as usize % VALUES.len()].to_string();
    (0..n)
        .map(|_| {
            wf.steps
                .iter()
                .map(|s| {
                    let params = s
                        .outputs
                        .parameters
                        .iter()
                        .map(|p| (p.name.clone(), pick(rng)))
                        .collect();
                    let o = Outputs {
                        result: pick(rng),
                        params,
                        exit_code: (rng.next_u32() % 3) as i32,
                    };
                    (s.name.clone(), o)
                })
                .collect()
        })
        .collect()
}

/// Checks every workflow `make` yields under `n` assignments each; prints and returns
/// (workflows, decisions compared).
fn check_all(
    label: &str,
    n: usize,
    mut make: impl FnMut(&mut TestRng) -> Option<Workflow>,
) -> usize {
    let Some(mut h) = Harness::start() else {
        return usize::MAX;
    };
    let mut rng = rng();
    let (mut workflows, mut compared) = (0, 0);
    while let Some(wf) = make(&mut rng) {
        let a = assignments(&wf, &mut rng, n);
        compared += check(&mut h, &wf, &a);
        workflows += 1;
    }
    println!("{label}: {workflows} workflows, {compared} decisions compared, 0 divergences");
    compared
}

#[test]
fn examples_decide_alike_locally_and_on_argo() {
    let mut examples = examples().into_iter();
    let compared = check_all("examples", 40, |_| examples.next());
    assert!(compared > 100, "only {compared} decisions compared");
}

// ---- generated workflows ----

#[test]
fn generated_workflows_decide_alike_locally_and_on_argo() {
    let mut i = 0;
    let compared = check_all("generated", 12, |rng| {
        i += 1;
        (i <= 300).then(|| generated(rng, i))
    });
    assert!(compared > 3000, "only {compared} decisions compared");
}

/// The audit's reproductions (argo-divergences.md B1, M2, M3, H8, M18), independent of the
/// generator: each decides as locally (on Argo `workflow.name` itself is `audit-x7k2p`).
#[test]
fn quotes_and_numbers_from_the_audit() {
    let Some(mut h) = Harness::start() else {
        return;
    };
    let spec = r#"
apiVersion: couler.dev/v1alpha1
kind: Workflow
name: audit
params:
  - {name: min_rows, type: int, default: 500}
  - {name: lr, type: float, default: 0.0000001}
steps:
  - name: count
    container: {image: alpine:3.19, command: [echo, "1000"]}
  - name: b1
    when: steps.count.outputs.result >= params.min_rows
    container: {image: alpine:3.19, command: [echo]}
  - name: m2
    when: steps.count.outputs.result < 0.001 || params.lr < 0.001
    container: {image: alpine:3.19, command: [echo]}
  - name: m3
    when: steps.count.outputs.result != "it's broken"
    container: {image: alpine:3.19, command: [echo]}
  - name: h8
    when: (steps.count.outputs.result == "done") == true
    container: {image: alpine:3.19, command: [echo]}
  - name: m18
    when: workflow.name == "audit"
    container: {image: alpine:3.19, command: [echo]}
"#;
    let (wf, _) = couler_ir::spec::load(spec, couler_ir::Format::Yaml).unwrap();
    let one = |result: &str| -> Vec<BTreeMap<String, Outputs>> {
        let o = Outputs {
            result: result.to_string(),
            params: BTreeMap::new(),
            exit_code: 0,
        };
        vec![
            wf.steps
                .iter()
                .map(|s| (s.name.clone(), o.clone()))
                .collect(),
        ]
    };
    let mut compared = 0;
    for r in ["1000", "done", "it's broken", "3.2e-05", "a\"b", ""] {
        compared += check(&mut h, &wf, &one(r));
    }
    assert_eq!(compared, 30);
}

/// A reader with a condition of its own on a producer that may be skipped: its `when` is one
/// expression tag testing the producer's status first, so that when the producer was skipped
/// (no outputs) expr's `&&` stops before reading them and the reader is skipped, not Errored.
#[test]
fn a_guarded_reader_with_a_condition_tests_the_guard_first() {
    let spec = r#"
apiVersion: couler.dev/v1alpha1
kind: Workflow
name: guarded
params:
  - {name: run_a, type: bool, default: false}
steps:
  - name: a
    when: params.run_a
    container: {image: alpine:3.19, command: [echo, x]}
  - name: b
    when: steps.a.outputs.result == "x"
    container: {image: alpine:3.19, command: [echo]}
"#;
    let (wf, _) = couler_ir::spec::load(spec, couler_ir::Format::Yaml).unwrap();
    let doc = compiled_doc(&wf);
    let case = cases(&wf, &doc)
        .into_iter()
        .find(|c| c.step == "b")
        .unwrap();
    let when = &case.compiled;
    assert!(
        when.starts_with("{{=tasks['a'].status == 'Succeeded' && (") && when.ends_with(")}}"),
        "{when}"
    );
    assert_eq!(when.matches("{{").count(), 1, "{when}");
    let Some(mut h) = Harness::start() else {
        return;
    };
    let mut values = argo_values(&doc, &case, &BTreeMap::new(), None);
    values.insert("tasks.a.status".into(), "Skipped".into());
    assert_eq!(h.when(when, &values), Ok(false), "{values:#?}");
    values.insert("tasks.a.status".into(), "Succeeded".into());
    for (result, want) in [("x", true), ("y", false)] {
        values.insert("tasks.a.outputs.result".into(), result.into());
        assert_eq!(h.when(when, &values), Ok(want), "{values:#?}");
    }
}

// ---- Tekton: the exit handler's `when` expressions (step conditions run in the launcher) ----

/// Tekton's decision for `when` expressions: every `input`, after `$(…)` substitution, must be
/// (`in`) or not be (`notin`) one of the `values`, as Tekton's `WhenExpression` checks.
fn tekton_when(whens: &[Value], vars: &BTreeMap<String, String>) -> bool {
    whens.iter().all(|w| {
        let mut input = w["input"].as_str().unwrap().to_string();
        for (k, v) in vars {
            input = input.replace(&format!("$({k})"), v);
        }
        assert!(
            !input.contains("$("),
            "unsubstituted Tekton variable in {input}"
        );
        let member = w["values"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x.as_str() == Some(input.as_str()));
        match w["operator"].as_str().unwrap() {
            "in" => member,
            "notin" => !member,
            other => panic!("unknown operator {other}"),
        }
    })
}

#[test]
fn tekton_exit_conditions_decide_alike_locally_and_on_tekton() {
    use couler_backends::tekton::Tekton;
    use proptest::strategy::{Strategy, ValueTree};
    let mut runner = TestRunner::new_with_rng(Config::default(), rng());
    let refs = vec![
        Reference::Workflow(couler_ir::WorkflowField::Status),
        Reference::Param("mode".into()),
        Reference::Param("flag".into()),
    ];
    let (mut compiled, mut refused, mut compared) = (0, 0, 0);
    // Draw until 300 compile: the rest are refused at compile time, with the reason.
    for i in 0.. {
        if compiled == 300 {
            break;
        }
        assert!(
            i < 3000,
            "only {compiled} of {i} drawn conditions compile for Tekton"
        );
        let cond = conds::tekton_condition(refs.clone())
            .new_tree(&mut runner)
            .unwrap()
            .current();
        let spec = json!({
            "apiVersion": "couler.dev/v1alpha1", "kind": "Workflow", "name": format!("tk-{i}"),
            "params": [
                {"name": "mode", "type": "string", "default": VALUES[i % VALUES.len()]},
                {"name": "flag", "type": "bool", "default": i % 3 == 0},
            ],
            "steps": [{"name": "main", "container": {"image": "alpine:3.19", "command": ["true"]}}],
            "onExit": [{"name": "bye", "when": cond.to_string(),
                        "container": {"image": "alpine:3.19", "command": ["true"]}}],
        });
        let (wf, _) = couler_ir::spec::load(&spec.to_string(), couler_ir::Format::Json).unwrap();
        let out = match Tekton.compile(&wf, &Options::default()) {
            Ok(out) => out,
            Err(e) => {
                // Refused at compile time, with the reason: no silent divergence.
                assert!(e.to_string().contains("has no Tekton `when` form"), "{e}");
                refused += 1;
                continue;
            }
        };
        compiled += 1;
        let yaml = out.files.into_values().next().unwrap();
        let docs: Vec<Value> = yaml
            .split("\n---\n")
            .map(|d| serde_norway::from_str(d).unwrap())
            .collect();
        let pipeline = docs.iter().find(|d| d["kind"] == "Pipeline").unwrap();
        let task = &pipeline["spec"]["finally"][0];
        let whens = task["when"].as_array().cloned().unwrap_or_default();
        let params = couler_run::resolve_params(&wf, &[]).unwrap();
        let mut vars = BTreeMap::new();
        for p in pipeline["spec"]["params"].as_array().into_iter().flatten() {
            let name = p["name"].as_str().unwrap();
            if let Some(v) = params.get(name) {
                vars.insert(format!("params.{name}"), json_text(v));
            }
        }
        // Tekton's `$(tasks.status)` for each local status: a run with skipped tasks that
        // succeeded says `Completed`.
        for (local_status, tekton_statuses) in [
            ("Succeeded", &["Succeeded", "Completed"][..]),
            ("Failed", &["Failed"][..]),
            ("Error", &["Failed"][..]),
        ] {
            let ctx = Context {
                workflow_name: &wf.name,
                run_id: "r1",
                workflow_status: Some(local_status),
                params: &params,
                steps: &BTreeMap::new(),
                item: None,
                input_params: BTreeMap::new(),
                input_artifact_paths: BTreeMap::new(),
                output_param_paths: BTreeMap::new(),
                output_artifact_paths: BTreeMap::new(),
            };
            let want = ctx.eval(&cond).unwrap();
            for t in tekton_statuses {
                vars.insert("tasks.status".into(), t.to_string());
                let got = tekton_when(&whens, &vars);
                assert_eq!(
                    got, want,
                    "condition `{cond}` (status {local_status}, Tekton {t}, vars {vars:?}): \
                     locally {want}, on Tekton {got}\nwhen: {whens:#?}"
                );
                compared += 1;
            }
        }
    }
    println!(
        "tekton exit handlers: {compiled} compiled, {refused} refused at compile time, {compared} decisions compared, 0 divergences"
    );
    assert!(
        compared >= 3 * compiled,
        "{compiled} compiled, {compared} compared"
    );
}
