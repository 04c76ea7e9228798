//! `couler generate`: a workflow spec from a description in natural language (docs/generate.md),
//! through an OpenAI-compatible endpoint or the replay of a log. The pipeline is
//! `couler_generate`'s; this file holds the flags, the files and what the user is told.

use crate::commands::write_atomically;
use crate::model_args::ModelArgs;
use crate::say::tell;
use clap::{Args, Subcommand, ValueEnum};
use couler_generate::lake;
use couler_generate::pipeline::{self, Asker, Config, Outcome};
use couler_generate::retrieve::{self, Retriever};
use couler_model::Model;
use couler_model::log::Log;
use std::path::{Path, PathBuf};

/// Arguments of `couler generate`.
#[derive(Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct GenerateArgs {
    #[command(subcommand)]
    command: Option<GenerateCommand>,
    /// What the workflow should do, in plain words
    #[arg(required = true)]
    description: Option<String>,
    /// Write the spec here (its log beside it, FILE.generate.jsonl); stdout if absent (the log
    /// then goes to ./couler-generate.jsonl)
    #[arg(long, short)]
    output: Option<PathBuf>,
    /// Generate from the whole description at once, not sub-task by sub-task
    #[arg(long)]
    no_decompose: bool,
    /// Put no Code Lake entries in the prompts
    #[arg(long)]
    no_retrieve: bool,
    /// Check the spec, but send no diagnostics back to the model
    #[arg(long)]
    no_calibrate: bool,
    /// Show the spec and its diagnostics, read a comment from stdin and revise; an empty line
    /// accepts
    #[arg(long)]
    interactive: bool,
    #[command(flatten)]
    ask: AskArgs,
}

#[derive(Subcommand)]
enum GenerateCommand {
    /// Evaluate the pipeline on a task set: each task generated with the full pipeline and each
    /// ablation, checked against its structural expectations; pass@1, pass@k and pass@1 per
    /// difficulty for each variant (docs/generate.md, "Evaluation")
    Eval(EvalArgs),
}

/// Arguments of `couler generate eval`.
#[derive(Args)]
struct EvalArgs {
    /// The task set: a YAML list of `description:`, `difficulty:`, `expect:` (the shipped one is
    /// crates/couler-generate/tasks/ml-workflows.yaml); the log is FILE.generate.jsonl
    #[arg(long, value_name = "FILE")]
    tasks: PathBuf,
    /// Generate each task this many times per variant (k of pass@k); more than one samples each
    /// question with the sample's number as seed, at temperature 0.8
    #[arg(long, value_name = "K", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000))]
    samples: u32,
    /// The report as a Markdown table or JSON
    #[arg(long, value_enum, default_value_t = EvalFormat::Markdown)]
    format: EvalFormat,
    #[command(flatten)]
    ask: AskArgs,
}

/// How the model is asked, generating or evaluating.
#[derive(Args)]
struct AskArgs {
    /// The engine the spec must compile for
    #[arg(long, short, value_enum, default_value_t = GenTarget::Argo)]
    target: GenTarget,
    #[command(flatten)]
    model: ModelArgs,
    /// The most calibration rounds: the checks' diagnostics sent back to the model
    #[arg(long, default_value_t = 3)]
    rounds: u32,
    /// The Code Lake: the root of a Couler checkout (examples/, docs/spec.md, zoo/) [default:
    /// the examples and spec built into couler]
    #[arg(long, value_name = "DIR")]
    lake: Option<PathBuf>,
    /// Code Lake entries retrieved for each sub-task
    #[arg(long, default_value_t = 3)]
    top_k: usize,
    /// How the Code Lake is ranked: sentence embeddings (all-MiniLM-L6-v2; fetched by
    /// scripts/embedding-deps, $COULER_EMBEDDING_MODEL names its directory), BM25, or `auto`:
    /// the embeddings where they can run, else BM25
    #[arg(long, value_enum, default_value_t = RetrieverArg::Auto)]
    retriever: RetrieverArg,
}

/// `--retriever`.
#[derive(Clone, Copy, ValueEnum)]
enum RetrieverArg {
    Auto,
    Bm25,
    Embeddings,
}

