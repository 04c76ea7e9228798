//! The runtime's cache budget end to end, as real processes on a real state database: a run
//! whose cache outgrows `--cache-size` evicts what the policy says must go, stays under the
//! budget, and a re-run recomputes exactly the evicted steps; `couler cache ls|stats|gc`.

use std::path::Path;
use std::process::{Command, Output};

fn couler(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_couler"))
        .args(args)
        .current_dir(dir)
        .env_remove("COULER_STATE_DIR")
        .env_remove("COULER_CACHE_SIZE")
        .output()
        .unwrap_or_else(|e| panic!("the couler binary runs: {e}"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\nstderr: {}",
            text(&out.stdout),
            text(&out.stderr)
        )
    })
}

/// Two small artifacts that take a second each, then a big one (3 MB) that takes
/// milliseconds, then a step reading all three. Under a 2 MB budget only the big one can go
/// and the cache still fit: the unambiguous case.
const SPEC: &str = r#"apiVersion: couler.dev/v1alpha1
kind: Workflow
name: cache-budget
params:
  - name: marker
    default: ""
steps:
  - name: slow-a
    container:
      image: alpine:3.19
      command: [sh, -c, "sleep 1; yes a | head -c 1000 > {{outputs.artifacts.out.path}}"]
    outputs:
      artifacts:
        - name: out
          path: out.bin
  - name: slow-b
    container:
      image: alpine:3.19
      command: [sh, -c, "sleep 1; yes b | head -c 1000 > {{outputs.artifacts.out.path}}"]
    outputs:
      artifacts:
        - name: out
          path: out.bin
  - name: big
    dependsOn: [slow-a, slow-b]
    container:
      image: alpine:3.19
      command: [sh, -c, "head -c 3000000 /dev/zero > {{outputs.artifacts.out.path}}"]
    outputs:
      artifacts:
        - name: out
          path: out.bin
  - name: final
    # With the `marker` param set, fails until that file exists (to test resume).
    env:
      MARKER: "{{params.marker}}"
    container:
      image: alpine:3.19
      command: [sh, -c, "wc -c a b big > {{outputs.artifacts.sizes.path}} && { test -z \"$MARKER\" || test -f \"$MARKER\"; }"]
    inputs:
      artifacts:
        - name: a
          path: a
          from: steps.slow-a.outputs.artifacts.out
        - name: b
          path: b
          from: steps.slow-b.outputs.artifacts.out
        - name: big
          path: big
          from: steps.big.outputs.artifacts.out
    outputs:
      artifacts:
        - name: sizes
          path: sizes.txt
"#;

const BUDGET: u64 = 2_000_000;

