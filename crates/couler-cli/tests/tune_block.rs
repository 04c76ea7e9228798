//! The `tune` block end to end: examples/tune-ml-pipeline.yaml run for real on the local
//! runtime with scikit-learn from the test venv (`COULER_TEST_PYTHON`), and its lowering
//! compiled for every engine.

#[path = "support/cli.rs"]
mod cli;

use cli::couler_in;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `couler run SPEC` in `dir` with `path` as PATH (the test venv's `python3` first).
fn run_with_path(dir: &Path, spec: &Path, path: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_couler"))
        .args(["run", spec.to_str().unwrap()])
        .current_dir(dir)
        .env_remove("COULER_STATE_DIR")
        .env_remove("COULER_ARTIFACT_STORE")
        .env("PATH", path)
        .output()
        .expect("couler runs")
}

/// `couler run SPEC` in `dir` (see [`run_with_path`]), which must succeed; the run's status as
/// `couler status --output json` prints it.
fn run_status(dir: &Path, spec: &Path, path: &str) -> Value {
    let out = run_with_path(dir, spec, path);
    assert!(out.status.success(), "{}", text(&out));
    let run = std::fs::read_dir(dir.join(".couler/runs"))
        .unwrap()
        .map(|r| r.unwrap().file_name().into_string().unwrap())
        .next()
        .unwrap();
    cli::status(dir, &run)
}

/// `couler compile SPEC --target TARGET` in `dir`, which must succeed; what it printed.
fn compile(dir: &Path, spec: &Path, target: &str) -> String {
    let out = couler_in(
        dir,
        &["compile", spec.to_str().unwrap(), "--target", target],
    );
    assert!(out.status.success(), "{target}: {}", text(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The record of step `name` in a run's status.
fn step_of(status: &Value, name: &str) -> Value {
    status["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["step"] == name)
        .unwrap_or_else(|| panic!("no step {name} in {status}"))
        .clone()
}

/// A directory holding `python3` of the test venv (scikit-learn), for PATH.
fn test_python_bin() -> String {
    let python = std::env::var_os("COULER_TEST_PYTHON")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .expect("set COULER_TEST_PYTHON to a python with scikit-learn (scripts/test-deps)");
    python.parent().unwrap().to_str().unwrap().to_string()
}

#[test]
fn the_tuning_example_publishes_the_arg_best_of_its_recorded_trials() {
    let path = format!(
        "{}:{}",
        test_python_bin(),
        std::env::var("PATH").unwrap_or_default()
    );
    let dir = tempfile::tempdir().unwrap();
    let spec = root().join("examples/tune-ml-pipeline.yaml");
    let status = run_status(dir.path(), &spec, &path);
    let step = |name: &str| step_of(&status, name);
    let param = |s: &str, name: &str| -> String {
        step(s)["outputs"]["parameters"][name]
            .as_str()
            .unwrap_or_else(|| panic!("{s}.{name} in {}", step(s)))
            .to_string()
    };
    for (tuned, knob) in [("tune-knn", "k"), ("tune-logreg", "C")] {
        // The trials' own objective values, as the mapped step recorded them.
        let recorded: Vec<f64> =
            serde_json::from_str::<Vec<String>>(&param(&format!("{tuned}-trials"), "accuracy"))
                .expect("a JSON list of strings")
                .iter()
                .map(|s| s.parse().unwrap())
                .collect();
        assert_eq!(recorded.len(), 8, "the budget's trials all ran");
        assert!(
            recorded.iter().all(|a| (0.5..=1.0).contains(a)),
            "{recorded:?}"
        );
        let max = recorded.iter().copied().fold(f64::MIN, f64::max);
        let best_trial: usize = param(tuned, "best_trial").parse().unwrap();
        assert_eq!(
            recorded[best_trial], max,
            "{tuned}: trial {best_trial} of {recorded:?}"
        );
        assert_eq!(param(tuned, "best_objective").parse::<f64>().unwrap(), max);
        // The published setting is the best trial's setting.
        let result = step(tuned)["outputs"]["result"].clone();
        let trials: Value = serde_json::from_str(result.as_str().unwrap()).unwrap();
        assert_eq!(trials.as_array().map(Vec::len), Some(8), "{trials}");
        let best = &trials[best_trial];
        assert_eq!(best["objective"].as_f64(), Some(max), "{trials}");
        assert_eq!(
            param(tuned, &format!("best_{knob}")),
            best[knob].to_string(),
            "{trials}"
        );
    }
    let published: Value =
        serde_json::from_str(step("publish")["outputs"]["result"].as_str().unwrap()).unwrap();
    let knn: f64 = param("tune-knn", "best_objective").parse().unwrap();
    let logreg: f64 = param("tune-logreg", "best_objective").parse().unwrap();
    assert_eq!(
        published["accuracy"].as_f64(),
        Some(knn.max(logreg)),
        "{published}"
    );
}

#[test]
fn a_tuned_spec_compiles_for_every_engine_as_trials_and_a_selection() {
    let dir = tempfile::tempdir().unwrap();
    let spec = root().join("examples/tune-ml-pipeline.yaml");
    for target in ["argo", "airflow", "tekton"] {
        let compiled = compile(dir.path(), &spec, target);
        assert!(compiled.contains("tune-knn-trials"), "{target}: {compiled}");
        assert!(compiled.contains("best_objective"), "{target}: {compiled}");
        assert_eq!(
            compiled,
            compile(dir.path(), &spec, target),
            "{target}: equal spec, equal bytes"
        );
    }
}

/// A spec with two studies of a cheap objective (peak at x = 3, better with more epochs): TPE
/// in three rounds of four, and Hyperband over an epochs fidelity; `method` replaces `tpe`.
fn rounds_spec(method: &str) -> String {
    r#"apiVersion: couler.dev/v1alpha1
kind: Workflow
name: rounds
defaults:
  image: python:3.12-slim
steps:
- name: fit-tpe
  script:
    source: |
      import os
      print(-(float(os.environ["X"]) - 3) ** 2)
  inputs:
    parameters:
    - name: x
  outputs:
    parameters:
    - name: score
  env:
    X: '{{inputs.parameters.x}}'
  tune:
    space:
    - {name: x, type: float, low: 0, high: 10}
    objective: {parameter: score, goal: maximize}
    budget: 12
    parallelism: 4
    method: tpe
    seed: 3
- name: fit-hb
  script:
    source: |
      import os
      print(-(float(os.environ["X"]) - 3) ** 2 - 1 / int(os.environ["EPOCHS"]))
  inputs:
    parameters:
    - name: x
    - name: epochs
  outputs:
    parameters:
    - name: score
  env:
    X: '{{inputs.parameters.x}}'
    EPOCHS: '{{inputs.parameters.epochs}}'
  tune:
    space:
    - {name: x, type: float, low: 0, high: 10}
    objective: {parameter: score, goal: maximize}
    fidelity: {name: epochs, min: 1, max: 9}
    budget: 6
    parallelism: 3
    method: hyperband
    seed: 3
"#
    .replacen("method: tpe", &format!("method: {method}"), 1)
}

#[test]
fn learning_methods_run_in_rounds_and_publish_the_best_at_full_fidelity() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("rounds.yaml");
    std::fs::write(&spec, rounds_spec("tpe")).unwrap();
    // `couler` itself is not on PATH: the proposers find the running couler (last on PATH).
    let path = std::env::var("PATH").unwrap_or_default();
    let me = Path::new(env!("CARGO_BIN_EXE_couler")).parent().unwrap();
    assert!(!std::env::split_paths(&path).any(|d| d == me));
    let status = run_status(dir.path(), &spec, &path);
    let steps = status["steps"].as_array().unwrap();
    let step = |name: &str| -> &Value {
        steps
            .iter()
            .find(|s| s["step"] == name)
            .unwrap_or_else(|| panic!("no step {name} in {status}"))
    };
    for (tuned, total) in [("fit-tpe", 12), ("fit-hb", 0)] {
        let rounds = steps
            .iter()
            .filter(|s| {
                s["step"]
                    .as_str()
                    .unwrap()
                    .starts_with(&format!("{tuned}-trials-"))
            })
            .count();
        assert!(rounds >= 2, "{tuned}: {rounds} rounds");
        // Every trial the selection saw, with its objective, in round order.
        let trials: Vec<Value> =
            serde_json::from_str(step(tuned)["outputs"]["result"].as_str().unwrap()).unwrap();
        if total > 0 {
            assert_eq!(trials.len(), total, "{tuned}: the budget's trials all ran");
        }
        // Round 1's settings are what its proposer printed, and they ran.
        let proposed: Vec<Value> = serde_json::from_str(
            step(&format!("{tuned}-propose-1"))["outputs"]["result"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
        let first = serde_json::from_str::<Vec<String>>(
            step(&format!("{tuned}-trials-0"))["outputs"]["parameters"]["score"]
                .as_str()
                .unwrap(),
        )
        .unwrap()
        .len();
        for (i, p) in proposed.iter().enumerate() {
            let mut ran = trials[first + i].clone();
            ran.as_object_mut().unwrap().remove("objective");
            assert_eq!(&ran, p, "{tuned}: trial {}", first + i);
        }
        // The best is the arg-best among the trials at the highest fidelity reached.
        let top = trials
            .iter()
            .map(|t| t.get("epochs").and_then(Value::as_i64).unwrap_or(0))
            .max()
            .unwrap();
        let (best, _) = trials
            .iter()
            .enumerate()
            .filter(|(_, t)| t.get("epochs").and_then(Value::as_i64).unwrap_or(0) == top)
            .max_by(|a, b| {
                let o = |t: &Value| t["objective"].as_f64().unwrap();
                o(a.1).total_cmp(&o(b.1)).then(b.0.cmp(&a.0))
            })
            .unwrap();
        let param = |name: &str| {
            step(tuned)["outputs"]["parameters"][name]
                .as_str()
                .unwrap()
                .to_string()
        };
        assert_eq!(param("best_trial"), best.to_string(), "{tuned}: {trials:?}");
        assert_eq!(param("best_x"), trials[best]["x"].to_string(), "{tuned}");
        if tuned == "fit-hb" {
            assert_eq!(top, 9, "Hyperband reaches full fidelity: {trials:?}");
            assert!(
                trials.iter().any(|t| t["epochs"].as_i64() < Some(9)),
                "and starts lower: {trials:?}"
            );
        }
    }
}

#[test]
fn a_study_in_rounds_compiles_for_every_engine_with_its_proposers() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("rounds.yaml");
    std::fs::write(&spec, rounds_spec("tpe")).unwrap();
    for target in ["argo", "airflow", "tekton"] {
        let compiled = compile(dir.path(), &spec, target);
        for name in ["fit-tpe-propose-1", "fit-tpe-trials-2", "fit-hb-propose-1"] {
            assert!(compiled.contains(name), "{target}: no {name} in {compiled}");
        }
    }
}

/// An ASHA study (scheduled asynchronously) beside a TPE study in rounds: each trial appends
/// its setting to `SIDE/ran`; a trial whose line comes after the first `hold_after` waits for
/// `SIDE/go`.
fn asha_spec(side: &Path, hold_after: usize) -> String {
    let trial = format!(
        r#"echo "$X $E" >> {s}/ran; n=$(grep -nxF "$X $E" {s}/ran | head -n 1 | cut -d: -f1); if [ "$n" -gt {hold_after} ]; then while [ ! -f {s}/go ]; do sleep 0.05; done; fi; awk "BEGIN {{ print -($X - 3) ^ 2 - 1 / $E }}" > score"#,
        s = side.display()
    );
    format!(
        r#"apiVersion: couler.dev/v1alpha1
kind: Workflow
name: asha
steps:
- name: fit
  container:
    command: [sh, -c, '{trial}']
  inputs:
    parameters:
    - name: x
    - name: epochs
  outputs:
    parameters:
    - {{name: score, path: score}}
  env:
    X: '{{{{inputs.parameters.x}}}}'
    E: '{{{{inputs.parameters.epochs}}}}'
  tune:
    space:
    - {{name: x, type: float, low: 0, high: 10}}
    objective: {{parameter: score, goal: maximize}}
    fidelity: {{name: epochs, min: 1, max: 9}}
    budget: 6
    parallelism: 3
    method: asha
    seed: 5
- name: report
  container:
    command: [echo, 'x={{{{steps.fit.outputs.parameters.best_x}}}}']
"#
    )
}

/// The lines of `SIDE/ran`: each trial's "x epochs", once each time it ran.
fn ran(side: &Path) -> Vec<String> {
    std::fs::read_to_string(side.join("ran"))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// The published best of an ASHA study is the arg-best of its trials at the top fidelity, and
/// each trial the study lists ran once, with the setting listed.
fn check_asha(status: &Value, side: &Path) -> Vec<Value> {
    let fit = step_of(status, "fit");
    assert_eq!(fit["status"], "Succeeded", "{fit}");
    let trials: Vec<Value> =
        serde_json::from_str(fit["outputs"]["result"].as_str().unwrap()).unwrap();
    assert!(trials.len() >= 6, "{trials:?}");
    let top = trials
        .iter()
        .map(|t| t["epochs"].as_i64().unwrap())
        .max()
        .unwrap();
    assert_eq!(top, 9, "a configuration reaches full fidelity: {trials:?}");
    assert!(trials.iter().any(|t| t["epochs"] == 3), "{trials:?}");
    let (best, _) = trials
        .iter()
        .enumerate()
        .filter(|(_, t)| t["epochs"] == top)
        .max_by(|a, b| {
            let o = |t: &Value| t["objective"].as_f64().unwrap();
            o(a.1).total_cmp(&o(b.1)).then(b.0.cmp(&a.0))
        })
        .unwrap();
    let param = |name: &str| {
        fit["outputs"]["parameters"][name]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(param("best_trial"), best.to_string());
    assert_eq!(param("best_x"), trials[best]["x"].to_string());
    assert_eq!(
        step_of(status, "report")["outputs"]["result"],
        format!("x={}", trials[best]["x"])
    );
    // Every trial is a node of its own, `fit-trials[K]`, with the setting it was given.
    for (k, t) in trials.iter().enumerate() {
        let name = format!("fit-trials[{k}]");
        let node = status["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["node"] == name.as_str())
            .unwrap_or_else(|| panic!("no node {name} in {status}"));
        assert_eq!(node["step"], "fit-trials", "{node}");
        assert_eq!(node["status"], "Succeeded", "{node}");
        let line = format!("{} {}", t["x"], t["epochs"]);
        assert!(ran(side).contains(&line), "trial {k} ({line}) ran");
    }
    trials
}

#[test]
fn an_asha_study_runs_as_results_arrive_here_and_engines_refuse_it_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let side = dir.path().join("side");
    std::fs::create_dir_all(&side).unwrap();
    std::fs::write(side.join("go"), "").unwrap();
    let spec = dir.path().join("asha.yaml");
    std::fs::write(&spec, asha_spec(&side, 0)).unwrap();
    let status = run_status(
        dir.path(),
        &spec,
        &std::env::var("PATH").unwrap_or_default(),
    );
    let trials = check_asha(&status, &side);
    assert_eq!(ran(&side).len(), trials.len(), "each trial ran once");
    // The journal beside the run: the study, then what it was asked and told.
    let run = status["run"]["id"].as_str().unwrap();
    let journal = std::fs::read_to_string(
        dir.path()
            .join(format!(".couler/runs/{run}/tune/fit.jsonl")),
    )
    .unwrap();
    assert!(journal.starts_with("{\"study\":"), "{journal}");
    assert_eq!(
        journal.matches("\"tell\"").count(),
        trials.len(),
        "{journal}"
    );
    // An engine plans its steps before it runs them: refused, saying what to do.
    for target in ["argo", "airflow", "tekton"] {
        let out = couler_in(
            dir.path(),
            &["compile", spec.to_str().unwrap(), "--target", target],
        );
        assert!(!out.status.success(), "{target}: {}", text(&out));
        let err = text(&out);
        assert!(
            err.contains("tune-asynchronous") || err.contains("asynchronous studies"),
            "{target}: {err}"
        );
        assert!(err.contains("schedule: rounds"), "{target}: {err}");
        assert!(err.contains("hyperband"), "{target}: {err}");
    }
    // `schedule: rounds` cannot hold ASHA: refused at its line, with the methods that can.
    let rounds =
        asha_spec(&side, 0).replacen("method: asha", "method: asha\n    schedule: rounds", 1);
    std::fs::write(&spec, &rounds).unwrap();
    let out = couler_in(dir.path(), &["validate", spec.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let line = rounds
        .lines()
        .position(|l| l.contains("schedule: rounds"))
        .unwrap()
        + 1;
    let err = text(&out);
    assert!(err.contains("`asha` promotes as results arrive"), "{err}");
    assert!(
        err.contains(&format!("asha.yaml:{line}:")),
        "line {line}: {err}"
    );
}

/// A `couler run` killed with SIGKILL when dropped, its waiting trials then released.
struct Killed(Option<std::process::Child>, PathBuf);

impl Killed {
    fn kill(&mut self) {
        if let Some(mut child) = self.0.take() {
            // SAFETY: SIGKILL to our own child process, not yet reaped.
            unsafe {
                libc::kill(child.id() as i32, libc::SIGKILL);
            }
            let _ = child.wait();
        }
    }
}

impl Drop for Killed {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::write(&self.1, "");
    }
}

#[test]
fn a_killed_asha_study_resumes_from_its_journal_and_reruns_only_the_unreported_trials() {
    let dir = tempfile::tempdir().unwrap();
    let side = dir.path().join("side");
    std::fs::create_dir_all(&side).unwrap();
    let spec = dir.path().join("asha.yaml");
    // Six trials report; the next three (the three workers) wait for `go`.
    std::fs::write(&spec, asha_spec(&side, 6)).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_couler"))
        .args(["run", spec.to_str().unwrap()])
        .current_dir(dir.path())
        .env_remove("COULER_STATE_DIR")
        .env_remove("COULER_ARTIFACT_STORE")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Killed with SIGKILL when dropped: below, or on the way out of a failed assertion (and
    // `go` written, so its waiting trials end too).
    let mut child = Killed(Some(child), side.join("go"));
    let t = std::time::Instant::now();
    while ran(&side).len() < 9 {
        assert!(t.elapsed().as_secs() < 60, "{:?}", ran(&side));
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    child.kill();
    let before = ran(&side);
    assert_eq!(before.len(), 9, "{before:?}");
    std::fs::write(side.join("go"), "").unwrap();
    let run = std::fs::read_dir(dir.path().join(".couler/runs"))
        .unwrap()
        .map(|r| r.unwrap().file_name().into_string().unwrap())
        .next()
        .unwrap();
    let out = couler_in(dir.path(), &["resume", &run]);
    assert!(out.status.success(), "{}", text(&out));
    let status = cli::status(dir.path(), &run);
    let trials = check_asha(&status, &side);
    // The six that reported ran once; the three that were waiting ran again; the rest once.
    let after = ran(&side);
    assert_eq!(after.len(), trials.len() + 3, "{after:?}");
    for (i, line) in before.iter().enumerate() {
        let times = after.iter().filter(|l| *l == line).count();
        assert_eq!(times, if i < 6 { 1 } else { 2 }, "{line}: {after:?}");
    }
}

/// A study of method `llm` (the paper's Algorithm 4) over the OpenAI-compatible stand-in on
/// loopback: budget 4, two at once, four candidates a round.
fn llm_spec(endpoint: &str) -> String {
    format!(
        r#"apiVersion: couler.dev/v1alpha1
kind: Workflow
name: llm-study
defaults:
  image: python:3.12-slim
steps:
- name: fit
  script:
    source: |
      import os
      print((float(os.environ["X"]) - 3) ** 2)
  inputs:
    parameters:
    - name: x
  outputs:
    parameters:
    - name: loss
  env:
    X: '{{{{inputs.parameters.x}}}}'
  tune:
    space:
    - {{name: x, type: float, low: 0, high: 10}}
    objective: {{parameter: loss, goal: minimize}}
    budget: 4
    parallelism: 2
    method: llm
    llm:
      model: stand-in
      endpoint: {endpoint}
      candidates: 4
      dataCard:
        name: toy
        inputType: tabular
        labelSpace: real value
        metrics: [squared error]
      modelCard:
        name: parabola
        structure: a formula
        description: the loss is least near one value of x
"#
    )
}

/// Predicted final losses of candidates 1..=4: candidate 3 best, then 1.
const LLM_ANSWER_0: &str = r#"{"predictions": [{"candidate": 1, "log": [5, 4, 2]}, {"candidate": 2, "log": [9, 9, 9]}, {"candidate": 3, "log": [3, 2, 1]}, {"candidate": 4, "log": [6, 5, 3]}]}"#;
/// Candidate 2 best, then 4.
const LLM_ANSWER_1: &str = r#"{"predictions": [{"candidate": 1, "log": [5, 4, 3]}, {"candidate": 2, "log": [3, 2, 1]}, {"candidate": 3, "log": [9, 9, 9]}, {"candidate": 4, "log": [6, 5, 2]}]}"#;

#[test]
fn an_llm_study_asks_the_model_once_a_round_and_runs_its_best_predicted() {
    use couler_model::standin::{Reply, Server};
    let server = Server::start(vec![
        Reply::answer(LLM_ANSWER_0),
        Reply::answer(LLM_ANSWER_1),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("llm.yaml");
    std::fs::write(&spec, llm_spec(&server.url)).unwrap();
    let status = run_status(
        dir.path(),
        &spec,
        &std::env::var("PATH").unwrap_or_default(),
    );
    let step = |name: &str| step_of(&status, name);
    // Two rounds, two questions: round 1's proposer replays round 0's answer, published by
    // round 0's proposer, instead of asking again.
    let requests = server.requests();
    assert_eq!(requests.len(), 2, "one question a round");
    let question = |i: usize| {
        requests[i].body["messages"][1]["content"]
            .as_str()
            .unwrap()
            .to_string()
    };
    for part in [
        "Data Card\n- dataset: toy",
        "- model: parabola",
        "- x: ",
        "Candidates:\n1. x=",
    ] {
        assert!(
            question(0).contains(part),
            "{part} missing:\n{}",
            question(0)
        );
    }
    assert!(!question(0).contains("Measured so far"), "{}", question(0));
    assert!(
        question(1).contains("Measured so far (squared error):"),
        "{}",
        question(1)
    );
    assert_eq!(requests[0].body["model"], "stand-in");
    let answers = |name: &str| -> Vec<String> {
        let text = step(name)["outputs"]["parameters"]["answers"].clone();
        serde_json::from_str(text.as_str().unwrap()).unwrap()
    };
    assert_eq!(answers("fit-propose-0"), [LLM_ANSWER_0]);
    assert_eq!(answers("fit-propose-1"), [LLM_ANSWER_1]);
    // Round 0 ran candidates 3 and 1 of its question, in that order.
    let candidate = |q: &str, n: usize| -> f64 {
        let line = q
            .lines()
            .find(|l| l.starts_with(&format!("{n}. x=")))
            .unwrap_or_else(|| panic!("no candidate {n} in {q}"));
        line[format!("{n}. x=").len()..].parse().unwrap()
    };
    let round0: Vec<Value> =
        serde_json::from_str(step("fit-propose-0")["outputs"]["result"].as_str().unwrap()).unwrap();
    let xs: Vec<f64> = round0.iter().map(|s| s["x"].as_f64().unwrap()).collect();
    assert_eq!(xs.len(), 2);
    for (x, n) in xs.iter().zip([3, 1]) {
        assert!(
            (x - candidate(&question(0), n)).abs() < 1e-3,
            "{xs:?} vs candidate {n}"
        );
    }
    // The selection publishes the best of the four trials.
    let trials: Vec<Value> =
        serde_json::from_str(step("fit")["outputs"]["result"].as_str().unwrap()).unwrap();
    assert_eq!(trials.len(), 4);
    let best = trials
        .iter()
        .map(|t| t["objective"].as_f64().unwrap())
        .fold(f64::INFINITY, f64::min);
    let published: f64 = step("fit")["outputs"]["parameters"]["best_objective"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(published, best, "{trials:?}");
}

#[test]
fn an_llm_study_fails_its_proposer_with_the_model_s_error_and_compiles_for_every_engine() {
    // Nothing listens at port 9: the proposer's step fails, naming the endpoint.
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("llm.yaml");
    std::fs::write(&spec, llm_spec("http://127.0.0.1:9/v1")).unwrap();
    let out = run_with_path(
        dir.path(),
        &spec,
        &std::env::var("PATH").unwrap_or_default(),
    );
    assert!(!out.status.success(), "{}", text(&out));
    let err = text(&out);
    assert!(err.contains("fit-propose-0"), "{err}");
    let run = std::fs::read_dir(dir.path().join(".couler/runs"))
        .unwrap()
        .map(|r| r.unwrap().file_name().into_string().unwrap())
        .next()
        .unwrap();
    let logs = text(&couler_in(dir.path(), &["logs", &run, "fit-propose-0"]));
    assert!(logs.contains("127.0.0.1:9"), "{logs}");
    for target in ["argo", "airflow", "tekton"] {
        let compiled = compile(dir.path(), &spec, target);
        for name in ["fit-propose-0", "fit-propose-1", "ANSWERS_0"] {
            assert!(compiled.contains(name), "{target}: no {name} in {compiled}");
        }
    }
    // Method llm without its model is refused at its line, with the fix.
    let text_in = llm_spec("http://127.0.0.1:9/v1");
    let cut = text_in.find("    llm:\n").unwrap();
    let bare = dir.path().join("bare.yaml");
    std::fs::write(&bare, &text_in[..cut]).unwrap();
    let out = couler_in(dir.path(), &["validate", bare.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = text(&out);
    assert!(err.contains("method `llm` asks a language model"), "{err}");
    assert!(err.contains("add `llm:`"), "{err}");
}
