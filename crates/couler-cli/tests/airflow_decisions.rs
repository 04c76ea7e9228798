//! Differential test of run decisions on real Airflow (3.3.2): the examples and 300 generated
//! workflows (the Argo differential's generator, made runnable: every step a host script that
//! writes its output values, some failing, some `continueOnFailure`, readers of results, mapped
//! aggregates and artifacts, `dependsOn`, exit handlers, and re-runs that hit the cache) run
//! with `couler run` and, compiled, with `dag.test()` in one Airflow process per batch
//! (tests/airflow/batch.py). Per step and map instance the status (`Cached` included), output
//! parameters, `result`, exit code, `repeat` iterations and artifact contents, and the DAG run's
//! final state, must equal the local run's. Any difference fails with the workflow.

#[path = "support/cli.rs"]
mod cli;
#[path = "support/generated.rs"]
#[allow(dead_code)] // shared with argo_decisions.rs
mod generated;
#[path = "support/outcomes.rs"]
#[allow(dead_code)] // shared with airflow.rs and tekton_run.rs
mod outcomes;
#[path = "support/airflow.rs"]
#[allow(dead_code)] // shared with airflow.rs
mod support;

use outcomes::{RunView, local_nodes, local_run};
use proptest::prelude::Rng;
use proptest::test_runner::{RngAlgorithm, TestRng};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;
use support::{
    Home, airflow_nodes, airflow_status, compile, examples, mapped_tasks, python, repo, text, tmp,
};

/// Airflow processes running batches side by side (each on its own copy of the database).
const BATCHES: usize = 2;

/// How many generated workflows run: the Argo differential's, in its order (one that Airflow
/// refuses at compile time is counted and replaced by the next).
const GENERATED: usize = 300;

/// The param a second run of a cached workflow changes, and its new value: steps whose key
/// covers it run again, the others come from the cache.
const RERUN_PARAM: (&str, i64) = ("n", 11);

/// One workflow to run on both sides.
struct Case {
    name: String,
    spec: PathBuf,
    /// 2: run again on the same state and store with [`RERUN_PARAM`] (the cache decides).
    runs: usize,
    /// Steps draw unseeded random numbers: the local run is repeated until it matches.
    random: bool,
}

/// Examples whose steps flip an unseeded coin (as in airflow.rs).
const RANDOM: &[&str] = &["coin-flip", "flip-until-tails"];

// ---- making generated workflows runnable ----

/// A `printf` that writes `value` exactly: every byte that is not alphanumeric as an octal
/// escape, so no quote, `%`, `{{`, backslash or newline reaches the shell or a template.
fn printf(value: &str) -> String {
    let mut f = String::from("printf '");
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() {
            f.push(b as char);
        } else {
            f += &format!("\\{b:03o}");
        }
    }
    f.push('\'');
    f
}

fn pick<T: Clone>(rng: &mut TestRng, list: &[T]) -> T {
    list[rng.next_u32() as usize % list.len()].clone()
}

