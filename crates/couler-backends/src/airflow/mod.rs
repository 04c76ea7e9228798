//! The Airflow backend: one Apache Airflow 3 DAG file (Python, `airflow.sdk`) per workflow.
//!
//! Every task runs the shared in-task launcher, `couler launch step` (docs/launcher.md), which
//! stages artifacts, renders templates, evaluates `when`, runs the step and prints its outcome as
//! the task's XCom; so the DAG only wires tasks, and step semantics are the local runtime's.
//! How each feature lowers is in docs/airflow.md.
//!
//! **Generated code is a security boundary.** The DAG is Python built by construction: user
//! data enters only as Python literals ([`python::literal`]), never pasted into code. Airflow
//! renders `bash_command`, `env` and other template fields with Jinja, so user data never goes
//! into a template either: the step's definition travels base64-encoded (`COULER_TASK`), and
//! every user-derived value placed in a templated field is wrapped in `airflow.sdk.literal`,
//! which Airflow does not render. The only Jinja in the file is what this module writes
//! (XCom pulls by validated task id, `run_id`, params as JSON).

pub mod python;
mod skips;
mod split;

use crate::{Backend, CompileError, ENV_STRING_LIMIT, Feature, Operator, Options, Output, Support};
use couler_ir::launch_protocol::{
    EXIT_SKIPPED, ITEM_INDEX_ENV, TASK_BASE64_PREFIX, TASK_ENV, upstream_env,
};
use couler_ir::{ArtifactSource, Graph, MapOver, ParamType, Step, StepKind, Storage, Workflow};
use python::{literal, string};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Compiles the IR to Apache Airflow 3 DAG files (Python).
pub struct Airflow;

impl Backend for Airflow {
    fn name(&self) -> &'static str {
        "airflow"
    }

    fn support(&self, feature: Feature) -> Support {
        use Feature::*;
        match feature {
            Container | Script => {
                Support::Lowered("a task running `couler launch step` (host, pod or container)")
            }
            Suspend => Support::Lowered(
                "a task that sleeps for `duration`; a suspend without one is a compile error",
            ),
            Daemon | TuneAsynchronous => Support::Unsupported,
            Params => Support::Native,
            ParameterPassing => Support::Lowered("the launcher's outcome JSON, as the task's XCom"),
            ArtifactPassing => Support::Lowered(
                "content-addressed artifact store (--artifact-store / artifactRepository); digests via XCom",
            ),
            When => Support::Lowered(
                "the launcher evaluates `when` and exits 99 (task skipped); trigger rule none_failed keeps Airflow from skipping more",
            ),
            MapItems | MapRange => {
                Support::Lowered("dynamic task mapping (expand) over the item indices")
            }
            MapFrom => Support::Lowered(
                "a `couler launch items` task lists the item indices at run time; the step expands over them",
            ),
            MapParallelism => Support::Lowered("max_active_tis_per_dagrun on the mapped task"),
            MappedOutputs => Support::Lowered(
                "the mapped task's XComs pulled as a list and combined by the launcher",
            ),
            Repeat => Support::Lowered(
                "the launcher re-runs the step while `repeat.while` holds, up to maxIterations, in one task",
            ),
            Groups => Support::Lowered("task dependencies on every member"),
            ExitHandler => Support::Lowered(
                "a last task with trigger rule all_done, downstream of every task; the launcher derives workflow.status from their outcomes",
            ),
            Retry => Support::Lowered("task retries (any failure is retried)"),
            RetrySlow => Support::Unsupported,
            Backoff => Support::Lowered(
                "retry_delay, retry_exponential_backoff (Airflow's factor 2) and max_retry_delay",
            ),
            Timeout => Support::Lowered("execution_timeout, and the launcher's own timeout"),
            Resources | Gpu | NodeSelector | Tolerations | ImagePullSecrets | ServiceAccount => {
                Support::Lowered(
                    "KubernetesPodOperator fields (--operator kubernetes); ignored by the host and docker operators",
                )
            }
            Secrets => Support::Lowered(
                "Kubernetes secret references (--operator kubernetes); else the worker's environment variable",
            ),
            Cache => Support::Lowered(
                "the launcher's cache entries in a directory artifact store (not consulted on S3)",
            ),
            ContinueOnFailure => Support::Lowered(
                "the launcher exits 0 and reports `Failed` in the outcome readers see",
            ),
            Schedule => Support::Native,
            Parallelism => Support::Lowered("max_active_tasks of the DAG"),
            WorkflowTimeout => Support::Lowered(
                "dagrun_timeout of the DAG, applied by the scheduler (not by `airflow dags test`); the tasks it stops, the exit handler's included, end skipped",
            ),
            Labels => Support::Lowered("DAG tags (`key=value`)"),
            ArtifactRepository => Support::Lowered("the launcher's artifact store"),
            StorageLocal => Support::Lowered("a path on the worker, stored by the launcher"),
            StorageS3 => {
                Support::Lowered("the launcher's artifact store (artifactRepository only)")
            }
            StatusOf => Support::Lowered("status and exit code in the launcher's outcome"),
            SubWorkflow => Support::Lowered(
                "a TriggerDagRunOperator task that runs the DAG of the referenced spec (its file stem) and waits for it; params passed as the run's conf",
            ),
            Resource | JobTensorflow | JobPytorch | JobMpi | Volumes | VolumeClaims | Ttl
            | PodGc | StorageGcs | StorageOss | StorageHdfs | StorageGit | StorageHttp => {
                Support::Unsupported
            }
        }
    }

    fn lower(&self, wf: &Workflow, options: &Options) -> Result<Output, CompileError> {
        check_details(self, wf)?;
        let mut out = Output::default();
        let (text, _) = dag_file(wf, options, &mut out.warnings)?;
        out.files
            .insert(format!("{}.py", dag_id(wf, options)?), text);
        Ok(out)
    }

    fn split_lowering(&self) -> Option<&dyn crate::SplitLowering> {
        Some(self)
    }
}

