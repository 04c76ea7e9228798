//! `couler`: the command-line interface of Couler.
//!
//! Exit codes, for every command: `exit.rs`.

mod alloc;
mod anomalies;
mod cache;
mod child_run;
mod commands;
mod compile;
mod engine_check;
mod eta;
mod exit;
mod generate;
mod history;
mod input;
mod launch;
mod lowering;
mod model_args;
mod optimize;
mod remote;
mod respec;
mod rightsize;
mod runtime;
mod say;
mod simulate;
mod simulate_dispatch;
mod split;
mod state_dir;
mod submit;
mod subworkflows;
mod summary;
mod tune;
mod zoo;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// mimalloc for every allocation of the process (docs/performance.md, "Argo compilation"), large
/// blocks mapped by the kernel (`alloc.rs`).
#[global_allocator]
static ALLOCATOR: alloc::Allocator = alloc::Allocator;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "couler",
    version,
    about = "Write an ML workflow once; validate, inspect and run it anywhere",
    long_about = "Couler turns one engine-independent workflow spec into runs on Argo Workflows, \
Apache Airflow, Tekton, or the embedded local runtime.",
    after_help = exit::summary(),
    propagate_version = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check spec files for errors; exit 0 if all are valid, 2 otherwise
    ///
    /// With --target, also the engine's checks, as `couler compile --target` makes them
    /// (unsupported features, missing images, size limits, conditions whose meaning would
    /// change), writing nothing.
    Validate {
        /// Spec files (YAML, or JSON with a .json extension); `-` reads YAML from stdin
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[command(flatten)]
        output: OutputArg,
        /// Also run this engine's checks: the files must compile for it
        #[arg(long, short, value_enum)]
        target: Option<lowering::Target>,
        /// The lowering, as for `couler compile` (with --target)
        #[command(flatten)]
        lowering: lowering::LoweringArgs,
    },
    /// Show a workflow's dependency graph
    Graph {
        file: PathBuf,
        /// text: levels and dependencies; dot: Graphviz; mermaid: for Markdown
        #[arg(long, short, value_enum, default_value_t = GraphFormat::Text)]
        format: GraphFormat,
    },
    /// Rewrite spec files in canonical form (field order, quoting, defaults omitted)
    Fmt {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Do not write; exit 1 if any file is not in canonical form
        #[arg(long, conflicts_with = "stdout")]
        check: bool,
        /// Print the canonical form instead of rewriting the file
        #[arg(long)]
        stdout: bool,
        /// Drop the files' comments (by default each is kept with the node it stands before,
        /// or after on the same line)
        #[arg(long)]
        drop_comments: bool,
    },
    /// Turn another format into a Couler workflow
    #[command(subcommand)]
    Import(ImportCommand),
    /// Run a workflow on this machine (embedded local runtime, no engine needed)
    Run(runtime::RunArgs),
    /// Resume a failed, stopped or crashed run; finished steps are not run again (a Couler
    /// server's run with --server URL or $COULER_SERVER, as for runs, status, logs and stop)
    Resume(runtime::ResumeArgs),
    /// List the runs in the state directory (or a Couler server's: --server URL)
    Runs(runtime::RunsArgs),
    /// Show a run's steps: status, time, attempts, exit code, peak RSS, CPU
    Status(runtime::StatusArgs),
    /// Print a step's output (`--follow` while it runs)
    Logs(runtime::LogsArgs),
    /// Stop a running run: its steps' processes are stopped, then the exit handler runs (it sees
    /// `workflow.status` Failed); stopping again stops the exit handler too. Only the run's own
    /// executor is signalled; a run whose executor is gone reads Interrupted (resume it)
    Stop(runtime::StopArgs),
    /// Compile a workflow for an engine (argo, airflow, tekton): `couler compile FILE -t argo -o DIR`
    Compile(compile::CompileArgs),
    /// Write a workflow spec from a description in natural language, calibrated against the
    /// validator and the target's compiler (docs/generate.md)
    Generate(generate::GenerateArgs),
    /// The step zoo: reusable step templates a spec names with `uses: zoo/NAME@VERSION`
    #[command(subcommand)]
    Zoo(zoo::ZooCommand),
    /// Print the capability matrix: which IR features each backend supports, and how
    Backends {
        /// text: aligned columns; markdown: the table of docs/backends.md
        #[arg(long, short, value_enum, default_value_t = TableFormatArg::Text)]
        format: TableFormatArg,
    },
    /// Compile for Argo and create the Workflow through the Kubernetes API (`--kube-server URL`
    /// for another API server), or hand the spec to a Couler server (`--server URL`); `--watch`
    /// to follow
    Submit(submit::SubmitArgs),
    /// Split a workflow too big for an engine into parts that run as one logical workflow
    Split(split::SplitArgs),
    /// Replay traces through cache policies and schedulers
    Simulate(simulate::SimulateArgs),
    /// Hyperparameter tuning: `couler tune bench` compares the search methods on the LCBench
    /// surrogate
    Tune(tune::TuneArgs),
    /// Print what the caching pass decides for a workflow, and why (`couler split` reports
    /// splitting's decisions); `--rightsize`: set each step's resources from its history
    Optimize(optimize::OptimizeArgs),
    /// List the recorded step executions (`couler run` records each step that ran;
    /// `couler history import TRACE...` adds WfCommons traces' tasks)
    History(history::HistoryArgs),
    /// Evaluate the runtime and memory predictors: `couler predict eval --train T... --test T...`
    Predict(history::PredictArgs),
    /// Inspect and trim the local runtime's artifact cache: `couler cache ls|stats|gc`
    Cache(cache::CacheArgs),
    /// Serve the HTTP API: accept workflows, queue them by priority and quota, run them on the
    /// local runtime or on Argo and Airflow clusters, with tokens, roles and an audit log
    /// (docs/server.md); `couler server token create` makes a token
    Server(couler_server::cli::ServerArgs),
    /// Run one step inside an engine's task: stage inputs, run, capture and store outputs
    /// (used by the code `couler compile` generates for Airflow and Tekton)
    Launch(launch::LaunchArgs),
    /// Print a shell completion script, e.g. `couler completions bash > /etc/bash_completion.d/couler`
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(Subcommand)]
enum ImportCommand {
    /// Import a WfCommons WfFormat execution trace as a runnable replay workflow
    Wfformat {
        /// The trace (WfFormat 1.4 or 1.5 JSON)
        trace: PathBuf,
        /// Where to write the workflow (.yaml or .json); stdout if absent
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// Multiply every recorded runtime by this factor (0 replays the DAG without sleeping)
        #[arg(long, default_value_t = 1.0)]
        time_scale: f64,
        /// Multiply every recorded file size by this factor
        #[arg(long, default_value_t = 1.0)]
        size_scale: f64,
        /// Workflow name (default: from the trace)
        #[arg(long)]
        name: Option<String>,
    },
}

