//! The workflow IR: a typed DAG of steps, independent of every engine.
//!
//! These types are also the spec format: each struct maps one-to-one to a YAML/JSON object
//! (camelCase fields, unknown fields rejected), so a spec path such as `steps[2].retry.limit`
//! names both a place in the file and a field here. Defaults are omitted when printing, so
//! IR → spec → IR round-trips exactly and prints byte-identical text.

use crate::expr::{Expr, Reference, Template};
use crate::value::{Duration, Quantity};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The spec version this Couler reads and writes.
pub const API_VERSION: &str = "couler.dev/v1alpha1";

pub(crate) fn is_false(b: &bool) -> bool {
    !*b
}

/// A whole workflow.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Workflow {
    /// Always [`API_VERSION`].
    pub api_version: String,
    /// Always `Workflow`.
    pub kind: String,
    /// DNS-1123 label: lowercase letters, digits and `-`.
    pub name: String,
    /// What the workflow does, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Kubernetes labels put on the engine's workflow object.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Kubernetes annotations put on the engine's workflow object.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Inputs of the whole workflow, set at submit time (`--param k=v`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<WorkflowParam>,
    /// Policies applied to every step that does not set its own.
    #[serde(default, skip_serializing_if = "StepDefaults::is_empty")]
    pub defaults: StepDefaults,
    /// At most this many steps run at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallelism: Option<u32>,
    /// The whole run's deadline, counted from its start: once it passes, running steps are
    /// stopped, no new step starts, the run fails and the exit handler still runs (Argo's
    /// workflow `activeDeadlineSeconds`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    /// Run on a cron schedule instead of once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<Schedule>,
    /// The Kubernetes service account the steps' pods run as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account: Option<String>,
    /// Names of secrets used to pull private images.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub image_pull_secrets: Vec<String>,
    /// Existing volumes (claims, config maps, secrets, …) that steps can mount.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<Volume>,
    /// Volumes created for the run and deleted after it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volume_claims: Vec<VolumeClaim>,
    /// How long a finished run is kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<Ttl>,
    /// When the engine deletes the pods of finished steps (Argo's `podGC`).
    #[serde(rename = "podGC", default, skip_serializing_if = "Option::is_none")]
    pub pod_gc: Option<PodGc>,
    /// Where artifacts go when an output does not name a storage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_repository: Option<Storage>,
    /// Named sets of steps that run concurrently (`concurrent` in the paper's API).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<Group>,
    /// The steps, a DAG through `dependsOn`, groups and references.
    pub steps: Vec<Step>,
    /// The exit handler: runs after every step has ended, whatever happened, and sees
    /// `workflow.status`. One step, or several with dependencies among them (a small DAG);
    /// written as one step (a mapping) or a list.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        with = "one_or_many_steps"
    )]
    pub on_exit: Vec<Step>,
}

impl Workflow {
    /// An empty workflow with the current API version.
    pub fn new(name: impl Into<String>) -> Self {
        Workflow {
            api_version: API_VERSION.to_string(),
            kind: "Workflow".to_string(),
            name: name.into(),
            description: None,
            labels: BTreeMap::new(),
            annotations: BTreeMap::new(),
            params: Vec::new(),
            defaults: StepDefaults::default(),
            parallelism: None,
            timeout: None,
            schedule: None,
            service_account: None,
            image_pull_secrets: Vec::new(),
            volumes: Vec::new(),
            volume_claims: Vec::new(),
            ttl: None,
            pod_gc: None,
            artifact_repository: None,
            groups: Vec::new(),
            steps: Vec::new(),
            on_exit: Vec::new(),
        }
    }

    /// The step named `name`.
    pub fn step(&self, name: &str) -> Option<&Step> {
        self.steps.iter().find(|s| s.name == name)
    }

    /// The position of the step named `name` in `steps`.
    pub fn step_index(&self, name: &str) -> Option<usize> {
        self.steps.iter().position(|s| s.name == name)
    }

    /// The group named `name`.
    pub fn group(&self, name: &str) -> Option<&Group> {
        self.groups.iter().find(|g| g.name == name)
    }

    /// The retry policy in force for `step`: its own, else the workflow default.
    pub fn effective_retry<'a>(&'a self, step: &'a Step) -> Option<&'a Retry> {
        step.retry.as_deref().or(self.defaults.retry.as_ref())
    }
    /// The timeout in force for `step`: its own, else the workflow default.
    pub fn effective_timeout(&self, step: &Step) -> Option<Duration> {
        step.timeout.or(self.defaults.timeout)
    }
    /// The resources in force for `step`: its own, else the workflow default.
    pub fn effective_resources<'a>(&'a self, step: &'a Step) -> Option<&'a Resources> {
        step.resources
            .as_deref()
            .or(self.defaults.resources.as_ref())
    }
    /// The cache policy in force for `step`: its own, else the workflow default.
    pub fn effective_cache<'a>(&'a self, step: &'a Step) -> Option<&'a CachePolicy> {
        step.cache.as_deref().or(self.defaults.cache.as_ref())
    }
    /// The image in force for `step`: its own, else the workflow default.
    pub fn effective_image<'a>(&'a self, step: &'a Step) -> Option<&'a str> {
        step.kind.image().or(self.defaults.image.as_deref())
    }
}

/// The type of a workflow parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ParamType {
    /// Any text (the default).
    #[default]
    String,
    /// A whole number.
    Int,
    /// A number.
    Float,
    /// `true` or `false`.
    Bool,
    /// Any JSON value (lists feed `map.from`).
    Json,
}

/// An input of the whole workflow.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WorkflowParam {
    /// An identifier, read as `params.NAME`.
    pub name: String,
    /// The type values are checked against.
    #[serde(default, rename = "type", skip_serializing_if = "is_default_type")]
    pub ty: ParamType,
    /// Without a default, the parameter must be given at submit time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<serde_json::Value>,
    /// What the parameter means, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Allowed values, if restricted.
    #[serde(default, rename = "enum", skip_serializing_if = "Vec::is_empty")]
    pub allowed: Vec<serde_json::Value>,
}

fn is_default_type(t: &ParamType) -> bool {
    *t == ParamType::String
}