/// `spec` (from `generated::generated_spec`) with every step a host script: it writes output
/// parameters `p` and `q` (relative paths; a few leave `q` unwritten, an Error), prints a
/// `result`, and exits with a drawn code; some
/// steps also print an earlier step's result or `p` (a mapped one's as its aggregated list), a
/// mapped step its item, some write an artifact that later steps read, some `dependsOn` an
/// earlier step, some `continueOnFailure`; a third get an exit handler that prints
/// `workflow.status` (sometimes conditional, sometimes failing). Returns the spec and its runs.
fn runnable(mut spec: Value, rng: &mut TestRng) -> (Value, usize) {
    let values = generated::VALUES;
    let steps = spec["steps"].as_array_mut().unwrap();
    let mut producers: Vec<String> = Vec::new();
    for i in 0..steps.len() {
        let earlier: Vec<String> = steps[..i]
            .iter()
            .map(|s| s["name"].as_str().unwrap().to_string())
            .collect();
        let s = &mut steps[i];
        let mut lines = vec![
            format!("{} > p", printf(pick(rng, values))),
            format!("{} > q", printf(pick(rng, values))),
            printf(pick(rng, values)),
        ];
        let mut env = serde_json::Map::new();
        s["outputs"]["parameters"] =
            json!([{"name": "p", "path": "p"}, {"name": "q", "path": "q"}]);
        if let Some(items) = s["map"]["items"].as_array() {
            let start = rng.next_u32() as usize % (items.len() - 2);
            s["map"]["items"] = json!(items[start..start + 3]);
            env.insert("ITEM".into(), json!("{{item}}"));
            lines.push("printf '%s' \"$ITEM\"".into());
        }
        if !earlier.is_empty() && rng.next_u32().is_multiple_of(3) {
            let from = pick(rng, &earlier);
            let field = pick(rng, &["result", "parameters.p"]);
            env.insert(
                "IN".into(),
                json!(format!("{{{{steps.{from}.outputs.{field}}}}}")),
            );
            lines.push("printf '%s' \"$IN\"".into());
        }
        if !earlier.is_empty() && rng.next_u32().is_multiple_of(4) {
            s["dependsOn"] = json!([pick(rng, &earlier)]);
        }
        if !producers.is_empty() && rng.next_u32().is_multiple_of(3) {
            let from = pick(rng, &producers);
            s["inputs"] = json!({"artifacts": [
                {"name": "a", "path": "in.txt", "from": format!("steps.{from}.outputs.artifacts.a")}
            ]});
            lines.push("cat in.txt".into());
        }
        if s.get("map").is_none() && rng.next_u32().is_multiple_of(4) {
            s["outputs"]["artifacts"] = json!([{"name": "a", "path": "a.txt"}]);
            lines.push(format!("{} > a.txt", printf(pick(rng, values))));
            producers.push(s["name"].as_str().unwrap().to_string());
        }
        let code = pick(rng, &[0, 0, 0, 0, 0, 0, 1, 3]);
        if code != 0 && rng.next_u32().is_multiple_of(2) {
            s["continueOnFailure"] = json!(true);
        }
        if rng.next_u32().is_multiple_of(12) {
            // `q` is not written and has no default: the step ends Error.
            lines.remove(1);
        }
        lines.push(format!("exit {code}"));
        if !env.is_empty() {
            s["env"] = Value::Object(env);
        }
        s.as_object_mut().unwrap().remove("container");
        s["script"] = json!({"command": ["sh"], "source": lines.join("\n")});
    }
    if rng.next_u32().is_multiple_of(3) {
        let mut bye = json!({
            "name": "bye",
            "env": {"S": "{{workflow.status}}"},
            "script": {"command": ["sh"], "source": format!("printf '%s' \"$S\"\nexit {}", pick(rng, &[0, 0, 0, 1]))},
        });
        let when = pick(
            rng,
            &[
                "",
                "workflow.status == \"Succeeded\"",
                "workflow.status != \"Succeeded\"",
            ],
        );
        if !when.is_empty() {
            bye["when"] = json!(when);
        }
        spec["onExit"] = json!([bye]);
    }
    let runs = if rng.next_u32().is_multiple_of(4) {
        2
    } else {
        1
    };
    (spec, runs)
}

/// Compiles `case` for Airflow into `work/dags` (artifacts in `work/stores/NAME`): its entry
/// of batch.py's plan, or `couler compile`'s error.
fn compiled(case: &Case, work: &Path) -> Result<Value, String> {
    let store = work.join("stores").join(&case.name);
    let dags = work.join("dags");
    let out = compile(
        &case.spec,
        &dags,
        &["--artifact-store", &store.display().to_string()],
    );
    if !out.status.success() {
        return Err(text(&out.stderr));
    }
    Ok(json!({
        "file": dags.join(format!("{}.py", case.name)),
        "dag": case.name,
        "runs": case.runs,
        "rerun_conf": {RERUN_PARAM.0: RERUN_PARAM.1},
    }))
}

/// [`GENERATED`] generated cases that Airflow compiles, with their plan entries, and how many
/// drawn before them it refused (docs/airflow.md: a mapped step's skip its readers cannot
/// tell). The workflows are argo_decisions.rs's, in its order, made runnable with draws of
/// their own.
fn generated_cases(work: &Path) -> (Vec<(Case, Value)>, usize) {
    let mut rng = generated::rng();
    let mut own = TestRng::from_seed(RngAlgorithm::ChaCha, &[29; 32]);
    let (mut cases, mut refused) = (Vec::new(), 0);
    for i in 1.. {
        if cases.len() == GENERATED {
            break;
        }
        let (spec, runs) = runnable(generated::generated_spec(&mut rng, i), &mut own);
        let name = spec["name"].as_str().unwrap().to_string();
        let path = work.join("specs").join(format!("{name}.json"));
        std::fs::write(&path, spec.to_string()).unwrap();
        let case = Case {
            name,
            spec: path,
            runs,
            random: false,
        };
        match compiled(&case, work) {
            Ok(entry) => cases.push((case, entry)),
            Err(e) if e.contains("which may be skipped") => refused += 1,
            Err(e) => panic!("{}: {e}", case.name),
        }
    }
    (cases, refused)
}

