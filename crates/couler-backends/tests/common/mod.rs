//! Helpers shared by the backend test files.

#![allow(dead_code)]

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
            .collect();
        files.sort();
        out.extend(files);
    }
    out
}
