//! Replay speed of the cache simulator on the largest shared trace: every policy under four
//! budgets, against a baseline run side by side: one `none` replay per budget (the cheapest
//! replay: the schedule walk and the reads, no eviction decisions).
//!
//! Run with `cargo bench -p couler-opt --bench cache_sim`. Each stage is timed `RUNS` times,
//! round-robin, with `std::time::Instant`; the table shows median and minimum and the ratio
//! of medians. Without the shared traces beside the checkout it prints why and exits.

use couler_opt::cache::{Budget, PolicyKind, SimConfig, compare};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const RUNS: usize = 7;

/// A named stage of the benchmark.
type Stage<'a> = (&'static str, Box<dyn FnMut() + 'a>);

fn largest_trace() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/traces/wfinstances");
    std::fs::read_dir(&dir)
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .filter_map(|p| Some((std::fs::metadata(&p).ok()?.len(), p)))
        .max()
        .map(|(_, p)| p)
}

fn main() {
    let Some(path) = largest_trace() else {
        println!(
            "cache_sim: ../shared/traces/wfinstances is absent beside the checkout; nothing to measure"
        );
        return;
    };
    let text = std::fs::read_to_string(&path).expect("readable trace");
    let facts = couler_wfformat::read_trace(&text).expect("valid trace");
    let input = couler_wfformat::sim_input(&facts).expect("valid DAG");
    let budgets = ["1%", "5%", "10%", "25%"].map(|b| Budget::parse(b).unwrap());
    let config = SimConfig::default();
    let mut stages: [Stage<'_>; 2] = [
        (
            "none only (baseline)",
            Box::new(|| {
                black_box(compare(&input, &budgets, &[PolicyKind::None], config));
            }),
        ),
        (
            "all 9 policies",
            Box::new(|| {
                black_box(compare(&input, &budgets, &PolicyKind::ALL, config));
            }),
        ),
    ];
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); stages.len()];
    for _ in 0..RUNS {
        for ((_, f), t) in stages.iter_mut().zip(&mut times) {
            let start = Instant::now();
            f();
            t.push(start.elapsed());
        }
    }
    println!(
        "{}: {} tasks, {} intermediate files, 4 budgets, {} runs",
        path.file_name().unwrap().to_string_lossy(),
        input.tasks.len(),
        input.files.len(),
        RUNS
    );
    let mut medians = Vec::new();
    for ((name, _), t) in stages.iter().zip(&mut times) {
        t.sort();
        let median = t[t.len() / 2];
        medians.push(median.as_secs_f64());
        println!(
            "{name:<22} median {:>9.1} ms  min {:>9.1} ms",
            median.as_secs_f64() * 1e3,
            t[0].as_secs_f64() * 1e3
        );
    }
    println!("ratio all/baseline: {:.1}", medians[1] / medians[0]);
}
