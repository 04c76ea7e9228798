//! The live progress display of `couler run` on a terminal, and the plain line output when not
//! on one. The terminal is a real pseudo-terminal: util-linux `script` runs `couler` on one and
//! copies what it drew (escape sequences included) to a pipe.

use std::path::Path;
use std::process::{Command, Output};

const SPEC: &str = r#"apiVersion: couler.dev/v1alpha1
kind: Workflow
name: progress
steps:
  - name: first
    script: {image: python, command: [sh], source: "sleep 0.8; echo one"}
  - name: second
    dependsOn: [first]
    script: {image: python, command: [sh], source: "sleep 0.8; echo two"}
  - name: third
    dependsOn: [second]
    script: {image: python, command: [sh], source: "echo three"}
"#;

fn couler() -> &'static str {
    env!("CARGO_BIN_EXE_couler")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `text` as one shell word.
fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// Runs `couler run SPEC --state-dir STATE` on a pseudo-terminal.
fn run_on_terminal(spec: &Path, state: &Path) -> Output {
    let command = format!(
        "{} run {} --state-dir {}",
        quote(couler()),
        quote(&spec.display().to_string()),
        quote(&state.display().to_string())
    );
    Command::new("script")
        .args(["--quiet", "--flush", "--return", "--command", &command, "/dev/null"])
        .env_remove("COULER_STATE_DIR")
        .env("TERM", "xterm-256color")
        .env("COLUMNS", "120")
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "util-linux `script` runs (it gives the test a pseudo-terminal; install util-linux): {e}"
            )
        })
}

#[test]
fn a_terminal_gets_a_live_display_and_a_pipe_gets_plain_lines() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("progress.yaml");
    std::fs::write(&spec, SPEC).unwrap();

    let tty = run_on_terminal(&spec, &dir.path().join("tty-state"));
    let drawn = text(&tty.stdout);
    assert_eq!(tty.status.code(), Some(0), "{drawn}{}", text(&tty.stderr));
    // Redrawn in place: escape sequences, the position out of the total, the running step and
    // the estimate, while the two slow steps run.
    assert!(drawn.contains("\u{1b}["), "no escape sequences: {drawn:?}");
    assert!(
        drawn.contains("/3"),
        "no position out of 3 steps: {drawn:?}"
    );
    assert!(
        drawn.contains("running: first") && drawn.contains("running: second"),
        "the running steps are not shown: {drawn:?}"
    );
    assert!(
        drawn.contains("s left"),
        "no estimate of what is left: {drawn:?}"
    );
    assert!(
        drawn.contains("1 Succeeded"),
        "the counts by status are not shown: {drawn:?}"
    );
    // Finished steps are still printed above the display, and nothing prints a start line.
    for step in ["first", "second", "third"] {
        assert!(drawn.contains(step), "{step} missing: {drawn:?}");
    }
    assert!(!drawn.contains("] start "), "{drawn:?}");

    // Not a terminal: plain lines, one per start and one per end, and no escape sequences.
    let piped = Command::new(couler())
        .args(["run"])
        .arg(&spec)
        .arg("--state-dir")
        .arg(dir.path().join("pipe-state"))
        .env_remove("COULER_STATE_DIR")
        .output()
        .unwrap();
    let lines = text(&piped.stderr);
    assert_eq!(piped.status.code(), Some(0), "{lines}");
    assert!(
        !lines.contains('\u{1b}'),
        "escape sequences in a pipe: {lines:?}"
    );
    for step in ["first", "second", "third"] {
        assert!(lines.contains(&format!("start {step}")), "{lines}");
    }
    assert_eq!(lines.matches("] start ").count(), 3, "{lines}");
}

#[test]
fn with_history_the_display_estimates_from_it() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("progress.yaml");
    std::fs::write(&spec, SPEC).unwrap();
    let state = dir.path().join("state");
    let first = text(&run_on_terminal(&spec, &state).stdout);
    assert!(
        first.contains("s left") && !first.contains("(history)"),
        "{first}"
    );
    // The first run recorded every step: the second's estimate comes from that history.
    let second = run_on_terminal(&spec, &state);
    assert_eq!(second.status.code(), Some(0), "{}", text(&second.stdout));
    let second = text(&second.stdout);
    assert!(second.contains("s left (history)"), "{second}");
}
