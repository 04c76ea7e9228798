//! # couler-run
//!
//! The embedded local runtime: runs any validated Couler workflow on one machine with nothing
//! else installed, with the semantics a cluster engine gives it (docs/runtime.md).
//!
//! - [`executor`]: the event-driven DAG scheduler: dependencies, `when` with skip propagation,
//!   `map` (static and dynamic) with JSON-list outputs, groups, `repeat`, retries with backoff,
//!   per-attempt timeouts, the exit handler, parallelism limits;
//! - [`runner`]: each attempt as a host process in its own process group (or in docker/podman);
//! - `step`: the step core every driver (executor, sub-workflow runner, launcher) shares: a
//!   step's fate before it runs, the `repeat` loop, an attempt's outcome;
//! - [`outcome`]: the step vocabulary (`StepStatus`, `StepOutputs`, `Outcome`);
//! - [`state`]: the SQLite state store (runs, steps, attempts, cache) with versioned migrations;
//! - [`artifacts`]: the content-addressed artifact store;
//! - [`cache_budget`]: the memoization cache under a size budget, evicting by a policy;
//! - [`render`]: references, templates and conditions evaluated at run time.
//! - `subworkflow`: sub-workflow steps as nested runs.
//! - [`launch`]: the in-task launcher (`couler launch`): one step inside an engine's task, with
//!   these same semantics (docs/launcher.md).
//!
//! A state directory holds `state.db`, `artifacts/` (the default artifact store) and, per
//! attempt N of a step NODE, `runs/RUN/steps/NODE.N/` (its working directory) with
//! `NODE.N.stdout.log`, `NODE.N.stderr.log` and `NODE.N.script` beside it ([`AttemptFiles`]).
//! One executor at a time owns it (`lock`).

pub mod anomaly;
pub mod artifacts;
pub mod cache_budget;
pub mod capture;
mod cgroup;
mod clone_into;
mod daemon;
mod deadline;
mod dispatch;
pub mod environment;
mod executor;
mod forget;
mod history;
mod hosted;
pub mod launch;
mod ledger;
pub mod logfile;
pub mod logs;
mod mapped;
pub mod outcome;
mod owner;
mod paths;
pub mod render;
mod respec;
mod rss;
pub mod runner;
pub mod slots;
pub mod state;
mod step;
mod stop;
mod subworkflow;
mod unrecorded;

pub use dispatch::Dispatch;
pub use environment::StepEnvironment;
pub use forget::forget_run;
pub use hosted::Host;
pub use outcome::{Outcome, StepOutputs, StepStatus};
pub use owner::{INTERRUPTED, executor_alive, signal_if_same};
pub use respec::recorded_spec_file;
pub use runner::{AttemptFiles, Runtime};
pub use state::{RunRecord, RunStatus, State, StepRecord};
pub use step::template_key;
pub use subworkflow::MAX_DEPTH as MAX_SUBWORKFLOW_DEPTH;

use couler_ir::{ParamType, Workflow};
use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::{mpsc, watch};

/// What can go wrong outside the workflow itself (a failing step is not an error: it is a
/// status).
#[derive(Debug)]
pub enum Error {
    /// Bad input from the user: unknown param, missing value, unknown run.
    Invalid(String),
    /// Another executor holds the state directory.
    Locked(String),
    /// The state directory was written by a newer Couler.
    NewerState {
        found: i64,
        supported: i64,
    },
    State(String),
    Io(String),
    Internal(String),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Invalid(m) | Error::Locked(m) | Error::State(m) | Error::Io(m) => f.write_str(m),
            Error::NewerState { found, supported } => write!(
                f,
                "the state directory was written by a newer Couler (schema version {found}; this Couler reads up to {supported}); upgrade Couler or use another --state-dir"
            ),
            Error::Internal(m) => write!(f, "internal error: {m}"),
        }
    }
}

impl std::error::Error for Error {}

/// A store's error: a location that cannot be used is the user's input, the rest is I/O.
impl From<couler_store::StoreError> for Error {
    fn from(e: couler_store::StoreError) -> Error {
        match e.kind() {
            couler_store::StoreErrorKind::Config => Error::Invalid(e.to_string()),
            _ => Error::Io(e.to_string()),
        }
    }
}