/// How `couler generate eval` reports.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum EvalFormat {
    Markdown,
    Json,
}

/// The engines a generated spec is checked for.
#[derive(Clone, Copy, ValueEnum)]
enum GenTarget {
    Argo,
    Airflow,
    Tekton,
    Local,
}

impl GenTarget {
    fn name(self) -> &'static str {
        match self {
            GenTarget::Argo => "argo",
            GenTarget::Airflow => "airflow",
            GenTarget::Tekton => "tekton",
            GenTarget::Local => "local",
        }
    }
}

/// What both generating and evaluating ask with: the model, the Code Lake, the log.
struct Session {
    model: Box<dyn Model>,
    lake: Vec<lake::Entry>,
    retriever: Box<dyn Retriever + Send + Sync>,
    log: Log,
    log_path: PathBuf,
}

impl Session {
    /// The model and lake `ask` names, and a log at `{out}.generate.jsonl` (none on a replay);
    /// an error is printed and its exit code returned.
    fn open(ask: &AskArgs, out: Option<&Path>) -> Result<Session, u8> {
        let fail = |e: String| {
            tell!("error: {e}");
            crate::exit::INVALID
        };
        let model = ask.model.open().map_err(fail)?;
        let lake = lake_of(ask).map_err(fail)?;
        let log_path = match out {
            Some(out) => PathBuf::from(format!("{}.generate.jsonl", out.display())),
            None => PathBuf::from("couler-generate.jsonl"),
        };
        let log = match ask.model.replay {
            Some(_) => Log::none(),
            None => Log::create(&log_path).map_err(fail)?,
        };
        tell!("generate: asking {}", model.describe());
        let kind = match ask.retriever {
            RetrieverArg::Auto => retrieve::Kind::Auto,
            RetrieverArg::Bm25 => retrieve::Kind::Bm25,
            RetrieverArg::Embeddings => retrieve::Kind::Embeddings,
        };
        let docs: Vec<&str> = lake.iter().map(|e| e.text.as_str()).collect();
        let (retriever, which) = retrieve::best(kind, &docs)
            .map_err(|e| fail(format!("--retriever embeddings: {e}")))?;
        tell!("generate: retrieving by {which}");
        Ok(Session {
            model,
            lake,
            retriever,
            log,
            log_path,
        })
    }
}

/// Runs `couler generate`; returns the exit code.
pub fn run(args: &GenerateArgs) -> u8 {
    if let Some(GenerateCommand::Eval(eval)) = &args.command {
        return evaluate(eval);
    }
    let description = args.description.as_deref().unwrap_or_default();
    if description.trim().is_empty() {
        tell!(
            "error: the description is empty: say what the workflow should do, e.g. couler generate \"train a model on iris, publish it if accuracy > 0.9\""
        );
        return crate::exit::INVALID;
    }
    let mut session = match Session::open(&args.ask, args.output.as_deref()) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let config = Config {
        target: args.ask.target.name().to_string(),
        rounds: args.ask.rounds,
        decompose: !args.no_decompose,
        retrieve: !args.no_retrieve,
        calibrate: !args.no_calibrate,
        top_k: args.ask.top_k,
        // The file's name without its directory, so a replay elsewhere asks the same questions.
        file: args
            .output
            .as_deref()
            .and_then(Path::file_name)
            .map_or("generated.yaml".into(), |n| {
                n.to_string_lossy().into_owned()
            }),
    };
    let mut progress = |line: &str| tell!("generate: {line}");
    let (lake, retriever) = (&session.lake, session.retriever.as_ref());
    let mut asker = Asker {
        model: session.model.as_ref(),
        log: &mut session.log,
        progress: &mut progress,
        seed: None,
    };
    let outcome =
        pipeline::run(description, &config, lake, retriever, &mut asker).and_then(|outcome| {
            if !args.interactive {
                return Ok(outcome);
            }
            let stdin = std::io::stdin();
            couler_generate::feedback::interact(
                description,
                outcome,
                &config,
                &mut asker,
                &mut stdin.lock(),
                &mut std::io::stderr(),
            )
        });
    match outcome {
        Ok(outcome) => finish(
            args,
            &config,
            &outcome,
            (args.ask.model.replay.is_none()).then_some(&session.log_path),
        ),
        Err(e) => {
            tell!("error: {e}");
            crate::exit::FAILED
        }
    }
}

