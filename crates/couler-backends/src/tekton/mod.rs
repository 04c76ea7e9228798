//! The Tekton backend: IR → Tekton Pipelines `tekton.dev/v1` documents (YAML).
//!
//! Shape of the output: one multi-document file `<workflow>.yaml` holding one `Task` per distinct
//! step definition (identical definitions share one), the `Pipeline` (one pipeline task per step,
//! the exit handler under `finally`) and a `PipelineRun` that runs it with the workflow params'
//! defaults and a per-run volume for artifacts. Every Task runs the step's image with the shared
//! in-task launcher (`couler launch`), copied in from the launcher image by a first step, as
//! Kubeflow Pipelines does; the workflow, cut down to the Task's steps ([`crate::LauncherSlices`]), reaches the
//! launcher as inert JSON ([`render::inert_json`]), so no user string stands where Tekton
//! substitutes `$(…)` or a shell interprets anything; steps pass outcomes to each other through
//! the results `status` and `outcome`. See `docs/tekton.md` for every feature.

mod fan_out;
pub mod lint;
mod parallelism;
pub mod render;
pub mod split;
pub mod task_file;

use crate::capability::{Feature, Support};
use crate::k8s::{param_text, placement, resources};
use crate::{Backend, CompileError, Options, Output};
use couler_ir::launch_protocol::{
    ARTIFACT_STORE_ENV, CHILD_RUN_ENV, ITEM_INDEX_ENV, RUN_ID_ENV, TASK_ENV, WORKFLOW_STATUS_ENV,
    param_env, upstream_env,
};
use couler_ir::{MapOver, Reference, RetryOn, Step, StepKind, Storage, VolumeSource, Workflow};
use render::When;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// Where the launcher binary is copied to in every Task's pods.
pub const LAUNCHER_DIR: &str = "/couler/bin";
/// The workspace (one volume per run) holding artifacts and large outputs.
pub const ARTIFACTS_WORKSPACE: &str = "couler-artifacts";
/// Where Tekton mounts that workspace in a Task's steps (`/workspace/<name>`).
pub const ARTIFACTS_PATH: &str = "/workspace/couler-artifacts";
/// Tekton's default `default-max-matrix-combinations-count`.
pub const MATRIX_LIMIT: usize = 256;
/// Where the launcher binary sits in the launcher image (`--launcher` overrides it).
pub const DEFAULT_LAUNCHER_PATH: &str = "/usr/local/bin/couler";
/// Where Tekton collects results in every step's container.
const RESULTS_DIR: &str = "/tekton/results";
/// The results every step Task declares (written by `couler launch step --results-dir`).
pub const STATUS_RESULT: &str = "status";
pub const OUTCOME_RESULT: &str = "outcome";
/// The matrix param carrying a map instance's index.
const ITEM_INDEX_PARAM: &str = "couler-item-index";
/// The pipeline's status as Tekton gives it to `finally` tasks.
const TASKS_STATUS: &str = "$(tasks.status)";
/// Size of the per-run artifact volume.
pub const ARTIFACTS_SIZE: &str = "1Gi";
/// Object names that end up in label values must fit a DNS-1123 label.
const NAME_MAX: usize = 63;
/// The volume the launcher binary is copied into.
const LAUNCHER_VOLUME: &str = "couler-bin";
/// A sub-workflow step's Task params: the parent PipelineRun's name and namespace.
const PARENT_RUN_PARAM: &str = "couler-parent-run";
const NAMESPACE_PARAM: &str = "couler-namespace";

/// Compiles the IR to Tekton Pipelines v1 documents (YAML).
#[derive(Clone, Copy, Debug, Default)]
pub struct Tekton;

impl Backend for Tekton {
    fn name(&self) -> &'static str {
        "tekton"
    }

    fn support(&self, feature: Feature) -> Support {
        use Feature::*;
        match feature {
            Container | Script => Support::Lowered(
                "a Task whose step runs the image with `couler launch`, copied in by a first step from the launcher image",
            ),
            Resource | JobTensorflow | JobPytorch | JobMpi | Suspend | Daemon => {
                Support::Unsupported
            }
            SubWorkflow => Support::Lowered(
                "in a split workflow (`couler split --target tekton`): a Task whose launcher creates the part's PipelineRun through the Kubernetes API, sharing the run's volumes, and waits for it",
            ),
            Params => Support::Native,
            ParameterPassing => Support::Lowered(
                "each task publishes the launcher's outcome as the result `outcome` (kept in the artifact store when over 4 KB); readers get it as a param",
            ),
            ArtifactPassing => Support::Lowered(
                "the launcher stores outputs in the artifact store (default: a per-run workspace volume) and fetches inputs by the digests in the producer's outcome",
            ),
            When => Support::Lowered(
                "evaluated by the step's launcher, which reports `Skipped` with exit 0 and its results, so Tekton never skips a task; readers of a skipped step's outputs skip themselves, `dependsOn` alone does not, as in `couler run`; the exit handler's `when` on `workflow.status` or params becomes Tekton `when` expressions",
            ),
            MapItems | MapRange => Support::Lowered(
                "`matrix` over the item indices; the launcher reads the item from the step's `map`",
            ),
            MapFrom | MapParallelism | MappedOutputs => Support::Lowered(
                "one TaskRun whose launcher runs every instance, at most `map.parallelism` at once, and publishes the collected outputs as its outcome, as `couler run` does; so does a `when` on `item` (other `map.items`/`map.range` steps are a `matrix`)",
            ),
            Repeat => Support::Lowered(
                "the launcher loops inside the one TaskRun, evaluating `while` as `couler run` does; the last run's outputs are the step's",
            ),
            Groups => Support::Lowered("`runAfter` on every member"),
            ExitHandler => {
                Support::Lowered("a `finally` task; `workflow.status` is `$(tasks.status)`")
            }
            Retry => Support::Native,
            RetrySlow | TuneAsynchronous => Support::Unsupported,
            Backoff => {
                Support::Lowered("dropped with a warning: Tekton retries at once, without backoff")
            }
            Timeout | Resources | Gpu | Secrets | Labels | ServiceAccount => Support::Native,
            NodeSelector | Tolerations => Support::Lowered(
                "the PipelineRun's `taskRunSpecs[].podTemplate` of the step's pipeline task",
            ),
            ImagePullSecrets => Support::Lowered("the PipelineRun's `taskRunTemplate.podTemplate`"),
            Volumes => Support::Lowered("pod volumes of each Task that mounts them"),
            VolumeClaims => Support::Lowered(
                "a Pipeline workspace per claim, bound by the PipelineRun to a `volumeClaimTemplate`; a step mounts it as a Task workspace",
            ),
            Cache => Support::Lowered(
                "checked and written by the launcher in the artifact store (directory stores only; S3 stores are not consulted)",
            ),
            ContinueOnFailure => Support::Lowered(
                "`onError: continue` on the Task's step: the TaskRun succeeds and later tasks run",
            ),
            Parallelism => Support::Dropped(
                "a Pipeline has no concurrency limit: refused, unless `--ignore-parallelism` drops it with a warning (every ready task then runs at once)",
            ),
            Schedule | Ttl | PodGc => Support::Unsupported,
            WorkflowTimeout => Support::Lowered(
                "the PipelineRun's `timeouts.pipeline`; with an exit handler `timeouts.tasks`, so the `finally` tasks still run",
            ),
            ArtifactRepository => Support::Lowered(
                "the launcher's artifact store; S3 credentials as `AWS_*` env from secret references",
            ),
            StorageS3 => Support::Lowered("read and written by the launcher (couler-store)"),
            StorageLocal => Support::Lowered(
                "a path in the task's volumes (the run's artifact workspace or a mounted volume), written and read by the launcher: a split workflow's exchange",
            ),
            StorageGcs | StorageOss | StorageHdfs | StorageGit | StorageHttp => {
                Support::Unsupported
            }
            StatusOf => Support::Lowered(
                "read by the launcher from the step's outcome result (`status`, `exit_code`): Tekton skips no task, so every step publishes one; not in the exit handler",
            ),
        }
    }

    fn lower(&self, wf: &Workflow, options: &Options) -> Result<Output, CompileError> {
        let mut out = Output::default();
        let docs = lower(wf, options, &BTreeMap::new(), &mut out.warnings)?;
        out.files
            .insert(format!("{}.yaml", wf.name), documents_text(&docs)?);
        Ok(out)
    }

    fn split_lowering(&self) -> Option<&dyn crate::SplitLowering> {
        Some(self)
    }
}

