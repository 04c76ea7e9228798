//! The Argo Workflows backend: IR → `Workflow` / `WorkflowTemplate` / `CronWorkflow` YAML.
//!
//! Shape of the output: one DAG template (the entrypoint, named after the workflow) with one task
//! per step; one template per distinct step definition (identical definitions share one); extra
//! templates for loops (`repeat`, a recursive steps template) and mapped steps (`S-map`, a DAG
//! template around the loop: `mapped`). How tasks wait for and are skipped by the steps before
//! them is `edges`. See `docs/argo.md` for every feature.

mod cond;
mod edges;
mod items;
pub mod limits;
pub mod lint;
mod manifest;
mod mapped;
mod memoize;
mod paths;
mod render;
pub mod split;
mod template_size;

pub use render::LITERAL_OPEN;

use crate::capability::{Feature, Support};
use crate::k8s::{param_text, resources, toleration};
use crate::{Backend, CompileError, Kind, Options, Output};
use couler_ir::{
    ArtifactSource, CleanPodPolicy, ConcurrencyPolicy, Duration, Expr, Framework, MapOver,
    Reference, ResourceAction, RetryOn, Step, StepKind, StepOutput, Storage, VolumeSource,
    Workflow,
};
use render::Exposure;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// Argo stores a workflow in one etcd object: about 1 MiB.
pub const STORED_LIMIT: usize = 1024 * 1024;
/// The Kubernetes API server refuses requests above about 3 MiB.
pub const REQUEST_LIMIT: usize = 3 * 1024 * 1024;

/// The Argo Workflows backend.
#[derive(Clone, Copy, Debug, Default)]
pub struct Argo;

impl Backend for Argo {
    fn name(&self) -> &'static str {
        "argo"
    }

    fn support(&self, feature: Feature) -> Support {
        use Feature::*;
        match feature {
            StorageLocal => Support::Unsupported,
            JobTensorflow | JobPytorch | JobMpi => {
                Support::Lowered("resource template creating a Kubeflow job")
            }
            SubWorkflow => Support::Lowered(
                "resource template creating a Workflow from the referenced WorkflowTemplate",
            ),
            MapRange => Support::Lowered("withSequence; a step other than ±1 becomes withItems"),
            MapParallelism => Support::Lowered("a DAG template with `parallelism` around the loop"),
            MappedOutputs => Support::Lowered(
                "a DAG template around the loop re-exporting the aggregated parameters",
            ),
            Repeat => Support::Lowered("recursive steps template with an iteration counter"),
            Groups => Support::Lowered("DAG dependencies on every member"),
            ContinueOnFailure => Support::Lowered("continueOn failed and error, plus `depends`"),
            ArtifactRepository => {
                Support::Lowered("the repository written into every output artifact")
            }
            Schedule => Support::Lowered("a CronWorkflow document"),
            _ => Support::Native,
        }
    }

    fn split_lowering(&self) -> Option<&dyn crate::SplitLowering> {
        Some(self)
    }

    fn lower(&self, wf: &Workflow, options: &Options) -> Result<Output, CompileError> {
        let doc = lower(wf, options)?;
        let text = to_yaml(&doc)?;
        let mut out = Output::default();
        out.warnings.extend(template_size::warnings(&doc));
        out.warnings.extend(memoize::warnings(wf));
        let size = text.len();
        if size > REQUEST_LIMIT {
            out.warnings.push(format!(
                "the Argo document is {size} bytes, above the API server's request limit (about 3 MiB): \
                 it cannot be submitted; `couler split` divides a workflow into parts"
            ));
        } else if size > STORED_LIMIT {
            out.warnings.push(format!(
                "the Argo document is {size} bytes, above what Argo stores in one object (about 1 MiB): \
                 Argo needs node-status offloading, or use `couler split` to divide the workflow"
            ));
        }
        out.files.insert(format!("{}.yaml", wf.name), text);
        Ok(out)
    }
}

/// Prints a document as YAML.
pub fn to_yaml(doc: &Value) -> Result<String, CompileError> {
    serde_norway::to_string(&ordered(doc))
        .map_err(|e| CompileError::Invalid(format!("cannot print the Argo document: {e}")))
}

/// Keys in the order Argo's own examples use; the rest follow alphabetically.
const KEY_ORDER: [&str; 16] = [
    "apiVersion",
    "kind",
    "metadata",
    "spec",
    "name",
    "generateName",
    "entrypoint",
    "schedules",
    "template",
    "inputs",
    "outputs",
    "arguments",
    "dependencies",
    "depends",
    "when",
    "templates",
];

/// The document as an insertion-ordered YAML value with keys in [`KEY_ORDER`].
fn ordered(v: &Value) -> serde_norway::Value {
    use serde_norway::Value as Y;
    match v {
        Value::Null => Y::Null,
        Value::Bool(b) => Y::Bool(*b),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Y::Number(i.into())
            } else if let Some(u) = n.as_u64() {
                Y::Number(u.into())
            } else {
                Y::Number(n.as_f64().unwrap_or_default().into())
            }
        }
        Value::String(s) => Y::String(s.clone()),
        Value::Array(a) => Y::Sequence(a.iter().map(ordered).collect()),
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            let rank = |k: &str| {
                KEY_ORDER
                    .iter()
                    .position(|x| *x == k)
                    .unwrap_or(KEY_ORDER.len())
            };
            keys.sort_by(|a, b| rank(a).cmp(&rank(b)).then_with(|| a.cmp(b)));
            let mut out = serde_norway::Mapping::new();
            for k in keys {
                out.insert(Y::String(k.clone()), ordered(&m[k]));
            }
            Y::Mapping(out)
        }
    }
}

fn unsupported(feature: Feature, step: &str, detail: impl Into<String>) -> CompileError {
    CompileError::Unsupported {
        feature,
        step: Some(step.to_string()),
        backend: "argo",
        supported_by: Vec::new(),
        detail: Some(detail.into()),
    }
}

/// Go duration text (`90s`, `250ms`): what Argo parses in backoff, memoize and suspend.
fn go_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

fn secs(d: Duration) -> u64 {
    d.as_secs_ceil()
}

