//! A full disk under `state.db` (docs/runtime.md, "Full disks"): the step whose end cannot be
//! recorded is named with the cause, its log keeps what it wrote, the run ends `Error` (not
//! `Running`) while the database still takes a short write, and `couler resume` succeeds once
//! there is room. SQLite itself refuses the write, with a full disk's error ("database or disk
//! is full"), through `COULER_STATE_MAX_PAGES` (SQLite's `max_page_count`), so no test needs
//! to mount a file system. And inputs placed in work directories by reflink (or a copy where
//! the file system cannot clone): a step that writes to its input cannot change the stored blob.
//! And `couler logs` into a full disk (`/dev/full`) fails naming the log, never exits 0 with a
//! cut-short copy.

#[path = "support/cli.rs"]
mod cli;

use cli::{couler_in, status, step, text, tmp, write};
use std::path::Path;
use std::process::{Command, Output};

/// A step that prints a line, then leaves a 200 kB output parameter: its end needs some 50
/// more pages of `state.db`, its start hardly one.
const SPEC: &str = "apiVersion: couler.dev/v1alpha1\nkind: Workflow\nname: full\nsteps:\n  - name: small\n    container: {command: [echo, small]}\n  - name: big\n    dependsOn: [small]\n    container: {command: [sh, -c, 'echo wrote a line; head -c 200000 /dev/zero | tr \"\\0\" x > blob.txt']}\n    outputs:\n      parameters:\n        - name: blob\n          path: blob.txt\n";

fn couler_capped(dir: &Path, pages: i64, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_couler"))
        .args(args)
        .current_dir(dir)
        .env_remove("COULER_STATE_DIR")
        .env("COULER_STATE_MAX_PAGES", pages.to_string())
        .output()
        .unwrap_or_else(|e| panic!("{e}"))
}

fn pages(dir: &Path) -> i64 {
    let db =
        rusqlite::Connection::open(dir.join(".couler/state.db")).unwrap_or_else(|e| panic!("{e}"));
    db.query_row("PRAGMA page_count", [], |r| r.get(0))
        .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn a_full_state_disk_names_the_step_ends_the_run_and_resume_goes_on() {
    let d = tmp();
    write(&d.path().join("full.yaml"), SPEC);
    // A first run sizes the database; the second may grow it by a few pages only.
    let out = couler_in(d.path(), &["run", "full.yaml", "--no-cache"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let cap = pages(d.path()) + 6;
    let out = couler_capped(d.path(), cap, &["run", "full.yaml", "--no-cache"]);
    let said = text(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{said}");
    assert!(
        said.contains("step `big`") && said.contains("database or disk is full"),
        "the error names the step and the cause: {said}"
    );
    assert!(said.contains("couler resume"), "{said}");

    let runs = cli::json(&couler_in(d.path(), &["runs", "-o", "json"]));
    let run_id = runs[0]["id"].as_str().unwrap_or_default().to_string();
    let s = status(d.path(), &run_id);
    assert_eq!(s["run"]["status"], "Error", "{s}");
    assert!(
        s["run"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("step `big`")),
        "{s}"
    );
    assert_eq!(step(&s, "big")["status"], "Error");
    let logs = couler_in(d.path(), &["logs", &run_id, "big"]);
    assert!(
        text(&logs.stdout).contains("wrote a line"),
        "the log keeps what the step wrote: {}",
        text(&logs.stdout)
    );

    // Room again: resume runs `big` again and keeps `small`.
    let out = couler_in(d.path(), &["resume", &run_id, "--no-cache"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let s = status(d.path(), &run_id);
    assert_eq!(s["run"]["status"], "Succeeded");
    assert_eq!(step(&s, "small")["attempts"], 1, "small did not run again");
    let blob = step(&s, "big")["outputs"]["parameters"]["blob"]
        .as_str()
        .map(str::len);
    assert_eq!(blob, Some(200_000));
}

/// `produce` writes `data.bin`; `scribble` gets it as an input and writes to it in place
/// (append, and overwrite without truncating); `check` then gets the same artifact and compares
/// it with the digest `produce` wrote to `SUM`.
const SCRIBBLE: &str = "apiVersion: couler.dev/v1alpha1\nkind: Workflow\nname: scribble\nsteps:\n  - name: produce\n    container: {command: [sh, -c, 'head -c 3000000 /dev/urandom > data.bin; sha256sum < data.bin > SUM']}\n    outputs:\n      artifacts:\n        - {name: data, path: data.bin}\n  - name: scribble\n    container: {command: [sh, -c, 'echo junk >> data.bin; printf XXXX | dd of=data.bin conv=notrunc 2>/dev/null']}\n    inputs:\n      artifacts:\n        - {name: data, path: data.bin, from: steps.produce.outputs.artifacts.data}\n  - name: check\n    dependsOn: [scribble]\n    container: {command: [sh, -c, 'sha256sum < data.bin | cmp - SUM']}\n    inputs:\n      artifacts:\n        - {name: data, path: data.bin, from: steps.produce.outputs.artifacts.data}\n";

#[test]
fn a_step_writing_to_its_input_cannot_damage_the_stored_blob() {
    let d = tmp();
    let sum = d.path().join("sum").display().to_string();
    write(
        &d.path().join("scribble.yaml"),
        &SCRIBBLE.replace("SUM", &sum),
    );
    for _ in 0..2 {
        // The second run takes `produce` from the cache: the blob itself must still be whole.
        let out = couler_in(d.path(), &["run", "scribble.yaml"]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    }
    let out = couler_in(d.path(), &["cache", "verify"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
}

#[test]
fn logs_into_a_full_disk_fail_naming_the_log() {
    let d = tmp();
    write(&d.path().join("full.yaml"), SPEC);
    let out = couler_in(d.path(), &["run", "full.yaml", "-o", "json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}"));
    let run_id = report["runId"].as_str().unwrap_or_default();
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap_or_else(|e| panic!("/dev/full: {e}"));
    for follow in [false, true] {
        let mut args = vec!["logs", run_id, "big"];
        if follow {
            args.push("--follow");
        }
        let out = Command::new(env!("CARGO_BIN_EXE_couler"))
            .args(&args)
            .current_dir(d.path())
            .env_remove("COULER_STATE_DIR")
            .stdout(full.try_clone().unwrap_or_else(|e| panic!("{e}")))
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        let err = text(&out.stderr);
        assert!(!out.status.success(), "follow={follow}: {err}");
        assert!(
            err.contains("cannot print the log") && err.contains("big.1.stdout.log"),
            "follow={follow}: {err}"
        );
    }
}
