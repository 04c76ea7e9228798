//! `couler submit` against an in-test stand-in for the Kubernetes API server (no real API
//! server can run here): a small HTTP/1.1 server that accepts the Workflow, names it, and reports
//! it Running, then Succeeded (or Failed).

use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// What the stand-in saw: (method, path, body).
type Log = Arc<Mutex<Vec<(String, String, Value)>>>;

fn serve(final_phase: &'static str) -> (String, Log) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let log: Log = Arc::default();
    let seen = log.clone();
    std::thread::spawn(move || {
        let gets = Arc::new(Mutex::new(0usize));
        for stream in listener.incoming().flatten() {
            let (seen, gets) = (seen.clone(), gets.clone());
            std::thread::spawn(move || handle(stream, &seen, &gets, final_phase));
        }
    });
    (url, log)
}

fn handle(stream: TcpStream, log: &Log, gets: &Mutex<usize>, final_phase: &str) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut out = stream;
    loop {
        let mut request = String::new();
        if reader.read_line(&mut request).unwrap_or(0) == 0 {
            return;
        }
        let mut length = 0;
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            if h == "\r\n" {
                break;
            }
            if let Some((k, v)) = h.split_once(':')
                && k.eq_ignore_ascii_case("content-length")
            {
                length = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let mut parts = request.split_whitespace();
        let method = parts.next().unwrap_or_default().to_string();
        let path = parts.next().unwrap_or_default().to_string();
        log.lock()
            .unwrap()
            .push((method.clone(), path.clone(), body.clone()));
        let (status, reply) = if method == "POST" {
            let mut created = body;
            let prefix = created["metadata"]["generateName"]
                .as_str()
                .unwrap_or("x-")
                .to_string();
            created["metadata"]["name"] = json!(format!("{prefix}abc12"));
            created["metadata"]["namespace"] = json!("ml");
            ("201 Created", created)
        } else {
            let mut n = gets.lock().unwrap();
            *n += 1;
            let phase = if *n < 2 { "Running" } else { final_phase };
            (
                "200 OK",
                json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
                       "metadata": {"name": "hello-abc12", "namespace": "ml"},
                       "status": {"phase": phase}}),
            )
        };
        let text = reply.to_string();
        let _ = write!(
            out,
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{text}",
            text.len()
        );
    }
}

fn couler(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_couler"))
        .args(args)
        .current_dir(repo())
        .output()
        .unwrap()
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
        "--server",
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
    let (method, path, body) = &log[0];
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
            .all(|(m, p, _)| m == "GET" && p.ends_with("/workflows/hello-abc12"))
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
        "--server",
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
        "--server",
        "http://127.0.0.1:1",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("refused"));
}
