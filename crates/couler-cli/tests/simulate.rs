//! `couler simulate cache` and `couler simulate dispatch` end to end: the real binary on
//! hand-written traces and, when present, a shared WfCommons trace; and `couler optimize`, which
//! runs the same model as a pass.

use std::path::{Path, PathBuf};
use std::process::Command;

fn couler(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_couler"))
        .args(args)
        .output()
        .expect("run couler");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A chain a → b → c where c reads both a's and b's files.
const TRACE: &str = r#"{
  "name": "tiny", "schemaVersion": "1.5",
  "workflow": {
    "specification": {
      "tasks": [
        {"id": "a", "parents": [], "children": ["b", "c"], "inputFiles": [], "outputFiles": ["fa"]},
        {"id": "b", "parents": ["a"], "children": ["c"], "inputFiles": ["fa"], "outputFiles": ["fb"]},
        {"id": "c", "parents": ["a", "b"], "children": [], "inputFiles": ["fa", "fb"], "outputFiles": []}
      ],
      "files": [{"id": "fa", "sizeInBytes": 100}, {"id": "fb", "sizeInBytes": 100}]
    },
    "execution": {"tasks": [
      {"id": "a", "runtimeInSeconds": 10}, {"id": "b", "runtimeInSeconds": 5},
      {"id": "c", "runtimeInSeconds": 1}
    ]}
  }
}"#;

/// `couler simulate cache --trace PATH --slots 1 --format json EXTRA…`, which must succeed.
fn simulate_json(path: &Path, extra: &[&str]) -> serde_json::Value {
    let mut args = vec![
        "simulate",
        "cache",
        "--trace",
        path.to_str().unwrap(),
        "--slots",
        "1",
        "--format",
        "json",
    ];
    args.extend_from_slice(extra);
    let (code, out, err) = couler(&args);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).unwrap()
}

fn tiny() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tiny.json");
    std::fs::write(&path, TRACE).unwrap();
    (dir, path)
}

