//! Scheduling overhead of the local runtime.
//!
//! Baseline: spawn and wait N `true` processes one after another, nothing else (the cost no
//! runtime can avoid). Then N-step workflows of `true` steps in three shapes: a chain, a 1→N→1
//! fan-out, and layers (width 100, each step after two of the previous layer). Reported: wall
//! time per step, its ratio to one raw spawn (measured right before each shape), the bench
//! process's peak RSS during the run and its RSS before it, and, from a counting allocator, the
//! heap the run held at its peak above what was live before it ("heap/step": bytes per step),
//! how much of that is the report it returns (one row per step: "report/step"), and what
//! stayed live after the run and its report were dropped ("heap kept": a leak).
//!
//! `cargo bench -p couler-run --bench overhead` (sizes from `COULER_BENCH_N`, default
//! `1000,10000`; runs per shape from `COULER_BENCH_REPS`, default 3 up to 2,000 steps and 1
//! above, the median reported with the range of the ratios). Above 10,000 steps only the
//! fan-out runs (`COULER_BENCH_N=10000,100000` gives the memory promise's pair).
//!
//! Memory in N: after the table, the fan-out of each size runs once more in a fresh process
//! (this bench started again with `COULER_BENCH_FRESH=N`), and once as one step mapped over
//! N - 2 items (`COULER_BENCH_FRESH=map:N`), each of which reports its whole life's peak
//! RSS, its RSS once the workflow is built (before the run), and the peak heap, above the
//! heap before it, of the run and of reading its rows back as `couler run`'s final table does
//! (the report without them, `RunOptions::report_steps`; the rows one at a time from the
//! state): a process's peak, unlike the table's, owes nothing to what earlier runs left in the
//! allocator.

mod support;
use couler_ir::{Container, Step, StepKind, Template, Workflow};
use couler_run::RunStatus;
use std::time::Instant;
use support::{
    CountingAlloc, cores, cpu_seconds, heap_live, heap_peak, host_options, peak_rss_mib, raw_spawn,
    reset_heap_peak, reset_peak_rss, rss_mib, temp_dir, tokio_runtime,
};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// Builds one shape's workflow of N steps.
type Shape = fn(usize) -> Workflow;

