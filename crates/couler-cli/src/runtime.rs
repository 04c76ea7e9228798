//! The local-runtime commands: `run`, `resume`, `runs`, `status`, `logs`, `stop`.
//!
//! Exit codes (`exit.rs`): OK the run succeeded (or the query worked), FAILED the workflow failed
//! or was stopped, INVALID invalid input (bad spec or params, unknown run, a state directory
//! another `couler` holds or a newer Couler wrote), INTERRUPTED a repeated Ctrl-C ended it at once.

use crate::exit::{self, FAILED, INVALID, OK};
use crate::input;
use crate::say::{say, tell};
use crate::state_dir::{Output, StateArg, open_existing, tokio_rt};
use crate::summary::{Line, Summary};
use clap::{Args, ValueEnum};
use couler_ir::{StepKind, Workflow};
use couler_run::{Error, Event, RunOptions, RunReport, RunStatus, Runtime, StepStatus};
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq, Default)]
pub enum RuntimeArg {
    /// Steps run as processes on this machine; container images are not used
    #[default]
    Host,
    /// Container steps run in their image with `docker run`
    Docker,
    /// Container steps run in their image with `podman run`
    Podman,
}

/// `--dispatch`: which ready step gets the next free slot.
#[derive(Clone, Copy, ValueEnum, PartialEq, Eq, Default)]
pub enum DispatchArg {
    /// The step that became ready first
    Fifo,
    /// The step with the longest predicted remaining path to the end (from the state
    /// directory's history; without history, as fifo)
    #[default]
    CriticalPath,
}

#[derive(Args)]
pub struct ExecArgs {
    /// At most this many steps run at once (the workflow's own `parallelism` also applies)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    parallelism: Option<u32>,
    /// Which ready step gets the next free slot when more are ready than slots are free
    #[arg(long, value_enum, default_value_t = DispatchArg::CriticalPath)]
    dispatch: DispatchArg,
    /// Where container steps run
    #[arg(long, value_enum, default_value_t = RuntimeArg::Host)]
    runtime: RuntimeArg,
    /// Neither reuse nor record memoized step results
    #[arg(long)]
    no_cache: bool,
    /// Where artifacts are stored: a directory, s3://, gs:// or oss://BUCKET[/PREFIX], or webhdfs://NAMENODE:PORT/PATH
    /// (credentials from each cloud's environment variables: docs/artifacts.md)
    /// [default: $COULER_ARTIFACT_STORE, else the workflow's artifactRepository, else the state
    /// directory]
    #[arg(long, value_name = "LOCATION")]
    artifact_store: Option<String>,
    /// Keep the memoization cache under this size (500Mi, 2G, 4096), evicting by
    /// --cache-policy after each step's outputs enter it [default: $COULER_CACHE_SIZE, else
    /// unbounded]
    #[arg(long, value_name = "SIZE")]
    cache_size: Option<String>,
    /// How cache entries are ranked for eviction: couler, couler-paper, gds, lrc, lru, fifo
    #[arg(long, value_name = "POLICY", default_value = "couler")]
    cache_policy: String,
    /// Output format
    #[arg(long, short, value_enum, default_value_t = Output::Text)]
    output: Output,
}

#[derive(Args)]
pub struct RunArgs {
    /// The workflow spec file
    file: PathBuf,
    /// A workflow param, `NAME=VALUE` (repeatable)
    #[arg(long = "param", short = 'p', value_name = "NAME=VALUE")]
    params: Vec<String>,
    #[command(flatten)]
    state: StateArg,
    #[command(flatten)]
    exec: ExecArgs,
}

#[derive(Args)]
pub struct ResumeArgs {
    /// The run to resume (see `couler runs`)
    run_id: String,
    /// Resume with this spec file in place of the one recorded when the run started (after
    /// fixing it): finished steps are reused where their cache keys still match
    #[arg(long, value_name = "FILE", conflicts_with = "recorded_spec")]
    spec: Option<PathBuf>,
    /// Resume the spec recorded when the run started, even though its file changed since
    #[arg(long)]
    recorded_spec: bool,
    #[command(flatten)]
    state: StateArg,
    #[command(flatten)]
    server: crate::remote::ServerArg,
    #[command(flatten)]
    exec: ExecArgs,
}

