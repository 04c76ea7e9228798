//! The Tekton backend's documents, run: a test stand-in for the Tekton controller
//! (`support/tekton_standin.rs`, not Tekton itself; see its doc comment and docs/tekton.md,
//! "What is verified here") interprets the Tasks, Pipeline and PipelineRun `couler compile
//! --target tekton` writes and runs each TaskRun's `run` step with the real `couler launch`.
//! Every example Tekton compiles must end as `couler run` ends on the same file: per step the
//! status, output parameters, result and artifact contents (shared comparison:
//! `support/outcomes.rs`). Hostile strings pass through Tekton's substitution unchanged.

#[path = "support/cli.rs"]
mod cli;
#[path = "support/fan_in.rs"]
mod fan_in;
#[path = "support/outcomes.rs"]
mod outcomes;
#[path = "support/tekton_standin.rs"]
#[allow(dead_code)] // shared with tekton_split.rs, which reads the claims
mod tekton_standin;

use cli::couler_in as couler;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use std::time::Instant;

use outcomes::{RunView, differences, local_nodes, local_run};
use tekton_standin::{PipelineRun, Standin, State};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"))
}

/// The launcher path the documents name by default (`--launcher`), copied by each Task.
const DEFAULT_LAUNCHER: &str = "/usr/local/bin/couler";

fn standin() -> Standin {
    Standin {
        launcher: PathBuf::from(env!("CARGO_BIN_EXE_couler")),
        compiled_launcher: DEFAULT_LAUNCHER.into(),
        claims: None,
        pod_env: Vec::new(),
    }
}

/// Compiles `file` for Tekton into `out`; the documents' path, or the compiler's stderr.
fn compile(file: &Path, out: &Path) -> Result<PathBuf, String> {
    let o = couler(
        &repo(),
        &[
            "compile",
            &file.display().to_string(),
            "--target",
            "tekton",
            // `ml-pipeline`'s `parallelism: 4` cannot be enforced (docs/tekton.md).
            "--ignore-parallelism",
            "-o",
            &out.display().to_string(),
        ],
    );
    if !o.status.success() {
        return Err(text(&o.stderr));
    }
    let docs: Vec<PathBuf> = std::fs::read_dir(out)
        .unwrap_or_else(|e| panic!("{e}"))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    assert_eq!(docs.len(), 1, "one documents file: {docs:?}");
    Ok(docs[0].clone())
}

/// The specs Tekton is checked on: the examples, the cluster examples, Tekton's feature spec.
fn specs() -> Vec<PathBuf> {
    let mut v = Vec::new();
    for dir in ["examples", "examples/cluster"] {
        let d = repo().join(dir);
        for e in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let p = e.unwrap_or_else(|e| panic!("{e}")).path();
            if p.extension().is_some_and(|x| x == "yaml") {
                v.push(p);
            }
        }
    }
    v.sort();
    v.push(repo().join("crates/couler-backends/tests/tekton/supported.yaml"));
    v
}

/// The documented compile error of each spec Tekton rejects (docs/tekton.md, "Rejected").
const REJECTED: &[(&str, &str)] = &[(
    "distributed-training.yaml",
    "tekton does not support Kubernetes resource steps",
)];

/// Specs that compile but cannot run here, and why (checked: the stand-in refuses them so).
const NOT_RUNNABLE: &[(&str, &str)] = &[(
    "supported.yaml",
    "comes from a secret; the stand-in has no secrets",
)];

/// Examples that need Python packages beyond a bare machine's (scikit-learn): not run here;
/// tests/zoo.rs and tests/tune_block.rs run them with the test venv's interpreter.
const NEEDS_PACKAGES: &[&str] = &["churn.yaml", "tune-ml-pipeline.yaml"];

/// Examples whose steps draw random numbers: the local run is repeated until its coin matches.
/// Their `repeat` iterations are random too (`flip-until-tails`), so they are not compared.
const RANDOM: &[&str] = &["coin-flip", "flip-until-tails"];

