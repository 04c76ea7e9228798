//! `couler server --config` with a `kind: airflow` cluster, as a process on a loopback port,
//! against a real Airflow 3.3.2 (api-server, scheduler, dag-processor; one for the whole test
//! binary, support/airflow_server.rs): the server writes each run's DAG into Airflow's DAGs
//! folder, triggers it through the REST API, follows it and mirrors its task instances.

#[path = "support/airflow_server.rs"]
mod airflow_server;
#[path = "support/server.rs"]
mod support;

use airflow_server::{PASSWORD, airflow};
use serde_json::{Value, json};
use std::path::Path;
use std::time::{Duration, Instant};
use support::Server;

const ENDED: [&str; 4] = ["Succeeded", "Failed", "Error", "Stopped"];

/// Three steps: `a` prints `msg` (an argument), `b` and `c` (the workflow's name) after it.
const THREE: &str = "apiVersion: couler.dev/v1alpha1
kind: Workflow
name: three
params:
- name: msg
  default: hi
steps:
- name: a
  container:
    command: [printf, '%s', '{{params.msg}}']
- name: b
  container:
    command: [echo, b]
  dependsOn: [a]
- name: c
  container:
    command: [echo, '{{workflow.name}}']
  dependsOn: [a]
";

/// A server whose one cluster is the test binary's Airflow, signing in as `couler` with the
/// password from its secrets directory.
fn server(dir: &Path) -> Server {
    let af = airflow();
    server_at(dir, &af.url(), af.dags(), 60)
}

/// A server whose one cluster is the Airflow at `url` reading `dags`, waiting `parse` seconds
/// at most for a DAG to be parsed.
fn server_at(dir: &Path, url: &str, dags: &Path, parse: u64) -> Server {
    let secret = dir.join("secrets/ops/airflow");
    std::fs::create_dir_all(&secret).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(secret.join("password"), format!("{PASSWORD}\n"))
        .unwrap_or_else(|e| panic!("{e}"));
    let config = dir.join("server.yaml");
    let text = format!(
        "clusters:\n- name: af\n  kind: airflow\n  url: {url}\n  dagsFolder: {}\n  username: couler\n  passwordSecret: ops/airflow/password\n  parseTimeoutSecs: {parse}\n  capacity: {{cpu: 8, memory: 8Gi}}\nretry: {{maxAttempts: 2}}\n",
        dags.display()
    );
    std::fs::write(&config, text).unwrap_or_else(|e| panic!("{e}"));
    let secrets = dir.join("secrets");
    Server::start(
        dir,
        &[
            "--auth",
            "none",
            "--config",
            &config.display().to_string(),
            "--secrets-dir",
            &secrets.display().to_string(),
        ],
    )
}

fn submit(server: &Server, spec: &str, params: Value) -> String {
    let body = json!({"spec": spec, "parameters": params});
    let (code, resp) = server.submit(None, &body);
    assert_eq!(code, 201, "{resp}");
    resp["id"].as_str().unwrap_or_default().to_string()
}

/// The DAG id (and DAG run id) of run `id`: its Kubernetes-style name, as the server derives it.
fn dag_of(id: &str) -> String {
    couler_submit::name_of(id)
}

/// The DAG runs Airflow has of `dag`.
fn dag_runs(dag: &str) -> Vec<Value> {
    let (code, v) = airflow().get(&format!("/dags/{dag}/dagRuns"));
    assert_eq!(code, 200, "{v}");
    v["dag_runs"].as_array().cloned().unwrap_or_default()
}