/// Lowers a workflow to one Argo document (a JSON value).
pub fn lower(wf: &Workflow, options: &Options) -> Result<Value, CompileError> {
    limits::check(wf, options)?;
    let kind = options.kind.unwrap_or(if wf.schedule.is_some() {
        Kind::CronWorkflow
    } else {
        Kind::Workflow
    });
    let mut l = Lowerer::new(wf, options);
    let spec = l.workflow_spec()?;
    let mut meta = Map::new();
    let mut wf_meta = Map::new();
    if !wf.labels.is_empty() {
        wf_meta.insert("labels".into(), json!(wf.labels));
    }
    if !wf.annotations.is_empty() {
        wf_meta.insert("annotations".into(), json!(wf.annotations));
    }
    let doc = match kind {
        Kind::Workflow => {
            meta.insert("generateName".into(), json!(format!("{}-", wf.name)));
            meta.extend(wf_meta);
            json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": meta, "spec": spec})
        }
        Kind::WorkflowTemplate => {
            meta.insert("name".into(), json!(wf.name));
            meta.extend(wf_meta);
            json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "WorkflowTemplate", "metadata": meta, "spec": spec})
        }
        Kind::CronWorkflow => {
            let sched = wf.schedule.as_ref().ok_or_else(|| {
                CompileError::Invalid(format!(
                    "workflow `{}` has no `schedule`, which a CronWorkflow needs",
                    wf.name
                ))
            })?;
            meta.insert("name".into(), json!(wf.name));
            let mut cron = Map::new();
            cron.insert("schedules".into(), json!([sched.cron]));
            if let Some(tz) = &sched.timezone {
                cron.insert("timezone".into(), json!(tz));
            }
            cron.insert(
                "concurrencyPolicy".into(),
                json!(match sched.concurrency_policy {
                    ConcurrencyPolicy::Allow => "Allow",
                    ConcurrencyPolicy::Forbid => "Forbid",
                    ConcurrencyPolicy::Replace => "Replace",
                }),
            );
            if let Some(d) = sched.starting_deadline {
                cron.insert("startingDeadlineSeconds".into(), json!(secs(d)));
            }
            if !wf_meta.is_empty() {
                cron.insert("workflowMetadata".into(), Value::Object(wf_meta.clone()));
                meta.extend(wf_meta);
            }
            cron.insert("workflowSpec".into(), spec);
            json!({"apiVersion": "argoproj.io/v1alpha1", "kind": "CronWorkflow", "metadata": meta, "spec": cron})
        }
    };
    Ok(doc)
}

/// Inputs a template needs from its caller, beyond the step's own input parameters: values of
/// other steps' outputs and of `item`, each under a parameter name.
#[derive(Default)]
struct Forwards {
    list: Vec<(String, Reference)>,
    by_ref: HashMap<Reference, String>,
}

impl Forwards {
    fn name_for(&mut self, r: &Reference, taken: &BTreeSet<String>) -> String {
        if let Some(n) = self.by_ref.get(r) {
            return n.clone();
        }
        let base = match r {
            Reference::Step { step, output } => match output {
                StepOutput::Parameter(n) => format!("{step}-{n}"),
                StepOutput::Result => format!("{step}-result"),
                StepOutput::ExitCode => format!("{step}-exitCode"),
                StepOutput::Status => format!("{step}-status"),
                StepOutput::Artifact(n) => format!("{step}-{n}"),
            },
            Reference::Item(keys) if keys.is_empty() => "item".to_string(),
            Reference::Item(keys) => format!("item-{}", keys.join("-")),
            other => other.to_string().replace('.', "-"),
        };
        let mut name = base.clone();
        let mut i = 1;
        while taken.contains(&name) || self.list.iter().any(|(n, _)| *n == name) {
            i += 1;
            name = format!("{base}-{i}");
        }
        self.by_ref.insert(r.clone(), name.clone());
        self.list.push((name.clone(), r.clone()));
        name
    }
}

struct Lowerer<'a> {
    wf: &'a Workflow,
    options: &'a Options,
    templates: Vec<Value>,
    names: BTreeSet<String>,
    /// Template body (without its name) → name, for reuse.
    reuse: HashMap<String, String>,
    exposure: HashMap<&'a str, Exposure>,
    /// Step name → position in `wf.steps`.
    positions: HashMap<&'a str, usize>,
    /// Names of the step templates emitted so far.
    template_names: BTreeSet<String>,
    /// How tasks wait for and are skipped by the steps before them: main steps, exit steps.
    edges: edges::Edges<'a>,
    exit_edges: edges::Edges<'a>,
    /// Mapped steps whose `result` some step reads.
    result_read: HashSet<&'a str>,
}

/// One step's lowering: the template the DAG task calls and what the task passes it.
struct Lowered {
    template: String,
    /// Parameter arguments in the caller's scope: user inputs and forwards.
    params: Vec<Value>,
    artifacts: Vec<Value>,
    /// Forwarded `item` references: rendered only where the loop is.
    item_params: Vec<(String, Reference)>,
}

impl<'a> Lowerer<'a> {
    fn new(wf: &'a Workflow, options: &'a Options) -> Self {
        let exposure = wf
            .steps
            .iter()
            .map(|s| {
                let e = if s.repeat.is_some() || s.map.is_some() {
                    Exposure::Wrapped
                } else {
                    Exposure::Plain
                };
                (s.name.as_str(), e)
            })
            .collect();
        let mut names = BTreeSet::new();
        names.insert(wf.name.clone());
        Lowerer {
            wf,
            options,
            templates: Vec::new(),
            names,
            reuse: HashMap::new(),
            exposure,
            positions: wf
                .steps
                .iter()
                .enumerate()
                .map(|(i, s)| (s.name.as_str(), i))
                .collect(),
            template_names: BTreeSet::new(),
            edges: edges::Edges::main(wf),
            exit_edges: edges::Edges::exit(wf),
            result_read: result_read(wf),
        }
    }

    fn pos(&self, name: &str) -> Option<usize> {
        self.positions.get(name).copied()
    }