/// Values every step gets unless it sets its own (a step's field replaces the default whole).
#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StepDefaults {
    /// The image of steps that name none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// The retry policy of steps that set none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<Retry>,
    /// The timeout of steps that set none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,
    /// The resources of steps that set none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Resources>,
    /// The cache policy of steps that set none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache: Option<CachePolicy>,
}

impl StepDefaults {
    /// Whether no default is set.
    pub fn is_empty(&self) -> bool {
        *self == StepDefaults::default()
    }
}

/// What to do when a scheduled run is due while the previous one still runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ConcurrencyPolicy {
    /// Start the new run anyway (the default).
    #[default]
    Allow,
    /// Skip the new run.
    Forbid,
    /// Stop the running run and start the new one.
    Replace,
}

/// When scheduled runs start.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Schedule {
    /// Five-field cron expression, e.g. `0 2 * * *`.
    pub cron: String,
    /// The IANA time zone the cron expression reads in; the engine's default when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// What happens when a run is due while the previous one still runs.
    #[serde(default, skip_serializing_if = "is_default_concurrency")]
    pub concurrency_policy: ConcurrencyPolicy,
    /// A run that could not start within this time of its slot is skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starting_deadline: Option<Duration>,
}

fn is_default_concurrency(c: &ConcurrencyPolicy) -> bool {
    *c == ConcurrencyPolicy::Allow
}

/// How long a finished run is kept before the engine deletes it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Ttl {
    /// Keep a finished run this long, whatever its outcome.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_completion: Option<Duration>,
    /// Keep a succeeded run this long.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_success: Option<Duration>,
    /// Keep a failed run this long.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_failure: Option<Duration>,
}

/// When the pods of finished steps are deleted. Without it, the engine's default (Argo keeps
/// them).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PodGc {
    /// Which pods are deleted, and when.
    pub strategy: PodGcStrategy,
    /// Wait this long before deleting a pod the strategy selects (time to read its logs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_delay: Option<Duration>,
    /// Only pods carrying all these labels are deleted.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub match_labels: BTreeMap<String, String>,
}

/// Which pods [`PodGc`] deletes, and when.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PodGcStrategy {
    /// Each pod as soon as its step finishes, whatever the outcome.
    OnPodCompletion,
    /// Each pod as soon as its step succeeds (failed pods are kept for debugging).
    OnPodSuccess,
    /// Every pod when the workflow finishes.
    OnWorkflowCompletion,
    /// Every pod when the workflow succeeds.
    OnWorkflowSuccess,
}

impl PodGcStrategy {
    /// The name as written in the spec and in Argo.
    pub fn as_str(self) -> &'static str {
        match self {
            PodGcStrategy::OnPodCompletion => "OnPodCompletion",
            PodGcStrategy::OnPodSuccess => "OnPodSuccess",
            PodGcStrategy::OnWorkflowCompletion => "OnWorkflowCompletion",
            PodGcStrategy::OnWorkflowSuccess => "OnWorkflowSuccess",
        }
    }
}

/// A set of steps started together; depending on the group means depending on all of them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Group {
    /// A DNS-1123 label, unique among steps and groups.
    pub name: String,
    /// The names of the steps in the group.
    pub steps: Vec<String>,
}

/// One step of the workflow.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "StepRepr", into = "StepRepr")]
pub struct Step {
    /// A DNS-1123 label, unique in the workflow.
    pub name: String,
    /// What the step does, for people.
    pub description: Option<String>,
    /// What the step runs.
    pub kind: StepKind,
    /// Parameters and artifacts the step reads.
    pub inputs: Inputs,
    /// Parameters and artifacts the step produces.
    pub outputs: Outputs,
    /// Environment variables, values with placeholders.
    pub env: BTreeMap<String, Template>,
    /// Environment variables read from Kubernetes secrets.
    pub secrets: Vec<SecretEnv>,
    /// Explicit dependencies: step or group names (paper Code 4).
    pub depends_on: Vec<String>,
    /// Run the step only when this condition holds; otherwise it is skipped.
    pub when: Option<Expr>,
    /// Run one instance of the step per item of a list.
    pub map: Option<Box<Map>>,
    /// Run the step again while a condition on its own outputs holds (`exec_while`).
    pub repeat: Option<Box<Repeat>>,
    /// How failed attempts are retried.
    pub retry: Option<Box<Retry>>,
    /// The longest one attempt may run.
    pub timeout: Option<Duration>,
    /// CPU, memory and GPU requests and limits.
    pub resources: Option<Box<Resources>>,
    /// Run only on nodes with these labels.
    pub node_selector: BTreeMap<String, String>,
    /// Taints the step's pod tolerates.
    pub tolerations: Vec<Toleration>,
    /// Volumes mounted into the step.
    pub volume_mounts: Vec<VolumeMount>,
    /// Memoization: reuse outputs of an identical earlier run.
    pub cache: Option<Box<CachePolicy>>,
    /// The workflow goes on (and this step counts as done) even if it fails.
    pub continue_on_failure: bool,
    /// A hyperparameter study over the step's input parameters (lowered into trial steps).
    pub tune: Option<Box<crate::tune::Tune>>,
}

/// Where a template stands in its step, written out as its spec path on demand.
#[derive(Clone, Copy, Debug)]
pub(crate) enum TemplateAt<'s> {
    /// `script.source`
    Field(&'static str),
    /// `container.args[2]`
    Item(&'static str, usize),
    /// `env.HOME`
    Key(&'static str, &'s str),
    /// `inputs.parameters[0].value`
    ItemField(&'static str, usize, &'static str),
}

impl std::fmt::Display for TemplateAt<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        match self {
            TemplateAt::Field(field) => f.write_str(field),
            TemplateAt::Item(list, i) => write!(f, "{list}[{i}]"),
            TemplateAt::Key(map, k) => write!(f, "{map}.{k}"),
            TemplateAt::ItemField(list, i, field) => write!(f, "{list}[{i}].{field}"),
        }
    }
}

impl Step {
    /// Whether the step is a daemon: a container or script step with `daemon: true`.
    pub fn is_daemon(&self) -> bool {
        match &self.kind {
            StepKind::Container(c) => c.daemon,
            StepKind::Script(s) => s.daemon,
            _ => false,
        }
    }

