//! Forgetting a run (`couler runs rm RUN`): its rows and those of the runs nested in it go,
//! with their directories under `runs/`, which unpins the cache entries its kept steps held
//! (docs/runtime.md, "Forgetting a run"). A live run is refused.

use crate::{Error, Lock, RunStatus, State};
use std::path::Path;

/// Forgets run `run_id` of `state_dir`; returns the ids forgotten (the run and its nested runs).
/// Refused while an executor holds the state directory (the run itself, or another one that
/// may be reading the cache), and for a nested run (forget the run it belongs to).
pub async fn forget_run(state_dir: &Path, run_id: &str) -> Result<Vec<String>, Error> {
    forget_under(state_dir, run_id, None).await
}

/// [`forget_run`] under `held` (a lock the caller holds, [`crate::Host`]: then a run it still
/// runs must not be named) or else a lock taken here.
pub(crate) async fn forget_under(
    state_dir: &Path,
    run_id: &str,
    held: Option<&Lock>,
) -> Result<Vec<String>, Error> {
    let state = State::open(state_dir)?;
    let rec = state
        .run(run_id)?
        .ok_or_else(|| Error::Invalid(format!("no run `{run_id}` in {}", state_dir.display())))?;
    let runs = state.runs()?;
    if let Some(parent) = runs
        .iter()
        .find(|r| run_id.starts_with(&format!("{}.", r.id)))
    {
        return Err(Error::Invalid(format!(
            "run `{run_id}` is part of run `{}`; forget that run (`couler runs rm {}`)",
            parent.id, parent.id
        )));
    }
    if held.is_some() && rec.status == RunStatus::Running.as_str() {
        return Err(Error::Invalid(format!(
            "run `{run_id}` is running; stop it first"
        )));
    }
    let _lock = crate::lock_unless(held, state_dir).map_err(|e| match e {
        Error::Locked(_) if rec.status == RunStatus::Running.as_str() => Error::Invalid(format!(
            "run `{run_id}` is running (executor pid {}); stop it with `couler stop {run_id}` first",
            rec.pid.unwrap_or_default()
        )),
        other => other,
    })?;
    let ids: Vec<String> = runs
        .into_iter()
        .map(|r| r.id)
        .filter(|id| id == run_id || id.starts_with(&format!("{run_id}.")))
        .collect();
    // A run whose executor died may have left processes behind: they go first.
    for id in &ids {
        crate::stop_orphans(&state, id).await?;
    }
    state.forget_run(run_id)?;
    for id in &ids {
        let dir = state_dir.join("runs").join(id);
        if dir.exists() {
            std::fs::remove_dir_all(&dir)
                .map_err(|e| Error::Io(format!("cannot remove {}: {e}", dir.display())))?;
        }
    }
    Ok(ids)
}
