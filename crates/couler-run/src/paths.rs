//! Where a step's declared paths (input and output artifacts, output parameter files) live
//! locally: in the step's own attempt directory, whether relative or absolute, as each pod has
//! its own filesystem on Argo. So concurrent steps (map instances) never share a file, and a
//! file left by an earlier run is never read as this attempt's output (docs/runtime.md, "Paths").

use couler_ir::Step;
use std::path::{Path, PathBuf};

/// The directory of the attempt's working directory that stands for `/`.
pub const ROOT_DIR: &str = ".root";

/// Where declared path `p` lives for an attempt working in `work`: relative paths under it,
/// absolute ones under `work/.root`.
pub fn declared(work: &Path, p: &str) -> PathBuf {
    match p.strip_prefix('/') {
        Some(abs) => work.join(ROOT_DIR).join(abs.trim_start_matches('/')),
        None => work.join(p),
    }
}

/// The error for a declared output the attempt did not write (`what`: "output parameter
/// `x`"), with the fix when the path is absolute and the command likely wrote the literal path.
pub fn not_written(what: &str, work: &Path, p: &str) -> String {
    let at = declared(work, p);
    let mut msg = format!("{what}: the step did not write {}", at.display());
    if p.starts_with('/') {
        msg.push_str(&format!(
            " (a declared absolute path is the step's own, as in its pod on Argo: locally `{p}` lives in the step's directory so that concurrent steps do not share it; write it through its `{{{{outputs.…path}}}}` placeholder rather than the literal path, or use a relative path)"
        ));
    }
    msg
}

/// A step's declared output paths.
fn outputs(step: &Step) -> impl Iterator<Item = &str> {
    (step.outputs.artifacts.iter().map(|a| a.path.as_str())).chain(
        step.outputs
            .parameters
            .iter()
            .filter_map(|p| p.path.as_deref()),
    )
}

/// Creates the directory of each absolute output path, as a real `/tmp` or `/out` would be
/// there for the step to write into.
pub fn make_output_dirs(step: &Step, work: &Path) -> Result<(), String> {
    for p in outputs(step).filter(|p| p.starts_with('/')) {
        if let Some(dir) = declared(work, p).parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create {} for `{p}`: {e}", dir.display()))?;
        }
    }
    Ok(())
}

/// [`container_mounts`] for a step's declared paths.
pub fn step_mounts(step: &Step, work: &Path) -> Vec<(PathBuf, String)> {
    let inputs: Vec<&str> = step
        .inputs
        .artifacts
        .iter()
        .map(|a| a.path.as_str())
        .collect();
    let outputs: Vec<&str> = outputs(step).collect();
    container_mounts(work, &inputs, &outputs)
}

/// The bind mounts (host directory, container path) that show a container-runtime step its
/// absolute declared paths where it expects them: an input at its own path, an output's
/// parent directory ([`make_output_dirs`] made it). A path directly under `/`
/// gets no mount (the placeholder still works). Nested mounts are left out: an outer one
/// already shows them.
pub fn container_mounts(work: &Path, inputs: &[&str], outputs: &[&str]) -> Vec<(PathBuf, String)> {
    let parent = |p: &str| -> Option<String> {
        let dir = Path::new(p).parent()?.to_str()?.to_string();
        (dir != "/").then_some(dir)
    };
    let mut dirs: Vec<String> = inputs
        .iter()
        .filter(|p| p.starts_with('/') && declared(work, p).exists())
        .map(|p| p.trim_end_matches('/').to_string())
        .chain(
            outputs
                .iter()
                .filter(|p| p.starts_with('/'))
                .filter_map(|p| parent(p)),
        )
        .filter(|d| d.len() > 1)
        .collect();
    dirs.sort();
    dirs.dedup();
    let mut out: Vec<(PathBuf, String)> = Vec::new();
    for d in dirs {
        if out
            .iter()
            .any(|(_, o)| d.starts_with(o.as_str()) && d[o.len()..].starts_with('/'))
        {
            continue;
        }
        out.push((declared(work, &d), d));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_paths_live_in_the_attempt_directory() {
        let w = Path::new("/state/runs/r/steps/a.1");
        assert_eq!(declared(w, "m.json"), w.join("m.json"));
        assert_eq!(declared(w, "/tmp/m.json"), w.join(".root/tmp/m.json"));
        assert_eq!(declared(w, "//tmp/m.json"), w.join(".root/tmp/m.json"));
        assert!(not_written("output parameter `m`", w, "/tmp/m.json").contains("placeholder"));
        assert!(!not_written("output parameter `m`", w, "m.json").contains("placeholder"));
    }

    #[test]
    fn container_mounts_cover_each_absolute_directory_once() {
        let d = tempfile::tempdir().unwrap();
        let w = d.path();
        std::fs::create_dir_all(declared(w, "/data/train")).unwrap();
        let m = container_mounts(
            w,
            &["/data/train", "rel/in"],
            &["/tmp/model.json", "/tmp/sub/x", "/top", "out.txt"],
        );
        let at: Vec<&str> = m.iter().map(|(_, c)| c.as_str()).collect();
        assert_eq!(at, ["/data/train", "/tmp"]);
        assert_eq!(m[1].0, w.join(".root/tmp"));
    }
}