/// Uses the matrix cannot see: suspends without a duration, S3 input sources, a mapped step's
/// skip its readers cannot tell (`skips.rs`).
fn check_details(b: &Airflow, wf: &Workflow) -> Result<(), CompileError> {
    let unsupported = |feature: Feature, step: &Step, detail: String| CompileError::Unsupported {
        feature,
        step: Some(step.name.clone()),
        backend: b.name(),
        supported_by: crate::backends()
            .iter()
            .filter(|x| x.name() != b.name() && x.support(feature).is_supported())
            .map(|x| x.name())
            .collect(),
        detail: Some(detail),
    };
    if let Some((s, detail)) = crate::sub_workflow_misuse(wf, "Airflow", "a triggered DAG run") {
        return Err(unsupported(Feature::SubWorkflow, s, detail));
    }
    if let Some((s, detail)) = skips::unpassable_skip(wf) {
        return Err(unsupported(Feature::MappedOutputs, s, detail));
    }
    for s in wf.steps.iter().chain(&wf.on_exit) {
        if let StepKind::Workflow(sw) = &s.kind {
            for (name, value) in &sw.params {
                if conf_param(name, value).is_none() {
                    return Err(unsupported(
                        Feature::SubWorkflow,
                        s,
                        format!(
                            "param `{}` of the sub-workflow is `{value}`; on Airflow a sub-workflow's params are passed as the triggered run's conf and must each be one workflow param, `{{{{params.NAME}}}}` (declare the value as a param of this workflow)",
                            name.escape_debug()
                        ),
                    ));
                }
            }
        }
        if let StepKind::Suspend(sus) = &s.kind
            && sus.duration.is_none()
        {
            return Err(unsupported(
                Feature::Suspend,
                s,
                "a suspend without `duration` waits for a person to resume it, which an Airflow task cannot do; give it a `duration`".into(),
            ));
        }
        for a in &s.inputs.artifacts {
            if let Some(ArtifactSource::Storage(st)) = &a.source
                && !matches!(st, Storage::Local(_))
            {
                return Err(unsupported(
                    Feature::StorageS3,
                    s,
                    format!(
                        "input artifact `{}` reads {} storage directly; the launcher fetches inputs only from the artifact store or a local path (pass the object through an upstream step)",
                        a.name,
                        st.key()
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// The workflow param a sub-workflow param passes on, when Airflow can: the value is exactly
/// `{{params.P}}` and the name an identifier (it goes into the generated `conf` Jinja).
fn conf_param<'t>(name: &str, value: &'t couler_ir::Template) -> Option<&'t str> {
    match value.segments() {
        [couler_ir::Segment::Ref(couler_ir::Reference::Param(p))]
            if is_identifier(name) && is_identifier(&p.replace('-', "_")) =>
        {
            Some(p)
        }
        _ => None,
    }
}

fn is_identifier(name: &str) -> bool {
    name.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A task id is the step name; the IR validated it as a DNS-1123 label, which is also a valid
/// Airflow task id and safe inside the Jinja this module writes. Checked again here.
fn task_id(name: &str) -> Result<&str, CompileError> {
    if !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        Ok(name)
    } else {
        Err(CompileError::Invalid(format!(
            "step name `{}` is not a DNS-1123 label; run `couler validate` on the workflow",
            name.escape_debug()
        )))
    }
}

fn seconds(d: couler_ir::Duration) -> String {
    format!("timedelta(seconds={})", d.as_std().as_secs_f64())
}

fn param_type(t: ParamType) -> Value {
    match t {
        ParamType::String => json!("string"),
        ParamType::Int => json!("integer"),
        ParamType::Float => json!("number"),
        ParamType::Bool => json!("boolean"),
        ParamType::Json => json!([
            "object", "array", "string", "number", "integer", "boolean", "null"
        ]),
    }
}

/// The whole DAG file, and each step's share of its bytes (its task, the dependency lines into
/// it, its part of the embedded workflow JSON and of the exit tasks' upstream lists): what a
/// split measures a part by.
fn dag_file(
    wf: &Workflow,
    o: &Options,
    warnings: &mut Vec<String>,
) -> Result<(String, Vec<u64>), CompileError> {
    let graph = Graph::new(wf);
    let order = graph
        .topological_order()
        .map_err(|c| CompileError::Invalid(format!("the workflow has a cycle: {c:?}")))?;
    let slices = crate::LauncherSlices::new(wf);
    let wf_json = encode(&slices.head())?;
    let inputs = TaskInputs {
        slices: &slices,
        head_len: python_dumps_len(&wf_json),
    };
    let store = artifact_store(wf, o, warnings);
    let launcher = launcher_path(o, warnings);
    let mut shares: Vec<u64> = vec![0; wf.steps.len()];
    let mut py = String::new();
    let w = &mut py;
    write_imports(w, wf, o);
    let _ = writeln!(
        w,
        "\n# The workflow's own fields (the Couler IR as JSON, less its steps): every task's launcher\n\
         # input adds the task's step and stubs of the steps it reads.\n\
         WORKFLOW = {}\n\
         LAUNCHER = {}\n\
         ARTIFACT_STORE = {}\n\
         LAUNCHER_IMAGE = {}\n",
        string(&wf_json),
        string(&launcher),
        literal(&store.map(Value::String).unwrap_or(Value::Null)),
        literal(
            &o.launcher_image
                .clone()
                .map(Value::String)
                .unwrap_or(Value::Null)
        ),
    );
    w.push_str(HELPERS);
    if o.operator == Operator::Kubernetes {
        w.push_str(KUBERNETES_HELPERS);
    }
    let dag_args = dag_args(wf, dag_id(wf, o)?, warnings);
    let _ = writeln!(w, "with DAG(\n    {},\n) as dag:", dag_args.join(",\n    "));
    let mapped = mapped_counts(wf);
    for &i in &order {
        let step = &wf.steps[i];
        let preds: Vec<&str> = graph
            .predecessors(i)
            .iter()
            .map(|&p| wf.steps[p].name.as_str())
            .collect();
        let before = w.len();
        task(w, wf, &inputs, step, &preds, &mapped, o, false, warnings)?;
        shares[i] += (w.len() - before) as u64;
    }
    // Dependencies, in a fixed order.
    for (a, b) in graph.edges() {
        let before = w.len();
        let _ = writeln!(
            w,
            "    {} >> {}",
            task_var(&wf.steps[a].name),
            task_var(&wf.steps[b].name)
        );
        shares[b] += (w.len() - before) as u64;
    }
    exit_tasks(w, wf, &inputs, &mapped, o, warnings, &mut shares)?;
    Ok((py, shares))
}

/// Where the launcher stores artifacts: `--artifact-store`, else the workflow's
/// `artifactRepository`; warns when artifacts pass with neither.
fn artifact_store(wf: &Workflow, o: &Options, warnings: &mut Vec<String>) -> Option<String> {
    let store = o.artifact_store.clone().or_else(|| {
        wf.artifact_repository.as_ref().and_then(|s| match s {
            Storage::Local(l) => Some(l.path.clone()),
            Storage::S3(s3) => Some(format!("s3://{}/{}", s3.bucket, s3.key)),
            _ => None,
        })
    });
    let uses_artifacts = wf
        .steps
        .iter()
        .chain(&wf.on_exit)
        .any(|s| !s.inputs.artifacts.is_empty() || !s.outputs.artifacts.is_empty());
    if uses_artifacts && store.is_none() {
        warnings.push(
            "the workflow passes artifacts but names no artifact store: tasks read COULER_ARTIFACT_STORE from the worker's environment (set --artifact-store or artifactRepository)".into(),
        );
    }
    store
}

/// The launcher command tasks run: `--launcher`, else the copy `--launcher-image` puts in a
/// pod, else `couler` on the PATH (warned about where a step image must then carry it).
fn launcher_path(o: &Options, warnings: &mut Vec<String>) -> String {
    let launcher = o.launcher.clone().unwrap_or_else(|| {
        if o.operator == Operator::Kubernetes && o.launcher_image.is_some() {
            "/couler-bin/couler".to_string()
        } else {
            "couler".to_string()
        }
    });
    if o.operator != Operator::Host && o.launcher_image.is_none() {
        warnings.push(
            "without --launcher-image the step images must contain the `couler` launcher on their PATH".into(),
        );
    }
    launcher
}

/// The file's header comment and imports: only the operators the DAG uses.
fn write_imports(w: &mut String, wf: &Workflow, o: &Options) {
    let _ = writeln!(
        w,
        "# Generated by `couler compile --target airflow`. Do not edit: change the workflow and compile again.\n\
         # Every task runs the Couler launcher (docs/launcher.md); how the workflow lowers is in docs/airflow.md.\n\
         import base64\n\
         import hashlib\n\
         import json\n\
         import os\n\
         import re\n\
         import tempfile\n\
         from datetime import datetime, timedelta\n\n\
         from airflow.sdk import DAG, Param, literal"
    );
    // Host tasks, and the item-listing tasks of `map.from` steps with any operator.
    let lists_items = wf
        .steps
        .iter()
        .any(|s| matches!(s.map.as_ref().map(|m| &m.over), Some(MapOver::From(_))));
    let triggers = wf
        .steps
        .iter()
        .chain(&wf.on_exit)
        .any(|s| matches!(s.kind, StepKind::Workflow(_)));
    let mut imports: Vec<&str> = Vec::new();
    if o.operator == Operator::Host || lists_items {
        imports.push("from airflow.providers.standard.operators.bash import BashOperator");
    }
    if !wf.on_exit.is_empty() {
        imports.push("from airflow.providers.standard.operators.empty import EmptyOperator");
    }
    if triggers {
        imports.push(
            "from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator",
        );
    }
    match o.operator {
        Operator::Host => {}
        Operator::Kubernetes => imports.push(
            "from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator\n\
             from airflow.providers.cncf.kubernetes.secret import Secret\n\
             from kubernetes.client import models as k8s",
        ),
        Operator::Docker => {
            imports.push("from airflow.providers.docker.operators.docker import DockerOperator")
        }
    }
    for line in imports {
        let _ = writeln!(w, "{line}");
    }
}

/// The DAG's id: `Options::dag_id`, else the workflow's name.
fn dag_id<'a>(wf: &'a Workflow, o: &'a Options) -> Result<&'a str, CompileError> {
    task_id(o.dag_id.as_deref().unwrap_or(&wf.name))
}

/// The arguments of `DAG(…)`: id, schedule, concurrency, tags, params.
fn dag_args(wf: &Workflow, dag_id: &str, warnings: &mut Vec<String>) -> Vec<String> {
    let mut dag_args: Vec<String> = vec![
        format!("dag_id={}", string(dag_id)),
        format!(
            "schedule={}",
            match &wf.schedule {
                Some(s) => string(&s.cron),
                None => "None".into(),
            }
        ),
        "start_date=datetime(2024, 1, 1)".into(),
        "catchup=False".into(),
    ];
    if wf.schedule.is_none() {
        // It runs only when triggered: unpaused, a trigger (a split's parent, a sub-workflow
        // step) can start it as soon as it is deployed.
        dag_args.push("is_paused_upon_creation=False".into());
    }
    if let Some(d) = &wf.description {
        dag_args.push(format!("description={}", string(d)));
    }
    if let Some(s) = &wf.schedule
        && s.timezone.is_some()
    {
        warnings.push("the schedule's timezone is not applied: the DAG's start_date is UTC".into());
    }
    if let Some(p) = wf.parallelism {
        dag_args.push(format!("max_active_tasks={p}"));
    }
    if let Some(d) = wf.timeout {
        dag_args.push(format!("dagrun_timeout={}", seconds(d)));
        if !wf.on_exit.is_empty() {
            warnings.push("the exit handler does not run after the workflow's timeout: Airflow's dagrun_timeout marks every unfinished task skipped".into());
        }
    }
    if !wf.labels.is_empty() {
        let tags: Vec<Value> = wf
            .labels
            .iter()
            .map(|(k, v)| Value::String(format!("{k}={v}")))
            .collect();
        dag_args.push(format!("tags={}", literal(&Value::Array(tags))));
    }
    if !wf.params.is_empty() {
        dag_args.push(params_arg(wf));
    }
    dag_args
}

/// `params={…}`: one `Param` (default, JSON-schema type, enum, description) per workflow param.
fn params_arg(wf: &Workflow) -> String {
    let mut ps = Vec::new();
    for p in &wf.params {
        let mut args = Vec::new();
        if let Some(d) = &p.default {
            args.push(literal(d));
        }
        args.push(format!("type={}", literal(&param_type(p.ty))));
        if !p.allowed.is_empty() {
            args.push(format!(
                "enum={}",
                literal(&Value::Array(p.allowed.clone()))
            ));
        }
        if let Some(d) = &p.description {
            args.push(format!("description={}", string(d)));
        }
        ps.push(format!("{}: Param({})", string(&p.name), args.join(", ")));
    }
    format!("params={{{}}}", ps.join(", "))
}

/// Mapped steps with their instance count: known for `items`/`range`, else (`from`) read at
/// run time from the item-listing task's XCom.
fn mapped_counts(wf: &Workflow) -> BTreeMap<&str, String> {
    wf.steps
        .iter()
        .filter_map(|s| {
            let count = match &s.map.as_ref()?.over {
                MapOver::Items(v) => v.len().to_string(),
                MapOver::Range { start, stop, step } => {
                    couler_ir::range_len(*start, *stop, *step).to_string()
                }
                MapOver::From(_) => "None".to_string(),
            };
            Some((s.name.as_str(), count))
        })
        .collect()
}

/// Exit steps: after every step whatever happened (`all_done`), and after the exit steps they
/// depend on; then the run-state task. Adds each main step's share of their upstream lists.
fn exit_tasks(
    w: &mut String,
    wf: &Workflow,
    inputs: &TaskInputs<'_>,
    mapped: &BTreeMap<&str, String>,
    o: &Options,
    warnings: &mut Vec<String>,
    shares: &mut [u64],
) -> Result<(), CompileError> {
    let exit_graph = couler_ir::Graph::of_exit_handler(wf);
    for (i, h) in wf.on_exit.iter().enumerate() {
        let exit_preds = exit_graph.predecessors(i);
        let upstream: Vec<&str> = wf
            .steps
            .iter()
            .map(|s| s.name.as_str())
            .chain(exit_preds.iter().map(|&p| wf.on_exit[p].name.as_str()))
            .collect();
        let v = task(w, wf, inputs, h, &upstream, mapped, o, true, warnings)?;
        let list: Vec<String> = upstream.iter().map(|s| task_var(s)).collect();
        if !list.is_empty() {
            let _ = writeln!(w, "    [{}] >> {v}", list.join(", "));
        }
        // Each main step's entry in the lists (and in the task's upstream environment).
        for (share, s) in shares.iter_mut().zip(&wf.steps) {
            *share += 2 * (task_var(&s.name).len() as u64 + 2) + 64;
        }
    }
    if !wf.on_exit.is_empty() {
        run_state_task(w, wf);
        for (share, s) in shares.iter_mut().zip(&wf.steps) {
            *share += task_var(&s.name).len() as u64 + 2;
        }
    }
    Ok(())
}

/// The id of the last task of a DAG with an exit handler; a `.` keeps it apart from every step
/// (DNS-1123 labels).
pub const RUN_STATE_TASK: &str = "couler.status";

/// A DAG run's state is its leaves' (Airflow's rule), and the exit steps, which run `all_done`
/// after everything, would be the leaves: a run whose step failed would end `success` when its
/// exit handler succeeded, and a parent DAG triggering it would carry on. So a last task, after
/// every step and exit step, with trigger rule `none_failed`: it ends `upstream_failed` (and
/// the run `failed`) exactly when a step or an exit step failed, which is when `couler run`'s
/// workflow status is not `Succeeded` (a `continueOnFailure` step's task succeeds; skipped
/// tasks do not count). Without an exit handler the steps are the leaves, and failed ones (or
/// their `upstream_failed` dependents) fail the run already.
fn run_state_task(w: &mut String, wf: &Workflow) {
    let _ = writeln!(
        w,
        "    t_couler_status = EmptyOperator(task_id={}, trigger_rule=\"none_failed\")",
        string(RUN_STATE_TASK)
    );
    let all: Vec<String> = wf
        .steps
        .iter()
        .chain(&wf.on_exit)
        .map(|s| task_var(&s.name))
        .collect();
    let _ = writeln!(w, "    [{}] >> t_couler_status", all.join(", "));
}

/// What every task's launcher input is built from.
struct TaskInputs<'a> {
    slices: &'a crate::LauncherSlices<'a>,
    /// The length of WORKFLOW (the workflow's own fields) as Python's `json.dumps` writes it.
    head_len: usize,
}

/// The length of compact JSON `json` as Python's `json.dumps` writes it: a space after each
/// `,` and `:`, non-ASCII as `\uXXXX` (counted at their worst: a 4-byte character as a
/// surrogate pair, 12 bytes).
fn python_dumps_len(json: &str) -> usize {
    let non_ascii = json.chars().filter(|c| !c.is_ascii()).count();
    json.len() + json.matches([',', ':']).count() + 8 * non_ascii
}

/// The IR as compact JSON (serde's field order: the spec's).
fn encode<T: serde::Serialize>(value: &T) -> Result<String, CompileError> {
    serde_json::to_string(value)
        .map_err(|e| CompileError::Invalid(format!("cannot encode the workflow: {e}")))
}

fn task_var(name: &str) -> String {
    format!("t_{}", name.replace('-', "_"))
}

/// One task (and, for a `map.from` step, the task listing its items); returns its variable.
#[allow(clippy::too_many_arguments)]
fn task(
    w: &mut String,
    wf: &Workflow,
    inputs: &TaskInputs<'_>,
    step: &Step,
    upstream: &[&str],
    mapped: &BTreeMap<&str, String>,
    o: &Options,
    exit_handler: bool,
    warnings: &mut Vec<String>,
) -> Result<String, CompileError> {
    let id = task_id(&step.name)?;
    let var = task_var(id);
    let ups = upstream_entries(upstream, mapped)?;
    let mut kw = common_kwargs(wf, step, id, exit_handler, warnings);
    if let StepKind::Workflow(sw) = &step.kind {
        trigger_task(w, &var, sw, &o.sub_workflow_name(&sw.reference), &mut kw)?;
        return Ok(var);
    }
    // The launcher's workflow: the file's WORKFLOW with this task's step and stubs.
    let slice = inputs.slices.of(&[&step.name]);
    let mut part = format!("{{\"steps\":{}", encode(&slice.steps)?);
    if !slice.on_exit.is_empty() {
        part += &format!(",\"onExit\":{}", encode(&slice.on_exit)?);
    }
    part.push('}');
    let by_file = task_by_file(inputs, &part, step, o)?;
    let env = format!(
        "_env({}, {}, [{}]{})",
        string(id),
        string(&part),
        ups.join(", "),
        if by_file { ", by_file=True" } else { "" }
    );
    // The item-listing task of a `map.from` step reads the same task.
    let hook = if by_file {
        let h = format!("pre_execute=_write_task({}, {})", string(id), string(&part));
        kw.push(h.clone());
        format!("\n        {h},")
    } else {
        String::new()
    };
    let op = operator_kwargs(wf, step, o, &env, &mut kw, warnings);
    let t = TaskText {
        var: &var,
        op,
        kwargs: kw.join(",\n        "),
        step,
        o,
    };
    match step.map.as_ref().map(|m| &m.over) {
        None => {
            let _ = writeln!(
                w,
                "    {var} = {op}(\n        {},\n        {}={},\n    )",
                t.kwargs,
                t.cmd_kw(),
                t.cmd(None)
            );
        }
        Some(MapOver::Items(items)) => t.write_expanded(w, items.len()),
        Some(MapOver::Range {
            start,
            stop,
            step: by,
        }) => t.write_expanded(w, couler_ir::range_len(*start, *stop, *by)),
        Some(MapOver::From(_)) => t.write_listed(w, id, &env, &hook, upstream, warnings),
    }
    Ok(var)
}

/// `(task id, COULER_UPSTREAM_<S>, (count,) or None)` for every predecessor: the launcher
/// reads its XCom (a list for a mapped step) from that variable.
fn upstream_entries(
    upstream: &[&str],
    mapped: &BTreeMap<&str, String>,
) -> Result<Vec<String>, CompileError> {
    let mut ups: Vec<String> = Vec::new();
    for u in upstream {
        let u = task_id(u)?;
        ups.push(format!(
            "({}, {}, {})",
            string(u),
            string(&upstream_env(u)),
            match mapped.get(u) {
                Some(count) => format!("({count},)"),
                None => "None".to_string(),
            }
        ));
    }
    Ok(ups)
}

/// The arguments every operator takes: task id, trigger rule, retries, timeout, failure
/// callback, mapped parallelism.
fn common_kwargs(
    wf: &Workflow,
    step: &Step,
    id: &str,
    exit_handler: bool,
    warnings: &mut Vec<String>,
) -> Vec<String> {
    let mut kw: Vec<String> = vec![format!("task_id={}", string(id))];
    kw.push(format!(
        "trigger_rule={}",
        string(if exit_handler {
            "all_done"
        } else {
            "none_failed"
        })
    ));
    retry_kwargs(wf, step, &mut kw, warnings);
    if let Some(t) = wf.effective_timeout(step) {
        // The launcher stops the step at its timeout; Airflow's limit is a backstop with room
        // for staging artifacts.
        kw.push(format!(
            "execution_timeout=timedelta(seconds={})",
            t.as_std().as_secs_f64() + 60.0
        ));
    }
    if !exit_handler {
        kw.push("on_failure_callback=_record_failure".into());
    }
    if let Some(m) = step.map.as_deref()
        && let Some(p) = m.parallelism
    {
        kw.push(format!("max_active_tis_per_dagrun={}", p.max(1)));
    }
    kw
}

/// `retries` and the backoff (Airflow doubles the delay: another factor is approximated).
fn retry_kwargs(wf: &Workflow, step: &Step, kw: &mut Vec<String>, warnings: &mut Vec<String>) {
    let Some(r) = wf.effective_retry(step) else {
        return;
    };
    kw.push(format!("retries={}", r.limit));
    let Some(b) = &r.backoff else {
        kw.push("retry_delay=timedelta(seconds=0)".into());
        return;
    };
    kw.push(format!("retry_delay={}", seconds(b.duration)));
    if b.factor > 1 {
        kw.push("retry_exponential_backoff=True".into());
        if b.factor != 2 {
            warnings.push(format!(
                "step `{}`: Airflow's exponential backoff doubles the delay; backoff factor {} is approximated by 2",
                step.name, b.factor
            ));
        }
    }
    if let Some(m) = b.max {
        kw.push(format!("max_retry_delay={}", seconds(m)));
    }
}

/// The operator `--operator` picks, with its own arguments (the environment `env`, image,
/// skip exit code); returns the operator's class name.
fn operator_kwargs(
    wf: &Workflow,
    step: &Step,
    o: &Options,
    env: &str,
    kw: &mut Vec<String>,
    warnings: &mut Vec<String>,
) -> &'static str {
    match o.operator {
        Operator::Host => {
            kw.push(format!("env={env}"));
            kw.push("append_env=True".into());
            kw.push(format!("skip_on_exit_code={EXIT_SKIPPED}"));
            "BashOperator"
        }
        Operator::Kubernetes => {
            kw.extend(kubernetes_kwargs(wf, step, env));
            kw.push(format!("skip_on_exit_code={EXIT_SKIPPED}"));
            "KubernetesPodOperator"
        }
        Operator::Docker => {
            kw.push(format!(
                "image={}",
                string(wf.effective_image(step).unwrap_or("alpine:3.19"))
            ));
            kw.push(format!("environment={env}"));
            kw.push(format!("skip_on_exit_code={EXIT_SKIPPED}"));
            kw.push("entrypoint=[\"/bin/sh\", \"-c\"]".into());
            if !step.secrets.is_empty() {
                warnings.push(format!(
                    "step `{}`: the docker operator passes secrets from the worker's environment only",
                    step.name
                ));
            }
            "DockerOperator"
        }
    }
}

/// A launcher task's operator call, ready to write: plain, expanded over item indices, or
/// expanded over what its item-listing task prints.
struct TaskText<'a> {
    var: &'a str,
    op: &'static str,
    kwargs: String,
    step: &'a Step,
    o: &'a Options,
}

impl TaskText<'_> {
    /// The argument the command goes in.
    fn cmd_kw(&self) -> &'static str {
        match self.o.operator {
            Operator::Host => "bash_command",
            Operator::Kubernetes => "arguments",
            Operator::Docker => "command",
        }
    }

    /// What one instance runs: generated text only (the launcher comes from the environment).
    fn cmd(&self, index: Option<&str>) -> String {
        let flags = if self.step.continue_on_failure {
            " --exit-zero"
        } else {
            ""
        };
        let command = format!("\"$COULER_LAUNCHER\" launch step{flags}");
        let c = match index {
            Some(i) => format!("{ITEM_INDEX_ENV}={i} {command}"),
            None => command,
        };
        match self.o.operator {
            Operator::Kubernetes => format!("[{}]", string(&c)),
            _ => string(&c),
        }
    }

    /// A step mapped over `n` known items: one command per item index.
    fn write_expanded(&self, w: &mut String, n: usize) {
        let list: Vec<String> = (0..n).map(|k| self.cmd(Some(&k.to_string()))).collect();
        let _ = writeln!(
            w,
            "    {} = {}.partial(\n        {},\n    ).expand({}=[{}])",
            self.var,
            self.op,
            self.kwargs,
            self.cmd_kw(),
            list.join(", ")
        );
    }

    /// A `map.from` step: a host task lists the item indices at run time (`launch items`) and
    /// the step expands over the commands it returns.
    fn write_listed(
        &self,
        w: &mut String,
        id: &str,
        env: &str,
        hook: &str,
        upstream: &[&str],
        warnings: &mut Vec<String>,
    ) {
        let (var, o) = (self.var, self.o);
        if o.operator != Operator::Host {
            warnings.push(format!(
                "step `{}`: its item-listing task runs on the worker (host), which needs the launcher",
                self.step.name
            ));
        }
        let items_id = format!("{id}.items");
        let _ = writeln!(
            w,
            "    {var}_items = BashOperator(\n        task_id={},\n        trigger_rule=\"none_failed\",\n        env={env},\n        append_env=True,\n        bash_command=\"\\\"$COULER_LAUNCHER\\\" launch items\",\n        output_processor=_item_commands({}),{hook}\n    )",
            string(&items_id),
            if o.operator == Operator::Kubernetes {
                "True"
            } else {
                "False"
            }
        );
        let _ = writeln!(
            w,
            "    {var} = {}.partial(\n        {},\n    ).expand({}={var}_items.output)",
            self.op,
            self.kwargs,
            self.cmd_kw()
        );
        for u in upstream {
            let _ = writeln!(w, "    {} >> {var}_items", task_var(u));
        }
        let _ = writeln!(w, "    {var}_items >> {var}");
    }
}

