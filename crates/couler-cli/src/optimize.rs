//! `couler optimize FILE`: prints what the caching pass ([`couler_opt::cache::CachePass`])
//! decides for a workflow, and why (splitting's decisions are `couler split`'s report); its durations and sizes are
//! estimates (`couler_opt::cache::pass::ESTIMATED_*`), as recorded ones from the local
//! runtime's state are not read yet. With `--rightsize`, the right-sizing pass instead
//! (`rightsize.rs`).

use clap::Args;
use couler_opt::cache::{Budget, CachePass};
use std::path::PathBuf;

/// Arguments of `couler optimize`.
#[derive(Args)]
pub struct OptimizeArgs {
    /// The workflow spec (YAML or JSON)
    file: PathBuf,
    /// Cache size for the caching pass, e.g. 10Gi or 500M (default: unbounded)
    #[arg(long)]
    cache_size: Option<String>,
    /// Scheduler slots assumed by the caching pass
    #[arg(long, default_value_t = 4)]
    slots: usize,
    /// Run the right-sizing pass instead: each step's resources from its recorded history
    /// (requests and limits of memory, requests of CPU at --percentile plus --margin)
    #[arg(long)]
    rightsize: bool,
    #[command(flatten)]
    history: crate::history::HistoryArg,
    #[command(flatten)]
    sizing: crate::history::SizingArgs,
    /// With --rightsize: steps with fewer recorded executions are left alone
    #[arg(long, default_value_t = 5)]
    min_support: u64,
    /// With --rightsize: write the right-sized spec here (YAML, or JSON for a .json name)
    #[arg(long, short, requires = "rightsize")]
    output: Option<PathBuf>,
}

/// Runs `couler optimize`; returns the exit code.
pub fn run(args: OptimizeArgs) -> u8 {
    let budget = match args.cache_size.as_deref().map(Budget::parse) {
        None => None,
        Some(Ok(Budget::Bytes(b))) => Some(b),
        Some(Ok(Budget::Percent(_))) => {
            eprintln!("error: --cache-size takes a size (10Gi, 500M, 4096), not a percentage");
            return crate::exit::INVALID;
        }
        Some(Err(e)) => {
            eprintln!("error: --cache-size: {e}");
            return crate::exit::INVALID;
        }
    };
    let Some(wf) = crate::input::load_or_report(&args.file) else {
        return crate::exit::INVALID;
    };
    if args.rightsize {
        let inputs = crate::rightsize::RightsizeInputs {
            history: &args.history,
            sizing: args.sizing,
            min_support: args.min_support,
            output: args.output.as_deref(),
        };
        return crate::rightsize::run(&wf, &args.file, &inputs);
    }
    let pass = CachePass {
        budget,
        slots: args.slots.max(1),
        ..CachePass::default()
    };
    match pass.plan(&wf) {
        Ok(plan) => {
            println!("pass {}: {}", plan.pass, plan.summary);
            for d in &plan.decisions {
                println!("  {:<40} {:<22} {}", d.subject, d.action, d.reason);
            }
            crate::exit::OK
        }
        Err(e) => {
            eprintln!("error: {}: {e}", args.file.display());
            crate::exit::FAILED
        }
    }
}
