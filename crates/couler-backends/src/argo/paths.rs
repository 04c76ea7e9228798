//! Where a step's declared paths and its working directory are in its pod, so that they agree
//! as they do locally (docs/argo.md, "Paths"): a relative path is relative to the step's own
//! directory, `/tmp` in the pod, and the step starts there unless it sets `workingDir` (a
//! relative `workingDir` is under `/tmp` too). Argo itself needs absolute paths and starts a
//! container in its image's WORKDIR, so without this a script writing `score.txt` would write
//! `/score.txt` while Argo reads `/tmp/score.txt`.

use couler_ir::{Step, StepKind};

/// The step's own directory in its pod: where relative paths resolve.
const STEP_DIR: &str = "/tmp";

/// A declared path as Argo needs it: absolute, a relative one under [`STEP_DIR`].
pub(super) fn abs_path(path: &str) -> String {
    if path.starts_with('/') {
        path.to_string()
    } else {
        format!("{STEP_DIR}/{path}")
    }
}

/// The `workingDir` of a container or script step: its own, made absolute, or [`STEP_DIR`]
/// when it declares a relative path (the image's WORKDIR would not be where it resolves).
pub(super) fn working_dir(step: &Step) -> Option<String> {
    if let StepKind::Container(c) = &step.kind
        && let Some(w) = &c.working_dir
    {
        return Some(abs_path(w.trim_end_matches('/')));
    }
    let mut declared = (step.inputs.artifacts.iter().map(|a| a.path.as_str()))
        .chain(step.outputs.artifacts.iter().map(|a| a.path.as_str()))
        .chain(
            step.outputs
                .parameters
                .iter()
                .filter_map(|p| p.path.as_deref()),
        );
    declared
        .any(|p| !p.starts_with('/'))
        .then(|| STEP_DIR.to_string())
}
