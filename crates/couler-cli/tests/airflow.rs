//! The Airflow backend, for real: Apache Airflow 3.3.2 (installed by `scripts/airflow-deps`
//! into `target/airflow-venv`, or `$COULER_AIRFLOW_PYTHON`) loads every generated DAG with
//! `DagBag`, runs the examples with `airflow dags test` (host operator, AIRFLOW_HOME and SQLite
//! in a temp dir, nothing but loopback), and each run's outcome (per step: status, output
//! parameters, result, artifact digests, which name contents) must equal `couler run`'s on the
//! same file. Plus: every example and feature spec compiles or fails with the documented error,
//! and hostile strings arrive unchanged with nothing executed that the user did not write.

#[path = "support/cli.rs"]
mod cli;
#[path = "support/fan_in.rs"]
mod fan_in;
#[path = "support/layered.rs"]
mod layered;
#[path = "support/outcomes.rs"]
#[allow(dead_code)] // shared with tekton_run.rs, which uses all of it
mod outcomes;
#[path = "support/airflow.rs"]
mod support;

use outcomes::{RunView, local_run};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;
use support::{
    Home, airflow_nodes, compile, couler, examples, mapped_tasks, python, repo, text, tmp,
};

/// The documented error of each spec Airflow cannot compile (docs/airflow.md, "Limits").
const EXPECTED_ERRORS: &[(&str, &str)] = &[
    (
        "control.yaml",
        "airflow does not support suspend steps (used by step `approve`)",
    ),
    (
        "kinds.yaml",
        "airflow does not support Kubernetes resource steps",
    ),
    ("policies.yaml", "airflow does not support workflow volumes"),
    (
        "storage.yaml",
        "airflow does not support GCS artifact storage",
    ),
    ("distributed-training.yaml", "airflow does not support"),
    ("daemon.yaml", "airflow does not support daemon steps"),
];

#[test]
fn every_example_and_feature_spec_compiles_or_fails_with_the_documented_error() {
    let mut files = examples();
    let features = repo().join("crates/couler-backends/tests/features");
    for dir in [features, repo().join("examples/cluster")] {
        for e in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let p = e.unwrap_or_else(|e| panic!("{e}")).path();
            if p.extension().is_some_and(|x| x == "yaml") {
                files.push(p);
            }
        }
    }
    for operator in ["host", "kubernetes", "docker"] {
        for f in &files {
            let out_dir = tmp();
            let out = compile(f, out_dir.path(), &["--operator", operator]);
            let name = f.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            match EXPECTED_ERRORS.iter().find(|(n, _)| *n == name) {
                Some((_, msg)) => {
                    assert!(!out.status.success(), "{name} must not compile for airflow");
                    assert!(
                        text(&out.stderr).contains(msg),
                        "{name}: expected `{msg}`, got: {}",
                        text(&out.stderr)
                    );
                }
                None => assert!(
                    out.status.success(),
                    "{name} (--operator {operator}) must compile: {}",
                    text(&out.stderr)
                ),
            }
        }
    }
}

/// Examples whose steps draw random numbers without a seed: the local run is repeated until its
/// coin matches Airflow's (each try has even odds), and `repeat` counts are not compared.
const RANDOM: &[&str] = &["coin-flip", "flip-until-tails"];

