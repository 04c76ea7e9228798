//! `couler server` over loopback: the OpenAPI document generated from the route table (valid,
//! and every route in it answers), a step's logs (the bytes `couler logs` prints, followed while
//! the step runs), a step's artifacts (listed, downloaded, names that would escape refused),
//! and the server-sent event streams (snapshot, then changes in order, by role).

#[path = "support/server.rs"]
mod support;

use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use support::{Server, token};

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"))
}

/// Sends a GET (or `method`) and returns the open connection.
fn request(addr: &str, method: &str, path: &str, token: Option<&str>) -> TcpStream {
    let mut s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap_or_else(|e| panic!("{e}"));
    let auth = token.map_or_else(String::new, |t| format!("Authorization: Bearer {t}\r\n"));
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: 0\r\n{auth}\r\n"
    );
    s.write_all(req.as_bytes())
        .unwrap_or_else(|e| panic!("{e}"));
    s
}

/// A response read as it comes: its head, then its body (chunked transfer decoded).
struct Reader {
    s: TcpStream,
    buf: Vec<u8>,
    status: u16,
    head: String,
    chunked: bool,
    /// Bytes of the current chunk still to come.
    left: usize,
    done: bool,
}

impl Reader {
    fn open(mut s: TcpStream) -> Reader {
        let mut buf = Vec::new();
        let end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i;
            }
            let mut b = [0u8; 4096];
            let n = s
                .read(&mut b)
                .unwrap_or_else(|e| panic!("reading the head: {e}"));
            assert!(
                n > 0,
                "the connection closed before the head's end: {buf:?}"
            );
            buf.extend_from_slice(&b[..n]);
        };
        let head = String::from_utf8_lossy(&buf[..end]).to_string();
        let (status, chunked) = support::read_head(&head);
        buf.drain(..end + 4);
        Reader {
            s,
            buf,
            status,
            head,
            chunked,
            left: 0,
            done: false,
        }
    }

    fn fill(&mut self) -> bool {
        let mut b = [0u8; 65536];
        match self.s.read(&mut b) {
            Ok(0) => false,
            Ok(n) => {
                self.buf.extend_from_slice(&b[..n]);
                true
            }
            Err(e) => panic!("reading the body: {e}"),
        }
    }

    /// The next bytes of the body; `None` at its end.
    fn next(&mut self) -> Option<Vec<u8>> {
        if self.done {
            return None;
        }
        if !self.chunked {
            if self.buf.is_empty() && !self.fill() {
                self.done = true;
                return None;
            }
            return Some(std::mem::take(&mut self.buf));
        }
        while self.left == 0 {
            if let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let size = String::from_utf8_lossy(&self.buf[..i]).to_string();
                if size.is_empty() {
                    // The CRLF after a chunk's data.
                    self.buf.drain(..2);
                    continue;
                }
                let n = usize::from_str_radix(size.trim(), 16)
                    .unwrap_or_else(|_| panic!("bad chunk size {size:?}"));
                self.buf.drain(..i + 2);
                if n == 0 {
                    self.done = true;
                    return None;
                }
                self.left = n;
            } else if !self.fill() {
                panic!("the body ended without its last chunk");
            }
        }
        if self.buf.is_empty() && !self.fill() {
            panic!("the body ended inside a chunk");
        }
        let n = self.left.min(self.buf.len());
        self.left -= n;
        Some(self.buf.drain(..n).collect())
    }

    fn body(mut self) -> Vec<u8> {
        let mut out = Vec::new();
        while let Some(b) = self.next() {
            out.extend(b);
        }
        out
    }
}

fn get(server: &Server, path: &str, token: Option<&str>) -> Reader {
    Reader::open(request(&server.addr, "GET", path, token))
}

fn json_of(r: Reader) -> (u16, Value) {
    let status = r.status;
    let body = r.body();
    (
        status,
        serde_json::from_slice(&body).unwrap_or_else(|e| panic!("{e}: {body:?}")),
    )
}

