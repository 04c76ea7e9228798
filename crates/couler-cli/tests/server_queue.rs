//! `couler server` with its queue, clusters and retries, as a process on a loopback port:
//! `--config`, admission within a cluster's capacity, refusal of a request nothing can hold,
//! automatic retry of a system error with resume from failure, `POST …/resume`, `/metrics`;
//! on SQLite and on PostgreSQL.

#[path = "support/postgres.rs"]
mod pg;
#[macro_use]
#[path = "support/server.rs"]
mod support;

both!(
    a_step_failing_once_on_a_system_error_is_retried_and_resumed_from_failure,
    a_user_error_is_not_retried_and_resume_through_the_api_reruns_from_failure,
    runs_are_admitted_within_the_clusters_capacity_and_an_impossible_request_is_refused,
    a_queued_run_the_new_config_cannot_hold_ends_in_error_with_the_reason,
    a_run_stopped_while_queued_to_resume_says_so,
);

use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;
use support::{Server, wait_file};

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"))
}

fn submit_ok(server: &Server, body: &Value) -> String {
    let (code, resp) = server.submit(None, body);
    assert_eq!(code, 201, "{resp}");
    resp["id"].as_str().unwrap_or_default().to_string()
}

const ENDED: [&str; 4] = ["Succeeded", "Failed", "Error", "Stopped"];

/// `first` appends a line to DIR/first.log (DIR: the `dir` parameter); `flaky` (after it)
/// fails with `message` on its standard error and exit code 1 unless DIR/marker exists, and
/// creates the marker when `self_heal` (a transient fault: the next attempt succeeds).
fn flaky(message: &str, self_heal: bool) -> String {
    let heal = if self_heal {
        "touch \"$1/marker\"; "
    } else {
        ""
    };
    format!(
        r#"apiVersion: couler.dev/v1alpha1
kind: Workflow
name: flaky
params:
- name: dir
steps:
- name: first
  container:
    command: [sh, -c, 'echo ran >> "$1/first.log"', sh, '{{{{params.dir}}}}']
- name: flaky
  container:
    command: [sh, -c, 'if [ -e "$1/marker" ]; then echo ok; else {heal}echo "{message}" >&2; exit 1; fi', sh, '{{{{params.dir}}}}']
  dependsOn: [first]
"#
    )
}

/// Submits [`flaky`] with `dir` and waits for its end: its id and the run.
fn run_flaky(server: &Server, dir: &Path, message: &str, self_heal: bool) -> (String, Value) {
    let body = json!({
        "spec": flaky(message, self_heal),
        "parameters": {"dir": dir.display().to_string()},
    });
    let id = submit_ok(server, &body);
    let run = server.wait_for(None, &id, &ENDED);
    (id, run)
}

fn metrics(server: &Server) -> String {
    let (code, text) = support::http(&server.addr, "GET", "/metrics", None, None);
    assert_eq!(code, 200, "{text}");
    text
}

/// The value of the sample `name` (with its labels, as printed) in `/metrics`.
fn sample(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no sample {name} in\n{text}"))
}

fn a_step_failing_once_on_a_system_error_is_retried_and_resumed_from_failure() {
    let dir = tempdir();
    let server = Server::start(dir.path(), &["--auth", "none"]);
    let (_, run) = run_flaky(
        &server,
        dir.path(),
        "Error from server: etcdserver: request timed out",
        true,
    );
    assert_eq!(run["state"], "Succeeded", "{run}");
    assert_eq!(run["cluster"], "local", "{run}");
    let retries = run["retries"].as_array().cloned().unwrap_or_default();
    assert_eq!(retries.len(), 1, "{run}");
    assert_eq!(retries[0]["attempt"], 1);
    assert_eq!(retries[0]["node"], "flaky");
    assert_eq!(retries[0]["pattern"], "etcd-request-timeout");
    let delay = retries[0]["delaySecs"].as_f64().unwrap_or(-1.0);
    assert!(
        (0.0..1.0).contains(&delay),
        "etcd's first backoff is under 1 s: {delay}"
    );
    // Resumed from failure: `first` (Succeeded) ran once.
    let first = std::fs::read_to_string(dir.path().join("first.log")).unwrap_or_default();
    assert_eq!(first, "ran\n");
    assert_eq!(run["steps"][0]["node"], "first", "{run}");
    assert_eq!(run["steps"][0]["status"], "Succeeded", "{run}");
    let m = metrics(&server);
    assert_eq!(
        sample(
            &m,
            "couler_server_retries_total{pattern=\"etcd-request-timeout\"}"
        ),
        1.0
    );
}

