//! A **test stand-in** for a Tekton Pipelines controller: it interprets the `tekton.dev/v1`
//! documents `couler compile --target tekton` writes (Tasks, a Pipeline, a PipelineRun) and runs
//! each TaskRun's `run` step as a host process. It is not Tekton: no pods, no volumes, no
//! affinity assistant, no retries or timeouts. What it does as Tekton v1 does (pipelines.md,
//! variables.md, and the reconciler's `pipelinerunresolution.go`):
//!
//! - params bound from the PipelineRun, then the Pipeline's defaults; a `volumeClaimTemplate`
//!   workspace is a new claim (a directory under the claims root, named `pvc-…`), a
//!   `persistentVolumeClaim` one the existing claim of that name, an `emptyDir` a directory;
//!   `$(workspaces.W.claim)` is the claim's name (empty for `emptyDir`);
//! - a task starts when every `runAfter` task and every task whose results it references has
//!   finished; after a failure no new task starts (the run is "stopping");
//! - skips, in the controller's order: stopping, a parent (`runAfter` or results) skipped for a
//!   reason other than its own `when` ("Parent Tasks were skipped", so it reaches `runAfter`-only
//!   successors), a referenced result missing because its producer's `when` was false ("Results
//!   were missing"; missing for another reason fails the run), `when` expressions false (scoped
//!   to the task only);
//! - substitution is one textual pass per string: the Pipeline's `$(params.x)`,
//!   `$(tasks.T.results.R)`, `$(context.pipelineRun.*)`, `$(tasks.status)` (finally only) in
//!   pipeline-task params, `when` and `matrix`; then the Task's `$(params.x)`,
//!   `$(context.taskRun.*)`, `$(results.R.path)`, `$(workspaces.W.path)` in the step. Any other
//!   `$(…)` is left as is, as Tekton does (its webhook rejects unknown `params.`/`tasks.` ones,
//!   which the lint in couler-backends checks);
//! - `matrix` fans a task out, one TaskRun per value; `finally` tasks run after all others;
//! - a Task volume of a ConfigMap among the documents is a directory holding one file a key,
//!   where the step mounts it (other volumes are not interpreted);
//! - results read from the TaskRun's results dir; their termination message (Go JSON of
//!   `[{"key","value","type"}]`, escapes included) at most 4096 bytes, else the TaskRun fails;
//!   a step with `onError: continue` lets the TaskRun succeed.
//!
//! The only rewrites: the launcher's path (`/couler/bin/couler`, copied there by the
//! `couler-install` step, which is not run) becomes the real `couler` binary, `/tekton/results`
//! a per-TaskRun temp dir, and a Task workspace's `mountPath` the bound dir, wherever it occurs
//! in an argument or env value (the launcher's task JSON names paths in the artifact volume).
//! A pod's connection to the API server (in a cluster: its service account) is the stand-in's
//! `pod_env` (a `KUBECONFIG` naming a loopback stand-in, `support/fake_api.rs`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// Tekton's limit on all results of one TaskRun: its termination message, the results as JSON.
const RESULTS_LIMIT: usize = 4096;
/// Where the `couler-install` step copies the launcher.
const INSTALLED_LAUNCHER: &str = "/couler/bin/couler";

/// How a TaskRun (or a pipeline task that never got one) ended.
#[derive(Clone, Debug, PartialEq)]
pub enum State {
    Succeeded,
    Failed(String),
    /// Skipped, with Tekton's reason (`WhenExpressionsSkip` is "When Expressions evaluated to false").
    Skipped(Skip),
}

#[derive(Clone, Debug, PartialEq)]
pub enum Skip {
    When,
    MissingResults,
    ParentSkipped,
    Stopping,
}

/// One TaskRun: its state, its results, the launcher's stderr.
#[derive(Clone, Debug)]
pub struct TaskRun {
    pub state: State,
    pub results: BTreeMap<String, String>,
    pub log: String,
}

