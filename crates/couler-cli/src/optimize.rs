//! `couler optimize FILE`: prints what the caching pass ([`couler_opt::cache::CachePass`])
//! decides for a workflow, and why (splitting's decisions are `couler split`'s report); its durations and sizes are
//! estimates (`couler_opt::cache::pass::ESTIMATED_*`), as recorded ones from the local
//! runtime's state are not read yet.

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
