//! `couler server --config` with a `kind: argo` cluster, as a process on a loopback port, against
//! an in-test stand-in for the Kubernetes API server (no real API server can run here: the
//! stand-in, `support/fake_api.rs`, is the most faithful substitute; it keeps the Workflows it
//! was given and answers GET, POST and PATCH as the API server does). Each test decides how
//! its "Argo" moves a Workflow through its phases.

#[path = "support/fake_api.rs"]
#[allow(dead_code)]
mod fake_api;
#[path = "support/server.rs"]
mod support;

use fake_api::{Log, Request};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::Server;

const WORKFLOWS: &str = "/apis/argoproj.io/v1alpha1/namespaces/ml/workflows";

/// Two steps; `msg` is a parameter the test sets.
const SPEC: &str = "apiVersion: couler.dev/v1alpha1
kind: Workflow
name: two
params:
- name: msg
  default: hi
steps:
- name: a
  container:
    image: alpine:3.20
    command: [echo, '{{params.msg}}']
- name: b
  container:
    image: alpine:3.20
    command: [echo, done]
  dependsOn: [a]
";

/// How the stand-in's Argo moves a Workflow: its phase and message at its `reads`-th GET
/// (1 for the first), given whether it was patched to stop.
type Script = Box<dyn Fn(usize, bool) -> (&'static str, &'static str) + Send + Sync>;

/// The stand-in: Workflows by name; the first `refuse` POSTs answered 429 TooManyRequests.
fn argo(script: Script, refuse: usize) -> (String, Log) {
    argo_refusing(script, refuse, 0)
}

/// [`argo`], and the first `refuse_patches` PATCHes answered 503 ServiceUnavailable.
fn argo_refusing(script: Script, refuse: usize, refuse_patches: usize) -> (String, Log) {
    let store: Mutex<HashMap<String, (Value, usize, bool)>> = Mutex::default();
    let refused = AtomicUsize::new(0);
    let patches = AtomicUsize::new(0);
    fake_api::serve(Arc::new(move |r: &Request| {
        let mut store = store.lock().unwrap_or_else(|e| e.into_inner());
        if r.method == "POST" && r.path == WORKFLOWS {
            if refused.fetch_add(1, Ordering::SeqCst) < refuse {
                return fake_api::status(
                    429,
                    "TooManyRequests",
                    "the server has received too many requests and has asked us to try again later",
                );
            }
            let name = r.body["metadata"]["name"].as_str().unwrap_or_default();
            if store.contains_key(name) {
                return fake_api::status(409, "AlreadyExists", "already exists");
            }
            store.insert(name.to_string(), (r.body.clone(), 0, false));
            return (201, r.body.clone());
        }
        let Some(name) = r.path.strip_prefix(&format!("{WORKFLOWS}/")) else {
            return fake_api::status(404, "NotFound", "no such path");
        };
        let Some((wf, reads, stopped)) = store.get_mut(name) else {
            return fake_api::status(404, "NotFound", &format!("workflows \"{name}\" not found"));
        };
        if r.method == "PATCH" {
            if patches.fetch_add(1, Ordering::SeqCst) < refuse_patches {
                return fake_api::status(503, "ServiceUnavailable", "etcd leader changed");
            }
            *stopped = true;
            return (200, wf.clone());
        }
        *reads += 1;
        let (phase, message) = script(*reads, *stopped);
        let mut out = wf.clone();
        out["status"] = status(name, phase, message);
        (200, out)
    }))
}

/// A Workflow status: the DAG node and its two pods, `b` ending as the Workflow does.
fn status(name: &str, phase: &str, message: &str) -> Value {
    let ended = phase != "Running";
    json!({
        "phase": phase,
        "message": message,
        "nodes": {
            name: {"displayName": name, "type": "DAG", "phase": phase},
            format!("{name}-1"): {"displayName": "a", "type": "Pod", "phase": "Succeeded",
                "startedAt": "2026-01-01T00:00:00Z", "finishedAt": "2026-01-01T00:00:04Z"},
            format!("{name}-2"): {"displayName": "b", "type": "Pod",
                "phase": if ended { phase } else { "Running" },
                "message": if phase == "Failed" { message } else { "" },
                "startedAt": "2026-01-01T00:00:05Z",
                "finishedAt": if ended { json!("2026-01-01T00:00:09Z") } else { Value::Null }},
        },
    })
}

