//! The original Couler's golden outputs (`../shared/couler-golden/*.yaml`) against what the
//! Python drop-in API records for the same workflows: each `python/tests/golden/<name>.py` is
//! run with the SDK's python (`COULER_PYTHON`, else `scripts/python-deps`) and prints
//! `couler.workflow_yaml()`, which must mean the same as the golden (`golden_compare`).

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

mod common;
mod golden_compare;

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/couler-golden")
}

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
    let dir = golden_dir();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        println!("skipping: {} is absent", dir.display());
        return;
    };
    let python = common::installed_tool("COULER_PYTHON", "python-deps", "the Python SDK");
    let mut goldens: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    goldens.sort();
    let mut missing = Vec::new();
    for golden in &goldens {
        let stem = golden.file_stem().unwrap().to_string_lossy().to_string();
        let program = program_dir().join(format!("{stem}.py"));
        if !program.exists() {
            missing.push(stem);
            continue;
        }
        let expected: Value =
            serde_norway::from_str(&std::fs::read_to_string(golden).unwrap()).unwrap();
        golden_compare::assert_same(&stem, &expected, &record(&python, &program));
    }
    assert!(
        missing.is_empty(),
        "goldens without a drop-in program in python/tests/golden/: {}",
        missing.join(", ")
    );
    assert!(!goldens.is_empty());
}
