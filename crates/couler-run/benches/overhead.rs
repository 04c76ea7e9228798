//! Scheduling overhead of the local runtime.
//!
//! Baseline: spawn and wait N `true` processes one after another, nothing else (the cost no
//! runtime can avoid). Then N-step workflows of `true` steps in three shapes: a chain, a 1→N→1
//! fan-out, and layers (width 100, each step after two of the previous layer). Reported: wall
//! time per step, its ratio to one raw spawn (measured right before each shape), the bench
//! process's peak RSS during the run and its RSS before it.
//!
//! `cargo bench -p couler-run --bench overhead` (sizes from `COULER_BENCH_N`, default
//! `1000,10000`).

mod support;
use couler_ir::{Container, Step, StepKind, Template, Workflow};
use couler_run::{RunOptions, RunStatus, Runtime};
use std::time::Instant;
use support::{cores, peak_rss_mib, raw_spawn, reset_peak_rss, rss_mib, tokio_runtime};

fn true_step(name: String, deps: Vec<String>) -> Step {
    let mut s = Step::new(
        name.clone(),
        StepKind::Container(Container {
            // The name as an (ignored) argument keeps each step's cache key distinct.
            command: vec![Template::text("true"), Template::text(name)],
            ..Container::default()
        }),
    );
    s.depends_on = deps;
    s
}

fn chain(n: usize) -> Workflow {
    let mut wf = Workflow::new("chain");
    for i in 0..n {
        let deps = if i == 0 {
            vec![]
        } else {
            vec![format!("s{}", i - 1)]
        };
        wf.steps.push(true_step(format!("s{i}"), deps));
    }
    wf
}

fn fan(n: usize) -> Workflow {
    let mut wf = Workflow::new("fan");
    wf.steps.push(true_step("start".into(), vec![]));
    for i in 0..n.saturating_sub(2) {
        wf.steps
            .push(true_step(format!("s{i}"), vec!["start".into()]));
    }
    let all: Vec<String> = (0..n.saturating_sub(2)).map(|i| format!("s{i}")).collect();
    wf.steps.push(true_step("end".into(), all));
    wf
}

fn layered(n: usize) -> Workflow {
    const WIDTH: usize = 100;
    let mut wf = Workflow::new("layered");
    for i in 0..n {
        let (layer, k) = (i / WIDTH, i % WIDTH);
        let deps = if layer == 0 {
            vec![]
        } else {
            let prev = (layer - 1) * WIDTH;
            vec![
                format!("s{}", prev + k),
                format!("s{}", prev + (k + 1) % WIDTH),
            ]
        };
        wf.steps.push(true_step(format!("s{i}"), deps));
    }
    wf
}

fn main() {
    let sizes: Vec<usize> = std::env::var("COULER_BENCH_N")
        .unwrap_or_else(|_| "1000,10000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let rt = tokio_runtime();
    let cores = cores();
    let windowed = reset_peak_rss();
    println!("cores: {cores}; parallelism: runtime default (max(4, cores))");
    if !windowed {
        println!("(peak RSS is the process's whole-life peak: /proc/self/clear_refs is absent)");
    }
    println!(
        "{:<10} {:>7} {:>10} {:>14} {:>10} {:>12} {:>12} {:>12}",
        "shape",
        "N",
        "wall s",
        "per step ms",
        "spawn ms",
        "× raw spawn",
        "peak RSS MiB",
        "RSS before"
    );
    for &n in &sizes {
        for (shape, wf) in [
            ("chain", chain(n)),
            ("fan", fan(n)),
            ("layered", layered(n)),
        ] {
            // The baseline right before each shape: the machine's load drifts.
            let spawns = n.min(1000);
            let raw = raw_spawn(spawns);
            let dir = match tempfile::tempdir() {
                Ok(d) => d,
                Err(e) => {
                    eprintln!("no temp dir: {e}");
                    std::process::exit(1);
                }
            };
            let (_tx, stop) = tokio::sync::watch::channel(false);
            let opts = RunOptions {
                state_dir: dir.path().to_path_buf(),
                params: Vec::new(),
                parallelism: None,
                runtime: Runtime::Host,
                use_cache: true,
                events: None,
                stop,
                spec_dir: None,
                cache_budget: None,
            };
            let before = rss_mib();
            reset_peak_rss();
            let t = Instant::now();
            let report = rt.block_on(couler_run::run(&wf, opts));
            let wall = t.elapsed().as_secs_f64();
            let peak = peak_rss_mib();
            match report {
                Ok(r) if r.status == RunStatus::Succeeded => {}
                Ok(r) => eprintln!("{shape} {n}: {:?} {:?}", r.status, r.message),
                Err(e) => eprintln!("{shape} {n}: {e}"),
            }
            let per = wall / n as f64;
            println!(
                "{:<10} {:>7} {:>10.2} {:>14.3} {:>10.3} {:>12.2} {:>12.1} {:>12.1}",
                shape,
                n,
                wall,
                per * 1e3,
                raw * 1e3,
                per / raw,
                peak,
                before
            );
        }
    }
}