/// Waits until `what` holds.
fn until(what: &str, ok: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(90);
    while !ok() {
        assert!(Instant::now() < deadline, "never: {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn statuses(run: &Value) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = run["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| {
            let text = |k: &str| s[k].as_str().unwrap_or_default().to_string();
            (text("node"), text("status"))
        })
        .collect();
    v.sort();
    v
}

#[test]
fn a_run_triggers_one_dag_run_whose_steps_and_parameter_arrive() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let server = server(dir.path());
    let hostile = "it's \"q\" $HOME `id` {{ params.msg }}\nline two ü";
    let id = submit(&server, THREE, json!({"msg": hostile}));
    let run = server.wait_for(None, &id, &ENDED);
    assert_eq!(run["state"], "Succeeded", "{run}");
    assert_eq!(run["cluster"], "af", "{run}");
    let done = |s: &str| (s.to_string(), "Succeeded".to_string());
    assert_eq!(statuses(&run), [done("a"), done("b"), done("c")], "{run}");
    let a = &run["steps"][0];
    assert_eq!(a["node"], "a", "steps are in start order: {run}");
    assert_eq!(
        a["outputs"]["result"], hostile,
        "the value arrives byte for byte: {run}"
    );
    assert_eq!(a["attempts"], 1, "{run}");
    assert!(a["finishedAt"].as_f64() >= a["startedAt"].as_f64(), "{run}");
    let dag = dag_of(&id);
    let runs = dag_runs(&dag);
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0]["dag_run_id"], dag.as_str());
    assert_eq!(runs[0]["conf"], json!({"msg": hostile}), "{runs:?}");
    assert!(
        !airflow().dags().join(format!("{dag}.py")).exists(),
        "the DAG file is removed once the run ended"
    );
    // A step's logs are its output as Airflow logged it; artifacts stay with Airflow's tasks.
    let logs = |node: &str| {
        server.call(
            "GET",
            &format!("/api/v1/runs/{id}/steps/{node}/logs"),
            None,
            None,
        )
    };
    let (code, text) = logs("a");
    assert_eq!(code, 200, "{text}");
    let text = text.as_str().unwrap_or_default();
    assert!(text.starts_with(&format!("{hostile}\n")), "{text:?}");
    let (code, b) = logs("b");
    let lines: Vec<&str> = b.as_str().unwrap_or_default().lines().collect();
    assert_eq!((code, lines.first()), (200, Some(&"b")), "{b}");
    // The launcher's outcome line follows what the step wrote.
    let outcome: Value = serde_json::from_str(lines.last().unwrap_or(&"")).unwrap_or_default();
    assert_eq!(outcome["status"], "Succeeded", "{b}");
    let (_, c) = logs("c");
    assert_eq!(
        c.as_str().unwrap_or_default().lines().next(),
        Some("three"),
        "workflow.name is the spec's name, not the DAG id: {c}"
    );
    assert_eq!(logs("nope").0, 404);
    let (code, resp) = server.call(
        "GET",
        &format!("/api/v1/runs/{id}/steps/a/artifacts"),
        None,
        None,
    );
    assert_eq!(code, 404, "{resp}");
    let detail = resp["detail"].as_str().unwrap_or_default();
    assert!(detail.contains(&format!("DAG run {dag}/{dag}")), "{resp}");
}

#[test]
fn a_failing_step_fails_the_run_with_its_message() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let server = server(dir.path());
    let spec = THREE.replace(
        "command: [printf, '%s', '{{params.msg}}']",
        "command: [sh, -c, 'exit 3']",
    );
    let id = submit(&server, &spec, json!({}));
    let run = server.wait_for(None, &id, &ENDED);
    assert_eq!(run["state"], "Failed", "{run}");
    let message = run["message"].as_str().unwrap_or_default();
    // The launcher's own words (its outcome line in the task's log), not Airflow's exception.
    assert_eq!(message, "step `a` failed: exited with code 3", "{run}");
    assert_eq!(run["steps"][0]["exitCode"], 3, "{run}");
    let skipped = |s: &str| (s.to_string(), "Skipped".to_string());
    assert_eq!(
        statuses(&run),
        [
            ("a".to_string(), "Failed".to_string()),
            skipped("b"),
            skipped("c")
        ],
        "{run}"
    );
    assert_eq!(
        run["retries"],
        json!([]),
        "a step's own failure is not retried: {run}"
    );
}

#[test]
fn a_stopped_run_stops_its_dag_run() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let server = server(dir.path());
    let spec = THREE.replace(
        "command: [printf, '%s', '{{params.msg}}']",
        "command: [sleep, '300']",
    );
    let id = submit(&server, &spec, json!({}));
    until("step a runs", || {
        let (_, run) = server.call("GET", &format!("/api/v1/runs/{id}"), None, None);
        statuses(&run)
            .first()
            .is_some_and(|(n, s)| n == "a" && s == "Running")
    });
    let (code, resp) = server.call("POST", &format!("/api/v1/runs/{id}/stop"), None, None);
    assert_eq!(code, 202, "{resp}");
    let run = server.wait_for(None, &id, &ENDED);
    assert_eq!(run["state"], "Stopped", "{run}");
    let dag = dag_of(&id);
    let runs = dag_runs(&dag);
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0]["state"], "failed", "{runs:?}");
    until("Airflow's task a is no longer running", || {
        let (_, ti) = airflow().get(&format!("/dags/{dag}/dagRuns/{dag}/taskInstances/a"));
        ti["state"] != "running"
    });
}