/// Whether a task's launcher input travels in a file rather than in `COULER_TASK` itself:
/// `COULER_TASK=b64:…` is one environment string, which Linux caps at 128 KiB
/// (`MAX_ARG_STRLEN`: `execve` fails with E2BIG), and the task's text is WORKFLOW merged with
/// `part`, and the `step` field. Over the limit, a host task's `pre_execute` hook writes the
/// task to a file on the worker and `COULER_TASK` names it (`@PATH`, docs/launcher.md); the
/// kubernetes and docker operators' containers do not see the worker's files, so there it is
/// a compile error naming the step and the limit.
fn task_by_file(
    inputs: &TaskInputs<'_>,
    part: &str,
    step: &Step,
    o: &Options,
) -> Result<bool, CompileError> {
    let text = inputs.head_len + python_dumps_len(part) + step.name.len() + 64;
    let encoded = 4 * text.div_ceil(3) + TASK_ENV.len() + 1 + TASK_BASE64_PREFIX.len();
    if encoded < ENV_STRING_LIMIT {
        return Ok(false);
    }
    if o.operator == Operator::Host {
        return Ok(true);
    }
    Err(CompileError::Invalid(format!(
        "step `{}`: its launcher input would be {encoded} bytes in one environment variable, over Linux's {ENV_STRING_LIMIT}-byte limit on one environment string, so its container could not start; the host operator passes such an input in a file on the worker, which a pod or container does not see: compile with `--operator host`, or make the step smaller (fewer inputs, or a long script or `map.items` list moved into a file or an upstream step's output)",
        step.name
    )))
}