fn a_user_error_is_not_retried_and_resume_through_the_api_reruns_from_failure() {
    let dir = tempdir();
    let server = Server::start(dir.path(), &["--auth", "none"]);
    let (id, run) = run_flaky(&server, dir.path(), "plain failure: bad input", false);
    assert_eq!(run["state"], "Failed", "{run}");
    assert_eq!(run["retries"], json!([]), "{run}");
    // Still Failed a moment later: nothing queued it again.
    std::thread::sleep(Duration::from_millis(1500));
    let (_, again) = server.call("GET", &format!("/api/v1/runs/{id}"), None, None);
    assert_eq!(again["state"], "Failed", "{again}");
    let m = metrics(&server);
    assert!(!m.contains("retries_total{pattern=\"user-exit\"}"), "{m}");

    // The user fixes what failed and resumes the run.
    std::fs::write(dir.path().join("marker"), "").unwrap_or_else(|e| panic!("{e}"));
    let path = format!("/api/v1/runs/{id}/resume");
    let (code, resp) = server.call("POST", &path, None, None);
    assert_eq!((code, resp), (202, json!({"id": id, "state": "Queued"})));
    let run = server.wait_for(None, &id, &["Succeeded"]);
    assert_eq!(run["retries"], json!([]), "a resume is not a retry: {run}");
    let first = std::fs::read_to_string(dir.path().join("first.log")).unwrap_or_default();
    assert_eq!(first, "ran\n", "`first` was kept");
    let (code, resp) = server.call("POST", &path, None, None);
    assert_eq!(code, 409, "a Succeeded run is not resumed: {resp}");
    let (code, _) = server.call("POST", "/api/v1/runs/nope-00000000/resume", None, None);
    assert_eq!(code, 404);
    let (_, audit) = server.call("GET", "/api/v1/audit", None, None);
    let statuses: Vec<&Value> = audit["entries"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["path"] == format!("/runs/{id}/resume"))
        .map(|e| &e["status"])
        .collect();
    assert_eq!(statuses, [&json!(409), &json!(202)], "{audit}");
}

/// A one-step workflow requesting `cpu` cores that waits for `gate`, touching `started` first.
fn gated(cpu: u32, gate: &Path, started: &Path) -> String {
    format!(
        r#"apiVersion: couler.dev/v1alpha1
kind: Workflow
name: gated
steps:
- name: wait
  resources: {{requests: {{cpu: {cpu}, memory: 64Mi}}}}
  script:
    command: [sh]
    source: |
      touch '{started}'
      while [ ! -e '{gate}' ]; do sleep 0.05; done
"#,
        started = started.display(),
        gate = gate.display()
    )
}

const CONFIG: &str = "
clusters:
- name: small
  kind: local
  capacity: {cpu: 2, memory: 1Gi}
  workers: 4
users:
  anonymous: {cpu: 4, gpu: 0}
";