#[test]
fn json_reports_every_policy_and_budget() {
    let (_dir, path) = tiny();
    let v = simulate_json(&path, &["--budget", "50%,100%"]);
    let rows = v["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2 * 9);
    // 3 reads: fa by b and c, fb by c. With no cache: b rebuilds a (10), c rebuilds a and b (15).
    let none = rows.iter().find(|r| r["policy"] == "none").unwrap();
    assert_eq!(none["reads"], 3);
    assert_eq!(none["recompute_secs"], 25.0);
    let all = rows.iter().find(|r| r["policy"] == "all").unwrap();
    assert_eq!(all["hit_ratio"], 1.0);
    assert_eq!(all["recompute_avoided_secs"], 25.0);
    // At 100% every bounded policy keeps both files.
    for r in rows.iter().filter(|r| r["budget"] == "100%") {
        assert_eq!(r["hits"], if r["policy"] == "none" { 0 } else { 3 }, "{r}");
    }
}

#[test]
fn table_names_the_trace_and_policies() {
    let (_dir, path) = tiny();
    let (code, out, err) = couler(&[
        "simulate",
        "cache",
        "--trace",
        path.to_str().unwrap(),
        "--policy",
        "lru,couler",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("tiny (rebuild seconds with no cache: 25.0)"),
        "{out}"
    );
    assert!(out.contains(" lru ") && out.contains(" couler "), "{out}");
    assert!(!out.contains(" fifo "), "{out}");
}

#[test]
fn bad_input_names_the_problem() {
    let (dir, path) = tiny();
    let (code, _, err) = couler(&[
        "simulate",
        "cache",
        "--trace",
        path.to_str().unwrap(),
        "--policy",
        "mru",
    ]);
    assert_eq!(code, 2);
    assert!(
        err.contains("unknown policy `mru`") && err.contains("belady"),
        "{err}"
    );
    let (code, _, err) = couler(&[
        "simulate",
        "cache",
        "--trace",
        path.to_str().unwrap(),
        "--budget",
        "lots",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("--budget") && err.contains("`lots`"), "{err}");
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{\"workflow\": 3}").unwrap();
    let (code, _, err) = couler(&["simulate", "cache", "--trace", bad.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("bad.json"), "{err}");
}

#[test]
fn shared_trace_replays_deterministically() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/traces/wfinstances/montage-chameleon-dss-05d-001.json");
    if !path.exists() {
        eprintln!(
            "skipping: {} is absent (shared traces live beside the checkout)",
            path.display()
        );
        return;
    }
    let args = [
        "simulate",
        "cache",
        "--trace",
        path.to_str().unwrap(),
        "--seed",
        "7",
        "--format",
        "json",
    ];
    let (code, first, err) = couler(&args);
    assert_eq!(code, 0, "{err}");
    let (_, second, _) = couler(&args);
    assert_eq!(first, second);
    let v: serde_json::Value = serde_json::from_str(&first).unwrap();
    for r in v["rows"].as_array().unwrap() {
        let h = r["hit_ratio"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&h), "{r}");
    }
}

#[test]
fn optimize_prints_the_cache_plan_under_a_budget() {
    let spec = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/ml-pipeline.yaml");
    let spec = spec.to_str().unwrap();
    // 3 MiB holds three of the seven 1 MiB (estimated) artifacts at a time.
    let (code, out, err) = couler(&["optimize", spec, "--cache-size", "3Mi"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with("pass cache: 7 intermediate artifact(s)"),
        "{out}"
    );
    assert!(out.contains("split-data/train"), "{out}");
    assert!(out.contains("(estimated)"), "{out}");
    // Seven artifacts pass through three slots: some are evicted after use.
    assert!(out.contains("cache, evicted later"), "{out}");
    assert!(!out.contains("14 hit(s) of 14"), "{out}");
    // 1M (10^6 bytes) is below one artifact: nothing is cached.
    let (code, out, err) = couler(&["optimize", spec, "--cache-size", "1M"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(": 0 hit(s) of 14 read(s)"), "{out}");
    assert_eq!(
        out.lines().filter(|l| l.contains("do not cache")).count(),
        7,
        "{out}"
    );
    let (code, _, err) = couler(&["optimize", spec, "--cache-size", "5%"]);
    assert_eq!(code, 2);
    assert!(err.contains("not a percentage"), "{err}");
}

/// `span/all` is relative to `all` whether or not `all` is among the policies (it read 1.000
/// for every policy when it was not).
#[test]
fn span_over_all_does_not_need_all_among_the_policies() {
    let (_dir, path) = tiny();
    let ratio = |policies: &str| {
        let v = simulate_json(&path, &["--policy", policies]);
        let none = v["means"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["policy"] == "none")
            .unwrap_or_else(|| panic!("no `none` in {v}"))
            .clone();
        none["makespan_ratio"].as_f64().unwrap()
    };
    let with_all = ratio("none,all");
    // With no cache, b and c rebuild what they read (25 s on one slot): slower than `all`.
    assert!(with_all > 1.0, "{with_all}");
    assert_eq!(ratio("none,lru"), with_all);
}

/// Two slots: x (3.5 s) beside y (1 s); after y, a, b, c (1 s each); after c, d (5 s).
const CHAINS: &str = r#"{
  "name": "chains", "schemaVersion": "1.5",
  "workflow": {
    "specification": {
      "tasks": [
        {"id": "x", "parents": [], "children": []},
        {"id": "y", "parents": [], "children": ["a", "b", "c"]},
        {"id": "a", "parents": ["y"], "children": []},
        {"id": "b", "parents": ["y"], "children": []},
        {"id": "c", "parents": ["y"], "children": ["d"]},
        {"id": "d", "parents": ["c"], "children": []}
      ],
      "files": []
    },
    "execution": {"tasks": [
      {"id": "x", "runtimeInSeconds": 3.5}, {"id": "y", "runtimeInSeconds": 1},
      {"id": "a", "runtimeInSeconds": 1}, {"id": "b", "runtimeInSeconds": 1},
      {"id": "c", "runtimeInSeconds": 1}, {"id": "d", "runtimeInSeconds": 5}
    ]}
  }
}"#;

#[test]
fn dispatch_replays_fifo_and_critical_path_first() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chains.json");
    std::fs::write(&path, CHAINS).unwrap();
    let p = path.to_str().unwrap();
    let (code, out, err) = couler(&["simulate", "dispatch", "--trace", p, "--slots", "1,2"]);
    assert_eq!(code, 0, "{err}");
    let rows: Vec<Vec<&str>> = out
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect())
        .collect();
    // One slot: every order takes the sum. Two: FIFO starts b before c, so d ends at 9 s.
    assert_eq!(rows[0], ["chains.json", "1", "12.5", "12.5", "1.000"]);
    assert_eq!(rows[1], ["chains.json", "2", "9.0", "8.5", "0.944"]);
    let (code, _, err) = couler(&["simulate", "dispatch", "--trace", p, "--slots", "0"]);
    assert_eq!(code, 2);
    assert!(err.contains("--slots"), "{err}");
}