/// A sub-workflow step: trigger a run of the referenced DAG (same run id, params as conf) and
/// wait until it ends; it fails when that run fails. Names are validated, so the generated
/// Jinja holds no user text.
fn trigger_task(
    w: &mut String,
    var: &str,
    sw: &couler_ir::SubWorkflow,
    dag_id: &str,
    kw: &mut Vec<String>,
) -> Result<(), CompileError> {
    task_id(dag_id)?;
    kw.push(format!("trigger_dag_id={}", string(dag_id)));
    kw.push("trigger_run_id=\"{{ run_id }}\"".into());
    if !sw.params.is_empty() {
        let mut entries = Vec::new();
        for (name, value) in &sw.params {
            // `check_details` refused any other.
            let p = conf_param(name, value).ok_or_else(|| {
                CompileError::Invalid(format!("sub-workflow param `{}`", name.escape_debug()))
            })?;
            entries.push(format!("'{name}': params['{p}']"));
        }
        kw.push(format!(
            "conf={}",
            string(&format!("{{{{ {{{}}} | tojson }}}}", entries.join(", ")))
        ));
    }
    kw.push("wait_for_completion=True".into());
    kw.push("poke_interval=TRIGGER_POKE_SECONDS".into());
    kw.push("allowed_states=[\"success\"]".into());
    kw.push("failed_states=[\"failed\"]".into());
    // A retried or cleared task runs the part again (the launcher's cache restores its
    // finished steps) instead of failing on the run that already exists.
    kw.push("reset_dag_run=True".into());
    kw.push("deferrable=False".into());
    let _ = writeln!(
        w,
        "    {var} = TriggerDagRunOperator(\n        {},\n    )",
        kw.join(",\n        ")
    );
    Ok(())
}