    fn step(&self, name: &str) -> Option<&'a Step> {
        self.pos(name).map(|i| &self.wf.steps[i])
    }

    fn fresh(&mut self, base: &str) -> String {
        let mut name = base.to_string();
        let mut i = 1;
        while self.names.contains(&name) {
            i += 1;
            name = format!("{base}-{i}");
        }
        self.names.insert(name.clone());
        name
    }

    fn workflow_spec(&mut self) -> Result<Value, CompileError> {
        let wf = self.wf;
        // Reserve step names so that templates named after steps stay recognisable.
        for s in wf.steps.iter().chain(&wf.on_exit) {
            self.names.insert(s.name.clone());
        }
        let mut tasks = Vec::new();
        for step in &wf.steps {
            tasks.push(self.task(step)?);
        }
        let entry = match self.step_groups() {
            Some(levels) => {
                // A sequence of parallel groups: Argo's steps template says it directly.
                let mut groups: Vec<Vec<Value>> =
                    vec![Vec::new(); levels.iter().max().map_or(0, |m| m + 1)];
                for (mut task, level) in tasks.into_iter().zip(levels) {
                    if let Some(m) = task.as_object_mut() {
                        m.remove("dependencies");
                    }
                    groups[level].push(task);
                }
                json!({"name": wf.name, "steps": groups})
            }
            None => json!({"name": wf.name, "dag": {"tasks": tasks}}),
        };
        let mut spec = Map::new();
        spec.insert("entrypoint".into(), json!(wf.name));
        if !wf.params.is_empty() {
            let params: Vec<Value> = wf
                .params
                .iter()
                .map(|p| {
                    let mut m = Map::new();
                    m.insert("name".into(), json!(p.name));
                    if let Some(d) = &p.default {
                        m.insert("value".into(), json!(param_text(d)));
                    }
                    if !p.allowed.is_empty() {
                        m.insert(
                            "enum".into(),
                            json!(p.allowed.iter().map(param_text).collect::<Vec<_>>()),
                        );
                    }
                    if let Some(d) = &p.description {
                        m.insert("description".into(), json!(d));
                    }
                    Value::Object(m)
                })
                .collect();
            spec.insert("arguments".into(), json!({"parameters": params}));
        }
        if !wf.on_exit.is_empty() {
            let name = self.exit_handler(wf)?;
            spec.insert("onExit".into(), json!(name));
        }
        if let Some(p) = wf.parallelism {
            spec.insert("parallelism".into(), json!(p));
        }
        if let Some(sa) = &wf.service_account {
            spec.insert("serviceAccountName".into(), json!(sa));
        }
        if !wf.image_pull_secrets.is_empty() {
            spec.insert(
                "imagePullSecrets".into(),
                json!(
                    wf.image_pull_secrets
                        .iter()
                        .map(|n| json!({"name": n}))
                        .collect::<Vec<_>>()
                ),
            );
        }
        if !wf.volumes.is_empty() {
            spec.insert(
                "volumes".into(),
                json!(wf.volumes.iter().map(volume).collect::<Vec<_>>()),
            );
        }
        if !wf.volume_claims.is_empty() {
            let claims: Vec<Value> = wf
                .volume_claims
                .iter()
                .map(|c| {
                    let mut s = Map::new();
                    s.insert("accessModes".into(), json!(c.access_modes));
                    if let Some(sc) = &c.storage_class {
                        s.insert("storageClassName".into(), json!(sc));
                    }
                    s.insert(
                        "resources".into(),
                        json!({"requests": {"storage": c.size.as_str()}}),
                    );
                    json!({"metadata": {"name": c.name}, "spec": s})
                })
                .collect();
            spec.insert("volumeClaimTemplates".into(), json!(claims));
        }
        if let Some(ttl) = &wf.ttl {
            let mut t = Map::new();
            if let Some(d) = ttl.after_completion {
                t.insert("secondsAfterCompletion".into(), json!(secs(d)));
            }
            if let Some(d) = ttl.after_success {
                t.insert("secondsAfterSuccess".into(), json!(secs(d)));
            }
            if let Some(d) = ttl.after_failure {
                t.insert("secondsAfterFailure".into(), json!(secs(d)));
            }
            spec.insert("ttlStrategy".into(), Value::Object(t));
        }
        if let Some(gc) = &wf.pod_gc {
            let mut g = Map::new();
            g.insert("strategy".into(), json!(gc.strategy.as_str()));
            if let Some(d) = gc.delete_delay {
                g.insert("deleteDelayDuration".into(), json!(go_duration(d)));
            }
            if !gc.match_labels.is_empty() {
                g.insert(
                    "labelSelector".into(),
                    json!({"matchLabels": gc.match_labels}),
                );
            }
            spec.insert("podGC".into(), Value::Object(g));
        }
        let mut templates = vec![entry];
        templates.append(&mut self.templates);
        spec.insert("templates".into(), json!(templates));
        Ok(Value::Object(spec))
    }

    /// The level of every step when the workflow is a sequence of parallel groups: no step reads
    /// another's outputs or status, none continues on failure, and every step of a level runs
    /// after exactly all steps of the level before. `None` otherwise (a DAG is emitted).
    fn step_groups(&self) -> Option<Vec<usize>> {
        let wf = self.wf;
        let reads_steps = wf.steps.iter().any(|s| {
            s.continue_on_failure
                || s.references()
                    .iter()
                    .any(|(_, r)| matches!(r, Reference::Step { step, .. } if *step != s.name))
        });
        if reads_steps {
            return None;
        }
        let graph = couler_ir::Graph::new(wf);
        let levels = graph.levels().ok()?;
        let mut by_level: Vec<Vec<usize>> = Vec::new();
        for (i, &l) in levels.iter().enumerate() {
            if by_level.len() <= l {
                by_level.resize(l + 1, Vec::new());
            }
            by_level[l].push(i);
        }
        for (i, &l) in levels.iter().enumerate() {
            let want: &[usize] = if l == 0 { &[] } else { &by_level[l - 1] };
            if graph.predecessors(i) != want {
                return None;
            }
        }
        Some(levels)
    }

    /// The template `onExit` names: the step's own template when the handler is one step
    /// without a condition, else a DAG with a task per exit step (their `when` and the
    /// dependencies among them).
    fn exit_handler(&mut self, wf: &'a Workflow) -> Result<String, CompileError> {
        let exits = &wf.on_exit;
        for exit in exits {
            for (_, r) in exit.references() {
                if let Reference::Step { step, .. } = r
                    && !self.exit_edges.contains(step)
                {
                    return Err(unsupported(
                        Feature::ExitHandler,
                        &exit.name,
                        format!(
                            "Argo runs the exit handler as a template of its own, where the main \
                             step `{step}`'s outputs are out of scope; read `workflow.status`, or \
                             other exit steps' outputs"
                        ),
                    ));
                }
            }
        }
        if let [exit] = exits.as_slice()
            && exit.when.is_none()
            && !exit.continue_on_failure
        {
            return Ok(self.step_template(exit)?.template);
        }
        let mut tasks = Vec::with_capacity(exits.len());
        for exit in exits {
            let low = self.step_template(exit)?;
            let mut task = Map::new();
            task.insert("name".into(), json!(exit.name));
            task.insert("template".into(), json!(low.template));
            insert_arguments(&mut task, low.params, low.artifacts);
            let guard = self.exit_edges.wait(exit, &mut task);
            let when = match &exit.when {
                Some(cond) => {
                    cond::check_names(wf, &exit.name, cond)?;
                    Some(cond::boolean(cond, &mut |r| {
                        self.dag_ref("tasks", exit, r)
                    })?)
                }
                None => None,
            };
            if let Some(when) = edges::conjoin(guard, when) {
                task.insert("when".into(), json!(when));
            }
            if exit.continue_on_failure {
                task.insert("continueOn".into(), continue_on());
            }
            tasks.push(Value::Object(task));
        }
        let name = match exits.as_slice() {
            [one] => self.fresh(&format!("{}-handler", one.name)),
            _ => self.fresh("exit-handler"),
        };
        self.templates
            .push(json!({"name": name, "dag": {"tasks": tasks}}));
        Ok(name)
    }

    /// The reference as seen from the scope that calls `step` (`prefix` is `tasks` or `steps`).
    fn dag_ref(&self, prefix: &str, step: &Step, r: &Reference) -> Result<String, CompileError> {
        Ok(match r {
            Reference::Param(n) => render::workflow_param(n),
            Reference::Workflow(f) => render::workflow_field(*f, &self.wf.name),
            Reference::Item(keys) => items::placeholder(step, keys),
            Reference::Step { step: s, output } => {
                let exposure = self
                    .exposure
                    .get(s.as_str())
                    .copied()
                    .unwrap_or(Exposure::Plain);
                // An output parameter without `path` is the step's standard output.
                let output = match output {
                    StepOutput::Parameter(n)
                        if self.step(s).is_some_and(|st| {
                            st.outputs
                                .parameters
                                .iter()
                                .any(|p| p.name == *n && p.path.is_none())
                        }) =>
                    {
                        &StepOutput::Result
                    }
                    o => o,
                };
                if let Some(target) = self.step(s) {
                    let no_stdout = matches!(
                        target.kind,
                        StepKind::Resource(_)
                            | StepKind::Job(_)
                            | StepKind::Workflow(_)
                            | StepKind::Suspend(_)
                    );
                    if no_stdout && matches!(output, StepOutput::Result | StepOutput::ExitCode) {
                        return Err(unsupported(
                            Feature::ParameterPassing,
                            &step.name,
                            format!(
                                "step `{s}` is a {} step, which has no standard output or exit code on Argo",
                                target.kind.key()
                            ),
                        ));
                    }
                }
                render::step_output(prefix, s, output, exposure)
            }
            Reference::InputParameter(n) => {
                let value = step
                    .inputs
                    .parameters
                    .iter()
                    .find(|p| p.name == *n)
                    .and_then(|p| p.value.as_ref());
                match value {
                    Some(t) => render::template(t, |r| self.dag_ref(prefix, step, r))?,
                    None => String::new(),
                }
            }
            Reference::InputArtifactPath(_) | Reference::OutputPath { .. } => {
                return Err(CompileError::Invalid(format!(
                    "step `{}`: a path reference cannot be used outside the step",
                    step.name
                )));
            }
        })
    }

    /// The DAG task of a step.
    fn task(&mut self, step: &'a Step) -> Result<Value, CompileError> {
        let low = self.step_template(step)?;
        let mut task = Map::new();
        task.insert("name".into(), json!(step.name));
        let mut params = low.params;
        let mut artifacts = low.artifacts;
        let template = if let Some(rep) = &step.repeat {
            let looped =
                self.repeat_template(step, &low.template, &mut params, &mut artifacts, rep)?;
            self.memoized_loop(step, &low.template, looped, &params, &artifacts)?
        } else if let Some(m) = &step.map {
            self.map_template(
                step,
                m,
                &low.template,
                &mut params,
                &artifacts,
                &low.item_params,
            )?
        } else {
            low.template
        };
        task.insert("template".into(), json!(template));
        insert_arguments(&mut task, params, artifacts);
        let guard = self.edges.wait(step, &mut task);
        // A mapped step's `when` that reads `item` filters its instances (`S-map`).
        let when = match step.when.as_ref().filter(|_| !step.when_reads_item()) {
            Some(cond) => {
                cond::check_names(self.wf, &step.name, cond)?;
                Some(cond::boolean(cond, &mut |r| {
                    self.dag_ref("tasks", step, r)
                })?)
            }
            None => None,
        };
        if let Some(when) = edges::conjoin(guard, when) {
            task.insert("when".into(), json!(when));
        }
        if step.continue_on_failure {
            task.insert("continueOn".into(), continue_on());
        }
        Ok(Value::Object(task))
    }

    fn loop_fields(
        &self,
        step: &Step,
        over: &MapOver,
        prefix: &str,
    ) -> Result<Map<String, Value>, CompileError> {
        let mut m = Map::new();
        match over {
            MapOver::Items(items) => {
                m.insert("withItems".into(), json!(items::with_items(step, items)));
            }
            MapOver::Range {
                start,
                stop,
                step: by,
            } => {
                let (start, stop, by) = (*start, *stop, *by);
                if by == 1 && stop > start {
                    m.insert(
                        "withSequence".into(),
                        json!({"start": start.to_string(), "end": (stop - 1).to_string()}),
                    );
                } else if by == -1 && stop < start {
                    m.insert(
                        "withSequence".into(),
                        json!({"start": start.to_string(), "end": (stop + 1).to_string()}),
                    );
                } else {
                    let mut items = Vec::new();
                    let mut i = start;
                    while (by > 0 && i < stop) || (by < 0 && i > stop) {
                        items.push(json!(i));
                        i += by;
                    }
                    m.insert("withItems".into(), json!(items));
                }
            }
            MapOver::From(r) => {
                items::check_run_time(step)?;
                m.insert("withParam".into(), json!(self.dag_ref(prefix, step, r)?));
            }
        }
        // Argo drops an empty `withItems` and runs the step once; an empty `withParam` list
        // expands to no instance.
        if m.get("withItems").is_some_and(|v| v == &json!([])) {
            m.remove("withItems");
            m.insert("withParam".into(), json!("[]"));
        }
        Ok(m)
    }

    /// A `when` that reads `item`, rendered inside a mapped step's `S-map`: the item as the loop has
    /// it, other steps' outputs passed in through the wrapper (`params`, `inputs`).
    fn inner_when(
        &self,
        step: &Step,
        cond: &Expr,
        params: &mut Vec<Value>,
        inputs: &mut Map<String, Value>,
    ) -> Result<String, CompileError> {
        let taken: BTreeSet<String> = (inputs.get("parameters").and_then(Value::as_array))
            .into_iter()
            .flatten()
            .filter_map(|p| p["name"].as_str().map(String::from))
            .collect();
        let mut fw = Forwards::default();
        cond::check_names(self.wf, &step.name, cond)?;
        let when = cond::condition(cond, &mut |r| match r {
            Reference::Step { .. } | Reference::InputParameter(_) => {
                Ok(render::input_param(&fw.name_for(r, &taken)))
            }
            other => self.dag_ref("tasks", step, other),
        })?;
        for (n, r) in &fw.list {
            params.push(json!({"name": n, "value": self.dag_ref("tasks", step, r)?}));
            push_input_param(inputs, n);
        }
        Ok(when)
    }

    /// `repeat`: a recursive steps template that runs the step, then itself again while the
    /// condition holds and fewer than `maxIterations` runs have happened.
    fn repeat_template(
        &mut self,
        step: &'a Step,
        inner: &str,
        params: &mut Vec<Value>,
        artifacts: &mut [Value],
        rep: &couler_ir::Repeat,
    ) -> Result<String, CompileError> {
        const ITER: &str = "couler_iteration";
        let name = self.fresh(&format!("{}-loop", step.name));
        let (mut inputs, inner_params, inner_artifacts) = forward_through(params, artifacts);
        // Other steps' outputs read by the condition are passed in too.
        let mut cond_forwards = Forwards::default();
        let taken: BTreeSet<String> = inner_params
            .iter()
            .filter_map(|p| p["name"].as_str().map(String::from))
            .chain([ITER.to_string()])
            .collect();
        cond::check_names(self.wf, &step.name, &rep.condition)?;
        let cond = cond::condition(&rep.condition, &mut |r| match r {
            Reference::Step { step: s, output } if *s == step.name => {
                // The run just made; an output parameter without `path` is its stdout.
                let output = match output {
                    StepOutput::Parameter(n)
                        if step
                            .outputs
                            .parameters
                            .iter()
                            .any(|p| p.name == *n && p.path.is_none()) =>
                    {
                        &StepOutput::Result
                    }
                    o => o,
                };
                Ok(render::step_output("steps", "run", output, Exposure::Plain))
            }
            Reference::Step { .. } | Reference::Item(_) | Reference::InputParameter(_) => {
                let n = cond_forwards.name_for(r, &taken);
                Ok(render::input_param(&n))
            }
            other => self.dag_ref("steps", step, other),
        })?;
        for (n, r) in &cond_forwards.list {
            let v = self.dag_ref("tasks", step, r)?;
            params.push(json!({"name": n, "value": v}));
            push_input_param(&mut inputs, n);
        }
        push_input_param(&mut inputs, ITER);
        params.push(json!({"name": ITER, "value": "1"}));
        let when = format!(
            "({cond}) && ({} < {})",
            render::input_param(ITER),
            rep.max_iterations
        );
        let mut again_params: Vec<Value> = inner_params
            .iter()
            .map(|p| json!({"name": p["name"], "value": render::input_param(p["name"].as_str().unwrap_or_default())}))
            .collect();
        for (n, _) in &cond_forwards.list {
            again_params.push(json!({"name": n, "value": render::input_param(n)}));
        }
        again_params.push(
            json!({"name": ITER, "value": format!("{{{{=asInt(inputs.parameters.{ITER}) + 1}}}}")}),
        );
        let mut run = Map::new();
        run.insert("name".into(), json!("run"));
        run.insert("template".into(), json!(inner));
        insert_arguments(&mut run, inner_params, inner_artifacts.clone());
        let mut again = Map::new();
        again.insert("name".into(), json!("again"));
        again.insert("template".into(), json!(name));
        insert_arguments(&mut again, again_params, inner_artifacts);
        again.insert("when".into(), json!(when));
        // Outputs of the last run.
        let pick = |what: &str| {
            format!(
                "steps['again'].status == 'Skipped' ? steps['run'].{what} : steps['again'].{what}"
            )
        };
        let mut out_params = Vec::new();
        if !matches!(
            step.kind,
            StepKind::Resource(_) | StepKind::Job(_) | StepKind::Workflow(_) | StepKind::Suspend(_)
        ) {
            out_params.push(json!({"name": "result", "valueFrom": {"expression": format!("steps['again'].status == 'Skipped' ? steps['run'].outputs.result : steps['again'].outputs.parameters.result")}}));
        }
        for p in step.outputs.parameters.iter().filter(|p| p.path.is_some()) {
            out_params.push(json!({"name": p.name, "valueFrom": {"expression": pick(&format!("outputs.parameters['{}']", p.name))}}));
        }
        let out_artifacts: Vec<Value> = step
            .outputs
            .artifacts
            .iter()
            .map(|a| json!({"name": a.name, "fromExpression": pick(&format!("outputs.artifacts['{}']", a.name))}))
            .collect();
        let mut outputs = Map::new();
        if !out_params.is_empty() {
            outputs.insert("parameters".into(), json!(out_params));
        }
        if !out_artifacts.is_empty() {
            outputs.insert("artifacts".into(), json!(out_artifacts));
        }
        let mut t = Map::new();
        t.insert("name".into(), json!(name));
        t.insert("inputs".into(), Value::Object(inputs));
        if !outputs.is_empty() {
            t.insert("outputs".into(), Value::Object(outputs));
        }
        t.insert("steps".into(), json!([[run], [again]]));
        self.templates.push(Value::Object(t));
        Ok(name)
    }

    /// The template running one step (shared with identical steps), and its arguments.
    fn step_template(&mut self, step: &'a Step) -> Result<Lowered, CompileError> {
        let wf = self.wf;
        let mut taken: BTreeSet<String> = step
            .inputs
            .parameters
            .iter()
            .map(|p| p.name.clone())
            .collect();
        taken.extend(step.inputs.artifacts.iter().map(|a| a.name.clone()));
        let mut fw = Forwards::default();
        let mut body_ref = |r: &Reference| -> Result<String, CompileError> {
            Ok(match r {
                Reference::Param(n) => render::workflow_param(n),
                Reference::Workflow(f) => render::workflow_field(*f, &self.wf.name),
                Reference::InputParameter(n) => render::input_param(n),
                Reference::InputArtifactPath(n) => format!("{{{{inputs.artifacts.{n}.path}}}}"),
                Reference::OutputPath { artifact, name } => {
                    let k = if *artifact { "artifacts" } else { "parameters" };
                    format!("{{{{outputs.{k}.{name}.path}}}}")
                }
                Reference::Step { .. } | Reference::Item(_) => {
                    render::input_param(&fw.name_for(r, &taken))
                }
            })
        };
        let mut t = Map::new();
        let env = {
            let mut env: Vec<Value> = Vec::new();
            for (k, v) in &step.env {
                env.push(json!({"name": k, "value": render::template(v, &mut body_ref)?}));
            }
            for s in &step.secrets {
                env.push(json!({"name": s.env, "valueFrom": {"secretKeyRef": {"name": s.secret, "key": s.key}}}));
            }
            env
        };
        let resources = wf.effective_resources(step).map(resources);
        let mounts: Vec<Value> = step
            .volume_mounts
            .iter()
            .map(|m| {
                let mut v = Map::new();
                v.insert("name".into(), json!(m.name));
                v.insert("mountPath".into(), json!(m.mount_path));
                if m.read_only {
                    v.insert("readOnly".into(), json!(true));
                }
                if let Some(s) = &m.sub_path {
                    v.insert("subPath".into(), json!(s));
                }
                Value::Object(v)
            })
            .collect();
        let image = || {
            wf.effective_image(step).map(str::to_string).ok_or_else(|| {
                CompileError::Invalid(format!(
                    "step `{}` has no image; Argo runs every step in a container: set its `image` or `defaults.image`",
                    step.name
                ))
            })
        };
        let add_pod_fields = |c: &mut Map<String, Value>| {
            if !env.is_empty() {
                c.insert("env".into(), json!(env));
            }
            if let Some(r) = &resources {
                c.insert("resources".into(), r.clone());
            }
            if !mounts.is_empty() {
                c.insert("volumeMounts".into(), json!(mounts));
            }
        };
        match &step.kind {
            StepKind::Container(c) => {
                let mut m = Map::new();
                m.insert("image".into(), json!(image()?));
                if !c.command.is_empty() {
                    let cmd = c
                        .command
                        .iter()
                        .map(|x| render::template(x, &mut body_ref))
                        .collect::<Result<Vec<_>, _>>()?;
                    m.insert("command".into(), json!(cmd));
                }
                if !c.args.is_empty() {
                    let args = c
                        .args
                        .iter()
                        .map(|x| render::template(x, &mut body_ref))
                        .collect::<Result<Vec<_>, _>>()?;
                    m.insert("args".into(), json!(args));
                }
                if let Some(w) = paths::working_dir(step) {
                    m.insert("workingDir".into(), json!(w));
                }
                add_pod_fields(&mut m);
                t.insert("container".into(), Value::Object(m));
            }
            StepKind::Script(s) => {
                let mut m = Map::new();
                m.insert("image".into(), json!(image()?));
                m.insert("command".into(), json!(s.command));
                m.insert(
                    "source".into(),
                    json!(render::template(&s.source, &mut body_ref)?),
                );
                if let Some(w) = paths::working_dir(step) {
                    m.insert("workingDir".into(), json!(w));
                }
                add_pod_fields(&mut m);
                t.insert("script".into(), Value::Object(m));
            }
            StepKind::Resource(r) => {
                let mut m = Map::new();
                m.insert("action".into(), json!(action(r.action)));
                m.insert(
                    "manifest".into(),
                    json!(render::template(&r.manifest, &mut body_ref)?),
                );
                if let Some(c) = &r.success_condition {
                    m.insert("successCondition".into(), json!(c));
                }
                if let Some(c) = &r.failure_condition {
                    m.insert("failureCondition".into(), json!(c));
                }
                t.insert("resource".into(), Value::Object(m));
            }
            StepKind::Job(j) => {
                let command = j
                    .command
                    .iter()
                    .map(|x| render::template(x, &mut body_ref))
                    .collect::<Result<Vec<_>, _>>()?;
                let args = j
                    .args
                    .iter()
                    .map(|x| render::template(x, &mut body_ref))
                    .collect::<Result<Vec<_>, _>>()?;
                let manifest = job_manifest(
                    wf,
                    step,
                    j,
                    command,
                    args,
                    &env,
                    resources.as_ref(),
                    &mounts,
                )?;
                t.insert(
                    "resource".into(),
                    json!({
                        "action": "create",
                        "setOwnerReference": true,
                        "manifest": manifest,
                        "successCondition": job_condition(j, true),
                        "failureCondition": job_condition(j, false),
                    }),
                );
            }
            StepKind::Workflow(sw) => {
                let template_name = self.options.sub_workflow_name(&sw.reference);
                let manifest = manifest::child_manifest(&template_name, &sw.params, &mut body_ref)?;
                t.insert(
                    "resource".into(),
                    json!({
                        "action": "create",
                        "setOwnerReference": true,
                        "manifest": manifest,
                        "successCondition": "status.phase == Succeeded",
                        "failureCondition": "status.phase in (Failed, Error)",
                    }),
                );
            }
            StepKind::Suspend(s) => {
                let mut m = Map::new();
                if let Some(d) = s.duration {
                    m.insert("duration".into(), json!(secs(d).to_string()));
                }
                t.insert("suspend".into(), Value::Object(m));
            }
        }
        let memo = memoize::plan(wf, step, |n| self.step(n))?;
        if memo.is_some() {
            for r in memoize::identity_reads(step) {
                fw.name_for(&r, &taken);
            }
        }
        // Inputs: the step's own, then forwarded values.
        let mut in_params: Vec<Value> = step
            .inputs
            .parameters
            .iter()
            .map(|p| json!({"name": p.name}))
            .collect();
        let mut args: Vec<Value> = Vec::new();
        for p in &step.inputs.parameters {
            let v = match &p.value {
                Some(v) => render::template(v, |r| self.dag_ref("tasks", step, r))?,
                None => String::new(),
            };
            args.push(json!({"name": p.name, "value": v}));
        }
        let mut item_params = Vec::new();
        for (n, r) in &fw.list {
            in_params.push(json!({"name": n}));
            if matches!(r, Reference::Item(_)) {
                item_params.push((n.clone(), r.clone()));
            } else {
                args.push(json!({"name": n, "value": self.dag_ref("tasks", step, r)?}));
            }
        }
        let mut in_artifacts = Vec::new();
        let mut art_args = Vec::new();
        for a in &step.inputs.artifacts {
            let mut m = Map::new();
            m.insert("name".into(), json!(a.name));
            m.insert("path".into(), json!(paths::abs_path(&a.path)));
            if a.optional {
                m.insert("optional".into(), json!(true));
            }
            match &a.source {
                Some(ArtifactSource::Storage(s)) => {
                    let (k, v) = storage(s, None, &step.name)?;
                    m.insert(k.into(), v);
                }
                Some(ArtifactSource::From(r)) => {
                    let mut arg = Map::new();
                    arg.insert("name".into(), json!(a.name));
                    arg.insert("from".into(), json!(self.dag_ref("tasks", step, r)?));
                    // Argo resolves a `from` before the task's `when` only when it is not
                    // optional; a guarded producer's reader is skipped by its `when` instead.
                    let guarded = r
                        .step_name()
                        .is_some_and(|p| self.edges.is_guarded(p) || self.exit_edges.is_guarded(p));
                    if a.optional || guarded {
                        arg.insert("optional".into(), json!(true));
                    }
                    art_args.push(Value::Object(arg));
                }
                None => {}
            }
            in_artifacts.push(Value::Object(m));
        }
        let mut inputs = Map::new();
        if !in_params.is_empty() {
            inputs.insert("parameters".into(), json!(in_params));
        }
        if !in_artifacts.is_empty() {
            inputs.insert("artifacts".into(), json!(in_artifacts));
        }
        let mut outputs = Map::new();
        let out_params: Vec<Value> = step
            .outputs
            .parameters
            .iter()
            .filter_map(|p| {
                let path = p.path.as_ref()?;
                let mut vf = Map::new();
                vf.insert("path".into(), json!(paths::abs_path(path)));
                if let Some(d) = &p.default {
                    vf.insert("default".into(), json!(d));
                }
                Some(json!({"name": p.name, "valueFrom": vf}))
            })
            .chain(memoize::pod_identity(step))
            .collect();
        let mut out_artifacts = Vec::new();
        for a in &step.outputs.artifacts {
            let mut m = Map::new();
            m.insert("name".into(), json!(a.name));
            m.insert("path".into(), json!(paths::abs_path(&a.path)));
            if a.optional {
                m.insert("optional".into(), json!(true));
            }
            let location = a.storage.as_ref().map(|s| (s, None)).or_else(|| {
                wf.artifact_repository.as_ref().map(|s| {
                    (
                        s,
                        Some(format!("{{{{workflow.name}}}}/{{{{pod.name}}}}/{}", a.name)),
                    )
                })
            });
            if let Some((s, key)) = location {
                let (k, v) = storage(s, key.as_deref(), &step.name)?;
                m.insert(k.into(), v);
            }
            out_artifacts.push(Value::Object(m));
        }
        if !out_params.is_empty() {
            outputs.insert("parameters".into(), json!(out_params));
        }
        if !out_artifacts.is_empty() {
            outputs.insert("artifacts".into(), json!(out_artifacts));
        }
        // Assemble in Argo's usual field order.
        let mut body = Map::new();
        if !inputs.is_empty() {
            body.insert("inputs".into(), Value::Object(inputs));
        }
        if !outputs.is_empty() {
            body.insert("outputs".into(), Value::Object(outputs));
        }
        body.extend(t);
        if !step.node_selector.is_empty() {
            body.insert("nodeSelector".into(), json!(step.node_selector));
        }
        if !step.tolerations.is_empty() {
            body.insert(
                "tolerations".into(),
                json!(step.tolerations.iter().map(toleration).collect::<Vec<_>>()),
            );
        }
        if let Some(d) = wf.effective_timeout(step)
            && !matches!(step.kind, StepKind::Suspend(_))
        {
            body.insert("activeDeadlineSeconds".into(), json!(secs(d).to_string()));
        }
        if let Some(r) = wf.effective_retry(step) {
            let mut rs = Map::new();
            rs.insert("limit".into(), json!(r.limit.to_string()));
            rs.insert(
                "retryPolicy".into(),
                json!(match r.on {
                    RetryOn::Failure => "OnFailure",
                    RetryOn::Error => "OnError",
                    RetryOn::Transient => "OnTransientError",
                    RetryOn::Always => "Always",
                }),
            );
            if let Some(b) = &r.backoff {
                let mut bo = Map::new();
                bo.insert("duration".into(), json!(go_duration(b.duration)));
                bo.insert("factor".into(), json!(b.factor.to_string()));
                // A cap on each wait, as locally (Argo >= 3.7). Never `maxDuration`: that is a
                // budget from the first attempt's start, and the retried pods' deadline.
                if let Some(m) = b.max {
                    bo.insert("cap".into(), json!(go_duration(m)));
                }
                rs.insert("backoff".into(), Value::Object(bo));
            }
            body.insert("retryStrategy".into(), Value::Object(rs));
        }
        // A `repeat` step is memoized as a whole loop (`memoized_loop`), never per iteration.
        if let Some(m) = memo.filter(|_| step.repeat.is_none()) {
            let memoize = memoize::field(wf, step, m, &body, &[]);
            body.insert("memoize".into(), memoize);
        }
        let reuse_key = serde_json::to_string(&body).unwrap_or_default();
        let name = match self
            .reuse
            .get(&reuse_key)
            .filter(|_| !self.options.no_template_reuse)
        {
            Some(n) => n.clone(),
            None => {
                let n = if self.template_names.contains(step.name.as_str()) || step.name == wf.name
                {
                    self.fresh(&step.name)
                } else {
                    step.name.clone()
                };
                let mut t = Map::new();
                t.insert("name".into(), json!(n));
                t.extend(body);
                self.templates.push(Value::Object(t));
                self.template_names.insert(n.clone());
                self.reuse.insert(reuse_key, n.clone());
                n
            }
        };
        Ok(Lowered {
            template: name,
            params: args,
            artifacts: art_args,
            item_params,
        })
    }
}

