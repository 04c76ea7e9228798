//! A DAG run's task instances as the run's steps: `task_id` is the step's name (`[i]` added
//! for a mapped instance), Airflow's state mapped to Couler's status, its dates, its
//! `try_number` as attempts; for a task that ended, the launcher's outcome (status, outputs,
//! message; docs/airflow.md) read once: its XCom `return_value`, or for a failed task the
//! outcome line the launcher printed in its log. Generated helper
//! tasks (`couler.status`, `STEP.items`: ids with a `.`) are not steps.

use super::api::Api;
use couler_run::StepOutputs;
use couler_run::state::StepRecord;
use reqwest::Method;
use serde_json::Value;
use std::collections::HashMap;

/// Task instances per page (Airflow's default `maximum_page_limit`).
const PAGE: usize = 100;

/// The launcher outcomes read so far, by task, map index and try.
#[derive(Default)]
pub struct Outcomes(HashMap<(String, i64, i64), Value>);

/// The steps of the DAG run at `run` (`/dags/D/dagRuns/R`), by start time then name.
pub async fn read(
    api: &Api,
    run: &str,
    outcomes: &mut Outcomes,
) -> Result<Vec<StepRecord>, String> {
    let mut steps = Vec::new();
    let mut offset = 0;
    loop {
        let path = format!("{run}/taskInstances?limit={PAGE}&offset={offset}");
        let page = api
            .call(Method::GET, &path, None)
            .await?
            .unwrap_or(Value::Null);
        let tis = page["task_instances"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        offset += tis.len();
        for ti in &tis {
            if let Some(step) = step_of(api, run, ti, outcomes).await? {
                steps.push(step);
            }
        }
        let total = page["total_entries"].as_u64().unwrap_or(0) as usize;
        if tis.is_empty() || offset >= total {
            break;
        }
    }
    steps.sort_by(|a, b| {
        a.started_at
            .partial_cmp(&b.started_at)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then_with(|| a.node.cmp(&b.node))
    });
    Ok(steps)
}

/// The message of a run whose step failed: the first failed step's.
pub fn failure(steps: &[StepRecord]) -> Option<String> {
    let s = steps
        .iter()
        .find(|s| s.status == "Failed" || s.status == "Error")?;
    Some(match &s.message {
        Some(m) => format!("step `{}` failed: {m}", s.node),
        None => format!("step `{}` failed", s.node),
    })
}

async fn step_of(
    api: &Api,
    run: &str,
    ti: &Value,
    outcomes: &mut Outcomes,
) -> Result<Option<StepRecord>, String> {
    let task = ti["task_id"].as_str().unwrap_or_default();
    if task.is_empty() || task.contains('.') {
        return Ok(None);
    }
    let map_index = ti["map_index"].as_i64().unwrap_or(-1);
    let tries = ti["try_number"].as_i64().unwrap_or(0);
    let state = ti["state"].as_str().unwrap_or_default();
    let ended = matches!(state, "success" | "failed");
    let key = (task.to_string(), map_index, tries);
    let node = if map_index >= 0 {
        format!("{task}[{map_index}]")
    } else {
        task.to_string()
    };
    if ended && !outcomes.0.contains_key(&key) {
        let outcome = match state {
            "failed" => logged_outcome(api, run, &node).await?,
            _ => None,
        };
        let outcome = match outcome {
            Some(o) => o,
            None => {
                let path = format!(
                    "{run}/taskInstances/{task}/xcomEntries/return_value?map_index={map_index}"
                );
                let entry = api
                    .call(Method::GET, &path, None)
                    .await?
                    .unwrap_or(Value::Null);
                outcome_of(&entry["value"])
            }
        };
        outcomes.0.insert(key.clone(), outcome);
    }
    let outcome = outcomes.0.get(&key).cloned().unwrap_or(Value::Null);
    // The launcher's outcome (docs/launcher.md, "Outcomes"): outputs as the runtime's.
    let outputs: Option<StepOutputs> = outcome
        .get("outputs")
        .and_then(|o| serde_json::from_value(o.clone()).ok());
    let time = |k: &str| ti[k].as_str().and_then(couler_submit::seconds_of);
    Ok(Some(StepRecord {
        node,
        step: task.to_string(),
        status: outcome["status"]
            .as_str()
            .unwrap_or(status_of(state))
            .to_string(),
        attempts: tries,
        exit_code: outputs.as_ref().and_then(|o| o.exit_code).map(i64::from),
        started_at: time("start_date"),
        finished_at: if ended || status_of(state) == "Skipped" {
            time("end_date")
        } else {
            None
        },
        peak_rss_kb: None,
        cpu_seconds: None,
        cache_key: None,
        outputs,
        log_dir: None,
        message: outcome["message"].as_str().map(str::to_string),
    }))
}

/// The outcome the launcher printed as the last line of a failed task's output (its status and
/// message, e.g. `exited with code 3`), which the XCom of a failed task lacks (the DAG's
/// failure callback records only Airflow's exception).
async fn logged_outcome(api: &Api, run: &str, node: &str) -> Result<Option<Value>, String> {
    let Some(text) = super::logs::read(api, run, node).await? else {
        return Ok(None);
    };
    let last = text.lines().last().unwrap_or_default();
    Ok(serde_json::from_str::<Value>(last)
        .ok()
        .filter(|o| o["status"].is_string()))
}

/// The launcher's outcome in an XCom value (JSON text, or already JSON).
fn outcome_of(value: &Value) -> Value {
    match value {
        Value::String(text) => serde_json::from_str(text).unwrap_or(Value::Null),
        Value::Object(_) => value.clone(),
        _ => Value::Null,
    }
}

/// Couler's status of an Airflow task instance state (`upstream_failed`: Skipped, as Argo's
/// `Omitted`; not yet running: Pending).
fn status_of(state: &str) -> &'static str {
    match state {
        "success" => "Succeeded",
        "failed" => "Failed",
        "skipped" | "upstream_failed" | "removed" => "Skipped",
        "running" | "restarting" | "deferred" | "up_for_retry" | "up_for_reschedule" => "Running",
        _ => "Pending",
    }
}