fn runs_are_admitted_within_the_clusters_capacity_and_an_impossible_request_is_refused() {
    let dir = tempdir();
    let config = dir.path().join("server.yaml");
    std::fs::write(&config, CONFIG).unwrap_or_else(|e| panic!("{e}"));
    let server = Server::start(
        dir.path(),
        &["--auth", "none", "--config", &config.display().to_string()],
    );
    let m0 = metrics(&server);
    let steps0 = sample(&m0, "couler_server_step_duration_seconds_count");
    assert_eq!(
        sample(
            &m0,
            "couler_server_cluster_total{cluster=\"small\",resource=\"cpu\"}"
        ),
        2.0
    );
    assert!(
        m0.contains("# TYPE couler_server_step_duration_seconds histogram"),
        "{m0}"
    );

    let gate = dir.path().join("gate");
    let (s1, s2) = (dir.path().join("s1"), dir.path().join("s2"));
    let a = submit_ok(&server, &json!({"spec": gated(2, &gate, &s1)}));
    wait_file(&s1);
    let b = submit_ok(
        &server,
        &json!({"spec": gated(2, &gate, &s2), "priority": 7}),
    );
    // The cluster's 2 cores are held by `a`: `b` waits though workers are free.
    std::thread::sleep(Duration::from_millis(1500));
    let (_, rb) = server.call("GET", &format!("/api/v1/runs/{b}"), None, None);
    assert_eq!(
        (rb["state"].clone(), rb["priority"].clone()),
        (json!("Queued"), json!(7)),
        "{rb}"
    );
    assert!(!s2.exists());
    let m1 = metrics(&server);
    assert_eq!(
        sample(
            &m1,
            "couler_server_cluster_used{cluster=\"small\",resource=\"cpu\"}"
        ),
        2.0
    );
    assert_eq!(
        sample(&m1, "couler_queue_depth_by_priority{priority=\"7\"}"),
        1.0
    );
    std::fs::write(&gate, "").unwrap_or_else(|e| panic!("{e}"));
    for id in [&a, &b] {
        let run = server.wait_for(None, id, &ENDED);
        assert_eq!(
            (run["state"].clone(), run["cluster"].clone()),
            (json!("Succeeded"), json!("small")),
            "{run}"
        );
    }
    let m2 = metrics(&server);
    assert_eq!(
        sample(&m2, "couler_server_step_duration_seconds_count"),
        steps0 + 2.0,
        "{m2}"
    );
    assert_eq!(
        sample(
            &m2,
            "couler_server_cluster_used{cluster=\"small\",resource=\"cpu\"}"
        ),
        0.0
    );

    // More than the user's quota, more than any cluster: refused with the queue's reason.
    for (cpu, says) in [(5, "user `anonymous`'s quota is 4000"), (1, "")] {
        let spec = gated(cpu, &gate, &s1).replace("memory: 64Mi", "memory: 2Gi");
        let (code, resp) = server.submit(None, &json!({"spec": spec}));
        assert_eq!(code, 422, "{resp}");
        assert_eq!(resp["error"], "cannot be admitted", "{resp}");
        let detail = resp["detail"].as_str().unwrap_or_default();
        assert!(
            detail.contains(says) && (cpu == 5 || detail.contains("`small`")),
            "{detail}"
        );
    }
    let (code, resp) = server.submit(None, &json!({"spec": gated(1, &gate, &s1), "priority": 10}));
    assert_eq!(
        (code, resp["error"].clone()),
        (400, json!("invalid priority")),
        "{resp}"
    );
}

#[test]
fn a_bad_config_stops_the_server_before_it_listens_naming_the_place() {
    let dir = tempdir();
    let config = dir.path().join("server.yaml");
    std::fs::write(&config, CONFIG.replace("  workers: 4", "  wokers: 4"))
        .unwrap_or_else(|e| panic!("{e}"));
    let out = std::process::Command::new(support::couler())
        .args([
            "server",
            "--listen",
            "127.0.0.1:0",
            "--auth",
            "none",
            "--state-dir",
        ])
        .arg(dir.path().join("state"))
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!out.status.success());
    assert!(out.stdout.is_empty(), "it never listened");
    let err = String::from_utf8_lossy(&out.stderr);
    let place = format!("{}:6:", config.display());
    assert!(
        err.contains(&place) && err.contains("unknown field `wokers`"),
        "{err}"
    );
}

