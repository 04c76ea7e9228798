//! Step builders (`run_container`, `run_script`, `run_job`, …) and the handles they return.

use crate::WorkflowBuilder;
use couler_ir::{
    ArtifactSource, CachePolicy, CleanPodPolicy, Container, DistributedJob, Expr, InputArtifact,
    InputParameter, OutputArtifact, OutputParameter, Reference, ResourceStep, Resources, Retry,
    RetryOn, Script, SecretEnv, Step, StepKind, StepOutput, Storage, SubWorkflow, Suspend,
    Template, Toleration, VolumeMount,
};
use std::sync::Arc;

/// A step that has been added to a workflow.
///
/// Its accessors make typed [`Reference`]s to the step's outputs. Reading one of them from
/// another step (in an argument, an input artifact's source or a condition) is what makes that
/// step run after this one — the implicit dependency of the paper's Code 2 — so the graph always
/// matches the data flow and nobody writes `steps.NAME.outputs…` paths by hand.
///
/// Cloning is cheap (the name is shared).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct StepHandle {
    name: Arc<str>,
}

impl StepHandle {
    pub(crate) fn new(name: &str) -> Self {
        StepHandle { name: name.into() }
    }

    /// The step's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn output(&self, output: StepOutput) -> Reference {
        Reference::step(&*self.name, output)
    }

    /// The step's standard output, trimmed (`steps.NAME.outputs.result`).
    pub fn result(&self) -> Reference {
        self.output(StepOutput::Result)
    }

    /// An output parameter the step declares with [`StepBuilder::output_parameter`].
    pub fn parameter(&self, name: &str) -> Reference {
        self.output(StepOutput::Parameter(name.to_string()))
    }

    /// An output artifact the step declares with [`StepBuilder::output_artifact`]; another step
    /// reads it through [`StepBuilder::input_artifact`].
    pub fn artifact(&self, name: &str) -> Reference {
        self.output(StepOutput::Artifact(name.to_string()))
    }

    /// The exit code of the step's command.
    pub fn exit_code(&self) -> Reference {
        self.output(StepOutput::ExitCode)
    }

    /// The step's final status: `Succeeded`, `Failed`, `Error`, `Skipped`, …
    pub fn status(&self) -> Reference {
        self.output(StepOutput::Status)
    }

    /// The address of a daemon step (one built with `.daemon()`), while it runs.
    pub fn ip(&self) -> Reference {
        self.output(StepOutput::Ip)
    }
}

/// Lets a handle stand wherever a step name is expected (`depends_on`, `set_dependencies`).
impl AsRef<str> for StepHandle {
    fn as_ref(&self) -> &str {
        &self.name
    }
}

mod sealed {
    pub trait Sealed {}
}

/// What a step runs: one of the IR's step kinds. Sealed; it only selects the setters that make
/// sense for each kind (a script has an interpreter, a job has replicas, …).
pub trait StepRuns: sealed::Sealed {
    #[doc(hidden)]
    fn into_kind(self) -> StepKind;
}

macro_rules! step_kinds {
    ($($ty:ident => $variant:ident),* $(,)?) => {$(
        impl sealed::Sealed for $ty {}
        impl StepRuns for $ty {
            fn into_kind(self) -> StepKind {
                StepKind::$variant(self)
            }
        }
    )*};
}

step_kinds!(
    Container => Container,
    Script => Script,
    DistributedJob => Job,
    ResourceStep => Resource,
    SubWorkflow => Workflow,
    Suspend => Suspend,
);

/// A step being described; [`add`](StepBuilder::add) puts it into the workflow.
///
/// `K` is what the step runs (the IR's [`Container`], [`Script`], [`DistributedJob`], …); the
/// setters shared by every kind are below, the kind-specific ones further down.
#[must_use = "a step joins the workflow only when `.add()` is called"]
pub struct StepBuilder<'w, K: StepRuns> {
    wf: &'w mut WorkflowBuilder,
    /// Everything but the kind, which stays typed in `kind` until `add`.
    step: Step,
    kind: K,
}