fn example_cases() -> Vec<Case> {
    let mut specs = examples();
    // churn.yaml and tune-ml-pipeline.yaml need scikit-learn, which Airflow's venv lacks:
    // tests/zoo.rs and tests/tune_block.rs run them.
    specs.retain(|f| !f.ends_with("churn.yaml") && !f.ends_with("tune-ml-pipeline.yaml"));
    specs.push(repo().join("crates/couler-cli/tests/airflow/semantics.yaml"));
    specs
        .into_iter()
        .map(|spec| {
            let name = spec.file_stem().unwrap().to_str().unwrap().to_string();
            Case {
                random: RANDOM.contains(&name.as_str()),
                name,
                spec,
                runs: 1,
            }
        })
        .collect()
}

// ---- running ----

/// The local runs of a case in one fresh state directory (`couler run -o json`), the second
/// with [`RERUN_PARAM`].
fn local_reports(case: &Case, dir: &Path) -> Vec<Value> {
    std::fs::create_dir_all(dir).unwrap();
    (0..case.runs)
        .map(|run| {
            let mut c = Command::new(env!("CARGO_BIN_EXE_couler"));
            c.args(["run", &case.spec.display().to_string(), "-o", "json"])
                .current_dir(dir)
                .env_remove("COULER_STATE_DIR")
                .env_remove("COULER_ARTIFACT_STORE");
            if run > 0 {
                c.args(["-p", &format!("{}={}", RERUN_PARAM.0, RERUN_PARAM.1)]);
            }
            let out = c.output().unwrap();
            serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
                panic!(
                    "{}: couler run -o json ({e}): {}",
                    case.name,
                    text(&out.stderr)
                )
            })
        })
        .collect()
}

/// Runs the plan's DAGs in [`BATCHES`] Airflow processes, each on its own copy of `base`'s
/// database; returns each DAG's line of tests/airflow/batch.py's output.
fn airflow_runs(base: &Home, work: &Path, plan: &[Value]) -> BTreeMap<String, Value> {
    let script = repo().join("crates/couler-cli/tests/airflow/batch.py");
    let mut children = Vec::new();
    for b in 0..BATCHES {
        let part: Vec<&Value> = plan.iter().skip(b).step_by(BATCHES).collect();
        let dags = work.join(format!("batch-{b}"));
        std::fs::create_dir_all(&dags).unwrap();
        let home = base.copy(&dags);
        let plan_file = home.dir.path().join("plan.json");
        std::fs::write(&plan_file, serde_json::to_string(&part).unwrap()).unwrap();
        let out = home.dir.path().join("out.jsonl");
        let log = std::fs::File::create(home.dir.path().join("batch.log")).unwrap();
        let child = home
            .command(python(), &dags)
            .env("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")
            .arg(&script)
            .arg(&plan_file)
            .arg(&out)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        children.push((child, home, out));
    }
    let mut lines = BTreeMap::new();
    for (mut child, home, out) in children {
        let status = child.wait().unwrap();
        let log = std::fs::read_to_string(home.dir.path().join("batch.log")).unwrap_or_default();
        let tail: String = log
            .chars()
            .rev()
            .take(4000)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        assert!(status.success(), "batch.py failed ({status}):\n{tail}");
        for line in std::fs::read_to_string(&out).unwrap().lines() {
            let v: Value = serde_json::from_str(line).unwrap();
            lines.insert(v["dag"].as_str().unwrap().to_string(), v);
        }
    }
    lines
}

/// The nodes whose status is `Cached` (which reads as `Succeeded` in the node comparison).
fn cached(statuses: impl Iterator<Item = (String, String)>) -> BTreeSet<String> {
    statuses
        .filter(|(_, s)| s == "Cached")
        .map(|(n, _)| n)
        .collect()
}