/// Progress events, for a display.
#[derive(Clone, Debug)]
pub enum Event {
    Started {
        node: String,
    },
    Finished {
        node: String,
        status: StepStatus,
        seconds: f64,
        message: Option<String>,
        /// The last attempt's standard output, for steps that ran.
        stdout: Option<PathBuf>,
    },
    /// A running attempt was flagged (`anomaly.rs`): `kind` is [`anomaly::SLOW`].
    Anomaly {
        node: String,
        kind: &'static str,
        message: String,
    },
}

/// How to run.
pub struct RunOptions {
    pub state_dir: PathBuf,
    /// `--param k=v`, raw.
    pub params: Vec<(String, String)>,
    /// The most steps running at once (also bounded by the workflow's `parallelism`).
    pub parallelism: Option<usize>,
    pub runtime: Runtime,
    /// Look up and fill the memoization cache.
    pub use_cache: bool,
    pub events: Option<mpsc::UnboundedSender<Event>>,
    /// Turns true to stop the run (Ctrl-C, SIGTERM from `couler stop`).
    pub stop: watch::Receiver<bool>,
    /// The directory of the spec file the workflow was read from: sub-workflow `ref`s are
    /// relative to it. `None` on `resume` uses the one the run recorded (docs/runtime.md).
    pub spec_dir: Option<PathBuf>,
    /// The spec file the workflow was read from, recorded on the run so that `couler resume`
    /// can tell when it changed ([`recorded_spec_file`]).
    pub spec_file: Option<PathBuf>,
    /// Keep the memoization cache under this many bytes (`--cache-size`); `None`: unbounded.
    pub cache_budget: Option<cache_budget::CacheBudget>,
    /// Where steps' environment and secrets come from (`couler server` seals it).
    pub environment: StepEnvironment,
    /// Which ready step gets the next free slot (`--dispatch`).
    pub dispatch: Dispatch,
    /// Whether the report carries every step's row ([`RunReport::steps`]; otherwise empty). A
    /// caller that reads them from the state itself ([`State::each_step`], as `couler run`'s
    /// final table does) leaves them out, so what it holds does not grow with a map's width.
    pub report_steps: bool,
}

impl RunOptions {
    /// Options in `state_dir` stopped by `stop`, the rest as `couler run` has them by default:
    /// no params, the host runtime, the cache used, no parallelism cap, no events, no spec file,
    /// no cache budget, the host's environment.
    pub fn new(state_dir: PathBuf, stop: watch::Receiver<bool>) -> RunOptions {
        RunOptions {
            state_dir,
            params: Vec::new(),
            parallelism: None,
            runtime: Runtime::Host,
            use_cache: true,
            events: None,
            stop,
            spec_dir: None,
            spec_file: None,
            cache_budget: None,
            environment: StepEnvironment::Inherited,
            dispatch: Dispatch::default(),
            report_steps: true,
        }
    }
}

/// Kills what the steps of `run_id` still marked Running left behind when their executor died,
/// as SIGKILL, with no grace: their process groups, each only while provably the step's (its
/// leader lives with the start time recorded, `owner::group_is_ours`: after a reboot or pid
/// reuse the number is another process's), and, since a container outlives its engine's
/// client, their containers, through every engine on PATH (a run does not record which one
/// it used; the name holds the run and step). Where steps ran in cgroups, what the dead
/// executor's step cgroups still hold is killed too (`cgroup::kill_left_by`: the cgroups are
/// named after that executor's pid and start time).
pub(crate) async fn stop_orphans(state: &State, run_id: &str) -> Result<(), Error> {
    if let Some(rec) = state.run(run_id)?
        && let (Some(pid), Some(start)) = (rec.pid, rec.pid_start)
        && let Ok(pid) = i32::try_from(pid)
    {
        cgroup::kill_left_by(pid, start);
    }
    for (node, pgid, start) in state.running_pgids(run_id)? {
        if owner::group_is_ours(pgid, start) {
            runner::kill_group(pgid, libc::SIGKILL);
        }
        for engine in ["docker", "podman"] {
            if runner::on_path(engine) {
                let container = runner::ContainerRef::of_step(engine, run_id, &node);
                container.stop(std::time::Duration::ZERO).await;
            }
        }
    }
    Ok(())
}

/// The outcome of `run` or `resume`.
#[derive(Clone, Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunReport {
    pub run_id: String,
    pub workflow: String,
    pub status: RunStatus,
    pub message: Option<String>,
    pub seconds: f64,
    pub state_dir: PathBuf,
    /// Every step's and map instance's row, in the order they started; empty where
    /// [`RunOptions::report_steps`] left them out.
    pub steps: Vec<StepRecord>,
}

