//! The exit handler after a stop (docs/runtime.md, "Stop and Ctrl-C"): it runs after
//! `couler stop RUN` and after Ctrl-C, and sees `workflow.status` Failed (as on Argo, where
//! `argo stop` fails the workflow); a second Ctrl-C stops it too. Real processes throughout.

#[path = "support/cli.rs"]
mod cli;

use cli::{couler_in, json, spawn_in, status, step, text, tmp, wait_for_running, wait_until};
use std::path::Path;
use std::time::{Duration, Instant};

/// A workflow whose only step sleeps; its exit handler writes `workflow.status` to `mark`,
/// then runs `then` (a shell command).
fn stopped_spec(mark: &Path, then: &str) -> String {
    format!(
        "apiVersion: couler.dev/v1alpha1\nkind: Workflow\nname: stopped\nsteps:\n  - name: a\n    container: {{command: [sleep, '30']}}\nonExit:\n  name: bye\n  container:\n    command: [sh, -c, 'echo {{{{workflow.status}}}} > {}; {then}']\n",
        mark.display()
    )
}

fn interrupt(child: &std::process::Child) {
    let pid = i32::try_from(child.id()).unwrap_or_else(|e| panic!("{e}"));
    // SAFETY: signals a child this test started and has not reaped.
    let r = unsafe { libc::kill(pid, libc::SIGINT) };
    assert_eq!(r, 0, "SIGINT delivered");
}

/// Waits for the stopped `couler run`: it must end within `secs` of `since`, exit 1 and report
/// the run Stopped. Returns the run's `couler status` document.
fn ended_stopped(
    child: std::process::Child,
    since: Instant,
    secs: u64,
    dir: &Path,
    run_id: &str,
) -> serde_json::Value {
    let out = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
    let took = since.elapsed();
    assert!(took < Duration::from_secs(secs), "the stop took {took:?}");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_eq!(json(&out)["status"], "Stopped");
    let s = status(dir, run_id);
    assert_eq!(s["run"]["status"], "Stopped");
    s
}

/// Runs the workflow, stops it with `how` once its step runs, and checks that the exit handler
/// ran to its end and saw `Failed`.
fn exit_handler_runs_after(how: &str) {
    let d = tmp();
    let mark = d.path().join("bye.txt");
    cli::write(&d.path().join("wf.yaml"), &stopped_spec(&mark, "true"));
    let child = spawn_in(d.path(), &["run", "wf.yaml", "-o", "json"]);
    let run_id = wait_for_running(d.path(), "a");
    let t = Instant::now();
    match how {
        "stop" => {
            let out = couler_in(d.path(), &["stop", &run_id]);
            assert!(text(&out.stdout).contains("stopping run"), "{out:?}");
        }
        _ => interrupt(&child),
    }
    let s = ended_stopped(child, t, 20, d.path(), &run_id);
    let seen = std::fs::read_to_string(&mark)
        .unwrap_or_else(|e| panic!("the exit handler did not run after {how} ({e})"));
    assert_eq!(seen.trim(), "Failed", "workflow.status in the exit handler");
    assert_eq!(step(&s, "a")["status"], "Error");
    assert_eq!(step(&s, "bye")["status"], "Succeeded", "{s}");
}

#[test]
fn the_exit_handler_runs_after_couler_stop() {
    exit_handler_runs_after("stop");
}

#[test]
fn the_exit_handler_runs_after_ctrl_c() {
    exit_handler_runs_after("ctrl-c");
}

#[test]
fn a_second_ctrl_c_stops_the_exit_handler_too() {
    let d = tmp();
    let mark = d.path().join("bye.txt");
    cli::write(&d.path().join("wf.yaml"), &stopped_spec(&mark, "sleep 30"));
    let child = spawn_in(d.path(), &["run", "wf.yaml", "-o", "json"]);
    let run_id = wait_for_running(d.path(), "a");
    interrupt(&child);
    wait_until(20, "the exit handler to start", || mark.exists());
    let t = Instant::now();
    interrupt(&child);
    // The exit step sleeps 30 s: ending well before means it was stopped.
    let s = ended_stopped(child, t, 15, d.path(), &run_id);
    let bye = step(&s, "bye");
    assert_eq!(bye["status"], "Error", "{s}");
    assert_eq!(bye["message"], "stopped", "{s}");
}
