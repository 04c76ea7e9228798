//! A step's output costs disk (its log), never memory or database space (docs/runtime.md,
//! "Outputs"): a step printing 200 MB runs with `couler run` under 100 MB of peak memory and
//! `state.db` under 5 MB, and so does its cached rerun; `couler logs` and `couler status` stream.
//! (Before: 413 MB peak for `run`, as the whole log was read into memory.)

#[path = "support/cli.rs"]
mod cli;

use cli::{status, step, text, tmp, write};
use std::path::Path;
use std::process::{Command, Stdio};

const MB: u64 = 1_000_000;
const RESULT_LIMIT: usize = 256 * 1024;

/// `loud` prints 200 MB in lines of 1000 and declares an output parameter read from standard
/// output; `grumble` prints 20 MB of one line to stderr and fails.
const SPEC: &str = r#"apiVersion: couler.dev/v1alpha1
kind: Workflow
name: loud
steps:
  - name: loud
    container:
      command: [sh, -c, "head -c 200000000 /dev/zero | tr '\\0' x | fold -w 1000; echo; echo last"]
    outputs:
      parameters:
        - name: out
  - name: grumble
    container:
      command: [sh, -c, "head -c 20000000 /dev/zero | tr '\\0' e >&2; exit 3"]
"#;

/// `couler ARGS` in `dir` under `/usr/bin/time -v`, its stdout into `stdout`: the exit code and
/// the peak RSS in bytes.
fn measured(dir: &Path, args: &[&str], stdout: &Path) -> (Option<i32>, u64, String) {
    let out = Command::new("/usr/bin/time")
        .arg("-v")
        .arg(env!("CARGO_BIN_EXE_couler"))
        .args(args)
        .current_dir(dir)
        .env_remove("COULER_STATE_DIR")
        .stdout(Stdio::from(
            std::fs::File::create(stdout).unwrap_or_else(|e| panic!("{e}")),
        ))
        .output()
        .unwrap_or_else(|e| panic!("/usr/bin/time runs (Debian package `time`): {e}"));
    let err = text(&out.stderr);
    let kb: u64 = err
        .lines()
        .find_map(|l| l.trim().strip_prefix("Maximum resident set size (kbytes):"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no maximum RSS in: {err}"));
    // `time` exits with the command's code.
    (out.status.code(), kb * 1024, err)
}

/// `state.db` with its write-ahead log, in bytes.
fn db_bytes(dir: &Path) -> u64 {
    ["state.db", "state.db-wal"]
        .iter()
        .map(|f| std::fs::metadata(dir.join(".couler").join(f)).map_or(0, |m| m.len()))
        .sum()
}

#[test]
fn a_step_printing_200_mb_costs_no_memory_and_no_database_space() {
    let d = tmp();
    write(&d.path().join("loud.yaml"), SPEC);
    let out_file = d.path().join("out.json");
    let run = ["run", "loud.yaml", "-o", "json"];
    let (code, peak, err) = measured(d.path(), &run, &out_file);
    assert_eq!(code, Some(1), "{err}");
    assert!(peak < 100 * MB, "couler run peaked at {peak} bytes");
    let db = db_bytes(d.path());
    assert!(db < 5 * MB, "state.db holds {db} bytes");

    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&out_file).unwrap_or_default())
            .unwrap_or_else(|e| panic!("{e}"));
    let run_id = report["runId"].as_str().unwrap_or_default().to_string();
    let s = status(d.path(), &run_id);
    let loud = step(&s, "loud");
    let result = loud["outputs"]["result"].as_str().unwrap_or_default();
    // The last 256 KiB of the output less its trailing newline, as Argo keeps it.
    assert_eq!(result.len(), RESULT_LIMIT);
    assert!(
        result.ends_with("xxx\nlast"),
        "{}",
        &result[result.len() - 20..]
    );
    // An output parameter without `path` is `result`, as on Argo.
    assert_eq!(loud["outputs"]["parameters"]["out"], result);
    let note = loud["message"].as_str().unwrap_or_default();
    assert!(
        note.contains("keeps the last 256 KiB of 200200005 bytes")
            && note.contains("loud.1.stdout.log"),
        "{note}"
    );
    let grumble = step(&s, "grumble")["message"].as_str().unwrap_or_default();
    assert!(grumble.starts_with("exited with code 3: …eee"), "{grumble}");
    assert!(grumble.len() < 1000, "{} bytes of message", grumble.len());

    // The cached rerun: `loud` restored, `grumble` run again.
    let (code, peak, err) = measured(d.path(), &run, &out_file);
    assert_eq!(code, Some(1), "{err}");
    let again: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&out_file).unwrap_or_default())
            .unwrap_or_else(|e| panic!("{e}"));
    let rerun = again["runId"].as_str().unwrap_or_default().to_string();
    assert_eq!(step(&status(d.path(), &rerun), "loud")["status"], "Cached");
    assert!(peak < 100 * MB, "the cached rerun peaked at {peak} bytes");
    let db = db_bytes(d.path());
    assert!(db < 5 * MB, "state.db holds {db} bytes after the rerun");

    // Reading it back streams: every byte of the log, in bounded memory.
    let logged = d.path().join("logged");
    let (code, peak, err) = measured(d.path(), &["logs", &run_id, "loud"], &logged);
    assert_eq!(code, Some(0), "{err}");
    assert!(peak < 100 * MB, "couler logs peaked at {peak} bytes");
    assert_eq!(
        std::fs::metadata(&logged).map_or(0, |m| m.len()),
        200_200_005
    );
    let (code, peak, err) = measured(d.path(), &["logs", &run_id, "loud", "-o", "json"], &logged);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        peak < 100 * MB,
        "couler logs -o json peaked at {peak} bytes"
    );
    let (code, peak, err) = measured(d.path(), &["status", &run_id], &logged);
    assert_eq!(code, Some(0), "{err}");
    assert!(peak < 100 * MB, "couler status peaked at {peak} bytes");
}
