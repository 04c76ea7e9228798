//! The original Couler's golden outputs (`../shared/couler-golden/*.yaml`) against what the
//! Python drop-in API records for the same workflows: each `python/tests/golden/<name>.py` is
//! run with the SDK's python (`COULER_PYTHON`, else `scripts/python-deps`) and prints
//! `couler.workflow_yaml()`, which must mean the same as the golden (`golden_compare`).

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

mod common;
mod golden_compare;

fn program_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../python/tests/golden")
}

fn record(python: &str, program: &Path) -> Value {
    let out = Command::new(python)
        .arg(program)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {python}: {e}"));
    assert!(
        out.status.success(),
        "{} failed:\n{}",
        program.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{} printed no JSON manifest: {e}", program.display()))
}

#[test]
fn python_programs_match_the_original_couler_goldens() {
    let mut python = None;
    golden_compare::compare_all("python/tests/golden/", |stem| {
        let program = program_dir().join(format!("{stem}.py"));
        if !program.exists() {
            return None;
        }
        let python = python.get_or_insert_with(|| {
            common::installed_tool("COULER_PYTHON", "python-deps", "the Python SDK")
        });
        Some(record(python, &program))
    });
}
