//! `couler generate`: a workflow spec from a description in natural language (docs/generate.md),
//! through an OpenAI-compatible endpoint or the replay of a log. The pipeline is
//! `couler_generate`'s; this file holds the flags, the files and what the user is told.

use crate::commands::write_atomically;
use crate::say::tell;
use clap::{Args, ValueEnum};
use couler_generate::lake;
use couler_generate::log::{Log, Replay};
use couler_generate::model::Model;
use couler_generate::model::openai::{DEFAULT_ENDPOINT, OpenAi};
use couler_generate::pipeline::{self, Asker, Config, Outcome};
use couler_generate::retrieve::Bm25;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Arguments of `couler generate`.
#[derive(Args)]
pub struct GenerateArgs {
    /// What the workflow should do, in plain words
    #[arg(required_unless_present = "eval", conflicts_with = "eval")]
    description: Option<String>,
    /// Evaluate instead: generate each task of this file (a YAML list of `description:`,
    /// `difficulty:`, `expect:`) with the full pipeline and each ablation, and print pass@1,
    /// pass@k and pass@1 per difficulty for each variant; the log is TASKS.generate.jsonl
    #[arg(long, value_name = "TASKS", conflicts_with_all = ["output", "interactive"])]
    eval: Option<PathBuf>,
    /// With --eval: generate each task this many times per variant (k of pass@k); more than one
    /// samples each question with the sample's number as seed, at temperature 0.8 [default: 1]
    #[arg(long, value_name = "K", requires = "eval", value_parser = clap::value_parser!(u32).range(1..=1000))]
    samples: Option<u32>,
    /// With --eval: the report as a Markdown table or JSON [default: markdown]
    #[arg(long, value_enum, requires = "eval")]
    format: Option<EvalFormat>,
    /// Write the spec here (its log beside it, FILE.generate.jsonl); stdout if absent (the log
    /// then goes to ./couler-generate.jsonl)
    #[arg(long, short)]
    output: Option<PathBuf>,
    /// The engine the spec must compile for
    #[arg(long, short, value_enum, default_value_t = GenTarget::Argo)]
    target: GenTarget,
    /// The model to ask
    #[arg(long, default_value = "gpt-4o-mini")]
    model: String,
    /// The base URL of an OpenAI-compatible API [default: $OPENAI_BASE_URL, else
    /// https://api.openai.com/v1]; the key is $OPENAI_API_KEY
    #[arg(long, value_name = "URL")]
    endpoint: Option<String>,
    /// The most calibration rounds: the checks' diagnostics sent back to the model
    #[arg(long, default_value_t = 3)]
    rounds: u32,
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
    /// Answer from this log (FILE.generate.jsonl) instead of a model: the same description and
    /// flags reproduce the same spec, byte for byte
    #[arg(long, value_name = "LOG")]
    replay: Option<PathBuf>,
    /// The Code Lake: the root of a Couler checkout (examples/, docs/spec.md, zoo/) [default:
    /// the examples and spec built into couler]
    #[arg(long, value_name = "DIR")]
    lake: Option<PathBuf>,
    /// Code Lake entries retrieved for each sub-task
    #[arg(long, default_value_t = 3)]
    top_k: usize,
    /// Seconds each request to the endpoint may take
    #[arg(long, default_value_t = 300)]
    timeout: u64,
}

/// How `--eval` reports.
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