/// Documents as one multi-document YAML file.
fn documents_text(docs: &[Value]) -> Result<String, CompileError> {
    let mut text = String::new();
    for (i, doc) in docs.iter().enumerate() {
        if i > 0 {
            text.push_str("---\n");
        }
        text.push_str(&to_yaml(doc)?);
    }
    Ok(text)
}

/// Keys in the order of Tekton's own examples: a resource's header, then an object's `name`
/// (and a pipeline task's `when` right after it); the rest follow alphabetically.
const KEY_ORDER: [&str; 6] = ["apiVersion", "kind", "metadata", "spec", "name", "when"];

/// Prints one Tekton document as YAML, keys in [`KEY_ORDER`].
pub fn to_yaml(doc: &Value) -> Result<String, CompileError> {
    crate::yaml::print(doc, &KEY_ORDER, "the Tekton document")
}

fn unsupported(feature: Feature, step: &str, detail: impl Into<String>) -> CompileError {
    CompileError::Unsupported {
        feature,
        step: Some(step.to_string()),
        backend: "tekton",
        supported_by: Vec::new(),
        detail: Some(detail.into()),
    }
}

/// A user string that must stand literally in a field Tekton substitutes (an image, a path, a
/// secret name): refused if it holds `$(`, which Tekton would try to resolve.
fn literal(what: &str, step: &str, value: &str) -> Result<String, CompileError> {
    if value.contains("$(") {
        return Err(CompileError::Invalid(format!(
            "step `{step}`: the {what} {value:?} holds `$(`, which Tekton would substitute in that field; remove it"
        )));
    }
    Ok(value.to_string())
}

/// A name of at most 63 characters: longer ones keep a prefix and a hash of the whole.
pub fn bounded(name: &str) -> String {
    if name.len() <= NAME_MAX {
        return name.to_string();
    }
    let keep = name[..NAME_MAX - 9].trim_end_matches('-');
    format!("{keep}-{:08x}", crate::k8s::fnv1a(name) as u32)
}

/// Go duration text in whole seconds, what Tekton's `timeout` parses.
fn timeout_text(d: couler_ir::Duration) -> String {
    format!("{}s", d.as_secs_ceil())
}

/// The PipelineRun's `timeouts`. Without a workflow `timeout` there is no overall limit, as in
/// `couler run` (Tekton's default is one hour, and it rejects a task timeout above the
/// pipeline's); steps keep their own `timeout`. With one, `pipeline` is the deadline; with an
/// exit handler too, the deadline is `tasks` under an unlimited `pipeline`: Tekton then cancels
/// the running tasks and still runs `finally`, unlimited as the exit handler is on Argo (a
/// `finally: 0s` beside them is refused: Tekton checks `tasks + finally <= pipeline` even when
/// `pipeline` is 0).
fn run_timeouts(wf: &Workflow) -> Value {
    match wf.timeout {
        None => json!({"pipeline": "0s"}),
        Some(d) if wf.on_exit.is_empty() => json!({"pipeline": timeout_text(d)}),
        Some(d) => json!({"pipeline": "0s", "tasks": timeout_text(d)}),
    }
}

/// Lowers a workflow to its Tekton documents: the Tasks, the Pipeline, the PipelineRun.
/// `children` holds, by the `ref` its sub-workflow steps name, each child's PipelineRun as
/// compiled (the template its launcher creates the child's run from, [`split::child_run`]); a
/// sub-workflow step whose child is not there is a compile error.
pub fn lower(
    wf: &Workflow,
    options: &Options,
    children: &BTreeMap<String, Value>,
    warnings: &mut Vec<String>,
) -> Result<Vec<Value>, CompileError> {
    let launcher_path = match options.launcher.as_deref() {
        None => DEFAULT_LAUNCHER_PATH.to_string(),
        Some(p) if p.starts_with('/') && !p.contains("$(") => p.to_string(),
        Some(p) => {
            return Err(CompileError::Invalid(format!(
                "--launcher {p:?}: for Tekton, give the absolute path of the `couler` binary inside the launcher image (default {DEFAULT_LAUNCHER_PATH})"
            )));
        }
    };
    let store = match options.artifact_store.as_deref() {
        Some(s) if s.contains("$(") => {
            return Err(CompileError::Invalid(format!(
                "--artifact-store {s:?} holds `$(`, which Tekton would substitute; remove it"
            )));
        }
        Some(s) => Some(s.to_string()),
        // The launcher reads the workflow's repository itself.
        None if wf.artifact_repository.is_some() => None,
        None => Some(ARTIFACTS_PATH.to_string()),
    };
    let mut l = Lowerer {
        wf,
        options,
        children,
        launcher_path,
        store,
        members: HashMap::new(),
        tasks: Vec::new(),
        reuse: HashMap::new(),
        task_names: BTreeSet::new(),
        outputs_read: fan_out::outputs_read(wf),
        warnings,
    };
    l.pipeline_and_run()
}

