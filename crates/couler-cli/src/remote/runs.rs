//! `couler runs|status|stop|runs rm --server URL`: the server's runs shown as the local
//! commands show the state directory's: the same columns, and `--output json` with the local
//! keys (the server's `state` is the local `status`), plus what only the server knows
//! (`namespace`, `submittedBy`, `submittedAt`, …) as further keys.

use super::{Client, Failure, run_path, with_client};
use crate::exit::OK;
use crate::runtime::{print_runs, print_status};
use crate::say::say;
use crate::state_dir::Output;
use couler_run::StepRecord;
use reqwest::Method;
use serde_json::{Map, Value, json};

/// `local` (a JSON object) with every key of `server` it lacks added, but those in `consumed`
/// (the server's names of fields `local` already holds under the local name).
pub(super) fn with_extras(local: Value, server: &Value, consumed: &[&str]) -> Value {
    let mut out = match local {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    if let Some(extra) = server.as_object() {
        for (k, v) in extra {
            if !consumed.contains(&k.as_str()) && !out.contains_key(k) {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    Value::Object(out)
}

/// A run of the server in the local `runs`/`status` shape: `pid` is null (the executor is the
/// server's, not a process of this machine).
fn run_record(r: &Value) -> Value {
    let local = json!({
        "id": r["id"],
        "workflow": r["workflow"],
        "status": r["state"],
        "pid": null,
        "startedAt": r["startedAt"],
        "finishedAt": r["finishedAt"],
        "message": r["message"],
    });
    with_extras(local, r, &["state", "steps"])
}

/// A step of the server's run as the runtime's record (what the server does not send, such as
/// peak RSS, stays empty).
pub(super) fn step_record(s: &Value) -> StepRecord {
    let text = |k: &str| s[k].as_str().map(str::to_string);
    StepRecord {
        node: text("node").unwrap_or_default(),
        step: text("step").unwrap_or_default(),
        status: text("status").unwrap_or_default(),
        attempts: s["attempts"].as_i64().unwrap_or(0),
        exit_code: s["exitCode"].as_i64(),
        started_at: s["startedAt"].as_f64(),
        finished_at: s["finishedAt"].as_f64(),
        peak_rss_kb: s["peakRssKb"].as_i64(),
        cpu_seconds: s["cpuSeconds"].as_f64(),
        cache_key: text("cacheKey"),
        outputs: serde_json::from_value(s["outputs"].clone()).ok().flatten(),
        log_dir: None,
        message: text("message"),
    }
}

/// The server run's steps as records.
pub(super) fn steps_of(run: &Value) -> Vec<(StepRecord, &Value)> {
    run["steps"]
        .as_array()
        .map(|a| a.iter().map(|s| (step_record(s), s)).collect())
        .unwrap_or_default()
}

/// The server run's steps in the local JSON shape (the runtime's record), with the server's
/// further fields.
pub(super) fn steps_json(run: &Value) -> Vec<Value> {
    steps_of(run)
        .iter()
        .map(|(rec, s)| with_extras(json!(rec), s, &[]))
        .collect()
}

/// Every run the caller may view, newest first, all pages.
async fn all_runs(c: &Client) -> Result<Vec<Value>, Failure> {
    let mut runs = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let path = match &next {
            None => "/api/v1/runs?limit=500".to_string(),
            Some(token) => format!("/api/v1/runs?limit=500&continue={}", super::segment(token)),
        };
        let page = c.get(&path).await?;
        runs.extend(page["runs"].as_array().cloned().unwrap_or_default());
        match page["continue"].as_str() {
            Some(t) if !t.is_empty() => next = Some(t.to_string()),
            _ => return Ok(runs),
        }
    }
}

/// `couler runs --server URL`
pub fn runs(url: &str, output: Output) -> u8 {
    with_client(url, async |c: &Client| {
        let runs: Vec<Value> = all_runs(c).await?.iter().map(run_record).collect();
        if output == Output::Json {
            say!(
                "{}",
                serde_json::to_string_pretty(&runs).unwrap_or_default()
            );
            return Ok(OK);
        }
        let text = |r: &Value, k: &str| r[k].as_str().unwrap_or("").to_string();
        let rows: Vec<_> = runs
            .iter()
            .map(|r| {
                (
                    text(r, "id"),
                    text(r, "status"),
                    // A queued run has not started: its submission stands in.
                    r["startedAt"].as_f64().or(r["submittedAt"].as_f64()),
                    r["finishedAt"].as_f64(),
                    text(r, "workflow"),
                )
            })
            .collect();
        print_runs(
            rows.iter()
                .map(|(i, s, a, b, w)| (i.as_str(), s.as_str(), *a, *b, w.as_str())),
        );
        Ok(OK)
    })
}

/// `couler status RUN --server URL`
pub fn status(url: &str, id: &str, output: Output) -> u8 {
    with_client(url, async |c: &Client| {
        let run = c.get(&run_path(id)).await?;
        if output == Output::Json {
            let v = json!({"run": run_record(&run), "steps": steps_json(&run)});
            say!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
            return Ok(OK);
        }
        let text = |k: &str| run[k].as_str().unwrap_or("");
        let records: Vec<StepRecord> = steps_of(&run).into_iter().map(|(r, _)| r).collect();
        print_status(
            text("id"),
            text("workflow"),
            text("state"),
            run["message"].as_str(),
            &records,
        );
        Ok(OK)
    })
}

/// `couler stop RUN --server URL`: as the local `stop` says it (a run that has ended is
/// nothing to stop, exit 0); a queued run is taken off the queue.
pub fn stop(url: &str, id: &str, output: Output) -> u8 {
    with_client(url, async |c: &Client| {
        let run = c.get(&run_path(id)).await?;
        let status = run["state"].as_str().unwrap_or("").to_string();
        let path = format!("{}/stop", run_path(id));
        let how = match c.json(Method::POST, &path, None).await {
            Ok(v) => v["stop"].as_str().map(str::to_string),
            Err(Failure::Status { code: 409, .. }) => None,
            Err(f) => return Err(f),
        };
        if output == Output::Json {
            say!(
                "{}",
                json!({"runId": id, "status": status, "signalled": how.is_some(), "pid": null, "stop": how})
            );
            return Ok(OK);
        }
        match how.as_deref() {
            Some("dequeued") => say!("stopped run {id}: it was queued and will not start"),
            Some(_) => say!("stopping run {id} (the server stops its steps)"),
            None => say!("run {id} is not running (status {status}); nothing to stop"),
        }
        Ok(OK)
    })
}

/// `couler runs rm RUN --server URL`
pub fn forget(url: &str, id: &str) -> u8 {
    with_client(url, async |c: &Client| {
        c.json(Method::DELETE, &run_path(id), None).await?;
        say!("forgot run {id}");
        Ok(OK)
    })
}