    /// A step with this name and kind, and nothing else set.
    pub fn new(name: impl Into<String>, kind: StepKind) -> Self {
        Step {
            name: name.into(),
            description: None,
            kind,
            inputs: Inputs::default(),
            outputs: Outputs::default(),
            env: BTreeMap::new(),
            secrets: Vec::new(),
            depends_on: Vec::new(),
            when: None,
            map: None,
            repeat: None,
            retry: None,
            timeout: None,
            resources: None,
            node_selector: BTreeMap::new(),
            tolerations: Vec::new(),
            volume_mounts: Vec::new(),
            cache: None,
            continue_on_failure: false,
            tune: None,
        }
    }

    /// Every template of the step (command, args, script source, manifest, env, input values).
    pub fn templates(&self) -> Vec<(String, &Template)> {
        let mut out = Vec::new();
        self.each_template(|at, t| out.push((at.to_string(), t)));
        out
    }

    /// Calls `f` with every template of the step and where it stands, its path not yet written
    /// out (a large workflow has hundreds of thousands of templates, few of them with a
    /// placeholder; nothing is allocated to list them).
    pub(crate) fn each_template<'s>(&'s self, mut f: impl FnMut(TemplateAt<'s>, &'s Template)) {
        let mut list = |field: &'static str, ts: &'s [Template]| {
            for (i, t) in ts.iter().enumerate() {
                f(TemplateAt::Item(field, i), t);
            }
        };
        match &self.kind {
            StepKind::Container(c) => {
                list("container.command", &c.command);
                list("container.args", &c.args);
            }
            StepKind::Job(j) => {
                list("job.command", &j.command);
                list("job.args", &j.args);
            }
            StepKind::Script(s) => f(TemplateAt::Field("script.source"), &s.source),
            StepKind::Resource(r) => f(TemplateAt::Field("resource.manifest"), &r.manifest),
            StepKind::Workflow(w) => {
                for (k, t) in &w.params {
                    f(TemplateAt::Key("workflow.params", k), t);
                }
            }
            StepKind::Suspend(_) => {}
        }
        for (k, t) in &self.env {
            f(TemplateAt::Key("env", k), t);
        }
        for (i, p) in self.inputs.parameters.iter().enumerate() {
            if let Some(t) = &p.value {
                f(TemplateAt::ItemField("inputs.parameters", i, "value"), t);
            }
        }
    }

    /// Whether the step's `when` reads `item`: on a mapped step it then filters instances;
    /// any other `when` decides for the whole step (docs/spec.md §12).
    pub fn when_reads_item(&self) -> bool {
        self.when
            .as_ref()
            .is_some_and(|w| w.refs().iter().any(|r| matches!(r, Reference::Item(_))))
    }

    /// Every reference the step reads, with the spec path (relative to the step) where it stands.
    pub fn references(&self) -> Vec<(String, &Reference)> {
        let mut out: Vec<(String, &Reference)> = Vec::new();
        self.each_template(|at, t| {
            let mut refs = t.refs().peekable();
            if refs.peek().is_some() {
                let path = at.to_string();
                out.extend(refs.map(|r| (path.clone(), r)));
            }
        });
        for (i, a) in self.inputs.artifacts.iter().enumerate() {
            if let Some(ArtifactSource::From(r)) = &a.source {
                out.push((format!("inputs.artifacts[{i}].from"), r));
            }
        }
        if let Some(w) = &self.when {
            out.extend(w.refs().into_iter().map(|r| ("when".to_string(), r)));
        }
        if let Some(Map {
            over: MapOver::From(r),
            ..
        }) = self.map.as_deref()
        {
            out.push(("map.from".into(), r));
        }
        if let Some(rep) = self.repeat.as_deref() {
            out.extend(
                rep.condition
                    .refs()
                    .into_iter()
                    .map(|r| ("repeat.while".to_string(), r)),
            );
        }
        out
    }
}

/// What a step runs. Exactly one per step.
#[derive(Clone, Debug, PartialEq)]
pub enum StepKind {
    /// Run a command in a container image.
    Container(Container),
    /// Run inline source with an interpreter.
    Script(Script),
    /// Create or change a Kubernetes object.
    Resource(ResourceStep),
    /// Run a distributed training job.
    Job(DistributedJob),
    /// Run another workflow.
    Workflow(SubWorkflow),
    /// Pause until resumed or for a time.
    Suspend(Suspend),
}

impl StepKind {
    /// The spec key of this kind (`container`, `script`, …).
    pub fn key(&self) -> &'static str {
        match self {
            StepKind::Container(_) => "container",
            StepKind::Script(_) => "script",
            StepKind::Resource(_) => "resource",
            StepKind::Job(_) => "job",
            StepKind::Workflow(_) => "workflow",
            StepKind::Suspend(_) => "suspend",
        }
    }
    /// The image the kind names, if it has one.
    pub fn image(&self) -> Option<&str> {
        match self {
            StepKind::Container(c) => c.image.as_deref(),
            StepKind::Script(s) => s.image.as_deref(),
            StepKind::Job(j) => Some(&j.image),
            _ => None,
        }
    }
}

/// The spec keys of every step kind, as [`StepKind::key`] writes them.
pub const STEP_KINDS: [&str; 6] = [
    "container",
    "script",
    "resource",
    "job",
    "workflow",
    "suspend",
];

/// Runs a command in a container image (on the local runtime: as a host process).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Container {
    /// The image to run; the workflow's default image when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// The command (the image's entrypoint when empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<Template>,
    /// Arguments to the command.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<Template>,
    /// The directory the command starts in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    /// A service: the step succeeds once its process has started, keeps running while the
    /// rest of the workflow runs, and is stopped when the workflow's steps end (docs/spec.md).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub daemon: bool,
}

/// Runs inline source with an interpreter (default `python3`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Script {
    /// The image to run; the workflow's default image when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(
        default = "default_interpreter",
        skip_serializing_if = "is_default_interpreter"
    )]
    /// The interpreter and its arguments; the source file is passed after them.
    pub command: Vec<String>,
    /// The script's source, with placeholders.
    pub source: Template,
    /// A service, as a container's `daemon`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub daemon: bool,
}

