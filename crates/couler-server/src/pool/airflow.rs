//! Runs on a `kind: airflow` cluster (docs/server.md, "Airflow clusters"): the stored spec is
//! compiled as `couler compile --target airflow` compiles it, as the DAG named after the run
//! id (`couler_submit::name_of`, also its DAG run's id), written atomically into the cluster's
//! DAGs folder (Airflow's REST API cannot upload DAG code), and once Airflow's dag-processor
//! has parsed it, unpaused and triggered once with the submitted parameter values, typed as
//! declared, as the run's `conf`; then followed to its end through the REST API. A run
//! admitted again (the server restarted, an automatic retry) whose DAG run exists is followed,
//! never triggered twice. A stop request marks the DAG run `failed` (Airflow then stops its
//! running tasks) and ends the run `Stopped`. Each reading's task instances are mirrored into
//! memory as the run's steps (`steps.rs`, `mirror.rs`). The DAG file is removed once the run
//! has ended (the DAG run and its logs stay in Airflow's database); an API error keeps it, as
//! the automatic retry that may follow reads the same DAG run.

mod api;
mod logs;
mod steps;

use super::Pool;
use crate::config::AirflowTarget;
use crate::store::RunRow;
use api::Api;
use couler_backends::Backend;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// How often a DAG run is read, and Airflow asked whether it has parsed a new DAG file.
const POLL: Duration = Duration::from_secs(1);

/// Triggers (or finds again) and follows the DAG run of `row` on `target`: its final status
/// and message. `Err`: Airflow's API refused or could not be asked, the attempt's `Error`
/// message (the only failure of an Airflow run the server retries).
pub async fn execute(
    pool: &Pool,
    target: &AirflowTarget,
    row: &RunRow,
    stop: watch::Receiver<bool>,
) -> Result<(String, Option<String>), String> {
    let dag = couler_submit::name_of(&row.id);
    let api = Api::new(&target.url, credentials(target, &pool.secrets)?)?;
    let file = target.dags_folder.join(format!("{dag}.py"));
    let run = run_path(&dag);
    if api.call(Method::GET, &run, None).await?.is_none()
        && !create(&api, target, row, &dag, &file, &stop).await?
    {
        remove(&file);
        return Ok((
            "Stopped".into(),
            Some("stopped before Airflow parsed its DAG".into()),
        ));
    }
    let end = follow(pool, &api, row, &run, stop).await?;
    remove(&file);
    Ok(end)
}

/// The logs of step `node` of `row`'s DAG run (`logs.rs`); `None`: no such step, or it has not
/// started.
pub async fn logs(
    pool: &Pool,
    target: &AirflowTarget,
    row: &RunRow,
    node: &str,
) -> Result<Option<String>, String> {
    let dag = couler_submit::name_of(&row.id);
    let api = Api::new(&target.url, credentials(target, &pool.secrets)?)?;
    logs::read(&api, &run_path(&dag), node).await
}

/// The API path of DAG `dag`'s one DAG run (its id is the DAG's).
fn run_path(dag: &str) -> String {
    format!("/dags/{dag}/dagRuns/{dag}")
}

/// The user and password the server signs in to `target` with, the password read from the
/// secrets directory now (so a rotated secret is used by the next run).
fn credentials(target: &AirflowTarget, secrets: &Path) -> Result<(String, String), String> {
    let (user, secret) = &target.credentials;
    let path = secrets.join(secret);
    let password = std::fs::read_to_string(&path).map_err(|e| {
        format!(
            "the password of Airflow user `{user}` cannot be read from {} ({e}): create that file (`passwordSecret: {secret}` under --secrets-dir)",
            path.display()
        )
    })?;
    let password = password.trim_end_matches(['\n', '\r']).to_string();
    Ok((user.clone(), password))
}

/// Compiles and writes the DAG, waits until Airflow has parsed it, unpauses and triggers it;
/// `false`: stopped before Airflow parsed it (nothing was triggered).
async fn create(
    api: &Api,
    target: &AirflowTarget,
    row: &RunRow,
    dag: &str,
    file: &Path,
    stop: &watch::Receiver<bool>,
) -> Result<bool, String> {
    let wf = couler_ir::spec::parse(&row.spec, couler_ir::Format::Json)
        .map_err(|_| format!("the stored spec of run `{}` cannot be read back", row.id))?;
    let params = crate::submission::params_of(&row.params)?;
    let conf = couler_run::resolve_params(&wf, &params).map_err(|e| e.to_string())?;
    write_atomically(file, &compile(target, &wf, dag)?)?;
    if !parsed(api, target, dag, file, stop).await? {
        return Ok(false);
    }
    api.call(
        Method::PATCH,
        &format!("/dags/{dag}"),
        Some(&json!({"is_paused": false})),
    )
    .await?;
    let body = json!({"dag_run_id": dag, "logical_date": null, "conf": conf});
    let path = format!("/dags/{dag}/dagRuns");
    let (status, answer) = api.send(Method::POST, &path, Some(&body)).await?;
    // 409: it exists (triggered by an earlier attempt whose answer was lost).
    if !status.is_success() && status != StatusCode::CONFLICT {
        return Err(api::refusal(status, &Method::POST, &path, &answer));
    }
    crate::log(format_args!(
        "run {}: DAG run {dag}/{dag} triggered on Airflow at {}",
        row.id, target.url
    ));
    Ok(true)
}

