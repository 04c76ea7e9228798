//! `couler submit` against an in-test stand-in for the Kubernetes API server (no real API
//! server can run here): a small HTTP/1.1 server that accepts the Workflow, names it, and reports
//! it Running, then Succeeded (or Failed).

#[path = "support/fake_api.rs"]
#[allow(dead_code)]
mod fake_api;

use fake_api::Log;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Accepts the Workflow, names it, and reports it Running on the first read, then `final_phase`.
fn serve(final_phase: &'static str) -> (String, Log) {
    let gets = Mutex::new(0usize);
    fake_api::serve(Arc::new(move |r: &fake_api::Request| {
        if r.method == "POST" {
            let mut created = r.body.clone();
            let prefix = created["metadata"]["generateName"]
                .as_str()
                .unwrap_or("x-")
                .to_string();
            created["metadata"]["name"] = json!(format!("{prefix}abc12"));
            created["metadata"]["namespace"] = json!("ml");
            return (201, created);
        }
        let mut n = gets.lock().unwrap_or_else(|e| e.into_inner());
        *n += 1;
        let phase = if *n < 2 { "Running" } else { final_phase };
        (
            200,
            json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
                   "metadata": {"name": "hello-abc12", "namespace": "ml"},
                   "status": {"phase": phase}}),
        )
    }))
}

fn couler(args: &[&str]) -> Output {
    couler_with(args, None)
}

/// `couler ARGS` with `COULER_SERVER` set to `server` (unset when `None`).
fn couler_with(args: &[&str], server: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_couler"));
    cmd.args(args)
        .env_remove("COULER_SERVER")
        .current_dir(repo());
    if let Some(s) = server {
        cmd.env("COULER_SERVER", s);
    }
    cmd.output().unwrap()
}

#[test]
fn submits_and_watches_a_workflow_to_success() {
    let (url, log) = serve("Succeeded");
    let out = couler(&[
        "submit",
        "examples/hello.yaml",
        "--engine",
        "argo",
        "--namespace",
        "ml",
        "--kube-server",
        &url,
        "--watch",
        "--poll-interval",
        "0.05",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("Workflow ml/hello-abc12 created"),
        "{stdout}"
    );
    assert!(
        stdout.contains("hello-abc12: Running") && stdout.contains("hello-abc12: Succeeded"),
        "{stdout}"
    );
    let log = log.lock().unwrap();
    let fake_api::Request { method, path, body } = &log[0];
    assert_eq!(method, "POST");
    assert!(
        path.starts_with("/apis/argoproj.io/v1alpha1/namespaces/ml/workflows"),
        "{path}"
    );
    assert_eq!(body["kind"], "Workflow");
    assert_eq!(body["spec"]["entrypoint"], "hello");
    assert!(
        log[1..]
            .iter()
            .all(|r| r.method == "GET" && r.path.ends_with("/workflows/hello-abc12"))
    );
}

#[test]
fn a_failed_run_exits_1_and_an_unreachable_server_exits_2() {
    let (url, _) = serve("Failed");
    let out = couler(&[
        "submit",
        "examples/hello.yaml",
        "-n",
        "ml",
        "--kube-server",
        &url,
        "--watch",
        "--poll-interval",
        "0.05",
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = couler(&[
        "submit",
        "examples/hello.yaml",
        "--kube-server",
        "http://127.0.0.1:1",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("refused"));
}

#[test]
fn server_with_engine_argo_is_refused_naming_kube_server() {
    let out = couler(&[
        "submit",
        "examples/hello.yaml",
        "--engine",
        "argo",
        "--server",
        "http://127.0.0.1:1",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--server is a Couler server's URL") && err.contains("--kube-server URL"),
        "{err}"
    );
    // --param is a Couler server's: Argo runs take the spec's defaults.
    let out = couler(&["submit", "examples/hello.yaml", "-p", "a=b"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--param is for a Couler server"));
}

#[test]
fn an_explicit_engine_or_kube_server_submits_to_kubernetes_whatever_couler_server_says() {
    let (url, log) = serve("Succeeded");
    let unreachable = Some("http://127.0.0.1:1");
    for args in [
        vec!["submit", "examples/hello.yaml", "--kube-server", &url],
        vec![
            "submit",
            "examples/hello.yaml",
            "--engine",
            "argo",
            "--kube-server",
            &url,
        ],
    ] {
        let out = couler_with(&args, unreachable);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(
        log.lock().unwrap().len(),
        2,
        "both went to the Kubernetes API"
    );
    // Without either, COULER_SERVER is where it goes.
    let out = couler_with(&["submit", "examples/hello.yaml"], unreachable);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("cannot reach the Couler server at http://127.0.0.1:1")
    );
}