/// The interpreter of a script that names none: `python3`.
pub fn default_interpreter() -> Vec<String> {
    vec!["python3".to_string()]
}
fn is_default_interpreter(c: &Vec<String>) -> bool {
    *c == default_interpreter()
}

/// What a resource step does with its manifest (`kubectl` verbs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ResourceAction {
    /// Create the object (the default).
    #[default]
    Create,
    /// Create or update the object.
    Apply,
    /// Delete the object.
    Delete,
    /// Patch the object.
    Patch,
    /// Replace the object.
    Replace,
}

/// Creates or changes a Kubernetes object and waits for a condition on it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResourceStep {
    /// What to do with the manifest.
    #[serde(default, skip_serializing_if = "is_default_action")]
    pub action: ResourceAction,
    /// The object, as YAML text.
    pub manifest: Template,
    /// e.g. `status.succeeded > 0`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success_condition: Option<String>,
    /// When this holds on the object, the step fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_condition: Option<String>,
}

fn is_default_action(a: &ResourceAction) -> bool {
    *a == ResourceAction::Create
}

/// The training operator a distributed job runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Framework {
    /// A Kubeflow TFJob.
    Tensorflow,
    /// A Kubeflow PyTorchJob.
    Pytorch,
    /// A Kubeflow MPIJob.
    Mpi,
}

impl Framework {
    /// The replica roles this framework's operator knows.
    pub fn roles(self) -> &'static [&'static str] {
        match self {
            Framework::Tensorflow => &["chief", "ps", "worker", "evaluator"],
            Framework::Pytorch => &["master", "worker"],
            Framework::Mpi => &["launcher", "worker"],
        }
    }
}

/// Which pods the training operator deletes when the job ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum CleanPodPolicy {
    /// The pods still running (the default).
    #[default]
    Running,
    /// All pods.
    All,
    /// No pod.
    None,
}

/// A distributed training job (TFJob, PyTorchJob, MPIJob), the paper's step zoo.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DistributedJob {
    /// The training operator.
    pub framework: Framework,
    /// The image every replica runs.
    pub image: String,
    /// The command every replica runs (the image's entrypoint when empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<Template>,
    /// Arguments to the command.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<Template>,
    /// Replica count per role, e.g. `{ps: 1, worker: 4}`.
    pub replicas: BTreeMap<String, u32>,
    /// Which pods are deleted when the job ends.
    #[serde(default, skip_serializing_if = "is_default_clean")]
    pub clean_pod_policy: CleanPodPolicy,
}

fn is_default_clean(c: &CleanPodPolicy) -> bool {
    *c == CleanPodPolicy::Running
}

/// Runs another workflow as one step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SubWorkflow {
    /// A spec file path (relative to this file) or the name of a registered workflow template.
    #[serde(rename = "ref")]
    pub reference: String,
    /// Values of the sub-workflow's parameters, with placeholders.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, Template>,
}

/// Pauses the workflow until resumed, or for a fixed time.
#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Suspend {
    /// Resume by itself after this long; without it, only when resumed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<Duration>,
}

/// What a step reads.
#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Inputs {
    /// Named parameters, read as `inputs.parameters.NAME`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<InputParameter>,
    /// Files or directories placed before the step starts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub artifacts: Vec<InputArtifact>,
}

impl Inputs {
    /// Whether the step reads no input.
    pub fn is_empty(&self) -> bool {
        self.parameters.is_empty() && self.artifacts.is_empty()
    }
}

/// A named input parameter of a step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InputParameter {
    /// An identifier, unique among the step's input parameters.
    pub name: String,
    /// The value; may reference workflow params and other steps' outputs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Template>,
}

/// An input file or directory, placed at `path` before the step starts.
#[derive(Clone, Debug, PartialEq)]
pub struct InputArtifact {
    /// An identifier, unique among the step's input artifacts.
    pub name: String,
    /// Where the step expects it; relative paths are under the step's working directory.
    pub path: String,
    /// Where the artifact comes from (a step's output or external storage).
    pub source: Option<ArtifactSource>,
    /// A missing optional artifact is not an error.
    pub optional: bool,
}

/// Where an input artifact comes from.
#[derive(Clone, Debug, PartialEq)]
pub enum ArtifactSource {
    /// Another step's output artifact (creates the dependency edge).
    From(Reference),
    /// A fixed location in external storage.
    Storage(Storage),
}

/// What a step produces.
#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Outputs {
    /// Small string outputs, read as `steps.S.outputs.parameters.NAME`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<OutputParameter>,
    /// Files or directories kept in the artifact store.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub artifacts: Vec<OutputArtifact>,
}

impl Outputs {
    /// Whether the step produces no output.
    pub fn is_empty(&self) -> bool {
        self.parameters.is_empty() && self.artifacts.is_empty()
    }
}

/// A small string output: read from `path`, or the step's standard output when no path is given.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OutputParameter {
    /// An identifier, unique among the step's output parameters.
    pub name: String,
    /// The file holding the value; the step's standard output when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Used when the file is missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
}

/// A file or directory the step writes at `path`, kept in the artifact store.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OutputArtifact {
    /// An identifier, unique among the step's output artifacts.
    pub name: String,
    /// Where the step writes it; relative paths are under the step's working directory.
    pub path: String,
    /// Where to keep it; the workflow's artifact repository when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<Storage>,
    /// A missing optional artifact is not an error.
    #[serde(default, skip_serializing_if = "is_false")]
    pub optional: bool,
}

/// A storage location for artifacts.
///
/// Written as a mapping with exactly one key, in YAML as in JSON: `storage: {s3: {bucket: b}}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "StorageRepr", into = "StorageRepr")]
pub enum Storage {
    /// A directory on the machine that runs the step.
    Local(LocalStorage),
    /// Amazon S3 or an S3-compatible service.
    S3(S3Storage),
    /// Google Cloud Storage.
    Gcs(GcsStorage),
    /// Alibaba Cloud OSS.
    Oss(OssStorage),
    /// HDFS (through WebHDFS on the local runtime).
    Hdfs(HdfsStorage),
    /// A Git repository (inputs only).
    Git(GitStorage),
    /// An HTTP(S) URL (inputs only).
    Http(HttpStorage),
}

