//! The web UI (docs/ui.md) against real `couler server`s: how `/` is served (content types,
//! caching, the SPA fallback, the CSP, `/api` untouched), the routes the UI reads (`/me`,
//! `/runs/{id}/workflow`, `/critical-path`, `/compiled`), and the end-to-end test in Chromium (web/e2e/ui.mjs, driven
//! by playwright-core): login, a run's DAG turning green live, a step's logs, a failing run
//! resumed from the page, a viewer without actions, `--auth none` without login; and the runs
//! list's filters the UI passes to the server.
//!
//! Needs the UI built (`bash scripts/web-build`, before cargo builds the server) and Chromium
//! (`bash scripts/browser-deps`, or COULER_CHROMIUM); without them these tests fail saying so.
//! `COULER_BLESS=1` also writes the screenshots in docs/images/ui-*.png.

#[path = "support/server.rs"]
mod support;

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;
use support::{Server, http_head, token};

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"))
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The server's index page, refused when it is the placeholder of a build without the UI.
fn built_index(s: &Server) -> String {
    let (status, head, body) = http_head(&s.addr, "GET", "/", None, None);
    assert_eq!(status, 200, "{head}");
    assert!(
        !body.contains("web UI is not built"),
        "this couler binary embeds no web UI: run `bash scripts/web-build`, then cargo test again (it rebuilds the server with the UI)"
    );
    body
}

fn header<'a>(head: &'a str, name: &str) -> &'a str {
    head.lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim())
        })
        .unwrap_or_else(|| panic!("no {name} in {head}"))
}

#[test]
fn the_ui_is_served_with_its_types_caching_fallback_and_csp() {
    let dir = tempdir();
    let s = Server::start(dir.path(), &[]);
    let index = built_index(&s);
    let (_, head, _) = http_head(&s.addr, "GET", "/", None, None);
    assert_eq!(header(&head, "content-type"), "text/html; charset=utf-8");
    assert_eq!(header(&head, "cache-control"), "no-cache");
    let csp = header(&head, "content-security-policy");
    assert!(
        csp.contains("default-src 'none'") && csp.contains("script-src 'self'"),
        "{csp}"
    );
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{csp}"
    );
    // A client route is the app's page; so is a deep one.
    let (status, _, body) = http_head(&s.addr, "GET", "/runs/some-run", None, None);
    assert_eq!((status, body.as_str()), (200, index.as_str()));
    // Hashed assets: their type, cached for good.
    let script = index
        .split("src=\"")
        .nth(1)
        .and_then(|t| t.split('"').next())
        .unwrap_or_else(|| panic!("no script in {index}"));
    assert!(script.starts_with("/assets/"), "{script}");
    let (status, head, _) = http_head(&s.addr, "GET", script, None, None);
    assert_eq!(status, 200, "{head}");
    assert_eq!(
        header(&head, "content-type"),
        "text/javascript; charset=utf-8"
    );
    assert_eq!(
        header(&head, "cache-control"),
        "public, max-age=31536000, immutable"
    );
    // A missing asset, an unknown API route and a POST are JSON 404s, not the page.
    for (method, path) in [
        ("GET", "/assets/gone-123.js"),
        ("GET", "/api/v1/nope"),
        ("POST", "/runs"),
    ] {
        let (status, head, body) = http_head(&s.addr, method, path, None, None);
        assert_eq!(status, 404, "{method} {path}: {head}");
        assert!(body.starts_with("{\"detail\""), "{method} {path}: {body}");
    }
    // The rest of the server is untouched.
    let (status, _, body) = http_head(&s.addr, "GET", "/healthz", None, None);
    assert_eq!(status, 200, "{body}");
    let (status, _, _) = http_head(&s.addr, "GET", "/api/v1/runs", None, None);
    assert_eq!(status, 401);
}