#[test]
fn every_dag_imports_and_runs_like_the_local_runtime() {
    let started = Instant::now();
    let work = tmp();
    let dags = work.path().join("dags");
    let mut names = Vec::new();
    // The examples, and a spec of the run-time semantics examples do not exercise (failures,
    // continueOnFailure, skips, repeat, maps, the exit handler's workflow.status).
    let mut specs = examples();
    // churn.yaml and tune-ml-pipeline.yaml need scikit-learn, which Airflow's venv lacks:
    // tests/zoo.rs and tests/tune_block.rs run them.
    specs.retain(|f| !f.ends_with("churn.yaml") && !f.ends_with("tune-ml-pipeline.yaml"));
    specs.push(repo().join("crates/couler-cli/tests/airflow/semantics.yaml"));
    for f in specs {
        let name = f
            .file_stem()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        let store = work.path().join("stores").join(&name);
        let out = compile(
            &f,
            &dags,
            &["--artifact-store", &store.display().to_string()],
        );
        assert!(out.status.success(), "{name}: {}", text(&out.stderr));
        names.push((name, f));
    }
    let base = Home::new(&dags);
    let (errors, ids) = base.dagbag(&dags);
    assert!(errors.is_empty(), "DAG import errors: {errors:#?}");
    assert_eq!(ids.len(), names.len(), "one DAG per example: {ids:?}");
    // The Kubernetes and Docker operators' DAGs import too (they cannot run here).
    for operator in ["kubernetes", "docker"] {
        let d = work.path().join(format!("dags-{operator}"));
        for (_, f) in &names {
            let out = compile(
                f,
                &d,
                &[
                    "--operator",
                    operator,
                    "--launcher-image",
                    "couler:dev",
                    "--artifact-store",
                    "s3://bucket/prefix",
                ],
            );
            assert!(out.status.success(), "{}", text(&out.stderr));
        }
        let (errors, ids) = base.dagbag(&d);
        assert!(
            errors.is_empty(),
            "--operator {operator}: DAG import errors: {errors:#?}"
        );
        assert_eq!(ids.len(), names.len());
    }
    let imported = started.elapsed();

    // Each example in its own copy of the database, a few at a time (SQLite allows one writer).
    let results: Vec<(String, serde_json::Value)> = std::thread::scope(|s| {
        let mut handles = Vec::new();
        for chunk in names.chunks(names.len().div_ceil(3).max(1)) {
            let base = &base;
            let dags = &dags;
            handles.push(s.spawn(move || {
                chunk
                    .iter()
                    .map(|(name, _)| {
                        let home = base.copy(dags);
                        (name.clone(), home.run(dags, name))
                    })
                    .collect::<Vec<_>>()
            }));
        }
        handles
            .into_iter()
            .flat_map(|h| {
                h.join()
                    .unwrap_or_else(|_| panic!("an Airflow run thread panicked"))
            })
            .collect()
    });
    let ran = started.elapsed();

    let mut checked_states: Vec<(String, String)> = Vec::new();
    for ((name, file), (_, outcome)) in names.iter().zip(&results) {
        let random = RANDOM.contains(&name.as_str());
        let store = work.path().join("stores").join(name);
        let airflow_view = RunView {
            run_id: outcome["runId"].as_str().unwrap_or("?"),
            store: &store,
            iterations: !random,
        };
        let airflow = airflow_nodes(outcome, &airflow_view);
        let mapped = mapped_tasks(outcome);
        let (local, local_status) = local_run(file, name, &mapped, random, !random, &airflow);
        let differing: Vec<String> = airflow
            .keys()
            .chain(local.keys())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .filter(|k| airflow.get(*k) != local.get(*k))
            .map(|k| {
                let task = k.split('[').next().unwrap_or_default();
                format!(
                    "{k}:\n  airflow: {:?}\n  local:   {:?}\n  airflow task: {}",
                    airflow.get(k),
                    local.get(k),
                    outcome["tasks"][task]
                )
            })
            .collect();
        assert!(
            differing.is_empty(),
            "{name}: Airflow's outcome differs from the local runtime's:\n{}",
            differing.join("\n")
        );
        assert!(!airflow.is_empty(), "{name}: no steps ran");
        // The DAG run ends as the workflow: `success` exactly when `couler run` succeeds (with
        // an exit handler too, which Airflow's leaf rule alone would make `success`).
        let expected = if local_status == "Succeeded" {
            "success"
        } else {
            "failed"
        };
        assert_eq!(
            outcome["state"].as_str(),
            Some(expected),
            "{name}: the DAG run's state, where `couler run` says {local_status}"
        );
        checked_states.push((name.clone(), local_status));
    }
    // The check above compares both outcomes: some example must end each way.
    for want in ["Succeeded", "Failed"] {
        assert!(
            checked_states.iter().any(|(_, s)| s == want),
            "no example's run ended {want}: {checked_states:?}"
        );
    }
    eprintln!(
        "airflow: {} DAGs imported in {:.1}s; run with `airflow dags test` in {:.1}s; total {:.1}s",
        names.len(),
        imported.as_secs_f64(),
        (ran - imported).as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
}

/// Strings that break naive code generation: quotes, triple quotes, newlines, Jinja, shell
/// substitution, backslashes, non-ASCII.
const HOSTILE: &str = "q'\"''' \"\"\" \\n\\ {{ 7 * 7 }} {% if true %}jinja{% endif %} ${HOME} $(touch CANARY-dollar) `touch CANARY-tick` é☃😀 \\x00";

#[test]
fn hostile_strings_arrive_unchanged_and_run_nothing() {
    let work = tmp();
    let dags = work.path().join("dags");
    let canary_dir = work.path().join("canary");
    std::fs::create_dir_all(&canary_dir).unwrap_or_else(|e| panic!("{e}"));
    // The param's value and the script's text are data: a script printing them must print them
    // exactly, and no `touch` must run (its file would appear in the task's work dir or here).
    let wf = serde_json::json!({
        "apiVersion": "couler.dev/v1alpha1",
        "kind": "Workflow",
        "name": "hostile",
        "description": HOSTILE,
        "labels": {"team": "x"},
        "params": [{"name": "evil", "default": HOSTILE, "description": HOSTILE}],
        "steps": [
            {
                "name": "echo-param",
                "env": {"EVIL": "{{params.evil}}", "CANARY_DIR": canary_dir.display().to_string()},
                "script": {
                    "image": "python:3.12",
                    "command": ["python3"],
                    "source": "import os, sys\n# ''' \"\"\" {{ not jinja }} {% raw %} $(touch CANARY-src)\nsys.stdout.write(os.environ['EVIL'])\n"
                },
                "outputs": {"parameters": [{"name": "evil", "path": "out.txt", "default": HOSTILE}]}
            },
            {
                "name": "pass-on",
                "container": {
                    "image": "alpine:3.19",
                    "command": ["python3", "-c", "import sys; sys.stdout.write(sys.argv[1])", "{{steps.echo-param.outputs.result}}"]
                }
            }
        ]
    });
    let spec = work.path().join("hostile.json");
    std::fs::write(&spec, wf.to_string()).unwrap_or_else(|e| panic!("{e}"));
    let out = compile(
        &spec,
        &dags,
        &[
            "--artifact-store",
            &work.path().join("store").display().to_string(),
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let py = std::fs::read_to_string(dags.join("hostile.py")).unwrap_or_else(|e| panic!("{e}"));
    // The file is ASCII (every other character escaped), and user text appears only inside the
    // Python literals of data that is never a template: the embedded workflow's fields, each
    // task's slice of it (the second argument of `_env`), the DAG's description and the params.
    assert!(py.is_ascii(), "the DAG file is ASCII");
    for line in py.lines().filter(|l| l.contains("7 * 7")) {
        let l = line.trim_start();
        if let Some(args) = l.strip_prefix("env=_env(") {
            let id = python_string_len(args);
            let slice = python_string_len(&args[id + 2..]);
            let rest = &args[id + 2 + slice..];
            assert!(
                args[id..].starts_with(", ") && !rest.contains("7 * 7"),
                "user text outside the slice literal: {line}"
            );
            continue;
        }
        assert!(
            l.starts_with("WORKFLOW = \"")
                || l.starts_with("description=\"")
                || l.starts_with("params={"),
            "user text outside a data literal: {line}"
        );
    }
    let home = Home::new(&dags);
    let (errors, ids) = home.dagbag(&dags);
    assert!(errors.is_empty(), "import errors: {errors:#?}");
    assert_eq!(ids, vec!["hostile".to_string()]);
    let outcome = home.run(&dags, "hostile");
    let store = work.path().join("store");
    let view = RunView {
        run_id: outcome["runId"].as_str().unwrap_or("?"),
        store: &store,
        iterations: true,
    };
    let nodes = airflow_nodes(&outcome, &view);
    assert_eq!(nodes["echo-param"]["status"], "Succeeded", "{outcome:#}");
    assert_eq!(
        nodes["echo-param"]["result"], HOSTILE,
        "the param arrives unchanged"
    );
    assert_eq!(
        nodes["echo-param"]["parameters"]["evil"], HOSTILE,
        "the default arrives unchanged"
    );
    assert_eq!(nodes["pass-on"]["status"], "Succeeded", "{outcome:#}");
    assert_eq!(
        nodes["pass-on"]["result"], HOSTILE,
        "the XCom value arrives unchanged"
    );
    let canaries: Vec<_> = walk(work.path())
        .into_iter()
        .filter(|p| p.to_string_lossy().contains("CANARY"))
        .collect();
    assert!(
        canaries.is_empty(),
        "something ran that the user did not write: {canaries:?}"
    );
    // Hostile step names never reach a backend: validation refuses them with the place.
    let mut bad = wf.clone();
    bad["steps"][0]["name"] = serde_json::json!("x'); import os; os.system('touch CANARY') #");
    std::fs::write(&spec, bad.to_string()).unwrap_or_else(|e| panic!("{e}"));
    let out = compile(&spec, &work.path().join("bad"), &[]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("steps[0].name"),
        "{}",
        text(&out.stderr)
    );
}

/// The length of the double-quoted Python string literal `s` starts with (backslash escapes
/// as `python::literal` writes them); panics if `s` does not start with one.
fn python_string_len(s: &str) -> usize {
    let b = s.as_bytes();
    assert_eq!(b.first(), Some(&b'"'), "not a string literal: {s}");
    let mut i = 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    panic!("unterminated string literal: {s}")
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p.clone());
            }
            out.push(p);
        }
    }
    out
}