impl Storage {
    /// The spec key of this kind of storage (`local`, `s3`, …).
    pub fn key(&self) -> &'static str {
        match self {
            Storage::Local(_) => "local",
            Storage::S3(_) => "s3",
            Storage::Gcs(_) => "gcs",
            Storage::Oss(_) => "oss",
            Storage::Hdfs(_) => "hdfs",
            Storage::Git(_) => "git",
            Storage::Http(_) => "http",
        }
    }
}

/// A reference to a key in a Kubernetes secret; the value itself never appears in a spec.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretKeyRef {
    /// The secret's name.
    pub name: String,
    /// The key inside the secret.
    pub key: String,
}

/// Artifacts kept in a local directory.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LocalStorage {
    /// A directory on the machine that runs the step.
    pub path: String,
}

/// Artifacts kept in an S3 bucket.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct S3Storage {
    /// The bucket's name.
    pub bucket: String,
    /// Object key or prefix; empty in a repository (Couler chooses per artifact).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub key: String,
    /// The service's endpoint URL; AWS's when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// The bucket's region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Talk plain HTTP instead of HTTPS.
    #[serde(default, skip_serializing_if = "is_false")]
    pub insecure: bool,
    /// The access key id, from a secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key: Option<SecretKeyRef>,
    /// The secret access key, from a secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_key: Option<SecretKeyRef>,
}

/// Artifacts kept in a Google Cloud Storage bucket.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GcsStorage {
    /// The bucket's name.
    pub bucket: String,
    /// Object key or prefix; empty in a repository (Couler chooses per artifact).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub key: String,
    /// The service account's JSON key, from a secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_key: Option<SecretKeyRef>,
}

/// Artifacts kept in an Alibaba Cloud OSS bucket.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OssStorage {
    /// The service's endpoint URL.
    pub endpoint: String,
    /// The bucket's name.
    pub bucket: String,
    /// Object key or prefix; empty in a repository (Couler chooses per artifact).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub key: String,
    /// The access key id, from a secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key: Option<SecretKeyRef>,
    /// The access key secret, from a secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_key: Option<SecretKeyRef>,
}

/// Artifacts kept in HDFS.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HdfsStorage {
    /// Name node addresses, `host:port`.
    pub addresses: Vec<String>,
    /// The path or prefix; empty in a repository (Couler chooses per artifact).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub path: String,
    /// The HDFS user to act as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
}

/// A Git repository checked out as an input artifact.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GitStorage {
    /// The repository's URL.
    pub repo: String,
    /// The branch, tag or commit to check out; the default branch when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// Clone only this many commits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub depth: Option<u32>,
}

/// A file downloaded over HTTP(S) as an input artifact.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpStorage {
    /// The URL.
    pub url: String,
}

/// An environment variable whose value comes from a Kubernetes secret.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretEnv {
    /// The environment variable's name.
    pub env: String,
    /// The secret's name.
    pub secret: String,
    /// The key inside the secret.
    pub key: String,
}

/// Fan a step out over a list: one instance per item, `{{item}}` in its strings.
#[derive(Clone, Debug, PartialEq)]
pub struct Map {
    /// The list to fan out over.
    pub over: MapOver,
    /// At most this many instances at once.
    pub parallelism: Option<u32>,
}

/// The list a [`Map`] fans out over.
#[derive(Clone, Debug, PartialEq)]
pub enum MapOver {
    /// A fixed list of values (scalars or objects).
    Items(Vec<serde_json::Value>),
    /// Integers `start, start+step, …` below `stop`, as Python's `range`.
    Range {
        /// The first value.
        start: i64,
        /// The bound, never reached.
        stop: i64,
        /// The distance between values; negative counts down, 0 is refused.
        step: i64,
    },
    /// A JSON list produced upstream or given as a workflow parameter.
    From(Reference),
}

/// How many values a `range` has (start inclusive, stop exclusive, by `step`; none when `step`
/// points away from `stop` or is 0), as Python's `range`: the one rule the local runtime and
/// every engine's lowering follow.
pub fn range_len(start: i64, stop: i64, step: i64) -> usize {
    let (start, stop, step) = (i128::from(start), i128::from(stop), i128::from(step));
    let n = match step {
        s if s > 0 && stop > start => (stop - start + s - 1) / s,
        s if s < 0 && stop < start => (start - stop - s - 1) / -s,
        _ => 0,
    };
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// The values of a `range`, in order: [`range_len`] of them from `start`, `step` apart.
pub fn range_values(start: i64, stop: i64, step: i64) -> impl Iterator<Item = i64> {
    // In i128: `k * step` may pass i64's bounds on the way to a value inside them.
    (0..range_len(start, stop, step) as i128)
        .map(move |k| (i128::from(start) + k * i128::from(step)) as i64)
}

/// `exec_while`: after each run, if `condition` holds the step runs again, at most `max_iterations` times.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Repeat {
    /// Evaluated on the step's own outputs after each run.
    #[serde(rename = "while")]
    pub condition: Expr,
    /// The most runs in all, the first included.
    pub max_iterations: u32,
}

/// When a failed attempt is retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RetryOn {
    /// The step's command failed (non-zero exit).
    #[default]
    Failure,
    /// The step could not run (infrastructure error).
    Error,
    /// An error known to be transient (network, preemption).
    Transient,
    /// Any failure or error.
    Always,
}

/// How a failed step is retried.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Retry {
    /// Retries after the first attempt.
    pub limit: u32,
    /// Which failures are retried.
    #[serde(default, skip_serializing_if = "is_default_retry_on")]
    pub on: RetryOn,
    /// How long to wait between attempts; no wait when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff: Option<Backoff>,
    /// Self-healing (docs/history.md): also stop and retry an attempt running past this many
    /// times its predicted p99 duration (local runtime only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slow: Option<f64>,
}

fn is_default_retry_on(r: &RetryOn) -> bool {
    *r == RetryOn::Failure
}

/// Wait `duration`, then `duration × factor`, … capped at `max`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Backoff {
    /// The first wait.
    pub duration: Duration,
    /// Each wait is the previous one times this (default 2).
    #[serde(default = "default_factor", skip_serializing_if = "is_default_factor")]
    pub factor: u32,
    /// No wait is longer than this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<Duration>,
}

