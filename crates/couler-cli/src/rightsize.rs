//! `couler optimize FILE --rightsize`: hands the right-sizing pass
//! ([`couler_opt::rightsize::RightsizePass`]) what the history says each step used (the
//! per-template decayed histogram, the VPA recommender's model, at `--percentile`), prints each
//! decision and, with `-o`, writes the right-sized spec.

use crate::history::{HistoryArg, SizingArgs};
use couler_history::predict::{Predictor, TemplateBaseline};
use couler_history::store::Filter;
use couler_history::{History, StepFeatures, Target};
use couler_ir::Workflow;
use couler_opt::plan::Plan;
use couler_opt::rightsize::{Observed, RightsizePass};
use std::path::Path;

/// What `--rightsize` needs beside the workflow.
pub struct RightsizeInputs<'a> {
    pub history: &'a HistoryArg,
    pub sizing: SizingArgs,
    pub min_support: u64,
    pub output: Option<&'a Path>,
}

/// What the history says of each step of `wf` at `q` (0..=1).
fn observed(wf: &Workflow, baseline: &TemplateBaseline, q: f64) -> Vec<(String, Observed)> {
    wf.steps
        .iter()
        .chain(&wf.on_exit)
        .map(|s| {
            let f = StepFeatures {
                template: couler_run::template_key(wf, s),
                ..StepFeatures::default()
            };
            let at = |t| baseline.quantile(t, &f, q);
            let (memory, cpu) = (at(Target::Memory), at(Target::Cpu));
            let support = [memory, cpu, at(Target::Duration)]
                .iter()
                .flatten()
                .map(|e| e.support)
                .max()
                .unwrap_or(0);
            let o = Observed {
                memory_bytes: memory.map(|e| e.value),
                cpu_cores: cpu.map(|e| e.value),
                support,
            };
            (s.name.clone(), o)
        })
        .collect()
}

/// Runs the pass on `wf`; returns the exit code.
pub fn run(wf: &Workflow, file: &Path, i: &RightsizeInputs<'_>) -> u8 {
    let path = i.history.path();
    let xs = match History::open_existing(&path).and_then(|h| h.list(&Filter::default())) {
        Ok(xs) => xs,
        Err(e) => {
            eprintln!("error: --history: {e}");
            return crate::exit::INVALID;
        }
    };
    let baseline = TemplateBaseline::train(&xs);
    let pass = RightsizePass {
        percentile: i.sizing.percentile,
        margin: i.sizing.margin,
        min_support: i.min_support,
        observed: observed(wf, &baseline, i.sizing.percentile / 100.0)
            .into_iter()
            .collect(),
    };
    match pass.plan(wf) {
        Ok(plan) => {
            print(&plan);
            write(&plan, file, i.output)
        }
        Err(e) => {
            eprintln!("error: {}: {e}", file.display());
            crate::exit::FAILED
        }
    }
}

fn print(plan: &Plan) {
    println!("pass {}: {}", plan.pass, plan.summary);
    for d in &plan.decisions {
        println!("  {:<32} {:<11} {}", d.subject, d.action, d.reason);
    }
}

fn write(plan: &Plan, file: &Path, output: Option<&Path>) -> u8 {
    let (Some(out), Some(wf)) = (output, plan.workflows.first()) else {
        return crate::exit::OK;
    };
    let text = couler_ir::spec::to_string(wf, couler_ir::spec::Format::from_path(out));
    match crate::commands::write_atomically(out, &text) {
        Ok(()) => {
            println!("wrote {} (right-sized {})", out.display(), file.display());
            crate::exit::OK
        }
        Err(e) => {
            eprintln!("error: cannot write {}: {e}", out.display());
            crate::exit::FAILED
        }
    }
}