#[derive(Args)]
pub struct RunsArgs {
    #[command(subcommand)]
    command: Option<RunsCommand>,
    #[command(flatten)]
    state: StateArg,
    #[command(flatten)]
    server: crate::remote::ServerArg,
    #[arg(long, short, value_enum, default_value_t = Output::Text)]
    output: Output,
}

#[derive(clap::Subcommand)]
pub enum RunsCommand {
    /// Forget a run: its records, logs and work directories, and its pins on cache entries
    /// (refused while it runs)
    Rm {
        /// The run to forget
        run_id: String,
        #[command(flatten)]
        state: StateArg,
        #[command(flatten)]
        server: crate::remote::ServerArg,
    },
}

#[derive(Args)]
pub struct StatusArgs {
    run_id: String,
    #[command(flatten)]
    state: StateArg,
    #[command(flatten)]
    server: crate::remote::ServerArg,
    #[arg(long, short, value_enum, default_value_t = Output::Text)]
    output: Output,
}

#[derive(Args)]
pub struct LogsArgs {
    run_id: String,
    /// A step, or one map instance such as `train[2]`
    step: String,
    /// Keep printing new output until the step finishes
    #[arg(long, short)]
    follow: bool,
    #[command(flatten)]
    state: StateArg,
    #[command(flatten)]
    server: crate::remote::ServerArg,
    #[arg(long, short, value_enum, default_value_t = Output::Text)]
    output: Output,
}

#[derive(Args)]
pub struct StopArgs {
    run_id: String,
    #[command(flatten)]
    state: StateArg,
    #[command(flatten)]
    server: crate::remote::ServerArg,
    #[arg(long, short, value_enum, default_value_t = Output::Text)]
    output: Output,
}

pub(crate) fn parse_params(raw: &[String]) -> Result<Vec<(String, String)>, String> {
    raw.iter()
        .map(|p| match p.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => Err(format!("error: --param `{p}`: write NAME=VALUE")),
        })
        .collect()
}

impl ExecArgs {
    /// `--artifact-store`, else `$COULER_ARTIFACT_STORE` (when set and not empty).
    fn artifact_store(&self) -> Option<String> {
        self.artifact_store
            .clone()
            .or_else(couler_run::default_artifact_store)
    }
}

fn runtime_of(a: RuntimeArg) -> Runtime {
    match a {
        RuntimeArg::Host => Runtime::Host,
        RuntimeArg::Docker => Runtime::Docker,
        RuntimeArg::Podman => Runtime::Podman,
    }
}

/// `couler run FILE`
pub fn run(args: RunArgs) -> u8 {
    let Some(wf) = input::load_or_report(&args.file) else {
        return INVALID;
    };
    let params = match parse_params(&args.params) {
        Ok(p) => p,
        Err(e) => {
            tell!("{e}");
            return INVALID;
        }
    };
    // The run holds this workflow rather than a copy of it (a copy is as big as the spec).
    let wf = std::sync::Arc::new(wf);
    let shared = wf.clone();
    let store = args.exec.artifact_store();
    execute(&wf, args.state.dir(), &args.exec, |opts| async move {
        // Sub-workflow `ref`s are relative to the spec file's directory.
        let opts = RunOptions {
            params,
            spec_dir: Some(spec_dir_of(&args.file)),
            spec_file: Some(args.file.clone()),
            ..opts
        };
        couler_run::run_shared(shared, opts, store.as_deref()).await
    })
}

/// `couler resume RUN`
pub fn resume(args: ResumeArgs) -> u8 {
    if let Some(url) = args.server.url(&args.state) {
        if args.spec.is_some() || args.recorded_spec {
            tell!(
                "error: --spec and --recorded-spec act on a local run; a server resumes the spec it recorded (drop them, or --server and COULER_SERVER)"
            );
            return INVALID;
        }
        return crate::remote::resume(&url, &args.run_id, args.exec.output == Output::Json);
    }
    let dir = args.state.dir();
    let chosen =
        match crate::respec::choose(&dir, &args.run_id, args.spec.as_deref(), args.recorded_spec) {
            Ok(c) => c,
            Err(code) => return code,
        };
    let run_id = args.run_id.clone();
    let store = args.exec.artifact_store();
    let wf = chosen.workflow;
    let new_file = chosen.new_file;
    let wf_ref = &wf;
    execute(&wf, dir, &args.exec, |opts| async move {
        let new = new_file.as_ref().map(|_| wf_ref);
        let opts = RunOptions {
            spec_dir: new_file.as_deref().map(spec_dir_of),
            spec_file: new_file.clone(),
            ..opts
        };
        couler_run::resume_with_spec(&run_id, opts, store.as_deref(), new).await
    })
}