/// Splits a caller's arguments into a wrapper's inputs and the wrapper's forwarding arguments.
fn forward_through(
    params: &[Value],
    artifacts: &[Value],
) -> (Map<String, Value>, Vec<Value>, Vec<Value>) {
    let mut inputs = Map::new();
    let names: Vec<&str> = params.iter().filter_map(|p| p["name"].as_str()).collect();
    if !names.is_empty() {
        inputs.insert(
            "parameters".into(),
            json!(names.iter().map(|n| json!({"name": n})).collect::<Vec<_>>()),
        );
    }
    // An optional argument stays optional through the wrapper.
    let arts: Vec<(&str, bool)> = artifacts
        .iter()
        .filter_map(|a| Some((a["name"].as_str()?, a["optional"] == json!(true))))
        .collect();
    let with_optional = |mut v: Value, optional: bool| {
        if optional {
            v["optional"] = json!(true);
        }
        v
    };
    if !arts.is_empty() {
        inputs.insert(
            "artifacts".into(),
            json!(
                arts.iter()
                    .map(|(n, o)| with_optional(json!({"name": n}), *o))
                    .collect::<Vec<_>>()
            ),
        );
    }
    let inner_params = names
        .iter()
        .map(|n| json!({"name": n, "value": render::input_param(n)}))
        .collect();
    let inner_artifacts = arts
        .iter()
        .map(|(n, o)| {
            with_optional(
                json!({"name": n, "from": format!("{{{{inputs.artifacts.{n}}}}}")}),
                *o,
            )
        })
        .collect();
    (inputs, inner_params, inner_artifacts)
}

