//! Which spec `couler resume RUN` continues with: the one recorded at run time, unless its file
//! changed since. A changed file is not taken silently: `--spec FILE` resumes with it (finished
//! steps reused where their cache keys still match), `--recorded-spec` with the recorded one;
//! without either, resume stops and says both (docs/runtime.md, "Resume").

use crate::exit;
use crate::input;
use crate::say::tell;
use crate::state_dir::open_existing;
use couler_ir::{Format, Workflow, spec};
use couler_run::Error;
use std::path::{Path, PathBuf};

/// The spec a resume runs.
pub(crate) struct Chosen {
    pub workflow: Workflow,
    /// The file of a new spec that replaces the recorded one.
    pub new_file: Option<PathBuf>,
}

/// Chooses the spec for resuming `run_id` of `dir`; `Err` is the exit code (the reason printed).
pub(crate) fn choose(
    dir: &Path,
    run_id: &str,
    spec_arg: Option<&Path>,
    recorded_spec: bool,
) -> Result<Chosen, u8> {
    let read = || -> Result<String, Error> {
        let state = open_existing(dir)?;
        let rec = state
            .run(run_id)?
            .ok_or_else(|| Error::Invalid(format!("no run `{run_id}` in {}", dir.display())))?;
        Ok(rec.spec)
    };
    let recorded = read().map_err(|e| {
        tell!("error: {e}");
        exit::of_error(&e)
    })?;
    if let Some(file) = spec_arg {
        let new = input::load_or_report(file).ok_or(exit::INVALID)?;
        let changed = spec::to_json(&new) != recorded;
        return Ok(Chosen {
            workflow: new,
            new_file: changed.then(|| file.to_path_buf()),
        });
    }
    let workflow = spec::parse(&recorded, Format::Json).map_err(|_| {
        tell!("error: the stored spec of run `{run_id}` cannot be read back");
        exit::FAILED
    })?;
    if !recorded_spec
        && let Some(file) = couler_run::recorded_spec_file(dir, run_id)
        && file_differs(&file, &recorded)
    {
        let f = file.display();
        tell!(
            "error: {f} changed since run `{run_id}` started; resume does not take it silently. Either\n  couler resume {run_id} --spec {f}\n      resumes with the file as it is now (finished steps are reused where their cache keys still match; the rest run again), or\n  couler resume {run_id} --recorded-spec\n      resumes the workflow as the run recorded it (`couler runs rm {run_id}` forgets the run; `couler run {f}` starts a new one)"
        );
        return Err(exit::INVALID);
    }
    Ok(Chosen {
        workflow,
        new_file: None,
    })
}

/// Whether the spec file at `file` no longer reads as the recorded canonical spec. A file that
/// is gone is no change to report (the recorded spec is all there is); one that no longer
/// validates is.
fn file_differs(file: &Path, recorded: &str) -> bool {
    let Ok(source) = input::Source::read(file) else {
        return false;
    };
    match spec::load(&source.text, source.format) {
        Ok((wf, _)) => spec::to_json(&wf) != recorded,
        Err(_) => true,
    }
}