/// `couler generate eval --tasks FILE`: the report on stdout.
fn evaluate(args: &EvalArgs) -> u8 {
    let name = args.tasks.display().to_string();
    let tasks = match std::fs::read_to_string(&args.tasks)
        .map_err(|e| format!("cannot read {name}: {e}"))
        .and_then(|text| couler_generate::eval::read_tasks(&name, &text))
    {
        Ok(tasks) => tasks,
        Err(e) => {
            tell!("error: {e}");
            return crate::exit::INVALID;
        }
    };
    let mut session = match Session::open(&args.ask, Some(&args.tasks)) {
        Ok(s) => s,
        Err(code) => return code,
    };
    // Each variant sets the stages itself.
    let config = Config {
        target: args.ask.target.name().to_string(),
        rounds: args.ask.rounds,
        decompose: true,
        retrieve: true,
        calibrate: true,
        top_k: args.ask.top_k,
        file: "generated.yaml".into(),
    };
    let mut progress = |line: &str| tell!("generate: {line}");
    let mut asker = Asker {
        model: session.model.as_ref(),
        log: &mut session.log,
        progress: &mut progress,
        seed: None,
    };
    let rows = couler_generate::eval::run(
        &tasks,
        args.samples as usize,
        &config,
        &session.lake,
        session.retriever.as_ref(),
        &mut asker,
    );
    out(&match args.format {
        EvalFormat::Markdown => couler_generate::eval::markdown(&rows),
        EvalFormat::Json => {
            let mut text = serde_json::to_string_pretty(&couler_generate::eval::json(&rows))
                .unwrap_or_default();
            text.push('\n');
            text
        }
    });
    crate::exit::OK
}

/// Writes the spec when it is valid; else the best attempt beside the output, named invalid.
fn finish(args: &GenerateArgs, config: &Config, outcome: &Outcome, log: Option<&PathBuf>) -> u8 {
    let log_note = log.map_or(String::new(), |l| format!("; the log is {}", l.display()));
    for w in &outcome.check.warnings {
        crate::say::err_raw(w);
    }
    if outcome.check.is_valid() {
        match &args.output {
            None => out(&outcome.spec),
            Some(path) => {
                if let Err(e) = write_atomically(path, &outcome.spec) {
                    tell!("error: cannot write {}: {e}", path.display());
                    return crate::exit::INVALID;
                }
                tell!(
                    "generate: wrote {} (valid for {}){log_note}",
                    path.display(),
                    config.target
                );
            }
        }
        return crate::exit::OK;
    }
    for e in &outcome.check.errors {
        crate::say::err_raw(e);
    }
    let invalid = invalid_path(args.output.as_deref());
    let saved = match write_atomically(&invalid, &outcome.spec) {
        Ok(()) => format!("the best attempt is in {}", invalid.display()),
        Err(e) => format!("the best attempt could not be saved ({e})"),
    };
    tell!(
        "error: no valid workflow for {} after {} calibration round(s) ({} error(s) above); {saved}{log_note}; give more --rounds, a stronger --model, or --interactive to guide it",
        config.target,
        if config.calibrate { config.rounds } else { 0 },
        outcome.check.errors.len()
    );
    crate::exit::FAILED
}

/// Writes `text` to stdout; SIGPIPE is ignored here (the command uses sockets), so a closed
/// stdout is dropped rather than a panic.
fn out(text: &str) {
    use std::io::Write;
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

/// `wf.yaml` → `wf.invalid.yaml` (`generated.invalid.yaml` without an output).
fn invalid_path(output: Option<&Path>) -> PathBuf {
    let Some(out) = output else {
        return PathBuf::from("generated.invalid.yaml");
    };
    let stem = out.file_stem().unwrap_or_default().to_string_lossy();
    out.with_file_name(format!("{stem}.invalid.yaml"))
}

fn lake_of(args: &AskArgs) -> Result<Vec<lake::Entry>, String> {
    match &args.lake {
        Some(dir) => lake::read(dir),
        None => Ok(lake::builtin()),
    }
}