struct Lowerer<'a, 'w> {
    wf: &'a Workflow,
    options: &'a Options,
    /// Each sub-workflow `ref` → the child's PipelineRun as compiled.
    children: &'a BTreeMap<String, Value>,
    /// The `couler` binary in the launcher image.
    launcher_path: String,
    /// `COULER_ARTIFACT_STORE` (`None`: the workflow's `artifactRepository`).
    store: Option<String>,
    /// Task name → the steps it runs (their launcher gets a workflow cut down to them).
    members: HashMap<String, Vec<String>>,
    /// Task documents, in the order first used.
    tasks: Vec<Value>,
    /// Task spec (canonical JSON) → Task name, for reuse.
    reuse: HashMap<String, String>,
    task_names: BTreeSet<String>,
    /// The steps whose outputs another step reads ([`fan_out::outputs_read`]).
    outputs_read: HashSet<String>,
    warnings: &'w mut Vec<String>,
}

/// What a launcher invocation reads at run time, each as a task param.
#[derive(Default)]
struct RunValues {
    /// Workflow params read (`COULER_PARAM_<name>`).
    params: BTreeSet<String>,
    /// Steps whose outcome is read (`COULER_UPSTREAM_<STEP>`).
    upstream: BTreeSet<String>,
}

impl RunValues {
    /// The values `refs` read. Reading any output of a step needs its outcome; `dependsOn` does
    /// not (a step only ordered after a skipped one still runs).
    fn of<'r>(refs: impl IntoIterator<Item = &'r Reference>, this: &str) -> RunValues {
        let mut v = RunValues::default();
        for r in refs {
            match r {
                Reference::Param(n) => {
                    v.params.insert(n.clone());
                }
                Reference::Step { step, .. } if step != this => {
                    v.upstream.insert(step.clone());
                }
                _ => {}
            }
        }
        v
    }
}

fn upstream_param(step: &str) -> String {
    format!("upstream-{step}")
}

fn param_param(name: &str) -> String {
    format!("param-{name}")
}