/// The rows a report carries: every step's, unless `opts` leaves them out.
fn report_steps(state: &State, run_id: &str, opts: &RunOptions) -> Result<Vec<StepRecord>, Error> {
    if opts.report_steps {
        state.steps(run_id)
    } else {
        Ok(Vec::new())
    }
}

/// Exclusive ownership of a state directory: an `flock` on the directory itself, which cannot
/// be unlinked from under the owner (deleting `DIR/lock` once let a second executor in), and,
/// as before, on `DIR/lock`, which holds the owner's pid. The kernel drops both when the
/// process dies, so a `kill -9` never leaves them stale.
pub struct Lock {
    _dir: File,
    _file: File,
}

impl Lock {
    pub fn acquire(dir: &Path) -> Result<Lock, Error> {
        std::fs::create_dir_all(dir).map_err(|e| {
            Error::Io(format!(
                "cannot create state directory {}: {e}",
                dir.display()
            ))
        })?;
        let path = dir.join("lock");
        // Tried for up to half a second: a step this process (or a process that just let the
        // lock go) forks at that moment holds a copy of the descriptor until it execs
        // (close-on-exec), which keeps a released lock held for a few milliseconds.
        let locked = |f: &File| {
            (0..25).any(|i| {
                if i > 0 {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                // SAFETY: flock on a descriptor we own; no memory is involved.
                unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) == 0 }
            })
        };
        let refused = || {
            Error::Locked(format!(
                "another `couler` (pid {}) is running on state directory {}; wait for it, stop it with `couler stop`, or use another --state-dir",
                lock_owner(&path),
                dir.display()
            ))
        };
        let d = File::open(dir)
            .map_err(|e| Error::Io(format!("cannot open {}: {e}", dir.display())))?;
        if !locked(&d) {
            return Err(refused());
        }
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| Error::Io(format!("cannot open {}: {e}", path.display())))?;
        if !locked(&f) {
            return Err(refused());
        }
        // The pid first, then the rest of an older, longer pid cut off: a reader never sees
        // an empty file once it has been written.
        let pid = format!("{}\n", std::process::id());
        let _ = f.write_all_at(pid.as_bytes(), 0);
        let _ = f.set_len(pid.len() as u64);
        Ok(Lock { _dir: d, _file: f })
    }
}

/// A lock on `dir`, taken here unless the caller holds one (`held`).
fn lock_unless(held: Option<&Lock>, dir: &Path) -> Result<Option<Lock>, Error> {
    match held {
        Some(_) => Ok(None),
        None => Lock::acquire(dir).map(Some),
    }
}

