//! The Airflow generator: golden DAG files (insta snapshots) for every spec it compiles, the
//! documented error for every spec it does not, operator variants, and Python literal encoding
//! checked by a real Python parser. Loading and running the DAGs in Airflow itself is
//! `crates/couler-cli/tests/airflow.rs`.

use couler_backends::airflow::{Airflow, python};
use couler_backends::{Backend, CompileError, Feature, Operator, Options};
use std::path::Path;
use std::process::Command;

mod common;
use common::specs;

fn load(path: &Path) -> couler_ir::Workflow {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    match couler_ir::spec::load(&text, couler_ir::Format::Yaml) {
        Ok((wf, _)) => wf,
        Err(d) => panic!("{}: {d:?}", path.display()),
    }
}

fn snapshot_name(path: &Path, suffix: &str) -> String {
    format!(
        "airflow_{}{suffix}",
        path.file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
    )
}

/// (spec file, feature, step) of each spec Airflow refuses (docs/airflow.md, "Features Airflow
/// cannot express").
const REFUSED: &[(&str, Feature, Option<&str>)] = &[
    ("control.yaml", Feature::Suspend, Some("approve")),
    (
        "distributed-training.yaml",
        Feature::Resource,
        Some("deploy"),
    ),
    ("kinds.yaml", Feature::Resource, Some("make-config")),
    ("policies.yaml", Feature::Volumes, None),
    ("storage.yaml", Feature::StorageGcs, Some("fetch")),
];

#[test]
fn every_spec_compiles_to_a_golden_dag_or_the_documented_error() {
    let opts = Options {
        launcher: Some("/usr/local/bin/couler".into()),
        artifact_store: Some("s3://couler-artifacts/runs".into()),
        ..Options::default()
    };
    for path in specs() {
        let wf = load(&path);
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        match (
            Airflow.compile(&wf, &opts),
            REFUSED.iter().find(|r| r.0 == name),
        ) {
            (Ok(out), None) => {
                let file = format!("{}.py", wf.name);
                let py = &out.files[&file];
                assert!(py.contains("from airflow.sdk import DAG, Param, literal"));
                // Deterministic: equal IR gives equal bytes.
                assert_eq!(
                    Airflow.compile(&wf, &opts).ok().map(|o| o.files),
                    Some(out.files.clone())
                );
                insta::assert_snapshot!(snapshot_name(&path, ""), py);
            }
            (
                Err(CompileError::Unsupported {
                    feature,
                    step,
                    backend,
                    ..
                }),
                Some((_, f, s)),
            ) => {
                assert_eq!(backend, "airflow");
                assert_eq!(feature, *f, "{name}");
                assert_eq!(step.as_deref(), *s, "{name}");
            }
            (Ok(_), Some(r)) => panic!("{name} compiled, but it uses {:?}", r.1),
            (Err(e), None) => panic!("{name}: {e}"),
            (Err(e), Some(_)) => panic!("{name}: unexpected error {e}"),
        }
    }
}

#[test]
fn kubernetes_and_docker_operators() {
    let wf = load(&common::repo().join("examples/ml-pipeline.yaml"));
    for (op, class, suffix) in [
        (
            Operator::Kubernetes,
            "KubernetesPodOperator(",
            "_kubernetes",
        ),
        (Operator::Docker, "DockerOperator(", "_docker"),
    ] {
        let out = Airflow
            .compile(
                &wf,
                &Options {
                    operator: op,
                    launcher_image: Some("ghcr.io/couler/couler:1".into()),
                    artifact_store: Some("s3://couler-artifacts/runs".into()),
                    ..Options::default()
                },
            )
            .unwrap_or_else(|e| panic!("{e}"));
        let py = &out.files["ml-pipeline.py"];
        assert!(py.contains(class), "{op:?}");
        assert!(
            !py.contains("BashOperator("),
            "{op:?} DAGs do not run steps on the host"
        );
        insta::assert_snapshot!(format!("airflow_ml-pipeline{suffix}"), py);
    }
}

#[test]
fn a_step_without_an_artifact_store_warns() {
    let wf = load(&common::repo().join("examples/artifact-passing.yaml"));
    let out = Airflow
        .compile(&wf, &Options::default())
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        out.warnings.iter().any(|w| w.contains("no artifact store")),
        "{:?}",
        out.warnings
    );
}

/// Python's own parser reads every literal back to the same value.
#[test]
fn python_literals_round_trip_through_python() {
    let values = serde_json::json!([
        "plain",
        "q'\"''' \"\"\" \\ \n \r \t {{ x }} {% y %} $(z) `w` é☃😀 \u{0} \u{7f} \u{2028}",
        {"k\"ey": [1, -2.5, true, false, null, {"nested": "\\\\"}]},
        1e300
    ]);
    let lit = python::literal(&values);
    let out = Command::new("python3")
        .args([
            "-c",
            "import ast, json, sys; print(json.dumps(ast.literal_eval(sys.stdin.read())))",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin
                .take()
                .map(|mut s| s.write_all(lit.as_bytes()))
                .transpose()?;
            c.wait_with_output()
        })
        .unwrap_or_else(|e| panic!("this test needs python3 on PATH: {e}"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let back: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(back, values);
    assert!(lit.is_ascii() && !lit.contains('\n'), "{lit}");
}