impl<'a> Lowerer<'a, '_> {
    fn pipeline_and_run(&mut self) -> Result<Vec<Value>, CompileError> {
        let wf = self.wf;
        parallelism::check(wf, self.options, self.warnings)?;
        if let Some((s, detail)) = crate::sub_workflow_misuse(wf, "Tekton", "a part's PipelineRun")
        {
            return Err(unsupported(Feature::SubWorkflow, &s.name, detail));
        }
        if has_sub_workflows(wf) {
            for c in &wf.volume_claims {
                if !c.access_modes.iter().any(|m| m == "ReadWriteMany") {
                    self.warnings.push(format!(
                        "volume claim `{}` is shared by the parts' PipelineRuns, whose pods may run on different nodes at once; give it `accessModes: [ReadWriteMany]` unless the cluster has one node",
                        c.name
                    ));
                }
            }
        }
        let tasks = self.main_tasks()?;
        let mut spec = Map::new();
        if let Some(d) = self.description(wf.description.as_deref(), "the workflow") {
            spec.insert("description".into(), json!(d));
        }
        if !wf.params.is_empty() {
            let mut params = Vec::new();
            for p in &wf.params {
                // Defaults go in the PipelineRun only (its values are never substituted).
                let mut m = Map::new();
                m.insert("name".into(), json!(p.name));
                m.insert("type".into(), json!("string"));
                let what = format!("param `{}`", p.name);
                if let Some(d) = self.description(p.description.as_deref(), &what) {
                    m.insert("description".into(), json!(d));
                }
                params.push(Value::Object(m));
            }
            spec.insert("params".into(), json!(params));
        }
        spec.insert(
            "workspaces".into(),
            json!(
                std::iter::once(json!({"name": ARTIFACTS_WORKSPACE, "description": "the run's artifact store (the launcher's default)"}))
                    .chain(wf.volume_claims.iter().map(|c| json!({"name": c.name, "description": "a volume claim of the workflow, created per run"})))
                    .collect::<Vec<_>>()
            ),
        );
        spec.insert("tasks".into(), json!(tasks));
        let finally = self.finally_tasks()?;
        if !finally.is_empty() {
            spec.insert("finally".into(), json!(finally));
        }
        let mut meta = Map::new();
        meta.insert("name".into(), json!(wf.name));
        self.insert_labels(&mut meta);
        let pipeline = json!({
            "apiVersion": "tekton.dev/v1",
            "kind": "Pipeline",
            "metadata": meta,
            "spec": spec,
        });
        let run = self.pipeline_run()?;
        let mut docs = self.finish_tasks()?;
        docs.append(&mut self.tasks);
        docs.push(pipeline);
        docs.push(run);
        Ok(docs)
    }

    /// The pipeline tasks of the main steps, each after its predecessors (`runAfter`).
    fn main_tasks(&mut self) -> Result<Vec<Value>, CompileError> {
        let wf = self.wf;
        let graph = couler_ir::Graph::new(wf);
        let mut tasks = Vec::new();
        for (i, step) in wf.steps.iter().enumerate() {
            let after: Vec<String> = graph
                .predecessors(i)
                .iter()
                .map(|&p| wf.steps[p].name.clone())
                .collect();
            // No Tekton `when` and no condition task: the step's launcher evaluates its `when`
            // (one on `item` per instance, in the launcher: `fan_out`) and reports `Skipped`
            // with exit 0 and its results, so Tekton never skips a task and its cascades
            // (parent skipped, results missing) never apply; readers of a skipped step skip
            // themselves on its `Skipped` outcome, as in `couler run`.
            let mut t = self.pipeline_task(step, false)?;
            if !after.is_empty() {
                t.insert("runAfter".into(), json!(after));
            }
            tasks.push(Value::Object(t));
        }
        Ok(tasks)
    }

    /// The exit handler's steps as `finally` tasks, each with the Tekton `when` of its
    /// condition.
    fn finally_tasks(&mut self) -> Result<Vec<Value>, CompileError> {
        let wf = self.wf;
        let mut finally = Vec::with_capacity(wf.on_exit.len());
        for exit in &wf.on_exit {
            if !exit.depends_on.is_empty() {
                return Err(unsupported(
                    Feature::ExitHandler,
                    &exit.name,
                    "Tekton starts every `finally` task together, so exit steps cannot depend on each other; remove `dependsOn` (each exit step still sees `workflow.status`)",
                ));
            }
            for (_, r) in exit.references() {
                if let Reference::Step { step, .. } = r {
                    return Err(unsupported(
                        Feature::ExitHandler,
                        &exit.name,
                        format!(
                            "a Tekton `finally` task that reads a result of a failed or skipped task is itself skipped, so the exit handler cannot read step `{step}`'s outputs; use `workflow.status`"
                        ),
                    ));
                }
            }
            let mut t = self.pipeline_task(exit, true)?;
            if let Some(cond) = &exit.when {
                let whens = self.when_of(cond, true).map_err(|why| {
                    unsupported(
                        Feature::When,
                        &exit.name,
                        format!(
                            "the exit handler's condition `{cond}` has no Tekton `when` form ({why}), and a `finally` task cannot wait for a condition task; compare `workflow.status` or params with == / != against strings"
                        ),
                    )
                })?;
                t.insert(
                    "when".into(),
                    json!(whens.iter().map(When::to_json).collect::<Vec<_>>()),
                );
            }
            finally.push(Value::Object(t));
        }
        Ok(finally)
    }

    /// Writes each Task's `COULER_TASK`: `{"step": "$(params.couler-step)", "workflow": W}`, W
    /// the workflow cut down to the Task's steps ([`crate::LauncherSlices`]) as inert JSON. The step's
    /// name is a DNS-1123 label Tekton substitutes from a param, so it needs no JSON escaping;
    /// everything else holds no `$` at all. A Task whose input would not fit one environment
    /// string gets it from a ConfigMap instead ([`task_file`]); those ConfigMaps are returned.
    fn finish_tasks(&mut self) -> Result<Vec<Value>, CompileError> {
        let mut maps = Vec::new();
        let slices = crate::LauncherSlices::new(self.wf);
        for doc in &mut self.tasks {
            let name = doc["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let members = self.members.get(&name).cloned().unwrap_or_default();
            let members: Vec<&str> = members.iter().map(String::as_str).collect();
            let workflow = serde_json::to_value(slices.of(&members)).map_err(|e| {
                CompileError::Invalid(format!("cannot serialise the workflow: {e}"))
            })?;
            let mut task = format!(
                "{{\"step\":\"$(params.couler-step)\",\"workflow\":{}}}",
                render::inert_json(&workflow)
            );
            if !crate::fits_env_string(TASK_ENV, &task) {
                maps.push(task_file::config_map(&name, &members, &slices)?);
                task_file::mount(doc, &name);
                task = task_file::task_env_value();
            }
            // `get_mut`, not indexing, which would add `env: null` to steps without env.
            let steps = doc.get_mut("spec").and_then(|s| s.get_mut("steps"));
            for step in steps.and_then(Value::as_array_mut).into_iter().flatten() {
                let env = step.get_mut("env").and_then(Value::as_array_mut);
                for e in env.into_iter().flatten() {
                    if e["name"] == TASK_ENV {
                        e["value"] = json!(task);
                    }
                }
            }
        }
        Ok(maps)
    }

    /// A user description for a Pipeline field, left out (with a warning) when it holds `$(`:
    /// descriptions are documentation, and no user text stands where Tekton might substitute.
    fn description(&mut self, d: Option<&str>, what: &str) -> Option<String> {
        let d = d?;
        if d.contains("$(") {
            self.warnings.push(format!(
                "the description of {what} holds `$(`; it is left out of the Tekton Pipeline"
            ));
            return None;
        }
        Some(d.to_string())
    }

    fn insert_labels(&self, meta: &mut Map<String, Value>) {
        if !self.wf.labels.is_empty() {
            meta.insert("labels".into(), json!(self.wf.labels));
        }
        if !self.wf.annotations.is_empty() {
            meta.insert("annotations".into(), json!(self.wf.annotations));
        }
    }

    /// A condition as Tekton `when` expressions, when it reads only workflow params (and, in the
    /// exit handler, the workflow status). Tekton's `$(tasks.status)` says `Completed` for a run
    /// that succeeded with skipped tasks, which is `Succeeded` in the IR, and `Failed` for the
    /// IR's `Failed` and `Error`: comparisons that would tell those apart are refused.
    fn when_of(&self, cond: &couler_ir::Expr, in_finally: bool) -> Result<Vec<When>, String> {
        // A bare value is true locally when its *trimmed* text is `true`; Tekton's `in` compares
        // exactly. Only a bool param's text is exactly `true` or `false`.
        for r in render::bare_refs(cond) {
            if let Reference::Param(n) = r
                && !self
                    .wf
                    .params
                    .iter()
                    .any(|p| p.name == *n && p.ty == couler_ir::ParamType::Bool)
            {
                return Err(format!(
                    "`{r}` as a bare condition is true for ` true` in `couler run` (it trims) but not in Tekton; \
                     declare the param `type: bool` or compare it: `{r} == \"true\"`"
                ));
            }
        }
        let mut whens = render::when_expressions(cond, &mut |r| match r {
            Reference::Param(n) => Some(render::pipeline_param(n)),
            Reference::Workflow(couler_ir::WorkflowField::Status) if in_finally => {
                Some(TASKS_STATUS.to_string())
            }
            _ => None,
        })?;
        for w in &mut whens {
            if w.input != TASKS_STATUS {
                continue;
            }
            // Tekton's own words for a finished run, which no Couler status equals.
            if let Some(v) = w.values.iter().find(|v| *v == "Completed" || *v == "None") {
                return Err(format!(
                    "`workflow.status` is never `{v}` (it is `Succeeded`, `Failed` or `Error`), \
                     but Tekton's `$(tasks.status)` is: compare with `Succeeded` instead"
                ));
            }
            if w.values.iter().any(|v| v == "Succeeded") {
                w.values.push("Completed".into());
            }
            // Tekton says `Failed` for a run that Couler calls `Failed` or `Error`.
            let has = |x: &str| w.values.iter().any(|v| v == x);
            if has("Failed") != has("Error") {
                return Err(
                    "Tekton's `$(tasks.status)` is `Failed` both for a Failed and for an Error run: \
                     compare with both (`workflow.status == \"Failed\" || workflow.status == \"Error\"`) \
                     or with `Succeeded`"
                        .to_string(),
                );
            }
            w.values.retain(|v| v != "Error");
        }
        Ok(whens)
    }

    /// The Task params and env entries passing `values` (and the step name) to the launcher.
    fn value_params(&self, values: &RunValues) -> (Vec<Value>, Vec<Value>) {
        let mut params = vec![
            json!({"name": "couler-step", "type": "string", "description": "the step's name in the workflow"}),
            // A Task sees only `context.taskRun.*`; the run's uid comes from the pipeline task.
            json!({"name": "couler-run-id", "type": "string", "description": "the PipelineRun's uid"}),
        ];
        // Filled in by `finish_tasks` once the Task's steps are known.
        let mut env = vec![
            json!({"name": TASK_ENV, "value": ""}),
            json!({"name": RUN_ID_ENV, "value": "$(params.couler-run-id)"}),
        ];
        if let Some(store) = &self.store {
            env.push(json!({"name": ARTIFACT_STORE_ENV, "value": store}));
        }
        for p in &values.params {
            let name = param_param(p);
            params.push(json!({"name": name, "type": "string", "description": format!("workflow param `{p}`")}));
            env.push(json!({"name": param_env(p), "value": format!("$(params.{name})")}));
        }
        for s in &values.upstream {
            let name = upstream_param(s);
            params.push(json!({"name": name, "type": "string", "description": format!("the outcome of step `{s}`")}));
            env.push(json!({"name": upstream_env(s), "value": format!("$(params.{name})")}));
        }
        (params, env)
    }

    /// The pipeline task's params matching [`Self::value_params`].
    fn value_args(&self, step: &str, values: &RunValues) -> Vec<Value> {
        let mut args = vec![
            json!({"name": "couler-step", "value": step}),
            json!({"name": "couler-run-id", "value": "$(context.pipelineRun.uid)"}),
        ];
        for p in &values.params {
            args.push(json!({"name": param_param(p), "value": render::pipeline_param(p)}));
        }
        for s in &values.upstream {
            args.push(json!({"name": upstream_param(s), "value": format!("$(tasks.{s}.results.{OUTCOME_RESULT})")}));
        }
        args
    }

    fn launcher_image(&self, step: &str) -> Result<String, CompileError> {
        let image = self
            .options
            .launcher_image
            .as_deref()
            .unwrap_or(couler_ir::launch_protocol::COULER_IMAGE);
        literal("launcher image", step, image)
    }

    /// Adds a Task document for `spec` unless an identical one exists; returns its name.
    fn task_doc(&mut self, base: &str, spec: Value, step: &str) -> String {
        let key = spec.to_string();
        if !self.options.no_template_reuse
            && let Some(name) = self.reuse.get(&key)
        {
            let name = name.clone();
            let members = self.members.entry(name.clone()).or_default();
            if !members.iter().any(|m| m == step) {
                members.push(step.to_string());
            }
            return name;
        }
        let base = bounded(base);
        let mut name = base.clone();
        let mut i = 1;
        while self.task_names.contains(&name) {
            i += 1;
            name = bounded(&format!("{base}-{i}"));
        }
        self.task_names.insert(name.clone());
        self.reuse.insert(key, name.clone());
        self.members.insert(name.clone(), vec![step.to_string()]);
        self.tasks.push(json!({
            "apiVersion": "tekton.dev/v1",
            "kind": "Task",
            "metadata": {"name": name},
            "spec": spec,
        }));
        name
    }

    /// The pipeline task of one step (its Task emitted or reused).
    fn pipeline_task(
        &mut self,
        step: &'a Step,
        in_finally: bool,
    ) -> Result<Map<String, Value>, CompileError> {
        let wf = self.wf;
        let values = RunValues::of(step.references().into_iter().map(|(_, r)| r), &step.name);
        let sub = match &step.kind {
            StepKind::Workflow(sw) => Some(sw),
            _ => None,
        };
        let spec = match sub {
            Some(sw) => self.sub_workflow_task_spec(step, sw, &values, in_finally)?,
            None => self.task_spec(step, &values, in_finally)?,
        };
        let task_name = self.task_doc(&format!("{}-{}", wf.name, step.name), spec, &step.name);
        let mut t = Map::new();
        t.insert("name".into(), json!(step.name));
        t.insert("taskRef".into(), json!({"name": task_name}));
        let mut params = self.value_args(&step.name, &values);
        if in_finally {
            params.push(json!({"name": "workflow-status", "value": TASKS_STATUS}));
        }
        if sub.is_some() {
            params.push(json!({"name": PARENT_RUN_PARAM, "value": "$(context.pipelineRun.name)"}));
            params.push(
                json!({"name": NAMESPACE_PARAM, "value": "$(context.pipelineRun.namespace)"}),
            );
        }
        t.insert("params".into(), json!(params));
        if let Some(m) = step.map.as_deref() {
            if !fan_out::in_launcher(step, &self.outputs_read) {
                t.insert("matrix".into(), self.matrix(step, m)?);
            } else if wf.effective_resources(step).is_some() {
                self.warnings.push(format!(
                    "step `{}`: its launcher runs every instance in the one TaskRun's pod, whose `resources` are one instance's",
                    step.name
                ));
            }
        }
        if let Some(r) = wf.effective_retry(step) {
            t.insert("retries".into(), json!(r.limit));
            if r.backoff.is_some() {
                self.warnings.push(format!(
                    "step `{}`: Tekton retries at once; the retry backoff is dropped",
                    step.name
                ));
            }
            if matches!(r.on, RetryOn::Error | RetryOn::Transient) {
                self.warnings.push(format!(
                    "step `{}`: Tekton retries every failure, not only the kinds `retry.on` names",
                    step.name
                ));
            }
        }
        if let Some(d) = wf.effective_timeout(step)
            && !fan_out::runs_many(step, &self.outputs_read)
        {
            t.insert("timeout".into(), json!(timeout_text(d)));
        }
        let mut bindings =
            vec![json!({"name": ARTIFACTS_WORKSPACE, "workspace": ARTIFACTS_WORKSPACE})];
        if sub.is_some() {
            // The child's run binds every volume of the one logical run.
            bindings.extend(
                wf.volume_claims
                    .iter()
                    .map(|c| json!({"name": c.name, "workspace": c.name})),
            );
        } else {
            for m in &step.volume_mounts {
                if wf.volume_claims.iter().any(|c| c.name == m.name) {
                    let mut b = Map::new();
                    b.insert("name".into(), json!(m.name));
                    b.insert("workspace".into(), json!(m.name));
                    if let Some(sp) = &m.sub_path {
                        b.insert(
                            "subPath".into(),
                            json!(literal("sub path", &step.name, sp)?),
                        );
                    }
                    bindings.push(Value::Object(b));
                }
            }
        }
        t.insert("workspaces".into(), json!(bindings));
        Ok(t)
    }

    /// A mapped step's `matrix`: one instance per item, each given its item's index.
    fn matrix(&mut self, step: &Step, m: &couler_ir::Map) -> Result<Value, CompileError> {
        let count = match &m.over {
            MapOver::Items(items) => items.len(),
            MapOver::Range {
                start,
                stop,
                step: by,
            } => couler_ir::range_len(*start, *stop, *by),
            // `fan_out::in_launcher`: its launcher runs the instances.
            MapOver::From(_) => {
                return Err(unsupported(
                    Feature::MapFrom,
                    &step.name,
                    "a list known at run time is mapped by the launcher, not by a matrix",
                ));
            }
        };
        if count > MATRIX_LIMIT {
            self.warnings.push(format!(
                "step `{}` fans out over {count} items, above Tekton's default limit of {MATRIX_LIMIT} matrix combinations: raise `default-max-matrix-combinations-count` in the cluster's `config-defaults`",
                step.name
            ));
        }
        // Instances get their item's index; the launcher reads the item from the step's own
        // `map`, so item values never pass through Tekton.
        let indices: Vec<String> = (0..count).map(|i| i.to_string()).collect();
        Ok(json!({"params": [{"name": ITEM_INDEX_PARAM, "value": indices}]}))
    }

    /// The Task of a sub-workflow step: the launcher image's `couler launch pipelinerun`, which
    /// creates the child's PipelineRun from its compiled form (`COULER_CHILD_RUN`) with the
    /// step's params, binds the child's workspaces to this run's claims (so artifacts and
    /// volumes are those of the one logical run), and waits for it (docs/tekton.md, "Split
    /// workflows").
    fn sub_workflow_task_spec(
        &mut self,
        step: &'a Step,
        sw: &couler_ir::SubWorkflow,
        values: &RunValues,
        in_finally: bool,
    ) -> Result<Value, CompileError> {
        if in_finally {
            return Err(unsupported(
                Feature::SubWorkflow,
                &step.name,
                "an exit step that runs a sub-workflow has no Tekton lowering; run the sub-workflow as a main step",
            ));
        }
        let template = self.children.get(&sw.reference).ok_or_else(|| {
            unsupported(
                Feature::SubWorkflow,
                &step.name,
                format!(
                    "Tekton runs a sub-workflow (`{}`) only as a part of a split workflow, compiled together with its parts (`couler split --target tekton`): its launcher creates the part's PipelineRun from the part's compiled form",
                    sw.reference
                ),
            )
        })?;
        let (mut params, mut env) = self.value_params(values);
        params.push(json!({"name": PARENT_RUN_PARAM, "type": "string", "description": "the parent PipelineRun's name"}));
        params.push(json!({"name": NAMESPACE_PARAM, "type": "string", "description": "the parent PipelineRun's namespace"}));
        env.push(json!({"name": CHILD_RUN_ENV, "value": render::inert_json(template)}));
        let mut command = vec![
            json!(self.launcher_path),
            json!("launch"),
            json!("pipelinerun"),
            json!("--results-dir"),
            json!(RESULTS_DIR),
            json!("--parent-run"),
            json!(format!("$(params.{PARENT_RUN_PARAM})")),
            json!("--namespace"),
            json!(format!("$(params.{NAMESPACE_PARAM})")),
        ];
        let mut workspaces = Vec::new();
        let claims = std::iter::once(ARTIFACTS_WORKSPACE)
            .chain(self.wf.volume_claims.iter().map(|c| c.name.as_str()));
        for w in claims {
            command.push(json!("--claim"));
            command.push(json!(format!("{w}=$(workspaces.{w}.claim)")));
            workspaces.push(json!({"name": w, "readOnly": true}));
        }
        let run = json!({
            "name": "run",
            "image": self.launcher_image(&step.name)?,
            "command": command,
            "env": env,
        });
        Ok(json!({
            "params": params,
            "results": [
                {"name": STATUS_RESULT, "type": "string", "description": "the part's status"},
                {"name": OUTCOME_RESULT, "type": "string", "description": "the launcher's outcome JSON"},
            ],
            "workspaces": workspaces,
            "steps": [run],
        }))
    }

    fn task_spec(
        &mut self,
        step: &'a Step,
        values: &RunValues,
        in_finally: bool,
    ) -> Result<Value, CompileError> {
        let wf = self.wf;
        let image = match &step.kind {
            StepKind::Container(_) | StepKind::Script(_) => {
                wf.effective_image(step).ok_or_else(|| {
                    CompileError::Invalid(format!(
                        "step `{}` has no image; Tekton runs every step in a container: set its `image` or `defaults.image`",
                        step.name
                    ))
                })?
            }
            other => {
                return Err(CompileError::Invalid(format!(
                    "step `{}`: {} steps do not run on Tekton",
                    step.name,
                    other.key()
                )));
            }
        };
        let image = literal("image", &step.name, image)?;
        let (mut params, mut env) = self.value_params(values);
        if step.map.is_some() && !fan_out::in_launcher(step, &self.outputs_read) {
            // The empty default is for tekton-lint 1.1.0, which does not see `matrix` params as
            // given; Tekton always passes the index, and the launcher rejects an empty one.
            params.push(json!({"name": ITEM_INDEX_PARAM, "type": "string", "description": "this instance's index in the step's items", "default": ""}));
            env.push(
                json!({"name": ITEM_INDEX_ENV, "value": format!("$(params.{ITEM_INDEX_PARAM})")}),
            );
        }
        if in_finally {
            params.push(json!({"name": "workflow-status", "type": "string", "description": "the pipeline's status (`$(tasks.status)`)"}));
            env.push(json!({"name": WORKFLOW_STATUS_ENV, "value": "$(params.workflow-status)"}));
        }
        self.secret_env(step, &mut env)?;
        let (mounts, volumes, workspaces) = self.mounts(step)?;
        local_paths_in_volumes(step, &mounts)?;
        let install = json!({
            "name": "couler-install",
            "image": self.launcher_image(&step.name)?,
            "command": ["cp", self.launcher_path, format!("{LAUNCHER_DIR}/couler")],
            "volumeMounts": [{"name": LAUNCHER_VOLUME, "mountPath": LAUNCHER_DIR}],
        });
        let mut run = Map::new();
        run.insert("name".into(), json!("run"));
        run.insert("image".into(), json!(image));
        run.insert(
            "command".into(),
            json!([
                format!("{LAUNCHER_DIR}/couler"),
                "launch",
                "step",
                "--results-dir",
                RESULTS_DIR,
                "--skipped-exit-code",
                "0"
            ]),
        );
        run.insert("env".into(), json!(env));
        if let Some(r) = wf.effective_resources(step) {
            run.insert("computeResources".into(), resources(r));
        }
        run.insert("volumeMounts".into(), json!(mounts));
        if step.continue_on_failure {
            run.insert("onError".into(), json!("continue"));
        }
        let mut spec = Map::new();
        spec.insert("params".into(), json!(params));
        spec.insert(
            "results".into(),
            json!([
                {"name": STATUS_RESULT, "type": "string", "description": "the step's status"},
                {"name": OUTCOME_RESULT, "type": "string", "description": "the launcher's outcome JSON, or a reference to it in the artifact store when over 4 KB"},
            ]),
        );
        spec.insert("workspaces".into(), json!(workspaces));
        spec.insert("volumes".into(), json!(volumes));
        spec.insert("steps".into(), json!([install, Value::Object(run)]));
        Ok(Value::Object(spec))
    }

    /// The step's secrets as environment variables, and the artifact repository's S3
    /// credentials when the launcher reads it.
    fn secret_env(&self, step: &Step, env: &mut Vec<Value>) -> Result<(), CompileError> {
        let wf = self.wf;
        for s in &step.secrets {
            env.push(json!({"name": s.env, "valueFrom": {"secretKeyRef": {
                "name": literal("secret name", &step.name, &s.secret)?,
                "key": literal("secret key", &step.name, &s.key)?,
            }}}));
        }
        if let Some(Storage::S3(s3)) = &wf.artifact_repository
            && self.options.artifact_store.is_none()
        {
            for (var, key) in [
                ("AWS_ACCESS_KEY_ID", &s3.access_key),
                ("AWS_SECRET_ACCESS_KEY", &s3.secret_key),
            ] {
                if let Some(k) = key {
                    env.push(json!({"name": var, "valueFrom": {"secretKeyRef": {
                        "name": literal("secret name", &step.name, &k.name)?,
                        "key": literal("secret key", &step.name, &k.key)?,
                    }}}));
                }
            }
        }
        Ok(())
    }

    /// The step's mounts: the launcher's volume, the run's artifact workspace, and the step's
    /// volumes (pod volumes) and volume claims (Task workspaces). Returns the volume mounts,
    /// the pod volumes and the workspaces.
    #[allow(clippy::type_complexity)]
    fn mounts(&self, step: &Step) -> Result<(Vec<Value>, Vec<Value>, Vec<Value>), CompileError> {
        let wf = self.wf;
        let mut mounts = vec![json!({"name": LAUNCHER_VOLUME, "mountPath": LAUNCHER_DIR})];
        let mut volumes = vec![json!({"name": LAUNCHER_VOLUME, "emptyDir": {}})];
        let mut workspaces =
            vec![json!({"name": ARTIFACTS_WORKSPACE, "mountPath": ARTIFACTS_PATH})];
        for m in &step.volume_mounts {
            if wf.volume_claims.iter().any(|c| c.name == m.name) {
                // A claim is a workspace: one mount path per Task; the sub path is bound by
                // the pipeline task.
                if workspaces.iter().any(|w| w["name"] == json!(m.name)) {
                    return Err(CompileError::Invalid(format!(
                        "step `{}` mounts volume claim `{}` twice; Tekton mounts a workspace once per task: mount it once",
                        step.name, m.name
                    )));
                }
                let mut w = Map::new();
                w.insert("name".into(), json!(m.name));
                w.insert(
                    "mountPath".into(),
                    json!(literal("mount path", &step.name, &m.mount_path)?),
                );
                if m.read_only {
                    w.insert("readOnly".into(), json!(true));
                }
                workspaces.push(Value::Object(w));
                continue;
            }
            let Some(v) = wf.volumes.iter().find(|v| v.name == m.name) else {
                return Err(CompileError::Invalid(format!(
                    "step `{}` mounts `{}`, which is neither a workflow volume nor a volume claim",
                    step.name, m.name
                )));
            };
            let mut vm = Map::new();
            vm.insert("name".into(), json!(m.name));
            vm.insert(
                "mountPath".into(),
                json!(literal("mount path", &step.name, &m.mount_path)?),
            );
            if m.read_only {
                vm.insert("readOnly".into(), json!(true));
            }
            if let Some(s) = &m.sub_path {
                vm.insert("subPath".into(), json!(literal("sub path", &step.name, s)?));
            }
            mounts.push(Value::Object(vm));
            if !volumes.iter().any(|x| x["name"] == json!(v.name)) {
                volumes.push(volume(v, &step.name)?);
            }
        }
        Ok((mounts, volumes, workspaces))
    }

    fn pipeline_run(&self) -> Result<Value, CompileError> {
        let wf = self.wf;
        let mut spec = Map::new();
        spec.insert("pipelineRef".into(), json!({"name": wf.name}));
        let mut params = Vec::new();
        for p in &wf.params {
            match &p.default {
                Some(d) => params.push(json!({"name": p.name, "value": param_text(d)})),
                None => {
                    return Err(CompileError::Invalid(format!(
                        "param `{}` has no default, and the PipelineRun must give every param a value; give it a `default` (it can be overridden when the run is created)",
                        p.name
                    )));
                }
            }
        }
        if !params.is_empty() {
            spec.insert("params".into(), json!(params));
        }
        // A split run's parts run their pods beside the parent's, on any node.
        let access = if has_sub_workflows(wf) {
            "ReadWriteMany"
        } else {
            "ReadWriteOnce"
        };
        let mut bindings = vec![
            json!({"name": ARTIFACTS_WORKSPACE, "volumeClaimTemplate": {"spec": {
                "accessModes": [access],
                "resources": {"requests": {"storage": ARTIFACTS_SIZE}},
            }}}),
        ];
        for c in &wf.volume_claims {
            let mut claim = Map::new();
            claim.insert("accessModes".into(), json!(c.access_modes));
            if let Some(sc) = &c.storage_class {
                claim.insert("storageClassName".into(), json!(sc));
            }
            claim.insert(
                "resources".into(),
                json!({"requests": {"storage": c.size.as_str()}}),
            );
            bindings.push(json!({"name": c.name, "volumeClaimTemplate": {"spec": claim}}));
        }
        spec.insert("workspaces".into(), json!(bindings));
        spec.insert("timeouts".into(), run_timeouts(wf));
        let mut template = Map::new();
        if let Some(sa) = &wf.service_account {
            template.insert("serviceAccountName".into(), json!(sa));
        }
        if !wf.image_pull_secrets.is_empty() {
            template.insert(
                "podTemplate".into(),
                json!({"imagePullSecrets": wf.image_pull_secrets.iter().map(|n| json!({"name": n})).collect::<Vec<_>>()}),
            );
        }
        if !template.is_empty() {
            spec.insert("taskRunTemplate".into(), Value::Object(template));
        }
        let mut specs = Vec::new();
        for step in wf.steps.iter().chain(&wf.on_exit) {
            if matches!(step.kind, StepKind::Workflow(_)) {
                specs.push(json!({"pipelineTaskName": step.name, "serviceAccountName": launcher_account(wf)}));
                continue;
            }
            let mut pod = Map::new();
            placement(step, &mut pod);
            if !pod.is_empty() {
                specs.push(json!({"pipelineTaskName": step.name, "podTemplate": pod}));
            }
        }
        if !specs.is_empty() {
            spec.insert("taskRunSpecs".into(), json!(specs));
        }
        let mut meta = Map::new();
        meta.insert("name".into(), json!(bounded(&format!("{}-run", wf.name))));
        self.insert_labels(&mut meta);
        Ok(json!({
            "apiVersion": "tekton.dev/v1",
            "kind": "PipelineRun",
            "metadata": meta,
            "spec": spec,
        }))
    }
}