#[derive(Args)]
struct OutputArg {
    /// Output format
    #[arg(long, short, value_enum, default_value_t = OutputFormat::Text)]
    output: OutputFormat,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum OutputFormat {
    Text,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum TableFormatArg {
    Text,
    Markdown,
}

#[derive(Clone, Copy, ValueEnum)]
enum GraphFormat {
    Text,
    Dot,
    Mermaid,
}

impl Command {
    /// Whether the command writes to network sockets itself (cloud artifact stores, the
    /// Kubernetes API), where a peer closing a connection raises SIGPIPE too.
    fn uses_sockets(&self) -> bool {
        matches!(
            self,
            Command::Run(_)
                | Command::Resume(_)
                | Command::Launch(_)
                | Command::Submit(_)
                | Command::Server(_)
                | Command::Generate(_)
        )
    }

    /// Whether the command runs steps as processes on this machine.
    fn runs_steps(&self) -> bool {
        matches!(
            self,
            Command::Run(_) | Command::Resume(_) | Command::Launch(_) | Command::Server(_)
        )
    }
}

/// Puts the directory of this executable last on PATH, so a step running `couler` (a tuned
/// step's proposer, `couler tune propose`: docs/tuning.md) finds this one when no other `couler`
/// is on PATH; last, so it never shadows a program the user's PATH finds.
fn own_directory_last_on_path() {
    let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(std::path::Path::to_path_buf))
    else {
        return;
    };
    let mut dirs: Vec<std::path::PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    if dirs.contains(&dir) {
        return;
    }
    dirs.push(dir);
    if let Ok(path) = std::env::join_paths(dirs) {
        // SAFETY: called before this process starts any thread.
        unsafe { std::env::set_var("PATH", path) };
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.command.runs_steps() {
        own_directory_last_on_path();
    }
    // Rust ignores SIGPIPE, which makes every print to a closed pipe (`couler backends | head
    // -1`) a panic; the default action ends the process quietly, as it does other Unix tools.
    // Commands that write to sockets keep it ignored: a closed connection is an error to
    // retry there, not the end of the run. Steps get the default action either way.
    if !cli.command.uses_sockets() {
        // SAFETY: sets a signal disposition before this process starts any thread.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    let code = match cli.command {
        Command::Validate {
            files,
            output,
            target,
            lowering,
        } => commands::validate_with(&files, output.output, |wf, file| {
            target.map(|t| engine_check::check(wf, file, t, &lowering, output.output))
        }),
        Command::Graph { file, format } => commands::graph(&file, format),
        Command::Fmt {
            files,
            check,
            stdout,
            drop_comments,
        } => commands::fmt(&files, check, stdout, drop_comments),
        Command::Import(ImportCommand::Wfformat {
            trace,
            output,
            time_scale,
            size_scale,
            name,
        }) => commands::import_wfformat(&trace, output.as_deref(), time_scale, size_scale, name),
        Command::Run(args) => runtime::run(args),
        Command::Resume(args) => runtime::resume(args),
        Command::Runs(args) => runtime::runs(args),
        Command::Status(args) => runtime::status(args),
        Command::Logs(args) => runtime::logs(args),
        Command::Stop(args) => runtime::stop(args),
        Command::Compile(args) => compile::run(&args),
        Command::Generate(args) => generate::run(&args),
        Command::Backends { format } => compile::backends(match format {
            TableFormatArg::Text => couler_backends::TableFormat::Text,
            TableFormatArg::Markdown => couler_backends::TableFormat::Markdown,
        }),
        Command::Zoo(command) => zoo::run(&command),
        Command::Submit(args) => submit::run(&args),
        Command::Split(args) => split::run(args),
        Command::Simulate(args) => simulate::run(args),
        Command::Tune(args) => tune::run(args),
        Command::Optimize(args) => optimize::run(args),
        Command::Cache(args) => cache::run(args),
        Command::History(args) => history::run(args),
        Command::Predict(args) => history::predict(args),
        Command::Launch(args) => launch::run(args),
        Command::Server(args) => match couler_server::cli::run(args) {
            Ok(()) => exit::OK,
            Err(e) => {
                say::tell!("error: {e}");
                exit::of_error(&e)
            }
        },
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut cmd, "couler", &mut std::io::stdout());
            exit::OK
        }
    };
    ExitCode::from(code)
}