/// Whether a pipeline task runs a step (its Task publishes `outcome`), not a condition.
fn is_step(docs: &tekton_standin::Documents, pt_task: &str) -> bool {
    docs.tasks[pt_task]["spec"]["results"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|r| r["name"] == "outcome")
}

/// The launcher's outcome in a TaskRun's results (fetched from the store when spilled).
fn outcome_of(results: &BTreeMap<String, String>, view: &RunView<'_>) -> Option<serde_json::Value> {
    let o: serde_json::Value = serde_json::from_str(results.get("outcome")?).ok()?;
    match o.get("outcomeRef") {
        Some(r) => serde_json::from_str(&view.blob(r["digest"].as_str()?)?).ok(),
        None => Some(o),
    }
}

/// Per step node (`step`, or `step[i]` per matrix instance): the comparable outcome.
fn tekton_nodes(
    docs: &tekton_standin::Documents,
    run: &PipelineRun,
    view: &RunView<'_>,
) -> (BTreeMap<String, serde_json::Value>, Vec<String>) {
    let mut nodes = BTreeMap::new();
    let mut mapped = Vec::new();
    let pts: Vec<&serde_json::Value> = ["tasks", "finally"]
        .iter()
        .flat_map(|k| docs.pipeline["spec"][k].as_array().into_iter().flatten())
        .collect();
    for pt in pts {
        let name = pt["name"].as_str().unwrap_or_default();
        if !is_step(docs, pt["taskRef"]["name"].as_str().unwrap_or_default()) {
            continue;
        }
        let end = &run.tasks[name];
        if let State::Skipped(why) = &end.state {
            // Not started because the run was stopping after a failure: `couler run`'s Omitted.
            let status = match why {
                tekton_standin::Skip::Stopping => "Omitted",
                _ => "Skipped",
            };
            nodes.insert(
                name.to_string(),
                view.comparable(status, &serde_json::Value::Null),
            );
            continue;
        }
        if end.matrixed {
            mapped.push(name.to_string());
        }
        for (i, tr) in end.runs.iter().enumerate() {
            let node = if end.matrixed {
                format!("{name}[{i}]")
            } else {
                name.to_string()
            };
            let v = match outcome_of(&tr.results, view) {
                Some(o) => view.comparable(o["status"].as_str().unwrap_or("?"), &o["outputs"]),
                None => serde_json::json!({
                    "status": format!("tekton:{:?}", tr.state),
                    "log": tr.log,
                }),
            };
            nodes.insert(node, v);
        }
    }
    (nodes, mapped)
}

#[test]
fn every_example_runs_on_the_standin_like_the_local_runtime() {
    let started = Instant::now();
    let mut ran = Vec::new();
    for spec in specs() {
        let file = spec
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        let name = spec
            .file_stem()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        let work = tmp();
        let docs_file = match compile(&spec, &work.path().join("out")) {
            Ok(p) => p,
            Err(e) => {
                let (_, msg) = REJECTED
                    .iter()
                    .find(|(n, _)| *n == file)
                    .unwrap_or_else(|| panic!("{file} must compile for tekton: {e}"));
                assert!(e.contains(msg), "{file}: expected `{msg}`, got: {e}");
                continue;
            }
        };
        assert!(
            !REJECTED.iter().any(|(n, _)| *n == file),
            "{file} compiles although listed as rejected"
        );
        if NEEDS_PACKAGES.contains(&file.as_str()) {
            continue;
        }
        if let Some(tekton_secs) = run_like_local(&spec, &docs_file, work.path()) {
            ran.push(format!("{name} {tekton_secs:.2}s"));
        }
    }
    assert!(ran.len() >= 8, "examples run: {ran:?}");
    eprintln!(
        "tekton stand-in: ran {} ({}), total {:.1}s",
        ran.len(),
        ran.join(", "),
        started.elapsed().as_secs_f64()
    );
}

