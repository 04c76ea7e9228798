//! The local runtime replaying real WfCommons traces (`couler_wfformat` imports).
//!
//! 1. Per-step overhead: the largest shared trace (montage, 2,122 tasks) imported with time
//!    scale 0 and size scale 0 (no sleeping, empty files), run with the runtime's default
//!    parallelism. Reported: wall time per step, its ratio to one raw spawn+wait of `true`
//!    measured in the same process (as `overhead.rs` does), the same ratio per process the
//!    step's script starts (`sh` plus each `mkdir`/`head`/`cat` line), and peak RSS.
//! 2. Make-span against the lower bound: a few small and medium traces, imported with a time
//!    scale that makes the critical path about 1.5 s (less when the total work would make the
//!    run long), size scale 0, run with M = 2 and 4 slots. Lower bound: max(critical path,
//!    total work / M) over each step's scaled sleep (read back from its script). Each is also
//!    run once with time scale 0 (the same steps, no sleeping) to show the runtime's own share,
//!    and the same schedule is simulated with no overhead (the runtime's dispatch order, M slots)
//!    to separate the list-scheduling gap from the runtime's cost.
//!
//! `cargo bench -p couler-run --bench traces` (needs `../shared/traces/wfinstances/`; prints why
//! and exits 0 otherwise).

mod support;
use couler_ir::{Graph, StepKind, Workflow};
use couler_run::RunStatus;
use couler_wfformat::{ImportOptions, import_detailed};
use std::path::{Path, PathBuf};
use std::time::Instant;
use support::{cores, host_options, peak_rss_mib, raw_spawn, temp_dir, tokio_runtime};

const LARGEST: &str = "montage-chameleon-dss-15d-001.json";
const MAKESPAN_TRACES: &[&str] = &[
    "helloworld-forkjoin-10-chameleon.json",
    "blast-chameleon-small-001.json",
    "srasearch-chameleon-10a-001.json",
    "seismology-chameleon-100p-001.json",
    "epigenomics-chameleon-hep-1seq-100k-001.json",
];
const SLOTS: &[usize] = &[2, 4];
/// The critical path each make-span replay is scaled to (seconds).
const TARGET_CRITICAL_PATH: f64 = 1.5;
/// At most this much total sleeping per replay (seconds), so that total work / 2 stays short.
const MAX_TOTAL_WORK: f64 = 5.0;

fn script_source(wf: &Workflow, i: usize) -> String {
    match &wf.steps[i].kind {
        StepKind::Script(s) => s.source.as_literal().unwrap_or_default(),
        _ => String::new(),
    }
}

/// The step's scaled runtime: the argument of its script's `sleep` line (0 when it has none).
fn sleep_secs(source: &str) -> f64 {
    source
        .lines()
        .filter_map(|l| l.strip_prefix("sleep "))
        .filter_map(|s| s.trim().parse::<f64>().ok())
        .sum()
}

/// Processes one run of the script starts: `sh` itself and one per command line other than
/// `set` (dash runs `mkdir`, `head`, `cat` and `sleep` as programs).
fn processes(source: &str) -> usize {
    1 + source
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("set "))
        .count()
}

/// The make-span of the same schedule with no overhead at all: all `m` slots, steps handed a
/// slot first come first served in the order the runtime spawns them (sources in step order;
/// after each completion, the steps it made ready, last successor first).
fn simulated(graph: &Graph, cost: &[f64], m: usize) -> f64 {
    let n = graph.len();
    let mut waiting: Vec<usize> = (0..n).map(|i| graph.predecessors(i).len()).collect();
    let mut queue: std::collections::VecDeque<usize> =
        (0..n).filter(|&i| waiting[i] == 0).collect();
    // Running steps as (finish time, step), the earliest finish picked by a scan (n is small).
    let mut running: Vec<(f64, usize)> = Vec::new();
    let (mut now, mut end) = (0f64, 0f64);
    loop {
        while running.len() < m {
            let Some(i) = queue.pop_front() else { break };
            running.push((now + cost[i], i));
        }
        let Some(k) = (0..running.len()).min_by(|&a, &b| running[a].0.total_cmp(&running[b].0))
        else {
            break;
        };
        let (t, i) = running.swap_remove(k);
        now = t;
        end = end.max(t);
        let mut newly = Vec::new();
        for &s in graph.successors(i) {
            waiting[s] -= 1;
            if waiting[s] == 0 {
                newly.push(s);
            }
        }
        queue.extend(newly.into_iter().rev());
    }
    end
}

struct Measured {
    wall: f64,
    /// First step start to last step end, from the run's own step records.
    span: Option<f64>,
    ok: bool,
}

fn run(rt: &tokio::runtime::Runtime, wf: &Workflow, parallelism: Option<usize>) -> Measured {
    let dir = temp_dir();
    let (_tx, opts) = host_options(dir.path(), parallelism);
    let t = Instant::now();
    let report = rt.block_on(couler_run::run(wf, opts));
    let wall = t.elapsed().as_secs_f64();
    match report {
        Ok(r) => {
            let ok = r.status == RunStatus::Succeeded;
            if !ok {
                eprintln!("{}: {:?} {:?}", wf.name, r.status, r.message);
            }
            let start = r.steps.iter().filter_map(|s| s.started_at).reduce(f64::min);
            let end = r
                .steps
                .iter()
                .filter_map(|s| s.finished_at)
                .reduce(f64::max);
            Measured {
                wall,
                span: start.zip(end).map(|(a, b)| b - a),
                ok,
            }
        }
        Err(e) => {
            eprintln!("{}: {e}", wf.name);
            Measured {
                wall,
                span: None,
                ok: false,
            }
        }
    }
}