fn a_queued_run_the_new_config_cannot_hold_ends_in_error_with_the_reason() {
    let dir = tempdir();
    let config = dir.path().join("server.yaml");
    std::fs::write(&config, CONFIG).unwrap_or_else(|e| panic!("{e}"));
    let args = ["--auth", "none", "--config", &config.display().to_string()].map(String::from);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = Server::start(dir.path(), &args);
    let (gate, s1, s2) = (
        dir.path().join("gate"),
        dir.path().join("s1"),
        dir.path().join("s2"),
    );
    let a = submit_ok(&server, &json!({"spec": gated(2, &gate, &s1)}));
    wait_file(&s1);
    let b = submit_ok(&server, &json!({"spec": gated(2, &gate, &s2)}));
    server.kill9();
    std::fs::write(&config, CONFIG.replace("cpu: 2, memory", "cpu: 1, memory"))
        .unwrap_or_else(|e| panic!("{e}"));
    let server = Server::start(dir.path(), &args);
    for id in [&a, &b] {
        let run = server.wait_for(None, id, &ENDED);
        assert_eq!(run["state"], "Error", "{run}");
        let message = run["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("the largest cluster, `small`, has 1000"),
            "{run}"
        );
    }
    assert!(!s2.exists(), "b never started");
    // `a`'s step outlived the killed server: let it end.
    std::fs::write(&gate, "").unwrap_or_else(|e| panic!("{e}"));
}

fn a_run_stopped_while_queued_to_resume_says_so() {
    let dir = tempdir();
    let server = Server::start(dir.path(), &["--auth", "none", "--workers", "1"]);
    let (failed, run) = run_flaky(&server, dir.path(), "a plain user error", false);
    assert_eq!(run["state"], "Failed", "{run}");
    // The only worker is held, so the resumed run waits in the queue.
    let (gate, started) = (dir.path().join("gate"), dir.path().join("started"));
    let holder = submit_ok(&server, &json!({"spec": gated(1, &gate, &started)}));
    wait_file(&started);
    let (code, resp) = server.call("POST", &format!("/api/v1/runs/{failed}/resume"), None, None);
    assert_eq!(code, 202, "{resp}");
    let (code, resp) = server.call("POST", &format!("/api/v1/runs/{failed}/stop"), None, None);
    assert_eq!(
        (code, resp["stop"].clone()),
        (202, json!("dequeued")),
        "{resp}"
    );
    let (_, run) = server.call("GET", &format!("/api/v1/runs/{failed}"), None, None);
    assert_eq!(run["state"], "Stopped", "{run}");
    assert_eq!(run["message"], "stopped while queued to resume", "{run}");
    std::fs::write(&gate, "").unwrap_or_else(|e| panic!("{e}"));
    server.wait_for(None, &holder, &["Succeeded"]);
}

/// A step that hung once past its history is counted by `/metrics` (docs/history.md).
#[test]
fn a_step_running_past_its_history_is_counted_as_an_anomaly() {
    let dir = tempdir();
    let server = Server::start(dir.path(), &["--auth", "none"]);
    let name = "couler_server_step_anomalies_total{kind=\"slow\"}";
    assert_eq!(sample(&metrics(&server), name), 0.0);
    let flag = dir.path().join("hang");
    let spec = format!(
        r#"apiVersion: couler.dev/v1alpha1
kind: Workflow
name: hangs-once
steps:
- name: work
  container:
    command: [sh, -c, 'if [ -f {f} ]; then rm {f}; sleep 4; fi; sleep 0.2']
"#,
        f = flag.display()
    );
    let run = || {
        let id = submit_ok(&server, &json!({ "spec": spec }));
        let r = server.wait_for(None, &id, &ENDED);
        assert_eq!(r["state"], json!("Succeeded"), "{r}");
    };
    for _ in 0..5 {
        run();
    }
    assert_eq!(sample(&metrics(&server), name), 0.0, "no run was slow");
    std::fs::write(&flag, "").unwrap_or_else(|e| panic!("{e}"));
    run();
    assert_eq!(sample(&metrics(&server), name), 1.0);
}
