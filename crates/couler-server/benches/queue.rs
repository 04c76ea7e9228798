//! The workflow queue's simulation benchmark (docs/server.md, "The queue model").
//!
//! 10,000 workflows from a seeded generator (`couler_server::queue::workload`: Poisson
//! arrivals at a CPU load, skewed users with quotas, mixed priorities and sizes, some GPU, one
//! in 500 impossible) run through three clusters in a discrete-event simulation, once per
//! policy: the weighted queue, FIFO and strict priority. Printed as a markdown table:
//! utilisation per resource over the makespan, wait p50/p95/p99 per priority class, Jain's
//! fairness index over the users' mean bounded slowdown
//! (`(wait + duration) / max(duration, 60 s)`), the makespan, refusals, and the simulator's
//! own time.
//!
//! `cargo bench -p couler-server --bench queue` (workflows from `COULER_BENCH_N`, default
//! 10000; seed `COULER_BENCH_SEED`, default 1; CPU load `COULER_BENCH_LOAD`, default 0.7).

use couler_server::queue::sim::{metrics, simulate};
use couler_server::queue::workload::{clusters, generate, quotas};
use couler_server::queue::{Fifo, Policy, StrictPriority, WeightedQueue};
use std::time::Instant;

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Seconds as hours and minutes: `2h05m`, `7m`, `0m`.
fn hm(secs: u64) -> String {
    let m = secs.div_ceil(60);
    if m >= 60 {
        format!("{}h{:02}m", m / 60, m % 60)
    } else {
        format!("{m}m")
    }
}

fn main() {
    let n = env("COULER_BENCH_N", 10_000usize);
    let seed = env("COULER_BENCH_SEED", 1u64);
    let load = env("COULER_BENCH_LOAD", 0.7f64);
    let (cl, q) = (clusters(), quotas());
    let jobs = generate(seed, n, load);
    println!(
        "{n} workflows, seed {seed}, CPU load {load}, clusters: {}\n",
        cl.iter()
            .map(|c| format!(
                "{} ({} cores, {} GiB, {} GPU)",
                c.name,
                c.capacity.cpu_milli / 1000,
                c.capacity.mem_mib / 1024,
                c.capacity.gpu
            ))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "| policy | util CPU / mem / GPU | wait low p50/p95/p99 | wait normal p50/p95/p99 | \
         wait high p50/p95/p99 | Jain (slowdown) | makespan | refused | sim time |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    let policies: [&dyn Policy; 3] = [&WeightedQueue::default(), &Fifo, &StrictPriority];
    for p in policies {
        let t = Instant::now();
        let out = simulate(p, &cl, &q, &jobs);
        let took = t.elapsed();
        assert!(out.stuck.is_empty(), "{} left workflows pending", p.name());
        let m = metrics(&jobs, &cl, &out);
        let u = m.utilisation.map(|x| format!("{:.0}%", x * 100.0));
        let waits: Vec<String> = m.waits.iter().map(|(_, w)| w.map(hm).join(" / ")).collect();
        println!(
            "| {} | {} | {} | {:.3} | {} | {} | {:.2} s |",
            p.name(),
            u.join(" / "),
            waits.join(" | "),
            m.jain,
            hm(m.makespan),
            m.refused,
            took.as_secs_f64()
        );
    }
}