fn submit(server: &Server, token: Option<&str>, spec: &str, ns: &str) -> String {
    let (code, resp) = server.submit(token, &json!({"spec": spec, "namespace": ns}));
    assert_eq!(code, 201, "{resp}");
    resp["id"].as_str().unwrap_or_default().to_string()
}

#[test]
fn the_openapi_document_is_valid_and_every_route_in_it_answers() {
    let dir = tempdir();
    let server = Server::start(dir.path(), &["--auth", "none"]);
    let (code, doc) = json_of(get(&server, "/api/v1/openapi.json", None));
    assert_eq!(code, 200);
    assert_eq!(doc["openapi"], "3.1.0", "{doc}");
    let paths = doc["paths"].as_object().cloned().unwrap_or_default();
    for p in [
        "/api/v1/runs",
        "/api/v1/runs/{id}/steps/{node}/logs",
        "/api/v1/events",
        "/healthz",
    ] {
        assert!(paths.contains_key(p), "{p} is not documented");
    }
    let mut operations = 0;
    for (path, item) in &paths {
        let params: Vec<&str> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
            .collect();
        for (method, op) in item.as_object().cloned().unwrap_or_default() {
            operations += 1;
            assert!(
                op["operationId"].is_string() && op["summary"].is_string(),
                "{op}"
            );
            let responses = op["responses"].as_object().cloned().unwrap_or_default();
            assert!(
                responses.keys().any(|k| k.starts_with('2')),
                "{method} {path}: no success"
            );
            for (status, r) in &responses {
                assert!(
                    status.parse::<u16>().is_ok() && r["description"].is_string(),
                    "{r}"
                );
            }
            let declared: Vec<&str> = op["parameters"]
                .as_array()
                .map(|ps| {
                    ps.iter()
                        .filter(|p| p["in"] == "path")
                        .filter_map(|p| p["name"].as_str())
                        .collect()
                })
                .unwrap_or_default();
            assert_eq!(declared, params, "{method} {path}: path parameters");
            // The route exists: whatever it answers, it is not the router's 404 or 405.
            let concrete = path
                .replace("{id}", "no-such-run")
                .replace("{node}", "no-such-step")
                .replace("{name}", "no-such-artifact");
            let r = Reader::open(request(
                &server.addr,
                &method.to_uppercase(),
                &concrete,
                None,
            ));
            let status = r.status;
            // (Only a 404's body is read: an event stream's never ends.)
            let first = if status == 404 { r.body() } else { Vec::new() };
            assert_ne!(status, 405, "{method} {path}");
            assert!(
                !String::from_utf8_lossy(&first).contains("no such route"),
                "{method} {path} is documented but not routed"
            );
        }
    }
    assert!(operations >= 14, "{operations} operations");
    // The check above can fail: an undocumented path is the router's 404.
    let (code, body) = json_of(get(&server, "/api/v1/nothing-here", None));
    assert_eq!(
        (code, body["detail"].as_str()),
        (404, Some("no such route"))
    );
    // The OpenAPI project's own validator, where the test environment has it.
    if let Some(py) = std::env::var_os("COULER_TEST_PYTHON") {
        let file = dir.path().join("openapi.json");
        std::fs::write(&file, doc.to_string()).unwrap_or_else(|e| panic!("{e}"));
        let has = Command::new(&py)
            .args(["-c", "import openapi_spec_validator"])
            .status()
            .is_ok_and(|s| s.success());
        if has {
            let out = Command::new(&py)
                .args([
                    "-c",
                    "import json,sys; from openapi_spec_validator import validate; validate(json.load(open(sys.argv[1]))); print('valid')",
                ])
                .arg(&file)
                .output()
                .unwrap_or_else(|e| panic!("{e}"));
            assert!(
                out.status.success() && out.stdout == b"valid\n",
                "openapi-spec-validator: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        } else {
            eprintln!("note: {py:?} has no openapi_spec_validator; the structural check alone ran");
        }
    }
}

/// `couler logs ID NODE --state-dir DIR 2>&1`: what it prints.
fn couler_logs(state_dir: &Path, id: &str, node: &str) -> Vec<u8> {
    let out = Command::new("sh")
        .arg("-c")
        .arg("\"$0\" logs \"$1\" \"$2\" --state-dir \"$3\" 2>&1")
        .arg(support::couler())
        .args([id, node])
        .arg(state_dir)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    out.stdout
}

const PRINTS: &str = r#"apiVersion: couler.dev/v1alpha1
kind: Workflow
name: prints
steps:
- name: say
  script:
    command: [sh]
    source: |
      printf 'plain\n\377\376 not utf-8\n'
      printf 'to stderr\n' >&2
      printf 'x\377y' > out.bin
  outputs:
    artifacts:
    - {name: blob, path: out.bin}
    - {name: tree, path: .}
- name: fan
  map: {items: ['a', 'b']}
  script:
    command: [sh]
    source: echo "item {{item}}"
  dependsOn: [say]
"#;

#[test]
fn logs_over_http_are_the_bytes_couler_logs_prints() {
    let dir = tempdir();
    let server = Server::start(dir.path(), &["--auth", "none"]);
    let id = submit(&server, None, PRINTS, "default");
    let run = server.wait_for(None, &id, &["Succeeded", "Failed", "Error"]);
    assert_eq!(run["state"], "Succeeded", "{run}");
    for node in ["say", "fan", "fan[1]"] {
        let r = get(
            &server,
            &format!("/api/v1/runs/{id}/steps/{node}/logs"),
            None,
        );
        assert_eq!(r.status, 200, "{node}");
        assert!(r.head.contains("text/plain; charset=utf-8"), "{}", r.head);
        let body = r.body();
        assert_eq!(body, couler_logs(&server.state_dir, &id, node), "{node}");
    }
    let say = get(&server, &format!("/api/v1/runs/{id}/steps/say/logs"), None).body();
    assert_eq!(say, b"plain\n\xff\xfe not utf-8\nto stderr\n");
    let fan = get(&server, &format!("/api/v1/runs/{id}/steps/fan/logs"), None).body();
    assert_eq!(
        String::from_utf8_lossy(&fan),
        "==> fan[0] (Succeeded)\nitem a\n==> fan[1] (Succeeded)\nitem b\n"
    );
    for (path, detail) in [
        (
            format!("/api/v1/runs/{id}/steps/nope/logs"),
            format!("run `{id}` has no step `nope` that started"),
        ),
        (
            "/api/v1/runs/nope/steps/say/logs".to_string(),
            "no run `nope`".to_string(),
        ),
    ] {
        let (code, body) = json_of(get(&server, &path, None));
        assert_eq!(
            (code, body["detail"].as_str()),
            (404, Some(detail.as_str())),
            "{body}"
        );
    }
    let (code, body) = json_of(get(
        &server,
        &format!("/api/v1/runs/{id}/steps/say/logs?follow=maybe"),
        None,
    ));
    assert_eq!(code, 400, "{body}");
    // Followed after its end: the same bytes, and the stream ends.
    let followed = get(
        &server,
        &format!("/api/v1/runs/{id}/steps/say/logs?follow=true"),
        None,
    )
    .body();
    assert_eq!(followed, say);
}

const SLOW: &str = r#"apiVersion: couler.dev/v1alpha1
kind: Workflow
name: slow
steps:
- name: tick
  script:
    command: [sh]
    source: |
      for i in 1 2 3; do echo "tick $i"; sleep 1; done
      echo done >&2
"#;

#[test]
fn a_followed_log_streams_while_the_step_runs_and_ends_with_it() {
    let dir = tempdir();
    let server = Server::start(dir.path(), &["--auth", "none"]);
    let id = submit(&server, None, SLOW, "default");
    let deadline = Instant::now() + Duration::from_secs(60);
    // Until the step has started.
    let mut r = loop {
        let r = get(
            &server,
            &format!("/api/v1/runs/{id}/steps/tick/logs?follow=true"),
            None,
        );
        if r.status == 200 {
            break r;
        }
        assert!(Instant::now() < deadline, "the step never started");
        std::thread::sleep(Duration::from_millis(50));
    };
    let first = r.next().unwrap_or_default();
    assert!(
        String::from_utf8_lossy(&first).starts_with("tick 1\n"),
        "{first:?}"
    );
    // The first line came while the step still runs.
    let (_, run) = server.call("GET", &format!("/api/v1/runs/{id}"), None, None);
    assert_eq!(run["steps"][0]["status"], "Running", "{run}");
    let mut all = first;
    while let Some(b) = r.next() {
        all.extend(b);
    }
    assert_eq!(
        String::from_utf8_lossy(&all),
        "tick 1\ntick 2\ntick 3\ndone\n"
    );
    let run = server.wait_for(None, &id, &["Succeeded", "Failed", "Error"]);
    assert_eq!(run["state"], "Succeeded", "{run}");
    assert_eq!(all, couler_logs(&server.state_dir, &id, "tick"));
}

const NAP: &str = r#"apiVersion: couler.dev/v1alpha1
kind: Workflow
name: nap
steps:
- name: nap
  script: {command: [sh], source: 'sleep 60'}
"#;

/// How many threads the process `pid` has.
fn threads(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task")).map_or(0, Iterator::count)
}

#[test]
fn a_followed_log_ends_when_its_client_hangs_up() {
    let dir = tempdir();
    let server = Server::start(dir.path(), &["--auth", "none"]);
    let id = submit(&server, None, NAP, "default");
    let path = format!("/api/v1/runs/{id}/steps/nap/logs?follow=true");
    let deadline = Instant::now() + Duration::from_secs(60);
    while get(&server, &path.replace("?follow=true", ""), None).status != 200 {
        assert!(Instant::now() < deadline, "the step never started");
        std::thread::sleep(Duration::from_millis(50));
    }
    let before = threads(server.pid());
    // Each follower holds a blocking thread while the step prints nothing.
    let followers: Vec<Reader> = (0..20).map(|_| get(&server, &path, None)).collect();
    assert!(followers.iter().all(|r| r.status == 200));
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        threads(server.pid()) >= before + 15,
        "{before} {}",
        threads(server.pid())
    );
    drop(followers);
    // Their threads end (and the runtime lets idle ones go after 10 s) long before the step.
    let deadline = Instant::now() + Duration::from_secs(30);
    while threads(server.pid()) > before + 2 {
        assert!(
            Instant::now() < deadline,
            "the followers' threads stay: {}",
            threads(server.pid())
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let (_, run) = server.call("GET", &format!("/api/v1/runs/{id}"), None, None);
    assert_eq!(run["state"], "Running", "{run}");
}

#[test]
fn artifacts_are_listed_and_downloaded_and_escaping_names_refused() {
    let dir = tempdir();
    let server = Server::start(dir.path(), &["--auth", "none"]);
    let id = submit(&server, None, PRINTS, "default");
    let run = server.wait_for(None, &id, &["Succeeded", "Failed", "Error"]);
    assert_eq!(run["state"], "Succeeded", "{run}");
    let base = format!("/api/v1/runs/{id}/steps/say/artifacts");
    let (code, list) = json_of(get(&server, &base, None));
    assert_eq!(code, 200, "{list}");
    let names: Vec<&str> = list["artifacts"]
        .as_array()
        .map(|a| a.iter().filter_map(|x| x["name"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(names, ["blob", "tree"], "{list}");
    assert_eq!(list["artifacts"][0]["size"], 3, "{list}");
    let r = get(&server, &format!("{base}/blob"), None);
    assert_eq!(r.status, 200);
    assert!(r.head.contains("application/octet-stream"), "{}", r.head);
    assert_eq!(r.body(), b"x\xffy");
    let (code, body) = json_of(get(&server, &format!("{base}/tree"), None));
    assert_eq!(code, 409, "{body}");
    for (name, rule) in [
        ("..", "is not `.` or `..`"),
        ("%2Fetc%2Fpasswd", "is not an absolute path"),
        ("..%2F..%2Fstate.db", "holds no `/`"),
    ] {
        let (code, body) = json_of(get(&server, &format!("{base}/{name}"), None));
        assert_eq!(code, 400, "{name}: {body}");
        assert!(
            body["detail"].as_str().is_some_and(|d| d.contains(rule)),
            "{name}: {body}"
        );
    }
    let (code, body) = json_of(get(&server, &format!("{base}/nope"), None));
    assert_eq!(code, 404, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("no output artifact `nope`")),
        "{body}"
    );
    let (code, body) = json_of(get(
        &server,
        &format!("/api/v1/runs/{id}/steps/fan[0]/artifacts"),
        None,
    ));
    assert_eq!((code, body), (200, json!({"artifacts": []})));
}

const TWO: &str = r#"apiVersion: couler.dev/v1alpha1
kind: Workflow
name: two
steps:
- name: one
  script: {command: [sh], source: 'echo one'}
- name: two
  script: {command: [sh], source: 'echo two'}
  dependsOn: [one]
"#;

/// Events of `r` until one satisfies `last`: (event name, data).
fn events_until(r: &mut Reader, last: impl Fn(&str, &Value) -> bool) -> Vec<(String, Value)> {
    let mut text = String::new();
    let mut out = Vec::new();
    loop {
        while let Some(end) = text.find("\n\n") {
            let frame: String = text.drain(..end + 2).collect();
            let mut name = String::new();
            let mut data = Value::Null;
            for line in frame.lines() {
                if let Some(n) = line.strip_prefix("event: ") {
                    name = n.to_string();
                } else if let Some(d) = line.strip_prefix("data: ") {
                    data = serde_json::from_str(d).unwrap_or_else(|e| panic!("{e}: {d}"));
                }
            }
            if name.is_empty() {
                continue; // a comment (keepalive)
            }
            let stop = last(&name, &data);
            out.push((name, data));
            if stop {
                return out;
            }
        }
        let b = r
            .next()
            .unwrap_or_else(|| panic!("the stream ended: {out:?}"));
        text.push_str(&String::from_utf8_lossy(&b));
    }
}

fn position(events: &[(String, Value)], kind: &str, key: &str, who: &str, state: &str) -> usize {
    let state_key = if kind == "run" { "state" } else { "status" };
    events
        .iter()
        .position(|(k, d)| k == kind && d[key] == who && d[state_key] == state)
        .unwrap_or_else(|| panic!("no {kind} {who} {state} in {events:#?}"))
}

#[test]
fn event_streams_give_the_state_then_changes_in_order_by_role() {
    let dir = tempdir();
    let state = dir.path().join("state");
    let admin = token(&state, "ann", "admin", None);
    let viewer_b = token(&state, "vic", "viewer", Some("team-b"));
    let server = Server::start(dir.path(), &[]);
    let (code, body) = json_of(get(&server, "/api/v1/events", None));
    assert_eq!(code, 401, "{body}");
    let mut all = get(&server, "/api/v1/events", Some(&admin));
    assert_eq!(all.status, 200);
    assert!(all.head.contains("text/event-stream"), "{}", all.head);
    let mut only_b = get(&server, "/api/v1/events", Some(&viewer_b));
    let id = submit(&server, Some(&admin), TWO, "team-a");
    let seen = events_until(&mut all, |k, d| {
        k == "run" && d["run"] == id.as_str() && d["state"] == "Succeeded"
    });
    let run_pos = |s| position(&seen, "run", "run", &id, s);
    let step_pos = |n, s| position(&seen, "step", "node", n, s);
    assert!(run_pos("Queued") < run_pos("Running"), "{seen:#?}");
    assert!(run_pos("Running") < step_pos("one", "Running"));
    assert!(step_pos("one", "Running") < step_pos("one", "Succeeded"));
    assert!(step_pos("one", "Succeeded") < step_pos("two", "Running"));
    assert!(step_pos("two", "Running") < step_pos("two", "Succeeded"));
    assert_eq!(run_pos("Succeeded"), seen.len() - 1);
    assert!(
        seen.iter()
            .all(|(_, d)| d["namespace"] == "team-a" && d["snapshot"].is_null())
    );
    // A viewer of team-b saw none of it: its first event is team-b's run.
    let id_b = submit(&server, Some(&admin), TWO, "team-b");
    let first = events_until(&mut only_b, |_, _| true);
    assert_eq!(first[0].1["run"], id_b.as_str(), "{first:?}");
    // A run's own stream, opened while it is queued or running, ends with its final state.
    let live = get(
        &server,
        &format!("/api/v1/runs/{id_b}/events"),
        Some(&viewer_b),
    )
    .body();
    let live = String::from_utf8_lossy(&live);
    let last = live.trim_end().lines().last().unwrap_or_default();
    assert!(last.contains("\"state\":\"Succeeded\""), "{live}");
    assert!(!live.contains(&id), "{live}");
    // Logs and artifacts need a role in the run's namespace too.
    for path in [
        format!("/api/v1/runs/{id}/steps/one/logs"),
        format!("/api/v1/runs/{id}/steps/one/artifacts"),
    ] {
        let (code, body) = json_of(get(&server, &path, Some(&viewer_b)));
        assert_eq!(
            (code, body["detail"].as_str()),
            (404, Some(format!("no run `{id}`").as_str()))
        );
    }
    let logs = get(
        &server,
        &format!("/api/v1/runs/{id}/steps/one/logs"),
        Some(&admin),
    )
    .body();
    assert_eq!(logs, b"one\n");
    // The stream of an ended run: its state and its steps, then its end.
    let (code, _) = json_of(get(
        &server,
        &format!("/api/v1/runs/{id}/events"),
        Some(&viewer_b),
    ));
    assert_eq!(code, 404);
    let ended = get(&server, &format!("/api/v1/runs/{id}/events"), Some(&admin)).body();
    let text = String::from_utf8_lossy(&ended);
    let names: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("event: "))
        .collect();
    assert_eq!(names, ["run", "step", "step"], "{text}");
    assert!(
        text.contains("\"state\":\"Succeeded\"") && text.contains("\"snapshot\":true"),
        "{text}"
    );
}

#[test]
fn an_idle_event_stream_gets_a_keepalive_every_15_seconds() {
    let dir = tempdir();
    let server = Server::start(dir.path(), &["--auth", "none"]);
    let started = Instant::now();
    let mut r = get(&server, "/api/v1/events", None);
    let first = r.next().unwrap_or_default();
    let waited = started.elapsed();
    assert_eq!(String::from_utf8_lossy(&first), ": keepalive\n\n");
    assert!(
        (Duration::from_secs(14)..Duration::from_secs(30)).contains(&waited),
        "{waited:?}"
    );
}

/// The peak resident memory of process `pid`, in KiB (`VmHWM`).
fn peak_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no VmHWM in {status}"))
}

const BIG: &str = r#"apiVersion: couler.dev/v1alpha1
kind: Workflow
name: big
steps:
- name: big
  script:
    command: [sh]
    source: |
      head -c 67108864 /dev/zero | tr '\0' 'x' > big.bin
      cat big.bin
  outputs:
    artifacts:
    - {name: big, path: big.bin}
"#;

#[test]
fn a_64_mib_log_and_artifact_stream_in_bounded_memory() {
    const SIZE: usize = 64 << 20;
    let dir = tempdir();
    let server = Server::start(dir.path(), &["--auth", "none"]);
    let id = submit(&server, None, BIG, "default");
    let run = server.wait_for(None, &id, &["Succeeded", "Failed", "Error"]);
    assert_eq!(run["state"], "Succeeded", "{run}");
    let before = peak_kib(server.pid());
    for path in ["logs", "artifacts/big"] {
        let mut r = get(
            &server,
            &format!("/api/v1/runs/{id}/steps/big/{path}"),
            None,
        );
        assert_eq!(r.status, 200, "{path}");
        let (mut n, mut other) = (0, 0);
        while let Some(b) = r.next() {
            n += b.len();
            other += b.iter().filter(|&&c| c != b'x').count();
        }
        assert_eq!((n, other), (SIZE, 0), "{path}");
    }
    let grew = peak_kib(server.pid()).saturating_sub(before);
    assert!(
        grew < 16 << 10,
        "serving 2 x 64 MiB raised the server's peak by {grew} KiB"
    );
}

/// A study whose objective is known: `(x - 3)²`, minimised over the integers 0..=6.
const TUNED: &str = r#"apiVersion: couler.dev/v1alpha1
kind: Workflow
name: tuned
steps:
- name: fit
  script:
    image: python:3.12-slim
    source: |
      import os; x = int(os.environ["X"]); print((x - 3) ** 2)
  inputs:
    parameters:
    - name: x
  outputs:
    parameters:
    - name: loss
  env:
    X: '{{inputs.parameters.x}}'
  tune:
    space:
    - name: x
      type: int
      low: 0
      high: 6
    objective:
      parameter: loss
      goal: minimize
    budget: 7
    method: random
    seed: 1
- name: report
  dependsOn: [fit]
  container:
    image: alpine:3.20
    command: [echo, '{{steps.fit.outputs.parameters.best_x}}']
"#;

#[test]
fn a_tuned_step_submitted_to_the_server_runs_as_couler_run_runs_it() {
    tuned_run_publishes_the_least_loss(TUNED, &["fit-trials", "fit", "report"]);
}

#[test]
fn a_study_in_rounds_runs_its_proposers_on_the_server() {
    // TPE, three at once: rounds of 3, 3 and 1, the later two proposed by `couler tune
    // propose`, which the server's steps find beside the server's own executable.
    let spec = TUNED.replacen("method: random", "method: tpe\n    parallelism: 3", 1);
    tuned_run_publishes_the_least_loss(
        &spec,
        &[
            "fit-trials-0",
            "fit-propose-1",
            "fit-trials-1",
            "fit-propose-2",
            "fit-trials-2",
            "fit",
        ],
    );
}

/// Submits a tuned spec, waits for it, and checks that `steps` ran and that the published
/// best loss is the least of every trial's, in whatever rounds they ran.
fn tuned_run_publishes_the_least_loss(spec: &str, steps: &[&str]) {
    let dir = tempdir();
    let server = Server::start(dir.path(), &["--auth", "none"]);
    let id = submit(&server, None, spec, "default");
    let run = server.wait_for(None, &id, &["Succeeded", "Failed", "Error"]);
    assert_eq!(run["state"], "Succeeded", "{run}");
    let names: Vec<&str> = run["steps"]
        .as_array()
        .map(|s| s.iter().filter_map(|s| s["step"].as_str()).collect())
        .unwrap_or_default();
    for name in steps {
        assert!(names.contains(name), "no step {name}: {run}");
    }
    let fit = run["steps"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["step"] == "fit"))
        .cloned()
        .unwrap_or_default();
    let best: f64 = fit["outputs"]["parameters"]["best_objective"]
        .as_str()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no best_objective: {fit}"));
    // Seven draws from seven integers: the best loss is the least the trials saw, and the
    // trials' own losses come from the same function.
    let trials = run["steps"]
        .as_array()
        .map(|s| {
            s.iter()
                .filter(|s| {
                    s["node"]
                        .as_str()
                        .is_some_and(|n| n.starts_with("fit-trials") && n.ends_with(']'))
                })
                .filter_map(|s| {
                    s["outputs"]["parameters"]["loss"]
                        .as_str()
                        .and_then(|v| v.parse::<f64>().ok())
                })
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    assert_eq!(trials.len(), 7, "{run}");
    let least = trials.iter().copied().fold(f64::INFINITY, f64::min);
    assert_eq!(best, least, "{trials:?}");
}
