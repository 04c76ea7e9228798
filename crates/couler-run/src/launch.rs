//! The in-task launcher (`couler launch`): runs ONE step inside an engine's task (an Airflow
//! task, a Tekton step) with the local runtime's semantics, so every engine shares one piece of
//! code for staging artifacts, rendering templates, capturing outputs, skip decisions and
//! memoization. The interface (task JSON, environment, outcome JSON, exit codes, results
//! directory) is specified in `docs/launcher.md`; keep the two in step.
//!
//! Everything semantic is the step core's (`crate::step`: the fate of a step, the `repeat` loop,
//! an attempt's process and outcome) with `combine_map` and `render::Context`. What is here is
//! the driver: it reads the values an engine hands over instead of the executor's in-memory
//! outcomes, keeps its cache beside a directory store, runs one attempt per iteration (the
//! engine retries) and reports the outcome instead of recording it.

use crate::artifacts::{ArtifactKind, ArtifactRef, Location, Store};
use crate::mapped::{combine_map, map_items};
pub use crate::outcome::Outcome;

mod fan_out;
use crate::outcome::{StepOutputs, StepStatus};
use crate::render::{Context, Unresolved};
use crate::runner::{AttemptFiles, run_process};
use crate::step::{self, AttemptPlan, Fate, Input, PlanInputs, Probe, Ran, Turn};
use base64::Engine as _;
use couler_ir::{Expr, Step, StepKind, Workflow};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

// The protocol (task, its forms, environment, exit codes) has one home, shared with the backends.
pub use couler_ir::launch_protocol::{
    EXIT_ERROR, EXIT_FAILED, EXIT_OK, EXIT_SKIPPED, EXIT_USAGE, Task, upstream_env,
};
use couler_ir::launch_protocol::{ITEM_INDEX_ENV, TASK_ENV, TaskForm};
/// Outcomes larger than this go to the artifact store when written as a Tekton result. Tekton's
/// 4096-byte limit is for all results of a task together, and `status` is written beside
/// `outcome`, so the outcome keeps 256 bytes clear for it.
pub const MAX_RESULT_BYTES: usize = 4096 - 256;
/// Tekton's limit on a TaskRun's termination message: its results as Go's `json.Marshal` of
/// `[{"key":K,"value":V,"type":1},…]`, measured after escaping.
pub const TEKTON_MESSAGE_LIMIT: usize = 4096;

/// The length of `s` as a Go `encoding/json` string, quotes included: `"` and `\` take 2
/// bytes, `<`, `>`, `&`, U+2028, U+2029 and control characters other than `\n`, `\r`, `\t`
/// up to 6 (`\u003c`).
fn go_json_len(s: &str) -> usize {
    2 + s
        .chars()
        .map(|c| match c {
            '"' | '\\' | '\n' | '\r' | '\t' => 2,
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => 6,
            c if (c as u32) < 0x20 => 6,
            c => c.len_utf8(),
        })
        .sum::<usize>()
}

