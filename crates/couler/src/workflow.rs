//! [`WorkflowBuilder`]: workflow settings, step starters, control flow and `build()`.

use crate::cond::conjoin;
use crate::step::{StepBuilder, StepHandle};
use crate::{BuildError, Item};
use couler_ir::diag::suggest;
use couler_ir::expr::MAX_EXPR_OPERATORS;
use couler_ir::{
    CachePolicy, ConcurrencyPolicy, Container, Diagnostic, DistributedJob, Expr, Framework, Group,
    Literal, Map, MapOver, ParamType, PodGc, Reference, Repeat, ResourceAction, ResourceStep,
    Resources, Retry, Schedule, Script, Step, Storage, SubWorkflow, Suspend, Template, Ttl, Volume,
    VolumeClaim, VolumeSource, Workflow, WorkflowParam, default_interpreter, validate,
};
use serde_json::Value;
use std::collections::BTreeMap;
use std::ops::Range;

/// Builds a [`Workflow`] step by step, with the paper's programming interface (Table V).
///
/// Steps are started with `run_container`, `run_script`, `run_job`, … and added with `.add()`.
/// Control flow (`when`, `map`, `concurrent`, `exec_while`, `on_exit`) takes a closure: every
/// step added inside it gets the condition, the fan-out, the group or the loop. Nothing is
/// checked until [`build`](Self::build), which runs the IR's validation and reports every problem
/// at once, so no call here fails or panics.
#[derive(Debug)]
pub struct WorkflowBuilder {
    wf: Workflow,
    /// Problems only the builder can see (e.g. `exec_while` around two steps), for `build()`.
    problems: Vec<Diagnostic>,
    /// `dag` and `set_dependencies` calls, applied in `build()` so they may name steps that are
    /// added later.
    dependency_edits: Vec<DependencyEdit>,
}

#[derive(Debug)]
enum DependencyEdit {
    /// `step` runs after `on` (an edge of a `dag` path).
    Add { step: String, on: String },
    /// `step` runs after exactly `on`.
    Set { step: String, on: Vec<String> },
}

/// A workflow parameter's declaration: its type, default, description and allowed values.
///
/// Plain values convert into one, and their Rust type picks the parameter's [`ParamType`]:
/// `&str`/`String` a string, integers `int`, floats `float`, `bool`, a [`serde_json::Value`]
/// `json` (lists for `map`). So `wf.param("epochs", 10)` declares an `int` defaulting to 10, and
/// `Param::new(10).description("…")` adds documentation.
#[derive(Clone, Debug, PartialEq)]
pub struct Param {
    ty: ParamType,
    default: Option<Value>,
    description: Option<String>,
    allowed: Vec<Value>,
}

impl Param {
    /// A parameter with this default, overridable at submit time.
    pub fn new(default: impl Into<Param>) -> Self {
        default.into()
    }

    /// A parameter without a default: it must be given at submit time.
    pub fn required(ty: ParamType) -> Self {
        Param {
            ty,
            default: None,
            description: None,
            allowed: Vec::new(),
        }
    }

    pub fn description(mut self, text: impl Into<String>) -> Self {
        self.description = Some(text.into());
        self
    }

    /// Restricts the values the parameter accepts.
    pub fn allowed<T: Into<Value>>(mut self, values: impl IntoIterator<Item = T>) -> Self {
        self.allowed = values.into_iter().map(Into::into).collect();
        self
    }
}

macro_rules! param_defaults {
    ($ty:expr => $($rust:ty),*) => {$(
        impl From<$rust> for Param {
            fn from(v: $rust) -> Self {
                Param { default: Some(Value::from(v)), ..Param::required($ty) }
            }
        }
    )*};
}

param_defaults!(ParamType::String => &str, String);
param_defaults!(ParamType::Int => i32, i64, u32, u64);
param_defaults!(ParamType::Float => f32, f64);
param_defaults!(ParamType::Bool => bool);
param_defaults!(ParamType::Json => Value);

/// What a [`map`](WorkflowBuilder::map) fans out over, and how many instances may run at once.
#[derive(Clone, Debug, PartialEq)]
pub struct Over {
    over: MapOver,
    parallelism: Option<u32>,
}

