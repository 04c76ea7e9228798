//! A real `couler server` process on an ephemeral loopback port, and a small HTTP/1.1 client
//! over `std::net` for talking to it.

#![allow(dead_code)]

use serde_json::Value;
use std::cell::RefCell;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A two-step workflow: `one` prints `msg` (an argument), `two` prints to stdout and stderr after it.
pub const ECHO: &str = r#"apiVersion: couler.dev/v1alpha1
kind: Workflow
name: echo
params:
- name: msg
  default: hello
steps:
- name: one
  container:
    command: [printf, '%s', '{{params.msg}}']
  outputs:
    parameters:
    - name: said
- name: two
  script:
    command: [sh]
    source: |
      echo out-two
      echo err-two >&2
  dependsOn: [one]
"#;

/// Waits (at most 90 s) for `path` to exist.
pub fn wait_file(path: &Path) {
    let deadline = Instant::now() + Duration::from_secs(90);
    while !path.exists() {
        assert!(
            Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The `couler` binary Cargo built for this test.
pub fn couler() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_couler"))
}

thread_local! {
    /// The `--db` of this test's servers and tokens (each test runs on its own thread);
    /// `None`: the default SQLite file in the state directory.
    static DB: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// A python with scikit-learn (the zoo's steps): `COULER_TEST_PYTHON`, else the venv
/// scripts/test-deps creates from requirements-test.txt.
pub fn test_python() -> PathBuf {
    if let Some(p) = std::env::var_os("COULER_TEST_PYTHON").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let out = Command::new("bash")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/test-deps"))
        .output()
        .expect("bash runs");
    assert!(
        out.status.success(),
        "scripts/test-deps failed: set COULER_TEST_PYTHON to a python with scikit-learn"
    );
    PathBuf::from(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .last()
            .unwrap_or("")
            .trim(),
    )
}

/// Makes this test's servers and tokens use the database at `url`.
pub fn use_db(url: String) {
    DB.with(|db| *db.borrow_mut() = Some(url));
}

/// Makes this test's servers and tokens use the default SQLite file again.
pub fn use_sqlite() {
    DB.with(|db| *db.borrow_mut() = None);
}

/// `--db URL` when this test chose a database.
fn db_args() -> Vec<String> {
    DB.with(|db| {
        db.borrow()
            .iter()
            .flat_map(|u| ["--db".to_string(), u.clone()])
            .collect()
    })
}

/// Each named test body (a `fn()` whose servers come from [`Server::start`]), run once on
/// SQLite and once on PostgreSQL (a fresh database, checked afterwards to hold the audit
/// entries the body's requests wrote). The test crate declares `mod pg`
/// (support/postgres.rs) beside `mod support`.
#[allow(unused_macros)]
macro_rules! both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[test]
            fn sqlite() {
                super::$name();
            }
            #[test]
            fn postgres() {
                let db = $crate::pg::create();
                $crate::support::use_db($crate::pg::url(&db));
                super::$name();
                let audited = $crate::pg::psql(&db, "SELECT COUNT(*) FROM audit");
                assert_ne!(audited.trim(), "0", "the server wrote nothing to PostgreSQL");
            }
        }
    )*};
}

/// A server process; killed when dropped.
pub struct Server {
    child: Child,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    pub state_dir: PathBuf,
}

impl Server {
    /// `couler server --listen 127.0.0.1:0 --state-dir DIR/state` plus `extra`.
    pub fn start(dir: &Path, extra: &[&str]) -> Server {
        Server::start_with_env(dir, extra, &[])
    }

    /// As [`Server::start`], with `env` set in the server's environment.
    pub fn start_with_env(dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> Server {
        let state_dir = dir.join("state");
        let mut child = Command::new(couler())
            .args(["server", "--listen", "127.0.0.1:0", "--state-dir"])
            .arg(&state_dir)
            .args(db_args())
            .args(extra)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start couler server: {e}"));
        let mut line = String::new();
        let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
        BufReader::new(stdout)
            .read_line(&mut line)
            .unwrap_or_else(|e| panic!("{e}"));
        let url = line
            .trim()
            .strip_prefix("couler server listening on ")
            .unwrap_or_else(|| panic!("the server did not start: {line:?}"));
        let addr = url
            .strip_prefix("http://")
            .or_else(|| url.strip_prefix("https://"))
            .unwrap_or_else(|| panic!("no scheme: {line:?}"))
            .to_string();
        Server {
            child,
            addr,
            state_dir,
        }
    }

    /// The server process's id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL, and wait for the process to be gone.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
    ) -> (u16, Value) {
        let (status, text) = http(&self.addr, method, path, token, body);
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, value)
    }

    /// `POST /api/v1/runs`; the run's id on 201.
    pub fn submit(&self, token: Option<&str>, body: &Value) -> (u16, Value) {
        self.call("POST", "/api/v1/runs", token, Some(&body.to_string()))
    }

    /// Polls `GET /api/v1/runs/ID` until its state is one of `states`; returns the run.
    pub fn wait_for(&self, token: Option<&str>, id: &str, states: &[&str]) -> Value {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let (code, run) = self.call("GET", &format!("/api/v1/runs/{id}"), token, None);
            assert_eq!(code, 200, "{run}");
            if states.iter().any(|s| run["state"] == *s) {
                return run;
            }
            assert!(
                Instant::now() < deadline,
                "run {id} never reached {states:?}: {run}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The patterns of a run's recorded automatic retries, in order.
pub fn retry_patterns(run: &Value) -> Vec<String> {
    run["retries"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|x| x["pattern"].as_str().map(str::to_string))
        .collect()
}

/// `couler server token create …`; the token (its last line).
pub fn token(state_dir: &Path, user: &str, role: &str, namespace: Option<&str>) -> String {
    let mut cmd = Command::new(couler());
    cmd.args([
        "server",
        "token",
        "create",
        "--user",
        user,
        "--role",
        role,
        "--state-dir",
    ])
    .arg(state_dir)
    .args(db_args());
    if let Some(ns) = namespace {
        cmd.args(["--namespace", ns]);
    }
    let out = cmd.output().unwrap_or_else(|e| panic!("{e}"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap_or_else(|e| panic!("{e}"));
    text.lines().last().unwrap_or_default().to_string()
}

/// One HTTP/1.1 request with `Connection: close`: the status and the body.
pub fn http(
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> (u16, String) {
    let (status, _, body) = http_head(addr, method, path, token, body);
    (status, body)
}

/// One HTTP/1.1 request with `Connection: close`: the status, the head (status line and
/// headers) and the body.
pub fn http_head(
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> (u16, String, String) {
    let mut s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap_or_else(|e| panic!("{e}"));
    let body = body.unwrap_or("");
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(t) = token {
        req.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes())
        .unwrap_or_else(|e| panic!("{e}"));
    // A server that refuses the body early may close before reading it all.
    let _ = s.write_all(body.as_bytes());
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap_or_else(|e| panic!("{e}"));
    let text = String::from_utf8(raw).unwrap_or_else(|e| panic!("{e}"));
    let (head, rest) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end: {text:?}"));
    let (status, chunked) = read_head(head);
    let body = if chunked {
        dechunk(rest)
    } else {
        rest.to_string()
    };
    (status, head.to_string(), body)
}

/// A response head's status, and whether its body is chunked.
pub fn read_head(head: &str) -> (u16, bool) {
    let status: u16 = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("bad status line: {head}"));
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    (status, chunked)
}

fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&tail[..n]);
        rest = &tail[n + 2..];
    }
    out
}