/// Runs the compiled `docs_file` of `spec` on the stand-in in `work` and asserts every step ends
/// as in `couler run` of the same file; the stand-in's seconds, or `None` for a spec the
/// stand-in must refuse ([`NOT_RUNNABLE`]).
fn run_like_local(spec: &Path, docs_file: &Path, work: &Path) -> Option<f64> {
    let file = spec
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let name = spec
        .file_stem()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let docs = tekton_standin::parse(docs_file).unwrap_or_else(|e| panic!("{e}"));
    let t = Instant::now();
    let run = standin().run(&docs, work);
    if let Some((_, why)) = NOT_RUNNABLE.iter().find(|(n, _)| *n == file) {
        let err = run
            .err()
            .unwrap_or_else(|| panic!("{file}: expected the stand-in to refuse it"));
        assert!(err.contains(why), "{file}: {err}");
        return None;
    }
    let run = run.unwrap_or_else(|e| panic!("{file}: the stand-in: {e}"));
    let tekton_secs = t.elapsed().as_secs_f64();
    let store = run.workspaces["couler-artifacts"].clone();
    let random = RANDOM.contains(&name);
    let view = RunView {
        run_id: &run.uid,
        store: &store,
        iterations: !random,
    };
    let (tekton, mapped) = tekton_nodes(&docs, &run, &view);
    let (local, _) = local_run(spec, file, &mapped, random, !random, &tekton);
    // A step its launcher maps is one TaskRun, whose outcome is the aggregate (status and
    // collected outputs, what readers get); `couler run`'s instance nodes have no TaskRun.
    let local: BTreeMap<String, serde_json::Value> = local
        .into_iter()
        .filter(|(node, _)| {
            !node
                .split_once('[')
                .is_some_and(|(step, _)| tekton.contains_key(step))
        })
        .collect();
    let diff = differences("tekton", &tekton, &local);
    assert!(
        diff.is_empty(),
        "{file}: the stand-in's run differs from the local runtime's:\n{}",
        diff.join("\n")
    );
    assert!(
        tekton.values().any(|v| v["status"] == "Succeeded"),
        "{file}: no step ran: {tekton:?}"
    );
    Some(tekton_secs)
}

/// What the launcher does inside one TaskRun, deterministically (the examples' loop flips a
/// coin): a `repeat` counting to 3 (a counter file per run id), a `map.from` over the list it
/// makes with `map.parallelism` and a `when` on `item`, and a reader of the mapped step's
/// collected `result` and `status`: every step, iteration count included, ends as in
/// `couler run`.
#[test]
fn repeat_and_run_time_maps_run_in_the_launcher_like_the_local_runtime() {
    let work = tmp();
    let counters = work.path().join("counters");
    std::fs::create_dir_all(&counters).unwrap_or_else(|e| panic!("{e}"));
    let spec = serde_json::json!({
        "apiVersion": "couler.dev/v1alpha1",
        "kind": "Workflow",
        "name": "loops",
        "defaults": {"image": "python:3.12-slim"},
        "steps": [
            {
                "name": "count",
                "env": {"DIR": counters.display().to_string(), "RUN": "{{workflow.runId}}"},
                "script": {"command": ["python3"], "source": "import os\np = os.path.join(os.environ['DIR'], os.environ['RUN'])\nn = int(open(p).read()) + 1 if os.path.exists(p) else 1\nopen(p, 'w').write(str(n))\nprint(n)\n"},
                "repeat": {"while": "steps.count.outputs.result < 3", "maxIterations": 10},
            },
            {
                "name": "list",
                "container": {"command": ["python3", "-c", "import sys; print(list(range(int(sys.argv[1]))))", "{{steps.count.outputs.result}}"]},
            },
            {
                "name": "square",
                "map": {"from": "steps.list.outputs.result", "parallelism": 2},
                "when": "item != 1",
                "container": {"command": ["python3", "-c", "import sys; print(int(sys.argv[1]) ** 2)", "{{item}}"]},
            },
            {
                "name": "total",
                "container": {"command": ["echo", "{{steps.square.outputs.result}} {{steps.square.status}}"]},
            },
        ],
    });
    let file = work.path().join("loops.yaml");
    std::fs::write(&file, spec.to_string()).unwrap_or_else(|e| panic!("{e}"));
    let docs_file = compile(&file, &work.path().join("out")).unwrap_or_else(|e| panic!("{e}"));
    let docs = std::fs::read_to_string(&docs_file).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        !docs.contains("matrix"),
        "the launcher maps `square`: {docs}"
    );
    assert!(run_like_local(&file, &docs_file, work.path()).is_some());
    // Both runs counted to 3 in their own counter file (the stand-in's and `couler run`'s).
    let counts: Vec<String> = std::fs::read_dir(&counters)
        .unwrap_or_else(|e| panic!("{e}"))
        .map(|e| {
            std::fs::read_to_string(e.unwrap_or_else(|e| panic!("{e}")).path()).unwrap_or_default()
        })
        .collect();
    assert_eq!(counts, ["3", "3"], "{counts:?}");
}