/// Every `storage: local` path a step writes or reads lies in a volume of its pod (the artifact
/// workspace or a mount): anywhere else it would be lost with the pod.
fn local_paths_in_volumes(step: &Step, mounts: &[Value]) -> Result<(), CompileError> {
    let outputs = step
        .outputs
        .artifacts
        .iter()
        .filter_map(|a| Some((&a.name, a.storage.as_ref()?)));
    let inputs = step
        .inputs
        .artifacts
        .iter()
        .filter_map(|a| match &a.source {
            Some(couler_ir::ArtifactSource::Storage(st)) => Some((&a.name, st)),
            _ => None,
        });
    let roots: Vec<&str> = std::iter::once(ARTIFACTS_PATH)
        .chain(mounts.iter().filter_map(|m| m["mountPath"].as_str()))
        .filter(|r| *r != LAUNCHER_DIR)
        .collect();
    for (name, st) in outputs.chain(inputs) {
        if let Storage::Local(l) = st {
            let p = std::path::Path::new(&l.path);
            if !roots
                .iter()
                .any(|r| p.starts_with(r) && p != std::path::Path::new(r))
            {
                return Err(CompileError::Invalid(format!(
                    "step `{}`: artifact `{name}` is stored at the local path {:?}, which is in no volume of its Tekton pod and would be lost with it; use a path under {ARTIFACTS_PATH} (the run's artifact workspace) or under a mounted volume",
                    step.name, l.path
                )));
            }
        }
    }
    Ok(())
}

