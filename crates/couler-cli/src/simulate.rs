//! `couler simulate dispatch` is in `simulate_dispatch.rs`.
//!
//! `couler simulate cache`: replays WfFormat traces through the cache policies of
//! `couler_opt::cache` and prints, per trace, budget and policy, the hit ratio, byte hit
//! ratio, recompute seconds avoided and simulated make-span, then the means over traces.

use clap::{Args, Subcommand, ValueEnum};
use couler_opt::cache::{
    Budget, CoulerParams, PolicyKind, Row, SimConfig, SimInput, Summary, compare, summarize,
};
use serde_json::{Value, json};
use std::path::PathBuf;

/// Arguments of `couler simulate`.
#[derive(Args)]
pub struct SimulateArgs {
    #[command(subcommand)]
    command: SimulateCommand,
}

#[derive(Subcommand)]
enum SimulateCommand {
    /// Replay traces through cache policies under storage budgets
    Cache(CacheSimArgs),
    /// Replay traces under few slots, FIFO vs critical-path-first dispatch: make-spans
    Dispatch(crate::simulate_dispatch::DispatchSimArgs),
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Table,
    Json,
}

#[derive(Args)]
struct CacheSimArgs {
    /// WfFormat traces (JSON, 1.4 or 1.5)
    #[arg(long, num_args = 1.., required = true)]
    trace: Vec<PathBuf>,
    /// Budgets, comma-separated: a percentage of the trace's intermediate bytes (5%) or a size (10Gi)
    #[arg(long, default_value = "1%,5%,10%,25%")]
    budget: String,
    /// Policies, comma-separated (none, all, fifo, lru, lrc, gds, belady, couler-paper, couler);
    /// `all` alone means every policy
    #[arg(long, default_value = "all")]
    policy: String,
    /// Scheduler slots (tasks running at once)
    #[arg(long, default_value_t = 4)]
    slots: usize,
    /// Scheduler tie-break seed (0: trace order)
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Weight α of the reconstruction term of I(u)
    #[arg(long, default_value_t = CoulerParams::default().alpha)]
    alpha: f64,
    /// Weight β of the reuse term of I(u)
    #[arg(long, default_value_t = CoulerParams::default().beta)]
    beta: f64,
    /// Subgraph depth n of I(u)
    #[arg(long, default_value_t = CoulerParams::default().depth)]
    depth: u32,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

/// Runs `couler simulate`; returns the exit code.
pub fn run(args: SimulateArgs) -> u8 {
    let result = match args.command {
        SimulateCommand::Cache(args) => simulate_cache(&args),
        SimulateCommand::Dispatch(args) => crate::simulate_dispatch::simulate(&args),
    };
    match result {
        Ok(text) => {
            print!("{text}");
            crate::exit::OK
        }
        Err(e) => {
            eprintln!("error: {e}");
            crate::exit::INVALID
        }
    }
}

fn parse_policies(text: &str) -> Result<Vec<PolicyKind>, String> {
    if text.trim() == "all" {
        return Ok(PolicyKind::ALL.to_vec());
    }
    text.split(',')
        .map(|p| {
            PolicyKind::parse(p.trim()).ok_or_else(|| {
                let names: Vec<&str> = PolicyKind::ALL.iter().map(|k| k.name()).collect();
                format!(
                    "--policy: unknown policy `{}`; choose from {} (or `all` alone for every policy)",
                    p.trim(),
                    names.join(", ")
                )
            })
        })
        .collect()
}

fn simulate_cache(args: &CacheSimArgs) -> Result<String, String> {
    let budgets = args
        .budget
        .split(',')
        .map(|b| Budget::parse(b).map_err(|e| format!("--budget: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    let policies = parse_policies(&args.policy)?;
    if args.slots == 0 {
        return Err("--slots must be at least 1".into());
    }
    if !(args.alpha.is_finite() && args.beta.is_finite()) {
        return Err("--alpha and --beta must be finite numbers".into());
    }
    let config = SimConfig {
        slots: args.slots,
        seed: args.seed,
        params: CoulerParams {
            alpha: args.alpha,
            beta: args.beta,
            depth: args.depth.max(1),
        },
    };
    let mut rows = Vec::new();
    for path in &args.trace {
        let input = load(path)?;
        rows.extend(compare(&input, &budgets, &policies, config));
    }
    let summary = summarize(&rows);
    Ok(match args.format {
        Format::Table => table(&rows, &summary, args.trace.len() > 1),
        Format::Json => {
            let mut text = serde_json::to_string_pretty(&to_json(&rows, &summary, config))
                .map_err(|e| e.to_string())?;
            text.push('\n');
            text
        }
    })
}

/// Reads a trace into the simulator's input; errors name the file.
pub(crate) fn load(path: &std::path::Path) -> Result<SimInput, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let facts =
        couler_wfformat::read_trace(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut input =
        couler_wfformat::sim_input(&facts).map_err(|e| format!("{}: {e}", path.display()))?;
    // Name rows by file: several traces may share a `name`.
    if let Some(stem) = path.file_stem() {
        input.name = stem.to_string_lossy().into_owned();
    }
    Ok(input)
}

fn table(rows: &[Row], summary: &[Summary], means: bool) -> String {
    let mut out = String::new();
    let mut last = String::new();
    for row in rows {
        if row.trace != last {
            out.push_str(&format!(
                "\n{} (rebuild seconds with no cache: {:.1})\n{:<8} {:<13} {:>7} {:>8} {:>14} {:>8} {:>12}\n",
                row.trace,
                row.baseline_secs,
                "budget",
                "policy",
                "hit%",
                "bytehit%",
                "avoided s",
                "avoided%",
                "make-span s"
            ));
            last = row.trace.clone();
        }
        let r = &row.result;
        out.push_str(&format!(
            "{:<8} {:<13} {:>7.1} {:>8.1} {:>14.1} {:>8.1} {:>12.1}\n",
            row.budget.to_string(),
            r.policy,
            100.0 * r.hit_ratio(),
            100.0 * r.byte_hit_ratio(),
            r.recompute_avoided_secs,
            100.0 * row.avoided_share(),
            r.makespan_secs
        ));
    }
    if means {
        out.push_str(&format!(
            "\nmeans over {} traces\n{:<8} {:<13} {:>7} {:>8} {:>8} {:>10}\n",
            summary.first().map_or(0, |s| s.traces),
            "budget",
            "policy",
            "hit%",
            "bytehit%",
            "avoided%",
            "span/all"
        ));
        for s in summary {
            out.push_str(&format!(
                "{:<8} {:<13} {:>7.1} {:>8.1} {:>8.1} {:>10.3}\n",
                s.budget.to_string(),
                s.policy,
                100.0 * s.hit_ratio,
                100.0 * s.byte_hit_ratio,
                100.0 * s.avoided_share,
                s.makespan_ratio
            ));
        }
    }
    out
}

fn to_json(rows: &[Row], summary: &[Summary], config: SimConfig) -> Value {
    json!({
        "slots": config.slots,
        "seed": config.seed,
        "alpha": config.params.alpha,
        "beta": config.params.beta,
        "depth": config.params.depth,
        "rows": rows.iter().map(|row| {
            let r = &row.result;
            json!({
                "trace": row.trace,
                "budget": row.budget.to_string(),
                "budget_bytes": if r.budget_bytes.is_finite() { json!(r.budget_bytes) } else { Value::Null },
                "policy": r.policy,
                "reads": r.reads,
                "hits": r.hits,
                "hit_ratio": r.hit_ratio(),
                "byte_hit_ratio": r.byte_hit_ratio(),
                "recompute_secs": r.recompute_secs,
                "recompute_avoided_secs": r.recompute_avoided_secs,
                "avoided_share": row.avoided_share(),
                "makespan_secs": r.makespan_secs,
                "peak_bytes": r.peak_bytes,
                "evictions": r.evictions,
                "bypassed": r.bypassed,
            })
        }).collect::<Vec<_>>(),
        "means": summary.iter().map(|s| json!({
            "budget": s.budget.to_string(),
            "policy": s.policy,
            "traces": s.traces,
            "hit_ratio": s.hit_ratio,
            "byte_hit_ratio": s.byte_hit_ratio,
            "avoided_share": s.avoided_share,
            "makespan_ratio": s.makespan_ratio,
        })).collect::<Vec<_>>(),
    })
}
