//! `couler launch` as engines run it: a real process with the task and values in its
//! environment (the protocol of docs/launcher.md).

use std::process::Command;

fn launch(task: &serde_json::Value, env: &[(&str, &str)]) -> (i32, serde_json::Value) {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_couler"));
    cmd.args(["launch", "step", "--no-cache", "--results-dir"])
        .arg(dir.path().join("results"))
        .env("COULER_TASK", task.to_string())
        .env_remove("COULER_PARAMS");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap_or_else(|| {
        panic!(
            "no outcome on stdout; stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let outcome: serde_json::Value =
        serde_json::from_str(last).unwrap_or_else(|e| panic!("{last:?}: {e}"));
    let status = std::fs::read_to_string(dir.path().join("results/status")).unwrap();
    assert_eq!(Some(status.trim()), outcome["status"].as_str());
    (out.status.code().unwrap_or(-1), outcome)
}

fn workflow(exit_handler_reads_status: bool) -> serde_json::Value {
    let mut wf = serde_json::json!({
        "apiVersion": "couler.dev/v1alpha1",
        "kind": "Workflow",
        "name": "params",
        "params": [
            {"name": "epochs", "type": "int", "default": 1},
            {"name": "label", "default": "none"}
        ],
        "steps": [{
            "name": "show",
            // argv, not a shell script: the values must arrive as they are.
            "container": {"command": ["printf", "%s|%s", "{{params.epochs}}", "{{params.label}}"]}
        }]
    });
    if exit_handler_reads_status {
        wf["onExit"] = serde_json::json!({
            "name": "report",
            "script": {"command": ["sh"], "source": "printf '%s' '{{workflow.status}}'"}
        });
    }
    wf
}

#[test]
fn one_variable_per_param_reaches_the_step_verbatim_and_typed() {
    let task = serde_json::json!({"workflow": workflow(false), "step": "show"});
    let hostile = "it's $(params.epochs) {{x}} \\ \"q\" é";
    let (code, o) = launch(
        &task,
        &[
            ("COULER_PARAM_epochs", "7"),
            ("COULER_PARAM_label", hostile),
        ],
    );
    assert_eq!(code, 0, "{o}");
    assert_eq!(o["outputs"]["result"], format!("7|{hostile}"));

    let out = Command::new(env!("CARGO_BIN_EXE_couler"))
        .args(["launch", "step", "--no-cache"])
        .env("COULER_TASK", task.to_string())
        .env("COULER_PARAM_epochs", "seven")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "bad input is exit 3");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("`epochs` is an int"), "{err}");
}

#[test]
fn defaults_apply_when_no_variable_is_set() {
    let task = serde_json::json!({"workflow": workflow(false), "step": "show"});
    let (code, o) = launch(&task, &[]);
    assert_eq!(code, 0, "{o}");
    assert_eq!(o["outputs"]["result"], "1|none");
}

#[test]
fn tekton_completed_reads_as_succeeded_in_the_exit_handler() {
    let task = serde_json::json!({"workflow": workflow(true), "step": "report"});
    let (_, o) = launch(&task, &[("COULER_WORKFLOW_STATUS", "Completed")]);
    assert_eq!(o["outputs"]["result"], "Succeeded");
    let (_, o) = launch(&task, &[("COULER_WORKFLOW_STATUS", "Failed")]);
    assert_eq!(o["outputs"]["result"], "Failed");
}

#[test]
fn skipped_exit_code_applies_to_skipped_steps_only() {
    let mut wf = workflow(false);
    wf["steps"] = serde_json::json!([
        {"name": "off", "when": "params.label == \"on\"", "container": {"command": ["true"]}},
        {"name": "bad", "container": {"command": ["false"]}},
        {"name": "ok", "container": {"command": ["true"]}}
    ]);
    let run = |step: &str, flag: Option<&str>| {
        let dir = tempfile::tempdir().unwrap();
        let task = serde_json::json!({"workflow": wf, "step": step});
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_couler"));
        cmd.args(["launch", "step", "--no-cache", "--results-dir"])
            .arg(dir.path().join("results"))
            .env("COULER_TASK", task.to_string())
            .env_remove("COULER_PARAMS");
        if let Some(code) = flag {
            cmd.args(["--skipped-exit-code", code]);
        }
        let out = cmd.output().unwrap();
        let status = std::fs::read_to_string(dir.path().join("results/status")).unwrap();
        (out.status.code(), status.trim().to_string())
    };
    assert_eq!(run("off", None), (Some(99), "Skipped".into()));
    // The step is still Skipped (in its results), but the task exits 0.
    assert_eq!(run("off", Some("0")), (Some(0), "Skipped".into()));
    assert_eq!(run("bad", Some("0")), (Some(1), "Failed".into()));
    assert_eq!(run("ok", Some("0")), (Some(0), "Succeeded".into()));
}

/// An exit step's slice (docs/launcher.md) stubs only the steps it must know by name; the
/// outcomes of the others arrive as `COULER_UPSTREAM_*` alone and still decide the status,
/// except where a step listed in the slice has `continueOnFailure`.
#[test]
fn an_exit_slice_derives_the_status_from_outcomes_of_steps_it_leaves_out() {
    let mut wf = workflow(true);
    wf["steps"] = serde_json::json!([
        {"name": "flaky", "container": {"command": ["true"]}, "continueOnFailure": true}
    ]);
    let task = serde_json::json!({"workflow": wf, "step": "report"});
    let outcome = |status: &str| {
        serde_json::json!({"status": status, "outputs": {"parameters": {}, "result": null, "exit_code": null, "artifacts": {}}})
            .to_string()
    };
    let failed = outcome("Failed");
    let ok = outcome("Succeeded");
    let error = outcome("Error");
    let cases: [(&[(&str, &str)], &str); 4] = [
        (&[("COULER_UPSTREAM_TRAIN_A", &ok)], "Succeeded"),
        (&[("COULER_UPSTREAM_TRAIN_A", &failed)], "Failed"),
        // A mapped step's instances, one of which erred.
        (
            &[("COULER_UPSTREAM_TRAIN_B", &format!("[{ok},{error}]"))],
            "Error",
        ),
        // `flaky` is in the slice and may fail.
        (
            &[
                ("COULER_UPSTREAM_FLAKY", &failed),
                ("COULER_UPSTREAM_TRAIN_A", &ok),
            ],
            "Succeeded",
        ),
    ];
    for (env, expected) in cases {
        let (code, o) = launch(&task, env);
        assert_eq!(code, 0, "{o}");
        assert_eq!(o["outputs"]["result"], expected, "{env:?}");
    }
}

/// A mapped step whose `when` reads `item` and skips every instance ran no instance: its
/// readers see it `Succeeded` with empty lists (docs/runtime.md, `map`). On Airflow each
/// skipped instance leaves no XCom, so the reader's launcher gets `[null, null]` and the step
/// as its slice stubs it; it must decide as `couler run` does. (Found by airflow_decisions.rs.)
#[test]
fn a_map_whose_item_when_skipped_every_instance_reads_as_succeeded_with_empty_lists() {
    let spec = serde_json::json!({
        "apiVersion": "couler.dev/v1alpha1", "kind": "Workflow", "name": "all-skipped",
        "steps": [
            {"name": "fan", "map": {"items": [1, 2]}, "when": "item > 5",
             "script": {"command": ["sh"], "source": "printf x"}},
            {"name": "read", "env": {"IN": "{{steps.fan.outputs.result}}"},
             "script": {"command": ["sh"], "source": "printf '<%s>' \"$IN\""}}
        ]
    });
    let (wf, _) = couler_ir::spec::load(&spec.to_string(), couler_ir::Format::Json).unwrap();
    let slice = couler_backends::LauncherSlices::new(&wf).of(&["read"]);
    let task = serde_json::json!({"workflow": slice, "step": "read"});
    let (code, o) = launch(&task, &[("COULER_UPSTREAM_FAN", "[null, null]")]);
    assert_eq!(
        (code, &o["status"]),
        (0, &serde_json::json!("Succeeded")),
        "{o}"
    );
    assert_eq!(o["outputs"]["result"], "<[]>", "{o}");
    // What `couler run` decides for the same workflow.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("wf.json"), spec.to_string()).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_couler"))
        .args(["run", "wf.json", "-o", "json"])
        .current_dir(dir.path())
        .env_remove("COULER_STATE_DIR")
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let read = (report["steps"].as_array().unwrap().iter())
        .find(|s| s["node"] == "read")
        .unwrap();
    assert_eq!(read["status"], "Succeeded", "{report}");
    assert_eq!(read["outputs"]["result"], "<[]>", "{report}");
}

/// A mapped step given no index runs every instance in the one launcher (Tekton's launcher-run
/// maps); an index variable set but empty is an engine's bug and bad input (exit 3), never
/// taken for "every instance".
#[test]
fn a_mapped_step_runs_every_instance_without_an_index_and_refuses_an_empty_one() {
    let wf = serde_json::json!({
        "apiVersion": "couler.dev/v1alpha1", "kind": "Workflow", "name": "m",
        "steps": [{"name": "each", "map": {"items": ["a", "b", "c"]},
            "container": {"command": ["printf", "%s", "{{item}}"]}}]
    });
    let task = serde_json::json!({"workflow": wf, "step": "each"});
    let (code, o) = launch(&task, &[]);
    assert_eq!(code, 0, "{o}");
    assert_eq!(o["status"], "Succeeded", "{o}");
    assert_eq!(o["outputs"]["result"], r#"["a","b","c"]"#, "{o}");
    let out = Command::new(env!("CARGO_BIN_EXE_couler"))
        .args(["launch", "step", "--no-cache"])
        .env("COULER_TASK", task.to_string())
        .env("COULER_ITEM_INDEX", " ")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("COULER_ITEM_INDEX is set but empty"), "{err}");
}
