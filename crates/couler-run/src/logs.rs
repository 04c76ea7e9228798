//! A step's logs as `couler logs RUN STEP [--follow]` prints them: the one reader behind the CLI
//! and the server's `GET /api/v1/runs/{id}/steps/{node}/logs`, so both give the same bytes.
//!
//! The step's standard output goes to [`LogSink::out`], its standard error and the notes to
//! [`LogSink::err`] (the server sends both into one body: what `couler logs … 2>&1` prints). Logs
//! are streamed from their files in bounded memory, whatever their size.

use crate::state::{State, StepRecord};
use crate::{Error, INTERRUPTED, StepStatus, logfile};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How often a followed log is read again.
const FOLLOW_POLL: Duration = Duration::from_millis(200);

/// Where the logs go.
pub trait LogSink {
    /// The step's standard output, and a header per node when there are several.
    fn out(&mut self) -> &mut dyn Write;
    /// The step's standard error, and notes.
    fn err(&mut self) -> &mut dyn Write;
}

/// What `couler logs RUN STEP` names.
#[derive(Debug)]
pub enum LogTarget {
    /// The state holds no run with that id.
    NoRun,
    /// The run has no step (or map instance) of that name that started.
    NoStep,
    /// The rows whose logs are printed: a mapped step's are its instances' (`train[0]`, …),
    /// since its own row has none; else the node named.
    Nodes(Vec<StepRecord>),
}

/// Resolves `step` of run `run_id`.
pub fn target(state: &State, run_id: &str, step: &str) -> Result<LogTarget, Error> {
    if state.run(run_id)?.is_none() {
        return Ok(LogTarget::NoRun);
    }
    let (instances, exact): (Vec<_>, Vec<_>) = state
        .steps(run_id)?
        .into_iter()
        .filter(|s| s.node == step || (s.step == step && s.node != s.step))
        .partition(|s| s.node != step);
    let nodes = if instances.is_empty() {
        exact
    } else {
        instances
    };
    Ok(if nodes.is_empty() {
        LogTarget::NoStep
    } else {
        LogTarget::Nodes(nodes)
    })
}

/// Why the logs stopped before their end.
#[derive(Debug)]
pub enum LogsError {
    /// Reading the state failed.
    State(Error),
    /// Reading the log `path` or writing it out failed (`BrokenPipe`: the reader went away).
    Copy { path: PathBuf, error: io::Error },
}

impl LogsError {
    /// Whether the reader went away (a closed pipe, a client that hung up): not a failure.
    pub fn reader_gone(&self) -> bool {
        matches!(self, LogsError::Copy { error, .. } if error.kind() == io::ErrorKind::BrokenPipe)
    }
}

impl std::fmt::Display for LogsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LogsError::State(e) => write!(f, "{e}"),
            LogsError::Copy { path, error } => {
                write!(f, "cannot print the log {}: {error}", path.display())
            }
        }
    }
}

impl From<Error> for LogsError {
    fn from(e: Error) -> LogsError {
        LogsError::State(e)
    }
}

/// Writes the logs of `nodes` (from [`target`]) into `sink`; with `follow`, each node's
/// output as it grows until its step is no longer Running.
pub fn write(
    state: &State,
    run_id: &str,
    nodes: &[StepRecord],
    follow: bool,
    sink: &mut dyn LogSink,
) -> Result<(), LogsError> {
    for s in nodes {
        if nodes.len() > 1 {
            let _ = writeln!(sink.out(), "==> {} ({})", s.node, s.status);
        }
        if s.status == StepStatus::Cached.as_str() {
            let _ = writeln!(
                sink.err(),
                "note: {} was Cached: nothing ran in this run (`couler status` names its cache key)",
                s.node
            );
        }
        if follow {
            follow_node(state, run_id, &s.node, sink)?;
        } else if let Some((out, err)) = s.log_dir.as_deref().map(log_files) {
            copy(&out, 0, sink.out())?;
            copy(&err, 0, sink.err())?;
        }
    }
    Ok(())
}

/// Copies `p` from byte `from` into `out` and flushes it; returns where it stopped.
fn copy(p: &Path, from: u64, mut out: &mut dyn Write) -> Result<u64, LogsError> {
    let failed = |error| LogsError::Copy {
        path: p.to_path_buf(),
        error,
    };
    let end = logfile::copy_from(p, from, &mut out).map_err(failed)?;
    out.flush().map_err(failed)?;
    Ok(end)
}

/// Follows `node`'s logs: writes what is new every 200 ms until the step is no longer Running,
/// or its run was interrupted (its executor is gone: the row stays Running). The step's row
/// names its running attempt's directory (none before its first process starts); a retry
/// names a new one, which is followed from its start. The output is flushed at every look, so
/// a reader that went away ends it even while the step prints nothing.
fn follow_node(
    state: &State,
    run_id: &str,
    node: &str,
    sink: &mut dyn LogSink,
) -> Result<(), LogsError> {
    let mut followed: Option<(String, u64)> = None;
    loop {
        let now = state.steps(run_id)?;
        let row = now.iter().find(|r| r.node == node);
        let still = row.is_some_and(|r| r.status == StepStatus::Running.as_str())
            && state.run(run_id)?.is_some_and(|r| r.status != INTERRUPTED);
        if let Some(d) = row.and_then(|r| r.log_dir.clone()) {
            let pos = match followed.take() {
                Some((prev, pos)) if prev == d => pos,
                Some((prev, pos)) => {
                    // A retry started: the end of the attempt before it first.
                    let (out, err) = log_files(&prev);
                    copy(&out, pos, sink.out())?;
                    copy(&err, 0, sink.err())?;
                    0
                }
                None => 0,
            };
            let pos = copy(&log_files(&d).0, pos, sink.out())?;
            followed = Some((d, pos));
        } else {
            sink.out().flush().map_err(|error| LogsError::Copy {
                path: PathBuf::from(node),
                error,
            })?;
        }
        if !still {
            break;
        }
        std::thread::sleep(FOLLOW_POLL);
    }
    if let Some((d, _)) = followed {
        copy(&log_files(&d).1, 0, sink.err())?;
    }
    Ok(())
}

/// The stdout and stderr logs of the attempt whose directory a step row records (either may
/// be missing: a stream without output has no file). Runs recorded before logs moved beside
/// the working directory kept them inside their `attempt-N` directory; the name tells them
/// apart, since a step's own `stdout.log` in its working directory is not its log.
pub fn log_files(dir: &str) -> (PathBuf, PathBuf) {
    let legacy = Path::new(dir);
    let old_layout = legacy
        .file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with("attempt-"));
    if old_layout {
        return (legacy.join("stdout.log"), legacy.join("stderr.log"));
    }
    let files = crate::AttemptFiles::at(dir);
    (files.stdout(), files.stderr())
}
