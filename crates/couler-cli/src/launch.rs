//! `couler launch`: the in-task launcher every Airflow and Tekton task runs (docs/launcher.md).
//! The logic is `couler_run::launch`; this module only parses flags and reports.

use crate::say::{say, tell};
use clap::{Args, Subcommand};
use couler_run::launch::{self, EXIT_OK, EXIT_USAGE, LaunchOptions};
use std::path::PathBuf;

/// Arguments of `couler launch`.
#[derive(Args)]
pub struct LaunchArgs {
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Subcommand)]
enum Mode {
    /// Run one step (or one map instance) and print its outcome JSON as the last stdout line.
    Step(Common),
    /// Print the indices of a mapped step's items as a JSON list (for engines' dynamic mapping).
    Items(Common),
    /// Run a sub-workflow step on Tekton: create the part's PipelineRun and wait for it.
    #[command(name = "pipelinerun")]
    PipelineRun(crate::child_run::PipelineRunArgs),
    /// Evaluate the step's `when` (or --expr) and print `true` or `false`.
    When {
        #[command(flatten)]
        common: Common,
        /// A condition to evaluate instead of the step's `when` (docs/spec.md §11).
        #[arg(long)]
        expr: Option<String>,
    },
}

#[derive(Args)]
struct Common {
    /// The task: @FILE, b64:BASE64 or JSON text (default: $COULER_TASK).
    #[arg(long)]
    task: Option<String>,
    /// The artifact store: a directory, s3://, gs:// or oss://BUCKET[/PREFIX], or webhdfs://NAMENODE:PORT/PATH (default: $COULER_ARTIFACT_STORE,
    /// else the workflow's artifactRepository).
    #[arg(long)]
    store: Option<String>,
    /// Also write the outcome as files here (Tekton results): `status`, `outcome`.
    #[arg(long)]
    results_dir: Option<PathBuf>,
    /// Run in this directory instead of a fresh temporary one (kept afterwards).
    #[arg(long)]
    work_dir: Option<PathBuf>,
    /// Neither read nor write the memoization cache.
    #[arg(long)]
    no_cache: bool,
    /// Exit 0 whatever the step's status (the engine reads the status from the outcome).
    #[arg(long)]
    exit_zero: bool,
    /// Exit with this code when the step is Skipped (default 99); a failed step still exits
    /// non-zero. Tekton tasks pass 0, so a skipped step's task succeeds with its results.
    #[arg(long, value_name = "CODE")]
    skipped_exit_code: Option<u8>,
}

impl Common {
    fn options(&self, expr: Option<String>) -> LaunchOptions {
        LaunchOptions {
            store: self.store.clone(),
            results_dir: self.results_dir.clone(),
            work_dir: self.work_dir.clone(),
            no_cache: self.no_cache,
            expr,
        }
    }
}

/// Runs `couler launch`; returns the exit code (docs/launcher.md, "Exit codes").
pub fn run(args: LaunchArgs) -> u8 {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tell!("couler launch: cannot start the async runtime: {e}");
            return EXIT_USAGE as u8;
        }
    };
    let code = rt.block_on(async {
        match args.mode {
            Mode::Step(c) => step(&c).await,
            Mode::When { common, expr } => when(&common, expr).await,
            Mode::Items(c) => items(&c).await,
            Mode::PipelineRun(a) => crate::child_run::run(a).await,
        }
    });
    code as u8
}

async fn step(c: &Common) -> i32 {
    let opts = c.options(None);
    let outcome = match launch::read_task(c.task.as_deref()) {
        Ok(task) => launch::run_step(&task, &opts).await,
        Err(e) => Err(e),
    };
    let outcome = match outcome {
        Ok(o) => o,
        Err(e) => {
            tell!("couler launch: {e}");
            return EXIT_USAGE;
        }
    };
    if let Some(m) = &outcome.message {
        tell!("couler launch: {}: {m}", outcome.status.as_str());
    }
    if let Some(dir) = &c.results_dir
        && let Err(e) = launch::write_results(dir, &outcome, &opts).await
    {
        tell!("couler launch: {e}");
        return launch::EXIT_ERROR;
    }
    match serde_json::to_string(&outcome) {
        Ok(line) => say!("{line}"),
        Err(e) => {
            tell!("couler launch: cannot print the outcome: {e}");
            return launch::EXIT_ERROR;
        }
    }
    if c.exit_zero {
        EXIT_OK
    } else {
        match (outcome.exit_code(), c.skipped_exit_code) {
            (launch::EXIT_SKIPPED, Some(code)) => i32::from(code),
            (code, _) => code,
        }
    }
}

async fn when(c: &Common, expr: Option<String>) -> i32 {
    let opts = c.options(expr);
    let value = match launch::read_task(c.task.as_deref()) {
        Ok(task) => launch::eval_when(&task, &opts).await,
        Err(e) => Err(e),
    };
    match value {
        Ok(b) => {
            if let Some(dir) = &c.results_dir {
                let written = std::fs::create_dir_all(dir)
                    .and_then(|()| std::fs::write(dir.join("result"), b.to_string()));
                if let Err(e) = written {
                    tell!("couler launch: cannot write {}: {e}", dir.display());
                    return launch::EXIT_ERROR;
                }
            }
            say!("{b}");
            EXIT_OK
        }
        Err(e) => {
            tell!("couler launch: {e}");
            EXIT_USAGE
        }
    }
}

async fn items(c: &Common) -> i32 {
    let opts = c.options(None);
    let listed = match launch::read_task(c.task.as_deref()) {
        Ok(task) => launch::list_items(&task, &opts).await,
        Err(e) => Err(e),
    };
    match listed {
        Ok(v) => {
            say!("{}", serde_json::Value::from(v));
            EXIT_OK
        }
        Err(e) => {
            tell!("couler launch: {e}");
            EXIT_USAGE
        }
    }
}