impl<'w, K: StepRuns> StepBuilder<'w, K> {
    pub(crate) fn new(wf: &'w mut WorkflowBuilder, name: impl Into<String>, kind: K) -> Self {
        let placeholder = StepKind::Suspend(Suspend::default());
        StepBuilder {
            wf,
            step: Step::new(name, placeholder),
            kind,
        }
    }

    /// Adds the step to the workflow (inside any `when`/`map`/`concurrent`/`exec_while` being
    /// built) and returns its handle. Problems such as a duplicate name surface in `build()`.
    pub fn add(self) -> StepHandle {
        let StepBuilder { wf, step, kind } = self;
        wf.add_step(Step {
            kind: kind.into_kind(),
            ..step
        })
    }

    /// The finished IR step, without adding it, for changes this builder has no setter for;
    /// add it afterwards with [`WorkflowBuilder::add_step`].
    pub fn into_step(self) -> Step {
        Step {
            kind: self.kind.into_kind(),
            ..self.step
        }
    }

    pub fn description(mut self, text: impl Into<String>) -> Self {
        self.step.description = Some(text.into());
        self
    }

    /// Sets an environment variable; the value may hold references (see [`concat`](crate::concat)).
    pub fn env(mut self, name: impl Into<String>, value: impl Into<Template>) -> Self {
        self.step.env.insert(name.into(), value.into());
        self
    }

    /// Sets environment variable `env` from `key` of Kubernetes secret `secret`; the value never
    /// appears in the workflow.
    pub fn secret(
        mut self,
        env: impl Into<String>,
        secret: impl Into<String>,
        key: impl Into<String>,
    ) -> Self {
        self.step.secrets.push(SecretEnv {
            env: env.into(),
            secret: secret.into(),
            key: key.into(),
        });
        self
    }

    /// Declares an input parameter; the step's strings read it as
    /// [`this::input_parameter`](crate::this::input_parameter).
    pub fn input_parameter(mut self, name: impl Into<String>, value: impl Into<Template>) -> Self {
        self.step.inputs.parameters.push(InputParameter {
            name: name.into(),
            value: Some(value.into()),
        });
        self
    }

    /// Places another step's output artifact (`from`, e.g. `producer.artifact("data")`) at
    /// `path` before this step starts. This is an implicit dependency on that step.
    pub fn input_artifact(
        self,
        name: impl Into<String>,
        path: impl Into<String>,
        from: Reference,
    ) -> Self {
        self.push_input_artifact(name, path, ArtifactSource::From(from))
    }

    /// Places a file from external storage (S3, Git, HTTP, …) at `path` before the step starts.
    pub fn input_artifact_stored(
        self,
        name: impl Into<String>,
        path: impl Into<String>,
        storage: Storage,
    ) -> Self {
        self.push_input_artifact(name, path, ArtifactSource::Storage(storage))
    }

    fn push_input_artifact(
        mut self,
        name: impl Into<String>,
        path: impl Into<String>,
        source: ArtifactSource,
    ) -> Self {
        self.step.inputs.artifacts.push(InputArtifact {
            name: name.into(),
            path: path.into(),
            source: Some(source),
            optional: false,
        });
        self
    }

    /// Declares an output parameter read from the file at `path`, or from standard output when
    /// `path` is `None`. Other steps read it with [`StepHandle::parameter`].
    pub fn output_parameter(mut self, name: impl Into<String>, path: Option<&str>) -> Self {
        self.step.outputs.parameters.push(OutputParameter {
            name: name.into(),
            path: path.map(str::to_string),
            default: None,
        });
        self
    }

    /// Declares a file or directory the step writes at `path`, kept in the workflow's artifact
    /// repository. Other steps read it with [`StepHandle::artifact`].
    pub fn output_artifact(self, name: impl Into<String>, path: impl Into<String>) -> Self {
        self.push_output_artifact(name, path, None)
    }

    /// Like [`output_artifact`](Self::output_artifact), kept in `storage` instead.
    pub fn output_artifact_stored(
        self,
        name: impl Into<String>,
        path: impl Into<String>,
        storage: Storage,
    ) -> Self {
        self.push_output_artifact(name, path, Some(storage))
    }

