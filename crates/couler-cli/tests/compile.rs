//! `couler compile` and `couler backends`, driven as a real process.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn couler(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_couler"))
        .args(args)
        .current_dir(repo())
        .output()
        .expect("couler runs")
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn compiles_every_example_to_stdout() {
    for ex in [
        "examples/hello.yaml",
        "examples/ml-pipeline.yaml",
        "examples/model-search.yaml",
        "examples/cluster/distributed-training.yaml",
    ] {
        let out = couler(&["compile", ex, "--target", "argo"]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{ex}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.starts_with("apiVersion: argoproj.io/v1alpha1\nkind: "),
            "{text}"
        );
        assert!(String::from_utf8_lossy(&out.stderr).contains("bytes"));
    }
}

#[test]
fn writes_files_into_a_directory_with_the_requested_kind() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let out = couler(&[
        "compile",
        "examples/diamond.yaml",
        "-o",
        d,
        "--kind",
        "workflow-template",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(dir.path().join("diamond.yaml")).unwrap();
    assert!(text.contains("kind: WorkflowTemplate"), "{text}");
}

#[test]
fn cron_kind_without_schedule_and_bad_specs_exit_2() {
    let out = couler(&["compile", "examples/hello.yaml", "--kind", "cron-workflow"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("schedule"));
    let out = couler(&["compile", "no-such-file.yaml"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn backends_prints_the_capability_matrix() {
    let out = couler(&["backends"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("repeat") && text.contains("argo") && text.contains("lowered"),
        "{text}"
    );
}

/// A sub-workflow step references the WorkflowTemplate its child compiles to, which is named
/// after the child's `name:`, not after the file; a child that does not load is exit 2.
#[test]
fn a_sub_workflow_step_references_the_childs_own_name() {
    let dir = tempfile::tempdir().unwrap();
    let head = "apiVersion: couler.dev/v1alpha1\nkind: Workflow\n";
    std::fs::write(
        dir.path().join("child.yaml"),
        format!("{head}name: child-wf\nparams: [{{name: msg}}]\nsteps:\n  - name: a\n    container: {{image: alpine, command: [echo, '{{{{params.msg}}}}']}}\n"),
    )
    .unwrap();
    let parent = dir.path().join("parent.yaml");
    std::fs::write(
        &parent,
        format!("{head}name: parent\nsteps:\n  - name: sub\n    workflow: {{ref: ./child.yaml, params: {{msg: hi}}}}\n"),
    )
    .unwrap();
    let child_out = couler(&[
        "compile",
        dir.path().join("child.yaml").to_str().unwrap(),
        "--kind",
        "workflow-template",
    ]);
    assert!(String::from_utf8_lossy(&child_out.stdout).contains("  name: child-wf\n"));
    let out = couler(&["compile", parent.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("workflowTemplateRef:\n            name: child-wf\n"),
        "{text}"
    );
    std::fs::write(
        dir.path().join("child.yaml"),
        format!("{head}name: Bad Name\n"),
    )
    .unwrap();
    let out = couler(&["compile", parent.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("child.yaml"));
}

#[test]
fn a_flag_meant_for_another_target_is_refused_naming_both() {
    for (args, flag, target) in [
        (
            &["-t", "argo", "--operator", "kubernetes"][..],
            "--operator",
            "argo",
        ),
        (
            &["-t", "tekton", "--kind", "workflow-template"][..],
            "--kind",
            "tekton",
        ),
        (
            &["-t", "airflow", "--no-template-reuse"][..],
            "--no-template-reuse",
            "airflow",
        ),
        (
            &["-t", "argo", "--launcher-image", "x:1"][..],
            "--launcher-image",
            "argo",
        ),
        (
            &["-t", "airflow", "--no-recursion-limit"][..],
            "--no-recursion-limit",
            "airflow",
        ),
        (
            &["-t", "argo", "--ignore-parallelism"][..],
            "--ignore-parallelism",
            "argo",
        ),
    ] {
        let mut all = vec!["compile", "examples/hello.yaml"];
        all.extend_from_slice(args);
        let out = couler(&all);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains(flag) && err.contains(&format!("--target {target}")),
            "{args:?}: {err}"
        );
        assert!(out.stdout.is_empty(), "{args:?}: nothing is compiled");
    }
    // The flags of the target itself still work.
    let out = couler(&[
        "compile",
        "examples/hello.yaml",
        "-t",
        "airflow",
        "--operator",
        "host",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A `repeat` longer than Argo's recursion limit allows is refused with the fix, and compiles
/// when the user says the controller runs without that limit (M8).
#[test]
fn a_repeat_past_argos_recursion_limit_is_refused_unless_lifted() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("deep.yaml");
    let text = std::fs::read_to_string(repo().join("examples/flip-until-tails.yaml")).unwrap();
    assert!(text.contains("maxIterations: 20"));
    std::fs::write(
        &spec,
        text.replace("maxIterations: 20", "maxIterations: 500"),
    )
    .unwrap();
    let spec = spec.to_str().unwrap();
    let out = couler(&["compile", spec]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("at most 90") && err.contains("--no-recursion-limit"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
    let out = couler(&["compile", spec, "--no-recursion-limit"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("kind: Workflow"));
}

/// Tekton cannot bound a run's concurrency: a workflow `parallelism` is refused, naming the
/// field and the flag, by `compile` and `validate --target tekton`, and compiles with the flag.
#[test]
fn a_workflow_parallelism_is_refused_for_tekton_unless_dropped() {
    for cmd in ["compile", "validate"] {
        let out = couler(&[cmd, "examples/ml-pipeline.yaml", "--target", "tekton"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{cmd}: {err}");
        assert!(
            err.contains("`parallelism: 4`") && err.contains("--ignore-parallelism"),
            "{cmd}: {err}"
        );
        let out = couler(&[
            cmd,
            "examples/ml-pipeline.yaml",
            "--target",
            "tekton",
            "--ignore-parallelism",
        ]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{cmd}: {err}");
        assert!(err.contains("`parallelism: 4` is dropped"), "{cmd}: {err}");
    }
}

/// Like other Unix tools, `couler` ends quietly when its reader goes away (`couler backends |
/// head -1`), where it panicked with exit 101.
#[test]
fn a_closed_stdout_ends_the_command_quietly() {
    for args in [&["backends"][..], &["compile", "examples/hello.yaml"]] {
        let (reader, writer) = std::io::pipe().expect("a pipe");
        drop(reader);
        let out = Command::new(env!("CARGO_BIN_EXE_couler"))
            .args(args)
            .current_dir(repo())
            .stdout(writer)
            .output()
            .expect("couler runs");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert_ne!(out.status.code(), Some(101), "{args:?}: {err}");
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(
            out.status.signal(),
            Some(libc::SIGPIPE),
            "{args:?}: {:?}",
            out.status
        );
    }
}

/// The commands that keep SIGPIPE ignored (`run`, `resume`, `launch`, `submit`) drop what a
/// closed reader cannot take and go on: a run whose output pipe closed (`couler run wf.yaml
/// 2>&1 | head -3`) still ends, recorded, with its own exit code, where it panicked with 101.
#[test]
fn a_closed_output_never_stops_a_run() {
    let d = tempfile::tempdir().unwrap();
    let fail = d.path().join("fail.yaml");
    std::fs::write(
        &fail,
        "apiVersion: couler.dev/v1alpha1\nkind: Workflow\nname: f\nsteps:\n  - name: a\n    container: {command: [sh, -c, 'echo out; echo err >&2; exit 3']}\n",
    )
    .unwrap();
    let state = d.path().join("state");
    let state = state.to_str().unwrap();
    let hello = repo().join("examples/hello.yaml");
    let bad = d.path().join("bad.yaml");
    std::fs::write(&bad, "name: f\n").unwrap();
    for (spec, code, status) in [
        (hello.to_str().unwrap(), 0, Some("Succeeded")),
        (fail.to_str().unwrap(), 1, Some("Failed")),
        (bad.to_str().unwrap(), 2, None),
    ] {
        let (reader, writer) = std::io::pipe().expect("a pipe");
        drop(reader);
        let out = Command::new(env!("CARGO_BIN_EXE_couler"))
            .args(["run", spec, "--state-dir", state])
            .stdout(writer.try_clone().unwrap())
            .stderr(writer)
            .output()
            .expect("couler runs");
        assert_eq!(out.status.code(), Some(code), "{spec}: {:?}", out.status);
        let runs = couler(&["runs", "--state-dir", state, "-o", "json"]);
        let runs: serde_json::Value = serde_json::from_slice(&runs.stdout).unwrap();
        if let Some(status) = status {
            assert_eq!(runs[0]["status"], status, "{spec}: {runs}");
        }
    }
}