fn default_factor() -> u32 {
    2
}
fn is_default_factor(f: &u32) -> bool {
    *f == 2
}

/// Compute resources of a step.
#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Resources {
    /// What the scheduler reserves for the step.
    #[serde(default, skip_serializing_if = "ResourceList::is_empty")]
    pub requests: ResourceList,
    /// What the step may use at most.
    #[serde(default, skip_serializing_if = "ResourceList::is_empty")]
    pub limits: ResourceList,
}

/// Amounts of compute resources.
#[derive(Clone, Debug, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResourceList {
    /// Cores: `500m`, `2`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<Quantity>,
    /// Bytes: `512Mi`, `4Gi`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<Quantity>,
    /// Whole GPUs (`nvidia.com/gpu`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu: Option<u32>,
    /// Bytes of node-local scratch space: `10Gi`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ephemeral_storage: Option<Quantity>,
}

impl ResourceList {
    /// Whether no amount is set.
    pub fn is_empty(&self) -> bool {
        *self == ResourceList::default()
    }
}

/// How a [`Toleration`] matches a taint's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum TolerationOperator {
    /// The taint's value equals the toleration's (the default).
    #[default]
    Equal,
    /// Any value matches.
    Exists,
}

/// What a taint does to pods that do not tolerate it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TaintEffect {
    /// Such pods are not scheduled on the node.
    NoSchedule,
    /// The scheduler avoids the node for such pods.
    PreferNoSchedule,
    /// Such pods are evicted from the node.
    NoExecute,
}

/// A Kubernetes taint the step's pod tolerates.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Toleration {
    /// The taint's key; every key when absent (with `Exists`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// How the value is matched.
    #[serde(default, skip_serializing_if = "is_default_operator")]
    pub operator: TolerationOperator,
    /// The taint's value (with `Equal`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// The taint's effect; every effect when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effect: Option<TaintEffect>,
    /// How long a `NoExecute` taint is tolerated before eviction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub toleration_seconds: Option<u64>,
}

fn is_default_operator(o: &TolerationOperator) -> bool {
    *o == TolerationOperator::Equal
}

/// A volume of the workflow that steps can mount.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Volume {
    /// A DNS-1123 label, unique among volumes and volume claims.
    pub name: String,
    /// What the volume is.
    pub source: VolumeSource,
}

/// Written as a mapping with exactly one key, in YAML as in JSON: `source: {claim: {name: data}}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "VolumeSourceRepr", into = "VolumeSourceRepr")]
pub enum VolumeSource {
    /// An existing PersistentVolumeClaim.
    Claim {
        /// The claim's name.
        name: String,
    },
    /// A ConfigMap, one file per key.
    ConfigMap {
        /// The ConfigMap's name.
        name: String,
    },
    /// A Secret, one file per key.
    Secret {
        /// The Secret's name.
        name: String,
    },
    /// An empty directory that lives as long as the step's pod.
    EmptyDir {},
    /// A directory of the node the pod runs on.
    HostPath {
        /// The directory's path on the node.
        path: String,
    },
}

/// A PersistentVolumeClaim created for the run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VolumeClaim {
    /// A DNS-1123 label, unique among volumes and volume claims.
    pub name: String,
    /// The claim's size, e.g. `10Gi`.
    pub size: Quantity,
    /// The storage class; the cluster's default when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class: Option<String>,
    #[serde(
        default = "default_access_modes",
        skip_serializing_if = "is_default_access_modes"
    )]
    /// Access modes (default `ReadWriteOnce`).
    pub access_modes: Vec<String>,
}

fn default_access_modes() -> Vec<String> {
    vec!["ReadWriteOnce".to_string()]
}
fn is_default_access_modes(m: &Vec<String>) -> bool {
    *m == default_access_modes()
}

/// A volume mounted into a step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VolumeMount {
    /// A workflow volume or volume claim.
    pub name: String,
    /// Where the volume appears in the step's file system.
    pub mount_path: String,
    /// Mount read-only.
    #[serde(default, skip_serializing_if = "is_false")]
    pub read_only: bool,
    /// Mount only this path inside the volume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_path: Option<String>,
}

/// Memoization of a step: reuse outputs of an identical earlier run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CachePolicy {
    /// Whether the step is memoized (default `true` once a policy is written).
    #[serde(default = "default_true", skip_serializing_if = "is_true")]
    pub enabled: bool,
    /// Bump to invalidate earlier results of an unchanged step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Results older than this are not reused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age: Option<Duration>,
}

fn default_true() -> bool {
    true
}
fn is_true(b: &bool) -> bool {
    *b
}

// ---- spec shapes for the types whose variants sit beside other fields -------------------------

/// The spec form of [`Step`]: the kind is one of several optional keys.
#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct StepRepr {
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    container: Option<Container>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    script: Option<Script>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    resource: Option<ResourceStep>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    job: Option<DistributedJob>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    workflow: Option<SubWorkflow>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    suspend: Option<Suspend>,
    #[serde(default, skip_serializing_if = "Inputs::is_empty")]
    inputs: Inputs,
    #[serde(default, skip_serializing_if = "Outputs::is_empty")]
    outputs: Outputs,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    env: BTreeMap<String, Template>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    secrets: Vec<SecretEnv>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    depends_on: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    when: Option<Expr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    map: Option<MapRepr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    repeat: Option<Box<Repeat>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    retry: Option<Box<Retry>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    timeout: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    resources: Option<Box<Resources>>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    node_selector: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    tolerations: Vec<Toleration>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    volume_mounts: Vec<VolumeMount>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cache: Option<Box<CachePolicy>>,
    #[serde(default, skip_serializing_if = "is_false")]
    continue_on_failure: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tune: Option<Box<crate::tune::Tune>>,
}

