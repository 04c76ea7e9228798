//! The step zoo end to end: `couler zoo list/show`, and the paper's Fig. 9 churn workflow
//! (examples/churn.yaml, zoo entries only) run for real with scikit-learn from the test venv
//! (`COULER_TEST_PYTHON`, else the venv scripts/test-deps creates from requirements-test.txt).

#[path = "support/server.rs"]
mod support;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn couler(dir: &Path, args: &[&str], path: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_couler"));
    cmd.args(args)
        .current_dir(dir)
        .env_remove("COULER_STATE_DIR")
        .env_remove("COULER_ARTIFACT_STORE");
    if let Some(path) = path {
        cmd.env("PATH", path);
    }
    cmd.output().expect("couler runs")
}

#[test]
fn zoo_list_names_every_entry_with_its_typed_parameters() {
    let dir = tempfile::tempdir().unwrap();
    let out = couler(dir.path(), &["zoo", "list", "--output", "json"], None);
    assert!(out.status.success());
    let entries: Value = serde_json::from_slice(&out.stdout).unwrap();
    let rf = entries
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "train-random-forest")
        .expect("listed");
    assert_eq!(rf["category"], "train");
    let n = rf["params"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "n_estimators")
        .unwrap();
    assert_eq!(
        (n["type"].as_str(), n["default"].as_i64()),
        (Some("int"), Some(100))
    );
    let out = couler(dir.path(), &["zoo", "show", "select-best"], None);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("uses: zoo/select-best@1") && text.contains("`best_score`"),
        "{text}"
    );
    let out = couler(dir.path(), &["zoo", "show", "splt"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("did you mean `split`?"));
}

#[test]
fn the_churn_workflow_publishes_the_model_with_the_best_of_three_scores() {
    let python = support::test_python();
    let bin = python.parent().unwrap().to_str().unwrap().to_string();
    let path = format!("{bin}:{}", std::env::var("PATH").unwrap_or_default());
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("release");
    let spec = root().join("examples/churn.yaml");
    let args = [
        "run",
        spec.to_str().unwrap(),
        "--param",
        &format!("destination={}", dest.display()),
    ];
    let out = couler(dir.path(), &args, Some(&path));
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    let runs = std::fs::read_dir(dir.path().join(".couler/runs")).unwrap();
    let run = runs
        .map(|r| r.unwrap().file_name().into_string().unwrap())
        .next()
        .unwrap();
    let out = couler(dir.path(), &["status", &run, "--output", "json"], None);
    let status: Value = serde_json::from_slice(&out.stdout).unwrap();
    let param = |step: &str, name: &str| -> String {
        let s = status["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["step"] == step)
            .unwrap();
        s["outputs"]["parameters"][name]
            .as_str()
            .unwrap_or_else(|| panic!("{step}.{name}"))
            .to_string()
    };
    let scores: Vec<(&str, f64)> = [
        ("logistic-regression", "logreg"),
        ("random-forest", "forest"),
        ("gradient-boosting", "boosting"),
    ]
    .iter()
    .map(|(name, step)| {
        (
            *name,
            param(&format!("evaluate-{step}"), "score").parse().unwrap(),
        )
    })
    .collect();
    let best = param("select", "best");
    let best_score: f64 = param("select", "best_score").parse().unwrap();
    let max = scores.iter().map(|s| s.1).fold(f64::MIN, f64::max);
    assert!(
        scores.iter().any(|(n, s)| *n == best && *s == max),
        "{best} {best_score} of {scores:?}"
    );
    assert_eq!(best_score, max);
    assert!(
        scores.iter().all(|s| (0.5..=1.0).contains(&s.1)),
        "AUCs {scores:?}"
    );
    let published = std::fs::read(dest.join("churn-model.pkl")).expect("published");
    assert!(!published.is_empty());
    assert_eq!(
        param("publish", "location"),
        dest.join("churn-model.pkl").display().to_string()
    );
}

#[test]
fn the_churn_workflow_compiles_for_every_engine() {
    let spec = root().join("examples/churn.yaml");
    for target in ["argo", "airflow", "tekton"] {
        let out_dir = tempfile::tempdir().unwrap();
        let args = [
            "compile",
            spec.to_str().unwrap(),
            "--target",
            target,
            "-o",
            out_dir.path().to_str().unwrap(),
        ];
        let out = couler(&root(), &args, None);
        assert!(
            out.status.success(),
            "{target}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            std::fs::read_dir(out_dir.path()).unwrap().count() > 0,
            "{target} wrote nothing"
        );
    }
}

#[test]
fn fmt_keeps_uses_steps_as_written_and_the_example_is_canonical() {
    let out = couler(&root(), &["fmt", "--check", "examples/churn.yaml"], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("s.yaml");
    let text = "apiVersion: couler.dev/v1alpha1\nkind: Workflow\nname: s\nsteps:\n- name: b\n  script: {source: print(1)}\n  outputs: {artifacts: [{name: x, path: x}]}\n- uses: zoo/split@1\n  name: a   # the split\n  with: {seed: 3, data: steps.b.outputs.artifacts.x}\n  dependsOn: [b]\n";
    std::fs::write(&spec, text).unwrap();
    let out = couler(dir.path(), &["fmt", "--stdout", "s.yaml"], None);
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        printed.ends_with("- name: a  # the split\n  uses: zoo/split@1\n  with:\n    data: steps.b.outputs.artifacts.x\n    seed: 3\n  dependsOn:\n  - b\n"),
        "{printed}"
    );
    assert!(!printed.contains("IN_DATA"), "printed expanded: {printed}");
}

#[test]
fn the_server_lists_the_zoo_for_a_viewer() {
    let dir = tempfile::tempdir().unwrap();
    let server = support::Server::start(dir.path(), &[]);
    let viewer = support::token(&server.state_dir, "ann", "viewer", None);
    let (status, body) = server.call("GET", "/api/v1/zoo", Some(&viewer), None);
    assert_eq!(status, 200, "{body}");
    let listed = couler(dir.path(), &["zoo", "list", "--output", "json"], None);
    assert_eq!(
        body,
        serde_json::from_slice::<Value>(&listed.stdout).unwrap()
    );
    let (status, _) = server.call("GET", "/api/v1/zoo", None, None);
    assert_eq!(status, 401);
}
