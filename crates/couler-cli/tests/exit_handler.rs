//! An exit handler of several steps on the local runtime, driven as real `couler run`
//! processes: the steps run after every main step, in their own dependency order, each sees
//! the final workflow status, and one after a failed exit step does not run.

use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

fn couler(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_couler"))
        .args(args)
        .current_dir(dir)
        .env_remove("COULER_STATE_DIR")
        .output()
        .unwrap_or_else(|e| panic!("the couler binary runs: {e}"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs `spec` in a fresh directory; returns the exit code and `couler status -o json`.
fn run(spec: &str) -> (Option<i32>, Value) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("wf.yaml"), spec).unwrap();
    let out = couler(dir.path(), &["run", "wf.yaml", "-o", "json"]);
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}{}", text(&out.stdout), text(&out.stderr)));
    let id = report["runId"].as_str().unwrap().to_string();
    let status = couler(dir.path(), &["status", &id, "-o", "json"]);
    (
        out.status.code(),
        serde_json::from_slice(&status.stdout).unwrap(),
    )
}

fn step<'v>(status: &'v Value, name: &str) -> &'v Value {
    status["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["node"] == name)
        .unwrap_or_else(|| panic!("no step {name}: {status}"))
}

const HEADER: &str = "apiVersion: couler.dev/v1alpha1\nkind: Workflow\nname: exits\n";

#[test]
fn exit_steps_run_in_order_after_a_failure_and_see_the_status() {
    let spec = format!(
        r#"{HEADER}steps:
  - name: work
    script: {{image: python, command: [sh], source: "sleep 0.3; exit 3"}}
onExit:
  - name: notify
    when: workflow.status == "Failed"
    script: {{image: python, command: [sh], source: "sleep 0.3; echo status={{{{workflow.status}}}}"}}
  - name: celebrate
    when: workflow.status == "Succeeded"
    script: {{image: python, command: [sh], source: "echo hooray"}}
  - name: cleanup
    dependsOn: [notify, celebrate]
    script: {{image: python, command: [sh], source: "echo cleaned"}}
"#
    );
    let (code, status) = run(&spec);
    assert_eq!(code, Some(1), "{status}");
    assert_eq!(status["run"]["status"], "Failed");
    assert_eq!(step(&status, "work")["status"], "Failed");
    let notify = step(&status, "notify");
    assert_eq!(notify["status"], "Succeeded", "{notify}");
    assert_eq!(notify["outputs"]["result"], "status=Failed");
    assert_eq!(step(&status, "celebrate")["status"], "Skipped");
    let cleanup = step(&status, "cleanup");
    assert_eq!(cleanup["status"], "Succeeded", "{cleanup}");
    // After every main step, and after the exit steps it depends on.
    let at = |s: &Value, k: &str| s[k].as_f64().unwrap();
    assert!(at(notify, "startedAt") >= at(step(&status, "work"), "finishedAt"));
    assert!(at(cleanup, "startedAt") >= at(notify, "finishedAt"));
}

#[test]
fn an_exit_step_after_a_failed_one_does_not_run_and_the_run_fails() {
    let spec = format!(
        r#"{HEADER}steps:
  - name: work
    script: {{image: python, command: [sh], source: "echo ok"}}
onExit:
  - name: upload
    script: {{image: python, command: [sh], source: "exit 4"}}
  - name: announce
    dependsOn: [upload]
    script: {{image: python, command: [sh], source: "echo uploaded"}}
  - name: log
    script: {{image: python, command: [sh], source: "echo status={{{{workflow.status}}}}"}}
"#
    );
    let (code, status) = run(&spec);
    assert_eq!(code, Some(1), "{status}");
    assert_eq!(status["run"]["status"], "Failed");
    assert_eq!(step(&status, "work")["status"], "Succeeded");
    assert_eq!(step(&status, "upload")["status"], "Failed");
    let announce = step(&status, "announce");
    assert_eq!(announce["status"], "Omitted", "{announce}");
    assert!(
        announce["message"]
            .as_str()
            .is_some_and(|m| m.contains("`upload` did not succeed")),
        "{announce}"
    );
    // An exit step that does not depend on the failed one still runs, and saw success.
    let log = step(&status, "log");
    assert_eq!(log["status"], "Succeeded");
    assert_eq!(log["outputs"]["result"], "status=Succeeded");
}
