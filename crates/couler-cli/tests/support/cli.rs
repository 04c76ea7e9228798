//! Driving the `couler` binary from a test: run a command in a directory, read its JSON, wait
//! for a run to appear in the directory's state (`.couler`).

#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// `couler ARGS` in `dir`, to its end (with `.couler` as the state directory and the store
/// its default: no `COULER_*` location from the caller's environment).
pub fn couler_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_couler"))
        .args(args)
        .current_dir(dir)
        .env_remove("COULER_STATE_DIR")
        .env_remove("COULER_ARTIFACT_STORE")
        .output()
        .unwrap_or_else(|e| panic!("the couler binary runs: {e}"))
}

/// `couler ARGS` in `dir`, in the background, its stdout and stderr piped.
pub fn spawn_in(dir: &Path, args: &[&str]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_couler"))
        .args(args)
        .current_dir(dir)
        .env_remove("COULER_STATE_DIR")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("the couler binary starts: {e}"))
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

pub fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\nstderr: {}",
            text(&out.stdout),
            text(&out.stderr)
        )
    })
}

pub fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"))
}

pub fn write(path: &Path, contents: &str) {
    std::fs::write(path, contents).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

/// Polls `cond` every 50 ms for up to `secs` seconds; panics saying `what` if it never holds.
pub fn wait_until(secs: u64, what: &str, mut cond: impl FnMut() -> bool) {
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(secs) {
        if cond() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out waiting for {what}");
}

/// `couler status RUN -o json` in `dir`.
pub fn status(dir: &Path, run_id: &str) -> serde_json::Value {
    json(&couler_in(dir, &["status", run_id, "-o", "json"]))
}

/// The row of step (or node) `node` in a `couler status -o json` document.
pub fn step<'v>(status: &'v serde_json::Value, node: &str) -> &'v serde_json::Value {
    status["steps"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["node"] == node))
        .unwrap_or_else(|| panic!("no step `{node}` in {status}"))
}

/// Waits until step `node` of the only run in `dir` is Running; returns the run's id.
pub fn wait_for_running(dir: &Path, node: &str) -> String {
    let mut id = String::new();
    wait_until(20, &format!("step `{node}` to run"), || {
        if !dir.join(".couler/state.db").exists() {
            return false;
        }
        let runs = couler_in(dir, &["runs", "-o", "json"]);
        let Some(run) = serde_json::from_slice::<serde_json::Value>(&runs.stdout)
            .ok()
            .and_then(|v| v[0]["id"].as_str().map(str::to_string))
        else {
            return false;
        };
        let s = couler_in(dir, &["status", &run, "-o", "json"]);
        let running = serde_json::from_slice::<serde_json::Value>(&s.stdout)
            .ok()
            .and_then(|v| {
                v["steps"].as_array().map(|steps| {
                    steps
                        .iter()
                        .any(|s| s["node"] == node && s["status"] == "Running")
                })
            })
            .unwrap_or(false);
        id = run;
        running
    });
    id
}

/// Whether process `pid` is alive and not a zombie (an orphan's zombie waits for whoever reaps
/// orphans here).
pub fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            s.rsplit_once(") ")
                .is_some_and(|(_, rest)| !rest.starts_with('Z'))
        })
        .unwrap_or(false)
}