/// step → status of a `couler run -o json` report.
fn statuses(report: &serde_json::Value) -> std::collections::BTreeMap<String, String> {
    report["steps"]
        .as_array()
        .unwrap_or_else(|| panic!("no steps in {report}"))
        .iter()
        .map(|s| {
            (
                s["step"].as_str().unwrap_or_default().to_string(),
                s["status"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// Cached steps by name, with the cache's bytes.
fn cached(dir: &Path, state: &str) -> (Vec<String>, u64) {
    let out = couler(dir, &["cache", "ls", "--state-dir", state, "-o", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v = json(&out);
    let entries = v["entries"].as_array().cloned().unwrap_or_default();
    let mut steps: Vec<String> = entries
        .iter()
        .map(|e| e["step"].as_str().unwrap_or_default().to_string())
        .collect();
    steps.sort();
    let bytes = entries
        .iter()
        .map(|e| e["bytes"].as_u64().unwrap_or(0))
        .sum();
    (steps, bytes)
}

/// Bytes of the blobs in the state directory's store.
fn blob_bytes(dir: &Path) -> u64 {
    fn walk(p: &Path) -> u64 {
        let Ok(rd) = std::fs::read_dir(p) else {
            return 0;
        };
        rd.flatten()
            .map(|e| match e.metadata() {
                Ok(m) if m.is_dir() => walk(&e.path()),
                Ok(m) => m.len(),
                Err(_) => 0,
            })
            .sum()
    }
    walk(&dir.join("artifacts/blobs"))
}

fn run(dir: &Path, state: &str, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["run", "wf.yaml", "--state-dir", state, "-o", "json"];
    args.extend_from_slice(extra);
    let out = couler(dir, &args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    json(&out)
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn a_run_over_budget_evicts_the_big_cheap_artifact_and_a_rerun_recomputes_only_it() {
    let d = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(d.path().join("wf.yaml"), SPEC).unwrap_or_else(|e| panic!("{e}"));
    let size = BUDGET.to_string();

    let first = run(d.path(), "st", &["--cache-size", &size]);
    assert!(
        statuses(&first).values().all(|s| s == "Succeeded"),
        "{first}"
    );
    // The policy (couler, the default) evicted the 3 MB artifact that takes milliseconds to
    // rebuild, not the small ones that take a second: the cache fits again.
    let (kept, bytes) = cached(d.path(), "st");
    assert_eq!(kept, strings(&["final", "slow-a", "slow-b"]));
    assert!(
        bytes <= BUDGET,
        "{bytes} bytes cached over a {BUDGET} budget"
    );
    assert!(bytes > 2000, "the small artifacts are counted: {bytes}");
    // The run's end collected the evicted blob: the store holds what the cache does.
    let blobs = blob_bytes(&d.path().join("st"));
    assert!(blobs < BUDGET, "{blobs} bytes of blobs left after the run");

    let second = run(d.path(), "st", &["--cache-size", &size]);
    let s = statuses(&second);
    assert_eq!(s["big"], "Succeeded", "{second}");
    for step in ["slow-a", "slow-b", "final"] {
        assert_eq!(s[step], "Cached", "{step}: {second}");
    }
    // The recomputed big artifact went again, for the same reason.
    assert_eq!(
        cached(d.path(), "st").0,
        strings(&["final", "slow-a", "slow-b"])
    );

    // Without a budget the cache keeps everything: a third run fills it.
    let third = run(d.path(), "st", &[]);
    assert_eq!(statuses(&third)["big"], "Succeeded", "{third}");
    let (all, bytes) = cached(d.path(), "st");
    assert_eq!(all, strings(&["big", "final", "slow-a", "slow-b"]));
    assert!(bytes > 3_000_000);

    // `ls` ranks the big one first to go and says why.
    let out = couler(
        d.path(),
        &["cache", "ls", "--state-dir", "st", "--cache-size", &size],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let ls = text(&out.stdout);
    let first_row = ls.lines().nth(1).unwrap_or_default();
    assert!(
        first_row.trim_start().starts_with("1 ") && first_row.contains("big"),
        "{ls}"
    );
    assert!(ls.contains("s to recompute"), "{ls}");

    // `stats` counts the hits of the second run.
    let out = couler(
        d.path(),
        &[
            "cache",
            "stats",
            "--state-dir",
            "st",
            "--cache-size",
            &size,
            "-o",
            "json",
        ],
    );
    let stats = json(&out);
    assert_eq!(stats["entries"], 4, "{stats}");
    assert_eq!(stats["budget"], BUDGET, "{stats}");
    // slow-a, slow-b and final were hit by the second and third runs.
    assert_eq!(stats["hits"], 6, "{stats}");

    // `gc` to the budget evicts the big one again, says why, and frees its blob.
    let out = couler(
        d.path(),
        &["cache", "gc", "--state-dir", "st", "--cache-size", &size],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let gc = text(&out.stdout);
    assert!(
        gc.contains("evicted big") && gc.contains("rank 1 under couler"),
        "{gc}"
    );
    assert!(!gc.contains("evicted slow"), "{gc}");
    assert!(gc.contains("blobs: removed 1 "), "{gc}");
    assert!(blob_bytes(&d.path().join("st")) < BUDGET);
}

#[test]
fn lru_evicts_by_recency_so_the_rerun_recomputes_every_step() {
    let d = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(d.path().join("wf.yaml"), SPEC).unwrap_or_else(|e| panic!("{e}"));
    let size = BUDGET.to_string();
    let policy = ["--cache-size", size.as_str(), "--cache-policy", "lru"];
    run(d.path(), "st", &policy);
    // When the big artifact entered, the two slow ones were the least recently used: both
    // went first, and the big one too, as it alone is over budget; only `final` is left.
    let (kept, bytes) = cached(d.path(), "st");
    assert_eq!(kept, strings(&["final"]));
    assert!(bytes <= BUDGET);
    // The re-run recomputes the evicted steps; and when the big artifact enters again, the
    // least recently used entry is the first run's `final` (not yet looked up by this run):
    // it goes too, so `final` misses and runs. Recency alone throws away the expensive work.
    let s = statuses(&run(d.path(), "st", &policy));
    for step in ["slow-a", "slow-b", "big", "final"] {
        assert_eq!(s[step], "Succeeded", "{step}: {s:?}");
    }
    assert_eq!(cached(d.path(), "st").0, strings(&["final"]));
}

#[test]
fn bad_sizes_and_policies_are_refused_with_the_fix() {
    let d = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(d.path().join("wf.yaml"), SPEC).unwrap_or_else(|e| panic!("{e}"));
    let out = couler(
        d.path(),
        &[
            "run",
            "wf.yaml",
            "--state-dir",
            "st",
            "--cache-size",
            "lots",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--cache-size"),
        "{}",
        text(&out.stderr)
    );
    let out = couler(
        d.path(),
        &[
            "run",
            "wf.yaml",
            "--state-dir",
            "st",
            "--cache-size",
            "1G",
            "--cache-policy",
            "belady",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("future reads"),
        "{}",
        text(&out.stderr)
    );
    let out = couler(
        d.path(),
        &["run", "wf.yaml", "--state-dir", "st", "--cache-size", "5%"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("give a size"),
        "{}",
        text(&out.stderr)
    );
    // Nothing ran: the state directory was never created.
    assert!(!d.path().join("st/state.db").exists());
}

#[test]
fn eviction_never_breaks_resume_of_a_failed_run() {
    let d = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    // `final` fails until the file named by the `marker` param exists.
    std::fs::write(d.path().join("wf.yaml"), SPEC).unwrap_or_else(|e| panic!("{e}"));
    let marker = d.path().join("marker");
    let param = format!("marker={}", marker.display());
    let size = BUDGET.to_string();
    let out = couler(
        d.path(),
        &[
            "run",
            "wf.yaml",
            "--state-dir",
            "st",
            "--cache-size",
            &size,
            "-p",
            &param,
            "-o",
            "json",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let report = json(&out);
    let s = statuses(&report);
    assert_eq!(s["big"], "Succeeded", "{report}");
    assert_eq!(s["final"], "Failed", "{report}");
    // The entry went (the run in progress pins nothing), but its blob stays: `resume` needs it.
    assert_eq!(cached(d.path(), "st").0, strings(&["slow-a", "slow-b"]));
    assert!(blob_bytes(&d.path().join("st")) > 3_000_000);
    let out = couler(
        d.path(),
        &["cache", "gc", "--state-dir", "st", "--cache-size", &size],
    );
    assert!(
        text(&out.stdout).contains("blobs: removed 0 "),
        "{}",
        text(&out.stdout)
    );

    std::fs::write(&marker, b"").unwrap_or_else(|e| panic!("{e}"));
    let run_id = report["runId"].as_str().unwrap_or_default().to_string();
    let out = couler(
        d.path(),
        &[
            "resume",
            &run_id,
            "--state-dir",
            "st",
            "--cache-size",
            &size,
            "-o",
            "json",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let s = statuses(&json(&out));
    assert_eq!(s["final"], "Succeeded", "{s:?}");
    // The run succeeded: nothing pins the big blob any more, and the run's end collected it.
    assert!(blob_bytes(&d.path().join("st")) < BUDGET);
}
