//! `couler submit FILE --server URL [--watch]` and `couler resume RUN --server URL`: a run
//! submitted or queued again on the server, and following it to its end as `couler run` and
//! `couler resume` do (each step's change on stderr, the steps and the outcome on stdout; exit
//! 0 when it succeeds, 1 otherwise).

use super::runs::{steps_json, steps_of};
use super::{Client, Failure, run_path, with_client};
use crate::exit::{FAILED, OK};
use crate::runtime::{Outcome, Steps, print_outcome};
use crate::say::{say, tell};
use reqwest::Method;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// The states a run of the server ends in.
const ENDED: [&str; 4] = ["Succeeded", "Failed", "Error", "Stopped"];

/// What `couler submit --server` sends, and whether it follows the run.
pub struct Submission {
    /// The spec's text, as the file holds it (the server validates it).
    pub spec: String,
    /// `--param NAME=VALUE`, each value as its text (typed by the server as `--param` is).
    pub params: Vec<(String, String)>,
    pub namespace: Option<String>,
    pub watch: bool,
    pub poll: Duration,
}

/// `couler submit FILE --server URL`: prints the run's id on its last line (with `--watch`,
/// then follows it to its end).
pub fn submit(url: &str, s: Submission) -> u8 {
    with_client(url, async |c: &Client| {
        let params: Map<String, Value> = s
            .params
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        let mut body = json!({"spec": s.spec, "parameters": params});
        if let Some(ns) = &s.namespace {
            body["namespace"] = json!(ns);
        }
        let created = c.json(Method::POST, "/api/v1/runs", Some(&body)).await?;
        for w in created["warnings"].as_array().into_iter().flatten() {
            tell!(
                "{}",
                w.as_str().map_or_else(|| w.to_string(), str::to_string)
            );
        }
        let id = created["id"].as_str().unwrap_or_default().to_string();
        tell!(
            "submitted run {id} in namespace {} ({})",
            created["namespace"].as_str().unwrap_or("default"),
            created["state"].as_str().unwrap_or("Queued")
        );
        say!("{id}");
        if !s.watch {
            return Ok(OK);
        }
        follow(c, url, &id, BTreeMap::new(), s.poll, false).await
    })
}

/// `couler resume RUN --server URL`: queues a failed, errored or stopped run again (steps that
/// Succeeded, were Skipped or Cached are kept) and follows it to its end; with `json`, says
/// only its report at the end, as the local `resume --output json`.
pub fn resume(url: &str, id: &str, json: bool) -> u8 {
    with_client(url, async |c: &Client| {
        let before = c.get(&run_path(id)).await?;
        let path = format!("{}/resume", run_path(id));
        let queued = c.json(Method::POST, &path, None).await?;
        tell!(
            "resuming run {id} on the server ({})",
            queued["state"].as_str().unwrap_or("Queued")
        );
        let poll = Duration::from_millis(500);
        follow(c, url, id, statuses(&before), poll, json).await
    })
}

/// Each step's status in a run.
fn statuses(run: &Value) -> BTreeMap<String, String> {
    steps_of(run)
        .into_iter()
        .map(|(r, _)| (r.node, r.status))
        .collect()
}

/// Polls run `id` until it ends, telling each step's change of status since `seen`; prints
/// the steps and the outcome (with `json`, only the report `couler run --output json` prints);
/// 0 if it succeeded, else 1.
async fn follow(
    c: &Client,
    url: &str,
    id: &str,
    mut seen: BTreeMap<String, String>,
    poll: Duration,
    json: bool,
) -> Result<u8, Failure> {
    let start = Instant::now();
    loop {
        let run = c.get(&run_path(id)).await?;
        for (node, status) in statuses(&run) {
            if seen.get(&node) != Some(&status) && !json {
                tell!("[{:>7.1}s] {node} {status}", start.elapsed().as_secs_f64());
                seen.insert(node, status);
            }
        }
        let state = run["state"].as_str().unwrap_or_default();
        if ENDED.contains(&state) {
            let seconds = (run["finishedAt"].as_f64().unwrap_or(0.0)
                - run["startedAt"].as_f64().unwrap_or(0.0))
            .max(0.0);
            if json {
                say!(
                    "{}",
                    serde_json::to_string_pretty(&report(&run, url, seconds)).unwrap_or_default()
                );
            } else {
                let steps: Vec<_> = steps_of(&run).into_iter().map(|(r, _)| r).collect();
                print_outcome(
                    Steps::Listed(&steps),
                    &Outcome {
                        run_id: id,
                        status: state,
                        seconds,
                        message: run["message"].as_str(),
                        place: format!("server: {url}"),
                        resume: format!("couler resume {id} --server {url}"),
                    },
                );
            }
            return Ok(if state == "Succeeded" { OK } else { FAILED });
        }
        tokio::time::sleep(poll).await;
    }
}

/// The local runtime's report of a run (`RunReport`'s keys), for a run of the server at `url`:
/// `stateDir` is null, `server` its URL.
fn report(run: &Value, url: &str, seconds: f64) -> Value {
    json!({
        "runId": run["id"],
        "workflow": run["workflow"],
        "status": run["state"],
        "message": run["message"],
        "seconds": seconds,
        "stateDir": null,
        "server": url,
        "steps": steps_json(run),
    })
}