/// The directory sub-workflow `ref`s of the spec file `file` are relative to.
fn spec_dir_of(file: &Path) -> PathBuf {
    file.parent()
        .filter(|d| !d.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

fn execute<F, Fut>(wf: &Workflow, state_dir: PathBuf, exec: &ExecArgs, go: F) -> u8
where
    F: FnOnce(RunOptions) -> Fut,
    Fut: std::future::Future<Output = Result<RunReport, Error>>,
{
    let runtime = runtime_of(exec.runtime);
    if let Some(engine) = runtime.engine()
        && !couler_run::runner::on_path(engine)
    {
        tell!(
            "error: --runtime {engine}: `{engine}` is not on PATH; install it or use --runtime host"
        );
        return INVALID;
    }
    let has_images = wf
        .steps
        .iter()
        .chain(&wf.on_exit)
        .any(|s| matches!(s.kind, StepKind::Container(_)) && wf.effective_image(s).is_some());
    if runtime == Runtime::Host && has_images {
        tell!(
            "note: the host runtime runs container steps as processes on this machine; their images are not used (run with --runtime docker or podman to use them)"
        );
    }
    let size = exec
        .cache_size
        .clone()
        .or_else(|| std::env::var("COULER_CACHE_SIZE").ok());
    let cache_budget = match crate::cache::budget(size.as_deref(), &exec.cache_policy) {
        Ok(b) => b,
        Err(e) => {
            tell!("error: {e}");
            return INVALID;
        }
    };
    let Some(rt) = tokio_rt() else { return FAILED };
    let json = exec.output == Output::Json;
    rt.block_on(async move {
        let (stop_tx, stop_rx) = watch::channel(false);
        let (ev_tx, ev_rx) = mpsc::unbounded_channel();
        tokio::spawn(watch_signals(stop_tx, !wf.on_exit.is_empty()));
        // Only a terminal shows the estimate (the bar): nothing else reads the history.
        let live = (std::io::stderr().is_terminal() && !json)
            .then(|| crate::eta::LiveEta::new(&state_dir, wf))
            .flatten();
        // What the display needs of the workflow (names, levels), not a copy of it.
        let mut progress = Progress::new(wf, json);
        progress.live = live;
        let display = tokio::spawn(display(progress, ev_rx));
        let opts = RunOptions {
            parallelism: exec.parallelism.map(|p| p as usize),
            runtime,
            use_cache: !exec.no_cache,
            events: Some(ev_tx),
            // The final table reads the rows from the state; JSON prints the report's.
            report_steps: json,
            cache_budget,
            dispatch: match exec.dispatch {
                DispatchArg::Fifo => couler_run::Dispatch::Fifo,
                DispatchArg::CriticalPath => couler_run::Dispatch::CriticalPath,
            },
            ..RunOptions::new(state_dir, stop_rx)
        };
        let result = go(opts).await;
        let _ = display.await;
        match result {
            Ok(report) => {
                print_report(&report, json);
                match report.status {
                    RunStatus::Succeeded => OK,
                    _ => FAILED,
                }
            }
            Err(e) => {
                if json {
                    say!(
                        "{}",
                        serde_json::json!({"error": e.to_string(), "status": "Error"})
                    );
                }
                tell!("error: {e}");
                exit::of_error(&e)
            }
        }
    })
}

/// Ctrl-C and SIGTERM (`couler stop`) stop the run: every step's process group gets SIGTERM,
/// then SIGKILL after a grace period; the exit handler still runs. A second signal stops the
/// exit handler too (a run without one ends at once); a third ends at once. Ending at once
/// keeps the state database consistent: `resume` picks up.
async fn watch_signals(stop: watch::Sender<bool>, has_exit_handler: bool) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return;
    };
    let mut next = async || {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
    };
    next().await;
    if has_exit_handler {
        tell!(
            "stopping: every running step gets SIGTERM (SIGKILL after 5s), then the exit handler runs; Ctrl-C again stops it too"
        );
    } else {
        tell!("stopping: every running step gets SIGTERM (SIGKILL after 5s)…");
    }
    let _ = stop.send(true);
    next().await;
    if has_exit_handler {
        tell!(
            "stopping the exit handler too: its running step gets SIGTERM (SIGKILL after 5s); Ctrl-C again ends at once"
        );
        let _ = stop.send(true);
        next().await;
    }
    std::process::exit(exit::INTERRUPTED.into());
}

