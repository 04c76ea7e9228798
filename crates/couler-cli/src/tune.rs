//! `couler tune bench`: the tuning methods of `couler_tune` against the YAHPO Gym LCBench
//! surrogate; `couler tune propose`: what a tuned step's proposer steps run (docs/tuning.md).

use std::path::PathBuf;
use std::time::Instant;

use clap::{Args, Subcommand, ValueEnum};
use couler_model::log::{Log, Recorder};
use couler_tune::bench::{self, BenchPlan, LlmSetup, Record};
use couler_tune::lcbench::Surrogate;
use couler_tune::llm::{LlmSettings, LlmStats};
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::exit;
use crate::model_args::ModelArgs;

/// Arguments of `couler tune`.
#[derive(Args)]
pub struct TuneArgs {
    #[command(subcommand)]
    command: TuneCommand,
}

#[derive(Subcommand)]
enum TuneCommand {
    /// Benchmark the tuning methods on the LCBench surrogate: mean normalised regret and
    /// average rank per method and budget
    Bench(Box<BenchArgs>),
    /// Print the settings of the next round of a tuned step's study, as a JSON list: what the
    /// proposer steps `NAME-propose-R` of a lowered `tune` block run. Reads the study from
    /// COULER_TUNE_STUDY, the round from COULER_TUNE_ROUND and the objectives of each earlier
    /// round R from OBJECTIVES_R (each trial's printed value, as the collected JSON list)
    Propose,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Table,
    Json,
}

#[derive(Args)]
struct BenchArgs {
    /// The surrogate's folder (model.onnx, config_space.json, encoding.json), e.g.
    /// ../shared/benchmarks/yahpo-lcbench
    #[arg(long)]
    surrogate: PathBuf,
    /// Data sets (OpenML task ids), comma-separated; default: all 34
    #[arg(long, value_delimiter = ',')]
    instances: Vec<String>,
    /// Budgets in full-fidelity evaluations (a trial at 1/27 of the epochs costs 1/27), comma-separated
    #[arg(long, value_delimiter = ',', default_value = "10,30,100")]
    budget: Vec<f64>,
    /// Seeds per data set, method and budget (0 to N-1)
    #[arg(long, default_value_t = 10)]
    seeds: u64,
    /// Methods, comma-separated
    #[arg(long, value_delimiter = ',', default_values_t = couler_tune::METHODS.iter().map(|m| m.to_string()))]
    methods: Vec<String>,
    /// Trials run at once by each study
    #[arg(long, default_value_t = 1)]
    parallelism: usize,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// The model the `llm` method asks (with --methods llm)
    #[command(flatten)]
    model: ModelArgs,
    /// Append every question of the `llm` method and its answer to this log (JSONL), for
    /// `--replay`
    #[arg(long, value_name = "LOG")]
    record: Option<PathBuf>,
    /// Candidate settings the `llm` method shows the model a round (at least the parallelism)
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=64))]
    candidates: u32,
}

pub fn run(args: TuneArgs) -> u8 {
    let result = match args.command {
        TuneCommand::Bench(a) => bench_cmd(*a),
        TuneCommand::Propose => propose_cmd(),
    };
    match result {
        Ok(()) => exit::OK,
        Err(e) => {
            crate::say::tell!("error: {e}");
            exit::INVALID
        }
    }
}

fn propose_cmd() -> Result<(), String> {
    let settings = couler_tune::rounds::propose_step(|name| std::env::var(name).ok())?;
    println!("{settings}");
    Ok(())
}

fn bench_cmd(a: BenchArgs) -> Result<(), String> {
    if let Some(b) = a.budget.iter().find(|b| !(b.is_finite() && **b >= 1.0)) {
        return Err(format!(
            "--budget {b}: a budget is at least one full-fidelity evaluation"
        ));
    }
    if a.seeds == 0 || a.parallelism == 0 {
        return Err("--seeds and --parallelism must be at least 1".into());
    }
    let llm = llm_setup(&a)?;
    let s = Surrogate::load(&a.surrogate).map_err(|e| format!("--surrogate: {e}"))?;
    let instances = if a.instances.is_empty() {
        s.instances().to_vec()
    } else {
        a.instances
    };
    if let Some(bad) = instances.iter().find(|i| !s.instances().contains(i)) {
        return Err(format!(
            "--instances: unknown LCBench data set `{bad}`; choose among: {}",
            s.instances().join(", ")
        ));
    }
    let plan = BenchPlan {
        instances,
        budgets: a.budget,
        seeds: a.seeds,
        methods: a.methods,
        parallelism: a.parallelism,
        llm,
    };
    let start = Instant::now();
    let records = bench::run(&s, &plan, |line| {
        crate::say::tell!("{line} ({:.0} s)", start.elapsed().as_secs_f64());
    })?;
    if let Some(setup) = &plan.llm {
        crate::say::tell!(
            "llm: {} questions to {}, {} answers unusable (their candidates ran in quasi-random order)",
            setup.stats.asked.load(Ordering::Relaxed),
            setup.model.describe(),
            setup.stats.unusable.load(Ordering::Relaxed)
        );
    }
    match a.format {
        Format::Json => {
            let rows: Vec<_> = records
                .iter()
                .map(|r| {
                    json!({"method": r.method, "budget": r.budget, "mean_regret": r.mean_regret,
                        "average_rank": r.average_rank, "studies": r.studies, "evaluations": r.evaluations})
                })
                .collect();
            println!(
                "{}",
                serde_json::to_string_pretty(&rows).map_err(|e| e.to_string())?
            );
        }
        Format::Table => print!("{}", table(&plan, &records)),
    }
    Ok(())
}

/// The `llm` method's model, when the methods name it.
fn llm_setup(a: &BenchArgs) -> Result<Option<LlmSetup>, String> {
    if !a.methods.iter().any(|m| m == "llm" || m.ends_with("+llm")) {
        if a.record.is_some() || a.model.replay.is_some() {
            return Err("--record and --replay are the `llm` method's; add it (or a warm start such as tpe+llm) to --methods".into());
        }
        return Ok(None);
    }
    if a.record.is_some() && a.model.replay.is_some() {
        return Err(
            "--record and --replay: a replay asks no model, so it has nothing to record; give one"
                .into(),
        );
    }
    let mut model = a.model.open()?;
    if let Some(path) = &a.record {
        model = Box::new(Recorder::new(model, "tune", Log::create(path)?));
    }
    Ok(Some(LlmSetup {
        model: Arc::from(model),
        settings: LlmSettings {
            candidates: a.candidates as usize,
            ..LlmSettings::default()
        },
        stats: Arc::new(LlmStats::default()),
    }))
}

/// A Markdown table: a row per method, per budget its mean regret and average rank.
fn table(plan: &BenchPlan, records: &[Record]) -> String {
    let mut out = String::from("| method |");
    for b in &plan.budgets {
        out += &format!(" regret @{b} | rank @{b} |");
    }
    out += "\n|---|";
    out += &"---:|---:|".repeat(plan.budgets.len());
    out += "\n";
    for m in &plan.methods {
        out += &format!("| {m} |");
        for b in &plan.budgets {
            if let Some(r) = records.iter().find(|r| &r.method == m && r.budget == *b) {
                out += &format!(" {:.4} | {:.2} |", r.mean_regret, r.average_rank);
            }
        }
        out += "\n";
    }
    out
}
