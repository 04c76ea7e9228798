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
    ("daemon.yaml", Feature::Daemon, Some("cache")),
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

/// The workflow's `timeout` is the DAG's `dagrun_timeout`; with an exit handler, compiling warns
/// that Airflow skips it after the deadline instead of running it.
#[test]
fn the_workflow_timeout_is_dagrun_timeout_and_a_skipped_exit_handler_is_a_warning() {
    let mut wf = load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/features/deadline.yaml"));
    let out = Airflow
        .compile(&wf, &Options::default())
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(out.files["deadline.py"].contains("dagrun_timeout=timedelta(seconds=5400)"));
    let skipped = |w: &Vec<String>| w.iter().any(|w| w.contains("exit handler does not run"));
    assert!(skipped(&out.warnings), "{:?}", out.warnings);
    wf.on_exit.clear();
    let out = Airflow
        .compile(&wf, &Options::default())
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!skipped(&out.warnings), "{:?}", out.warnings);
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

/// A chain of `n` steps, each with a 100-byte script and an output parameter its successor reads.
fn chain(n: usize) -> couler_ir::Workflow {
    let mut spec =
        String::from("apiVersion: couler.dev/v1alpha1\nkind: Workflow\nname: chain\nsteps:\n");
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
    couler_ir::spec::load(&spec, couler_ir::Format::Yaml)
        .unwrap_or_else(|d| panic!("{d:?}"))
        .0
}

/// Each task carries its step and stubs of what it reads, not the whole workflow: the DAG file
/// grows linearly (bytes per step stay put from 200 to 2,000 steps), and a 2,000-step
/// workflow, whose JSON is far over the 128 KiB a task's environment string may hold, compiles.
/// (That every task's environment fits, in the DAG Airflow itself imports, is checked in
/// `crates/couler-cli/tests/airflow.rs`.)
#[test]
fn the_dag_file_grows_linearly_and_big_workflows_compile() {
    let size = |n: usize| {
        let wf = chain(n);
        let json = serde_json::to_string(&wf).unwrap().len();
        let out = Airflow
            .compile(&wf, &Options::default())
            .unwrap_or_else(|e| panic!("{e}"));
        (json, out.size())
    };
    let (_, small) = size(200);
    let (json, big) = size(2_000);
    assert!(json > 200 * 1024, "the workflow JSON is {json} bytes");
    let per_step = |bytes: usize, n: usize| bytes as f64 / n as f64;
    let ratio = per_step(big, 2_000) / per_step(small, 200);
    assert!(
        (0.9..1.1).contains(&ratio),
        "bytes per step: {} at 200 steps, {} at 2,000",
        per_step(small, 200),
        per_step(big, 2_000)
    );
}

/// A step whose launcher input cannot fit one environment string gets it in a file on the
/// worker with the host operator (a `pre_execute` hook writes it; `COULER_TASK` names it), and is
/// refused at compile time with the pod and container operators, naming the step, the limit and
/// the fix, rather than failing at `execve`.
#[test]
fn a_step_too_big_for_a_tasks_environment_travels_in_a_file_or_is_refused() {
    let spec = format!(
        "apiVersion: couler.dev/v1alpha1\nkind: Workflow\nname: big-step\nsteps:\n  - name: small\n    container: {{image: alpine, command: [echo, hi]}}\n  - name: huge\n    script: {{command: [sh], source: 'echo {}'}}\n",
        "y".repeat(100 * 1024)
    );
    let (wf, _) = couler_ir::spec::load(&spec, couler_ir::Format::Yaml).unwrap();
    let host = Airflow
        .compile(&wf, &Options::default())
        .unwrap_or_else(|e| panic!("{e}"));
    let dag = &host.files["big-step.py"];
    assert_eq!(dag.matches("by_file=True").count(), 1, "only `huge`");
    assert_eq!(dag.matches("pre_execute=_write_task(\"huge\"").count(), 1);
    for operator in [Operator::Kubernetes, Operator::Docker] {
        let o = Options {
            operator,
            ..Options::default()
        };
        let err = Airflow.compile(&wf, &o).unwrap_err().to_string();
        assert!(err.contains("step `huge`"), "{err}");
        assert!(
            err.contains("131072-byte limit") && err.contains("--operator host"),
            "{err}"
        );
    }
}

#[test]
fn a_dag_id_option_names_the_dag_and_its_file_but_not_the_workflow() {
    let (wf, _) = couler_ir::spec::load(
        "apiVersion: couler.dev/v1alpha1\nkind: Workflow\nname: flow\nsteps:\n- name: a\n  container:\n    command: [echo, '{{workflow.name}}']\n",
        couler_ir::Format::Yaml,
    )
    .unwrap_or_else(|d| panic!("{d:?}"));
    let o = Options {
        dag_id: Some("flow-0a1b2c3d".into()),
        ..Options::default()
    };
    let out = Airflow.compile(&wf, &o).unwrap_or_else(|e| panic!("{e}"));
    let text = &out.files["flow-0a1b2c3d.py"];
    assert!(text.contains("dag_id=\"flow-0a1b2c3d\""), "{text}");
    assert!(
        text.contains("\\\"name\\\":\\\"flow\\\""),
        "workflow.name stays: {text}"
    );
    let bad = Options {
        dag_id: Some("x\"); import os; (\"".into()),
        ..Options::default()
    };
    let e = Airflow
        .compile(&wf, &bad)
        .expect_err("a dag id that is not a label");
    assert!(e.to_string().contains("not a DNS-1123 label"), "{e}");
}