/// Strings Tekton would substitute if they reached a substituted field, and the usual quoting
/// hazards.
const HOSTILE: &str = "$(params.evil) $(context.pipelineRun.uid) $(tasks.status) $(workspaces.couler-artifacts.path) q'\"''' {{ 7 * 7 }} ${HOME} $(touch CANARY) `touch CANARY` é☃😀 \\n\\";

/// The run-time semantics the examples do not exercise, on one workflow: hostile strings through
/// params and outputs, the run id, a `when` (an ordering, evaluated by the launcher) that skips a
/// step and (through its `Skipped` outcome) that step's reader, but neither a `dependsOn`-only
/// successor of either (`after`, `after-reader`), matrix fan-out, a
/// `continueOnFailure` failure, and the exit handler's `workflow.status` from `$(tasks.status)`.
fn semantics(canary: &Path) -> serde_json::Value {
    serde_json::json!({
        "apiVersion": "couler.dev/v1alpha1",
        "kind": "Workflow",
        "name": "semantics",
        "params": [{"name": "evil", "default": HOSTILE}, {"name": "n", "type": "int", "default": 3}],
        "defaults": {"image": "python:3.12-slim"},
        "steps": [
            {
                "name": "echo-param",
                "env": {"EVIL": "{{params.evil}}", "CANARY_DIR": canary.display().to_string()},
                "script": {"command": ["python3"], "source": "import os, sys\n# $(touch CANARY-src) $(params.evil)\nsys.stdout.write(os.environ['EVIL'])\n"},
            },
            {
                "name": "pass-on",
                "container": {"command": ["python3", "-c", "import sys; sys.stdout.write(sys.argv[1])", "{{steps.echo-param.outputs.result}}"]},
            },
            {"name": "run-id", "container": {"command": ["echo", "{{workflow.runId}}"]}},
            {"name": "big", "when": "params.n > 5", "container": {"command": ["echo", "big"]}},
            {"name": "reader", "container": {"command": ["echo", "{{steps.big.outputs.result}}"]}},
            {"name": "after", "dependsOn": ["big"], "container": {"command": ["echo", "after"]}},
            {"name": "after-reader", "dependsOn": ["reader"], "container": {"command": ["echo", "after"]}},
            {"name": "fan", "map": {"items": ["a", "$(params.evil)"]}, "container": {"command": ["echo", "{{item}}"]}},
            {"name": "soft-fail", "continueOnFailure": true, "container": {"command": ["python3", "-c", "import sys; sys.exit(3)"]}},
        ],
        "onExit": {"name": "notify", "container": {"command": ["echo", "{{workflow.status}}"]}},
    })
}

