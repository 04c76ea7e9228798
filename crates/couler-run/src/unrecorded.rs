//! When the state database cannot take a write (its disk is full: SQLite's "database or disk
//! is full"), the error names the step whose end was lost and says what to do, the step is
//! marked `Error` with a short row where the database still takes one (so `resume` runs it
//! again), and the run ends `Error` with that message; where not even that fits, the run reads
//! `Interrupted` once its executor exits (`owner`). Its logs keep what was written before the
//! disk filled. Once space is freed, `couler resume RUN` goes on (docs/runtime.md, "Full
//! disks").

use crate::{Error, State};

/// The error for step `node` of `run_id`, whose end the database refused with `e`; marks the
/// step `Error` where a short write still fits.
pub(crate) fn step_end(state: &State, run_id: &str, node: &str, e: Error) -> Error {
    let message = format!(
        "step `{node}` ended but {e}; free space on the state directory's disk, then run `couler resume {run_id}`"
    );
    let _ = state.step_unrecorded(run_id, node, &message);
    Error::State(message)
}

/// The error of a run whose end could not be recorded (`finish`), keeping the error that
/// ended it, if any, which names the step.
pub(crate) fn run_end(ended: Option<&Error>, finish: Error) -> Error {
    match ended {
        Some(e) => Error::State(format!(
            "{e} (and {finish}: the run reads Interrupted until resumed)"
        )),
        None => finish,
    }
}