fn server(dir: &std::path::Path, url: &str) -> Server {
    server_at(dir, &format!("server: {url}"))
}

/// A server whose argo cluster's API server is given by the config line `at`.
fn server_at(dir: &std::path::Path, at: &str) -> Server {
    let config = dir.join("server.yaml");
    let text = format!(
        "clusters:\n- name: k8s\n  kind: argo\n  {at}\n  namespace: ml\n  capacity: {{cpu: 8, memory: 8Gi}}\nretry: {{maxAttempts: 3}}\n"
    );
    std::fs::write(&config, text).unwrap_or_else(|e| panic!("{e}"));
    Server::start(
        dir,
        &["--auth", "none", "--config", &config.display().to_string()],
    )
}

fn submit(server: &Server, msg: &str) -> String {
    let body = json!({"spec": SPEC, "namespace": "ml", "parameters": {"msg": msg}});
    let (code, resp) = server.submit(None, &body);
    assert_eq!(code, 201, "{resp}");
    resp["id"].as_str().unwrap_or_default().to_string()
}

/// Running until its `running`-th read, then `phase` with `message`.
fn after(running: usize, phase: &'static str, message: &'static str) -> Script {
    Box::new(move |reads, _| {
        if reads < running {
            ("Running", "")
        } else {
            (phase, message)
        }
    })
}

/// A server on the stand-in at `url` and a run of [`SPEC`] with `msg` submitted to it.
fn started(url: &str, msg: &str) -> (tempfile::TempDir, Server, String) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let server = server(dir.path(), url);
    let id = submit(&server, msg);
    (dir, server, id)
}

const ENDED: [&str; 4] = ["Succeeded", "Failed", "Error", "Stopped"];

fn posts_in(log: &[Request]) -> usize {
    log.iter().filter(|r| r.method == "POST").count()
}

fn posts(log: &Log) -> Vec<Request> {
    let log = log.lock().unwrap_or_else(|e| e.into_inner());
    log.iter().filter(|r| r.method == "POST").cloned().collect()
}