impl Over {
    /// A fixed list: strings, numbers, or objects (`json!({"lr": 0.1})`) read with
    /// [`Item::field`].
    pub fn items<T: Into<Value>>(items: impl IntoIterator<Item = T>) -> Self {
        Over::new(MapOver::Items(items.into_iter().map(Into::into).collect()))
    }

    /// The integers of `range`, e.g. `Over::range(0..5)`.
    pub fn range(range: Range<i64>) -> Self {
        Over::range_step(range.start, range.end, 1)
    }

    /// `start, start+step, …` below `stop` (above it for a negative step), as Python's `range`.
    pub fn range_step(start: i64, stop: i64, step: i64) -> Self {
        Over::new(MapOver::Range { start, stop, step })
    }

    /// A JSON list known only at run time: an upstream step's result or output parameter, or a
    /// `json` workflow parameter.
    pub fn list(from: Reference) -> Self {
        Over::new(MapOver::From(from))
    }

    /// Runs at most `n` instances at once.
    pub fn parallelism(mut self, n: u32) -> Self {
        self.parallelism = Some(n);
        self
    }

    fn new(over: MapOver) -> Self {
        Over {
            over,
            parallelism: None,
        }
    }
}

impl From<Range<i64>> for Over {
    fn from(r: Range<i64>) -> Self {
        Over::range(r)
    }
}

impl From<Reference> for Over {
    fn from(r: Reference) -> Self {
        Over::list(r)
    }
}

impl<T: Into<Value>> From<Vec<T>> for Over {
    fn from(items: Vec<T>) -> Self {
        Over::items(items)
    }
}

impl<T: Into<Value>, const N: usize> From<[T; N]> for Over {
    fn from(items: [T; N]) -> Self {
        Over::items(items)
    }
}

impl WorkflowBuilder {
    /// A workflow named `name` (a DNS-1123 label: lowercase letters, digits and `-`).
    pub fn new(name: impl Into<String>) -> Self {
        WorkflowBuilder {
            wf: Workflow::new(name),
            problems: Vec::new(),
            dependency_edits: Vec::new(),
        }
    }

    // ---- workflow settings ---------------------------------------------------------------

    pub fn description(&mut self, text: impl Into<String>) -> &mut Self {
        self.wf.description = Some(text.into());
        self
    }

    pub fn label(&mut self, key: impl Into<String>, value: impl Into<String>) -> &mut Self {
        self.wf.labels.insert(key.into(), value.into());
        self
    }

    pub fn annotation(&mut self, key: impl Into<String>, value: impl Into<String>) -> &mut Self {
        self.wf.annotations.insert(key.into(), value.into());
        self
    }

    /// Declares a workflow parameter and returns the reference steps use to read it:
    /// `wf.param("lr", 0.01)`, or with a [`Param`] for a description, allowed values or no
    /// default.
    pub fn param(&mut self, name: impl Into<String>, param: impl Into<Param>) -> Reference {
        let Param {
            ty,
            default,
            description,
            allowed,
        } = param.into();
        let name = name.into();
        let reference = Reference::Param(name.clone());
        self.wf.params.push(WorkflowParam {
            name,
            ty,
            default,
            description,
            allowed,
        });
        reference
    }

    /// The image of every container or script step that names none.
    pub fn default_image(&mut self, image: impl Into<String>) -> &mut Self {
        self.wf.defaults.image = Some(image.into());
        self
    }

    pub fn default_retry(&mut self, retry: Retry) -> &mut Self {
        self.wf.defaults.retry = Some(retry);
        self
    }

    pub fn default_timeout(&mut self, timeout: std::time::Duration) -> &mut Self {
        self.wf.defaults.timeout = Some(crate::ir_duration(timeout));
        self
    }

    pub fn default_resources(&mut self, resources: Resources) -> &mut Self {
        self.wf.defaults.resources = Some(resources);
        self
    }

    pub fn default_cache(&mut self, cache: CachePolicy) -> &mut Self {
        self.wf.defaults.cache = Some(cache);
        self
    }

