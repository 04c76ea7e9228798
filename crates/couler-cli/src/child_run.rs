//! `couler launch pipelinerun`: the launcher of a sub-workflow step on Tekton (a split
//! workflow's part). It creates the part's PipelineRun through the Kubernetes API, from the
//! part's compiled PipelineRun (`COULER_CHILD_RUN`, written by the backend) with the step's
//! params and the parent run's claims, waits for it to finish, and reports the part's status
//! as the step's outcome (results `status` and `outcome`, exit code as `launch step`).
//!
//! - The run is named `PARENT-STEP` ([`child_run_name`]), owned by the parent PipelineRun
//!   (deleting the parent deletes it) and labelled with the parent's uid. A retried task finds
//!   it: a run of this parent that succeeded is kept, one still running is waited for, one that
//!   failed is deleted and created again (as a retried step runs again).
//! - SIGTERM or SIGINT (the parent run cancelled, the pod deleted) cancels the part's run
//!   (`spec.status: Cancelled`) before exiting.
//! - The API server is the kubeconfig's (`KUBECONFIG`), else the pod's service account
//!   (in-cluster); the account needs `create`, `get`, `patch` and `delete` on
//!   `pipelineruns.tekton.dev` (the backend writes that Role).

use crate::say::{say, tell};
use clap::Args;
use couler_backends::tekton::split::{ChildRun, PARENT_UID_LABEL, child_run, child_run_name};
use couler_ir::launch_protocol::{CHILD_RUN_ENV, POLL_INTERVAL_ENV};
use couler_run::StepStatus;
use couler_run::launch::{self, EXIT_ERROR, EXIT_USAGE, LaunchOptions, Outcome, SubWorkflowCall};
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams,
};
use kube::{Client, Config};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;
use tokio::signal::unix::{SignalKind, signal};

/// Seconds between reads of the part's status, unless `--poll-interval` or
/// `COULER_POLL_INTERVAL` says otherwise.
const POLL_SECONDS: f64 = 5.0;

/// Arguments of `couler launch pipelinerun`.
#[derive(Args)]
pub struct PipelineRunArgs {
    /// The task: @FILE, b64:BASE64 or JSON text (default: $COULER_TASK).
    #[arg(long)]
    task: Option<String>,
    /// The part's PipelineRun as compiled, JSON (default: $COULER_CHILD_RUN).
    #[arg(long)]
    child_run: Option<String>,
    /// The parent PipelineRun's name (`$(context.pipelineRun.name)`); its uid is the task's run
    /// id ($COULER_RUN_ID).
    #[arg(long)]
    parent_run: String,
    /// The namespace the part's run is created in (`$(context.pipelineRun.namespace)`).
    #[arg(long)]
    namespace: String,
    /// Bind the part's per-run workspace WORKSPACE to the parent's claim CLAIM (repeatable).
    #[arg(long = "claim", value_name = "WORKSPACE=CLAIM")]
    claims: Vec<String>,
    /// Also write the outcome as files here (Tekton results): `status`, `outcome`.
    #[arg(long)]
    results_dir: Option<PathBuf>,
    /// Seconds between reads of the part's status (default 5, or $COULER_POLL_INTERVAL).
    #[arg(long)]
    poll_interval: Option<f64>,
}

/// Runs `couler launch pipelinerun`; returns the exit code.
pub async fn run(args: PipelineRunArgs) -> i32 {
    let outcome = match start_and_wait(&args).await {
        Ok(o) => o,
        Err(Failure::Usage(e)) => {
            tell!("couler launch: {e}");
            return EXIT_USAGE;
        }
        Err(Failure::Api(e)) => Outcome::new(StepStatus::Error, Some(e)),
    };
    if let Some(m) = &outcome.message {
        tell!("couler launch: {}: {m}", outcome.status.as_str());
    }
    if let Some(dir) = &args.results_dir
        && let Err(e) = launch::write_results(dir, &outcome, &LaunchOptions::default()).await
    {
        tell!("couler launch: {e}");
        return EXIT_ERROR;
    }
    match serde_json::to_string(&outcome) {
        Ok(line) => say!("{line}"),
        Err(e) => tell!("couler launch: cannot print the outcome: {e}"),
    }
    outcome.exit_code()
}

enum Failure {
    /// The launcher's input is wrong (exit 3).
    Usage(String),
    /// The API server refused or could not be reached (the step is `Error`).
    Api(String),
}