/// `continueOn` of a `continueOnFailure` step: a failure and an error alike (pod deleted, an
/// output that cannot be saved), as `couler run` goes on after both.
fn continue_on() -> Value {
    json!({"failed": true, "error": true})
}

/// Mapped steps whose `result` (or an output parameter read from standard output) a main step
/// reads.
fn result_read(wf: &Workflow) -> HashSet<&str> {
    let mapped: HashMap<&str, &Step> = wf
        .steps
        .iter()
        .filter(|s| s.map.is_some())
        .map(|s| (s.name.as_str(), s))
        .collect();
    let mut out = HashSet::new();
    for s in &wf.steps {
        for (_, r) in s.references() {
            let Reference::Step { step, output } = r else {
                continue;
            };
            let Some((&name, p)) = mapped.get_key_value(step.as_str()) else {
                continue;
            };
            let stdout = match output {
                StepOutput::Result => true,
                StepOutput::Parameter(n) => p
                    .outputs
                    .parameters
                    .iter()
                    .any(|o| o.name == *n && o.path.is_none()),
                _ => false,
            };
            if stdout {
                out.insert(name);
            }
        }
    }
    out
}

fn push_input_param(inputs: &mut Map<String, Value>, name: &str) {
    let list = inputs.entry("parameters").or_insert_with(|| json!([]));
    if let Some(a) = list.as_array_mut() {
        a.push(json!({"name": name}));
    }
}

