//! Helpers shared by the runtime's integration tests.
#![allow(dead_code)]

use couler_run::{RunOptions, RunReport, StepRecord};
use std::path::{Path, PathBuf};
use tokio::sync::watch;

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"))
}

pub fn load(text: &str) -> couler_ir::Workflow {
    match couler_ir::spec::load(text, couler_ir::Format::Yaml) {
        Ok((wf, _)) => wf,
        Err(d) => panic!("spec does not load: {d:?}"),
    }
}

pub fn load_file(path: &Path) -> couler_ir::Workflow {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    load(&text)
}

pub fn opts(state: &Path) -> RunOptions {
    let (tx, rx) = watch::channel(false);
    // Keep the sender alive for the whole test so the stop channel never reads as closed.
    std::mem::forget(tx);
    RunOptions::new(state.to_path_buf(), rx)
}

pub async fn run(wf: &couler_ir::Workflow, state: &Path) -> RunReport {
    match couler_run::run(wf, opts(state)).await {
        Ok(r) => r,
        Err(e) => panic!("run failed to execute: {e}"),
    }
}

pub fn step<'a>(r: &'a RunReport, node: &str) -> &'a StepRecord {
    r.steps
        .iter()
        .find(|s| s.node == node)
        .unwrap_or_else(|| panic!("no step {node} in {:#?}", r.steps))
}

pub fn status(r: &RunReport, node: &str) -> String {
    step(r, node).status.clone()
}

pub fn stdout(r: &RunReport, node: &str) -> String {
    let s = step(r, node);
    let dir = s
        .log_dir
        .as_ref()
        .unwrap_or_else(|| panic!("{node} has no logs"));
    std::fs::read_to_string(couler_run::AttemptFiles::at(dir).stdout()).unwrap_or_default()
}

pub fn param(r: &RunReport, node: &str, name: &str) -> String {
    let s = step(r, node);
    s.outputs
        .as_ref()
        .and_then(|o| o.parameters.get(name).cloned())
        .unwrap_or_else(|| panic!("{node} has no output parameter {name}"))
}

/// The stored bytes of an output artifact (a file), read back through the artifact store.
pub async fn artifact(r: &RunReport, state: &Path, node: &str, name: &str) -> Vec<u8> {
    let s = step(r, node);
    let stored: couler_store::StoredArtifact = s
        .outputs
        .as_ref()
        .and_then(|o| o.artifacts.get(name).cloned())
        .unwrap_or_else(|| panic!("{node} has no artifact {name}"));
    let cfg = couler_store::Location::Local {
        root: state.join("artifacts"),
    };
    let store = couler_store::ArtifactStore::open(&cfg)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let out = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let dest = out.path().join("artifact");
    store
        .get(&stored, &dest)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    std::fs::read(&dest).unwrap_or_default()
}