/// The size of the termination message Tekton writes for these results (name, value).
pub fn tekton_message_len(results: &[(&str, &str)]) -> usize {
    let entries: usize = results
        .iter()
        .map(|(k, v)| r#"{"key":,"value":,"type":1}"#.len() + go_json_len(k) + go_json_len(v))
        .sum();
    2 + entries + results.len().saturating_sub(1)
}

impl Outcome {
    /// The exit code for this outcome (docs/launcher.md, "Exit codes").
    pub fn exit_code(&self) -> i32 {
        match self.status {
            StepStatus::Succeeded | StepStatus::Cached => EXIT_OK,
            StepStatus::Skipped => EXIT_SKIPPED,
            StepStatus::Failed => EXIT_FAILED,
            _ => EXIT_ERROR,
        }
    }
}

/// Options of `couler launch step` / `when` besides the task.
#[derive(Clone, Debug, Default)]
pub struct LaunchOptions {
    /// `--store`; else `COULER_ARTIFACT_STORE`; else the workflow's `artifactRepository`.
    pub store: Option<String>,
    pub results_dir: Option<PathBuf>,
    pub work_dir: Option<PathBuf>,
    pub no_cache: bool,
    /// `when` mode: evaluate this instead of the step's `when`.
    pub expr: Option<String>,
}

/// Bad launcher input: the message names the field and the fix (exit code 3).
#[derive(Debug, PartialEq)]
pub struct Usage(pub String);

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Reads `--task` (or `COULER_TASK`): `@PATH`, `b64:BASE64` or JSON text.
pub fn read_task(arg: Option<&str>) -> Result<Task, Usage> {
    let text = match arg {
        Some(a) => a.to_string(),
        None => std::env::var(TASK_ENV).map_err(|_| {
            Usage(format!("no task: pass --task @FILE, --task b64:BASE64 or --task JSON, or set {TASK_ENV} (docs/launcher.md)"))
        })?,
    };
    let json = match TaskForm::of(&text) {
        TaskForm::File(path) => std::fs::read_to_string(path)
            .map_err(|e| Usage(format!("--task @{path}: cannot read the file: {e}")))?,
        TaskForm::Base64(b) => {
            let bytes = base64::engine::general_purpose::STANDARD
            .decode(b.trim())
            .map_err(|e| {
                Usage(format!(
                    "--task b64:…: not valid standard base64 ({e}); encode the task JSON with padding"
                ))
            })?;
            String::from_utf8(bytes)
                .map_err(|_| Usage("--task b64:…: the decoded task is not UTF-8 text".into()))?
        }
        TaskForm::Json(_) => text,
    };
    serde_json::from_str(&json).map_err(|e| {
        Usage(format!(
            "--task: not a valid task object ({e}); see docs/launcher.md for its fields"
        ))
    })
}

/// Everything resolved from a task, ready for the executor's helpers.
struct Prepared {
    wf: Workflow,
    step: Step,
    params: BTreeMap<String, serde_json::Value>,
    seen: BTreeMap<String, Outcome>,
    item: Option<serde_json::Value>,
    run_id: String,
    workflow_status: Option<String>,
    store: Option<Store>,
}

fn env_nonempty(k: &str) -> Option<String> {
    std::env::var(k).ok().filter(|v| !v.trim().is_empty())
}

/// A JSON value an engine handed over as an outcome: an object, a JSON string of one (XCom
/// renders values as text), a list of them (a mapped step), or nothing.
fn parse_json_text(v: &serde_json::Value) -> serde_json::Value {
    match v {
        serde_json::Value::String(s) => {
            let t = s.trim();
            if t.is_empty() || t == "None" || t == "null" {
                serde_json::Value::Null
            } else {
                serde_json::from_str(t).unwrap_or(serde_json::Value::Null)
            }
        }
        other => other.clone(),
    }
}

async fn fetch_ref(
    store: Option<&Store>,
    r: &serde_json::Value,
) -> Result<serde_json::Value, Usage> {
    let a: ArtifactRef = serde_json::from_value(r.clone())
        .map_err(|e| Usage(format!("an `outcomeRef` is not an artifact reference: {e}")))?;
    let store = store.ok_or_else(|| {
        Usage("an upstream outcome is an `outcomeRef`, but no artifact store is configured; pass --store".into())
    })?;
    let dir = tempdir_in_tmp("couler-outcome").map_err(Usage)?;
    let dest = dir.join("outcome.json");
    store.get(&a, &dest).await.map_err(|e| {
        Usage(format!(
            "cannot fetch the upstream outcome {}: {e}",
            a.digest
        ))
    })?;
    let text = std::fs::read_to_string(&dest).unwrap_or_default();
    let _ = std::fs::remove_dir_all(&dir);
    serde_json::from_str(&text)
        .map_err(|e| Usage(format!("the stored outcome {} is not JSON: {e}", a.digest)))
}

/// One upstream outcome from what the engine passed (see [`parse_json_text`]); `step` is the
/// upstream step, needed to combine a mapped one's instances.
async fn upstream_outcome(
    step: Option<&Step>,
    name: &str,
    raw: &serde_json::Value,
    store: Option<&Store>,
) -> Result<Outcome, Usage> {
    let mut v = parse_json_text(raw);
    if let Some(r) = v.get("outcomeRef") {
        v = fetch_ref(store, r).await?;
    }
    let one = |v: &serde_json::Value| -> Result<Outcome, Usage> {
        match parse_json_text(v) {
            serde_json::Value::Null => Ok(Outcome::new(StepStatus::Skipped, None)),
            o => serde_json::from_value(o).map_err(|e| {
                Usage(format!(
                    "the outcome of upstream step `{name}` is not an outcome object ({e}); pass what its launcher printed"
                ))
            }),
        }
    };
    match &v {
        serde_json::Value::Array(list) => {
            let step = step.ok_or_else(|| {
                Usage(format!(
                    "upstream step `{name}` is not a step of the workflow"
                ))
            })?;
            let ends = list.iter().map(one).collect::<Result<Vec<_>, _>>()?;
            let pairs: Vec<(StepStatus, &StepOutputs)> =
                ends.iter().map(|o| (o.status, &o.outputs)).collect();
            let (status, outputs) = combine_map(step, &pairs);
            Ok(Outcome::with_outputs(status, outputs))
        }
        other => one(other),
    }
}

/// A workflow status as an engine words it, in the IR's vocabulary: Tekton's `$(tasks.status)`
/// says `Completed` for a run that succeeded with skipped tasks, and `None` while tasks run.
fn engine_status(s: &str) -> String {
    match s {
        "Completed" => "Succeeded".to_string(),
        other => other.to_string(),
    }
}

/// Param values from the task, `COULER_PARAMS` and `COULER_PARAM_<name>`: strings typed by the declared type, as
/// `couler run --param` does; missing ones take their defaults.
fn params_of(
    wf: &Workflow,
    given: &serde_json::Map<String, serde_json::Value>,
) -> Result<BTreeMap<String, serde_json::Value>, Usage> {
    let mut all = given.clone();
    if let Some(text) = env_nonempty("COULER_PARAMS") {
        match serde_json::from_str::<serde_json::Value>(&text) {
            Ok(serde_json::Value::Object(m)) => all.extend(m),
            _ => {
                return Err(Usage(
                    "COULER_PARAMS is not a JSON object of param values".into(),
                ));
            }
        }
    }
    // One variable per param (`COULER_PARAM_<name>`, raw text): what engines that substitute
    // one value at a time into an env value (Tekton's `$(params.x)`) can produce safely.
    for p in &wf.params {
        if let Some(text) = env_nonempty(&format!("COULER_PARAM_{}", p.name)) {
            all.insert(p.name.clone(), serde_json::Value::String(text));
        }
    }
    let mut texts = Vec::new();
    let mut typed = Vec::new();
    for (k, v) in all {
        if !wf.params.iter().any(|p| p.name == k) {
            return Err(Usage(format!(
                "param `{k}`: workflow `{}` has no such param; remove it from the task's `params`",
                wf.name
            )));
        }
        match v {
            serde_json::Value::String(s) => texts.push((k, s)),
            other => typed.push((k, other)),
        }
    }
    let mut out = crate::resolve_params(wf, &texts).map_err(|e| Usage(e.to_string()))?;
    out.extend(typed);
    Ok(out)
}

async fn prepare(task: &Task, opts: &LaunchOptions) -> Result<Prepared, Usage> {
    let text = task.workflow.to_string();
    let wf = match couler_ir::spec::load(&text, couler_ir::Format::Json) {
        Ok((wf, _)) => wf,
        Err(diags) => {
            let first: Vec<String> = diags
                .iter()
                .take(3)
                .map(|d| d.render("task.workflow", None))
                .collect();
            return Err(Usage(format!(
                "the task's `workflow` is not a valid Couler workflow:\n{}",
                first.join("\n")
            )));
        }
    };
    let (step, is_exit_handler) = match wf.steps.iter().find(|s| s.name == task.step) {
        Some(s) => (s.clone(), false),
        None => match wf.on_exit.iter().find(|h| h.name == task.step) {
            Some(h) => (h.clone(), true),
            None => {
                return Err(Usage(format!(
                    "step `{}` is not a step of workflow `{}`; set the task's `step` to one of its steps",
                    task.step, wf.name
                )));
            }
        },
    };
    let store_loc = opts
        .store
        .clone()
        .or_else(|| env_nonempty("COULER_ARTIFACT_STORE"));
    let location = match store_loc {
        Some(s) => Some(Location::parse(&s).map_err(|e| Usage(e.to_string()))?),
        None => wf
            .artifact_repository
            .as_ref()
            .and_then(|s| Location::from_ir(s).ok()),
    };
    let store = match &location {
        Some(l) => Some(Store::open_at(l).await.map_err(|e| Usage(e.to_string()))?),
        None => None,
    };
    let params = params_of(&wf, &task.params)?;
    // Upstream outcomes: the task's, then the environment's for every step of the workflow
    // (exit steps included: one may read another).
    let mut raw: BTreeMap<String, serde_json::Value> = task.upstream.clone();
    for s in wf.steps.iter().chain(&wf.on_exit) {
        if let Ok(v) = std::env::var(upstream_env(&s.name)) {
            raw.insert(s.name.clone(), serde_json::Value::String(v));
        }
    }
    let mut seen = BTreeMap::new();
    for (name, v) in &raw {
        seen.insert(
            name.clone(),
            upstream_outcome(
                wf.steps.iter().find(|s| &s.name == name),
                name,
                v,
                store.as_ref(),
            )
            .await?,
        );
    }
    let run_id = task
        .run_id
        .clone()
        .or_else(|| env_nonempty("COULER_RUN_ID"))
        .unwrap_or_else(|| "launch".to_string());
    let mut workflow_status = task
        .workflow_status
        .clone()
        .or_else(|| env_nonempty("COULER_WORKFLOW_STATUS"))
        .map(|s| engine_status(&s));
    if is_exit_handler && workflow_status.is_none() {
        let others = unlisted_statuses(&wf, &seen, store.as_ref()).await?;
        workflow_status = Some(derived_status(&wf, &seen, &others).to_string());
    }
    let mut p = Prepared {
        wf,
        step,
        params,
        seen,
        item: None,
        run_id,
        workflow_status,
        store,
    };
    p.item = item_of(task, &p)?;
    Ok(p)
}

/// The statuses of the outcomes given for steps the task's workflow leaves out: an exit step's
/// slice stubs only the exit steps, the main steps it reads and those with
/// `continueOnFailure` (docs/launcher.md, "Workflow status for the exit handler"), yet every
/// main step's outcome counts.
async fn unlisted_statuses(
    wf: &Workflow,
    seen: &BTreeMap<String, Outcome>,
    store: Option<&Store>,
) -> Result<Vec<StepStatus>, Usage> {
    let names: std::collections::HashSet<&str> = wf
        .steps
        .iter()
        .chain(&wf.on_exit)
        .map(|s| s.name.as_str())
        .collect();
    let vars: std::collections::HashSet<String> = names.iter().map(|n| upstream_env(n)).collect();
    let mut out: Vec<StepStatus> = seen
        .iter()
        .filter(|(name, _)| !names.contains(name.as_str()))
        .map(|(_, o)| o.status)
        .collect();
    for (var, v) in std::env::vars() {
        if !var.starts_with("COULER_UPSTREAM_") || vars.contains(&var) {
            continue;
        }
        let name = var["COULER_UPSTREAM_".len()..]
            .to_lowercase()
            .replace('_', "-");
        // Only the status counts: a step without outputs combines a mapped one's instances.
        let stub = Step::new(
            name.clone(),
            StepKind::Suspend(couler_ir::Suspend::default()),
        );
        let raw = serde_json::Value::String(v);
        let o = upstream_outcome(Some(&stub), &name, &raw, store).await?;
        out.push(o.status);
    }
    Ok(out)
}

/// The workflow status the exit handler sees, from the steps' outcomes (as `couler run`):
/// those of the workflow's steps, and `others` (steps it leaves out, none with
/// `continueOnFailure`).
fn derived_status(
    wf: &Workflow,
    seen: &BTreeMap<String, Outcome>,
    others: &[StepStatus],
) -> &'static str {
    let listed = wf
        .steps
        .iter()
        .filter(|s| !s.continue_on_failure)
        .filter_map(|s| seen.get(&s.name).map(|o| o.status));
    let mut status = "Succeeded";
    for st in listed.chain(others.iter().copied()) {
        match st {
            StepStatus::Error => return "Error",
            StepStatus::Failed | StepStatus::Omitted => status = "Failed",
            _ => {}
        }
    }
    status
}