/// KubernetesPodOperator arguments: image, resources, env, secrets, node selector, tolerations.
fn kubernetes_kwargs(wf: &Workflow, step: &Step, env: &str) -> Vec<String> {
    let mut kw = Vec::new();
    kw.push(format!("name={}", string(&step.name)));
    kw.push(format!(
        "image={}",
        string(wf.effective_image(step).unwrap_or("alpine:3.19"))
    ));
    kw.push("cmds=[\"/bin/sh\", \"-c\"]".into());
    kw.push(format!("env_vars={env}"));
    kw.push("do_xcom_push=True".into());
    if let Some(r) = wf.effective_resources(step) {
        kw.push(container_resources(r));
    }
    if !step.node_selector.is_empty() {
        let m: serde_json::Map<String, Value> = step
            .node_selector
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        kw.push(format!("node_selector={}", literal(&Value::Object(m))));
    }
    if !step.tolerations.is_empty() {
        let ts: Vec<String> = step
            .tolerations
            .iter()
            .map(|t| {
                let v = serde_json::to_value(t).unwrap_or(Value::Null);
                format!("k8s.V1Toleration(**_snake({}))", literal(&v))
            })
            .collect();
        kw.push(format!("tolerations=[{}]", ts.join(", ")));
    }
    if !step.secrets.is_empty() {
        let ss: Vec<String> = step
            .secrets
            .iter()
            .map(|s| {
                format!(
                    "Secret(\"env\", {}, {}, {})",
                    string(&s.env),
                    string(&s.secret),
                    string(&s.key)
                )
            })
            .collect();
        kw.push(format!("secrets=[{}]", ss.join(", ")));
    }
    // The launcher binary: copied from --launcher-image into a shared volume by an init
    // container, so step images need not carry it.
    kw.push("init_containers=_launcher_init()".into());
    kw.push("volumes=_launcher_volumes()".into());
    kw.push("volume_mounts=_launcher_mounts()".into());
    if let Some(sa) = &wf.service_account {
        kw.push(format!("service_account_name={}", string(sa)));
    }
    if !wf.image_pull_secrets.is_empty() {
        let ss: Vec<String> = wf
            .image_pull_secrets
            .iter()
            .map(|s| format!("k8s.V1LocalObjectReference(name={})", string(s)))
            .collect();
        kw.push(format!("image_pull_secrets=[{}]", ss.join(", ")));
    }
    kw
}