/// The DAG file of `wf` with the id `dag` (the workflow keeps its name: `workflow.name`), as
/// `couler compile --target airflow` writes it.
fn compile(target: &AirflowTarget, wf: &couler_ir::Workflow, dag: &str) -> Result<String, String> {
    if wf.schedule.is_some() {
        return Err("the spec has a `schedule`: an airflow cluster triggers one DAG run per submission; remove the schedule, or compile it with `couler compile --target airflow` into Airflow's DAGs folder yourself".into());
    }
    let launcher = match &target.launcher {
        Some(l) => l.clone(),
        None => std::env::current_exe()
            .map_err(|e| format!("cannot find the server's own executable for the DAG's launcher: {e}; set `launcher` on the airflow cluster"))?
            .display()
            .to_string(),
    };
    let options = couler_backends::Options {
        operator: target.operator,
        launcher: Some(launcher),
        dag_id: Some(dag.to_string()),
        ..Default::default()
    };
    let out = couler_backends::airflow::Airflow
        .compile(wf, &options)
        .map_err(|e| e.to_string())?;
    out.files
        .into_values()
        .next()
        .ok_or_else(|| "the Airflow backend produced no DAG file".to_string())
}

/// Writes `text` to `file` through a hidden temporary file in the same folder (which the
/// dag-processor does not read) renamed over it, so Airflow never parses half a file.
fn write_atomically(file: &Path, text: &str) -> Result<(), String> {
    let name = file
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("dag.py");
    let tmp: PathBuf = file.with_file_name(format!(".{name}.tmp"));
    let fail = |e: std::io::Error| format!("cannot write the DAG file {}: {e}", file.display());
    std::fs::write(&tmp, text).map_err(fail)?;
    std::fs::rename(&tmp, file).map_err(fail)
}

fn remove(file: &Path) {
    if let Err(e) = std::fs::remove_file(file)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        crate::log(format_args!(
            "cannot remove the DAG file {}: {e}",
            file.display()
        ));
    }
}

/// Waits until Airflow knows DAG `dag` (`true`), is stopped (`false`), reports an import error
/// for `file`, or `target.parse_timeout` passes.
async fn parsed(
    api: &Api,
    target: &AirflowTarget,
    dag: &str,
    file: &Path,
    stop: &watch::Receiver<bool>,
) -> Result<bool, String> {
    let deadline = Instant::now() + target.parse_timeout;
    let name = file
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    loop {
        if *stop.borrow() {
            return Ok(false);
        }
        if api
            .call(Method::GET, &format!("/dags/{dag}"), None)
            .await?
            .is_some()
        {
            return Ok(true);
        }
        let errors = api
            .call(Method::GET, "/importErrors?limit=100", None)
            .await?;
        let ours = errors
            .as_ref()
            .and_then(|e| e["import_errors"].as_array())
            .and_then(|all| {
                all.iter().find(|e| {
                    e["filename"]
                        .as_str()
                        .is_some_and(|f| f.rsplit('/').next() == Some(name))
                })
            });
        if let Some(e) = ours {
            return Err(format!(
                "Airflow could not import the DAG file {}: {}",
                file.display(),
                e["stack_trace"].as_str().unwrap_or("(no detail)").trim()
            ));
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "Airflow did not parse the DAG file {} within {}s: is its dag-processor running and reading {}? ([dag_processor] refresh_interval is how often it looks for new files; `parseTimeoutSecs` how long the server waits)",
                file.display(),
                target.parse_timeout.as_secs(),
                target.dags_folder.display()
            ));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Follows the DAG run at `run` to its end, mirroring its task instances; a stop request marks
/// it `failed` once, and a run stopped so ends `Stopped`.
async fn follow(
    pool: &Pool,
    api: &Api,
    row: &RunRow,
    run: &str,
    mut stop: watch::Receiver<bool>,
) -> Result<(String, Option<String>), String> {
    let mut outcomes = steps::Outcomes::default();
    let mut stopping = false;
    let mut listening = true;
    loop {
        if !stopping && *stop.borrow_and_update() {
            api.call(Method::PATCH, run, Some(&json!({"state": "failed"})))
                .await?;
            stopping = true;
        }
        let state: Value = api
            .call(Method::GET, run, None)
            .await?
            .ok_or_else(|| format!("Airflow's DAG run {run} is gone (deleted in Airflow?)"))?;
        let steps = steps::read(api, run, &mut outcomes).await?;
        let message = steps::failure(&steps);
        pool.mirror.record(row, steps, &pool.events);
        match state["state"].as_str().unwrap_or_default() {
            "success" => return Ok(("Succeeded".into(), None)),
            "failed" if stopping => return Ok(("Stopped".into(), None)),
            "failed" => {
                let why = message.unwrap_or_else(|| "Airflow marked the DAG run failed".into());
                return Ok(("Failed".into(), Some(why)));
            }
            _ => {}
        }
        tokio::select! {
            () = tokio::time::sleep(POLL) => {}
            changed = stop.changed(), if listening && !stopping => {
                listening = changed.is_ok();
            }
        }
    }
}