fn insert_arguments(task: &mut Map<String, Value>, params: Vec<Value>, artifacts: Vec<Value>) {
    insert_lists(task, "arguments", params, artifacts);
}

/// `key: {parameters, artifacts}`, each list only when not empty, `key` only when one is.
fn insert_lists(m: &mut Map<String, Value>, key: &str, params: Vec<Value>, artifacts: Vec<Value>) {
    let mut a = Map::new();
    if !params.is_empty() {
        a.insert("parameters".into(), json!(params));
    }
    if !artifacts.is_empty() {
        a.insert("artifacts".into(), json!(artifacts));
    }
    if !a.is_empty() {
        m.insert(key.into(), Value::Object(a));
    }
}

fn action(a: ResourceAction) -> &'static str {
    match a {
        ResourceAction::Create => "create",
        ResourceAction::Apply => "apply",
        ResourceAction::Delete => "delete",
        ResourceAction::Patch => "patch",
        ResourceAction::Replace => "replace",
    }
}

fn volume(v: &couler_ir::Volume) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), json!(v.name));
    let (k, src) = match &v.source {
        VolumeSource::Claim { name } => ("persistentVolumeClaim", json!({"claimName": name})),
        VolumeSource::ConfigMap { name } => ("configMap", json!({"name": name})),
        VolumeSource::Secret { name } => ("secret", json!({"secretName": name})),
        VolumeSource::EmptyDir {} => ("emptyDir", json!({})),
        VolumeSource::HostPath { path } => ("hostPath", json!({"path": path})),
    };
    m.insert(k.into(), src);
    Value::Object(m)
}