fn true_step(name: String, deps: Vec<String>) -> Step {
    let mut s = Step::new(
        name.clone(),
        StepKind::Container(Container {
            // Exactly the baseline's process: an argument would make GNU `true` load the
            // locale (to look for `--help`), 0.2 ms more than the baseline's `true`.
            command: vec![Template::text("true")],
            ..Container::default()
        }),
    );
    // Keeps each step's cache key distinct (env values are part of it).
    s.env.insert("STEP".into(), Template::text(name));
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

/// The 1→N→1 fan-out written as users write a wide one: one step mapped over N items
/// (`map.range`), between a first and a last step.
fn mapped(n: usize) -> Workflow {
    let mut wf = Workflow::new("mapped");
    wf.steps.push(true_step("start".into(), vec![]));
    let mut each = true_step("each".into(), vec!["start".into()]);
    each.map = Some(Box::new(couler_ir::Map {
        over: couler_ir::MapOver::Range {
            start: 0,
            stop: n.saturating_sub(2) as i64,
            step: 1,
        },
        parallelism: None,
    }));
    wf.steps.push(each);
    wf.steps.push(true_step("end".into(), vec!["each".into()]));
    wf
}

fn main() {
    if let Ok(fresh) = std::env::var("COULER_BENCH_FRESH") {
        // `N` (explicit steps) or `map:N`.
        let (shape, n) = match fresh.split_once(':') {
            Some((_, n)) => (mapped as Shape, n),
            None => (fan as Shape, fresh.as_str()),
        };
        match n.parse() {
            Ok(n) => fresh_fan(shape, n),
            Err(_) => eprintln!("COULER_BENCH_FRESH={fresh}: expected N or map:N"),
        }
        return;
    }
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
        "{:<10} {:>7} {:>5} {:>10} {:>14} {:>12} {:>10} {:>12} {:>13} {:>12} {:>12} {:>10} {:>12} {:>13}",
        "shape",
        "N",
        "reps",
        "wall s",
        "per step ms",
        "CPU ms/step",
        "spawn ms",
        "× raw spawn",
        "× range",
        "peak RSS MiB",
        "RSS before",
        "heap/step",
        "report/step",
        "heap kept KiB"
    );
    // Every state directory is kept until the end: deleting thousands of inodes makes the next
    // inode allocations on ext4 slower for a while (docs/performance.md), which would charge
    // one shape's cleanup to the next shape's steps.
    let mut kept = Vec::new();
    for &n in &sizes {
        let reps = std::env::var("COULER_BENCH_REPS")
            .ok()
            .and_then(|r| r.parse().ok())
            .unwrap_or(if n <= 2000 { 3 } else { 1 })
            .max(1);
        let shapes: Vec<(&str, Shape)> = if n > 10_000 {
            vec![("fan", fan)]
        } else {
            vec![("chain", chain), ("fan", fan), ("layered", layered)]
        };
        for (shape, build) in shapes {
            let wf = build(n);
            let mut rows: Vec<Row> = (0..reps)
                .map(|_| {
                    let dir = temp_dir();
                    let row = measure(&rt, &wf, shape, n, dir.path());
                    kept.push(dir);
                    row
                })
                .collect();
            rows.sort_by(|a, b| a.ratio().total_cmp(&b.ratio()));
            let (lo, hi) = (rows[0].ratio(), rows[rows.len() - 1].ratio());
            let m = &rows[rows.len() / 2];
            println!(
                "{:<10} {:>7} {:>5} {:>10.2} {:>14.3} {:>12.3} {:>10.3} {:>12.2} {:>13} {:>12.1} {:>12.1} {:>10} {:>12} {:>13.1}",
                shape,
                n,
                reps,
                m.wall,
                m.wall / n as f64 * 1e3,
                m.cpu / n as f64 * 1e3,
                m.raw * 1e3,
                m.ratio(),
                format!("{lo:.2}–{hi:.2}"),
                m.peak,
                m.before,
                format!("{:.1} KiB", m.heap_held as f64 / n as f64 / 1024.0),
                format!("{:.1} KiB", m.report_bytes as f64 / n as f64 / 1024.0),
                m.heap_kept as f64 / 1024.0
            );
        }
    }
    drop(kept);
    fresh_table(&sizes);
}

/// The fan-out of each size in a process of its own (`COULER_BENCH_FRESH`), one line each.
fn fresh_table(sizes: &[usize]) {
    let Ok(me) = std::env::current_exe() else {
        return;
    };
    for (title, prefix) in [
        ("N steps", ""),
        ("one step mapped over N - 2 items", "map:"),
    ] {
        println!();
        println!("1→N→1 fan-out, {title}, one run in a fresh process:");
        fresh_rows(&me, sizes, prefix);
    }
}

fn fresh_rows(me: &std::path::Path, sizes: &[usize], prefix: &str) {
    println!(
        "{:>7} {:>14} {:>14} {:>20} {:>16} {:>10}",
        "N", "peak RSS MiB", "× first N's", "RSS, workflow built", "run heap MiB", "rows read"
    );
    let mut first = None;
    for &n in sizes {
        let out = std::process::Command::new(me)
            .arg("--bench")
            .env("COULER_BENCH_FRESH", format!("{prefix}{n}"))
            .output();
        let text = match out {
            Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).into_owned(),
            Ok(o) => {
                eprintln!("fresh fan-out {n}: {}", String::from_utf8_lossy(&o.stderr));
                continue;
            }
            Err(e) => {
                eprintln!("fresh fan-out {n}: {e}");
                continue;
            }
        };
        let f: Vec<f64> = text
            .split_whitespace()
            .filter_map(|v| v.parse().ok())
            .collect();
        let [peak, built, run_heap, rows] = f[..] else {
            eprintln!("fresh fan-out {n}: unexpected output {text:?}");
            continue;
        };
        let base = *first.get_or_insert(peak);
        println!(
            "{:>7} {:>14.1} {:>14.2} {:>20.1} {:>16.1} {:>10}",
            n,
            peak,
            peak / base,
            built,
            run_heap,
            rows
        );
    }
}