fn has_sub_workflows(wf: &Workflow) -> bool {
    wf.steps
        .iter()
        .any(|s| matches!(s.kind, StepKind::Workflow(_)))
}

/// The service account the launcher of a sub-workflow step runs as (it creates PipelineRuns).
pub fn launcher_account(wf: &Workflow) -> String {
    bounded(&format!("{}-couler-launcher", wf.name))
}

/// The service account, Role and RoleBinding that let a sub-workflow step's launcher create,
/// read, cancel and delete PipelineRuns in the run's namespace (applied with the Pipeline;
/// no namespace is written, so `kubectl apply -n NS` places them).
pub fn launcher_rbac(wf: &Workflow) -> Vec<Value> {
    let name = launcher_account(wf);
    vec![
        json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name}}),
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": name},
            "rules": [{
                "apiGroups": ["tekton.dev"],
                "resources": ["pipelineruns"],
                "verbs": ["create", "get", "patch", "delete"],
            }],
        }),
        json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": name},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
            "subjects": [{"kind": "ServiceAccount", "name": name}],
        }),
    ]
}

/// Tekton's rule for result names (`ResultNameFormat`): ASCII letters, digits, `-`, `_` and `.`,
/// starting and ending with a letter or digit.
pub fn valid_result_name(n: &str) -> bool {
    let b = n.as_bytes();
    let inner = |c: &u8| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.');
    !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter().all(inner)
}

/// A workflow volume as a pod volume.
fn volume(v: &couler_ir::Volume, step: &str) -> Result<Value, CompileError> {
    let source = match &v.source {
        VolumeSource::Claim { name } => {
            json!({"persistentVolumeClaim": {"claimName": literal("claim name", step, name)?}})
        }
        VolumeSource::ConfigMap { name } => {
            json!({"configMap": {"name": literal("config map name", step, name)?}})
        }
        VolumeSource::Secret { name } => {
            json!({"secret": {"secretName": literal("secret name", step, name)?}})
        }
        VolumeSource::EmptyDir {} => json!({"emptyDir": {}}),
        VolumeSource::HostPath { path } => {
            json!({"hostPath": {"path": literal("host path", step, path)?}})
        }
    };
    let mut m = Map::new();
    m.insert("name".into(), json!(v.name));
    if let Value::Object(s) = source {
        m.extend(s);
    }
    Ok(Value::Object(m))
}