fn symbol(s: StepStatus) -> &'static str {
    match s {
        StepStatus::Succeeded => "✓",
        StepStatus::Cached => "≡",
        StepStatus::Skipped => "○",
        StepStatus::Failed | StepStatus::Error => "✗",
        StepStatus::Omitted => "-",
        StepStatus::Pending | StepStatus::Running => "…",
    }
}

/// Live progress: a bar on a terminal, plain lines otherwise; step output on stdout.
async fn display(mut p: Progress, mut rx: mpsc::UnboundedReceiver<Event>) {
    while let Some(ev) = rx.recv().await {
        match ev {
            Event::Started { node } => p.started(node),
            Event::Finished {
                node,
                status,
                seconds,
                message,
                stdout,
            } => p.finished(
                &node,
                status,
                seconds,
                message.as_deref(),
                stdout.as_deref(),
            ),
            Event::Anomaly { message, .. } if !p.json => p.say(message),
            Event::Anomaly { .. } => {}
        }
        p.update_bar();
    }
    if let Some(b) = p.bar {
        b.finish_and_clear();
    }
}

/// What the live display knows of a run: its top-level steps, their levels (for the estimate of
/// what is left), what has ended and what runs.
struct Progress {
    top: std::collections::BTreeSet<String>,
    level_of: BTreeMap<String, usize>,
    max_level: usize,
    start: Instant,
    json: bool,
    bar: Option<ProgressBar>,
    counts: BTreeMap<&'static str, usize>,
    running: std::collections::BTreeSet<String>,
    ran_secs: Vec<f64>,
    done_levels: Vec<usize>,
    /// The estimate from the state directory's history, when it predicts the run's steps.
    live: Option<crate::eta::LiveEta>,
}