/// `container_resources=…`: the step's requests and limits (`nvidia.com/gpu` for GPUs).
fn container_resources(r: &couler_ir::Resources) -> String {
    let list = |l: &couler_ir::ResourceList| {
        let mut m = serde_json::Map::new();
        if let Some(c) = &l.cpu {
            m.insert("cpu".into(), Value::String(c.to_string()));
        }
        if let Some(mem) = &l.memory {
            m.insert("memory".into(), Value::String(mem.to_string()));
        }
        if let Some(g) = l.gpu {
            m.insert("nvidia.com/gpu".into(), Value::String(g.to_string()));
        }
        Value::Object(m)
    };
    format!(
        "container_resources=k8s.V1ResourceRequirements(requests={}, limits={})",
        literal(&list(&r.requests)),
        literal(&list(&r.limits))
    )
}

/// Generated helpers every DAG file carries (no user data in here).
const HELPERS: &str = r#"
# Parsed once: every task's launcher input starts from it.
_WORKFLOW = json.loads(WORKFLOW)
# How often a sub-workflow's trigger task asks whether the triggered run has ended.
TRIGGER_POKE_SECONDS = 5


def _task_text(step, steps):
    """The launcher's task for `step` (docs/launcher.md): the workflow with `steps` (JSON: the
    step and stubs of the steps it reads)."""
    return json.dumps({"workflow": dict(_WORKFLOW, **json.loads(steps)), "step": step})