impl TryFrom<StepRepr> for Step {
    type Error = String;
    fn try_from(r: StepRepr) -> Result<Step, String> {
        let mut kinds: Vec<StepKind> = Vec::new();
        kinds.extend(r.container.map(StepKind::Container));
        kinds.extend(r.script.map(StepKind::Script));
        kinds.extend(r.resource.map(StepKind::Resource));
        kinds.extend(r.job.map(StepKind::Job));
        kinds.extend(r.workflow.map(StepKind::Workflow));
        kinds.extend(r.suspend.map(StepKind::Suspend));
        if kinds.len() != 1 {
            let found: Vec<&str> = kinds.iter().map(StepKind::key).collect();
            return Err(if found.is_empty() {
                format!(
                    "step `{}` says nothing to run: give it exactly one of `container`, `script`, `resource`, `job`, `workflow` or `suspend`",
                    r.name
                )
            } else {
                format!(
                    "step `{}` has {} (`{}`): a step runs exactly one thing; split it into several steps",
                    r.name,
                    found.len(),
                    found.join("`, `")
                )
            });
        }
        let kind = kinds.remove(0);
        Ok(Step {
            name: r.name,
            description: r.description,
            kind,
            inputs: r.inputs,
            outputs: r.outputs,
            env: r.env,
            secrets: r.secrets,
            depends_on: r.depends_on,
            when: r.when,
            map: r.map.map(Map::try_from).transpose()?.map(Box::new),
            repeat: r.repeat,
            retry: r.retry,
            timeout: r.timeout,
            resources: r.resources,
            node_selector: r.node_selector,
            tolerations: r.tolerations,
            volume_mounts: r.volume_mounts,
            cache: r.cache,
            continue_on_failure: r.continue_on_failure,
            tune: r.tune,
        })
    }
}