/// A pipeline task's end: one TaskRun, or one per matrix value (none when skipped).
#[derive(Clone, Debug)]
pub struct TaskEnd {
    pub state: State,
    pub runs: Vec<TaskRun>,
    pub matrixed: bool,
}

/// The finished PipelineRun.
pub struct PipelineRun {
    pub uid: String,
    pub tasks: BTreeMap<String, TaskEnd>,
    /// Workspace name → its directory.
    pub workspaces: BTreeMap<String, PathBuf>,
    /// Workspace name → the claim bound to it (absent for `emptyDir`).
    pub claims: BTreeMap<String, String>,
    /// `$(tasks.status)` as the finally tasks saw it.
    pub tasks_status: String,
}

/// The emitted documents, by kind.
pub struct Documents {
    pub tasks: BTreeMap<String, Value>,
    /// ConfigMaps applied with them (a Task's launcher inputs), by name.
    pub config_maps: BTreeMap<String, Value>,
    pub pipeline: Value,
    pub pipeline_run: Value,
}

/// The documents of one emitted file.
pub fn read_documents(file: &Path) -> Result<Vec<Value>, String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?;
    // The backend separates documents with `---` lines; inside a document no line is `---`
    // (strings are quoted or indented block scalars).
    text.split("\n---\n")
        .enumerate()
        .map(|(i, doc)| {
            serde_norway::from_str(doc)
                .map_err(|e| format!("{}: document {i}: {e}", file.display()))
        })
        .collect()
}

pub fn parse(file: &Path) -> Result<Documents, String> {
    let (mut tasks, mut config_maps) = (BTreeMap::new(), BTreeMap::new());
    let (mut pipeline, mut pipeline_run) = (None, None);
    for (i, v) in read_documents(file)?.into_iter().enumerate() {
        let name = v["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        match v["kind"].as_str() {
            Some("Task") => {
                tasks.insert(name, v);
            }
            Some("ConfigMap") => {
                config_maps.insert(name, v);
            }
            Some("Pipeline") => pipeline = Some(v),
            Some("PipelineRun") => pipeline_run = Some(v),
            other => {
                return Err(format!(
                    "{}: document {i}: unexpected kind {other:?}",
                    file.display()
                ));
            }
        }
    }
    Ok(Documents {
        tasks,
        config_maps,
        pipeline: pipeline.ok_or_else(|| format!("{}: no Pipeline", file.display()))?,
        pipeline_run: pipeline_run.ok_or_else(|| format!("{}: no PipelineRun", file.display()))?,
    })
}

/// Every `$(…)` variable in `s`, in order, with its byte range.
fn variables(s: &str) -> Vec<(usize, usize, &str)> {
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(start) = s[i..].find("$(").map(|k| k + i) {
        match s[start + 2..].find(')') {
            Some(len) => {
                let end = start + 2 + len + 1;
                out.push((start, end, &s[start + 2..end - 1]));
                i = end;
            }
            None => break,
        }
    }
    out
}

/// One pass of Tekton's textual replacement: known variables replaced, others left as they are.
fn substitute(s: &str, vars: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let mut last = 0;
    for (start, end, var) in variables(s) {
        if let Some(v) = vars.get(var) {
            out.push_str(&s[last..start]);
            out.push_str(v);
            last = end;
        }
    }
    out.push_str(&s[last..]);
    out
}

/// The result references `$(tasks.T.results.R)` in `s`.
fn result_refs(s: &str) -> Vec<(String, String)> {
    variables(s)
        .into_iter()
        .filter_map(|(_, _, v)| {
            let rest = v.strip_prefix("tasks.")?;
            let (t, r) = rest.split_once(".results.")?;
            Some((t.to_string(), r.to_string()))
        })
        .collect()
}

/// Every string in a JSON value.
fn strings<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::String(s) => out.push(s),
        Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        Value::Object(m) => m.values().for_each(|x| strings(x, out)),
        _ => {}
    }
}