fn secret_ref(s: &couler_ir::SecretKeyRef) -> Value {
    json!({"name": s.name, "key": s.key})
}

/// An artifact location. `key` replaces the storage's own key (the artifact repository case).
fn storage(
    s: &Storage,
    key: Option<&str>,
    step: &str,
) -> Result<(&'static str, Value), CompileError> {
    // The storage's own key, or `key` under it as a prefix.
    let keyed = |base: &str| {
        json!(match key {
            None => base.to_string(),
            Some(k) if base.is_empty() => k.to_string(),
            Some(k) => format!("{}/{k}", base.trim_end_matches('/')),
        })
    };
    Ok(match s {
        Storage::Local(_) => {
            return Err(unsupported(
                Feature::StorageLocal,
                step,
                "Argo pods cannot reach the compiling machine's disk; use s3, gcs, oss or hdfs",
            ));
        }
        Storage::S3(x) => {
            let mut m = Map::new();
            m.insert("bucket".into(), json!(x.bucket));
            m.insert("key".into(), keyed(&x.key));
            if let Some(e) = &x.endpoint {
                m.insert("endpoint".into(), json!(e));
            }
            if let Some(r) = &x.region {
                m.insert("region".into(), json!(r));
            }
            if x.insecure {
                m.insert("insecure".into(), json!(true));
            }
            if let Some(a) = &x.access_key {
                m.insert("accessKeySecret".into(), secret_ref(a));
            }
            if let Some(a) = &x.secret_key {
                m.insert("secretKeySecret".into(), secret_ref(a));
            }
            ("s3", Value::Object(m))
        }
        Storage::Gcs(x) => {
            let mut m = Map::new();
            m.insert("bucket".into(), json!(x.bucket));
            m.insert("key".into(), keyed(&x.key));
            if let Some(a) = &x.service_account_key {
                m.insert("serviceAccountKeySecret".into(), secret_ref(a));
            }
            ("gcs", Value::Object(m))
        }
        Storage::Oss(x) => {
            let mut m = Map::new();
            m.insert("endpoint".into(), json!(x.endpoint));
            m.insert("bucket".into(), json!(x.bucket));
            m.insert("key".into(), keyed(&x.key));
            if let Some(a) = &x.access_key {
                m.insert("accessKeySecret".into(), secret_ref(a));
            }
            if let Some(a) = &x.secret_key {
                m.insert("secretKeySecret".into(), secret_ref(a));
            }
            ("oss", Value::Object(m))
        }
        Storage::Hdfs(x) => {
            let mut m = Map::new();
            m.insert("addresses".into(), json!(x.addresses));
            m.insert("path".into(), keyed(&x.path));
            if let Some(u) = &x.user {
                m.insert("hdfsUser".into(), json!(u));
            }
            ("hdfs", Value::Object(m))
        }
        Storage::Git(x) => {
            let mut m = Map::new();
            m.insert("repo".into(), json!(x.repo));
            if let Some(r) = &x.revision {
                m.insert("revision".into(), json!(r));
            }
            if let Some(d) = x.depth {
                m.insert("depth".into(), json!(d));
            }
            ("git", Value::Object(m))
        }
        Storage::Http(x) => ("http", json!({"url": x.url})),
    })
}