    /// At most `n` steps (map instances included) run at once.
    pub fn parallelism(&mut self, n: u32) -> &mut Self {
        self.wf.parallelism = Some(n);
        self
    }

    /// A deadline for the whole run (the workflow's `timeout`): past it, running steps are
    /// stopped, the run fails and the exit handler still runs; millisecond precision.
    pub fn timeout(&mut self, timeout: std::time::Duration) -> &mut Self {
        self.wf.timeout = Some(crate::ir_duration(timeout));
        self
    }

    /// Runs the workflow on a five-field cron schedule, e.g. `0 2 * * *`.
    pub fn cron(&mut self, cron: impl Into<String>) -> &mut Self {
        self.schedule(Schedule {
            cron: cron.into(),
            timezone: None,
            concurrency_policy: ConcurrencyPolicy::Allow,
            starting_deadline: None,
        })
    }

    /// Runs the workflow on a schedule with a time zone or concurrency policy.
    pub fn schedule(&mut self, schedule: Schedule) -> &mut Self {
        self.wf.schedule = Some(schedule);
        self
    }

    pub fn service_account(&mut self, name: impl Into<String>) -> &mut Self {
        self.wf.service_account = Some(name.into());
        self
    }

    pub fn image_pull_secret(&mut self, name: impl Into<String>) -> &mut Self {
        self.wf.image_pull_secrets.push(name.into());
        self
    }

    /// Declares a volume that steps mount with `volume_mount`.
    pub fn volume(&mut self, name: impl Into<String>, source: VolumeSource) -> &mut Self {
        self.wf.volumes.push(Volume {
            name: name.into(),
            source,
        });
        self
    }

    /// Declares a volume created for the run and deleted after it.
    pub fn volume_claim(&mut self, claim: VolumeClaim) -> &mut Self {
        self.wf.volume_claims.push(claim);
        self
    }

    pub fn ttl(&mut self, ttl: Ttl) -> &mut Self {
        self.wf.ttl = Some(ttl);
        self
    }

    /// When the engine deletes the pods of finished steps.
    pub fn pod_gc(&mut self, pod_gc: PodGc) -> &mut Self {
        self.wf.pod_gc = Some(pod_gc);
        self
    }

    /// Where output artifacts go when they name no storage.
    pub fn artifact_repository(&mut self, storage: Storage) -> &mut Self {
        self.wf.artifact_repository = Some(storage);
        self
    }

    // ---- steps ---------------------------------------------------------------------------