/// A mapped step that the local runtime decided as a whole (Skipped, or not run at all: no
/// instance nodes) is one node there; on Airflow its expanded task ran every instance to the
/// same end. Such instances are folded into the step's node, which must then hold one status;
/// the other mapped steps (compared by instance) are returned.
fn whole_steps(
    mut nodes: BTreeMap<String, Value>,
    mapped: Vec<String>,
    report: &Value,
) -> (BTreeMap<String, Value>, Vec<String>) {
    let local: Vec<&str> = (report["steps"].as_array().into_iter().flatten())
        .filter_map(|s| s["node"].as_str())
        .collect();
    let (whole, by_instance): (Vec<String>, Vec<String>) = mapped
        .into_iter()
        .partition(|m| !local.iter().any(|n| n.starts_with(&format!("{m}["))));
    for m in whole {
        let instances: Vec<String> = (nodes.keys())
            .filter(|n| n.starts_with(&format!("{m}[")))
            .cloned()
            .collect();
        let ends: Vec<Value> = instances.iter().filter_map(|n| nodes.remove(n)).collect();
        let one = ends.iter().all(|e| *e == ends[0]);
        nodes.insert(
            m,
            if one {
                ends[0].clone()
            } else {
                json!({"instances": ends})
            },
        );
    }
    (nodes, by_instance)
}

/// The DAG run's state for the workflow status `couler run` reports.
fn dag_run_state(local_status: &str) -> &'static str {
    if local_status == "Succeeded" {
        "success"
    } else {
        "failed"
    }
}

/// Compares one run: every node, the cache hits and the final state. Returns the decisions
/// compared, or the divergences.
fn compare(
    case: &Case,
    run: usize,
    airflow: &Value,
    report: &Value,
    local_store: &Path,
    store: &Path,
) -> Result<usize, String> {
    let view = RunView {
        run_id: airflow["runId"].as_str().unwrap_or("?"),
        store,
        iterations: !case.random,
    };
    let (nodes, mapped) = whole_steps(airflow_nodes(airflow, &view), mapped_tasks(airflow), report);
    let local_view = RunView {
        run_id: report["runId"].as_str().unwrap_or("?"),
        store: local_store,
        iterations: !case.random,
    };
    let local = local_nodes(report, &mapped, &local_view);
    let mut diff = outcomes::differences("airflow", &nodes, &local);
    let airflow_cached = cached(
        (airflow["tasks"].as_object().into_iter().flatten())
            .flat_map(|(t, es)| es.as_array().into_iter().flatten().map(move |e| (t, e)))
            .filter(|(t, _)| !t.contains('.'))
            .map(|(t, e)| {
                let node = match e["mapIndex"].as_i64() {
                    Some(i) if i >= 0 => format!("{t}[{i}]"),
                    _ => t.clone(),
                };
                (
                    node,
                    e["xcom"]["status"].as_str().unwrap_or_default().to_string(),
                )
            }),
    );
    let local_cached = cached(
        (report["steps"].as_array().into_iter().flatten())
            .map(|s| {
                (
                    s["node"].as_str().unwrap_or_default().to_string(),
                    s["status"].as_str().unwrap_or_default().to_string(),
                )
            })
            .filter(|(n, _)| !mapped.contains(n)),
    );
    if airflow_cached != local_cached {
        diff.push(format!(
            "cache hits: airflow {airflow_cached:?}, local {local_cached:?}"
        ));
    }
    let status = report["status"].as_str().unwrap_or("?");
    let state = airflow["state"].as_str().unwrap_or("?");
    if state != dag_run_state(status) {
        diff.push(format!(
            "the DAG run ends {state}, where couler run says {status}"
        ));
    }
    if diff.is_empty() {
        return Ok(nodes.len() + 1);
    }
    Err(format!(
        "{} (run {}): Airflow's outcome differs from couler run's:\n{}\nspec: {}",
        case.name,
        run + 1,
        diff.join("\n"),
        std::fs::read_to_string(&case.spec).unwrap_or_default()
    ))
}

/// An example that flips an unseeded coin: run locally until the coin matches Airflow's.
fn random_example(case: &Case, airflow: &Value, store: &Path) -> Result<usize, String> {
    let view = RunView {
        run_id: airflow["runId"].as_str().unwrap_or("?"),
        store,
        iterations: false,
    };
    let nodes = airflow_nodes(airflow, &view);
    let mapped = mapped_tasks(airflow);
    let (local, status) = local_run(&case.spec, &case.name, &mapped, true, false, &nodes);
    let mut diff = outcomes::differences("airflow", &nodes, &local);
    let state = airflow["state"].as_str().unwrap_or("?");
    if state != dag_run_state(&status) {
        diff.push(format!(
            "the DAG run ends {state}, where couler run says {status}"
        ));
    }
    match diff.is_empty() {
        true => Ok(nodes.len() + 1),
        false => Err(format!("{}:\n{}", case.name, diff.join("\n"))),
    }
}

