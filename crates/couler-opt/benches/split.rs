//! Splitting speed and quality.
//!
//! Run with `cargo bench -p couler-opt --bench split`. Prints:
//! - split time for generated layered workflows of 1,000 / 10,000 / 100,000 steps (median and
//!   minimum of `RUNS`), for each method, next to the baseline measured in the same loop:
//!   `Graph::topological_order` on the same graph, the least any partitioner must do;
//! - parts against the lower bound for the paper's DFS greedy and the default method, on the
//!   generated workflows and on every shared WfCommons trace (bytes measured on the emitted
//!   Argo documents, budgets of 1 MiB and of 200 steps).

use couler_ir::Graph;
use couler_opt::split::{Budget, Method, Problem, lower_bound, partition, weights};
use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

#[path = "../tests/split_gen/mod.rs"]
mod split_gen;

const RUNS: usize = 7;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn quality_row(name: &str, problem: &Problem, budget: &Budget) {
    let lb = lower_bound(problem, budget);
    let mut cells = Vec::new();
    for m in Method::ALL {
        let p = partition(problem, budget, m).expect("splits");
        let s = p.stats(problem, budget);
        cells.push(format!(
            "{:>5} parts {:>3} deep {:>7} cut",
            p.parts, s.depth, s.edges_cut
        ));
    }
    println!(
        "| {name:<48} | {budget:<14} | {lb:>5} | {} | {} |",
        cells[0], cells[1]
    );
}

fn main() {
    println!("## Split time (layered DAG, width 100, 1 KiB a step, 1 MiB budget)\n");
    println!("| steps | baseline topo sort ms | dfs-greedy ms | ratio | packed ms | ratio |");
    println!("|---|---|---|---|---|---|");
    for n in [1_000usize, 10_000, 100_000] {
        let wf = split_gen::layered(n, 100);
        let g = Graph::new(&wf);
        let problem = Problem {
            graph: &g,
            weights: weights(&wf, &vec![1024; n]),
            overhead: [2048, 0, 0],
        };
        let budget = Budget::new(Some(1024 * 1024), None, None);
        let (mut base, mut dfs, mut packed) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..RUNS {
            let t = Instant::now();
            black_box(g.topological_order().unwrap());
            base.push(t.elapsed());
            let t = Instant::now();
            black_box(partition(&problem, &budget, Method::DfsGreedy).unwrap());
            dfs.push(t.elapsed());
            let t = Instant::now();
            black_box(partition(&problem, &budget, Method::Packed).unwrap());
            packed.push(t.elapsed());
        }
        let (b, d, p) = (median(base), median(dfs), median(packed));
        println!(
            "| {n} | {:.2} | {:.2} | {:.1}× | {:.2} | {:.1}× |",
            ms(b),
            ms(d),
            ms(d) / ms(b),
            ms(p),
            ms(p) / ms(b)
        );
    }

    println!(
        "\n## Whole split for Argo (measure, partition, build and compile every part; 1 MiB)\n"
    );
    println!(
        "| steps | baseline: compile unsplit ms | split for argo ms | ratio | parts | rounds |"
    );
    println!("|---|---|---|---|---|---|");
    for n in [1_000usize, 10_000, 20_000] {
        let wf = split_gen::layered(n, 100);
        let options = couler_backends::Options::default();
        let (mut base, mut full) = (Vec::new(), Vec::new());
        let mut last = (0, 0);
        for _ in 0..3 {
            let t = Instant::now();
            black_box(
                couler_backends::Backend::compile(&couler_backends::argo::Argo, &wf, &options)
                    .unwrap(),
            );
            base.push(t.elapsed());
            let t = Instant::now();
            let (step_bytes, fixed_bytes) = couler_backends::SplitLowering::step_bytes(
                &couler_backends::argo::Argo,
                &wf,
                &options,
            )
            .unwrap();
            let req = couler_opt::split::Request {
                budget: Budget::new(Some(1024 * 1024), None, None),
                method: Method::Packed,
                exchange: couler_opt::split::Exchange::parse("s3://bench/split").unwrap(),
                step_bytes,
                fixed_bytes,
            };
            let o = couler_opt::split::split_to_fit(&wf, &req, |s| {
                let children: Vec<_> = s
                    .child_files
                    .iter()
                    .cloned()
                    .zip(s.children.iter().cloned())
                    .collect();
                let docs = couler_backends::SplitLowering::compile_split(
                    &couler_backends::argo::Argo,
                    &s.parent,
                    &children,
                    &options,
                )?;
                Ok::<_, couler_backends::CompileError>(
                    s.child_files.iter().map(|f| docs[f].len() as u64).collect(),
                )
            })
            .unwrap();
            full.push(t.elapsed());
            last = (o.partition.parts, o.rounds);
        }
        let (b, f) = (median(base), median(full));
        println!(
            "| {n} | {:.0} | {:.0} | {:.1}× | {} | {} |",
            ms(b),
            ms(f),
            ms(f) / ms(b),
            last.0,
            last.1
        );
    }

    println!("\n## Parts against the lower bound\n");
    println!(
        "| workflow | budget | lower bound | dfs-greedy (paper) | packed (default) |\n|---|---|---|---|---|"
    );
    for n in [1_000usize, 10_000, 100_000] {
        let wf = split_gen::layered(n, 100);
        let (bytes, fixed) = couler_backends::SplitLowering::step_bytes(
            &couler_backends::argo::Argo,
            &wf,
            &Default::default(),
        )
        .expect("lowers");
        let g = Graph::new(&wf);
        let problem = Problem {
            graph: &g,
            weights: weights(&wf, &bytes),
            overhead: [fixed, 0, 0],
        };
        for budget in [
            Budget::new(Some(1024 * 1024), None, None),
            Budget::new(None, Some(200), None),
        ] {
            quality_row(&format!("generated layered {n}"), &problem, &budget);
        }
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/traces/wfinstances");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        println!("(traces skipped: {} is absent)", dir.display());
        return;
    };
    let mut paths: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    for path in paths {
        let text = std::fs::read_to_string(&path).expect("reads");
        let wf = couler_wfformat::import(
            &text,
            &couler_wfformat::ImportOptions {
                time_scale: 0.0,
                size_scale: 1.0,
                name: None,
            },
        )
        .expect("imports");
        let (bytes, fixed) = couler_backends::SplitLowering::step_bytes(
            &couler_backends::argo::Argo,
            &wf,
            &Default::default(),
        )
        .expect("lowers");
        let g = Graph::new(&wf);
        let problem = Problem {
            graph: &g,
            weights: weights(&wf, &bytes),
            overhead: [fixed, 0, 0],
        };
        let stem = path.file_stem().unwrap_or_default().to_string_lossy();
        for budget in [
            Budget::new(Some(1024 * 1024), None, None),
            Budget::new(None, Some(200), None),
        ] {
            quality_row(
                &format!("{stem} ({} steps)", wf.steps.len()),
                &problem,
                &budget,
            );
        }
    }
}