impl Progress {
    fn new(wf: &Workflow, json: bool) -> Progress {
        let top: std::collections::BTreeSet<String> = wf
            .steps
            .iter()
            .chain(&wf.on_exit)
            .map(|s| s.name.clone())
            .collect();
        // Steps left on the longest remaining chain, for the estimate.
        let levels = couler_ir::Graph::new(wf).levels().unwrap_or_default();
        let level_of = wf
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| (s.name.clone(), levels.get(i).copied().unwrap_or(0)))
            .collect();
        let tty = std::io::stderr().is_terminal() && !json;
        let bar = tty.then(|| {
            let b = ProgressBar::new(top.len() as u64);
            b.set_style(
                ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {pos}/{len} {wide_msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            b.enable_steady_tick(Duration::from_millis(200));
            b
        });
        Progress {
            top,
            level_of,
            max_level: levels.iter().copied().max().unwrap_or(0),
            start: Instant::now(),
            json,
            bar,
            counts: BTreeMap::new(),
            running: Default::default(),
            ran_secs: Vec::new(),
            done_levels: Vec::new(),
            live: None,
        }
    }

    /// A line for the user: above the bar on a terminal, else on stderr.
    fn say(&self, line: String) {
        match &self.bar {
            Some(b) => b.println(line),
            None => tell!("{line}"),
        }
    }

    fn started(&mut self, node: String) {
        if self.bar.is_none() && !self.json {
            let t = self.start.elapsed().as_secs_f64();
            self.say(format!("[{t:>7.1}s] start {node}"));
        }
        if let Some(l) = &mut self.live {
            l.started(&node);
        }
        self.running.insert(node);
    }

    fn finished(
        &mut self,
        node: &str,
        status: StepStatus,
        seconds: f64,
        message: Option<&str>,
        stdout: Option<&Path>,
    ) {
        self.running.remove(node);
        if let Some(l) = &mut self.live {
            l.finished(node);
        }
        if self.top.contains(node) {
            *self.counts.entry(status.as_str()).or_default() += 1;
            if let Some(l) = self.level_of.get(node) {
                self.done_levels.push(*l);
            }
            if let Some(b) = &self.bar {
                b.inc(1);
            }
        }
        if seconds > 0.0 {
            self.ran_secs.push(seconds);
        }
        if self.json {
            return;
        }
        let mut line = format!(
            "[{:>7.1}s] {} {node} {}",
            self.start.elapsed().as_secs_f64(),
            symbol(status),
            status.as_str()
        );
        if seconds > 0.0 {
            line.push_str(&format!(" ({seconds:.2}s)"));
        }
        if let Some(m) = message
            && status != StepStatus::Succeeded
        {
            line.push_str(&format!(": {m}"));
        }
        self.say(line);
        if let Some(p) = stdout {
            // Its last lines, read from the log's end: a long log costs no memory.
            let (lines, earlier) = couler_run::logfile::last_lines(p, 40).unwrap_or_default();
            if earlier {
                say!("    … earlier lines in {}", p.display());
            }
            for l in &lines {
                say!("    {l}");
            }
        }
    }

    /// The bar's message: counts by status, what runs, and an estimate of the time left.
    fn update_bar(&mut self) {
        let Some(b) = &self.bar else {
            return;
        };
        let from_history = self.live.as_mut().map(|l| l.left());
        let mean = if self.ran_secs.is_empty() {
            0.0
        } else {
            self.ran_secs.iter().sum::<f64>() / self.ran_secs.len() as f64
        };
        let reached = self.done_levels.iter().copied().max().unwrap_or(0);
        let left = (self.max_level + 1).saturating_sub(reached) as f64 * mean;
        let left = match from_history {
            Some(h) => format!("~{h:.0}s left (history)"),
            None => format!("~{left:.0}s left"),
        };
        let counts: Vec<String> = self
            .counts
            .iter()
            .map(|(k, v)| format!("{v} {k}"))
            .collect();
        let run: Vec<&str> = self.running.iter().take(4).map(String::as_str).collect();
        b.set_message(format!(
            "{} · running: {}{} · {left}",
            counts.join(", "),
            run.join(", "),
            if self.running.len() > 4 { ", …" } else { "" }
        ));
    }
}

/// A row's exit code, `-` without one.
fn exit_of(r: &couler_run::StepRecord) -> String {
    r.exit_code.map_or_else(|| "-".into(), |c| c.to_string())
}

fn fmt_secs(r: &couler_run::StepRecord) -> String {
    match (r.started_at, r.finished_at) {
        (Some(a), Some(b)) => format!("{:.2}s", (b - a).max(0.0)),
        _ => "-".to_string(),
    }
}

fn print_report(report: &RunReport, json: bool) {
    if json {
        say!(
            "{}",
            serde_json::to_string_pretty(report).unwrap_or_default()
        );
        return;
    }
    let state = open_existing(&report.state_dir);
    let steps = match &state {
        Ok(state) => Steps::Stored(state, &report.run_id),
        Err(e) => {
            tell!("error: cannot read the run's steps: {e}");
            Steps::Listed(&report.steps)
        }
    };
    print_outcome(
        steps,
        &Outcome {
            run_id: &report.run_id,
            status: report.status.as_str(),
            seconds: report.seconds,
            message: report.message.as_deref(),
            place: format!("state: {}", report.state_dir.display()),
            resume: format!("couler resume {}", report.run_id),
        },
    );
}

/// How a run ended, as `run` and `resume` print it below its steps.
pub(crate) struct Outcome<'a> {
    pub run_id: &'a str,
    pub status: &'a str,
    pub seconds: f64,
    pub message: Option<&'a str>,
    /// Where it ran: `state: DIR`, `server: URL`.
    pub place: String,
    /// The command that resumes it.
    pub resume: String,
}

/// Where the steps of an ended run come from.
pub(crate) enum Steps<'a> {
    /// Rows at hand (a server's answer).
    Listed(&'a [couler_run::StepRecord]),
    /// A local run's rows in its state, read one at a time as they are printed.
    Stored(&'a couler_run::State, &'a str),
}