def _task(step, steps):
    """The task base64-encoded, so that no quote, `$`, `{{` or newline of the user's reaches a
    shell or a Jinja template."""
    return "b64:" + base64.b64encode(_task_text(step, steps).encode("utf-8")).decode("ascii")


def _task_file(step, steps):
    """A task too big for one environment string (Linux's 128 KiB) travels in a file on the
    worker, named by its content in a directory of this user's: its path and its text."""
    text = _task_text(step, steps)
    name = hashlib.sha256(text.encode("utf-8")).hexdigest() + ".json"
    folder = os.path.join(tempfile.gettempdir(), "couler-tasks-%d" % os.getuid())
    return os.path.join(folder, name), text


def _write_task(step, steps):
    """The `pre_execute` hook of a task whose input travels in a file: writes it (a temporary
    name, then a rename, so a concurrent reader sees it whole or not at all)."""
    def write(context):
        path, text = _task_file(step, steps)
        folder = os.path.dirname(path)
        os.makedirs(folder, mode=0o700, exist_ok=True)
        if os.stat(folder).st_uid != os.getuid():
            raise RuntimeError(folder + " belongs to another user; remove it")
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    return write


def _env(step, steps, upstream, by_file=False):
    """The task's environment. User data is wrapped in `literal` (Airflow does not render it);
    the Jinja here is generated: XCom pulls by validated task id, the run id, params as JSON."""
    task = "@" + _task_file(step, steps)[0] if by_file else _task(step, steps)
    env = {
        "COULER_TASK": literal(task),
        "COULER_LAUNCHER": literal(LAUNCHER),
        "COULER_RUN_ID": "{{ run_id }}",
        "COULER_PARAMS": "{{ params | tojson }}",
    }
    if ARTIFACT_STORE is not None:
        env["COULER_ARTIFACT_STORE"] = literal(ARTIFACT_STORE)
    for name, var, mapped in upstream:
        if mapped is None:
            env[var] = "{{ ti.xcom_pull(task_ids='" + name + "') }}"
            continue
        # A mapped step: every instance's XCom by index (None where one was skipped), so the
        # launcher sees them in item order. The count is static, or the item-listing task's.
        count = mapped[0]
        if count is None:
            count = "(ti.xcom_pull(task_ids='" + name + ".items') or []) | length"
        env[var] = (
            "{{ ti.xcom_pull(task_ids='" + name + "', map_indexes=range(" + str(count) + ")) | list | tojson }}"
        )
    return env