fn job_kind(f: Framework) -> (&'static str, &'static str, &'static str) {
    match f {
        Framework::Tensorflow => ("TFJob", "tfReplicaSpecs", "tensorflow"),
        Framework::Pytorch => ("PyTorchJob", "pytorchReplicaSpecs", "pytorch"),
        Framework::Mpi => ("MPIJob", "mpiReplicaSpecs", "mpi"),
    }
}

fn role_name(role: &str) -> String {
    if role == "ps" {
        return "PS".into();
    }
    let mut c = role.chars();
    match c.next() {
        Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
        None => String::new(),
    }
}

/// The replica whose success ends the job: chief/master/launcher if there is one, else workers.
fn job_lead(j: &couler_ir::DistributedJob) -> (String, u32) {
    for lead in ["chief", "master", "launcher"] {
        if let Some(n) = j.replicas.get(lead) {
            return (role_name(lead), *n);
        }
    }
    let (r, n) = j
        .replicas
        .iter()
        .next()
        .map_or(("worker", 1), |(r, n)| (r.as_str(), *n));
    (role_name(r), n)
}

fn job_condition(j: &couler_ir::DistributedJob, success: bool) -> String {
    let (role, n) = job_lead(j);
    if success {
        format!("status.replicaStatuses.{role}.succeeded == {n}")
    } else {
        format!("status.replicaStatuses.{role}.failed > 0")
    }
}

#[allow(clippy::too_many_arguments)]
fn job_manifest(
    wf: &Workflow,
    step: &Step,
    j: &couler_ir::DistributedJob,
    command: Vec<String>,
    args: Vec<String>,
    env: &[Value],
    resources: Option<&Value>,
    mounts: &[Value],
) -> Result<String, CompileError> {
    let (kind, specs_key, container_name) = job_kind(j.framework);
    let mut container = Map::new();
    container.insert("name".into(), json!(container_name));
    container.insert("image".into(), json!(j.image));
    if !command.is_empty() {
        container.insert("command".into(), json!(command));
    }
    if !args.is_empty() {
        container.insert("args".into(), json!(args));
    }
    if !env.is_empty() {
        container.insert("env".into(), json!(env));
    }
    if let Some(r) = resources {
        container.insert("resources".into(), r.clone());
    }
    if !mounts.is_empty() {
        container.insert("volumeMounts".into(), json!(mounts));
    }
    let mut pod = Map::new();
    pod.insert("containers".into(), json!([container]));
    if !step.node_selector.is_empty() {
        pod.insert("nodeSelector".into(), json!(step.node_selector));
    }
    if !step.tolerations.is_empty() {
        pod.insert(
            "tolerations".into(),
            json!(step.tolerations.iter().map(toleration).collect::<Vec<_>>()),
        );
    }
    // The job's pods are not the workflow's: mounted volumes are declared again, claims created
    // per run by their Argo name.
    let vols: Vec<Value> = step
        .volume_mounts
        .iter()
        .filter_map(|m| {
            if let Some(v) = wf.volumes.iter().find(|v| v.name == m.name) {
                Some(volume(v))
            } else {
                wf.volume_claims.iter().find(|c| c.name == m.name).map(|c| {
                    json!({"name": c.name, "persistentVolumeClaim": {"claimName": format!("{{{{workflow.name}}}}-{}", c.name)}})
                })
            }
        })
        .map(|v| (v["name"].as_str().unwrap_or_default().to_string(), v))
        .collect::<BTreeMap<String, Value>>()
        .into_values()
        .collect();
    if !vols.is_empty() {
        pod.insert("volumes".into(), json!(vols));
    }
    if !wf.image_pull_secrets.is_empty() {
        pod.insert(
            "imagePullSecrets".into(),
            json!(
                wf.image_pull_secrets
                    .iter()
                    .map(|n| json!({"name": n}))
                    .collect::<Vec<_>>()
            ),
        );
    }
    let mut specs = Map::new();
    for (role, n) in &j.replicas {
        specs.insert(
            role_name(role),
            json!({
                "replicas": n,
                "restartPolicy": "OnFailure",
                "template": {"spec": pod},
            }),
        );
    }
    let clean = match j.clean_pod_policy {
        CleanPodPolicy::Running => "Running",
        CleanPodPolicy::All => "All",
        CleanPodPolicy::None => "None",
    };
    let manifest = json!({
        "apiVersion": "kubeflow.org/v1",
        "kind": kind,
        "metadata": {"generateName": format!("{{{{workflow.name}}}}-{}-", step.name)},
        "spec": {"runPolicy": {"cleanPodPolicy": clean}, specs_key: specs},
    });
    to_yaml(&manifest)
}