/// The steps of an ended run and its outcome (`couler run`, `resume`, `submit --watch`); a
/// wide map's instances counted (`summary.rs`).
pub(crate) fn print_outcome(steps: Steps<'_>, o: &Outcome) {
    say!();
    say!(
        "{:<32} {:<10} {:>9} {:>8} {:>5}  message",
        "step",
        "status",
        "time",
        "attempts",
        "exit"
    );
    let read = match steps {
        Steps::Listed(rows) => {
            let mut summary = Summary::of(rows);
            for r in rows {
                summary.lines(r, print_line);
            }
            Ok(())
        }
        Steps::Stored(state, run_id) => state.instance_counts(run_id).and_then(|counts| {
            let mut summary = Summary::new(counts);
            state.each_step(run_id, |r| summary.lines(&r, print_line))
        }),
    };
    if let Err(e) = read {
        tell!("error: {e}");
    }
    say!(
        "\nrun {} {} in {:.1}s{} ({})",
        o.run_id,
        o.status,
        o.seconds,
        o.message.map(|m| format!(": {m}")).unwrap_or_default(),
        o.place
    );
    if o.status != RunStatus::Succeeded.as_str() {
        say!("resume it with: {}", o.resume);
    }
}

/// One line of the final table.
fn print_line(line: Line<'_>) {
    let s = match line {
        Line::Row(s) => s,
        Line::Instances {
            step,
            count,
            by_status,
        } => {
            let counts: Vec<String> = by_status.iter().map(|(k, n)| format!("{n} {k}")).collect();
            say!(
                "{:<32} {count} instances: {} (`couler status` lists each)",
                format!("{step}[…]"),
                counts.join(", ")
            );
            return;
        }
    };
    say!(
        "{:<32} {:<10} {:>9} {:>8} {:>5}  {}",
        s.node,
        s.status,
        fmt_secs(s),
        s.attempts,
        exit_of(s),
        s.message.as_deref().unwrap_or("")
    );
}

/// A read of the state store (synchronous: no async runtime to start), its error printed.
fn query<T>(f: impl FnOnce() -> Result<T, Error>) -> Result<T, u8> {
    f().map_err(|e| {
        tell!("error: {e}");
        exit::of_error(&e)
    })
}

/// `couler runs`
pub fn runs(args: RunsArgs) -> u8 {
    if let Some(RunsCommand::Rm {
        run_id,
        state,
        server,
    }) = args.command
    {
        return match server.url(&state) {
            Some(url) => crate::remote::forget(&url, &run_id),
            None => forget(&state.dir(), &run_id),
        };
    }
    if let Some(url) = args.server.url(&args.state) {
        return crate::remote::runs(&url, args.output);
    }
    let dir = args.state.dir();
    let runs = match query(|| open_existing(&dir)?.runs()) {
        Ok(r) => r,
        Err(c) => return c,
    };
    if args.output == Output::Json {
        say!(
            "{}",
            serde_json::to_string_pretty(&runs).unwrap_or_default()
        );
        return OK;
    }
    print_runs(runs.iter().map(|r| {
        (
            r.id.as_str(),
            r.status.as_str(),
            Some(r.started_at),
            r.finished_at,
            r.workflow.as_str(),
        )
    }));
    OK
}

/// The table of `couler runs`: each run's id, status, start, time and workflow.
pub(crate) fn print_runs<'a>(
    rows: impl Iterator<Item = (&'a str, &'a str, Option<f64>, Option<f64>, &'a str)>,
) {
    say!(
        "{:<40} {:<11} {:<20} {:>10}  workflow",
        "run",
        "status",
        "started (UTC)",
        "time"
    );
    for (id, status, started, finished, workflow) in rows {
        let secs = started
            .zip(finished)
            .map(|(s, f)| format!("{:.1}s", f - s))
            .unwrap_or_else(|| "-".into());
        say!(
            "{:<40} {:<11} {:<20} {:>10}  {}",
            id,
            status,
            started.map_or_else(|| "-".into(), utc_time),
            secs,
            workflow
        );
    }
}

/// `couler runs rm RUN`
fn forget(dir: &Path, run_id: &str) -> u8 {
    if let Err(e) = open_existing(dir) {
        tell!("error: {e}");
        return exit::of_error(&e);
    }
    let Some(rt) = tokio_rt() else { return FAILED };
    match rt.block_on(couler_run::forget_run(dir, run_id)) {
        Ok(ids) => {
            say!(
                "forgot run {run_id}{}",
                match ids.len() {
                    0 | 1 => String::new(),
                    n => format!(" and its {} nested runs", n - 1),
                }
            );
            OK
        }
        Err(e) => {
            tell!("error: {e}");
            exit::of_error(&e)
        }
    }
}

