//! `run_local`: the workflow run in-process on the embedded local runtime (`couler run`'s
//! runtime, options and state directory), the GIL released while it runs. Ctrl-C stops the run
//! as `couler stop` does: every running step gets SIGTERM (SIGKILL after a grace period) and
//! the exit handler still runs; a second Ctrl-C stops the exit handler too. The run is then
//! recorded as stopped and `KeyboardInterrupt` reaches the caller.

use crate::{CoulerError, InvalidArgument, load};
use couler_ir::{StepKind, Workflow};
use couler_run::{Error, RunOptions, RunReport, Runtime};
use pyo3::prelude::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;
use tokio::sync::watch;

/// How a run is made: `couler run`'s flags.
pub struct Run {
    pub params: Vec<(String, String)>,
    pub state_dir: Option<PathBuf>,
    pub parallelism: Option<usize>,
    pub use_cache: bool,
    pub runtime: String,
    pub spec_dir: Option<PathBuf>,
    /// What a tuned step's proposers run here (`python -m couler._propose`).
    pub proposer: couler_tune::lower::Proposer,
}

/// Runs the spec; the report as JSON (`couler run --output json`'s), each step's artifacts
/// also as `artifactPaths` (name -> the file or directory the step left).
pub fn run_local(py: Python<'_>, spec_json: &str, run: Run) -> PyResult<String> {
    let (wf, _) = load::lowered(spec_json, &run.proposer)?;
    let runtime = runtime(&run.runtime)?;
    if run.parallelism == Some(0) {
        return Err(InvalidArgument::new_err(
            "parallelism=0 runs nothing; give at least 1 (or None for no limit)",
        ));
    }
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CoulerError::new_err(format!("cannot start the async runtime: {e}")))?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let state_dir = run.state_dir.unwrap_or_else(couler_run::default_state_dir);
    let opts = RunOptions {
        params: run.params,
        parallelism: run.parallelism,
        runtime,
        use_cache: run.use_cache,
        spec_dir: run.spec_dir,
        ..RunOptions::new(state_dir, stop_rx)
    };
    let (done_tx, done_rx) = mpsc::channel();
    let wf_run = wf.clone();
    tokio.spawn(async move {
        let store = couler_run::default_artifact_store();
        let _ = done_tx.send(couler_run::run_with_store(&wf_run, opts, store.as_deref()).await);
    });
    let (result, interrupted) = wait(py, done_rx, &stop_tx);
    let report = result.map_err(|e| match e {
        Error::Invalid(m) => InvalidArgument::new_err(m),
        e => CoulerError::new_err(e.to_string()),
    })?;
    if let Some(interrupt) = interrupted {
        return Err(interrupt);
    }
    Ok(report_json(&wf, &report))
}

/// Waits for the run with the GIL released, checking for Ctrl-C every 50 ms: each one stops the
/// run a step further (the stop signal sent again). Returns the run's result and the first
/// interrupt, to raise once the run has ended.
fn wait(
    py: Python<'_>,
    mut done: mpsc::Receiver<Result<RunReport, Error>>,
    stop: &watch::Sender<bool>,
) -> (Result<RunReport, Error>, Option<PyErr>) {
    let mut interrupted = None;
    loop {
        // The receiver moves in and back out: the closure must be `Send`, a `&Receiver` is not.
        let (rx, tick) = py.detach(move || {
            let tick = done.recv_timeout(Duration::from_millis(50));
            (done, tick)
        });
        done = rx;
        match tick {
            Ok(result) => return (result, interrupted),
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let lost = Error::Internal("the run's task ended without a result".into());
                return (Err(lost), interrupted);
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        if let Err(e) = py.check_signals() {
            let _ = stop.send(true);
            interrupted.get_or_insert(e);
        }
    }
}

fn runtime(name: &str) -> PyResult<Runtime> {
    let runtime = match name {
        "host" => Runtime::Host,
        "docker" => Runtime::Docker,
        "podman" => Runtime::Podman,
        other => {
            return Err(InvalidArgument::new_err(format!(
                "runtime=\"{other}\" is not a runtime; use \"host\" (steps as processes), \"docker\" or \"podman\""
            )));
        }
    };
    if let Some(engine) = runtime.engine()
        && !couler_run::runner::on_path(engine)
    {
        return Err(InvalidArgument::new_err(format!(
            "runtime=\"{engine}\": `{engine}` is not on PATH; install it or use runtime=\"host\""
        )));
    }
    Ok(runtime)
}

/// The report as JSON, with `artifactPaths` on each step record.
fn report_json(wf: &Workflow, report: &RunReport) -> String {
    let mut value = serde_json::to_value(report).unwrap_or(Value::Null);
    if let Some(steps) = value.get_mut("steps").and_then(Value::as_array_mut) {
        for (record, rec) in steps.iter_mut().zip(&report.steps) {
            let paths = artifact_paths(wf, &rec.step, rec.log_dir.as_deref(), rec.outputs.as_ref());
            if let Some(obj) = record.as_object_mut() {
                obj.insert("artifactPaths".into(), paths);
            }
        }
    }
    value.to_string()
}

/// Each output artifact of a step record whose file the step's working directory still holds.
fn artifact_paths(
    wf: &Workflow,
    step: &str,
    log_dir: Option<&str>,
    outputs: Option<&couler_run::StepOutputs>,
) -> Value {
    let mut out = serde_json::Map::new();
    let declared = wf
        .steps
        .iter()
        .chain(&wf.on_exit)
        .find(|s| s.name == step && !matches!(s.kind, StepKind::Workflow(_)));
    let produced = outputs.map(|o| &o.artifacts);
    if let (Some(s), Some(dir), Some(produced)) = (declared, log_dir, produced) {
        for a in &s.outputs.artifacts {
            let path = Path::new(dir).join(&a.path);
            if produced.contains_key(&a.name) && path.exists() {
                out.insert(a.name.clone(), Value::String(path.display().to_string()));
            }
        }
    }
    Value::Object(out)
}