/// The child's side of [`fresh_table`]: builds and runs the N-step fan-out (of `shape`) once
/// as `couler run` does (its rows left out of the report, then read back one at a time), and
/// prints its whole life's peak RSS, its RSS before the run (MiB), the peak heap of the run and
/// the reading (MiB), and the number of rows read.
fn fresh_fan(shape: Shape, n: usize) {
    let rt = tokio_runtime();
    // Handed over (`run_shared`), as a caller done with its workflow can: the run holds no
    // copy of its own.
    let wf = std::sync::Arc::new(shape(n));
    let dir = temp_dir();
    let (_tx, mut opts) = host_options(dir.path(), None);
    opts.report_steps = false;
    let built = rss_mib();
    let heap0 = heap_live();
    reset_heap_peak();
    let report = rt.block_on(couler_run::run_shared(wf, opts, None));
    let mut rows = 0usize;
    match &report {
        Ok(r) if r.status == RunStatus::Succeeded => {
            let read = couler_run::State::open(dir.path())
                .and_then(|state| state.each_step(&r.run_id, |_| rows += 1));
            if let Err(e) = read {
                eprintln!("fan {n}: {e}");
            }
        }
        Ok(r) => eprintln!("fan {n}: {:?} {:?}", r.status, r.message),
        Err(e) => eprintln!("fan {n}: {e}"),
    }
    let peak_heap = heap_peak().saturating_sub(heap0);
    let mib = |b: usize| b as f64 / (1024.0 * 1024.0);
    println!(
        "{:.1} {:.1} {:.1} {rows}",
        // Never reset in this process: its whole life's peak.
        peak_rss_mib(),
        built,
        mib(peak_heap),
    );
}

/// One run of one shape, with the raw spawn measured right before it (the load drifts).
struct Row {
    wall: f64,
    /// The executor's own CPU seconds (children excluded).
    cpu: f64,
    per_step: f64,
    raw: f64,
    peak: f64,
    before: f64,
    /// Peak live heap during the run above the live heap before it, bytes.
    heap_held: usize,
    /// Live heap after the run and its report were dropped, above before it, bytes (signed).
    heap_kept: isize,
    /// What the returned report (one row per step: the run's result) holds, bytes.
    report_bytes: usize,
}

impl Row {
    fn ratio(&self) -> f64 {
        self.per_step / self.raw
    }
}

fn measure(
    rt: &tokio::runtime::Runtime,
    wf: &Workflow,
    shape: &str,
    n: usize,
    state_dir: &std::path::Path,
) -> Row {
    let raw = raw_spawn(n.min(1000));
    let (_tx, opts) = host_options(state_dir, None);
    let before = rss_mib();
    reset_peak_rss();
    let heap0 = heap_live();
    reset_heap_peak();
    let (t, cpu0) = (Instant::now(), cpu_seconds());
    let report = rt.block_on(couler_run::run(wf, opts));
    let (wall, cpu) = (t.elapsed().as_secs_f64(), cpu_seconds() - cpu0);
    let peak = peak_rss_mib();
    let with_report = heap_live();
    match report {
        Ok(r) if r.status == RunStatus::Succeeded => {}
        Ok(r) => eprintln!("{shape} {n}: {:?} {:?}", r.status, r.message),
        Err(e) => eprintln!("{shape} {n}: {e}"),
    }
    let heap_held = heap_peak().saturating_sub(heap0);
    let heap_kept = heap_live() as isize - heap0 as isize;
    let report_bytes = with_report.saturating_sub(heap_live());
    Row {
        wall,
        cpu,
        per_step: wall / n as f64,
        raw,
        peak,
        before,
        heap_held,
        heap_kept,
        report_bytes,
    }
}