/// This instance's map item: given as a value, or as an index into the step's own `map`.
fn item_of(task: &Task, p: &Prepared) -> Result<Option<serde_json::Value>, Usage> {
    if let Some(t) = env_nonempty("COULER_ITEM") {
        return serde_json::from_str(&t)
            .map(Some)
            .map_err(|e| Usage(format!("COULER_ITEM is not JSON: {e}")));
    }
    if let Some(v) = &task.item {
        return Ok(Some(v.clone()));
    }
    let index = match env_nonempty("COULER_ITEM_INDEX") {
        Some(t) => Some(t.trim().parse::<usize>().map_err(|_| {
            Usage(format!(
                "COULER_ITEM_INDEX `{t}` is not a non-negative integer"
            ))
        })?),
        None => task.item_index,
    };
    let Some(index) = index else {
        return Ok(None);
    };
    let Some(map) = &p.step.map else {
        return Err(Usage(format!(
            "an item index was given, but step `{}` has no `map`",
            p.step.name
        )));
    };
    let items = match map_items(&p.step, &map.over, &p.ctx(None)) {
        Ok(items) => items,
        // The list is unreadable (its producer was skipped): run no instance.
        Err(_) => return Ok(None),
    };
    items.get(index).cloned().map(Some).ok_or_else(|| {
        Usage(format!(
            "item index {index} is out of range: step `{}` maps over {} items",
            p.step.name,
            items.len()
        ))
    })
}