async fn start_and_wait(args: &PipelineRunArgs) -> Result<Outcome, Failure> {
    let task = launch::read_task(args.task.as_deref()).map_err(|e| Failure::Usage(e.0))?;
    let call = launch::sub_workflow_call(&task, &LaunchOptions::default())
        .await
        .map_err(|e| Failure::Usage(e.0))?;
    let name = child_run_name(&args.parent_run, &call.step);
    let wanted = wanted_run(args, &call, &name)?;
    let poll = poll_seconds(args);
    let api = pipeline_runs(&args.namespace).await?;
    let here = format!("PipelineRun {}/{name}", args.namespace);
    let part = Part {
        api: &api,
        name: &name,
        here: &here,
        poll,
    };
    let kept = part.create_or_adopt(&wanted, &call).await?;
    follow(&api, &name, &here, poll, kept).await
}

/// The part's PipelineRun to create: the compiled template with the step's params, the
/// parent's claims, its name and owner.
fn wanted_run(
    args: &PipelineRunArgs,
    call: &SubWorkflowCall,
    name: &str,
) -> Result<DynamicObject, Failure> {
    let template_text = match &args.child_run {
        Some(t) => t.clone(),
        None => std::env::var(CHILD_RUN_ENV).map_err(|_| {
            Failure::Usage("no child run: pass --child-run JSON or set COULER_CHILD_RUN (the part's PipelineRun as compiled)".into())
        })?,
    };
    let template: Value = serde_json::from_str(&template_text).map_err(|e| {
        Failure::Usage(format!("the child run (COULER_CHILD_RUN) is not JSON: {e}"))
    })?;
    let mut claims = BTreeMap::new();
    for c in &args.claims {
        let (w, claim) = c
            .split_once('=')
            .ok_or_else(|| Failure::Usage(format!("--claim {c:?}: write WORKSPACE=CLAIM")))?;
        claims.insert(w.to_string(), claim.to_string());
    }
    let wanted = child_run(
        &template,
        &ChildRun {
            name,
            namespace: &args.namespace,
            parent: &args.parent_run,
            parent_uid: &call.run_id,
            params: &call.params,
            claims: &claims,
        },
    )
    .map_err(|e| Failure::Usage(format!("step `{}`: {e}", call.step)))?;
    serde_json::from_value(wanted)
        .map_err(|e| Failure::Usage(format!("the child run is not an object: {e}")))
}

/// Seconds between reads of the part's status: the flag, else the environment, else the
/// default; never below 50 ms.
fn poll_seconds(args: &PipelineRunArgs) -> f64 {
    args.poll_interval
        .or_else(|| {
            std::env::var(POLL_INTERVAL_ENV)
                .ok()
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(POLL_SECONDS)
        .max(0.05)
}

/// The part's run on the API server: its name, how messages name it, how often to poll.
struct Part<'a> {
    api: &'a Api<DynamicObject>,
    name: &'a str,
    here: &'a str,
    poll: f64,
}

impl Part<'_> {
    /// Creates the part's run, or adopts this task's earlier one (replacing it if it failed);
    /// true when an earlier run is kept.
    async fn create_or_adopt(
        &self,
        wanted: &DynamicObject,
        call: &SubWorkflowCall,
    ) -> Result<bool, Failure> {
        let here = self.here;
        loop {
            match self.api.create(&PostParams::default(), wanted).await {
                Ok(_) => {
                    tell!("couler launch: created {here} (part `{}`)", call.reference);
                    return Ok(false);
                }
                Err(kube::Error::Api(s)) if s.code == 409 => {}
                Err(e) => return Err(Failure::Api(format!("cannot create {here}: {e}"))),
            }
            // A run of that name exists: this task's earlier attempt, or someone else's.
            let Some(found) = self.read().await? else {
                continue; // deleted in between
            };
            self.check_owner(&found, &call.run_id)?;
            match succeeded(&found.data) {
                Some((true, _)) | None => {
                    tell!(
                        "couler launch: {here} exists (an earlier attempt of this task); following it"
                    );
                    return Ok(true);
                }
                Some((false, why)) => {
                    tell!(
                        "couler launch: {here} of an earlier attempt failed ({why}); deleting it to run the part again"
                    );
                    self.delete_and_wait().await?;
                }
            }
        }
    }

    async fn read(&self) -> Result<Option<DynamicObject>, Failure> {
        self.api
            .get_opt(self.name)
            .await
            .map_err(|e| Failure::Api(format!("cannot read {}: {e}", self.here)))
    }

    /// A run of this name that another parent run (uid `run_id`) labelled is not ours to touch.
    fn check_owner(&self, found: &DynamicObject, run_id: &str) -> Result<(), Failure> {
        let owner = found
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(PARENT_UID_LABEL));
        if owner.map(String::as_str) != Some(run_id) {
            return Err(Failure::Api(format!(
                "{} exists and belongs to another run (label {PARENT_UID_LABEL}={}); delete it or rename the parent run",
                self.here,
                owner.map_or("none", String::as_str)
            )));
        }
        Ok(())
    }

    async fn delete_and_wait(&self) -> Result<(), Failure> {
        self.api
            .delete(self.name, &DeleteParams::background())
            .await
            .map_err(|e| Failure::Api(format!("cannot delete {}: {e}", self.here)))?;
        while self.read().await?.is_some() {
            tokio::time::sleep(Duration::from_secs_f64(self.poll)).await;
        }
        Ok(())
    }
}