#[test]
fn tekton_semantics_and_hostile_strings_match_the_local_runtime() {
    let canary_dir = tmp();
    let canary = canary_dir.path().join("canary");
    std::fs::create_dir_all(&canary).unwrap_or_else(|e| panic!("{e}"));
    let (tekton, local, run, work) = both(&semantics(&canary));

    // Tekton itself skips nothing (no `when` expressions, no condition tasks): every task ran
    // and succeeded, its launcher deciding `Skipped` (exit 0, results written), so Tekton's
    // cascades ("Parent Tasks were skipped", "Results were missing") never apply. With no task
    // skipped the run's status is `Succeeded`, not `Completed`.
    for (name, end) in &run.tasks {
        assert!(
            !matches!(end.state, State::Skipped(_)),
            "`{name}`: {:?}",
            end.state
        );
    }
    assert!(!run.tasks.contains_key("big-when"), "no condition task");
    assert_eq!(run.tasks["big"].state, State::Succeeded);
    assert_eq!(run.tasks["reader"].state, State::Succeeded);
    // The skips are the launchers': `big` by its `when`, `reader` for reading `big`'s output;
    // `after` (dependsOn `big`) and `after-reader` (dependsOn `reader`, formerly skipped on
    // Tekton as "Parent Tasks were skipped") run, as in `couler run`.
    for (node, status) in [
        ("big", "Skipped"),
        ("reader", "Skipped"),
        ("after", "Succeeded"),
        ("after-reader", "Succeeded"),
    ] {
        assert_eq!(tekton[node]["status"], status, "{node}: {tekton:#?}");
        assert_eq!(local[node]["status"], status, "{node}: {local:#?}");
    }
    assert_eq!(
        run.tasks["fan"].runs.len(),
        2,
        "one TaskRun per matrix value"
    );
    assert_eq!(run.tasks_status, "Succeeded");

    // Hostile text arrives unchanged, the run id is the PipelineRun's uid, the exit handler sees
    // `Succeeded`, and nothing ran that the user did not write.
    assert_eq!(tekton["echo-param"]["result"], HOSTILE, "{tekton:#?}");
    assert_eq!(tekton["pass-on"]["result"], HOSTILE, "{tekton:#?}");
    assert_eq!(tekton["run-id"]["result"], "<run-id>", "{tekton:#?}");
    assert_eq!(tekton["fan[1]"]["result"], "$(params.evil)", "{tekton:#?}");
    assert_eq!(tekton["soft-fail"]["status"], "Failed", "{tekton:#?}");
    assert_eq!(tekton["notify"]["result"], "Succeeded", "{tekton:#?}");
    let canaries: Vec<_> = walk(work.path())
        .into_iter()
        .chain(walk(canary_dir.path()))
        .filter(|p| p.to_string_lossy().contains("CANARY"))
        .collect();
    assert!(
        canaries.is_empty(),
        "something ran that the user did not write: {canaries:?}"
    );

    let diff = differences("tekton", &tekton, &local);
    assert!(
        diff.is_empty(),
        "the stand-in's run differs from the local runtime's:\n{}",
        diff.join("\n")
    );
}

#[test]
fn the_standin_substitutes_context_pipelinerun_only_in_the_pipeline() {
    // The bug this stand-in found: a Task's `$(context.pipelineRun.uid)` is not a Task variable,
    // so Tekton leaves it as text and every run had that literal run id. The same documents with
    // the variable moved back into the Task show it.
    let work = tmp();
    let spec = work.path().join("run-id.json");
    let wf = serde_json::json!({
        "apiVersion": "couler.dev/v1alpha1",
        "kind": "Workflow",
        "name": "run-id",
        "steps": [{"name": "run-id", "container": {"image": "alpine:3.19", "command": ["echo", "{{workflow.runId}}"]}}],
    });
    std::fs::write(&spec, wf.to_string()).unwrap_or_else(|e| panic!("{e}"));
    let docs_file = compile(&spec, &work.path().join("out")).unwrap_or_else(|e| panic!("{e}"));
    let mut docs = tekton_standin::parse(&docs_file).unwrap_or_else(|e| panic!("{e}"));
    let run = standin()
        .run(&docs, work.path())
        .unwrap_or_else(|e| panic!("{e}"));
    let store = run.workspaces["couler-artifacts"].clone();
    let view = RunView {
        run_id: &run.uid,
        store: &store,
        iterations: true,
    };
    assert_eq!(
        tekton_nodes(&docs, &run, &view).0["run-id"]["result"],
        "<run-id>"
    );
    for task in docs.tasks.values_mut() {
        for step in task["spec"]["steps"].as_array_mut().into_iter().flatten() {
            for e in step["env"].as_array_mut().into_iter().flatten() {
                if e["name"] == "COULER_RUN_ID" {
                    e["value"] = serde_json::json!("$(context.pipelineRun.uid)");
                }
            }
        }
    }
    let work2 = tmp();
    let run = standin()
        .run(&docs, work2.path())
        .unwrap_or_else(|e| panic!("{e}"));
    let store = run.workspaces["couler-artifacts"].clone();
    let view = RunView {
        run_id: &run.uid,
        store: &store,
        iterations: true,
    };
    assert_eq!(
        tekton_nodes(&docs, &run, &view).0["run-id"]["result"],
        "$(context.pipelineRun.uid)"
    );
}