fn import(path: &Path, time_scale: f64) -> couler_wfformat::Imported {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("cannot read {}: {e}", path.display());
            std::process::exit(1);
        }
    };
    let options = ImportOptions {
        time_scale,
        size_scale: 0.0,
        name: None,
    };
    match import_detailed(&text, &options) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("cannot import {}: {e}", path.display());
            std::process::exit(1);
        }
    }
}

fn overhead(rt: &tokio::runtime::Runtime, dir: &Path) {
    let raw = raw_spawn(2000);
    let imported = import(&dir.join(LARGEST), 0.0);
    let wf = &imported.workflow;
    let n = wf.steps.len();
    let procs: usize = (0..n).map(|i| processes(&script_source(wf, i))).sum();
    let procs_per_step = procs as f64 / n as f64;
    println!("== per-step overhead: {LARGEST}, time scale 0, size scale 0, default parallelism");
    println!(
        "{} steps, {} edges; {:.2} processes per step on average",
        n, imported.summary.edges, procs_per_step
    );
    println!(
        "{:<22} {:>7} {:>9} {:>12} {:>12} {:>15} {:>13}",
        "", "steps", "wall s", "per step ms", "× raw spawn", "× per process", "peak RSS MiB"
    );
    println!(
        "{:<22} {:>7} {:>9.2} {:>12.3} {:>12.2} {:>15} {:>13.1}",
        "raw spawn (baseline)",
        2000,
        raw * 2000.0,
        raw * 1e3,
        1.0,
        "",
        peak_rss_mib()
    );
    let m = run(rt, wf, None);
    let per = m.wall / n as f64;
    println!(
        "{:<22} {:>7} {:>9.2} {:>12.3} {:>12.2} {:>15.2} {:>13.1}{}",
        "montage replay",
        n,
        m.wall,
        per * 1e3,
        per / raw,
        per / raw / procs_per_step,
        peak_rss_mib(),
        if m.ok { "" } else { "  (FAILED)" }
    );
    let raw_after = raw_spawn(2000);
    println!(
        "raw spawn again after the replay: {:.3} ms ({:.2}× the first)",
        raw_after * 1e3,
        raw_after / raw
    );
}

fn makespans(rt: &tokio::runtime::Runtime, dir: &Path) {
    println!();
    println!(
        "== make-span vs lower bound max(critical path, total work / M); size scale 0; critical path scaled to ≈{TARGET_CRITICAL_PATH} s, total work ≤ {MAX_TOTAL_WORK} s"
    );
    println!(
        "{:<28} {:>5} {:>10} {:>7} {:>8} {:>3} {:>8} {:>8} {:>8} {:>7} {:>8} {:>9} {:>8}",
        "trace",
        "steps",
        "scale",
        "CP s",
        "work s",
        "M",
        "LB s",
        "wall s",
        "× LB",
        "sim s",
        "wall/sim",
        "0-sleep s",
        "span s"
    );
    for name in MAKESPAN_TRACES {
        let path = dir.join(name);
        if !path.exists() {
            println!("{name}: missing, skipped");
            continue;
        }
        let unscaled = import(&path, 1.0);
        let cp1 = unscaled.summary.replay_critical_path_secs;
        let total1 = unscaled.summary.total_runtime_secs;
        if cp1 <= 0.0 {
            println!("{name}: no recorded runtimes, skipped");
            continue;
        }
        let scale =
            (TARGET_CRITICAL_PATH / cp1).min(MAX_TOTAL_WORK / total1.max(f64::MIN_POSITIVE));
        let imported = import(&path, scale);
        let wf = &imported.workflow;
        let zero = import(&path, 0.0).workflow;
        let cost: Vec<f64> = (0..wf.steps.len())
            .map(|i| sleep_secs(&script_source(wf, i)))
            .collect();
        let work: f64 = cost.iter().sum();
        let graph = Graph::new(wf);
        let cp = match graph.critical_path(|i| cost[i]) {
            Ok((len, _)) => len,
            Err(c) => {
                eprintln!("{name}: cycle {:?}", c.steps);
                continue;
            }
        };
        let short = name.trim_end_matches(".json");
        for &m in SLOTS {
            let lb = cp.max(work / m as f64);
            let sim = simulated(&graph, &cost, m);
            let z = run(rt, &zero, Some(m));
            let r = run(rt, wf, Some(m));
            println!(
                "{:<28} {:>5} {:>10.3e} {:>7.3} {:>8.3} {:>3} {:>8.3} {:>8.3} {:>8.2} {:>7.3} {:>8.2} {:>9.3} {:>8}{}",
                short.chars().take(28).collect::<String>(),
                wf.steps.len(),
                scale,
                cp,
                work,
                m,
                lb,
                r.wall,
                r.wall / lb,
                sim,
                r.wall / sim,
                z.wall,
                r.span.map_or("-".into(), |s| format!("{s:.3}")),
                if r.ok && z.ok { "" } else { "  (FAILED)" }
            );
        }
    }
}

fn main() {
    let dir: PathBuf =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/traces/wfinstances");
    if !dir.join(LARGEST).exists() {
        println!(
            "traces bench: {} not found (the shared WfCommons traces); nothing to measure",
            dir.join(LARGEST).display()
        );
        return;
    }
    let rt = tokio_runtime();
    let cores = cores();
    println!("cores: {cores}");
    let t = Instant::now();
    overhead(&rt, &dir);
    makespans(&rt, &dir);
    println!("\ntotal bench time: {:.1} s", t.elapsed().as_secs_f64());
}