#[test]
fn me_and_a_runs_workflow_answer_what_the_ui_needs() {
    let dir = tempdir();
    let s = Server::start(dir.path(), &[]);
    let editor = token(&s.state_dir, "ed", "editor", Some("team-a"));
    let (code, me) = s.call("GET", "/api/v1/me", Some(&editor), None);
    assert_eq!(code, 200, "{me}");
    assert_eq!(
        me,
        json!({"user": "ed", "auth": "token", "roles": [{"namespace": "team-a", "role": "editor"}]})
    );
    let (code, run) = s.submit(
        Some(&editor),
        &json!({"spec": support::ECHO, "namespace": "team-a"}),
    );
    assert_eq!(code, 201, "{run}");
    let id = run["id"].as_str().unwrap_or_default();
    // A view of the run the UI reads, `GET /api/v1/runs/{id}/{view}`, as `tok` or the editor.
    let view_as = |tok: &str, view: &str| {
        s.call("GET", &format!("/api/v1/runs/{id}/{view}"), Some(tok), None)
    };
    let view = |v: &str| view_as(&editor, v);
    let (code, wf) = view("workflow");
    assert_eq!(code, 200, "{wf}");
    assert_eq!(wf["edges"], json!([{"from": "one", "to": "two"}]));
    let kinds: Vec<&Value> = wf["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|n| &n["kind"])
        .collect();
    assert_eq!(kinds, [&json!("container"), &json!("script")]);
    assert!(
        wf["yaml"]
            .as_str()
            .is_some_and(|y| y.contains("name: echo\n")),
        "{wf}"
    );
    let done = s.wait_for(Some(&editor), id, &["Succeeded"]);
    // An ended step's memory and CPU, as the runtime recorded them (a quick `printf` may
    // round to 0 KiB, never to null).
    let one = &done["steps"][0];
    assert!(
        one["peakRssKb"].is_i64() && one["cpuSeconds"].is_f64(),
        "{done}"
    );
    // The Gantt's critical path: one → two, by their measured times.
    let (code, path) = view("critical-path");
    assert_eq!(code, 200, "{path}");
    assert_eq!(path["steps"], json!(["one", "two"]), "{path}");
    assert!(path["seconds"].as_f64().is_some_and(|s| s > 0.0), "{path}");
    // The compile preview: Airflow's DAG file as `couler compile` writes it; Argo refuses a
    // step without an image, naming the step and the fix.
    let (code, airflow) = view("compiled?target=airflow");
    assert_eq!(code, 200, "{airflow}");
    assert_eq!(airflow["refused"], Value::Null, "{airflow}");
    assert!(airflow["files"].to_string().contains("DAG("), "{airflow}");
    let says = |v: &Value, key: &str, text: &str| v[key].as_str().is_some_and(|t| t.contains(text));
    let (code, argo) = view("compiled?target=argo");
    assert_eq!(code, 200, "{argo}");
    assert!(says(&argo, "refused", "step `one` has no image"), "{argo}");
    assert_eq!(argo["files"], json!({}), "{argo}");
    let (code, refused) = view("compiled?target=local");
    assert_eq!(code, 400, "{refused}");
    assert!(
        says(&refused, "detail", "argo, airflow, tekton"),
        "{refused}"
    );
    // The runs list's filters, as the UI passes them.
    for (query, want) in [
        ("workflow=echo&q=ECH", 1),
        ("user=ed&q=echo-", 1),
        ("user=e", 0),
        ("q=%25", 0),
    ] {
        let (code, list) = s.call("GET", &format!("/api/v1/runs?{query}"), Some(&editor), None);
        assert_eq!(code, 200, "{list}");
        assert_eq!(
            list["runs"].as_array().map(Vec::len),
            Some(want),
            "{query}: {list}"
        );
    }
    let admin = token(&s.state_dir, "ad", "admin", None);
    let (code, refused) = s.call("GET", "/api/v1/audit?workflow=echo", Some(&admin), None);
    assert_eq!(code, 400, "{refused}");
    assert!(
        refused["detail"]
            .as_str()
            .is_some_and(|d| d.contains("`workflow` filters runs")),
        "{refused}"
    );
    // The history: the workflow's runs newest first, a page at a time, with their params, each
    // step's time and memory and outputs (for the charts and the comparison).
    let (code, again) = s.submit(
        Some(&editor),
        &json!({"spec": support::ECHO, "namespace": "team-a", "parameters": {"msg": "bye"}}),
    );
    assert_eq!(code, 201, "{again}");
    let second = again["id"].as_str().unwrap_or_default();
    s.wait_for(Some(&editor), second, &["Succeeded"]);
    let (code, h) = view("history");
    assert_eq!(code, 200, "{h}");
    let ids: Vec<&str> = h["runs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["id"].as_str())
        .collect();
    assert_eq!(ids, [second, id], "{h}");
    assert_eq!(h["runs"][0]["params"], json!({"msg": "bye"}), "{h}");
    assert_eq!(h["runs"][1]["params"], json!({}), "{h}");
    assert_eq!(
        h["runs"][0]["outputs"]["one"]["parameters"]["said"], "bye",
        "{h}"
    );
    for step in ["one", "two"] {
        let at = &h["runs"][1]["steps"][step];
        assert!(
            at["seconds"].as_f64().is_some_and(|s| s > 0.0) && at["peakRssKb"].is_i64(),
            "{step}: {h}"
        );
    }
    let (_, first) = view("history?limit=1");
    assert_eq!(first["runs"][0]["id"], second, "{first}");
    let next = first["continue"]
        .as_str()
        .unwrap_or_else(|| panic!("{first}"));
    let (_, rest) = view(&format!("history?limit=1&continue={next}"));
    assert_eq!(
        (rest["runs"][0]["id"].as_str(), &rest["continue"]),
        (Some(id), &Value::Null),
        "{rest}"
    );
    let (code, bad) = view("history?limit=0");
    assert_eq!(code, 400, "{bad}");
    // Another namespace's user does not see it.
    let other = token(&s.state_dir, "bo", "admin", Some("team-b"));
    for v in [
        "workflow",
        "critical-path",
        "compiled?target=argo",
        "history",
    ] {
        assert_eq!(view_as(&other, v).0, 404, "{v}");
    }
    let (code, _) = s.call("GET", "/api/v1/me", None, None);
    assert_eq!(code, 401);
}

#[test]
fn the_uis_pure_modules_pass_their_unit_tests() {
    // web/e2e/units.test.mjs: the layered layout of large DAGs, the charts' axes, the Gantt's rows,
    // the editor's model and YAML writer.
    let mut node = Command::new("node");
    node.args(["--test", "e2e/units.test.mjs"])
        .current_dir(repo().join("web"));
    let (ok, text) = run_node(&mut node);
    assert!(ok && text.contains("# pass 7"), "{text}");
}

/// Runs `node`: whether it exited 0, and its standard output then its standard error.
fn run_node(node: &mut Command) -> (bool, String) {
    let out = node
        .output()
        .unwrap_or_else(|e| panic!("cannot run node (install Node.js 20+): {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Chromium's path, or a failure that says how to install it.
fn chromium() -> String {
    let path = std::env::var("COULER_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&path).is_file(),
        "no Chromium at {path}: run `bash scripts/browser-deps` (or set COULER_CHROMIUM)"
    );
    path
}

#[test]
fn the_ui_end_to_end_in_chromium() {
    let web = repo().join("web");
    assert!(
        web.join("node_modules/playwright-core/package.json")
            .is_file(),
        "web/node_modules has no playwright-core: run `bash scripts/web-build`"
    );
    let browser = chromium();
    let dir = tempdir();
    // The editor's churn workflow runs the zoo's scikit-learn steps: the test venv's python first.
    let python = support::test_python();
    let bin = python.parent().map(Path::to_path_buf).unwrap_or_default();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let s = Server::start_with_env(
        &dir.path().join("token"),
        &["--auth", "token"],
        &[("PATH", &path)],
    );
    built_index(&s);
    let open = Server::start(&dir.path().join("open"), &["--auth", "none"]);
    let editor = token(&s.state_dir, "ed", "editor", None);
    let viewer = token(&s.state_dir, "vi", "viewer", None);
    // An editor whose role the script lowers while their page is open.
    let demoted = token(&s.state_dir, "mo", "editor", None);
    let mut node = Command::new("node");
    node.arg(web.join("e2e/ui.mjs"))
        .current_dir(&web)
        .env("COULER_UI_URL", format!("http://{}", s.addr))
        .env("COULER_UI_OPEN_URL", format!("http://{}", open.addr))
        .env("COULER_UI_EDITOR", &editor)
        .env("COULER_UI_VIEWER", &viewer)
        .env("COULER_UI_DEMOTED", &demoted)
        .env("COULER_UI_BIN", support::couler())
        .env("COULER_UI_STATE_DIR", &s.state_dir)
        .env("COULER_UI_FLAG", dir.path().join("flag"))
        .env("COULER_CHROMIUM", &browser);
    if std::env::var_os("COULER_BLESS").is_some() {
        node.env("COULER_UI_SHOTS", repo().join("docs/images"));
    }
    let started = Instant::now();
    let (ok, text) = run_node(&mut node);
    println!(
        "{text}web/e2e/ui.mjs took {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert!(
        ok && text.contains("all checks passed"),
        "web/e2e/ui.mjs failed:\n{text}"
    );
}

#[test]
fn validate_answers_located_diagnostics_the_document_and_the_irs_hash_unaudited() {
    let dir = tempdir();
    let s = Server::start(dir.path(), &[]);
    // A viewer may validate: it reads and records nothing.
    let viewer = token(&s.state_dir, "vi", "viewer", Some("team-a"));
    let admin = token(&s.state_dir, "ad", "admin", None);
    let check = |spec: &str| {
        let body = json!({ "spec": spec }).to_string();
        s.call("POST", "/api/v1/validate", Some(&viewer), Some(&body))
    };
    let (code, ok) = check(support::ECHO);
    assert_eq!(code, 200, "{ok}");
    assert_eq!(ok["valid"], true, "{ok}");
    assert_eq!(ok["document"]["name"], "echo", "{ok}");
    let ir = ok["ir"].as_str().unwrap_or_default();
    assert!(
        ir.len() == 64 && ir.chars().all(|c| c.is_ascii_hexdigit()),
        "{ok}"
    );
    // The same workflow written otherwise (a comment, JSON): the same IR; another: another.
    let (_, same) = check(&format!("# a comment\n{}", support::ECHO));
    assert_eq!(same["ir"], ok["ir"]);
    let (_, as_json) = check(&ok["document"].to_string());
    assert_eq!(as_json["ir"], ok["ir"], "{as_json}");
    let (_, other) = check(&support::ECHO.replace("name: echo", "name: echo-2"));
    assert_ne!(other["ir"], ok["ir"]);
    // A mistake: located on its line, with the CLI's rendering naming `spec`.
    let bad = support::ECHO.replace("dependsOn: [one]", "dependsOn: [onw]");
    assert_ne!(bad, support::ECHO, "the fixture has `dependsOn: [one]`");
    let (code, wrong) = check(&bad);
    assert_eq!(code, 200, "{wrong}");
    assert_eq!(wrong["valid"], false);
    assert_eq!(wrong["ir"], Value::Null);
    let d = &wrong["diagnostics"][0];
    let line = bad.lines().position(|l| l.contains("[onw]")).map(|i| i + 1);
    assert_eq!(d["severity"], "error", "{wrong}");
    assert_eq!(d["line"].as_u64(), line.map(|l| l as u64), "{wrong}");
    assert!(
        d["message"].as_str().is_some_and(|m| m.contains("onw"))
            && d["rendered"].as_str().is_some_and(|r| r.contains("spec:")),
        "{wrong}"
    );
    // Not YAML at all: no document; a body that is not `{spec}`: 400.
    let (_, garbage) = check("[: :");
    assert_eq!(
        (garbage["valid"].clone(), garbage["document"].clone()),
        (json!(false), Value::Null)
    );
    let (code, refused) = s.call(
        "POST",
        "/api/v1/validate",
        Some(&viewer),
        Some("{\"yaml\": 1}"),
    );
    assert_eq!(code, 400, "{refused}");
    let (code, _) = s.call("POST", "/api/v1/validate", None, Some("{\"spec\": \"\"}"));
    assert_eq!(code, 401);
    // Left out of the audit log, as reads are.
    let (code, audit) = s.call("GET", "/api/v1/audit", Some(&admin), None);
    assert_eq!(code, 200, "{audit}");
    assert!(!audit.to_string().contains("/validate"), "{audit}");
}

#[test]
fn a_runs_steps_carry_each_ended_attempt_for_the_gantt() {
    let dir = tempdir();
    let s = Server::start(dir.path(), &[]);
    let editor = token(&s.state_dir, "ed", "editor", None);
    let spec = "apiVersion: couler.dev/v1alpha1\nkind: Workflow\nname: flaky\nsteps:\n\
                - name: ok\n  container:\n    command: [echo, fine]\n\
                - name: fails\n  container:\n    command: [sh, -c, 'exit 3']\n  retry:\n    limit: 2\n";
    let (code, run) = s.submit(Some(&editor), &json!({ "spec": spec }));
    assert_eq!(code, 201, "{run}");
    let id = run["id"].as_str().unwrap_or_default();
    let run = s.wait_for(Some(&editor), id, &["Failed"]);
    let step = |name: &str| {
        run["steps"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|x| x["node"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no step {name}: {run}"))
    };
    let fails = step("fails");
    let tries = fails["tries"].as_array().cloned().unwrap_or_default();
    let seen: Vec<(u64, &str)> = tries
        .iter()
        .map(|t| {
            (
                t["attempt"].as_u64().unwrap_or(0),
                t["status"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [(1, "Failed"), (2, "Failed"), (3, "Failed")],
        "{fails}"
    );
    let times: Vec<f64> = tries
        .iter()
        .flat_map(|t| [t["startedAt"].as_f64(), t["finishedAt"].as_f64()])
        .map(|t| t.unwrap_or(f64::NAN))
        .collect();
    assert!(
        times.windows(2).all(|w| w[0] <= w[1]),
        "attempts in order, each ended: {times:?}"
    );
    assert_eq!(
        step("ok")["tries"].as_array().map(Vec::len),
        Some(1),
        "{run}"
    );
}