impl Prepared {
    fn ctx<'a>(&'a self, item: Option<&'a serde_json::Value>) -> Context<'a> {
        Context {
            workflow_name: &self.wf.name,
            run_id: &self.run_id,
            workflow_status: self.workflow_status.as_deref(),
            params: &self.params,
            steps: &self.seen,
            item,
            input_params: BTreeMap::new(),
            input_artifact_paths: BTreeMap::new(),
            output_param_paths: BTreeMap::new(),
            output_artifact_paths: BTreeMap::new(),
        }
    }
}

fn tempdir_in_tmp(prefix: &str) -> Result<PathBuf, String> {
    let base = std::env::temp_dir();
    for n in 0..1000u32 {
        let d = base.join(format!("{prefix}-{}-{n}", std::process::id()));
        match std::fs::create_dir(&d) {
            Ok(()) => return Ok(d),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(format!(
                    "cannot create a directory under {}: {e}",
                    base.display()
                ));
            }
        }
    }
    Err(format!(
        "cannot create a fresh directory under {}",
        base.display()
    ))
}

/// `couler launch step`: runs the step and returns its outcome (never panics on bad input).
pub async fn run_step(task: &Task, opts: &LaunchOptions) -> Result<Outcome, Usage> {
    let p = prepare(task, opts).await?;
    if p.step.map.is_some() && p.item.is_none() {
        // An engine's index param left empty is its bug, not a request for every instance.
        if std::env::var(ITEM_INDEX_ENV).is_ok_and(|v| v.trim().is_empty()) {
            return Err(Usage(format!(
                "{ITEM_INDEX_ENV} is set but empty: give this instance's index, or unset it to run every instance of step `{}`",
                p.step.name
            )));
        }
        // No item given: every instance, here (docs/launcher.md, "A whole map in one launcher").
        return Ok(fan_out::run_all(&p, opts).await);
    }
    Ok(run_prepared(&p, p.item.as_ref(), opts).await)
}

