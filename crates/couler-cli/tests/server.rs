//! `couler server` as a process on a loopback port, over HTTP: runs, auth, audit, bad input,
//! hostile parameters, stop and delete, limits, and a SIGKILL in the middle of a run; each
//! on the default SQLite database and on PostgreSQL (a throwaway PostgreSQL 15 cluster).

#[path = "support/postgres.rs"]
mod pg;
#[macro_use]
#[path = "support/server.rs"]
mod support;

both!(
    a_submitted_workflow_runs_to_success_with_its_steps,
    runs_are_listed_newest_first_by_page_and_filtered,
    tokens_roles_and_an_audit_entry_for_every_mutation,
    a_bad_spec_is_refused_naming_the_place_and_nothing_is_queued,
    hostile_parameter_values_arrive_byte_for_byte_and_run_nothing,
    over_the_body_limit_is_413_and_audited,
    stop_dequeues_or_signals_and_delete_forgets_an_ended_run,
    a_server_killed_with_sigkill_finishes_what_it_accepted_after_restart,
);

use serde_json::{Value, json};
use std::path::Path;
use support::{ECHO, Server, token, wait_file};

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"))
}

fn submit_ok(server: &Server, token: Option<&str>, body: &Value) -> String {
    let (code, resp) = server.submit(token, body);
    assert_eq!(code, 201, "{resp}");
    resp["id"].as_str().unwrap_or_default().to_string()
}

