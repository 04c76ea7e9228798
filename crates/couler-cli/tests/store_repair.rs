//! A damaged artifact store repairs itself (issue: runtime hardening, self-repairing store), as
//! real processes on a real store: a truncated blob turns the producer's cache hit into a miss
//! and the re-run stores it again; a blob with a flipped bit (same size, only hashing tells) is
//! found by `couler cache verify`, removed by `--repair` and stored again by the next run; a
//! consumer that reads a corrupt blob fails with a message naming what to run, and the blob is
//! gone so that running it repairs.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn couler(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_couler"))
        .args(args)
        .current_dir(dir)
        .env_remove("COULER_STATE_DIR")
        .env_remove("COULER_ARTIFACT_STORE")
        .env_remove("COULER_CACHE_SIZE")
        .output()
        .unwrap_or_else(|e| panic!("the couler binary runs: {e}"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

const SPEC: &str = r#"apiVersion: couler.dev/v1alpha1
kind: Workflow
name: repair
steps:
  - name: produce
    container:
      image: alpine:3.19
      command: [sh, -c, "yes data | head -c 4096 > {{outputs.artifacts.data.path}}"]
    outputs:
      artifacts:
        - name: data
          path: data.bin
  - name: consume
    container:
      image: alpine:3.19
      command: [sh, -c, "wc -c < {{inputs.artifacts.data.path}}"]
    inputs:
      artifacts:
        - name: data
          path: in.bin
          from: steps.produce.outputs.artifacts.data
"#;

/// Runs the spec; returns the exit code and step -> status.
fn run(dir: &Path, extra: &[&str]) -> (Option<i32>, std::collections::BTreeMap<String, String>) {
    let mut args = vec!["run", "wf.yaml", "-o", "json"];
    args.extend_from_slice(extra);
    let out = couler(dir, &args);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", text(&out.stdout), text(&out.stderr)));
    let steps = (report["steps"].as_array().into_iter().flatten())
        .map(|s| {
            let name = s["step"].as_str().unwrap_or_default().to_string();
            (name, s["status"].as_str().unwrap_or_default().to_string())
        })
        .collect();
    (out.status.code(), steps)
}

fn status(steps: &std::collections::BTreeMap<String, String>, step: &str) -> String {
    steps.get(step).cloned().unwrap_or_default()
}

/// The blob of the 4096-byte artifact `produce` writes: the store's only blob of that size.
fn data_blob(dir: &Path) -> PathBuf {
    fn walk(p: &Path, found: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(p).into_iter().flatten().flatten() {
            let path = e.path();
            if path.is_dir() {
                walk(&path, found);
            } else if e.metadata().is_ok_and(|m| m.len() == 4096) {
                found.push(path);
            }
        }
    }
    let mut found = Vec::new();
    walk(&dir.join(".couler/artifacts/blobs"), &mut found);
    assert_eq!(found.len(), 1, "{found:?}");
    found.remove(0)
}

fn setup() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("wf.yaml"), SPEC).unwrap();
    let (code, steps) = run(tmp.path(), &[]);
    assert_eq!(code, Some(0), "{steps:?}");
    let blob = data_blob(tmp.path());
    assert!(
        blob.is_file(),
        "the artifact's blob is at {}",
        blob.display()
    );
    (tmp, blob)
}

fn flip_a_bit(blob: &Path) {
    let mut bytes = std::fs::read(blob).unwrap();
    bytes[10] ^= 0x01;
    std::fs::write(blob, bytes).unwrap();
}

#[test]
fn a_truncated_blob_makes_the_cache_miss_and_the_rerun_stores_it_again() {
    let (tmp, blob) = setup();
    std::fs::write(&blob, b"data\n").unwrap();
    let (code, steps) = run(tmp.path(), &[]);
    assert_eq!(code, Some(0), "{steps:?}");
    assert_eq!(
        status(&steps, "produce"),
        "Succeeded",
        "not Cached: {steps:?}"
    );
    assert_eq!(std::fs::metadata(&blob).unwrap().len(), 4096, "repaired");
}

#[test]
fn cache_verify_finds_a_flipped_bit_and_repair_makes_the_next_run_store_it_again() {
    let (tmp, blob) = setup();
    let dir = tmp.path();
    let out = couler(dir, &["cache", "verify"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("0 corrupt"),
        "{}",
        text(&out.stdout)
    );

    flip_a_bit(&blob);
    let out = couler(dir, &["cache", "verify"]);
    assert_eq!(out.status.code(), Some(1), "corrupt blobs remain: exit 1");
    let said = text(&out.stdout);
    let name = blob.file_name().unwrap().to_string_lossy().into_owned();
    assert!(said.contains(&name) && said.contains("--repair"), "{said}");
    assert!(blob.exists(), "verify without --repair changes nothing");

    let out = couler(dir, &["cache", "verify", "--repair", "-o", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["corrupt"].as_array().map(Vec::len), Some(1), "{v}");
    assert!(!blob.exists(), "repair removes it");

    let (code, steps) = run(dir, &[]);
    assert_eq!(code, Some(0), "{steps:?}");
    assert_eq!(status(&steps, "produce"), "Succeeded", "{steps:?}");
    let out = couler(dir, &["cache", "verify"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
}

#[test]
fn a_consumer_reading_a_corrupt_blob_names_the_fix_and_rerunning_repairs() {
    let (tmp, blob) = setup();
    let dir = tmp.path();
    flip_a_bit(&blob);
    // The consumer's cache entry is bypassed: it must read the blob.
    let out = couler(dir, &["run", "wf.yaml", "--no-cache"]);
    // `--no-cache` re-runs the producer too, and its put replaces the bad blob (the local
    // store hashes an existing blob before it trusts it): the run succeeds.
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(std::fs::read(&blob).unwrap().len(), 4096);
    assert_eq!(&std::fs::read(&blob).unwrap()[..5], b"data\n");

    // A corrupt blob read by a consumer whose producer is a cache hit (same size: the hit
    // cannot tell) fails the consumer with a message that names a command, not a function.
    flip_a_bit(&blob);
    let edited = SPEC.replace("wc -c <", "wc -l <");
    std::fs::write(dir.join("wf.yaml"), edited).unwrap();
    let out = couler(dir, &["run", "wf.yaml", "-o", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let consume = (report["steps"].as_array().into_iter().flatten())
        .find(|s| s["step"] == "consume")
        .unwrap_or_else(|| panic!("{report}"));
    let said = consume["message"].as_str().unwrap_or_default();
    assert!(
        said.contains("was corrupt") && said.contains("couler run"),
        "{said}"
    );
    assert!(
        !said.contains("couler-store"),
        "names a command, not a crate: {said}"
    );
    assert!(!blob.exists(), "the corrupt blob is removed when found");
    let (code, steps) = run(dir, &[]);
    assert_eq!(code, Some(0), "{steps:?}");
    assert_eq!(status(&steps, "produce"), "Succeeded", "{steps:?}");
}