/// A real Airflow deployment on loopback in `home`: api-server (the tasks' execution API),
/// scheduler (LocalExecutor, on the SQLite database) and DAG processor, each in its own process
/// group, stopped (the whole group) when dropped.
struct Deployment {
    processes: Vec<std::process::Child>,
}

impl Deployment {
    fn start(home: &Home, dags: &Path) -> Deployment {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap_or_else(|e| panic!("no free loopback port: {e}"));
        let mut processes = Vec::new();
        for component in ["api-server", "scheduler", "dag-processor"] {
            let log = std::fs::File::create(home.dir.path().join(format!("{component}.log")))
                .unwrap_or_else(|e| panic!("{e}"));
            let err = log.try_clone().unwrap_or_else(|e| panic!("{e}"));
            let mut c = home.command(&python().with_file_name("airflow"), dags);
            c.arg(component)
                .env("AIRFLOW__CORE__EXECUTOR", "LocalExecutor")
                .env("AIRFLOW__CORE__PARALLELISM", "2")
                .env("AIRFLOW__API__HOST", "127.0.0.1")
                .env("AIRFLOW__API__PORT", port.to_string())
                .env(
                    "AIRFLOW__CORE__EXECUTION_API_SERVER_URL",
                    format!("http://127.0.0.1:{port}/execution/"),
                )
                .env("AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC", "1")
                .env("AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL", "5")
                .stdin(std::process::Stdio::null())
                .stdout(log)
                .stderr(err);
            std::os::unix::process::CommandExt::process_group(&mut c, 0);
            processes.push(
                c.spawn()
                    .unwrap_or_else(|e| panic!("starting airflow {component}: {e}")),
            );
        }
        Deployment { processes }
    }
}