fn a_submitted_workflow_runs_to_success_with_its_steps() {
    let dir = tempdir();
    let server = Server::start(dir.path(), &["--auth", "none"]);
    let id = submit_ok(&server, None, &json!({"spec": ECHO}));
    assert!(id.starts_with("echo-"), "{id}");
    let run = server.wait_for(None, &id, &["Succeeded", "Failed", "Error"]);
    assert_eq!(run["state"], "Succeeded", "{run}");
    let steps = run["steps"].as_array().cloned().unwrap_or_default();
    let names: Vec<&str> = steps.iter().filter_map(|s| s["node"].as_str()).collect();
    assert_eq!(names, ["one", "two"], "{run}");
    for s in &steps {
        assert_eq!(s["status"], "Succeeded", "{s}");
        assert_eq!(s["attempts"], 1, "{s}");
    }
    assert_eq!(steps[0]["outputs"]["parameters"]["said"], "hello");
    // The runtime's own record: the run is in the server's state directory under its id.
    assert!(server.state_dir.join("runs").join(&id).is_dir());
    let (_, metrics) = support::http(&server.addr, "GET", "/metrics", None, None);
    assert!(
        metrics.contains("couler_runs{state=\"Succeeded\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("couler_queue_depth 0"), "{metrics}");
    let (code, health) = server.call("GET", "/healthz", None, None);
    assert_eq!((code, health), (200, json!({"status": "ok"})));
}

fn runs_are_listed_newest_first_by_page_and_filtered() {
    let dir = tempdir();
    let server = Server::start(dir.path(), &["--auth", "none"]);
    let mut ids = Vec::new();
    for ns in ["team-a", "team-a", "team-b"] {
        ids.push(submit_ok(
            &server,
            None,
            &json!({"spec": ECHO, "namespace": ns}),
        ));
    }
    for id in &ids {
        server.wait_for(None, id, &["Succeeded"]);
    }
    let (code, first) = server.call("GET", "/api/v1/runs?limit=2", None, None);
    assert_eq!(code, 200, "{first}");
    let page_ids = |v: &Value| -> Vec<String> {
        v["runs"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r["id"].as_str().map(str::to_string))
            .collect()
    };
    assert_eq!(page_ids(&first), [ids[2].clone(), ids[1].clone()]);
    // Each ended run is listed with when it started and ended (the runtime's record).
    for r in first["runs"].as_array().into_iter().flatten() {
        let at = |k: &str| r[k].as_f64().unwrap_or_else(|| panic!("{k}: {r}"));
        assert!(
            at("submittedAt") <= at("startedAt") && at("startedAt") <= at("finishedAt"),
            "{r}"
        );
        assert_eq!(r["state"], "Succeeded", "{r}");
    }
    let cont = first["continue"]
        .as_str()
        .unwrap_or_else(|| panic!("{first}"));
    let (_, second) = server.call(
        "GET",
        &format!("/api/v1/runs?limit=2&continue={cont}"),
        None,
        None,
    );
    assert_eq!(page_ids(&second), [ids[0].clone()]);
    assert_eq!(second["continue"], Value::Null);
    let (_, a) = server.call(
        "GET",
        "/api/v1/runs?namespace=team-a&state=Succeeded",
        None,
        None,
    );
    assert_eq!(page_ids(&a), [ids[1].clone(), ids[0].clone()]);
    let (_, none) = server.call("GET", "/api/v1/runs?state=Failed", None, None);
    assert_eq!(page_ids(&none), Vec::<String>::new());
    let (code, bad) = server.call("GET", "/api/v1/runs?state=Done", None, None);
    assert_eq!(code, 400, "{bad}");
    assert!(
        bad["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("Succeeded"),
        "{bad}"
    );
}

fn tokens_roles_and_an_audit_entry_for_every_mutation() {
    let dir = tempdir();
    let state = dir.path().join("state");
    let viewer = token(&state, "vic", "viewer", Some("team-a"));
    let editor = token(&state, "eve", "editor", Some("team-a"));
    let admin = token(&state, "ada", "admin", None);
    let server = Server::start(dir.path(), &[]);
    let body = json!({"spec": ECHO, "namespace": "team-a"});

    let (code, resp) = server.submit(None, &body);
    assert_eq!(code, 401, "{resp}");
    assert_eq!(resp["error"], "unauthorized");
    let (code, _) = server.call("GET", "/api/v1/runs", Some("couler_not-a-token"), None);
    assert_eq!(code, 401);
    let (code, resp) = server.submit(Some(&viewer), &body);
    assert_eq!(code, 403, "{resp}");
    assert!(
        resp["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("editor"),
        "{resp}"
    );
    let id = submit_ok(&server, Some(&editor), &body);
    // Another namespace is not the editor's; a run there does not exist for them.
    let (code, _) = server.submit(Some(&editor), &json!({"spec": ECHO, "namespace": "team-b"}));
    assert_eq!(code, 403);
    let other = submit_ok(
        &server,
        Some(&admin),
        &json!({"spec": ECHO, "namespace": "team-b"}),
    );
    let (code, _) = server.call("GET", &format!("/api/v1/runs/{other}"), Some(&editor), None);
    assert_eq!(code, 404);
    let (code, list) = server.call("GET", "/api/v1/runs", Some(&viewer), None);
    assert_eq!(code, 200);
    assert_eq!(list["runs"].as_array().map(Vec::len), Some(1), "{list}");
    assert_eq!(list["runs"][0]["id"], id.as_str());
    server.wait_for(Some(&viewer), &id, &["Succeeded"]);
    let (code, _) = server.call(
        "POST",
        &format!("/api/v1/runs/{id}/stop"),
        Some(&viewer),
        None,
    );
    assert_eq!(code, 403);
    let (code, _) = server.call("GET", "/api/v1/audit", Some(&editor), None);
    assert_eq!(code, 403);

    let (code, audit) = server.call("GET", "/api/v1/audit", Some(&admin), None);
    assert_eq!(code, 200, "{audit}");
    let entries = audit["entries"].as_array().cloned().unwrap_or_default();
    let seen: Vec<(Value, u64)> = entries
        .iter()
        .map(|e| (e["user"].clone(), e["status"].as_u64().unwrap_or_default()))
        .collect();
    // Newest first: every POST, refused or not; no GET.
    assert_eq!(
        seen,
        [
            (json!("vic"), 403),
            (json!("ada"), 201),
            (json!("eve"), 403),
            (json!("eve"), 201),
            (json!("vic"), 403),
            (Value::Null, 401),
        ],
        "{audit}"
    );
    let accepted = &entries[3];
    assert_eq!(accepted["run"], id.as_str());
    assert_eq!(accepted["namespace"], "team-a");
    assert_eq!(accepted["method"], "POST");
    assert_eq!(accepted["outcome"], "ok");
    assert!(
        entries[0]["outcome"]
            .as_str()
            .unwrap_or_default()
            .starts_with("forbidden")
    );
}

fn a_bad_spec_is_refused_naming_the_place_and_nothing_is_queued() {
    let dir = tempdir();
    let server = Server::start(dir.path(), &["--auth", "none"]);
    let spec = ECHO.replace("  container:", "  contaner:");
    let (code, resp) = server.submit(None, &json!({"spec": spec}));
    assert_eq!(code, 400, "{resp}");
    assert_eq!(resp["error"], "invalid spec");
    let detail = resp["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("spec:9:3"), "{detail}");
    assert!(detail.contains("did you mean `container`"), "{detail}");
    let (code, resp) = server.submit(None, &json!({"spec": ECHO, "parameters": {"nope": "x"}}));
    assert_eq!(code, 400, "{resp}");
    assert!(
        resp["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("has no param `nope`")
    );
    let (code, resp) = server.call("POST", "/api/v1/runs", None, Some("{not json"));
    assert_eq!(code, 400, "{resp}");
    assert_eq!(resp["error"], "invalid body");
    let (_, list) = server.call("GET", "/api/v1/runs", None, None);
    assert_eq!(list["runs"], json!([]), "{list}");
}

fn hostile_parameter_values_arrive_byte_for_byte_and_run_nothing() {
    let dir = tempdir();
    let canary = dir.path().join("pwned");
    let c = canary.display();
    let hostile = format!(
        "$(touch {c}) `touch {c}`; touch {c} && echo '\"{{{{params.msg}}}}\\ \n\t\u{1b}[31m ünï {{{{workflow.name}}}}"
    );
    let spec = r#"apiVersion: couler.dev/v1alpha1
kind: Workflow
name: hostile
params:
- name: msg
steps:
- name: as-arg
  container:
    command: [printf, '%s', '{{params.msg}}']
  outputs:
    parameters:
    - name: said
- name: as-env
  script:
    command: [sh]
    source: printf '%s' "$MSG"
  env:
    MSG: '{{params.msg}}'
  outputs:
    parameters:
    - name: said
"#;
    let server = Server::start(dir.path(), &["--auth", "none"]);
    let id = submit_ok(
        &server,
        None,
        &json!({"spec": spec, "parameters": {"msg": hostile}}),
    );
    let run = server.wait_for(None, &id, &["Succeeded", "Failed", "Error"]);
    assert_eq!(run["state"], "Succeeded", "{run}");
    for step in run["steps"].as_array().into_iter().flatten() {
        assert_eq!(
            step["outputs"]["parameters"]["said"],
            hostile.as_str(),
            "{step}"
        );
    }
    assert!(!canary.exists(), "a parameter value ran as a command");
}

#[test]
fn auth_none_is_refused_beyond_loopback() {
    let dir = tempdir();
    let out = std::process::Command::new(support::couler())
        .args([
            "server",
            "--listen",
            "0.0.0.0:0",
            "--auth",
            "none",
            "--state-dir",
        ])
        .arg(dir.path())
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("only when listening on loopback"), "{err}");
    assert!(
        !dir.path().join("server.db").exists(),
        "nothing was created"
    );
}

fn over_the_body_limit_is_413_and_audited() {
    let dir = tempdir();
    let server = Server::start(dir.path(), &["--auth", "none", "--max-body-bytes", "1000"]);
    let big = json!({"spec": format!("{ECHO}#{}", "x".repeat(2000))}).to_string();
    let (code, resp) = server.call("POST", "/api/v1/runs", None, Some(&big));
    assert_eq!(code, 413, "{resp}");
    assert!(
        resp["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("1000 bytes"),
        "{resp}"
    );
    let (_, audit) = server.call("GET", "/api/v1/audit", None, None);
    assert_eq!(audit["entries"][0]["status"], 413, "{audit}");
}

/// A workflow whose only step waits for `gate` to exist, printing `started` first.
fn gated(name: &str, gate: &Path, started: &Path) -> String {
    format!(
        r#"apiVersion: couler.dev/v1alpha1
kind: Workflow
name: {name}
steps:
- name: first
  script:
    command: [sh]
    source: echo ran >> '{started}.first'
- name: wait
  script:
    command: [sh]
    source: |
      touch '{started}'
      while [ ! -e '{gate}' ]; do sleep 0.05; done
  dependsOn: [first]
"#,
        started = started.display(),
        gate = gate.display()
    )
}

fn stop_dequeues_or_signals_and_delete_forgets_an_ended_run() {
    let dir = tempdir();
    let (gate, started) = (dir.path().join("gate"), dir.path().join("started"));
    let server = Server::start(dir.path(), &["--auth", "none", "--workers", "1"]);
    let running = submit_ok(
        &server,
        None,
        &json!({"spec": gated("slow", &gate, &started)}),
    );
    wait_file(&started);
    let queued = submit_ok(&server, None, &json!({"spec": ECHO}));
    let (code, resp) = server.call("DELETE", &format!("/api/v1/runs/{running}"), None, None);
    assert_eq!(code, 409, "{resp}");
    let (code, resp) = server.call("POST", &format!("/api/v1/runs/{queued}/stop"), None, None);
    assert_eq!((code, resp["stop"].clone()), (202, json!("dequeued")));
    let (code, resp) = server.call("POST", &format!("/api/v1/runs/{running}/stop"), None, None);
    assert_eq!((code, resp["stop"].clone()), (202, json!("signalled")));
    let run = server.wait_for(None, &running, &["Stopped", "Failed", "Succeeded", "Error"]);
    assert_eq!(run["state"], "Stopped", "{run}");
    let q = server.wait_for(None, &queued, &["Stopped"]);
    assert_eq!(q["steps"], json!([]), "a dequeued run never started: {q}");
    let (code, _) = server.call("POST", &format!("/api/v1/runs/{running}/stop"), None, None);
    assert_eq!(code, 409, "an ended run cannot be stopped");
    for id in [&running, &queued] {
        let (code, resp) = server.call("DELETE", &format!("/api/v1/runs/{id}"), None, None);
        assert_eq!(code, 200, "{resp}");
        let (code, _) = server.call("GET", &format!("/api/v1/runs/{id}"), None, None);
        assert_eq!(code, 404);
    }
    assert!(!server.state_dir.join("runs").join(&running).exists());
}

fn a_server_killed_with_sigkill_finishes_what_it_accepted_after_restart() {
    let dir = tempdir();
    let (gate, started) = (dir.path().join("gate"), dir.path().join("started"));
    let server = Server::start(dir.path(), &["--auth", "none", "--workers", "1"]);
    let a = submit_ok(&server, None, &json!({"spec": gated("a", &gate, &started)}));
    wait_file(&started);
    // Accepted while the only worker is busy, then the server dies.
    let b = submit_ok(&server, None, &json!({"spec": ECHO}));
    server.kill9();
    std::fs::write(&gate, "").unwrap_or_else(|e| panic!("{e}"));
    let server = Server::start(dir.path(), &["--auth", "none", "--workers", "1"]);
    for id in [&a, &b] {
        let run = server.wait_for(None, id, &["Succeeded", "Failed", "Error", "Stopped"]);
        assert_eq!(run["state"], "Succeeded", "{run}");
    }
    // `first` had finished before the kill: the resumed run did not repeat it.
    let first =
        std::fs::read_to_string(dir.path().join("started.first")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(first, "ran\n");
    let (_, run) = server.call("GET", &format!("/api/v1/runs/{a}"), None, None);
    assert_eq!(run["steps"][0]["attempts"], 1, "{run}");
}

#[test]
fn a_server_on_an_unreachable_postgres_exits_naming_it_without_its_password() {
    let dir = tempdir();
    let url = "postgres://ann:s3cret@127.0.0.1:1/couler";
    for args in [
        vec!["server", "--listen", "127.0.0.1:0", "--db", url],
        vec![
            "server", "token", "create", "--user", "ann", "--role", "admin", "--db", url,
        ],
    ] {
        let out = std::process::Command::new(support::couler())
            .args(&args)
            .arg("--state-dir")
            .arg(dir.path())
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?}: {err}");
        assert!(
            err.contains(
                "cannot connect to the PostgreSQL database postgres://ann:***@127.0.0.1:1/couler"
            ) && err.contains("check that PostgreSQL runs"),
            "{args:?}: {err}"
        );
        assert!(!err.contains("s3cret"), "the password is shown: {err}");
        assert!(out.stdout.is_empty(), "{args:?}: nothing printed on stdout");
    }
}

#[test]
fn two_servers_on_one_postgres_database_share_its_queue_and_run_each_run_once() {
    let dir = tempdir();
    support::use_db(pg::database());
    let gate = dir.path().join("gate");
    let (one, two) = (dir.path().join("one"), dir.path().join("two"));
    let servers = [&one, &two].map(|d| Server::start(d, &["--auth", "none", "--workers", "1"]));
    // Both submitted to the first server, whose one worker holds the first run until the
    // gate opens: the second run starts only if the other server claims it.
    let started = [dir.path().join("a.started"), dir.path().join("b.started")];
    let ids: Vec<String> = ["a", "b"]
        .iter()
        .zip(&started)
        .map(|(name, s)| submit_ok(&servers[0], None, &json!({"spec": gated(name, &gate, s)})))
        .collect();
    for s in &started {
        wait_file(s);
    }
    std::fs::write(&gate, "").unwrap_or_else(|e| panic!("{e}"));
    for id in &ids {
        let run = servers[1].wait_for(None, id, &["Succeeded", "Failed", "Error", "Stopped"]);
        assert_eq!(run["state"], "Succeeded", "{run}");
        let ran_in: Vec<bool> = servers
            .iter()
            .map(|s| s.state_dir.join("runs").join(id).is_dir())
            .collect();
        assert_eq!(
            ran_in.iter().filter(|r| **r).count(),
            1,
            "run {id} ran in exactly one server: {ran_in:?}"
        );
    }
    for s in &started {
        let first = std::fs::read_to_string(format!("{}.first", s.display()))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(first, "ran\n", "each run's first step ran once");
    }
}