/// Runs the step (with `item`, one map instance) to its end: cache, `repeat` loop, cache entry.
async fn run_prepared(
    p: &Prepared,
    item: Option<&serde_json::Value>,
    opts: &LaunchOptions,
) -> Outcome {
    let step = &p.step;
    let store = p.store.as_ref();
    let ctx = p.ctx(item);
    // Cache entries live beside a directory store's blobs: no store, no cache.
    let cache_dir = store
        .filter(|_| !opts.no_cache)
        .and_then(|_| local_cache_dir(opts));
    let lookup = |probe: Probe<'_>| {
        Ok(probe
            .zip(cache_dir.as_ref())
            .and_then(|((key, max_age), dir)| cache_get(dir, key, max_age)))
    };
    let caching = step::Caching {
        enabled: cache_dir.is_some(),
        secrets_from: None,
    };
    let ready = match step::decide(&p.wf, &ctx, step, store, caching, lookup).await {
        Ok(Fate::Ready(ready)) => ready,
        Ok(Fate::Ended(o) | Fate::Cached { outcome: o, .. }) => return o,
        Ok(Fate::SubWorkflow(sub)) => {
            return Outcome::new(
                StepStatus::Error,
                format!(
                    "step `{}` runs the sub-workflow `{}`, which its engine starts itself (a TriggerDagRunOperator on Airflow, `couler launch pipelinerun` on Tekton); `couler launch step` runs one process",
                    step.name, sub.reference
                ),
            );
        }
        Ok(Fate::Wait(d)) => {
            tokio::time::sleep(d).await;
            return Outcome::new(StepStatus::Succeeded, None);
        }
        // The launcher's lookup cannot fail.
        Err(e) => return Outcome::new(StepStatus::Error, e.to_string()),
    };
    let mut repeat = step::Loop::new(step, ctx.clone());
    let out = loop {
        match repeat.after(attempt(p, item, store, &ready.inputs, opts).await) {
            Turn::Again(_) => continue,
            Turn::End(o) => break o,
        }
    };
    if let Some(dir) = &cache_dir
        && ready.caching
        && out.status == StepStatus::Succeeded
        && let Err(e) = cache_put(dir, &ready.key, &out.outputs)
    {
        eprintln!("couler launch: warning: cannot write the cache entry: {e}");
    }
    out
}

/// Cache entries live beside a directory store's blobs (`<store>/cache/<hex>.json`).
fn local_cache_dir(opts: &LaunchOptions) -> Option<PathBuf> {
    let loc = opts
        .store
        .clone()
        .or_else(|| env_nonempty("COULER_ARTIFACT_STORE"))?;
    match Location::parse(&loc).ok()? {
        Location::Local { root } => Some(root.join("cache")),
        _ => None,
    }
}

fn cache_file(dir: &Path, key: &str) -> PathBuf {
    dir.join(format!("{}.json", key.trim_start_matches("sha256:")))
}

fn cache_get(dir: &Path, key: &str, max_age: Option<Duration>) -> Option<StepOutputs> {
    let f = cache_file(dir, key);
    if let Some(max) = max_age {
        let age = std::fs::metadata(&f)
            .ok()?
            .modified()
            .ok()?
            .elapsed()
            .ok()?;
        if age > max {
            return None;
        }
    }
    serde_json::from_slice(&std::fs::read(f).ok()?).ok()
}

fn cache_put(dir: &Path, key: &str, outputs: &StepOutputs) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let f = cache_file(dir, key);
    let tmp = f.with_extension(format!("tmp-{}", std::process::id()));
    let bytes = serde_json::to_vec(outputs).map_err(|e| e.to_string())?;
    std::fs::write(&tmp, bytes).map_err(|e| e.to_string())?;
    std::fs::rename(&tmp, &f).map_err(|e| e.to_string())
}

/// One run of the step's command in a fresh work directory.
async fn attempt(
    p: &Prepared,
    item: Option<&serde_json::Value>,
    store: Option<&Store>,
    inputs: &[Input],
    opts: &LaunchOptions,
) -> Outcome {
    let base = match &opts.work_dir {
        Some(d) => match std::fs::create_dir_all(d) {
            Ok(()) => Ok(d.clone()),
            Err(e) => Err(format!(
                "cannot create the work directory {}: {e}",
                d.display()
            )),
        },
        None => tempdir_in_tmp("couler-launch"),
    };
    let dir = match base {
        Ok(d) => d,
        Err(why) => return Outcome::new(StepStatus::Error, Some(why)),
    };
    let out = attempt_in(p, item, store, inputs, &dir).await;
    if opts.work_dir.is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    out
}