/// Runs `couler generate`; returns the exit code.
pub fn run(args: &GenerateArgs) -> u8 {
    let description = args.description.as_deref().unwrap_or_default();
    if args.eval.is_none() && (args.samples.is_some() || args.format.is_some()) {
        tell!(
            "error: --samples and --format are for the evaluation: give --eval TASKS (docs/generate.md, \"Evaluation\")"
        );
        return crate::exit::INVALID;
    }
    if args.eval.is_none() && description.trim().is_empty() {
        tell!(
            "error: the description is empty: say what the workflow should do, e.g. couler generate \"train a model on iris, publish it if accuracy > 0.9\""
        );
        return crate::exit::INVALID;
    }
    let (model, lake) = match (model(args), lake_of(args)) {
        (Ok(m), Ok(l)) => (m, l),
        (Err(e), _) | (_, Err(e)) => {
            tell!("error: {e}");
            return crate::exit::INVALID;
        }
    };
    let log_path = match args.output.as_ref().or(args.eval.as_ref()) {
        Some(out) => PathBuf::from(format!("{}.generate.jsonl", out.display())),
        None => PathBuf::from("couler-generate.jsonl"),
    };
    let mut log = if args.replay.is_some() {
        Log::none()
    } else {
        match Log::create(&log_path) {
            Ok(l) => l,
            Err(e) => {
                tell!("error: {e}");
                return crate::exit::INVALID;
            }
        }
    };
    let config = Config {
        target: args.target.name().to_string(),
        rounds: args.rounds,
        decompose: !args.no_decompose,
        retrieve: !args.no_retrieve,
        calibrate: !args.no_calibrate,
        top_k: args.top_k,
        // The file's name without its directory, so a replay elsewhere asks the same questions.
        file: args
            .output
            .as_deref()
            .and_then(Path::file_name)
            .map_or("generated.yaml".into(), |n| {
                n.to_string_lossy().into_owned()
            }),
    };
    tell!("generate: asking {}", model.describe());
    let mut progress = |line: &str| tell!("generate: {line}");
    let mut asker = Asker {
        model: model.as_ref(),
        log: &mut log,
        progress: &mut progress,
        seed: None,
    };
    let retriever = Bm25::new(lake.iter().map(|e| e.text.as_str()));
    if let Some(tasks) = &args.eval {
        return evaluate(tasks, args, &config, &lake, &retriever, &mut asker);
    }
    let outcome =
        pipeline::run(description, &config, &lake, &retriever, &mut asker).and_then(|outcome| {
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
            (args.replay.is_none()).then_some(&log_path),
        ),
        Err(e) => {
            tell!("error: {e}");
            crate::exit::FAILED
        }
    }
}

/// `--eval TASKS`: the report on stdout.
fn evaluate(
    tasks: &Path,
    args: &GenerateArgs,
    config: &Config,
    lake: &[lake::Entry],
    retriever: &Bm25,
    asker: &mut Asker,
) -> u8 {
    let name = tasks.display().to_string();
    let read = std::fs::read_to_string(tasks)
        .map_err(|e| format!("cannot read {name}: {e}"))
        .and_then(|text| couler_generate::eval::read_tasks(&name, &text));
    match read {
        Ok(tasks) => {
            let rows = couler_generate::eval::run(
                &tasks,
                args.samples.unwrap_or(1) as usize,
                config,
                lake,
                retriever,
                asker,
            );
            out(&match args.format.unwrap_or(EvalFormat::Markdown) {
                EvalFormat::Markdown => couler_generate::eval::markdown(&rows),
                EvalFormat::Json => {
                    let mut text =
                        serde_json::to_string_pretty(&couler_generate::eval::json(&rows))
                            .unwrap_or_default();
                    text.push('\n');
                    text
                }
            });
            crate::exit::OK
        }
        Err(e) => {
            tell!("error: {e}");
            crate::exit::INVALID
        }
    }
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

fn model(args: &GenerateArgs) -> Result<Box<dyn Model>, String> {
    if let Some(log) = &args.replay {
        return Ok(Box::new(Replay::open(log)?));
    }
    let endpoint = args
        .endpoint
        .clone()
        .or_else(|| {
            std::env::var("OPENAI_BASE_URL")
                .ok()
                .filter(|s| !s.is_empty())
        })
        .unwrap_or_else(|| DEFAULT_ENDPOINT.to_string());
    let key = std::env::var("OPENAI_API_KEY").ok();
    OpenAi::new(
        &endpoint,
        &args.model,
        key,
        Duration::from_secs(args.timeout),
    )
    .map(|m| Box::new(m) as Box<dyn Model>)
    .map_err(|e| e.to_string())
}

fn lake_of(args: &GenerateArgs) -> Result<Vec<lake::Entry>, String> {
    match &args.lake {
        Some(dir) => lake::read(dir),
        None => Ok(lake::builtin()),
    }
}
