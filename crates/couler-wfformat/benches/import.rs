//! Import speed on the largest shared WfCommons trace, against plain JSON parsing.
//!
//! Run with `cargo bench -p couler-wfformat`. Each stage is timed `RUNS` times with
//! `std::time::Instant`, the stages interleaved round-robin; the table shows the median and the
//! minimum. The baseline is `serde_json` parsing the file into a `serde_json::Value`, the least
//! any importer must do. Without the shared traces (`/work/shared/traces/wfinstances`, beside
//! the checkout) it prints why and exits.

use couler_ir::Graph;
use couler_wfformat::{ImportOptions, import_detailed};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const RUNS: usize = 21;

fn largest_trace() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/traces/wfinstances");
    let entries = std::fs::read_dir(&dir).ok()?;
    entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .filter_map(|p| Some((std::fs::metadata(&p).ok()?.len(), p)))
        .max()
        .map(|(_, p)| p)
}

/// Times each stage `RUNS` times, round-robin (one run of every stage per round, after one
/// warm-up round), so a burst of load on a shared machine hits all stages alike. Returns each
/// stage's sorted times.
fn time_stages(stages: &mut [&mut dyn FnMut()]) -> Vec<Vec<Duration>> {
    stages.iter_mut().for_each(|f| f());
    let mut times = vec![Vec::with_capacity(RUNS); stages.len()];
    for _ in 0..RUNS {
        for (f, t) in stages.iter_mut().zip(&mut times) {
            let start = Instant::now();
            f();
            t.push(start.elapsed());
        }
    }
    times.iter_mut().for_each(|t| t.sort());
    times
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    let Some(path) = largest_trace() else {
        eprintln!("skipping the import benchmark: no shared traces beside the checkout");
        return;
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!(
                "skipping the import benchmark: cannot read {}: {e}",
                path.display()
            );
            return;
        }
    };
    let options = ImportOptions::default();
    let imported = match import_detailed(&text, &options) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("{}: {e}", path.display());
            std::process::exit(1);
        }
    };
    let wf = &imported.workflow;
    let s = &imported.summary;
    println!(
        "trace: {} ({:.1} MB, {} tasks, {} edges, {} files); median of {RUNS} runs",
        path.file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
        text.len() as f64 / 1e6,
        s.tasks,
        s.edges,
        s.files
    );

    let mut parse = || {
        black_box(serde_json::from_str::<serde_json::Value>(&text).is_ok());
    };
    let mut import = || {
        black_box(
            import_detailed(&text, &options)
                .map(|i| i.workflow.steps.len())
                .ok(),
        );
    };
    let mut validate = || {
        black_box(couler_ir::validate(wf).len());
    };
    let mut topo = || {
        black_box(Graph::new(wf).topological_order().map(|o| o.len()).ok());
    };
    let mut total = || {
        let Ok(wf) = couler_wfformat::import(&text, &options) else {
            return;
        };
        black_box(couler_ir::validate(&wf).len());
        black_box(Graph::new(&wf).topological_order().map(|o| o.len()).ok());
    };
    let times = time_stages(&mut [
        &mut parse,
        &mut import,
        &mut validate,
        &mut topo,
        &mut total,
    ]);

    let labels = [
        "(a) serde_json parse to Value (baseline)",
        "(b) import (parse + lower)",
        "(c) validate",
        "(d) topological order (incl. Graph::new)",
        "(e) total: import + validate + topo",
    ];
    let median = |t: &[Duration]| ms(t[t.len() / 2]);
    let base = median(&times[0]);
    println!(
        "{:<44} {:>11} {:>8} {:>11}",
        "stage", "median ms", "min ms", "× baseline"
    );
    for (label, t) in labels.iter().zip(&times) {
        println!(
            "{label:<44} {:>11.2} {:>8.2} {:>11.2}",
            median(t),
            ms(t[0]),
            median(t) / base
        );
    }
}