impl From<Step> for StepRepr {
    fn from(s: Step) -> StepRepr {
        let mut r = StepRepr {
            name: s.name,
            description: s.description,
            container: None,
            script: None,
            resource: None,
            job: None,
            workflow: None,
            suspend: None,
            inputs: s.inputs,
            outputs: s.outputs,
            env: s.env,
            secrets: s.secrets,
            depends_on: s.depends_on,
            when: s.when,
            map: s.map.map(|m| MapRepr::from(*m)),
            repeat: s.repeat,
            retry: s.retry,
            timeout: s.timeout,
            resources: s.resources,
            node_selector: s.node_selector,
            tolerations: s.tolerations,
            volume_mounts: s.volume_mounts,
            cache: s.cache,
            continue_on_failure: s.continue_on_failure,
            tune: s.tune,
        };
        match s.kind {
            StepKind::Container(c) => r.container = Some(c),
            StepKind::Script(c) => r.script = Some(c),
            StepKind::Resource(c) => r.resource = Some(c),
            StepKind::Job(c) => r.job = Some(c),
            StepKind::Workflow(c) => r.workflow = Some(c),
            StepKind::Suspend(c) => r.suspend = Some(c),
        }
        r
    }
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RangeRepr {
    #[serde(default, skip_serializing_if = "is_zero")]
    start: i64,
    stop: i64,
    #[serde(default = "one", skip_serializing_if = "is_one")]
    step: i64,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}
fn one() -> i64 {
    1
}
fn is_one(n: &i64) -> bool {
    *n == 1
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct MapRepr {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    items: Option<Vec<serde_json::Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    range: Option<RangeRepr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    from: Option<Reference>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    parallelism: Option<u32>,
}

impl TryFrom<MapRepr> for Map {
    type Error = String;
    fn try_from(r: MapRepr) -> Result<Map, String> {
        let over = match (r.items, r.range, r.from) {
            (Some(items), None, None) => MapOver::Items(items),
            (None, Some(g), None) => MapOver::Range {
                start: g.start,
                stop: g.stop,
                step: g.step,
            },
            (None, None, Some(from)) => MapOver::From(from),
            _ => {
                return Err(
                    "`map` needs exactly one of `items` (a list), `range` ({start, stop, step}) or `from` (a reference to a JSON list)"
                        .to_string(),
                );
            }
        };
        Ok(Map {
            over,
            parallelism: r.parallelism,
        })
    }
}

impl From<Map> for MapRepr {
    fn from(m: Map) -> MapRepr {
        let mut r = MapRepr {
            items: None,
            range: None,
            from: None,
            parallelism: m.parallelism,
        };
        match m.over {
            MapOver::Items(items) => r.items = Some(items),
            MapOver::Range { start, stop, step } => r.range = Some(RangeRepr { start, stop, step }),
            MapOver::From(from) => r.from = Some(from),
        }
        r
    }
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct InputArtifactRepr {
    name: String,
    path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    from: Option<Reference>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    storage: Option<Storage>,
    #[serde(default, skip_serializing_if = "is_false")]
    optional: bool,
}

impl Serialize for InputArtifact {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (from, storage) = match &self.source {
            Some(ArtifactSource::From(r)) => (Some(r.clone()), None),
            Some(ArtifactSource::Storage(st)) => (None, Some(st.clone())),
            None => (None, None),
        };
        InputArtifactRepr {
            name: self.name.clone(),
            path: self.path.clone(),
            from,
            storage,
            optional: self.optional,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for InputArtifact {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let r = InputArtifactRepr::deserialize(d)?;
        let source = match (r.from, r.storage) {
            (Some(_), Some(_)) => {
                return Err(serde::de::Error::custom(format!(
                    "input artifact `{}` has both `from` and `storage`; keep one",
                    r.name
                )));
            }
            (Some(f), None) => Some(ArtifactSource::From(f)),
            (None, Some(s)) => Some(ArtifactSource::Storage(s)),
            (None, None) => None,
        };
        Ok(InputArtifact {
            name: r.name,
            path: r.path,
            source,
            optional: r.optional,
        })
    }
}

// Enums whose variants carry data are written as single-key mappings through these shapes, since
// serde_norway would otherwise print (and only read) YAML tags such as `!s3`, unlike JSON.

/// The spec form of [`Storage`].
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct StorageRepr {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    local: Option<LocalStorage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    s3: Option<S3Storage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gcs: Option<GcsStorage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    oss: Option<OssStorage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    hdfs: Option<HdfsStorage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    git: Option<GitStorage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    http: Option<HttpStorage>,
}

/// The error for a single-key mapping with no key or several.
fn exactly_one(what: &str, found: &[&str], keys: &[&str]) -> String {
    let keys = format!("`{}`", keys.join("`, `"));
    if found.is_empty() {
        format!("{what} needs exactly one of {keys}")
    } else {
        format!(
            "{what} has {} (`{}`); keep exactly one of {keys}",
            found.len(),
            found.join("`, `")
        )
    }
}

impl TryFrom<StorageRepr> for Storage {
    type Error = String;
    fn try_from(r: StorageRepr) -> Result<Storage, String> {
        let mut all: Vec<Storage> = Vec::new();
        all.extend(r.local.map(Storage::Local));
        all.extend(r.s3.map(Storage::S3));
        all.extend(r.gcs.map(Storage::Gcs));
        all.extend(r.oss.map(Storage::Oss));
        all.extend(r.hdfs.map(Storage::Hdfs));
        all.extend(r.git.map(Storage::Git));
        all.extend(r.http.map(Storage::Http));
        if all.len() == 1 {
            return Ok(all.remove(0));
        }
        let found: Vec<&str> = all.iter().map(Storage::key).collect();
        Err(exactly_one(
            "a storage",
            &found,
            &["local", "s3", "gcs", "oss", "hdfs", "git", "http"],
        ))
    }
}

impl From<Storage> for StorageRepr {
    fn from(s: Storage) -> StorageRepr {
        let mut r = StorageRepr::default();
        match s {
            Storage::Local(x) => r.local = Some(x),
            Storage::S3(x) => r.s3 = Some(x),
            Storage::Gcs(x) => r.gcs = Some(x),
            Storage::Oss(x) => r.oss = Some(x),
            Storage::Hdfs(x) => r.hdfs = Some(x),
            Storage::Git(x) => r.git = Some(x),
            Storage::Http(x) => r.http = Some(x),
        }
        r
    }
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct NameRepr {
    name: String,
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct EmptyRepr {}

#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PathRepr {
    path: String,
}

/// The spec form of [`VolumeSource`].
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct VolumeSourceRepr {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    claim: Option<NameRepr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    config_map: Option<NameRepr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    secret: Option<NameRepr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    empty_dir: Option<EmptyRepr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    host_path: Option<PathRepr>,
}

impl TryFrom<VolumeSourceRepr> for VolumeSource {
    type Error = String;
    fn try_from(r: VolumeSourceRepr) -> Result<VolumeSource, String> {
        let mut all: Vec<(&str, VolumeSource)> = Vec::new();
        all.extend(
            r.claim
                .map(|n| ("claim", VolumeSource::Claim { name: n.name })),
        );
        all.extend(
            r.config_map
                .map(|n| ("configMap", VolumeSource::ConfigMap { name: n.name })),
        );
        all.extend(
            r.secret
                .map(|n| ("secret", VolumeSource::Secret { name: n.name })),
        );
        all.extend(r.empty_dir.map(|_| ("emptyDir", VolumeSource::EmptyDir {})));
        all.extend(
            r.host_path
                .map(|p| ("hostPath", VolumeSource::HostPath { path: p.path })),
        );
        if all.len() == 1 {
            return Ok(all.remove(0).1);
        }
        let found: Vec<&str> = all.iter().map(|(k, _)| *k).collect();
        Err(exactly_one(
            "a volume source",
            &found,
            &["claim", "configMap", "secret", "emptyDir", "hostPath"],
        ))
    }
}

impl From<VolumeSource> for VolumeSourceRepr {
    fn from(v: VolumeSource) -> VolumeSourceRepr {
        let mut r = VolumeSourceRepr::default();
        match v {
            VolumeSource::Claim { name } => r.claim = Some(NameRepr { name }),
            VolumeSource::ConfigMap { name } => r.config_map = Some(NameRepr { name }),
            VolumeSource::Secret { name } => r.secret = Some(NameRepr { name }),
            VolumeSource::EmptyDir {} => r.empty_dir = Some(EmptyRepr {}),
            VolumeSource::HostPath { path } => r.host_path = Some(PathRepr { path }),
        }
        r
    }
}

/// `onExit` as written: one step (a mapping) or a list of steps. One step prints as a mapping,
/// so specs written before lists were allowed print unchanged.
mod one_or_many_steps {
    use super::Step;
    use serde::de::{self, MapAccess, SeqAccess, Visitor};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use std::fmt;

    pub fn serialize<S: Serializer>(steps: &[Step], s: S) -> Result<S::Ok, S::Error> {
        match steps {
            [one] => one.serialize(s),
            many => many.serialize(s),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Step>, D::Error> {
        struct OneOrMany;
        impl<'de> Visitor<'de> for OneOrMany {
            type Value = Vec<Step>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("one step (a mapping) or a list of steps")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Vec<Step>, A::Error> {
                Step::deserialize(de::value::MapAccessDeserializer::new(map)).map(|s| vec![s])
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Vec<Step>, A::Error> {
                Vec::<Step>::deserialize(de::value::SeqAccessDeserializer::new(seq))
            }
        }
        d.deserialize_any(OneOrMany)
    }
}

#[cfg(test)]
mod tests {
    use super::{range_len, range_values};

    /// Python's `list(range(start, stop, step))` for each case.
    #[test]
    fn ranges_count_as_pythons() {
        let cases: [(i64, i64, i64, &[i64]); 8] = [
            (0, 5, 1, &[0, 1, 2, 3, 4]),
            (0, 5, 2, &[0, 2, 4]),
            (0, 6, 2, &[0, 2, 4]),
            (5, 0, -1, &[5, 4, 3, 2, 1]),
            (5, 0, -2, &[5, 3, 1]),
            (3, 3, 1, &[]),
            (0, 5, -1, &[]),
            (5, 0, 1, &[]),
        ];
        for (start, stop, step, want) in cases {
            let got: Vec<i64> = range_values(start, stop, step).collect();
            assert_eq!(got, want, "range({start}, {stop}, {step})");
            assert_eq!(range_len(start, stop, step), want.len());
        }
        assert_eq!(range_len(0, 5, 0), 0);
        let wide: Vec<i64> = range_values(i64::MIN, i64::MAX, i64::MAX).collect();
        assert_eq!(wide, [i64::MIN, -1, i64::MAX - 1]);
    }
}