async fn attempt_in(
    p: &Prepared,
    item: Option<&serde_json::Value>,
    store: Option<&Store>,
    inputs: &[Input],
    dir: &Path,
) -> Outcome {
    let step = &p.step;
    let files = AttemptFiles::at(dir.join("work"));
    let _ = std::fs::remove_dir_all(files.work());
    let mut ctx = p.ctx(item);
    let plan = AttemptPlan::new(
        &PlanInputs {
            wf: &p.wf,
            step,
            store,
            inputs,
            files: &files,
            run_id: &p.run_id,
            node: &step.name,
            secret_hint: "the engine must set it in the task's environment",
            environment: &crate::StepEnvironment::Inherited,
            work_dir_on_host: true,
        },
        &mut ctx,
    )
    .await;
    let plan = match plan {
        Ok(plan) => plan,
        Err(why) => return Outcome::new(StepStatus::Error, Some(why)),
    };
    if plan.argv.is_empty() {
        return Outcome::new(
            StepStatus::Error,
            Some(format!(
                "step `{}` has no command to run on the host; give its container a `command`",
                step.name
            )),
        );
    }
    let timeout = p.wf.effective_timeout(step).map(|d| d.as_std());
    // The launcher runs inside the engine's own container: no engine to drive.
    let spec = plan.process(&files, timeout);
    let (_stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let end = run_process(&spec, stop_rx, |_| {}).await;
    // The step's own output goes to the engine's log on stderr: stdout carries the outcome.
    for log in [&spec.stdout, &spec.stderr] {
        echo_log(log);
    }
    let ran = Ran {
        step,
        files: &files,
        store,
        timeout,
    };
    step::attempt_outcome(&end, &ran).await
}

/// Streams a step's log to stderr, ending it with a newline, so the outcome stays alone on
/// the last line even where the engine merges stderr into stdout (Airflow's BashOperator does).
/// A log that cannot be echoed is not the step's failure: the engine's log just lacks it.
fn echo_log(log: &Path) {
    let mut err = std::io::stderr().lock();
    if let Ok(n) = crate::logfile::copy_from(log, 0, &mut err)
        && n > 0
        && crate::logfile::tail(log, 1).is_ok_and(|t| t.bytes != b"\n")
    {
        let _ = err.write_all(b"\n");
    }
}

/// `couler launch when`: the step's `when` (or `expr`) evaluated; `Ok(None)` means "skip"
/// (it reads an output of a skipped step), which an engine treats as false.
pub async fn eval_when(task: &Task, opts: &LaunchOptions) -> Result<bool, Usage> {
    let p = prepare(task, opts).await?;
    let expr = match &opts.expr {
        Some(text) => Expr::parse(text).map_err(|e| {
            Usage(format!(
                "--expr `{text}` is not a condition: {e} (docs/spec.md §11)"
            ))
        })?,
        None => p.step.when.clone().ok_or_else(|| {
            Usage(format!(
                "step `{}` has no `when`; pass --expr CONDITION",
                p.step.name
            ))
        })?,
    };
    match p.ctx(p.item.as_ref()).eval(&expr) {
        Ok(b) => Ok(b),
        Err(Unresolved::Skipped(_)) => Ok(false),
        Err(Unresolved::Error(why)) => Err(Usage(format!("cannot evaluate `{expr}`: {why}"))),
    }
}

/// What a sub-workflow step starts: the child's reference, its params rendered in the step's
/// context (text, as an engine passes params), and the parent run's id.
#[derive(Clone, Debug, PartialEq)]
pub struct SubWorkflowCall {
    pub step: String,
    pub reference: String,
    pub params: Vec<(String, String)>,
    pub run_id: String,
}

/// `couler launch pipelinerun`: the sub-workflow step of the task, with its params rendered as
/// the local runtime renders them for a nested run.
pub async fn sub_workflow_call(
    task: &Task,
    opts: &LaunchOptions,
) -> Result<SubWorkflowCall, Usage> {
    let p = prepare(task, opts).await?;
    let StepKind::Workflow(sub) = &p.step.kind else {
        return Err(Usage(format!(
            "step `{}` is a {} step, not a sub-workflow step (`workflow: {{ref: …}}`); run it with `couler launch step`",
            p.step.name,
            p.step.kind.key()
        )));
    };
    let params = crate::subworkflow::render_params(&p.step, sub, &p.ctx(None)).map_err(Usage)?;
    Ok(SubWorkflowCall {
        step: p.step.name.clone(),
        reference: sub.reference.clone(),
        params,
        run_id: p.run_id.clone(),
    })
}

/// `couler launch items`: the indices of a mapped step's items, resolved as the executor does
/// (for `map.from`, from the upstream outcome). A list whose producer was skipped is empty (no
/// instance runs; the engine skips the step).
pub async fn list_items(task: &Task, opts: &LaunchOptions) -> Result<Vec<usize>, Usage> {
    let p = prepare(task, opts).await?;
    let Some(map) = &p.step.map else {
        return Err(Usage(format!(
            "step `{}` has no `map`; `couler launch items` lists a mapped step's items",
            p.step.name
        )));
    };
    match map_items(&p.step, &map.over, &p.ctx(None)) {
        Ok(items) => Ok((0..items.len()).collect()),
        Err(Unresolved::Skipped(_)) => Ok(Vec::new()),
        Err(Unresolved::Error(why)) => Err(Usage(why)),
    }
}

/// Writes the results directory (docs/launcher.md, "Outcomes"): `status` and `outcome`, the
/// outcome stored in the artifact store when it is over [`MAX_RESULT_BYTES`].
pub async fn write_results(dir: &Path, o: &Outcome, opts: &LaunchOptions) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let text = serde_json::to_string(o).map_err(|e| e.to_string())?;
    // Tekton counts the results escaped into its termination message, where every `"` of the
    // outcome's JSON costs 2 bytes (a `\"` inside a value 4), so raw size is not enough.
    let message = tekton_message_len(&[("status", o.status.as_str()), ("outcome", &text)]);
    let body = if text.len() > MAX_RESULT_BYTES || message > TEKTON_MESSAGE_LIMIT {
        let loc = opts
            .store
            .clone()
            .or_else(|| env_nonempty("COULER_ARTIFACT_STORE"))
            .ok_or_else(|| {
                format!(
                    "the outcome is {} bytes (over {MAX_RESULT_BYTES}) and no artifact store is configured to hold it; pass --store",
                    text.len()
                )
            })?;
        let store = Store::open_at(&Location::parse(&loc).map_err(|e| e.to_string())?)
            .await
            .map_err(|e| e.to_string())?;
        let tmp = tempdir_in_tmp("couler-outcome")?;
        let f = tmp.join("outcome.json");
        std::fs::write(&f, &text).map_err(|e| e.to_string())?;
        let r = store.put(&f).await.map_err(|e| e.to_string());
        let _ = std::fs::remove_dir_all(&tmp);
        let r = r?;
        debug_assert_eq!(r.kind, ArtifactKind::File);
        serde_json::json!({ "outcomeRef": r }).to_string()
    } else {
        text
    };
    let write = |name: &str, v: &str| {
        std::fs::write(dir.join(name), v)
            .map_err(|e| format!("cannot write {}: {e}", dir.join(name).display()))
    };
    write("status", o.status.as_str())?;
    write("outcome", &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn task(wf: serde_json::Value, step: &str) -> Task {
        Task {
            workflow: wf,
            step: step.into(),
            params: Default::default(),
            upstream: Default::default(),
            item: None,
            item_index: None,
            run_id: Some("r1".into()),
            workflow_status: None,
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn runs_a_step_and_reads_upstream_outputs() -> Result<(), Usage> {
        let wf = serde_json::json!({
            "apiVersion": "couler.dev/v1alpha1", "kind": "Workflow", "name": "w",
            "params": [{"name": "n", "type": "int", "default": 2}],
            "steps": [
                {"name": "a", "script": {"image": "python:3", "command": ["sh"], "source": "echo hi"}},
                {"name": "b", "script": {"image": "python:3", "command": ["sh"],
                    "source": "echo \"{{steps.a.outputs.result}}-{{params.n}}\""}}
            ]
        });
        let mut t = task(wf.clone(), "b");
        t.upstream.insert(
            "a".into(),
            serde_json::json!({"status": "Succeeded", "outputs": {"parameters": {}, "result": "x'y", "exit_code": 0, "artifacts": {}}}),
        );
        t.params.insert("n".into(), serde_json::json!("5"));
        let o = run_step(&t, &LaunchOptions::default()).await?;
        assert_eq!(o.status, StepStatus::Succeeded, "{o:?}");
        assert_eq!(o.outputs.result.as_deref(), Some("x'y-5"));
        // An upstream with no outcome (skipped) skips a reader of its output.
        let mut t = task(wf, "b");
        t.upstream.insert("a".into(), serde_json::json!("None"));
        let o = run_step(&t, &LaunchOptions::default()).await?;
        assert_eq!(o.status, StepStatus::Skipped, "{o:?}");
        assert_eq!(o.exit_code(), EXIT_SKIPPED);
        Ok(())
    }

    fn store_opts(dir: &Path) -> LaunchOptions {
        LaunchOptions {
            store: Some(dir.join("store").display().to_string()),
            ..LaunchOptions::default()
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn artifacts_pass_through_the_store_and_the_cache_restores_outputs() -> Result<(), Usage>
    {
        let dir = tempfile::tempdir().map_err(|e| Usage(e.to_string()))?;
        let wf = serde_json::json!({
            "apiVersion": "couler.dev/v1alpha1", "kind": "Workflow", "name": "w",
            "steps": [
                {"name": "make", "cache": {}, "script": {"command": ["sh"],
                    "source": "echo made-$$ > {{outputs.artifacts.out.path}}; echo ran"},
                 "outputs": {"artifacts": [{"name": "out", "path": "out.txt"}]}},
                {"name": "read", "container": {"command": ["cat", "{{inputs.artifacts.out.path}}"]},
                 "inputs": {"artifacts": [{"name": "out", "path": "in.txt", "from": "steps.make.outputs.artifacts.out"}]}}
            ]
        });
        let opts = store_opts(dir.path());
        let first = run_step(&task(wf.clone(), "make"), &opts).await?;
        assert_eq!(first.status, StepStatus::Succeeded, "{first:?}");
        // Same key: restored from the cache, not run again (the pid in the file would differ).
        let second = run_step(&task(wf.clone(), "make"), &opts).await?;
        assert_eq!(second.status, StepStatus::Cached, "{second:?}");
        assert_eq!(second.outputs, first.outputs);
        let no_cache = LaunchOptions {
            no_cache: true,
            ..store_opts(dir.path())
        };
        let third = run_step(&task(wf.clone(), "make"), &no_cache).await?;
        assert_eq!(third.status, StepStatus::Succeeded);
        assert_ne!(
            third.outputs.artifacts, first.outputs.artifacts,
            "ran again: new content"
        );
        let mut t = task(wf, "read");
        t.upstream.insert(
            "make".into(),
            serde_json::to_value(&first).map_err(|e| Usage(e.to_string()))?,
        );
        let read = run_step(&t, &opts).await?;
        assert_eq!(read.status, StepStatus::Succeeded, "{read:?}");
        let made = read.outputs.result.clone().unwrap_or_default();
        assert!(made.starts_with("made-"), "{made}");
        Ok(())
    }

    /// The launcher applies the caching rule of every engine (`Workflow::memoized`): a step
    /// that declares outputs is memoized without `cache`, one without outputs runs every time.
    #[tokio::test(flavor = "multi_thread")]
    async fn the_launcher_memoizes_by_the_rule_of_every_engine() -> Result<(), Usage> {
        let dir = tempfile::tempdir().map_err(|e| Usage(e.to_string()))?;
        let wf = serde_json::json!({
            "apiVersion": "couler.dev/v1alpha1", "kind": "Workflow", "name": "w",
            "steps": [
                {"name": "make", "script": {"command": ["sh"],
                    "source": "echo made-$$ > {{outputs.artifacts.out.path}}"},
                 "outputs": {"artifacts": [{"name": "out", "path": "out.txt"}]}},
                {"name": "deploy", "container": {"command": ["true"]}}
            ]
        });
        let opts = store_opts(dir.path());
        for (step, second) in [
            ("make", StepStatus::Cached),
            ("deploy", StepStatus::Succeeded),
        ] {
            let first = run_step(&task(wf.clone(), step), &opts).await?;
            assert_eq!(first.status, StepStatus::Succeeded, "{step}: {first:?}");
            let again = run_step(&task(wf.clone(), step), &opts).await?;
            assert_eq!(again.status, second, "{step}: {again:?}");
        }
        Ok(())
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn large_outcomes_become_store_references_that_readers_resolve() -> Result<(), Usage> {
        let dir = tempfile::tempdir().map_err(|e| Usage(e.to_string()))?;
        let opts = store_opts(dir.path());
        let mut big = Outcome::new(StepStatus::Succeeded, None);
        big.outputs.result = Some("x".repeat(10_000));
        let results = dir.path().join("results");
        write_results(&results, &big, &opts).await.map_err(Usage)?;
        let written =
            std::fs::read_to_string(results.join("outcome")).map_err(|e| Usage(e.to_string()))?;
        assert!(
            written.len() <= MAX_RESULT_BYTES && written.contains("outcomeRef"),
            "{written}"
        );
        // Under the raw limit but over Tekton's once escaped: 1,500 quotes are 3,000 bytes of
        // outcome JSON and 6,000 in the termination message.
        let mut quoted = Outcome::new(StepStatus::Succeeded, None);
        quoted.outputs.result = Some("\"".repeat(1500));
        let raw = serde_json::to_string(&quoted).map_err(|e| Usage(e.to_string()))?;
        assert!(raw.len() < MAX_RESULT_BYTES, "{}", raw.len());
        let quoted_dir = dir.path().join("quoted");
        let quoted_opts = store_opts(&quoted_dir.join("store"));
        write_results(&quoted_dir, &quoted, &quoted_opts)
            .await
            .map_err(Usage)?;
        let quoted_written = std::fs::read_to_string(quoted_dir.join("outcome"))
            .map_err(|e| Usage(e.to_string()))?;
        assert!(quoted_written.contains("outcomeRef"), "{quoted_written}");
        assert!(
            tekton_message_len(&[("status", "Succeeded"), ("outcome", &quoted_written)]) <= 4096
        );
        assert_eq!(
            tekton_message_len(&[("a", "x\"<")]),
            r#"[{"key":"a","value":"x\"\u003c","type":1}]"#.len()
        );
        assert_eq!(
            std::fs::read_to_string(results.join("status"))
                .ok()
                .as_deref(),
            Some("Succeeded")
        );
        let wf: Workflow = couler_ir::spec::load(
            "apiVersion: couler.dev/v1alpha1\nkind: Workflow\nname: w\nsteps:\n  - name: a\n    container: {command: [true]}\n",
            couler_ir::Format::Yaml,
        )
        .map_err(|_| Usage("spec".into()))?
        .0;
        let store = Store::open_at(
            &Location::parse(opts.store.as_deref().unwrap_or_default())
                .map_err(|e| Usage(e.to_string()))?,
        )
        .await
        .map_err(|e| Usage(e.to_string()))?;
        let seen = upstream_outcome(
            wf.steps.first(),
            "a",
            &serde_json::Value::String(written),
            Some(&store),
        )
        .await?;
        assert_eq!(seen.outputs.result, big.outputs.result);
        Ok(())
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn when_mode_evaluates_the_step_condition_or_an_expression() -> Result<(), Usage> {
        let wf = serde_json::json!({
            "apiVersion": "couler.dev/v1alpha1", "kind": "Workflow", "name": "w",
            "params": [{"name": "t", "type": "float", "default": 0.5}],
            "steps": [
                {"name": "a", "container": {"command": ["true"]}},
                {"name": "b", "when": "steps.a.outputs.result >= params.t", "container": {"command": ["true"]}}
            ]
        });
        let mut t = task(wf, "b");
        t.upstream.insert("a".into(), serde_json::json!({"status": "Succeeded", "outputs": {"parameters": {}, "result": "0.75", "exit_code": 0, "artifacts": {}}}));
        assert!(eval_when(&t, &LaunchOptions::default()).await?);
        let expr = LaunchOptions {
            expr: Some("steps.a.outputs.result > 1".into()),
            ..LaunchOptions::default()
        };
        assert!(!eval_when(&t, &expr).await?);
        t.upstream.insert("a".into(), serde_json::json!(null));
        assert!(
            !eval_when(&t, &LaunchOptions::default()).await?,
            "reading a skipped step's output is false"
        );
        Ok(())
    }

    #[test]
    fn bad_tasks_are_usage_errors() {
        assert!(read_task(Some("b64:!!")).is_err());
        assert!(read_task(Some("{\"step\": 1}")).is_err());
        assert_eq!(upstream_env("train-model"), "COULER_UPSTREAM_TRAIN_MODEL");
    }
}