#[test]
fn examples_and_generated_workflows_decide_alike_locally_and_on_airflow() {
    let started = Instant::now();
    let work = tmp();
    std::fs::create_dir_all(work.path().join("specs")).unwrap();
    let mut cases = Vec::new();
    let mut plan = Vec::new();
    for case in example_cases() {
        let entry = compiled(&case, work.path()).unwrap_or_else(|e| panic!("{}: {e}", case.name));
        cases.push(case);
        plan.push(entry);
    }
    let (generated, refused) = generated_cases(work.path());
    for (case, entry) in generated {
        cases.push(case);
        plan.push(entry);
    }
    let base = Home::new(&work.path().join("empty"));
    let prepared = started.elapsed();

    // The local runs go on while Airflow runs its batches.
    let (airflow, local) = std::thread::scope(|s| {
        let airflow = s.spawn(|| airflow_runs(&base, work.path(), &plan));
        let local: Vec<Vec<Value>> = cases
            .iter()
            .filter(|c| !c.random)
            .map(|c| local_reports(c, &work.path().join("local").join(&c.name)))
            .collect();
        (airflow.join().unwrap(), local)
    });
    let ran = started.elapsed();

    let (mut workflows, mut runs, mut compared) = (0, 0, 0);
    let mut divergences: Vec<String> = Vec::new();
    let mut local = local.into_iter();
    for case in &cases {
        let line = &airflow[&case.name];
        let store = work.path().join("stores").join(&case.name);
        let outcomes = line["runs"].as_array().cloned().unwrap_or_default();
        if line.get("error").is_some() || outcomes.len() != case.runs {
            divergences.push(format!(
                "{}: did not run on Airflow: {}",
                case.name, line["error"]
            ));
            continue;
        }
        let result = if case.random {
            random_example(case, &outcomes[0], &store)
        } else {
            let reports = local.next().unwrap();
            let local_store = (work.path().join("local"))
                .join(&case.name)
                .join(".couler/artifacts");
            (outcomes.iter().zip(&reports).enumerate())
                .map(|(run, (a, r))| compare(case, run, a, r, &local_store, &store))
                .sum()
        };
        match result {
            Ok(n) => compared += n,
            Err(e) => divergences.push(e),
        }
        workflows += 1;
        runs += case.runs;
    }
    assert!(
        divergences.is_empty(),
        "{} of {} workflows diverge; the first ones:\n\n{}",
        divergences.len(),
        cases.len(),
        divergences[..divergences.len().min(8)].join("\n\n")
    );
    eprintln!(
        "airflow decisions: {workflows} workflows ({} examples; {refused} generated ones refused at compile time), {runs} runs, {compared} decisions compared, 0 divergences; prepared in {:.1}s, ran in {:.1}s (Airflow {BATCHES} processes beside the local runs), total {:.1}s",
        example_cases().len(),
        prepared.as_secs_f64(),
        (ran - prepared).as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    // What the comparison covered: runs ending both ways, and each kind of step end.
    let outcomes: Vec<&Value> = (airflow.values())
        .flat_map(|l| l["runs"].as_array().into_iter().flatten())
        .collect();
    let states: BTreeSet<&str> = outcomes
        .iter()
        .filter_map(|o| o["state"].as_str())
        .collect();
    let ends: BTreeSet<String> = (outcomes.iter())
        .flat_map(|o| o["tasks"].as_object().into_iter().flatten())
        .flat_map(|(_, es)| es.as_array().into_iter().flatten())
        .map(airflow_status)
        .collect();
    assert_eq!(states, BTreeSet::from(["failed", "success"]), "{ends:?}");
    for end in [
        "Succeeded",
        "Cached",
        "Skipped",
        "Failed",
        "Error",
        "Omitted",
    ] {
        assert!(ends.contains(end), "no step ended {end}: {ends:?}");
    }
    assert!(
        workflows >= 300 && compared > 2000,
        "{workflows} workflows, {compared} compared"
    );
}