#[test]
fn outcomes_over_the_result_limit_travel_through_the_store() {
    // A 5,000-character result: the launcher's outcome would break Tekton's 4096-byte limit on
    // a TaskRun's results (which the stand-in enforces), so it goes to the store as
    // `outcomeRef` and the reader fetches it.
    let work = tmp();
    let wf = serde_json::json!({
        "apiVersion": "couler.dev/v1alpha1",
        "kind": "Workflow",
        "name": "big-outcome",
        "defaults": {"image": "python:3.12-slim"},
        "steps": [
            {"name": "long", "container": {"command": ["python3", "-c", "print('x' * 5000)"]}},
            // 3,000 bytes of outcome JSON, 6,000 once Tekton escapes it into its message.
            {"name": "quotes", "container": {"command": ["python3", "-c", "print(chr(34) * 1500)"]}},
            {"name": "length", "container": {"command": ["python3", "-c", "import sys; print(len(sys.argv[1]))", "{{steps.long.outputs.result}}"]}},
        ],
    });
    let spec = work.path().join("big.json");
    std::fs::write(&spec, wf.to_string()).unwrap_or_else(|e| panic!("{e}"));
    let docs_file = compile(&spec, &work.path().join("out")).unwrap_or_else(|e| panic!("{e}"));
    let docs = tekton_standin::parse(&docs_file).unwrap_or_else(|e| panic!("{e}"));
    let run = standin()
        .run(&docs, work.path())
        .unwrap_or_else(|e| panic!("{e}"));
    let long = &run.tasks["long"].runs[0].results;
    assert!(long["outcome"].contains("outcomeRef"), "{long:?}");
    assert!(long.values().map(String::len).sum::<usize>() <= 4096);
    let store = run.workspaces["couler-artifacts"].clone();
    let view = RunView {
        run_id: &run.uid,
        store: &store,
        iterations: true,
    };
    let (tekton, _) = tekton_nodes(&docs, &run, &view);
    assert_eq!(tekton["length"]["result"], "5000", "{tekton:#?}");
    assert_eq!(tekton["long"]["result"], "x".repeat(5000));
    assert_eq!(
        run.tasks["quotes"].state,
        State::Succeeded,
        "{:?}",
        run.tasks["quotes"]
    );
    assert_eq!(tekton["quotes"]["result"], "\"".repeat(1500));
    let (_, local, _, _work) = both(&wf);
    let diff = differences("tekton", &tekton, &local);
    assert!(diff.is_empty(), "{}", diff.join("\n"));
}

/// Runs `docs` on the stand-in in `work`: its step nodes, the mapped steps, the run.
fn on_standin(
    docs: &tekton_standin::Documents,
    work: &Path,
) -> (
    BTreeMap<String, serde_json::Value>,
    Vec<String>,
    PipelineRun,
) {
    let run = standin()
        .run(docs, work)
        .unwrap_or_else(|e| panic!("the stand-in: {e}"));
    let store = run.workspaces["couler-artifacts"].clone();
    let view = RunView {
        run_id: &run.uid,
        store: &store,
        iterations: true,
    };
    let (tekton, mapped) = tekton_nodes(docs, &run, &view);
    (tekton, mapped, run)
}