    fn push_output_artifact(
        mut self,
        name: impl Into<String>,
        path: impl Into<String>,
        storage: Option<Storage>,
    ) -> Self {
        self.step.outputs.artifacts.push(OutputArtifact {
            name: name.into(),
            path: path.into(),
            storage,
            optional: false,
        });
        self
    }

    /// Retries a failed run up to `limit` more times, at once.
    pub fn retry(self, limit: u32) -> Self {
        self.retry_policy(Retry {
            limit,
            on: RetryOn::Failure,
            backoff: None,
            slow: None,
        })
    }

    /// Retries with a full policy (what counts as failure, backoff).
    pub fn retry_policy(mut self, retry: Retry) -> Self {
        self.step.retry = Some(Box::new(retry));
        self
    }

    /// Stops the step (as failed) after this long; millisecond precision.
    pub fn timeout(mut self, timeout: std::time::Duration) -> Self {
        self.step.timeout = Some(crate::ir_duration(timeout));
        self
    }

    pub fn resources(mut self, resources: Resources) -> Self {
        self.step.resources = Some(Box::new(resources));
        self
    }

    /// Runs the step only on nodes with this label.
    pub fn node_selector(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.step.node_selector.insert(key.into(), value.into());
        self
    }

    pub fn toleration(mut self, toleration: Toleration) -> Self {
        self.step.tolerations.push(toleration);
        self
    }

    /// Mounts a volume or volume claim declared on the workflow at `mount_path`.
    pub fn volume_mount(
        mut self,
        volume: impl Into<String>,
        mount_path: impl Into<String>,
    ) -> Self {
        self.step.volume_mounts.push(VolumeMount {
            name: volume.into(),
            mount_path: mount_path.into(),
            read_only: false,
            sub_path: None,
        });
        self
    }

    /// Memoizes the step: an identical earlier run's outputs are reused.
    pub fn cache(mut self, cache: CachePolicy) -> Self {
        self.step.cache = Some(Box::new(cache));
        self
    }

    /// Runs after `step` (a step or `concurrent` group name, or a [`StepHandle`]) even though
    /// this step reads none of its outputs.
    pub fn depends_on(mut self, step: impl AsRef<str>) -> Self {
        self.step.depends_on.push(step.as_ref().to_string());
        self
    }

    /// Lets the workflow go on, counting this step as done, even if it fails.
    pub fn continue_on_failure(mut self) -> Self {
        self.step.continue_on_failure = true;
        self
    }

    /// Runs the step only if `condition` holds; combined with `&&` with any enclosing
    /// [`WorkflowBuilder::when`].
    pub fn when(mut self, condition: Expr) -> Self {
        self.step.when = Some(match self.step.when.take() {
            Some(earlier) => crate::cond::conjoin(earlier, condition),
            None => condition,
        });
        self
    }
}

fn templates<T: Into<Template>>(items: impl IntoIterator<Item = T>) -> Vec<Template> {
    items.into_iter().map(Into::into).collect()
}

/// Step kinds that run a command with arguments: containers and distributed jobs.
pub trait CommandKind: StepRuns {
    #[doc(hidden)]
    fn command_mut(&mut self) -> &mut Vec<Template>;
    #[doc(hidden)]
    fn args_mut(&mut self) -> &mut Vec<Template>;
}

impl CommandKind for Container {
    fn command_mut(&mut self) -> &mut Vec<Template> {
        &mut self.command
    }
    fn args_mut(&mut self) -> &mut Vec<Template> {
        &mut self.args
    }
}

impl CommandKind for DistributedJob {
    fn command_mut(&mut self) -> &mut Vec<Template> {
        &mut self.command
    }
    fn args_mut(&mut self) -> &mut Vec<Template> {
        &mut self.args
    }
}