impl Drop for Deployment {
    fn drop(&mut self) {
        for p in &mut self.processes {
            // SAFETY: a plain signal to the process group this test started.
            unsafe { libc::kill(-(p.id() as i32), libc::SIGKILL) };
            let _ = p.wait();
        }
    }
}

#[test]
fn a_split_workflow_runs_on_a_real_airflow_deployment_like_couler_run() {
    let work = tmp();
    let spec = work.path().join("layered.yaml");
    std::fs::write(&spec, layered::spec()).unwrap_or_else(|e| panic!("{e}"));
    let spec_s = spec.display().to_string();

    // The unsplit workflow on the local runtime, with a param that must reach every part.
    let local = layered::local_outputs(env!("CARGO_BIN_EXE_couler"), work.path(), &spec, "n=7");

    // Split for Airflow: 3 parts of 4 steps; artifacts crossing a cut go through OUT/exchange.
    let split = work.path().join("split");
    let store = work.path().join("store").display().to_string();
    let out = couler(
        work.path(),
        &[
            "split",
            &spec_s,
            "--target",
            "airflow",
            "--max-steps",
            "4",
            "-o",
            &split.display().to_string(),
            "--launcher",
            env!("CARGO_BIN_EXE_couler"),
            "--artifact-store",
            &store,
        ],
    );
    assert!(out.status.success(), "couler split: {}", text(&out.stderr));
    let report = text(&out.stdout);
    assert!(
        report.contains("12 steps split into 3 parts for airflow"),
        "{report}"
    );
    let dags = split.join("airflow");
    let home = Home::new(&dags);
    let (errors, mut ids) = home.dagbag(&dags);
    assert!(errors.is_empty(), "DAG import errors: {errors:#?}");
    ids.sort();
    assert_eq!(
        ids,
        [
            "layered",
            "layered-part-1",
            "layered-part-2",
            "layered-part-3"
        ]
    );

    // The parent, triggered with n=7, runs every part through the scheduler.
    let _airflow = Deployment::start(&home, &dags);
    let db = home.dir.path().join("airflow.db");
    let query = |sql: &str| -> Vec<Vec<String>> {
        let script = "import json, sqlite3, sys\nc = sqlite3.connect(sys.argv[1], timeout=30)\nprint(json.dumps([[str(x) for x in r] for r in c.execute(sys.argv[2])]))";
        let o = home.python(&dags, &["-c", script, &db.display().to_string(), sql]);
        assert!(o.status.success(), "sqlite: {}", text(&o.stderr));
        serde_json::from_slice(&o.stdout).unwrap_or_default()
    };
    // The DAG processor must have stored all four DAGs before a run can be triggered.
    let started = Instant::now();
    while query("SELECT dag_id FROM serialized_dag").len() < 4 {
        assert!(
            started.elapsed().as_secs() < 240,
            "the DAG processor did not serialize the DAGs in 240 s; see {}",
            home.dir.path().join("dag-processor.log").display()
        );
        std::thread::sleep(std::time::Duration::from_secs(2));
    }
    let out = home.airflow(
        &dags,
        &[
            "dags",
            "trigger",
            "layered",
            "--run-id",
            "split-1",
            "--conf",
            "{\"n\": 7}",
        ],
    );
    assert!(
        out.status.success(),
        "airflow dags trigger: {}",
        text(&out.stderr)
    );
    let runs = loop {
        let runs = query("SELECT dag_id, state, start_date, end_date FROM dag_run ORDER BY dag_id");
        let parent = runs.iter().find(|r| r[0] == "layered");
        if parent.is_some_and(|r| r[1] == "success" || r[1] == "failed") {
            break runs;
        }
        assert!(
            started.elapsed().as_secs() < 600,
            "the split run did not end in time: {runs:?}; logs in {}",
            home.dir.path().display()
        );
        std::thread::sleep(std::time::Duration::from_secs(2));
    };
    assert!(
        runs.iter().all(|r| r[1] == "success"),
        "every run succeeds: {runs:?}"
    );
    assert_eq!(runs.len(), 4, "the parent and one run per part: {runs:?}");
    // Parts run in dependency order (part 2 after 1, part 3 after 1 and 2).
    let span = |dag: &str| {
        let r = runs
            .iter()
            .find(|r| r[0] == dag)
            .unwrap_or_else(|| panic!("{dag}"));
        (r[2].clone(), r[3].clone())
    };
    let (p1, p2, p3) = (
        span("layered-part-1"),
        span("layered-part-2"),
        span("layered-part-3"),
    );
    assert!(p2.0 >= p1.1 && p3.0 >= p2.1, "{p1:?} {p2:?} {p3:?}");

    // Every step's outputs equal the unsplit run's; the exit step saw the workflow succeed.
    let rows = query(
        "SELECT dag_id, task_id, value FROM xcom WHERE key = 'return_value' AND run_id = 'split-1'",
    );
    let mut airflow: BTreeMap<String, serde_json::Value> = BTreeMap::new();
    let mut exit = None;
    for r in &rows {
        let mut v: serde_json::Value = serde_json::from_str(&r[2]).unwrap_or_default();
        if let Some(s) = v.as_str() {
            v = serde_json::from_str(s).unwrap_or_default();
        }
        if r[1] == "report" {
            exit = Some(v);
        } else if r[0] != "layered" {
            assert_eq!(v["status"], "Succeeded", "{r:?}");
            airflow.insert(r[1].clone(), layered::parameters_and_digests(&v["outputs"]));
        }
    }
    assert_eq!(
        airflow, local,
        "split on Airflow against couler run unsplit"
    );
    let exit = exit.unwrap_or_else(|| panic!("no outcome of the exit step: {rows:?}"));
    assert_eq!(exit["status"], "Succeeded", "{exit}");
    assert!(
        exit["outputs"]["result"].as_str() == Some("workflow Succeeded"),
        "{exit}"
    );
    // The artifacts that crossed a cut are in the exchange (EXCHANGE/STEP/ARTIFACT).
    let crossing: usize = report
        .lines()
        .find_map(|l| l.strip_prefix("artifacts crossing a cut: "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no count of crossing artifacts: {report}"));
    let exchanged: usize = std::fs::read_dir(split.join("exchange"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|step| std::fs::read_dir(step.path()).map_or(0, |d| d.count()))
        .sum();
    assert!(crossing > 0, "{report}");
    assert_eq!(exchanged, crossing, "{report}");
}

/// Airflow imports a 1,500-step DAG (workflow JSON far over 128 KiB) and every task's
/// `COULER_TASK` fits one environment string (Linux's `MAX_ARG_STRLEN`); the last task's
/// environment, handed to the launcher as `BashOperator` would, runs its step.
#[test]
fn a_big_dags_tasks_each_carry_a_slice_that_fits_their_environment() {
    let dir = tmp();
    let mut spec =
        String::from("apiVersion: couler.dev/v1alpha1\nkind: Workflow\nname: long-chain\nsteps:\n");
    let n = 1_500;
    for i in 0..n {
        let read = if i == 0 {
            String::new()
        } else {
            format!(" {{{{steps.s{}.outputs.parameters.v}}}}", i - 1)
        };
        spec += &format!(
            "  - name: s{i}\n    script: {{command: [sh], source: 'echo {}{read} > v.txt'}}\n    outputs: {{parameters: [{{name: v, path: v.txt}}]}}\n",
            "x".repeat(100)
        );
    }
    let file = dir.path().join("long-chain.yaml");
    std::fs::write(&file, &spec).unwrap_or_else(|e| panic!("{e}"));
    let couler_bin = env!("CARGO_BIN_EXE_couler");
    let file_arg = file.display().to_string();
    // Without `-o`, `couler compile` writes the whole DAG (it only notes that it could split).
    let out = couler(
        &repo(),
        &[
            "compile",
            &file_arg,
            "--target",
            "airflow",
            "--launcher",
            couler_bin,
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let dags = dir.path().join("dags");
    std::fs::create_dir_all(&dags).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dags.join("long_chain.py"), &out.stdout).unwrap_or_else(|e| panic!("{e}"));
    let home = Home::new(&dags);
    let script = r#"
import base64, json, os, subprocess, sys, time
from airflow.dag_processing.dagbag import DagBag
start = time.monotonic()
bag = DagBag(dag_folder=sys.argv[1])
seconds = time.monotonic() - start
assert not bag.import_errors, bag.import_errors
dag = bag.get_dag("long-chain")
sizes = {}
for t in dag.tasks:
    v = t.env["COULER_TASK"]
    sizes[t.task_id] = len("COULER_TASK=" + getattr(v, "value", v))
last = dag.get_task("s1499")
env = dict(os.environ)
env["COULER_TASK"] = last.env["COULER_TASK"].value
env["COULER_UPSTREAM_S1498"] = json.dumps({"status": "Succeeded", "outputs": {"parameters": {"v": "up"}, "result": None, "exit_code": 0, "artifacts": {}}})
work = sys.argv[3]
ran = subprocess.run([sys.argv[2], "launch", "step", "--no-cache", "--work-dir", work], env=env, capture_output=True, text=True)
task = json.loads(base64.b64decode(env["COULER_TASK"][4:]))
print(json.dumps({"tasks": len(dag.tasks), "max": max(sizes.values()), "seconds": seconds,
                  "steps_in_last": [s["name"] for s in task["workflow"]["steps"]],
                  "code": ran.returncode, "stdout": ran.stdout, "stderr": ran.stderr}))
"#;
    let work = dir.path().join("work");
    let o = home.python(
        &dags,
        &[
            "-c",
            script,
            &dags.display().to_string(),
            couler_bin,
            &work.display().to_string(),
        ],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let v: serde_json::Value =
        serde_json::from_str(text(&o.stdout).lines().last().unwrap_or_default())
            .unwrap_or_else(|e| panic!("{e}: {}", text(&o.stdout)));
    eprintln!(
        "DagBag imported {} tasks in {:.2} s; largest COULER_TASK {} bytes",
        v["tasks"],
        v["seconds"].as_f64().unwrap_or_default(),
        v["max"]
    );
    assert_eq!(v["tasks"], n);
    let json_len = serde_json::to_string(
        &couler_ir::spec::load(&spec, couler_ir::Format::Yaml)
            .unwrap_or_else(|d| panic!("{d:?}"))
            .0,
    )
    .unwrap_or_default()
    .len();
    assert!(
        json_len > 128 * 1024,
        "the workflow is {json_len} bytes of JSON"
    );
    assert!(
        v["max"].as_u64().unwrap_or(u64::MAX) < 131_072,
        "{}",
        v["max"]
    );
    assert_eq!(v["steps_in_last"], serde_json::json!(["s1498", "s1499"]));
    assert_eq!(v["code"], 0, "{v}");
    let outcome: serde_json::Value = serde_json::from_str(
        v["stdout"]
            .as_str()
            .unwrap_or_default()
            .lines()
            .last()
            .unwrap_or_default(),
    )
    .unwrap_or_else(|e| panic!("{e}: {v}"));
    assert_eq!(outcome["status"], "Succeeded", "{v}");
    assert_eq!(
        outcome["outputs"]["parameters"]["v"],
        format!("{} up", "x".repeat(100))
    );
}

/// A step reading 400 artifacts of 100 steps, whose launcher input is over Linux's 128 KiB limit
/// on one environment string: on the host operator its task's `pre_execute` hook writes the
/// input to a file and `COULER_TASK` names it, so `airflow dags test` runs it (with the input in
/// the environment, `bash` could not start: E2BIG). The pod and container operators cannot, and
/// say so at compile time.
#[test]
fn a_fan_in_steps_input_travels_in_a_file_and_runs() {
    let work = tmp();
    let spec = work.path().join("fan-in.yaml");
    let producers = 100;
    std::fs::write(&spec, fan_in::spec("fan-in", producers)).unwrap_or_else(|e| panic!("{e}"));
    let dags = work.path().join("dags");
    let store = work.path().join("store");
    let out = compile(
        &spec,
        &dags,
        &["--artifact-store", &store.display().to_string()],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    for operator in ["kubernetes", "docker"] {
        let out = compile(
            &spec,
            &work.path().join(operator),
            &["--operator", operator],
        );
        assert!(!out.status.success(), "--operator {operator} compiled");
        let err = text(&out.stderr);
        assert!(
            err.contains("step `gather`") && err.contains("131072-byte limit"),
            "--operator {operator}: {err}"
        );
    }
    let home = Home::new(&dags);
    let outcome = home.run(&dags, "fan-in");
    let gather = &outcome["tasks"]["gather"][0];
    assert_eq!(gather["state"], "success", "{outcome}");
    assert_eq!(
        gather["xcom"]["outputs"]["result"],
        (producers * fan_in::ARTIFACTS).to_string(),
        "{gather}"
    );
    assert_eq!(outcome["state"], "success");
    // The input did go through a file: the task's environment names one.
    let script = "import sys\nfrom airflow.dag_processing.dagbag import DagBag\nt = DagBag(dag_folder=sys.argv[1]).get_dag('fan-in').get_task('gather')\nv = t.env['COULER_TASK']\nprint(getattr(v, 'value', v)[:1])";
    let o = home.python(&dags, &["-c", script, &dags.display().to_string()]);
    let last = text(&o.stdout)
        .lines()
        .last()
        .unwrap_or_default()
        .to_string();
    assert_eq!(last, "@", "{}", text(&o.stderr));
}
