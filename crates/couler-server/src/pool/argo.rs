//! Runs on a `kind: argo` cluster (docs/server.md, "Argo clusters"): the stored spec is compiled
//! as `couler submit --engine argo` compiles it (`couler_submit::compile`), created as the
//! Workflow named after the run id (`couler_submit::name_of`) with the submitted parameter
//! values as its arguments, and followed to its end through the Kubernetes API. A run admitted
//! again (the server restarted, an automatic retry) whose Workflow exists is followed, never
//! created twice (an automatic retry after an API-server error included: it follows the
//! Workflow, or creates it if the error came before it existed). A stop request patches `spec.shutdown: Stop` and follows the Workflow to its
//! end. Each reading's nodes are mirrored into memory as the run's steps (a step whose status
//! changed goes to the event bus, `mirror.rs`).

use super::Pool;
use crate::store::RunRow;
use couler_run::state::StepRecord;
use couler_submit::{Cluster, Ended, Submitted};
use std::time::Duration;
use tokio::sync::watch;

/// How often a running Workflow is read.
const POLL: Duration = Duration::from_secs(1);

/// The steps of an Argo run as its Workflow's `status.nodes` say.
fn steps_of(workflow: &serde_json::Value) -> Vec<StepRecord> {
    couler_submit::nodes(workflow)
        .into_iter()
        .map(|n| StepRecord {
            node: n.name.clone(),
            step: n.name,
            status: n.status,
            attempts: 1,
            exit_code: None,
            started_at: n.started_at,
            finished_at: n.finished_at,
            peak_rss_kb: None,
            cpu_seconds: None,
            cache_key: None,
            outputs: None,
            log_dir: None,
            message: n.message,
        })
        .collect()
}

/// Mirrors the steps of `row`'s Workflow as read.
fn record(pool: &Pool, row: &RunRow, workflow: &serde_json::Value) {
    pool.mirror.record(row, steps_of(workflow), &pool.events);
}

/// Creates (or finds again) and follows the Workflow of `row` on `cluster`: its final status
/// and message. `Err`: the API server's error, the attempt's `Error` message (the only
/// failure of an Argo run the server retries: a Workflow's own failures are Argo's to retry,
/// with a `retryStrategy`).
pub async fn execute(
    pool: &Pool,
    cluster: &Cluster,
    row: &RunRow,
    stop: watch::Receiver<bool>,
) -> Result<(String, Option<String>), String> {
    let name = couler_submit::name_of(&row.id);
    let submitted = match couler_submit::find(cluster, &name).await? {
        Some((found, workflow)) => {
            record(pool, row, &workflow);
            found
        }
        None => create(cluster, row, &name).await?,
    };
    follow(pool, &submitted, row, stop).await
}

/// Compiles the stored spec and creates its Workflow as `name`.
async fn create(cluster: &Cluster, row: &RunRow, name: &str) -> Result<Submitted, String> {
    let wf = couler_ir::spec::parse(&row.spec, couler_ir::Format::Json)
        .map_err(|_| format!("the stored spec of run `{}` cannot be read back", row.id))?;
    let compiled = couler_submit::compile(&wf, &couler_submit::Options::default())?;
    let params = crate::submission::params_of(&row.params)?;
    let submitted = couler_submit::create_named(cluster, &compiled.yaml, name, &params).await?;
    crate::log(format_args!(
        "run {}: Workflow {}/{} created",
        row.id, submitted.created.namespace, submitted.created.name
    ));
    Ok(submitted)
}

/// Follows the Workflow to its end, mirroring its nodes; a stop request patches it to stop
/// once, and a stopped Workflow that did not succeed ends the run `Stopped`.
async fn follow(
    pool: &Pool,
    submitted: &Submitted,
    row: &RunRow,
    mut stop: watch::Receiver<bool>,
) -> Result<(String, Option<String>), String> {
    let mut stopping = false;
    let mut listening = true;
    loop {
        if !stopping && *stop.borrow_and_update() {
            couler_submit::shutdown(submitted).await?;
            stopping = true;
        }
        tokio::select! {
            end = couler_submit::follow(submitted, POLL, |wf| record(pool, row, wf)) => {
                let Ended { phase, message } = end?;
                let state = if stopping && phase != "Succeeded" { "Stopped".to_string() } else { phase };
                return Ok((state, message));
            }
            changed = stop.changed(), if listening && !stopping => {
                listening = changed.is_ok();
            }
        }
    }
}