/// Runs `wf` on the stand-in and with `couler run`; both node maps, and the stand-in's run.
fn both(
    wf: &serde_json::Value,
) -> (
    BTreeMap<String, serde_json::Value>,
    BTreeMap<String, serde_json::Value>,
    PipelineRun,
    tempfile::TempDir,
) {
    let work = tmp();
    let spec = work.path().join("spec.json");
    std::fs::write(&spec, wf.to_string()).unwrap_or_else(|e| panic!("{e}"));
    let docs_file = compile(&spec, &work.path().join("out")).unwrap_or_else(|e| panic!("{e}"));
    let docs = tekton_standin::parse(&docs_file).unwrap_or_else(|e| panic!("{e}"));
    let (tekton, mapped, run) = on_standin(&docs, work.path());
    let d = tmp();
    let out = couler(
        d.path(),
        &["run", &spec.display().to_string(), "-o", "json"],
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("couler run -o json ({e}): {}", text(&out.stderr)));
    let local_store = d.path().join(".couler/artifacts");
    let lview = RunView {
        run_id: report["runId"].as_str().unwrap_or("?"),
        store: &local_store,
        iterations: true,
    };
    let local = local_nodes(&report, &mapped, &lview);
    (tekton, local, run, work)
}

#[test]
fn a_failure_stops_the_run_and_the_exit_handler_sees_failed() {
    let wf = serde_json::json!({
        "apiVersion": "couler.dev/v1alpha1",
        "kind": "Workflow",
        "name": "failing",
        "defaults": {"image": "python:3.12-slim"},
        "steps": [
            {"name": "fail", "container": {"command": ["python3", "-c", "import sys; sys.exit(1)"]}},
            {"name": "child", "dependsOn": ["fail"], "container": {"command": ["echo", "child"]}},
        ],
        "onExit": {"name": "notify", "container": {"command": ["echo", "{{workflow.status}}"]}},
    });
    let (tekton, local, run, _work) = both(&wf);
    assert_eq!(run.tasks_status, "Failed");
    assert_eq!(tekton["child"]["status"], "Omitted", "{tekton:#?}");
    assert_eq!(tekton["notify"]["result"], "Failed", "{tekton:#?}");
    let diff = differences("tekton", &tekton, &local);
    assert!(diff.is_empty(), "{}", diff.join("\n"));
}

#[test]
fn the_feature_spec_runs_like_the_local_runtime_without_its_cluster_parts() {
    // supported.yaml itself needs a cluster (a secret, an S3 store, a trainer image; the
    // examples test checks the stand-in refuses it). Edited as data to run here: the secret,
    // the S3 store and train's mounts taken out, train's command replaced by one that writes
    // its accuracy file. Everything else (conditions on params and on outputs, groups, the matrix over
    // items and a range, continueOnFailure, cache, the exit handler's condition) is as written.
    let file = repo().join("crates/couler-backends/tests/tekton/supported.yaml");
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let mut wf: serde_json::Value =
        serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let scratch = tmp();
    let accuracy = scratch.path().join("accuracy").display().to_string();
    wf.as_object_mut().map(|m| m.remove("artifactRepository"));
    for step in wf["steps"].as_array_mut().into_iter().flatten() {
        if step["name"] == "train" {
            step.as_object_mut().map(|m| m.remove("secrets"));
            step["volumeMounts"] = serde_json::json!([]);
            step["container"]["command"] = serde_json::json!([
                "python3",
                "-c",
                "import sys; open(sys.argv[1], 'w').write('0.9'); print(sys.argv[2])",
                // The declared absolute path is the step's own: written through its placeholder.
                "{{outputs.parameters.accuracy.path}}",
                "--threshold={{params.threshold}}"
            ]);
            step["outputs"]["parameters"][0]["path"] = serde_json::json!(accuracy);
        }
    }
    let (tekton, local, run, _work) = both(&wf);
    // `clean`'s `when` is false: its launcher skips it (the TaskRun succeeds, Tekton skips
    // nothing); the exit handler's `when` is a Tekton `when` on the `finally` task.
    assert_eq!(run.tasks["clean"].state, State::Succeeded);
    assert_eq!(tekton["clean"]["status"], "Skipped", "{tekton:#?}");
    assert_eq!(
        tekton["evaluate[1]"]["result"], "validation 0.9",
        "{tekton:#?}"
    );
    assert_eq!(tekton["sweep[2]"]["result"], "7", "{tekton:#?}");
    assert_eq!(tekton["notify"]["status"], "Skipped", "{tekton:#?}");
    let diff = differences("tekton", &tekton, &local);
    assert!(diff.is_empty(), "{}", diff.join("\n"));
}

