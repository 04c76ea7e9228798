//! A run's spec file, and resuming a run with a changed spec (docs/runtime.md, "Resume").
//!
//! `couler run FILE` records FILE's absolute path in `runs/RUN/spec-file` beside the canonical
//! spec in `state.db`, so that `couler resume` can tell that the file changed since (the
//! caller compares). Resuming with a new spec keeps no step row: every step runs again through
//! the memoization cache, so a finished step is reused exactly where its cache key still
//! matches, and the recorded params are typed again against the new spec.

use crate::Error;
use couler_ir::Workflow;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The file recording a run's spec file, under `runs/RUN/`.
const SPEC_FILE: &str = "spec-file";

/// Records `file` (made absolute) as run `run_dir`'s spec file. Best effort: without it,
/// `resume` cannot compare the run's spec with the file.
pub(crate) fn record(run_dir: &Path, file: &Path) {
    let file = std::path::absolute(file).unwrap_or_else(|_| file.to_path_buf());
    let _ = std::fs::create_dir_all(run_dir);
    let _ = std::fs::write(run_dir.join(SPEC_FILE), file.as_os_str().as_encoded_bytes());
}

/// The spec file run `run_id` of `state_dir` was started (or last resumed) from, if recorded.
pub fn recorded_spec_file(state_dir: &Path, run_id: &str) -> Option<PathBuf> {
    let path = state_dir.join("runs").join(run_id).join(SPEC_FILE);
    std::fs::read_to_string(path).ok().map(PathBuf::from)
}

/// The run's recorded param values typed again against `new`: the params `new` still declares
/// keep their values, the ones it dropped are dropped, new ones take their defaults.
pub(crate) fn retype_params(
    run_id: &str,
    new: &Workflow,
    recorded: &BTreeMap<String, serde_json::Value>,
) -> Result<BTreeMap<String, serde_json::Value>, Error> {
    let given: Vec<(String, String)> = recorded
        .iter()
        .filter(|(k, _)| new.params.iter().any(|p| &p.name == *k))
        .map(|(k, v)| (k.clone(), crate::render::json_text(v)))
        .collect();
    crate::resolve_params(new, &given).map_err(|e| {
        Error::Invalid(format!(
            "run `{run_id}`'s params do not fit the new spec: {e}; start a new run with `couler run`"
        ))
    })
}

/// Refuses a new spec for another workflow than the run's.
pub(crate) fn check_same_workflow(run_id: &str, had: &str, new: &Workflow) -> Result<(), Error> {
    if new.name == had {
        return Ok(());
    }
    Err(Error::Invalid(format!(
        "run `{run_id}` runs workflow `{had}`, and the new spec is workflow `{}`; resume a run of that workflow, or start one with `couler run`",
        new.name
    )))
}
