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

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
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
    let out = run_with_path(dir.path(), &spec, &path);
    assert!(out.status.success(), "{}", text(&out));

    let run = std::fs::read_dir(dir.path().join(".couler/runs"))
        .unwrap()
        .map(|r| r.unwrap().file_name().into_string().unwrap())
        .next()
        .unwrap();
    let status = cli::status(dir.path(), &run);
    let step = |name: &str| -> Value {
        status["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["step"] == name)
            .unwrap_or_else(|| panic!("no step {name} in {status}"))
            .clone()
    };
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
        let out = couler_in(
            dir.path(),
            &["compile", spec.to_str().unwrap(), "--target", target],
        );
        assert!(out.status.success(), "{target}: {}", text(&out));
        let compiled = String::from_utf8_lossy(&out.stdout);
        assert!(compiled.contains("tune-knn-trials"), "{target}: {compiled}");
        assert!(compiled.contains("best_objective"), "{target}: {compiled}");
        let again = couler_in(
            dir.path(),
            &["compile", spec.to_str().unwrap(), "--target", target],
        );
        assert_eq!(
            out.stdout, again.stdout,
            "{target}: equal spec, equal bytes"
        );
    }
}

#[test]
fn an_adaptive_method_is_refused_at_its_line_until_its_rounds_are_lowered() {
    let dir = tempfile::tempdir().unwrap();
    let text_in = std::fs::read_to_string(root().join("examples/tune-ml-pipeline.yaml")).unwrap();
    let spec = dir.path().join("tpe.yaml");
    std::fs::write(&spec, text_in.replacen("method: sobol", "method: tpe", 1)).unwrap();
    let out = couler_in(dir.path(), &["compile", spec.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let line = text_in
        .lines()
        .position(|l| l.contains("method: sobol"))
        .unwrap()
        + 1;
    let err = text(&out);
    assert!(err.contains("`tpe` learns from earlier trials"), "{err}");
    assert!(
        err.contains(&format!("tpe.yaml:{line}:")),
        "line {line}: {err}"
    );
}