#[test]
fn a_param_given_in_the_pipelinerun_reaches_the_step() {
    // A value set when creating a run (the PipelineRun's params, edited as data here) travels
    // as `$(params.param-who)` into `COULER_PARAM_who`, and the step renders it.
    let work = tmp();
    let docs_file = compile(
        &repo().join("examples/hello.yaml"),
        &work.path().join("out"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let mut docs = tekton_standin::parse(&docs_file).unwrap_or_else(|e| panic!("{e}"));
    let params = docs.pipeline_run["spec"]["params"]
        .as_array_mut()
        .unwrap_or_else(|| panic!("the PipelineRun gives every param"));
    for p in params.iter_mut() {
        if p["name"] == "who" {
            p["value"] = serde_json::json!("tekton $(params.who)");
        }
    }
    let run = standin()
        .run(&docs, work.path())
        .unwrap_or_else(|e| panic!("{e}"));
    let store = run.workspaces["couler-artifacts"].clone();
    let view = RunView {
        run_id: &run.uid,
        store: &store,
        iterations: true,
    };
    let nodes = tekton_nodes(&docs, &run, &view).0;
    assert_eq!(
        nodes["say-hello"]["result"], "hello tekton $(params.who)",
        "{nodes:#?}"
    );
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

/// A step reading 480 artifacts of 120 steps: its launcher input is over Linux's 128 KiB limit
/// on one environment string (the stand-in runs each step as a process, so an oversized
/// `COULER_TASK` fails with E2BIG as a pod would). It travels in the Task's ConfigMap, and the
/// run ends as `couler run` does.
#[test]
fn a_fan_in_steps_input_travels_in_a_config_map_and_runs() {
    let work = tmp();
    let spec = work.path().join("fan-in.yaml");
    let producers = 120;
    std::fs::write(&spec, fan_in::spec("fan-in", producers)).unwrap_or_else(|e| panic!("{e}"));
    let docs_file = compile(&spec, &work.path().join("out")).unwrap_or_else(|e| panic!("{e}"));
    let docs = tekton_standin::parse(&docs_file).unwrap_or_else(|e| panic!("{e}"));
    // Every environment value fits one string; the fan-in's input is in a ConfigMap.
    let gather = docs.tasks.values().find(|t| {
        t["spec"]["steps"][1]["env"][0]["value"]
            .as_str()
            .is_some_and(|v| v.starts_with('@'))
    });
    let gather = gather.unwrap_or_else(|| panic!("no Task reads its input from a file"));
    let map = &docs.config_maps[gather["metadata"]["name"].as_str().unwrap_or_default()];
    let input = map["data"]["gather.json"].as_str().unwrap_or_default();
    assert!(input.len() > 128 * 1024, "{} bytes", input.len());
    for t in docs.tasks.values() {
        for step in t["spec"]["steps"].as_array().into_iter().flatten() {
            for e in step["env"].as_array().into_iter().flatten() {
                let len = e["name"].as_str().unwrap_or_default().len()
                    + e["value"].as_str().unwrap_or_default().len();
                assert!(len < 128 * 1024, "{}: {len} bytes", e["name"]);
            }
        }
    }
    let (tekton, mapped, run) = on_standin(&docs, work.path());
    assert_eq!(
        tekton["gather"]["status"], "Succeeded",
        "{:?}",
        run.tasks["gather"]
    );
    assert_eq!(
        tekton["gather"]["result"],
        (producers * fan_in::ARTIFACTS).to_string()
    );
    let (local, _) = local_run(&spec, "fan-in", &mapped, false, true, &tekton);
    let diff = differences("tekton", &tekton, &local);
    assert!(diff.is_empty(), "{}", diff.join("\n"));
}