/// Setters of [`run_container`](WorkflowBuilder::run_container) and
/// [`run_job`](WorkflowBuilder::run_job) steps.
impl<K: CommandKind> StepBuilder<'_, K> {
    /// The command (the image's entrypoint when not given). Elements may hold references.
    pub fn command<T: Into<Template>>(mut self, command: impl IntoIterator<Item = T>) -> Self {
        *self.kind.command_mut() = templates(command);
        self
    }

    /// The arguments, e.g. `["-c", "echo hi"]`. To mix text and references, chain
    /// [`arg`](Self::arg) calls or pass `Template`s (from [`concat`](crate::concat)).
    pub fn args<T: Into<Template>>(mut self, args: impl IntoIterator<Item = T>) -> Self {
        *self.kind.args_mut() = templates(args);
        self
    }

    /// Appends one argument: text, a [`Reference`], an [`Item`](crate::Item) or a [`Template`].
    pub fn arg(mut self, arg: impl Into<Template>) -> Self {
        self.kind.args_mut().push(arg.into());
        self
    }
}

/// Setters of a [`run_container`](WorkflowBuilder::run_container) step.
impl StepBuilder<'_, Container> {
    pub fn working_dir(mut self, dir: impl Into<String>) -> Self {
        self.kind.working_dir = Some(dir.into());
        self
    }

    /// Makes the step a service (docs/spec.md, "Daemon steps"): Succeeded once started,
    /// running beside the later steps, which reach it at [`StepHandle::ip`].
    pub fn daemon(mut self) -> Self {
        self.kind.daemon = true;
        self
    }
}

/// Setters of a [`run_script`](WorkflowBuilder::run_script) step.
impl StepBuilder<'_, Script> {
    /// The image to run the script in (the workflow's default image when not given).
    pub fn image(mut self, image: impl Into<String>) -> Self {
        self.kind.image = Some(image.into());
        self
    }

    /// The interpreter, `python3` unless changed, e.g. `["bash"]` or `["python3", "-u"]`.
    pub fn command<T: Into<String>>(mut self, command: impl IntoIterator<Item = T>) -> Self {
        self.kind.command = command.into_iter().map(Into::into).collect();
        self
    }

    /// Makes the step a service, as a container step's `daemon`.
    pub fn daemon(mut self) -> Self {
        self.kind.daemon = true;
        self
    }
}

/// Setters of a [`run_job`](WorkflowBuilder::run_job) step.
impl StepBuilder<'_, DistributedJob> {
    /// Runs `count` replicas of `role` (`ps`/`worker`/`chief` for TensorFlow, `master`/`worker`
    /// for PyTorch, `launcher`/`worker` for MPI).
    pub fn replicas(mut self, role: impl Into<String>, count: u32) -> Self {
        self.kind.replicas.insert(role.into(), count);
        self
    }

    /// Which pods to delete when the job ends.
    pub fn clean_pod_policy(mut self, policy: CleanPodPolicy) -> Self {
        self.kind.clean_pod_policy = policy;
        self
    }
}

/// Setters of a [`run_resource`](WorkflowBuilder::run_resource) step.
impl StepBuilder<'_, ResourceStep> {
    /// The step succeeds once this holds on the object, e.g. `status.succeeded > 0`.
    pub fn success_condition(mut self, condition: impl Into<String>) -> Self {
        self.kind.success_condition = Some(condition.into());
        self
    }

    /// The step fails once this holds on the object, e.g. `status.failed > 3`.
    pub fn failure_condition(mut self, condition: impl Into<String>) -> Self {
        self.kind.failure_condition = Some(condition.into());
        self
    }
}

/// Setters of a [`run_workflow`](WorkflowBuilder::run_workflow) step.
impl StepBuilder<'_, SubWorkflow> {
    /// Passes a value (which may hold references) to the sub-workflow's parameter `name`.
    pub fn param(mut self, name: impl Into<String>, value: impl Into<Template>) -> Self {
        self.kind.params.insert(name.into(), value.into());
        self
    }
}

/// Setters of a [`suspend`](WorkflowBuilder::suspend) step.
impl StepBuilder<'_, Suspend> {
    /// Resumes by itself after this long instead of waiting to be resumed.
    pub fn duration(mut self, duration: std::time::Duration) -> Self {
        self.kind.duration = Some(crate::ir_duration(duration));
        self
    }
}