fn pipeline_task_strings(pt: &Value) -> Vec<&str> {
    let mut out = Vec::new();
    for k in ["params", "when", "matrix"] {
        strings(&pt[k], &mut out);
    }
    out
}

pub struct Standin {
    /// The real `couler` binary, in place of the launcher the Tasks name.
    pub launcher: PathBuf,
    /// The `--launcher` path the documents were compiled with (condition tasks exec it directly).
    pub compiled_launcher: String,
    /// Where claims live, one directory each (default: `WORK/claims` of each run).
    pub claims: Option<PathBuf>,
    /// Environment every pod gets besides its Task's (the API server's whereabouts).
    pub pod_env: Vec<(String, String)>,
}

impl Standin {
    pub fn run(&self, docs: &Documents, work: &Path) -> Result<PipelineRun, String> {
        let pr = &docs.pipeline_run["spec"];
        let pipeline = &docs.pipeline["spec"];
        let uid = format!(
            "standin-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        );
        let mut vars: BTreeMap<String, String> = BTreeMap::new();
        for p in pipeline["params"].as_array().into_iter().flatten() {
            let name = p["name"].as_str().unwrap_or_default();
            if let Some(d) = p["default"].as_str() {
                vars.insert(format!("params.{name}"), d.to_string());
            }
        }
        for p in pr["params"].as_array().into_iter().flatten() {
            let name = p["name"].as_str().unwrap_or_default();
            let v = p["value"].as_str().ok_or_else(|| {
                format!("PipelineRun param `{name}`: only string values are used")
            })?;
            vars.insert(format!("params.{name}"), v.to_string());
        }
        for p in pipeline["params"].as_array().into_iter().flatten() {
            let name = p["name"].as_str().unwrap_or_default();
            if !vars.contains_key(&format!("params.{name}")) {
                return Err(format!(
                    "param `{name}` has no value (PipelineRun) and no default"
                ));
            }
        }
        let name = docs.pipeline_run["metadata"]["name"]
            .as_str()
            .unwrap_or_default();
        vars.insert("context.pipelineRun.uid".into(), uid.clone());
        vars.insert("context.pipelineRun.name".into(), name.to_string());
        let namespace = docs.pipeline_run["metadata"]["namespace"]
            .as_str()
            .unwrap_or("default");
        vars.insert(
            "context.pipelineRun.namespace".into(),
            namespace.to_string(),
        );
        let claims_root = self.claims.clone().unwrap_or_else(|| work.join("claims"));
        let mut workspaces = BTreeMap::new();
        let mut claims = BTreeMap::new();
        for w in pr["workspaces"].as_array().into_iter().flatten() {
            let wname = w["name"].as_str().unwrap_or_default().to_string();
            let dir = if w.get("volumeClaimTemplate").is_some() {
                let hash = couler_backends::k8s::fnv1a(&format!("{uid}/{wname}"));
                let claim = format!("pvc-{:010x}", hash & 0xff_ffff_ffff);
                claims.insert(wname.clone(), claim.clone());
                claims_root.join(claim)
            } else if let Some(c) = w["persistentVolumeClaim"]["claimName"].as_str() {
                let dir = claims_root.join(c);
                if !dir.is_dir() {
                    return Err(format!(
                        "workspace `{wname}`: PersistentVolumeClaim `{c}` does not exist"
                    ));
                }
                claims.insert(wname.clone(), c.to_string());
                dir
            } else if w.get("emptyDir").is_some() {
                work.join("workspaces").join(&wname)
            } else {
                return Err(format!(
                    "workspace `{wname}`: the stand-in binds only volumeClaimTemplate, persistentVolumeClaim and emptyDir"
                ));
            };
            std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            workspaces.insert(wname, dir);
        }

        let main: Vec<&Value> = pipeline["tasks"].as_array().into_iter().flatten().collect();
        let mut ends: BTreeMap<String, TaskEnd> = BTreeMap::new();
        let mut pending: Vec<&Value> = main.clone();
        while !pending.is_empty() {
            let ready = pending
                .iter()
                .position(|pt| parents(pt).iter().all(|p| ends.contains_key(p)));
            let Some(i) = ready else {
                return Err(format!(
                    "no task can start: a cycle among {:?}",
                    pending.iter().map(|p| &p["name"]).collect::<Vec<_>>()
                ));
            };
            let pt = pending.remove(i);
            let end =
                self.pipeline_task(docs, pt, &vars, &ends, (&workspaces, &claims), work, false)?;
            // Results become variables for later tasks (a matrixed task's would be arrays;
            // the backend never reads them, so they are not offered).
            if !end.matrixed
                && let Some(run) = end.runs.first()
                && end.state == State::Succeeded
            {
                for (r, v) in &run.results {
                    vars.insert(
                        format!(
                            "tasks.{}.results.{r}",
                            pt["name"].as_str().unwrap_or_default()
                        ),
                        v.clone(),
                    );
                }
            }
            ends.insert(pt["name"].as_str().unwrap_or_default().to_string(), end);
        }
        // `$(tasks.status)`: Failed if one failed, Completed if one was skipped, else Succeeded.
        let tasks_status = if ends.values().any(|e| matches!(e.state, State::Failed(_))) {
            "Failed"
        } else if ends.values().any(|e| matches!(e.state, State::Skipped(_))) {
            "Completed"
        } else {
            "Succeeded"
        };
        let mut fvars = vars.clone();
        fvars.insert("tasks.status".into(), tasks_status.into());
        let main_ends = ends.clone();
        for pt in pipeline["finally"].as_array().into_iter().flatten() {
            let end = self.pipeline_task(
                docs,
                pt,
                &fvars,
                &main_ends,
                (&workspaces, &claims),
                work,
                true,
            )?;
            ends.insert(pt["name"].as_str().unwrap_or_default().to_string(), end);
        }
        Ok(PipelineRun {
            uid,
            tasks: ends,
            workspaces,
            claims,
            tasks_status: tasks_status.into(),
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn pipeline_task(
        &self,
        docs: &Documents,
        pt: &Value,
        vars: &BTreeMap<String, String>,
        ends: &BTreeMap<String, TaskEnd>,
        (workspaces, claims): (&BTreeMap<String, PathBuf>, &BTreeMap<String, String>),
        work: &Path,
        finally: bool,
    ) -> Result<TaskEnd, String> {
        let name = pt["name"].as_str().unwrap_or_default();
        let skipped = |s: Skip| TaskEnd {
            state: State::Skipped(s),
            runs: vec![],
            matrixed: pt.get("matrix").is_some(),
        };
        if !finally {
            if ends.values().any(|e| matches!(e.state, State::Failed(_))) {
                return Ok(skipped(Skip::Stopping));
            }
            let parent_skipped = parents(pt)
                .iter()
                .any(|p| matches!(&ends[p].state, State::Skipped(s) if *s != Skip::When));
            if parent_skipped {
                return Ok(skipped(Skip::ParentSkipped));
            }
        }
        // A missing result skips the task when its producer was skipped by its `when` (or the
        // task is a finally task); otherwise Tekton fails the PipelineRun ("invalid task result
        // reference", `CheckMissingResultReferences`).
        for (t, r) in pipeline_task_strings(pt).into_iter().flat_map(result_refs) {
            if vars.contains_key(&format!("tasks.{t}.results.{r}")) {
                continue;
            }
            let producer = ends.get(&t).map(|e| &e.state);
            if finally || producer == Some(&State::Skipped(Skip::When)) {
                return Ok(skipped(Skip::MissingResults));
            }
            return Err(format!(
                "task `{name}`: invalid result reference `$(tasks.{t}.results.{r})`: task `{t}` ended {producer:?} without it"
            ));
        }
        for w in pt["when"].as_array().into_iter().flatten() {
            let input = substitute(w["input"].as_str().unwrap_or_default(), vars);
            let values: Vec<String> = w["values"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|v| substitute(v.as_str().unwrap_or_default(), vars))
                .collect();
            let found = values.contains(&input);
            let holds = match w["operator"].as_str() {
                Some("in") => found,
                Some("notin") => !found,
                other => return Err(format!("task `{name}`: when operator {other:?}")),
            };
            if !holds {
                return Ok(skipped(Skip::When));
            }
        }
        let mut params: BTreeMap<String, String> = BTreeMap::new();
        for p in pt["params"].as_array().into_iter().flatten() {
            let v = p["value"]
                .as_str()
                .ok_or_else(|| format!("task `{name}`: param {p}: not a string"))?;
            params.insert(
                p["name"].as_str().unwrap_or_default().to_string(),
                substitute(v, vars),
            );
        }
        let task_name = pt["taskRef"]["name"]
            .as_str()
            .ok_or_else(|| format!("task `{name}`: no taskRef"))?;
        let task = docs
            .tasks
            .get(task_name)
            .ok_or_else(|| format!("task `{name}`: Task `{task_name}` not found"))?;
        // Workspace bindings: the Task's mountPath → the PipelineRun's dir (+ subPath).
        let mut mounts = Vec::new();
        for b in pt["workspaces"].as_array().into_iter().flatten() {
            let decl = task["spec"]["workspaces"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|d| d["name"] == b["name"])
                .ok_or_else(|| format!("task `{name}`: workspace {} not declared", b["name"]))?;
            let bound = b["workspace"].as_str().unwrap_or_default();
            let mut dir = workspaces
                .get(bound)
                .ok_or_else(|| format!("task `{name}`: workspace {} not bound", b["workspace"]))?
                .clone();
            let claim = claims.get(bound).cloned().unwrap_or_default();
            if let Some(sub) = b["subPath"].as_str() {
                dir = dir.join(sub);
                std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
            }
            let mount = decl["mountPath"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| {
                    format!("/workspace/{}", b["name"].as_str().unwrap_or_default())
                });
            mounts.push(Mount {
                name: b["name"].as_str().unwrap_or_default().to_string(),
                path: mount,
                dir,
                claim,
            });
        }
        let matrix: Vec<(String, Vec<String>)> = pt["matrix"]["params"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| {
                let vals = p["value"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|v| substitute(v.as_str().unwrap_or_default(), vars))
                    .collect();
                (p["name"].as_str().unwrap_or_default().to_string(), vals)
            })
            .collect();
        if matrix.len() > 1 {
            return Err(format!(
                "task `{name}`: the stand-in fans out over one matrix param"
            ));
        }
        let mut runs = Vec::new();
        match matrix.first() {
            None => runs.push(self.task_run(name, task, &params, (&mounts, docs), work, vars)?),
            Some((p, values)) => {
                for (i, v) in values.iter().enumerate() {
                    let mut ps = params.clone();
                    ps.insert(p.clone(), v.clone());
                    runs.push(self.task_run(
                        &format!("{name}-{i}"),
                        task,
                        &ps,
                        (&mounts, docs),
                        work,
                        vars,
                    )?);
                }
            }
        }
        let state = runs
            .iter()
            .find(|r| r.state != State::Succeeded)
            .map(|r| r.state.clone())
            .unwrap_or(State::Succeeded);
        Ok(TaskEnd {
            state,
            runs,
            matrixed: !matrix.is_empty(),
        })
    }

    fn task_run(
        &self,
        run_name: &str,
        task: &Value,
        given: &BTreeMap<String, String>,
        (mounts, docs): (&[Mount], &Documents),
        work: &Path,
        pvars: &BTreeMap<String, String>,
    ) -> Result<TaskRun, String> {
        let spec = &task["spec"];
        let tname = task["metadata"]["name"].as_str().unwrap_or_default();
        let mut vars = BTreeMap::new();
        for p in spec["params"].as_array().into_iter().flatten() {
            let pname = p["name"].as_str().unwrap_or_default();
            let v = given
                .get(pname)
                .cloned()
                .or_else(|| p["default"].as_str().map(str::to_string))
                .ok_or_else(|| {
                    format!("TaskRun {run_name}: param `{pname}` of Task `{tname}` not given")
                })?;
            vars.insert(format!("params.{pname}"), v);
        }
        for g in given.keys() {
            if !vars.contains_key(&format!("params.{g}")) {
                return Err(format!(
                    "TaskRun {run_name}: param `{g}` not declared by Task `{tname}`"
                ));
            }
        }
        let results_dir = work.join("results").join(run_name);
        std::fs::create_dir_all(&results_dir).map_err(|e| e.to_string())?;
        vars.insert("context.taskRun.name".into(), run_name.into());
        vars.insert(
            "context.taskRun.uid".into(),
            format!("{}-{run_name}", pvars["context.pipelineRun.uid"]),
        );
        for r in spec["results"].as_array().into_iter().flatten() {
            let rn = r["name"].as_str().unwrap_or_default();
            vars.insert(
                format!("results.{rn}.path"),
                format!("/tekton/results/{rn}"),
            );
        }
        for m in mounts {
            vars.insert(format!("workspaces.{}.path", m.name), m.path.clone());
            vars.insert(format!("workspaces.{}.claim", m.name), m.claim.clone());
        }
        let files = config_map_mounts(
            spec,
            &docs.config_maps,
            &work.join("configmaps").join(run_name),
        )?;
        // Host paths for the container paths the step sees, wherever they occur.
        let host = |s: String| -> String {
            let mut s = s.replace("/tekton/results", &results_dir.display().to_string());
            for m in mounts {
                s = s.replace(&m.path, &m.dir.display().to_string());
            }
            for (path, dir) in &files {
                s = s.replace(path, &dir.display().to_string());
            }
            s
        };
        let mut log = String::new();
        let mut failed = None;
        for step in spec["steps"].as_array().into_iter().flatten() {
            if step["name"] == "couler-install" {
                continue; // copies the launcher, which is the host binary here
            }
            let mut argv: Vec<String> = step["command"]
                .as_array()
                .into_iter()
                .flatten()
                .chain(step["args"].as_array().into_iter().flatten())
                .map(|a| host(substitute(a.as_str().unwrap_or_default(), &vars)))
                .collect();
            if step.get("script").is_some() {
                return Err(format!("Task `{tname}`: script steps are not interpreted"));
            }
            match argv.first().map(String::as_str) {
                Some(p) if p == INSTALLED_LAUNCHER || p == self.compiled_launcher => {
                    argv[0] = self.launcher.display().to_string();
                }
                other => {
                    return Err(format!(
                        "Task `{tname}`: step runs {other:?}, not the launcher"
                    ));
                }
            }
            let mut cmd = Command::new(&argv[0]);
            cmd.args(&argv[1..]).env_clear();
            for k in ["PATH", "HOME", "TMPDIR", "LANG"] {
                if let Ok(v) = std::env::var(k) {
                    cmd.env(k, v);
                }
            }
            cmd.envs(self.pod_env.iter().map(|(k, v)| (k, v)));
            for e in step["env"].as_array().into_iter().flatten() {
                let en = e["name"].as_str().unwrap_or_default();
                if e.get("valueFrom").is_some() {
                    return Err(format!(
                        "Task `{tname}`: env `{en}` comes from a secret; the stand-in has no secrets"
                    ));
                }
                cmd.env(
                    en,
                    host(substitute(e["value"].as_str().unwrap_or_default(), &vars)),
                );
            }
            let work_dir = work.join("pods").join(run_name);
            std::fs::create_dir_all(&work_dir).map_err(|e| e.to_string())?;
            cmd.current_dir(&work_dir);
            let out = cmd.output().map_err(|e| format!("running {argv:?}: {e}"))?;
            log.push_str(&String::from_utf8_lossy(&out.stderr));
            if !out.status.success() && step["onError"] != "continue" {
                failed = Some(format!(
                    "step `{}` exited {:?}",
                    step["name"].as_str().unwrap_or_default(),
                    out.status.code()
                ));
                break;
            }
        }
        let mut results = BTreeMap::new();
        let mut message = Vec::new();
        for r in spec["results"].as_array().into_iter().flatten() {
            let rn = r["name"].as_str().unwrap_or_default();
            if let Ok(v) = std::fs::read_to_string(results_dir.join(rn)) {
                message.push(serde_json::json!({"key": rn, "value": v, "type": 1}));
                results.insert(rn.to_string(), v);
            }
        }
        let size = termination_message_len(&Value::Array(message));
        if failed.is_none() && size > RESULTS_LIMIT {
            failed = Some(format!(
                "Termination message is above max allowed size 4096, caused by large task result ({size} bytes)"
            ));
        }
        let state = match failed {
            Some(m) => State::Failed(m),
            None => State::Succeeded,
        };
        Ok(TaskRun {
            state,
            results,
            log,
        })
    }
}

/// The size of Tekton's termination message holding `entries`: the entrypoint writes them with
/// Go's `json.Marshal`, which escapes as serde_json does and also writes `<`, `>`, `&` and
/// U+2028/U+2029 as `\u00XX` (6 bytes; 1 or 3 in serde_json's output).
fn termination_message_len(entries: &Value) -> usize {
    let text = entries.to_string();
    text.len()
        + text
            .chars()
            .filter(|c| matches!(c, '<' | '>' | '&'))
            .count()
            * 5
        + text
            .chars()
            .filter(|c| matches!(c, '\u{2028}' | '\u{2029}'))
            .count()
            * 3
}

/// The Task's volumes of ConfigMaps among the documents, written to directories under `root`
/// (one file a key, as the kubelet projects them): each step mount path and its directory.
/// Volumes of other ConfigMaps are left out, as all other volumes are.
fn config_map_mounts(
    spec: &Value,
    config_maps: &BTreeMap<String, Value>,
    root: &Path,
) -> Result<Vec<(String, PathBuf)>, String> {
    let mut out = Vec::new();
    for v in spec["volumes"].as_array().into_iter().flatten() {
        let (Some(volume), Some(cm)) = (v["name"].as_str(), v["configMap"]["name"].as_str()) else {
            continue;
        };
        let Some(map) = config_maps.get(cm) else {
            continue;
        };
        let dir = root.join(volume);
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        for (key, value) in map["data"].as_object().into_iter().flatten() {
            std::fs::write(dir.join(key), value.as_str().unwrap_or_default())
                .map_err(|e| format!("ConfigMap `{cm}` key `{key}`: {e}"))?;
        }
        for step in spec["steps"].as_array().into_iter().flatten() {
            for m in step["volumeMounts"].as_array().into_iter().flatten() {
                if m["name"] == volume
                    && let Some(path) = m["mountPath"].as_str()
                {
                    out.push((path.to_string(), dir.clone()));
                }
            }
        }
    }
    Ok(out)
}

/// A Task workspace as bound for one TaskRun.
pub struct Mount {
    pub name: String,
    /// Where the step sees it.
    pub path: String,
    /// The host directory it is.
    pub dir: PathBuf,
    /// `$(workspaces.NAME.claim)`.
    pub claim: String,
}

/// The tasks a pipeline task waits for: `runAfter` and the producers of results it references.
fn parents(pt: &Value) -> BTreeSet<String> {
    let mut out: BTreeSet<String> = pt["runAfter"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    out.extend(
        pipeline_task_strings(pt)
            .into_iter()
            .flat_map(result_refs)
            .map(|(t, _)| t),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substitution_is_one_textual_pass() {
        let vars: BTreeMap<String, String> = [
            ("params.a".to_string(), "$(params.b)".to_string()),
            ("params.b".to_string(), "B".to_string()),
        ]
        .into();
        assert_eq!(
            substitute("x $(params.a) $(params.b) $(unknown.v) $(", &vars),
            "x $(params.b) B $(unknown.v) $("
        );
    }
}
