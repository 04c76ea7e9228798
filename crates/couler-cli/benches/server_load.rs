//! `couler server` under a bounded load on loopback (issue #22): `COULER_BENCH_CLIENTS`
//! (default 20) threads, each a user with a bearer token of their own, each submit
//! `COULER_BENCH_PER_CLIENT` (default 10) runs of a one-step workflow, one request at a time;
//! then every run is waited for.
//! Reported: submission latency p50/p90/p99/max, submissions per second, runs finished per
//! second, for `--workers` 4 and 8 (`COULER_BENCH_WORKERS`), on the metadata databases named
//! in `COULER_BENCH_DB` (default `sqlite`; `sqlite,postgres` adds a throwaway PostgreSQL 15,
//! as the tests start it).
//!
//! Baseline, side by side: the same number of runs as `couler run SPEC --param n=…` processes,
//! `clients` at a time (what a team without a server does: each user runs locally). The ratio
//! is the baseline's wall time over the server's time to finish every run.
//!
//! `cargo bench -p couler-cli --bench server_load`. Loopback only; bounded by the counts above.

#[path = "../tests/support/postgres.rs"]
mod pg;
#[path = "../tests/support/server.rs"]
mod support;

#[path = "../tests/support/load.rs"]
mod load;

use std::process::Command;
use std::time::{Duration, Instant};
use support::{Server, couler, token};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

/// `n` `couler run` processes, `parallel` at a time, each in its own state directory.
fn baseline(dir: &std::path::Path, n: usize, parallel: usize) -> Duration {
    let spec = dir.join("tiny.yaml");
    std::fs::write(&spec, load::TINY).unwrap_or_else(|e| panic!("{e}"));
    let start = Instant::now();
    std::thread::scope(|scope| {
        for c in 0..parallel {
            let spec = &spec;
            scope.spawn(move || {
                for i in (c..n).step_by(parallel) {
                    let out = Command::new(couler())
                        .arg("run")
                        .arg(spec)
                        .args(["--param", &format!("n={i}"), "--state-dir"])
                        .arg(dir.join(format!("local-{c}")))
                        .output()
                        .unwrap_or_else(|e| panic!("{e}"));
                    assert!(
                        out.status.success(),
                        "{}",
                        String::from_utf8_lossy(&out.stderr)
                    );
                }
            });
        }
    });
    start.elapsed()
}

fn main() {
    let clients = env_usize("COULER_BENCH_CLIENTS", 20);
    let per_client = env_usize("COULER_BENCH_PER_CLIENT", 10);
    let n = clients * per_client;
    let workers: Vec<usize> = std::env::var("COULER_BENCH_WORKERS")
        .unwrap_or_else(|_| "4,8".into())
        .split(',')
        .filter_map(|w| w.trim().parse().ok())
        .collect();
    let dbs = std::env::var("COULER_BENCH_DB").unwrap_or_else(|_| "sqlite".into());
    println!("{n} submissions from {clients} clients, one-step workflow, bearer tokens, loopback");
    println!(
        "| database | workers | submit p50 | p90 | p99 | max | submissions/s | runs finished/s | all ended in | `couler run` ×{n}, {clients} at a time | ratio |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for (db, w) in dbs
        .split(',')
        .flat_map(|db| workers.iter().map(move |w| (db.trim(), *w)))
    {
        match db {
            "sqlite" => support::use_sqlite(),
            "postgres" => support::use_db(pg::database()),
            other => panic!("COULER_BENCH_DB: `{other}` is neither sqlite nor postgres"),
        }
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let base = baseline(dir.path(), n, clients);
        let state = dir.path().join("state");
        let tokens: Vec<String> = (0..clients)
            .map(|u| token(&state, &format!("user{u}"), "editor", None))
            .collect();
        let server = Server::start(dir.path(), &["--workers", &w.to_string()]);
        let r = load::drive(
            &server,
            &tokens,
            clients,
            per_client,
            Duration::from_secs(900),
        );
        assert_eq!(r.ended.get("Succeeded").copied(), Some(n), "{:?}", r.ended);
        println!(
            "| {db} | {w} | {} | {} | {} | {} | {:.0} | {:.1} | {:.2} s | {:.2} s | {:.2}× |",
            ms(r.latency(0.5)),
            ms(r.latency(0.9)),
            ms(r.latency(0.99)),
            ms(r.latency(1.0)),
            n as f64 / r.submit_wall.as_secs_f64(),
            n as f64 / r.done_wall.as_secs_f64(),
            r.done_wall.as_secs_f64(),
            base.as_secs_f64(),
            base.as_secs_f64() / r.done_wall.as_secs_f64(),
        );
    }
}
