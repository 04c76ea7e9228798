//! A step's artifacts and outputs, the same for every driver of the step core: where each
//! input artifact comes from (an upstream output or a local path, checked present before the
//! step runs), what a successful attempt produced (output parameters and artifacts, captured by
//! [`crate::capture`]'s rules), and its `storage: local` outputs written to their places (the
//! exchange of a split workflow).

use crate::artifacts::{ArtifactRef, Store};
use crate::outcome::{Outcome, StepOutputs};
use couler_ir::{ArtifactSource, Reference, Step, StepOutput, Storage};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// An input artifact resolved before the step runs: (name, declared path, stored artifact).
pub(crate) type Input = (String, String, ArtifactRef);

/// Resolves every input artifact of `step` against the outcomes it has `seen`: each present in
/// the store, or optional and absent; otherwise why the step errs.
pub(crate) async fn resolve_inputs(
    store: &Store,
    step: &Step,
    seen: &BTreeMap<String, Outcome>,
) -> Result<Vec<Input>, String> {
    let mut inputs = Vec::new();
    for a in &step.inputs.artifacts {
        match input_artifact(store, a, seen).await {
            Ok(r) if store.contains(&r).await => inputs.push((a.name.clone(), a.path.clone(), r)),
            Ok(r) => {
                return Err(format!(
                    "input artifact `{}` ({}) is missing from the artifact store",
                    a.name, r.digest
                ));
            }
            Err(_) if a.optional => {}
            Err(why) => return Err(format!("missing input artifact `{}`: {why}", a.name)),
        }
    }
    Ok(inputs)
}

/// Where an input artifact comes from: an upstream step's output (by digest) or a local path
/// (stored first, so the step reads it from the store like any other input).
async fn input_artifact(
    store: &Store,
    a: &couler_ir::InputArtifact,
    seen: &BTreeMap<String, Outcome>,
) -> Result<ArtifactRef, String> {
    match &a.source {
        Some(ArtifactSource::From(Reference::Step {
            step: s,
            output: StepOutput::Artifact(name),
        })) => seen
            .get(s)
            .and_then(|o| o.outputs.artifacts.get(name))
            .cloned()
            .ok_or_else(|| format!("`{s}` produced no artifact `{name}`")),
        Some(ArtifactSource::Storage(Storage::Local(l))) => {
            let p = Path::new(&l.path);
            if p.exists() {
                store.put(p).await.map_err(|e| e.to_string())
            } else {
                Err(format!("{} does not exist", l.path))
            }
        }
        Some(ArtifactSource::Storage(st)) => Err(format!(
            "{} storage is not available on the local runtime",
            st.key()
        )),
        Some(ArtifactSource::From(r)) => Err(format!("`{r}` is not an artifact")),
        None => Err("it has no source".to_string()),
    }
}

/// Reads a successful attempt's output parameters (file `path`, else `result`, already in
/// `outputs`; [`crate::capture`]) and stores its output artifacts in `store` (a step without
/// output artifacts needs none); on the first one missing or too big, says which (the attempt
/// errs).
pub(crate) async fn collect_outputs(
    store: Option<&Store>,
    step: &Step,
    work: &Path,
    outputs: &mut StepOutputs,
) -> Result<(), String> {
    for p in &step.outputs.parameters {
        let result = outputs.result.as_deref().unwrap_or_default();
        let value = parameter_value(step, p, work, result)?;
        outputs.parameters.insert(p.name.clone(), value);
    }
    for o in &step.outputs.artifacts {
        let p = under(work, &o.path);
        if !p.exists() {
            if o.optional {
                continue;
            }
            return Err(crate::paths::not_written(
                &format!("output artifact `{}`", o.name),
                work,
                &o.path,
            ));
        }
        // A symlink out of the working directory is refused, as inside a stored directory.
        let p = couler_store::contained(&p, work)
            .map_err(|e| format!("output artifact `{}`: {e}", o.name))?;
        let Some(store) = store else {
            return Err(format!(
                "output artifact `{}`: no artifact store is configured to keep it",
                o.name
            ));
        };
        match store.put(&p).await {
            Ok(stored) => {
                outputs.artifacts.insert(o.name.clone(), stored);
            }
            // A full disk, say: the attempt errs (and may be retried); the run goes on.
            Err(e) => return Err(format!("cannot store output artifact `{}`: {e}", o.name)),
        }
    }
    Ok(())
}

/// An output parameter's value: its file (at most [`crate::capture::PARAMETER_LIMIT`] bytes),
/// else its `default`; without `path`, the step's `result`.
fn parameter_value(
    step: &Step,
    p: &couler_ir::OutputParameter,
    work: &Path,
    result: &str,
) -> Result<String, String> {
    let Some(path) = &p.path else {
        return Ok(result.to_string());
    };
    let mut file = under(work, path);
    if file.exists() {
        // A symlink out of the working directory is refused, as for an output artifact.
        file = couler_store::contained(&file, work)
            .map_err(|e| format!("output parameter `{}`: {e}", p.name))?;
    }
    match crate::capture::parameter_file(&file) {
        Ok(Some(v)) => Ok(v),
        Ok(None) => p.default.clone().ok_or_else(|| {
            crate::paths::not_written(&format!("output parameter `{}`", p.name), work, path)
        }),
        Err(size) => Err(format!(
            "output parameter `{}` of step `{}`: its file {} holds {size} bytes, more than the {} MiB a parameter may hold (parameters are kept in the state database, and on Argo in the Workflow object); declare it as an output artifact instead",
            p.name,
            step.name,
            file.display(),
            crate::capture::PARAMETER_LIMIT / (1024 * 1024)
        )),
    }
}

/// Writes a step's stored output artifacts to their `storage: local` locations (the exchange
/// of a split workflow): the path is the artifact itself, as an input's `storage: local` reads
/// it. Other storage kinds are left to engines (docs/runtime.md).
pub(crate) async fn publish(
    store: &Store,
    step: &Step,
    outputs: &StepOutputs,
) -> Result<(), String> {
    for o in &step.outputs.artifacts {
        let (Some(Storage::Local(place)), Some(stored)) =
            (&o.storage, outputs.artifacts.get(&o.name))
        else {
            continue;
        };
        write_to(store, stored, Path::new(&place.path))
            .await
            .map_err(|e| {
                format!(
                    "output artifact `{}`: cannot write it to its storage {}: {e}",
                    o.name, place.path
                )
            })?;
    }
    Ok(())
}

async fn write_to(store: &Store, stored: &ArtifactRef, dest: &Path) -> Result<(), String> {
    if let Some(parent) = dest.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
    }
    // Replace what an earlier run left, file or directory.
    if dest.is_dir() {
        std::fs::remove_dir_all(dest).map_err(|e| e.to_string())?;
    } else if dest.exists() {
        std::fs::remove_file(dest).map_err(|e| e.to_string())?;
    }
    store.get(stored, dest).await.map_err(|e| e.to_string())
}
/// Where declared path `p` lives for an attempt working in `work` ([`crate::paths`]).
pub(crate) fn under(work: &Path, p: &str) -> PathBuf {
    crate::paths::declared(work, p)
}

/// Why a step's log could not be read back (the attempt errs).
pub(crate) fn unreadable(log: &Path, e: &std::io::Error) -> String {
    format!("cannot read the step's log {}: {e}", log.display())
}
