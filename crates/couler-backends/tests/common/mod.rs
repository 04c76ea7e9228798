//! Helpers shared by the backend test files.

#![allow(dead_code)]

pub mod argo_check;

use std::path::{Path, PathBuf};

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every spec to compile: the examples and the per-feature specs under `tests/features/`.
pub fn specs() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for dir in [
        repo().join("examples"),
        repo().join("examples/cluster"),
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/features"),
    ] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
            // A tuned spec reaches a backend lowered (couler-tune, above this crate): couler-cli's
            // tests/tune_block.rs compiles it for every engine.
            .filter(|p| !std::fs::read_to_string(p).is_ok_and(|t| t.contains("\n  tune:\n")))
            .collect();
        files.sort();
        out.extend(files);
    }
    out
}

/// A tool a test drives for real: the path in `$env` when set, else the path `scripts/<script>`
/// prints after installing it (pinned and idempotent). Never skips: when the install fails the
/// test fails, saying what the script installs (`what`) and which variable to set instead.
pub fn installed_tool(env: &str, script: &str, what: &str) -> String {
    if let Ok(p) = std::env::var(env)
        && !p.is_empty()
    {
        return p;
    }
    let script = repo().join("scripts").join(script);
    let out = std::process::Command::new("bash")
        .arg(&script)
        .stderr(std::process::Stdio::inherit())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
    let p = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(
        out.status.success() && !p.is_empty(),
        "{} failed; it installs {what} for this test (or set {env} to one)",
        script.display()
    );
    p
}
