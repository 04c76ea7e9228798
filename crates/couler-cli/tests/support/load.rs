//! A bounded load on a `couler server` over loopback: `clients` threads, each a user of its
//! own, each submit `per_client` runs of one workflow, one request at a time, timing each
//! submission; then the runs are waited for through `GET /api/v1/runs` (the first token must
//! see every run). Used by `tests/server_load.rs` (every run
//! must end Succeeded, none lost) and `benches/server_load.rs` (latency and throughput).

#![allow(dead_code)]

use crate::support::Server;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// A one-step workflow that ends at once: the load is the server's, not the steps'.
pub const TINY: &str = r#"apiVersion: couler.dev/v1alpha1
kind: Workflow
name: tiny
params:
- name: n
steps:
- name: echo
  container:
    command: [printf, '%s', '{{params.n}}']
"#;

/// What a load gave.
pub struct Report {
    /// Each run's id, in submission order per client.
    pub ids: Vec<String>,
    /// Each submission's round trip, sorted.
    pub latencies: Vec<Duration>,
    /// From the first submission to the last answer.
    pub submit_wall: Duration,
    /// From the first submission to every run ended.
    pub done_wall: Duration,
    /// How many runs ended in each state.
    pub ended: BTreeMap<String, usize>,
}

impl Report {
    /// The `q` quantile of the submission latencies (0..=1), nearest rank.
    pub fn latency(&self, q: f64) -> Duration {
        let n = self.latencies.len();
        let rank = ((q * n as f64).ceil() as usize).clamp(1, n);
        self.latencies[rank - 1]
    }
}

/// Drives the load, client `c` with `tokens[c % tokens.len()]`, and waits (at most `limit`)
/// for every run to end.
pub fn drive(
    server: &Server,
    tokens: &[String],
    clients: usize,
    per_client: usize,
    limit: Duration,
) -> Report {
    let start = Instant::now();
    let results: Vec<Vec<(String, Duration)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..clients)
            .map(|c| {
                let token = Some(tokens[c % tokens.len()].as_str());
                scope.spawn(move || {
                    (0..per_client)
                        .map(|i| {
                            let body =
                                json!({"spec": TINY, "parameters": {"n": format!("{c}-{i}")}});
                            let t = Instant::now();
                            let (code, resp) = server.submit(token, &body);
                            let took = t.elapsed();
                            assert_eq!(code, 201, "client {c} submission {i}: {resp}");
                            let id = resp["id"].as_str().unwrap_or_default().to_string();
                            (id, took)
                        })
                        .collect()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| panic!("a client panicked")))
            .collect()
    });
    let submit_wall = start.elapsed();
    let (ids, mut latencies): (Vec<String>, Vec<Duration>) = results.into_iter().flatten().unzip();
    latencies.sort();
    let ended = wait_all(server, Some(&tokens[0]), ids.len(), start + limit);
    Report {
        ids,
        latencies,
        submit_wall,
        done_wall: start.elapsed(),
        ended,
    }
}

/// Pages through `GET /api/v1/runs` until `n` runs are listed and none is queued or running;
/// the count of each final state.
fn wait_all(
    server: &Server,
    token: Option<&str>,
    n: usize,
    deadline: Instant,
) -> BTreeMap<String, usize> {
    loop {
        let runs = list_all(server, token);
        let mut states: BTreeMap<String, usize> = BTreeMap::new();
        for r in &runs {
            *states
                .entry(r["state"].as_str().unwrap_or("?").to_string())
                .or_default() += 1;
        }
        let open = states.get("Queued").copied().unwrap_or(0)
            + states.get("Running").copied().unwrap_or(0);
        if runs.len() >= n && open == 0 {
            return states;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {n} runs listed, still open after the limit: {states:?}",
            runs.len()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Every run the caller may view, page by page.
pub fn list_all(server: &Server, token: Option<&str>) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cont: Option<String> = None;
    loop {
        let path = match &cont {
            Some(c) => format!("/api/v1/runs?limit=500&continue={c}"),
            None => "/api/v1/runs?limit=500".to_string(),
        };
        let (code, page) = server.call("GET", &path, token, None);
        assert_eq!(code, 200, "{page}");
        out.extend(page["runs"].as_array().cloned().unwrap_or_default());
        match page["continue"].as_str() {
            Some(c) => cont = Some(c.to_string()),
            None => return out,
        }
    }
}