def _record_failure(context):
    """A failed task leaves no XCom; record its outcome so the exit handler (workflow.status)
    and readers see `Failed` (launcher exit code 1, or a timeout) or `Error` (any other)."""
    found = re.search(r"exit code (\d+)", str(context.get("exception") or ""))
    status = "Error" if found and found.group(1) != "1" else "Failed"
    outputs = {"parameters": {}, "result": None, "exit_code": None, "artifacts": {}}
    outcome = {"status": status, "outputs": outputs, "message": str(context.get("exception") or "")}
    context["ti"].xcom_push(key="return_value", value=json.dumps(outcome))


def _item_commands(kubernetes):
    """Turns `couler launch items` output (a JSON list of indices) into one command per item."""
    def commands(output):
        indices = json.loads(output.strip().splitlines()[-1])
        cmds = ["COULER_ITEM_INDEX=%d \"$COULER_LAUNCHER\" launch step" % int(i) for i in indices]
        return [[c] for c in cmds] if kubernetes else cmds
    return commands


def _snake(d):
    """IR (camelCase) keys as the Kubernetes client's snake_case arguments."""
    return {re.sub(r"(?<!^)(?=[A-Z])", "_", k).lower(): v for k, v in d.items()}


"#;

/// Helpers of the Kubernetes operator: the launcher copied in from `LAUNCHER_IMAGE`.
const KUBERNETES_HELPERS: &str = r#"
def _launcher_init():
    if LAUNCHER_IMAGE is None:
        return []
    return [k8s.V1Container(
        name="couler-launcher",
        image=LAUNCHER_IMAGE,
        command=["/bin/sh", "-c", "cp \"$(command -v couler)\" /couler-bin/couler"],
        volume_mounts=[k8s.V1VolumeMount(name="couler-bin", mount_path="/couler-bin")],
    )]


def _launcher_volumes():
    if LAUNCHER_IMAGE is None:
        return []
    return [k8s.V1Volume(name="couler-bin", empty_dir=k8s.V1EmptyDirVolumeSource())]


def _launcher_mounts():
    if LAUNCHER_IMAGE is None:
        return []
    return [k8s.V1VolumeMount(name="couler-bin", mount_path="/couler-bin")]


"#;