async fn pipeline_runs(namespace: &str) -> Result<Api<DynamicObject>, Failure> {
    let config = Config::infer().await.map_err(|e| {
        Failure::Api(format!(
            "no Kubernetes configuration (KUBECONFIG or the pod's service account): {e}"
        ))
    })?;
    let client = Client::try_from(config)
        .map_err(|e| Failure::Api(format!("cannot build a Kubernetes client: {e}")))?;
    let gvk = GroupVersionKind::gvk("tekton.dev", "v1", "PipelineRun");
    let resource = ApiResource::from_gvk_with_plural(&gvk, "pipelineruns");
    Ok(Api::namespaced_with(client, namespace, &resource))
}

/// The run's `Succeeded` condition once it is decided: (true, _) or (false, reason: message).
fn succeeded(run: &Value) -> Option<(bool, String)> {
    let c = run["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == "Succeeded")?;
    let why = format!(
        "{}: {}",
        c["reason"].as_str().unwrap_or("no reason"),
        c["message"].as_str().unwrap_or("")
    );
    match c["status"].as_str() {
        Some("True") => Some((true, why)),
        Some("False") => Some((false, why)),
        _ => None,
    }
}

/// Waits for the part's run to finish, printing each change of its reason; cancels it on
/// SIGTERM or SIGINT.
async fn follow(
    api: &Api<DynamicObject>,
    name: &str,
    here: &str,
    poll: f64,
    kept: bool,
) -> Result<Outcome, Failure> {
    let mut term = signal(SignalKind::terminate())
        .map_err(|e| Failure::Api(format!("cannot watch for SIGTERM: {e}")))?;
    let mut int = signal(SignalKind::interrupt())
        .map_err(|e| Failure::Api(format!("cannot watch for SIGINT: {e}")))?;
    let mut last = String::new();
    loop {
        let run = api
            .get_opt(name)
            .await
            .map_err(|e| Failure::Api(format!("cannot read {here}: {e}")))?
            .ok_or_else(|| Failure::Api(format!("{here} was deleted while it ran")))?;
        if let Some((ok, why)) = succeeded(&run.data) {
            let what = if kept {
                " (kept from an earlier attempt)"
            } else {
                ""
            };
            return Ok(if ok {
                Outcome::new(
                    StepStatus::Succeeded,
                    Some(format!("{here} succeeded{what}")),
                )
            } else {
                Outcome::new(StepStatus::Failed, Some(format!("{here} failed: {why}")))
            });
        }
        let reason = run.data["status"]["conditions"][0]["reason"]
            .as_str()
            .unwrap_or("Pending")
            .to_string();
        if reason != last {
            tell!("couler launch: {here}: {reason}");
            last = reason;
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs_f64(poll)) => {}
            _ = term.recv() => return cancel(api, name, here, "SIGTERM").await,
            _ = int.recv() => return cancel(api, name, here, "SIGINT").await,
        }
    }
}

async fn cancel(
    api: &Api<DynamicObject>,
    name: &str,
    here: &str,
    signal: &str,
) -> Result<Outcome, Failure> {
    let patch = Patch::Merge(json!({"spec": {"status": "Cancelled"}}));
    api.patch(name, &PatchParams::default(), &patch)
        .await
        .map_err(|e| Failure::Api(format!("{signal}: cannot cancel {here}: {e}")))?;
    Ok(Outcome::new(
        StepStatus::Failed,
        Some(format!("{signal}: cancelled {here}")),
    ))
}