/// Seconds since the Unix epoch as `YYYY-MM-DD HH:MM:SS` (UTC).
fn utc_time(secs: f64) -> String {
    let t = secs.max(0.0) as i64;
    let (days, rem) = (t.div_euclid(86_400), t.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// `couler status RUN`
pub fn status(args: StatusArgs) -> u8 {
    if let Some(url) = args.server.url(&args.state) {
        return crate::remote::status(&url, &args.run_id, args.output);
    }
    let dir = args.state.dir();
    let got = query(|| {
        let state = open_existing(&dir)?;
        let run = state.run(&args.run_id)?.ok_or_else(|| {
            Error::Invalid(format!("no run `{}` in {}", args.run_id, dir.display()))
        })?;
        let steps = state.steps(&args.run_id)?;
        Ok((run, steps))
    });
    let (run, steps) = match got {
        Ok(x) => x,
        Err(c) => return c,
    };
    let eta = crate::eta::of_run(&dir, &run, &steps);
    let anomalies = crate::anomalies::of_run(&dir, &run, &steps);
    if args.output == Output::Json {
        let mut v = serde_json::json!({"run": run, "steps": steps});
        if let Some(e) = &eta {
            v["eta"] = serde_json::json!({"seconds": e.seconds, "unpredicted": e.unpredicted});
        }
        if !anomalies.is_empty() {
            v["anomalies"] = serde_json::json!(anomalies);
        }
        say!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        return OK;
    }
    print_status(
        &run.id,
        &run.workflow,
        &run.status,
        run.message.as_deref(),
        &steps,
    );
    if let Some(e) = eta {
        let lower = match e.unpredicted.len() {
            0 => String::new(),
            n => format!("; at least: {n} steps have no history"),
        };
        say!(
            "eta: {} (critical path over predicted durations{lower})",
            crate::eta::duration_text(e.seconds)
        );
    }
    for a in &anomalies {
        say!("{a}");
    }
    OK
}

/// `couler status`'s text: the run, its message, and a row per step.
pub(crate) fn print_status(
    id: &str,
    workflow: &str,
    status: &str,
    message: Option<&str>,
    steps: &[couler_run::StepRecord],
) {
    say!("run {id} ({workflow}): {status}");
    if let Some(m) = message {
        say!("  {m}");
    }
    say!(
        "{:<32} {:<10} {:>9} {:>8} {:>5} {:>10} {:>8}  message",
        "step",
        "status",
        "time",
        "attempts",
        "exit",
        "peak RSS",
        "cpu"
    );
    for s in steps {
        say!(
            "{:<32} {:<10} {:>9} {:>8} {:>5} {:>10} {:>8}  {}",
            s.node,
            s.status,
            fmt_secs(s),
            s.attempts,
            exit_of(s),
            s.peak_rss_kb
                .map(|k| format!("{:.1}MiB", k as f64 / 1024.0))
                .unwrap_or_else(|| "-".into()),
            s.cpu_seconds
                .map(|c| format!("{c:.2}s"))
                .unwrap_or_else(|| "-".into()),
            s.message.as_deref().unwrap_or("")
        );
    }
}

/// `couler logs RUN STEP [--follow]`: the step's output on standard output, its standard
/// error on standard error (`couler_run::logs`, the reader the server's logs endpoint shares).
pub fn logs(args: LogsArgs) -> u8 {
    use couler_run::logs::{self, LogTarget};
    if let Some(url) = args.server.url(&args.state) {
        return crate::remote::logs(&url, &args.run_id, &args.step, args.follow, args.output);
    }
    let dir = args.state.dir();
    let r: Result<u8, Error> = (|| {
        let state = open_existing(&dir)?;
        let nodes = match logs::target(&state, &args.run_id, &args.step)? {
            LogTarget::NoRun => {
                return Err(Error::Invalid(format!(
                    "no run `{}` in {}",
                    args.run_id,
                    dir.display()
                )));
            }
            LogTarget::NoStep => {
                return Err(Error::Invalid(format!(
                    "run `{}` has no step `{}` that started",
                    args.run_id, args.step
                )));
            }
            LogTarget::Nodes(n) => n,
        };
        if args.output == Output::Json {
            let mut out = std::io::stdout().lock();
            logs_json(&nodes, &mut out)
                .and_then(|()| out.flush())
                .map_err(|e| Error::Io(format!("cannot write the logs: {e}")))?;
            return Ok(OK);
        }
        let mut sink = StdSink(std::io::stdout(), std::io::stderr());
        match logs::write(&state, &args.run_id, &nodes, args.follow, &mut sink) {
            Ok(()) => Ok(OK),
            // A closed pipe (`couler logs … | head`) ends the printing quietly.
            Err(e) if e.reader_gone() => Ok(OK),
            Err(logs::LogsError::State(e)) => Err(e),
            // A cut-short copy (a full disk under the output) never passes for the whole log.
            Err(e) => Err(Error::Io(e.to_string())),
        }
    })();
    r.unwrap_or_else(|e| {
        tell!("error: {e}");
        exit::of_error(&e)
    })
}

/// Standard output and standard error, where `couler logs` prints.
struct StdSink(std::io::Stdout, std::io::Stderr);

impl couler_run::logs::LogSink for StdSink {
    fn out(&mut self) -> &mut dyn Write {
        &mut self.0
    }
    fn err(&mut self) -> &mut dyn Write {
        &mut self.1
    }
}

/// `couler logs --output json`: a JSON list of the nodes with their logs as strings, each
/// streamed from its file (a missing log is `null`).
fn logs_json(nodes: &[couler_run::StepRecord], out: &mut impl Write) -> std::io::Result<()> {
    out.write_all(b"[")?;
    for (i, s) in nodes.iter().enumerate() {
        let head = serde_json::json!({"node": s.node, "status": s.status, "logDir": s.log_dir});
        let head = head.to_string();
        // The object without its closing brace, then the two logs.
        write!(
            out,
            "{}\n  {},",
            if i > 0 { "," } else { "" },
            &head[..head.len() - 1]
        )?;
        let (o, e) = s
            .log_dir
            .as_deref()
            .map(couler_run::logs::log_files)
            .unzip();
        for (name, file) in [("stdout", o), ("stderr", e)] {
            write!(out, "\"{name}\":")?;
            match file {
                Some(f) => couler_run::logfile::write_json_string(&f, out)?,
                None => out.write_all(b"null")?,
            }
            out.write_all(if name == "stdout" { b"," } else { b"}" })?;
        }
    }
    out.write_all(b"\n]\n")
}

/// `couler stop RUN`
pub fn stop(args: StopArgs) -> u8 {
    if let Some(url) = args.server.url(&args.state) {
        return crate::remote::stop(&url, &args.run_id, args.output);
    }
    let dir = args.state.dir();
    let run = match query(|| {
        let state = open_existing(&dir)?;
        state
            .run(&args.run_id)?
            .ok_or_else(|| Error::Invalid(format!("no run `{}` in {}", args.run_id, dir.display())))
    }) {
        Ok(r) => r,
        Err(c) => return c,
    };
    let pid = run.pid.unwrap_or(0) as i32;
    // The read above shows a run whose executor is gone as Interrupted, so a Running one has
    // its executor alive (pid, start time and the state directory's lock); the signal goes
    // through a pidfd checked against the start time, so a reused pid is never signalled.
    let signalled = run.status == RunStatus::Running.as_str()
        && couler_run::signal_if_same(pid, run.pid_start, libc::SIGTERM);
    if args.output == Output::Json {
        say!(
            "{}",
            serde_json::json!({"runId": run.id, "status": run.status, "signalled": signalled, "pid": pid})
        );
    } else if signalled {
        say!("stopping run {} (executor pid {pid})", run.id);
    } else if run.status == couler_run::INTERRUPTED {
        say!(
            "run {id} was interrupted: its executor (pid {pid}) is gone, so nothing runs and there is nothing to stop; \
             `couler resume {id}` continues it, `couler runs rm {id}` forgets it",
            id = run.id
        );
    } else {
        say!(
            "run {} is not running (status {}); nothing to stop",
            run.id,
            run.status
        );
    }
    OK
}