/// The pid in a held lock's file, for messages: its first line, read again for up to half a
/// second while the owner has locked but not yet written it; `unknown` if it never appears.
fn lock_owner(path: &Path) -> String {
    for _ in 0..25 {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let first = text.lines().next().unwrap_or_default().trim();
        if first.parse::<u32>().is_ok() {
            return first.to_string();
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    "unknown".to_string()
}

/// The default state directory: `$COULER_STATE_DIR`, else `.couler` in the current directory.
pub fn default_state_dir() -> PathBuf {
    std::env::var_os("COULER_STATE_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(".couler"))
}

/// The artifact store a run uses when none is given: `$COULER_ARTIFACT_STORE` when set and not
/// empty (else the workflow's `artifactRepository`, else the state directory).
pub fn default_artifact_store() -> Option<String> {
    std::env::var("COULER_ARTIFACT_STORE")
        .ok()
        .filter(|v| !v.trim().is_empty())
}

/// Workflow params from their defaults and `--param k=v`, typed as declared.
pub fn resolve_params(
    wf: &Workflow,
    given: &[(String, String)],
) -> Result<BTreeMap<String, serde_json::Value>, Error> {
    let mut out = BTreeMap::new();
    for (k, v) in given {
        let Some(p) = wf.params.iter().find(|p| &p.name == k) else {
            let names: Vec<&str> = wf.params.iter().map(|p| p.name.as_str()).collect();
            return Err(Error::Invalid(format!(
                "--param {k}: workflow `{}` has no param `{k}` (it has: {})",
                wf.name,
                if names.is_empty() {
                    "none".to_string()
                } else {
                    names.join(", ")
                }
            )));
        };
        let bad = |what: &str| {
            Error::Invalid(format!(
                "--param {k}={v}: `{k}` is {what}, and `{v}` is not one"
            ))
        };
        let value = match p.ty {
            ParamType::String => serde_json::Value::String(v.clone()),
            ParamType::Int => v
                .trim()
                .parse::<i64>()
                .map(serde_json::Value::from)
                .map_err(|_| bad("an int"))?,
            ParamType::Float => v
                .trim()
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(serde_json::Value::Number)
                .ok_or_else(|| bad("a float"))?,
            ParamType::Bool => match v.trim() {
                "true" => serde_json::Value::Bool(true),
                "false" => serde_json::Value::Bool(false),
                _ => return Err(bad("a bool (true or false)")),
            },
            ParamType::Json => serde_json::from_str(v).map_err(|_| bad("JSON"))?,
        };
        if !p.allowed.is_empty() && !p.allowed.contains(&value) {
            return Err(Error::Invalid(format!(
                "--param {k}={v}: allowed values are {}",
                serde_json::Value::Array(p.allowed.clone())
            )));
        }
        out.insert(k.clone(), value);
    }
    for p in &wf.params {
        if out.contains_key(&p.name) {
            continue;
        }
        match &p.default {
            Some(d) => {
                out.insert(p.name.clone(), d.clone());
            }
            None => {
                return Err(Error::Invalid(format!(
                    "workflow `{}` needs param `{}`: give it with --param {}=VALUE",
                    wf.name, p.name, p.name
                )));
            }
        }
    }
    Ok(out)
}

fn new_run_id(wf: &Workflow) -> String {
    use sha2::Digest;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let h = sha2::Sha256::digest(format!("{}-{nanos}-{}", wf.name, std::process::id()));
    let hex: String = h.iter().take(3).map(|b| format!("{b:02x}")).collect();
    format!("{}-{hex}", wf.name)
}

/// Runs a workflow that `couler_ir::validate` accepted, start to end, with its artifacts in the
/// workflow's `artifactRepository` (when the store supports its kind) or the state directory.
pub async fn run(wf: &Workflow, opts: RunOptions) -> Result<RunReport, Error> {
    run_with_store(wf, opts, None).await
}

/// [`run`] with an explicit artifact store (`--artifact-store`, `COULER_ARTIFACT_STORE`): a
/// directory path or `s3://BUCKET[/PREFIX]` (see [`artifacts::Location::parse`]). It takes
/// precedence over the workflow's `artifactRepository`; the location is recorded on the run.
pub async fn run_with_store(
    wf: &Workflow,
    opts: RunOptions,
    artifact_store: Option<&str>,
) -> Result<RunReport, Error> {
    start_run(wf, opts, artifact_store, new_run_id(wf), None).await
}

/// [`run_with_store`] with the workflow handed over instead of lent: the run holds the
/// caller's workflow itself, where the others copy it (the run's steps are tasks that outlive
/// a borrow). A workflow is about as big in memory as its spec, some 170 MiB for the
/// 100,000-step fan-out of `benches/overhead.rs`, so a caller that has no further use for its
/// own copy saves that much (docs/performance.md).
pub async fn run_shared(
    wf: Arc<Workflow>,
    opts: RunOptions,
    artifact_store: Option<&str>,
) -> Result<RunReport, Error> {
    let run_id = new_run_id(&wf);
    start_shared(wf, opts, artifact_store, run_id, None).await
}

/// [`run_with_store`] as run `run_id`, under `held` (a lock the caller holds on the state
/// directory, [`Host`]) or else a lock taken here.
pub(crate) async fn start_run(
    wf: &Workflow,
    opts: RunOptions,
    artifact_store: Option<&str>,
    run_id: String,
    held: Option<&Lock>,
) -> Result<RunReport, Error> {
    start_shared(Arc::new(wf.clone()), opts, artifact_store, run_id, held).await
}

/// [`start_run`] holding `wf` itself.
async fn start_shared(
    wf: Arc<Workflow>,
    opts: RunOptions,
    artifact_store: Option<&str>,
    run_id: String,
    held: Option<&Lock>,
) -> Result<RunReport, Error> {
    let params = resolve_params(&wf, &opts.params)?;
    let explicit = artifact_store.map(artifacts::Location::parse).transpose()?;
    let _lock = lock_unless(held, &opts.state_dir)?;
    let state = State::open(&opts.state_dir)?;
    let location = explicit.or_else(|| {
        wf.artifact_repository
            .as_ref()
            .and_then(|s| artifacts::Location::from_ir(s).ok())
    });
    let store = open_store(&opts.state_dir, location.as_ref()).await?;
    {
        // Not kept through the run: the canonical spec is about as big as the workflow.
        let spec = couler_ir::spec::to_json(&wf);
        let params_text = serde_json::to_string(&params).unwrap_or_default();
        state.create_run(&run_id, &wf.name, &spec, &params_text)?;
    }
    if let Some(l) = &location {
        state.set_run_store(&run_id, l)?;
    }
    if let Some(file) = &opts.spec_file {
        respec::record(&opts.state_dir.join("runs").join(&run_id), file);
    }
    execute(wf, run_id, params, state, store, opts, BTreeMap::new()).await
}

/// The store at `location`, else the state directory's local store.
async fn open_store(
    state_dir: &Path,
    location: Option<&artifacts::Location>,
) -> Result<artifacts::Store, Error> {
    match location {
        Some(l) => artifacts::Store::open_at(l).await,
        None => artifacts::Store::open(&state_dir.join("artifacts")).await,
    }
}

/// Resumes a run that failed, was stopped or crashed: steps recorded Succeeded, Skipped or
/// Cached keep their outputs and do not run again; the rest run. A run that succeeded is
/// reported as it is, its message saying that nothing was resumed.
pub async fn resume(run_id: &str, opts: RunOptions) -> Result<RunReport, Error> {
    resume_with_store(run_id, opts, None).await
}

/// [`resume`], checking an explicit artifact store against the one recorded on the run: the run
/// always continues in the store it started with, and naming a different one is an error.
pub async fn resume_with_store(
    run_id: &str,
    opts: RunOptions,
    artifact_store: Option<&str>,
) -> Result<RunReport, Error> {
    resume_with_spec(run_id, opts, artifact_store, None).await
}

/// [`resume_with_store`], with `new_spec` in place of the recorded spec when given: it becomes
/// the run's spec (and `opts.spec_file` its spec file), no step row is kept, and the memoization
/// cache reuses each finished step whose cache key still matches (the steps the change does not
/// reach); the recorded params are typed again against it.
pub async fn resume_with_spec(
    run_id: &str,
    opts: RunOptions,
    artifact_store: Option<&str>,
    new_spec: Option<&Workflow>,
) -> Result<RunReport, Error> {
    resume_under(run_id, opts, artifact_store, new_spec, None).await
}

/// [`resume_with_spec`] under `held` (a lock the caller holds, [`Host`]) or else a lock taken
/// here.
pub(crate) async fn resume_under(
    run_id: &str,
    opts: RunOptions,
    artifact_store: Option<&str>,
    new_spec: Option<&Workflow>,
    held: Option<&Lock>,
) -> Result<RunReport, Error> {
    let explicit = artifact_store.map(artifacts::Location::parse).transpose()?;
    let _lock = lock_unless(held, &opts.state_dir)?;
    let state = State::open(&opts.state_dir)?;
    let rec = state.run(run_id)?.ok_or_else(|| {
        Error::Invalid(format!("no run `{run_id}` in {}", opts.state_dir.display()))
    })?;
    if rec.status == RunStatus::Succeeded.as_str() {
        // Nothing to do: the report is the run's own, as recorded.
        return Ok(RunReport {
            run_id: run_id.to_string(),
            workflow: rec.workflow,
            status: RunStatus::Succeeded,
            message: Some("the run already succeeded; nothing was resumed".to_string()),
            seconds: rec.finished_at.map_or(0.0, |f| f - rec.started_at),
            state_dir: opts.state_dir.clone(),
            steps: report_steps(&state, run_id, &opts)?,
        });
    }
    let wf = couler_ir::spec::parse(&rec.spec, couler_ir::Format::Json).map_err(|_| {
        Error::State(format!(
            "the stored spec of run `{run_id}` cannot be read back"
        ))
    })?;
    let mut params: BTreeMap<String, serde_json::Value> = serde_json::from_str(&rec.params)
        .map_err(|e| Error::State(format!("the stored params of run `{run_id}`: {e}")))?;
    let wf = match new_spec {
        None => wf,
        Some(new) => {
            respec::check_same_workflow(run_id, &wf.name, new)?;
            params = respec::retype_params(run_id, new, &params)?;
            new.clone()
        }
    };
    let recorded: Option<artifacts::Location> = match &rec.artifact_store_json {
        Some(t) => Some(serde_json::from_str(t).map_err(|e| {
            Error::State(format!(
                "the recorded artifact store of run `{run_id}` cannot be read back: {e}"
            ))
        })?),
        None => None,
    };
    if let Some(want) = &explicit {
        let same = match &recorded {
            Some(had) => had.same_place(want),
            None => artifacts::Location::local(&opts.state_dir.join("artifacts"))
                .is_ok_and(|had| had.same_place(want)),
        };
        if !same {
            let had = recorded.as_ref().map(|l| l.to_string()).unwrap_or_else(|| {
                format!(
                    "{} (the state directory's store)",
                    opts.state_dir.join("artifacts").display()
                )
            });
            return Err(Error::Invalid(format!(
                "run `{run_id}` keeps its artifacts in {had}, not {want}; resume it with that store (or without --artifact-store and COULER_ARTIFACT_STORE)"
            )));
        }
    }
    let store = open_store(&opts.state_dir, recorded.as_ref()).await?;
    stop_orphans(&state, run_id).await?;
    let mut kept = match new_spec {
        None => state.kept_steps(run_id)?,
        Some(new) => {
            let spec = couler_ir::spec::to_json(new);
            let params_text = serde_json::to_string(&params).unwrap_or_default();
            state.set_run_spec(run_id, &spec, &params_text)?;
            if let Some(file) = &opts.spec_file {
                respec::record(&opts.state_dir.join("runs").join(run_id), file);
            }
            BTreeMap::new()
        }
    };
    // The exit handler reports on this attempt of the run, and daemons serve its steps (the
    // earlier attempt's were stopped): they always run again.
    for h in wf
        .on_exit
        .iter()
        .chain(wf.steps.iter().filter(|s| s.is_daemon()))
    {
        kept.remove(&h.name);
    }
    state.reopen_run(run_id)?;
    let wf = Arc::new(wf);
    execute(wf, run_id.to_string(), params, state, store, opts, kept).await
}

async fn execute(
    wf: Arc<Workflow>,
    run_id: String,
    params: BTreeMap<String, serde_json::Value>,
    state: State,
    store: artifacts::Store,
    opts: RunOptions,
    kept: BTreeMap<String, (StepStatus, StepOutputs)>,
) -> Result<RunReport, Error> {
    let started = state::now();
    let run_dir = std::path::absolute(opts.state_dir.join("runs").join(&run_id))
        .map_err(|e| Error::Io(format!("cannot resolve the run directory: {e}")))?;
    let default_slots = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .max(4);
    let slots = [opts.parallelism, wf.parallelism.map(|p| p as usize)]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(default_slots)
        .max(1);
    let workflow = wf.name.clone();
    let history = history::open(&opts.state_dir);
    let priorities = dispatch::Priorities::of(opts.dispatch, history.as_deref(), &wf);
    let exec = Arc::new(executor::Exec {
        wf,
        run_id: run_id.clone(),
        run_dir: run_dir.clone(),
        state: state.clone(),
        store,
        params,
        slots: slots::SlotQueue::new(slots),
        priorities: Arc::new(priorities),
        stop: opts.stop.clone(),
        runtime: opts.runtime,
        use_cache: opts.use_cache,
        kept,
        events: opts.events.clone(),
        nest: subworkflow::top_level(&run_dir, opts.spec_dir.as_deref()),
        cache_budget: opts.cache_budget.clone(),
        environment: Arc::new(opts.environment.clone()),
        daemons: Arc::default(),
        history,
        thresholds: Arc::default(),
    });
    let result = exec.run().await;
    let (status, message) = match &result {
        Ok((s, m)) => (*s, m.clone()),
        Err(e) => (RunStatus::Error, Some(e.to_string())),
    };
    if let Err(e) = state.finish_run(&run_id, status, message.as_deref()) {
        return Err(unrecorded::run_end(result.as_ref().err(), e));
    }
    result?;
    // The run is over and the lock still held: the blobs evicted entries left can go. A failed
    // collection does not change the run's outcome; `couler cache gc` retries it.
    if opts.cache_budget.is_some() {
        let _ = cache_budget::collect(&state, &opts.state_dir).await;
    }
    let steps = report_steps(&state, &run_id, &opts)?;
    Ok(RunReport {
        run_id,
        workflow,
        status,
        message,
        seconds: state::now() - started,
        state_dir: opts.state_dir.clone(),
        steps,
    })
}