/// Waits until `what` holds of the stand-in's log.
fn until(log: &Log, what: impl Fn(&[Request]) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !what(&log.lock().unwrap_or_else(|e| e.into_inner())) {
        assert!(Instant::now() < deadline, "the stand-in never saw it");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_run_creates_one_named_workflow_and_ends_with_its_phase_and_steps() {
    let (url, log) = argo(after(3, "Succeeded", ""), 0);
    let hostile = "$(touch /tmp/pwned) ' \" {{workflow.name}} \\n ü";
    let (_dir, server, id) = started(&url, hostile);
    let run = server.wait_for(None, &id, &ENDED);
    assert_eq!(run["state"], "Succeeded", "{run}");
    assert_eq!(run["cluster"], "k8s", "{run}");
    let posts = posts(&log);
    assert_eq!(posts.len(), 1, "{posts:?}");
    assert_eq!(posts[0].path, WORKFLOWS);
    let body = &posts[0].body;
    assert_eq!(body["kind"], "Workflow");
    assert_eq!(body["metadata"]["name"], id.as_str(), "{body}");
    assert!(body["metadata"].get("generateName").is_none(), "{body}");
    assert_eq!(
        body["spec"]["arguments"]["parameters"],
        json!([{"name": "msg", "value": hostile}]),
        "{body}"
    );
    let steps = run["steps"].as_array().cloned().unwrap_or_default();
    let seen: Vec<(&str, &str)> = steps
        .iter()
        .map(|s| {
            (
                s["node"].as_str().unwrap_or(""),
                s["status"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(seen, [("a", "Succeeded"), ("b", "Succeeded")], "{run}");
    let a = &steps[0];
    assert_eq!(
        a["finishedAt"]
            .as_f64()
            .zip(a["startedAt"].as_f64())
            .map(|(f, s)| f - s),
        Some(4.0)
    );
    // Logs of Argo steps are not served (docs/server.md, "Argo clusters").
    for (path, what) in [("logs", "logs"), ("artifacts", "artifacts")] {
        let url = format!("/api/v1/runs/{id}/steps/a/{path}");
        let (code, resp) = server.call("GET", &url, None, None);
        assert_eq!(code, 404, "{resp}");
        let detail = resp["detail"].as_str().unwrap_or_default();
        assert!(
            detail.contains(&format!("Workflow ml/{id}")) && detail.contains(what),
            "{resp}"
        );
    }
}

#[test]
fn a_failed_workflow_fails_the_run_with_argos_message() {
    let (url, _) = argo(
        after(2, "Failed", "The node was low on resource: memory."),
        0,
    );
    let (_dir, server, id) = started(&url, "x");
    let run = server.wait_for(None, &id, &ENDED);
    assert_eq!(run["state"], "Failed", "{run}");
    assert_eq!(
        run["message"], "The node was low on resource: memory.",
        "{run}"
    );
    assert_eq!(run["steps"][1]["status"], "Failed", "{run}");
    assert_eq!(
        run["retries"],
        json!([]),
        "a Workflow that ran and failed is Argo's to retry (retryStrategy), even on an eviction: {run}"
    );
    let (code, resp) = server.call("POST", &format!("/api/v1/runs/{id}/resume"), None, None);
    assert_eq!(code, 409, "{resp}");
    assert!(
        resp["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("not supported"),
        "{resp}"
    );
}

#[test]
fn stop_patches_shutdown_and_the_run_ends_stopped() {
    let (url, log) = argo(
        Box::new(|_, stopped| {
            if stopped {
                ("Failed", "Stopped with strategy 'Stop'")
            } else {
                ("Running", "")
            }
        }),
        0,
    );
    // Through a kubeconfig file naming the stand-in, this time.
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let kubeconfig = fake_api::kubeconfig(dir.path(), &url);
    let server = server_at(dir.path(), &format!("kubeconfig: {}", kubeconfig.display()));
    let id = submit(&server, "x");
    until(&log, |l| l.iter().any(|r| r.method == "GET"));
    let (code, resp) = server.call("POST", &format!("/api/v1/runs/{id}/stop"), None, None);
    assert_eq!(code, 202, "{resp}");
    let run = server.wait_for(None, &id, &ENDED);
    assert_eq!(run["state"], "Stopped", "{run}");
    assert_eq!(run["message"], "Stopped with strategy 'Stop'", "{run}");
    let log = log.lock().unwrap_or_else(|e| e.into_inner());
    let patches: Vec<&Request> = log.iter().filter(|r| r.method == "PATCH").collect();
    assert_eq!(patches.len(), 1, "{log:?}");
    assert_eq!(patches[0].path, format!("{WORKFLOWS}/{id}"));
    assert_eq!(patches[0].body, json!({"spec": {"shutdown": "Stop"}}));
}

#[test]
fn a_stop_broken_off_by_an_api_error_is_retried_and_the_run_ends_stopped() {
    let (url, log) = argo_refusing(
        Box::new(|_, stopped| {
            if stopped {
                ("Failed", "Stopped with strategy 'Stop'")
            } else {
                ("Running", "")
            }
        }),
        0,
        1,
    );
    let (_dir, server, id) = started(&url, "x");
    until(&log, |l| l.iter().any(|r| r.method == "GET"));
    let (code, resp) = server.call("POST", &format!("/api/v1/runs/{id}/stop"), None, None);
    assert_eq!(code, 202, "{resp}");
    let run = server.wait_for(None, &id, &ENDED);
    assert_eq!(run["state"], "Stopped", "{run}");
    let retries = run["retries"].as_array().map_or(0, Vec::len);
    assert_eq!(retries, 1, "the refused stop was retried once: {run}");
    let log = log.lock().unwrap_or_else(|e| e.into_inner());
    let patches = log.iter().filter(|r| r.method == "PATCH").count();
    assert_eq!(patches, 2, "refused, then patched again: {log:?}");
    assert_eq!(posts_in(&log), 1, "the Workflow was created once: {log:?}");
}

#[test]
fn a_server_killed_while_the_workflow_runs_follows_it_after_restart_without_a_second_create() {
    let finish = Arc::new(AtomicBool::new(false));
    let done = finish.clone();
    let (url, log) = argo(
        Box::new(move |_, _| {
            if done.load(Ordering::SeqCst) {
                ("Failed", "pod deleted by a person")
            } else {
                ("Running", "")
            }
        }),
        0,
    );
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let first = server(dir.path(), &url);
    let id = submit(&first, "x");
    until(&log, |l| l.iter().any(|r| r.method == "GET"));
    first.kill9();
    let gets_before = log.lock().map(|l| l.len()).unwrap_or(0);
    finish.store(true, Ordering::SeqCst);
    let second = server(dir.path(), &url);
    let run = second.wait_for(None, &id, &ENDED);
    assert_eq!(run["state"], "Failed", "{run}");
    assert_eq!(run["message"], "pod deleted by a person", "{run}");
    assert_eq!(posts(&log).len(), 1, "created twice");
    assert!(log.lock().map(|l| l.len()).unwrap_or(0) > gets_before);
}

#[test]
fn too_many_requests_on_create_is_retried_per_the_retry_table_then_succeeds() {
    let (url, log) = argo(after(2, "Succeeded", ""), 1);
    let (_dir, server, id) = started(&url, "x");
    let run = server.wait_for(None, &id, &ENDED);
    assert_eq!(run["state"], "Succeeded", "{run}");
    let retries = run["retries"].as_array().cloned().unwrap_or_default();
    assert_eq!(retries.len(), 1, "{run}");
    assert_eq!(retries[0]["pattern"], "k8s-too-many-requests", "{run}");
    assert_eq!(posts(&log).len(), 2);
}

#[test]
fn an_unreachable_api_server_ends_the_run_error_with_the_reason() {
    let (_dir, server, id) = started("http://127.0.0.1:1", "x");
    let run = server.wait_for(None, &id, &ENDED);
    assert_eq!(run["state"], "Error", "{run}");
    let message = run["message"].as_str().unwrap_or_default();
    assert!(message.contains("onnection refused"), "{run}");
    // Connection refused is a retryable pattern: retried up to the config's maxAttempts (3).
    let patterns = support::retry_patterns(&run);
    assert_eq!(patterns, ["connection-refused"; 3], "{run}");
}

#[test]
fn a_scheduled_spec_ends_error_without_creating_anything() {
    let (url, log) = argo(after(1, "Succeeded", ""), 0);
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let server = server(dir.path(), &url);
    let spec = SPEC.replace(
        "name: two\n",
        "name: two\nschedule:\n  cron: \"0 2 * * *\"\n",
    );
    let (code, resp) = server.submit(None, &json!({"spec": spec, "namespace": "ml"}));
    assert_eq!(code, 201, "{resp}");
    let id = resp["id"].as_str().unwrap_or_default();
    let run = server.wait_for(None, id, &ENDED);
    assert_eq!(run["state"], "Error", "{run}");
    assert!(
        run["message"]
            .as_str()
            .unwrap_or_default()
            .contains("CronWorkflow"),
        "{run}"
    );
    assert!(posts(&log).is_empty());
}

#[test]
fn the_event_stream_carries_an_argo_runs_steps_as_they_change() {
    let (url, log) = argo(after(4, "Succeeded", ""), 0);
    let (_dir, server, id) = started(&url, "x");
    until(&log, |l| l.iter().any(|r| r.method == "GET"));
    // A run's stream ends after its final run event.
    let path = format!("/api/v1/runs/{id}/events");
    let (code, text) = support::http(&server.addr, "GET", &path, None, None);
    assert_eq!(code, 200, "{text}");
    let events: Vec<(&str, Value)> = text
        .split("\n\n")
        .filter_map(|block| {
            let kind = block.lines().find_map(|l| l.strip_prefix("event: "))?;
            let data = block.lines().find_map(|l| l.strip_prefix("data: "))?;
            Some((kind, serde_json::from_str(data).unwrap_or(Value::Null)))
        })
        .collect();
    let live_b_succeeded = events.iter().any(|(k, d)| {
        *k == "step"
            && d["node"] == "b"
            && d["status"] == "Succeeded"
            && d.get("snapshot").is_none()
    });
    assert!(live_b_succeeded, "{text}");
    let last = events.last().map(|(k, d)| (*k, d["state"].clone()));
    assert_eq!(last, Some(("run", json!("Succeeded"))), "{text}");
}