    /// A step that runs a container image (paper: `couler.run_container`).
    pub fn run_container(
        &mut self,
        name: impl Into<String>,
        image: impl Into<String>,
    ) -> StepBuilder<'_, Container> {
        let container = Container {
            image: Some(image.into()),
            ..Container::default()
        };
        StepBuilder::new(self, name, container)
    }

    /// A container step that runs `command` in the workflow's
    /// [`default_image`](Self::default_image).
    pub fn run_command<T: Into<Template>>(
        &mut self,
        name: impl Into<String>,
        command: impl IntoIterator<Item = T>,
    ) -> StepBuilder<'_, Container> {
        let container = Container {
            command: command.into_iter().map(Into::into).collect(),
            ..Container::default()
        };
        StepBuilder::new(self, name, container)
    }

    /// A step that runs inline source with `python3`, or the interpreter set with `.command`
    /// (paper: `couler.run_script`). The image is the workflow's default unless `.image` is set.
    pub fn run_script(
        &mut self,
        name: impl Into<String>,
        source: impl Into<Template>,
    ) -> StepBuilder<'_, Script> {
        let script = Script {
            image: None,
            command: default_interpreter(),
            source: source.into(),
            daemon: false,
        };
        StepBuilder::new(self, name, script)
    }

    /// A distributed training job (paper: `couler.run_job`); add replicas with `.replicas`.
    pub fn run_job(
        &mut self,
        name: impl Into<String>,
        framework: Framework,
        image: impl Into<String>,
    ) -> StepBuilder<'_, DistributedJob> {
        let job = DistributedJob {
            framework,
            image: image.into(),
            command: Vec::new(),
            args: Vec::new(),
            replicas: BTreeMap::new(),
            clean_pod_policy: Default::default(),
        };
        StepBuilder::new(self, name, job)
    }

    /// A step that creates or changes a Kubernetes object (`manifest`, YAML text).
    pub fn run_resource(
        &mut self,
        name: impl Into<String>,
        action: ResourceAction,
        manifest: impl Into<Template>,
    ) -> StepBuilder<'_, ResourceStep> {
        let resource = ResourceStep {
            action,
            manifest: manifest.into(),
            success_condition: None,
            failure_condition: None,
        };
        StepBuilder::new(self, name, resource)
    }

    /// A step that runs another workflow: a spec file path or a registered template name.
    pub fn run_workflow(
        &mut self,
        name: impl Into<String>,
        reference: impl Into<String>,
    ) -> StepBuilder<'_, SubWorkflow> {
        let sub = SubWorkflow {
            reference: reference.into(),
            params: BTreeMap::new(),
        };
        StepBuilder::new(self, name, sub)
    }

    /// A step that pauses the workflow until resumed (or for `.duration`).
    pub fn suspend(&mut self, name: impl Into<String>) -> StepBuilder<'_, Suspend> {
        StepBuilder::new(self, name, Suspend::default())
    }

    /// Adds a step built by hand as IR, inside whatever control flow is being built.
    pub fn add_step(&mut self, step: Step) -> StepHandle {
        let handle = StepHandle::new(&step.name);
        self.wf.steps.push(step);
        handle
    }

    // ---- control flow --------------------------------------------------------------------

    /// Runs `body` and returns the steps it added, with its result.
    fn scope<R>(&mut self, body: impl FnOnce(&mut Self) -> R) -> (usize, R) {
        let start = self.wf.steps.len();
        let out = body(self);
        (start.min(self.wf.steps.len()), out)
    }

    /// Every step added inside `body` runs only if `condition` holds (paper: `couler.when`).
    /// Nested `when`s and a step's own `.when` are joined with `&&`, outermost first.
    pub fn when<R>(&mut self, condition: Expr, body: impl FnOnce(&mut Self) -> R) -> R {
        let (start, out) = self.scope(body);
        for step in &mut self.wf.steps[start..] {
            step.when = Some(match step.when.take() {
                Some(inner) => conjoin(condition.clone(), inner),
                None => condition.clone(),
            });
        }
        out
    }

    /// Every step added inside `body` runs once per element of `over` (paper: `couler.map`);
    /// `body` gets the [`Item`] that stands for the current element.
    pub fn map<R>(&mut self, over: impl Into<Over>, body: impl FnOnce(&mut Self, Item) -> R) -> R {
        let Over { over, parallelism } = over.into();
        let (start, out) = self.scope(|wf| body(wf, Item::new()));
        if start == self.wf.steps.len() {
            self.problem(
                None,
                "`map` added no step",
                "add the steps to fan out inside its closure",
            );
        }
        for i in start..self.wf.steps.len() {
            let step = &mut self.wf.steps[i];
            if step.map.is_some() {
                let message = format!("step `{}` is inside two `map`s", step.name);
                self.problem(
                    Some(format!("steps[{i}].map")),
                    message,
                    "a step fans out over one list: map over object items, \
                     or put the inner map in a sub-workflow",
                );
            } else {
                step.map = Some(Box::new(Map {
                    over: over.clone(),
                    parallelism,
                }));
            }
        }
        out
    }

    /// The steps added inside `body` form group `name` and start together (paper:
    /// `couler.concurrent`); another step can depend on the whole group by its name.
    pub fn concurrent<R>(
        &mut self,
        name: impl Into<String>,
        body: impl FnOnce(&mut Self) -> R,
    ) -> R {
        let (start, out) = self.scope(body);
        let steps = self.wf.steps[start..]
            .iter()
            .map(|s| s.name.clone())
            .collect();
        self.wf.groups.push(Group {
            name: name.into(),
            steps,
        });
        out
    }

    /// Runs the one step added inside `body` again while `condition` holds, at most
    /// `max_iterations` times (paper: `couler.exec_while`). `condition` gets that step's handle,
    /// since a loop condition reads the step's own outputs.
    pub fn exec_while<R>(
        &mut self,
        condition: impl FnOnce(&StepHandle) -> Expr,
        max_iterations: u32,
        body: impl FnOnce(&mut Self) -> R,
    ) -> R {
        let (start, out) = self.scope(body);
        let Some(index) = self.only_step_since(start, "exec_while") else {
            return out;
        };
        let step = &mut self.wf.steps[index];
        if step.repeat.is_some() {
            let message = format!("step `{}` is inside two `exec_while`s", step.name);
            self.problem(
                Some(format!("steps[{index}].repeat")),
                message,
                "join the conditions with `.and(…)` in one `exec_while`",
            );
            return out;
        }
        let handle = StepHandle::new(&step.name);
        step.repeat = Some(Box::new(Repeat {
            condition: condition(&handle),
            max_iterations,
        }));
        out
    }

    /// Makes the steps added inside `body` the exit handler: they run after everything else,
    /// whatever happened, in the order of their own dependencies, and may read
    /// [`workflow_status`](crate::workflow_status). Called again, it adds more exit steps.
    pub fn on_exit<R>(&mut self, body: impl FnOnce(&mut Self) -> R) -> R {
        let (start, out) = self.scope(body);
        if self.wf.steps.len() == start {
            self.problem(
                None,
                "`on_exit` added no step",
                "add the exit handler's steps inside the closure",
            );
            return out;
        }
        let exits: Vec<Step> = self.wf.steps.drain(start..).collect();
        self.wf.on_exit.extend(exits);
        out
    }

    /// The index of the single step added since `start`, or a problem saying why not.
    fn only_step_since(&mut self, start: usize, what: &str) -> Option<usize> {
        let added = self.wf.steps.len() - start;
        if added == 1 {
            return Some(start);
        }
        let names: Vec<&str> = self.wf.steps[start..]
            .iter()
            .map(|s| s.name.as_str())
            .collect();
        let message = format!(
            "`{what}` needs exactly one step, but {added} were added inside it{}",
            if names.is_empty() {
                String::new()
            } else {
                format!(" (`{}`)", names.join("`, `"))
            }
        );
        self.problem(
            None,
            message,
            "add one step in the closure; to repeat several, run them as a sub-workflow",
        );
        None
    }

    /// Explicit dependencies as paths (paper: `couler.dag`, Code 4): in each path every step
    /// runs after the one before it, e.g. `dag(&[&["a", "b", "d"], &["a", "c", "d"]])` is a
    /// diamond. Steps may be added before or after this call.
    pub fn dag(&mut self, paths: &[&[&str]]) -> &mut Self {
        for path in paths {
            for pair in path.windows(2) {
                self.dependency_edits.push(DependencyEdit::Add {
                    step: pair[1].to_string(),
                    on: pair[0].to_string(),
                });
            }
        }
        self
    }

    /// Makes `step` run after exactly `deps` (steps or groups), replacing earlier explicit
    /// dependencies (paper: `couler.set_dependencies`).
    pub fn set_dependencies<D: AsRef<str>>(
        &mut self,
        step: impl AsRef<str>,
        deps: impl IntoIterator<Item = D>,
    ) -> &mut Self {
        self.dependency_edits.push(DependencyEdit::Set {
            step: step.as_ref().to_string(),
            on: deps.into_iter().map(|d| d.as_ref().to_string()).collect(),
        });
        self
    }

    // ---- build ---------------------------------------------------------------------------

    /// Validates the workflow and returns it, or every problem found.
    pub fn build(self) -> Result<Workflow, BuildError> {
        self.build_with_warnings().map(|(wf, _)| wf)
    }

    /// Like [`build`](Self::build), also returning the warnings (e.g. a map over no items).
    pub fn build_with_warnings(mut self) -> Result<(Workflow, Vec<Diagnostic>), BuildError> {
        self.apply_dependency_edits();
        self.check_spec_round_trip();
        let mut diagnostics = std::mem::take(&mut self.problems);
        diagnostics.extend(validate(&self.wf));
        if diagnostics.iter().any(Diagnostic::is_error) {
            return Err(BuildError::new(&self.wf, diagnostics));
        }
        Ok((self.wf, diagnostics))
    }

    fn problem(&mut self, path: Option<String>, message: impl Into<String>, help: &str) {
        let mut d = Diagnostic::error(message).help(help);
        d.path = path;
        self.problems.push(d);
    }

    fn apply_dependency_edits(&mut self) {
        for edit in std::mem::take(&mut self.dependency_edits) {
            let (name, call) = match &edit {
                DependencyEdit::Add { step, .. } => (step, "dag"),
                DependencyEdit::Set { step, .. } => (step, "set_dependencies"),
            };
            let all = self.wf.steps.iter_mut().chain(self.wf.on_exit.iter_mut());
            let Some(step) = all.into_iter().find(|s| &s.name == name) else {
                let names = self.wf.steps.iter().chain(&self.wf.on_exit);
                let names = names.map(|s| s.name.as_str());
                let help = match suggest(name, names) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => "add the step, or check the spelling".to_string(),
                };
                let message = format!("`{call}` names unknown step `{name}`");
                self.problem(None, message, &help);
                continue;
            };
            match edit {
                DependencyEdit::Add { on, .. } => {
                    if !step.depends_on.contains(&on) {
                        step.depends_on.push(on);
                    }
                }
                DependencyEdit::Set { on, .. } => step.depends_on = on,
            }
        }
    }

    /// Text that the spec format would read differently — a literal `{{params.x}}` (it would
    /// become a reference) or a NaN in a condition — is refused, so every built workflow prints
    /// as a spec that loads back to the same IR.
    fn check_spec_round_trip(&mut self) {
        let mut found = Vec::new();
        let steps = self.wf.steps.iter().enumerate();
        let steps = steps.map(|(i, s)| (format!("steps[{i}]"), s));
        let exit = self
            .wf
            .on_exit
            .iter()
            .enumerate()
            .map(|(i, s)| (format!("onExit[{i}]"), s));
        for (at, step) in steps.chain(exit) {
            for (rel, t) in step.templates() {
                if Template::parse(&t.to_string()).as_ref() != Ok(t) {
                    let message = format!(
                        "the text `{t}` holds `{{{{…}}}}` that a spec reads as a reference"
                    );
                    let help = "pass references typed, with `concat([…])`, not as `{{…}}` text";
                    found.push((format!("{at}.{rel}"), message, help));
                }
            }
            let conditions = step.when.iter().map(|e| ("when", e));
            let loops = step.repeat.iter().map(|r| ("repeat.while", &r.condition));
            for (rel, e) in conditions.chain(loops) {
                if let Some(why) = unprintable_condition(e) {
                    let message = format!("this condition cannot be written in a spec: {why}");
                    let help = "simplify it, or compute the test in a step and compare its output";
                    found.push((format!("{at}.{rel}"), message, help));
                }
            }
        }
        for (path, message, help) in found {
            self.problem(Some(path), message, help);
        }
    }
}

/// Why `e` would not survive printing and parsing back, if it would not. Walks the tree without
/// recursion before printing it, since printing recurses as deep as the tree.
fn unprintable_condition(e: &Expr) -> Option<String> {
    let mut operators = 0;
    let mut stack = vec![e];
    while let Some(e) = stack.pop() {
        match e {
            Expr::Literal(Literal::Number(n)) if !n.is_finite() => {
                return Some(format!(
                    "it compares with `{n}`, which is not a finite number"
                ));
            }
            Expr::Literal(_) | Expr::Ref(_) => {}
            Expr::Compare { left, right, .. } | Expr::And(left, right) | Expr::Or(left, right) => {
                operators += 1;
                stack.extend([&**left, &**right]);
            }
            Expr::Not(inner) => {
                operators += 1;
                stack.push(inner);
            }
        }
    }
    if operators > MAX_EXPR_OPERATORS {
        return Some(format!(
            "it has {operators} operators, more than the {MAX_EXPR_OPERATORS} a spec allows"
        ));
    }
    match Expr::parse(&e.to_string()) {
        Ok(back) if back == *e => None,
        Ok(back) => Some(format!("it reads back as `{back}`")),
        Err(why) => Some(why),
    }
}
