//! Argo compile speed on generated workflows (chain, fan-out, layered; 1,000 to 100,000 steps)
//! and on the largest shared WfCommons trace.
//!
//! Run with `cargo bench -p couler-backends`. Each case is timed `RUNS` times (median and minimum
//! shown) with `std::time::Instant`, interleaved round-robin with its baseline: `serde_json`
//! serialising the very document the compiler emits (as a `serde_json::Value`) to a string, the
//! least any emitter must do. Lowering builds that value and prints it as YAML.

use couler_backends::argo::{self, Argo};
use couler_backends::{Backend, Options};
use couler_ir::{Container, Step, StepKind, Template, Workflow};
use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

const RUNS: usize = 5;

fn step(name: String, deps: Vec<String>, i: usize) -> Step {
    let mut s = Step::new(
        name,
        StepKind::Container(Container {
            image: Some("alpine:3.19".into()),
            command: vec![
                Template::text("sh"),
                Template::text("-c"),
                Template::text(format!("echo {i}")),
            ],
            args: Vec::new(),
            working_dir: None,
            daemon: false,
        }),
    );
    s.depends_on = deps;
    s
}

fn generated(shape: &str, n: usize) -> Workflow {
    let mut wf = Workflow::new(format!("{shape}-{n}"));
    let name = |i: usize| format!("s{i}");
    for i in 0..n {
        let deps = match shape {
            "chain" if i > 0 => vec![name(i - 1)],
            "fan-out" if i > 0 => vec![name(0)],
            // Layers of 100, each step after two steps of the layer before.
            "layered" if i >= 100 => vec![name(i - 100), name(i - 100 - (i % 100 != 0) as usize)],
            _ => Vec::new(),
        };
        let mut deps = deps;
        deps.dedup();
        wf.steps.push(step(name(i), deps, i));
    }
    wf
}

fn time_pair(mut a: impl FnMut(), mut b: impl FnMut()) -> (Vec<Duration>, Vec<Duration>) {
    a();
    b();
    let (mut ta, mut tb) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        let s = Instant::now();
        a();
        ta.push(s.elapsed());
        let s = Instant::now();
        b();
        tb.push(s.elapsed());
    }
    ta.sort();
    tb.sort();
    (ta, tb)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn case(label: &str, wf: &Workflow) {
    let options = Options::default();
    let doc = match argo::lower(wf, &options) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("{label}: {e}");
            return;
        }
    };
    let bytes = Argo.compile(wf, &options).map(|o| o.size()).unwrap_or(0);
    let (tc, tb) = time_pair(
        || {
            black_box(Argo.compile(black_box(wf), &options).ok());
        },
        || {
            black_box(serde_json::to_string(black_box(&doc)).ok());
        },
    );
    let (c, b) = (tc[RUNS / 2], tb[RUNS / 2]);
    println!(
        "| {label} | {} | {bytes} | {:.2} | {:.2} | {:.2} | {:.1} |",
        wf.steps.len(),
        ms(c),
        ms(tc[0]),
        ms(b),
        c.as_secs_f64() / b.as_secs_f64().max(1e-9)
    );
}

fn main() {
    println!(
        "| workflow | steps | YAML bytes | compile median ms | min ms | baseline median ms | × baseline |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for n in [1_000, 10_000, 100_000] {
        for shape in ["chain", "fan-out", "layered"] {
            case(&format!("{shape} {n}"), &generated(shape, n));
        }
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/traces/wfinstances");
    let largest = std::fs::read_dir(&dir).ok().and_then(|es| {
        es.filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .filter_map(|p| Some((std::fs::metadata(&p).ok()?.len(), p)))
            .max()
            .map(|(_, p)| p)
    });
    match largest.and_then(|p| Some((std::fs::read_to_string(&p).ok()?, p))) {
        Some((text, p)) => match couler_wfformat::import(&text, &Default::default()) {
            Ok(wf) => case(
                &format!(
                    "trace {}",
                    p.file_name().unwrap_or_default().to_string_lossy()
                ),
                &wf,
            ),
            Err(e) => eprintln!("cannot import {}: {e:?}", p.display()),
        },
        None => eprintln!("skipping the trace case: no shared traces beside the checkout"),
    }
}