#[test]
fn a_server_killed_mid_run_follows_the_same_dag_run_after_restart() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let server = server(dir.path());
    let spec = THREE.replace(
        "command: [printf, '%s', '{{params.msg}}']",
        "command: [sleep, '5']",
    );
    let id = submit(&server, &spec, json!({}));
    let dag = dag_of(&id);
    until("the DAG run exists", || {
        airflow().get(&format!("/dags/{dag}/dagRuns/{dag}")).0 == 200
    });
    server.kill9();
    let server = self::server(dir.path());
    let run = server.wait_for(None, &id, &ENDED);
    assert_eq!(run["state"], "Succeeded", "{run}");
    assert_eq!(dag_runs(&dag).len(), 1, "triggered once");
    assert_eq!(statuses(&run).len(), 3, "{run}");
}

#[test]
fn an_unreachable_airflow_ends_the_run_error_after_the_tables_retries() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let dags = dir.path().join("dags");
    std::fs::create_dir_all(&dags).unwrap_or_else(|e| panic!("{e}"));
    let server = server_at(dir.path(), "http://127.0.0.1:1", &dags, 60);
    let id = submit(&server, THREE, json!({}));
    let run = server.wait_for(None, &id, &ENDED);
    assert_eq!(run["state"], "Error", "{run}");
    let message = run["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("Airflow's API could not be asked"),
        "{run}"
    );
    assert!(message.contains("onnection refused"), "{run}");
    let patterns = support::retry_patterns(&run);
    assert_eq!(patterns, ["connection-refused"; 2], "{run}");
}

#[test]
fn a_scheduled_spec_ends_error_without_writing_a_dag() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let server = server(dir.path());
    let spec = THREE.replace(
        "name: three\n",
        "name: three\nschedule:\n  cron: \"0 2 * * *\"\n",
    );
    let id = submit(&server, &spec, json!({}));
    let run = server.wait_for(None, &id, &ENDED);
    assert_eq!(run["state"], "Error", "{run}");
    assert!(
        run["message"]
            .as_str()
            .unwrap_or_default()
            .contains("`schedule`"),
        "{run}"
    );
    assert_eq!(airflow().get(&format!("/dags/{}", dag_of(&id))).0, 404);
}

#[test]
fn a_dag_airflow_never_parses_ends_the_run_error_after_the_parse_timeout() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    // A folder Airflow's dag-processor does not read.
    let elsewhere = dir.path().join("not-airflows-dags");
    std::fs::create_dir_all(&elsewhere).unwrap_or_else(|e| panic!("{e}"));
    let server = server_at(dir.path(), &airflow().url(), &elsewhere, 3);
    let id = submit(&server, THREE, json!({}));
    let run = server.wait_for(None, &id, &ENDED);
    assert_eq!(run["state"], "Error", "{run}");
    let message = run["message"].as_str().unwrap_or_default();
    assert!(message.contains("did not parse the DAG file"), "{run}");
    assert!(message.contains("within 3s"), "{run}");
    assert_eq!(run["retries"], json!([]), "not a transient error: {run}");
}

#[test]
fn the_password_is_read_from_its_secret_at_each_run() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let server = server(dir.path());
    let secret = dir.path().join("secrets/ops/airflow/password");
    std::fs::write(&secret, "not-the-password").unwrap_or_else(|e| panic!("{e}"));
    let id = submit(&server, THREE, json!({}));
    let run = server.wait_for(None, &id, &ENDED);
    assert_eq!(run["state"], "Error", "{run}");
    let message = run["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("signing in to Airflow as `couler`"),
        "{run}"
    );
    assert!(message.contains("401 Unauthorized"), "{run}");
    assert!(!message.contains("not-the-password"), "{run}");
    std::fs::remove_file(&secret).unwrap_or_else(|e| panic!("{e}"));
    let id = submit(&server, THREE, json!({}));
    let run = server.wait_for(None, &id, &ENDED);
    assert_eq!(run["state"], "Error", "{run}");
    let message = run["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(&secret.display().to_string()),
        "names the file: {run}"
    );
}
