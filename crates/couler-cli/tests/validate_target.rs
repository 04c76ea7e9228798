//! `couler validate --target ENGINE`: the engine's checks, as `couler compile` makes them,
//! writing nothing. Driven as a real process.

#[path = "support/fan_in.rs"]
mod fan_in;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn couler(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_couler"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("couler runs: {e}"))
}

fn specs() -> Vec<PathBuf> {
    let mut v = Vec::new();
    for dir in [
        "examples",
        "examples/cluster",
        "crates/couler-backends/tests/features",
    ] {
        for e in std::fs::read_dir(repo().join(dir)).unwrap_or_else(|e| panic!("{dir}: {e}")) {
            let p = e.unwrap_or_else(|e| panic!("{e}")).path();
            if p.extension().is_some_and(|x| x == "yaml") {
                v.push(p);
            }
        }
    }
    v.sort();
    v
}

/// For every example and feature spec on every engine: `validate --target` exits as `compile
/// --target` does, with the same error, and writes no file; both outcomes occur.
#[test]
fn validate_target_agrees_with_compile_and_writes_nothing() {
    let (mut passed, mut refused) = (0, 0);
    for spec in specs() {
        let file = spec.display().to_string();
        for target in ["argo", "airflow", "tekton"] {
            let out_dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
            let out = out_dir.path().display().to_string();
            let compiled = couler(&repo(), &["compile", &file, "--target", target, "-o", &out]);
            let cwd = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
            let validated = couler(cwd.path(), &["validate", &file, "--target", target]);
            assert_eq!(
                validated.status.code(),
                compiled.status.code(),
                "{file} --target {target}:\nvalidate: {}\ncompile: {}",
                text(&validated.stderr),
                text(&compiled.stderr)
            );
            let written = std::fs::read_dir(cwd.path()).map_or(0, |d| d.count());
            assert_eq!(written, 0, "{file} --target {target}: validate wrote files");
            if compiled.status.success() {
                passed += 1;
                assert!(
                    text(&validated.stdout).contains(&format!("compiles for {target}")),
                    "{}",
                    text(&validated.stdout)
                );
            } else {
                refused += 1;
                let error = text(&compiled.stderr)
                    .lines()
                    .find(|l| l.starts_with("error: "))
                    .unwrap_or_default()
                    .to_string();
                assert!(
                    !error.is_empty() && text(&validated.stderr).contains(&error),
                    "{file} --target {target}: validate says {}, compile {error}",
                    text(&validated.stderr)
                );
            }
        }
    }
    assert!(
        passed > 10 && refused > 3,
        "{passed} passed, {refused} refused"
    );
}

/// A size limit: a step whose launcher input is over 128 KiB compiles for Airflow's host
/// operator (it travels in a file) and not for its kubernetes operator, with the step and the
/// limit named; the JSON report carries the engine's verdict.
#[test]
fn validate_target_reports_a_launcher_input_over_the_limit() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let spec = dir.path().join("fan-in.yaml");
    std::fs::write(&spec, fan_in::spec("fan-in", 100)).unwrap_or_else(|e| panic!("{e}"));
    let file = spec.display().to_string();
    let host = couler(dir.path(), &["validate", &file, "--target", "airflow"]);
    assert!(host.status.success(), "{}", text(&host.stderr));
    let pods = couler(
        dir.path(),
        &[
            "validate",
            &file,
            "--target",
            "airflow",
            "--operator",
            "kubernetes",
            "-o",
            "json",
        ],
    );
    assert_eq!(pods.status.code(), Some(2));
    let report: serde_json::Value =
        serde_json::from_slice(&pods.stdout).unwrap_or_else(|e| panic!("{e}"));
    let error = report[0]["engine"]["error"].as_str().unwrap_or_default();
    assert_eq!(report[0]["valid"], false);
    assert!(
        error.contains("step `gather`") && error.contains("131072-byte limit"),
        "{error}"
    );
    assert_eq!(
        std::fs::read_dir(dir.path()).map_or(0, |d| d.count()),
        1,
        "only the spec"
    );
}
