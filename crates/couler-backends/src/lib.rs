//! `couler-backends`: lowering Couler's engine-independent IR to workflow engines.
//!
//! Every backend implements [`Backend`]: it has a name, a [capability matrix](Backend::capabilities)
//! saying how it supports each IR [`Feature`] ([`Support::Native`], [`Support::Lowered`] with how,
//! or [`Support::Unsupported`]), and a [`lower`](Backend::lower) that turns a validated
//! [`couler_ir::Workflow`] into a set of named files ([`Output`]).
//!
//! Callers use [`Backend::compile`], which runs [`check_support`] before the engine's `lower`:
//! it compares [`features_used`] (the features one workflow uses, each with the step that uses
//! it) with the backend's matrix, and an unsupported feature is a [`CompileError::Unsupported`]
//! naming the feature, the step and the backends that do support it. Engines never call it
//! themselves; [`SplitLowering`] (`couler split`) checks the same way.
//!
//! Built: [`argo::Argo`] (Argo Workflows YAML: `Workflow`, `WorkflowTemplate` or
//! `CronWorkflow`), [`airflow::Airflow`] (one Airflow 3 DAG file, Python), [`tekton::Tekton`]
//! (Tekton Pipelines `tekton.dev/v1` Tasks, Pipeline and PipelineRun) and [`local::Local`] (the
//! local runtime's row of the matrix; `couler run` executes the IR itself), all listed in
//! [`backends`].
//!
//! ```
//! use couler_backends::{Backend, Options, argo::Argo};
//! let (wf, _) = couler_ir::spec::load(
//!     "apiVersion: couler.dev/v1alpha1\nkind: Workflow\nname: hello\nsteps:\n  - name: say\n    container: {image: alpine:3.19, command: [echo, hi]}\n",
//!     couler_ir::Format::Yaml,
//! ).unwrap();
//! let out = Argo.compile(&wf, &Options::default()).unwrap();
//! assert!(out.files["hello.yaml"].contains("kind: Workflow"));
//! ```
//!
//! Output is deterministic: documents are built as `serde_json::Value` trees in a fixed order
//! (never by string concatenation, so quoting and escaping are by construction) and printed as
//! YAML by [`yaml::print`] (each engine's key order first), or as Python whose every user
//! string is a literal ([`airflow::python`]); equal IR gives equal bytes.
//!
//! Airflow and Tekton tasks run the in-task launcher (`couler launch`), so step semantics there
//! are the local runtime's; what a task hands the launcher is the launcher protocol
//! (`couler_ir::launch_protocol`, docs/launcher.md), each task's workflow a slice
//! ([`LauncherSlices`]).
//!
//! ## The Argo backend in brief
//!
//! - Entrypoint: a steps template when the workflow is a sequence of parallel groups, otherwise a
//!   DAG template; one task per step, one template per distinct step definition (identical
//!   definitions share one template).
//! - References render by kind and scope ([`argo`]'s `render` module): `params.N` →
//!   `{{workflow.parameters.N}}`, another step's output inside a step → a generated input
//!   parameter passed as `{{tasks.S.outputs.…}}`, `item` → `{{item}}`; conditions → one expr
//!   tag with the local comparison rule. A literal `{{` in user text is written `{{='{{'}}` so
//!   Argo never tries to resolve it.
//! - `map` → `withItems`/`withSequence`/`withParam` inside a DAG template around the loop,
//!   `repeat` → a recursive steps template with an iteration counter, distributed jobs and
//!   sub-workflows → resource templates, policies → `retryStrategy`, `activeDeadlineSeconds`,
//!   `memoize`, … (see `docs/argo.md`).
//! - [`argo::lint::lint`] makes the semantic checks of Argo's linter; the tests also validate
//!   every emitted document against Argo's JSON Schema and load it into hera's models.
//!
//! ## Adding a backend
//!
//! Add a module beside `argo` with a type implementing [`Backend`] (its [`Backend::support`]
//! row of the matrix and its [`Backend::lower`]), and list it in [`backends`]; `couler
//! backends` and the `supported_by` of every error pick it up.

pub mod airflow;
pub mod argo;
pub mod capability;
pub mod k8s;
pub mod local;
pub mod lowering;
pub mod tekton;
pub mod yaml;

pub use capability::{Feature, Support, Use, check_support, features_used, kind_feature};

use couler_ir::{Step, StepKind, Workflow};
use std::collections::{BTreeMap, HashMap};
use std::fmt;

/// Linux's limit on one environment string (`MAX_ARG_STRLEN`, 32 pages), `NAME=value` included:
/// `execve` fails with E2BIG beyond it, so a task whose launcher input (`COULER_TASK`) would not
/// fit gets it in a file instead (docs/launcher.md, "The task").
pub const ENV_STRING_LIMIT: usize = 128 * 1024;

/// Whether `NAME=value` fits one environment string ([`ENV_STRING_LIMIT`], its NUL included).
pub fn fits_env_string(name: &str, value: &str) -> bool {
    fits_env_len(name, value.len())
}

/// Whether `NAME=value` fits one environment string, for a value of `len` bytes.
pub fn fits_env_len(name: &str, len: usize) -> bool {
    name.len() + 1 + len < ENV_STRING_LIMIT
}

/// What kind of top-level document to emit (for engines that have several).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Kind {
    /// A runnable workflow (for Argo: a `Workflow`; with a `schedule`, see [`Kind::CronWorkflow`]).
    #[default]
    Workflow,
    /// A reusable, registered template (Argo `WorkflowTemplate`).
    WorkflowTemplate,
    /// A scheduled workflow (Argo `CronWorkflow`); needs the IR's `schedule`.
    CronWorkflow,
}

/// Options of a compilation.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// The document kind; `None` picks `CronWorkflow` when the workflow has a schedule and
    /// `Workflow` otherwise.
    pub kind: Option<Kind>,
    /// Share one template between steps whose definitions are identical (default on).
    pub no_template_reuse: bool,
    /// Airflow: the operator each task runs its step with.
    pub operator: Operator,
    /// Airflow: the DAG's id and file stem (a DNS-1123 label); default: the workflow's name,
    /// which `workflow.name` keeps reading (`couler server` gives each run's DAG its own id).
    pub dag_id: Option<String>,
    /// Airflow: the command that runs `couler launch` inside a task (default `couler`, found
    /// on the task's PATH). Tekton: the path of `couler` inside the launcher image.
    pub launcher: Option<String>,
    /// Tekton (and Airflow's Kubernetes and Docker operators): the image that carries the
    /// `couler` binary, copied into each task to run the launcher.
    pub launcher_image: Option<String>,
    /// Where tasks store and fetch artifacts (a directory or `s3://bucket/prefix`); default:
    /// the workflow's `artifactRepository`.
    pub artifact_store: Option<String>,
    /// The `name:` of each sub-workflow spec file a step references (`ref` → name), read by
    /// the caller; the engine object of such a step is named after it, as the child compiled
    /// alone is. A `ref` missing here is named by [`sub_workflow_name`].
    pub sub_workflow_names: BTreeMap<String, String>,
    /// Argo: the workflow controller runs with `DISABLE_MAX_RECURSION=true`, so a `repeat`
    /// may pass the recursion limit's [`argo::limits::MAX_REPEAT`] iterations.
    pub no_recursion_limit: bool,
    /// Tekton: compile a workflow `parallelism`, which no Tekton object can enforce, by dropping
    /// it with a warning (refused otherwise).
    pub ignore_parallelism: bool,
}

impl Options {
    /// The engine object (Argo WorkflowTemplate, Airflow DAG) a sub-workflow step runs.
    pub fn sub_workflow_name(&self, reference: &str) -> String {
        match self.sub_workflow_names.get(reference) {
            Some(name) => name.clone(),
            None => sub_workflow_name(reference),
        }
    }
}

/// How an Airflow task runs its step.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Operator {
    /// A host command on the Airflow worker (`BashOperator`).
    #[default]
    Host,
    /// A pod per task (`KubernetesPodOperator`).
    Kubernetes,
    /// A container per task on the worker's Docker (`DockerOperator`).
    Docker,
}

/// The result of a compilation: named files plus warnings.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Output {
    /// File name → contents, in name order.
    pub files: BTreeMap<String, String>,
    /// Things the user should know (size limits, lossy lowerings).
    pub warnings: Vec<String>,
}

impl Output {
    /// Total size of all files in bytes.
    pub fn size(&self) -> usize {
        self.files.values().map(String::len).sum()
    }
}

/// Why a compilation failed.
#[derive(Clone, Debug, PartialEq)]
pub enum CompileError {
    /// The workflow uses a feature this backend cannot express.
    Unsupported {
        feature: Feature,
        /// The step using it (`None` for a workflow-level feature).
        step: Option<String>,
        backend: &'static str,
        /// Backends that do support it.
        supported_by: Vec<&'static str>,
        /// More detail, when there is any.
        detail: Option<String>,
    },
    /// The workflow is not valid for this backend (e.g. `--kind cron-workflow` without a schedule).
    Invalid(String),
}

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CompileError::Unsupported {
                feature,
                step,
                backend,
                supported_by,
                detail,
            } => {
                write!(f, "{backend} does not support {}", feature.describe())?;
                if let Some(s) = step {
                    write!(f, " (used by step `{s}`)")?;
                }
                if let Some(d) = detail {
                    write!(f, ": {d}")?;
                }
                if supported_by.is_empty() {
                    write!(f, "; no backend supports it yet")
                } else {
                    write!(f, "; supported by: {}", supported_by.join(", "))
                }
            }
            CompileError::Invalid(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for CompileError {}

/// An engine backend.
pub trait Backend {
    /// Short name, as on the command line (`argo`).
    fn name(&self) -> &'static str;
    /// How this backend supports `feature`.
    fn support(&self, feature: Feature) -> Support;
    /// The whole capability matrix row of this backend, in [`Feature::ALL`] order.
    fn capabilities(&self) -> Vec<(Feature, Support)> {
        Feature::ALL.iter().map(|&f| (f, self.support(f))).collect()
    }
    /// Compiles a validated workflow to this engine's files: the capability check
    /// ([`check_support`]: an unsupported feature is a [`CompileError::Unsupported`] naming the
    /// feature, the step and the backends that support it), then the engine's [`lower`](Self::lower).
    /// Engines implement `lower` only; this method is not overridden, so no lowering runs
    /// unchecked.
    fn compile(&self, wf: &Workflow, options: &Options) -> Result<Output, CompileError> {
        check_support(self, wf)?;
        self.lower(wf, options)
    }
    /// The engine's lowering of a workflow whose features [`compile`](Self::compile) checked
    /// against [`support`](Self::support). Call `compile`, not this.
    fn lower(&self, wf: &Workflow, options: &Options) -> Result<Output, CompileError>;
    /// How this engine runs a split workflow (`couler split`), if it can.
    fn split_lowering(&self) -> Option<&dyn SplitLowering> {
        None
    }
}

/// Where a split workflow's artifacts that cross a cut may travel for an engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExchangeKinds {
    /// Only an object store (`s3://…`): the parts run in pods that share no file system.
    ObjectStore,
    /// Only a directory every part's tasks can read (the workers' file system or a shared
    /// mount): the engine's tasks run the launcher, which reads `storage: local` only.
    Directory,
    /// An object store, or a directory every part's tasks can read (one machine, a shared mount).
    ObjectStoreOrDirectory,
    /// A directory under this path inside the tasks' containers: a volume the lowering mounts
    /// in every part's tasks at that path (Tekton: the run's artifact workspace, shared with
    /// the parts' runs).
    Volume(&'static str),
}

/// The lowering of a split workflow for one engine (`couler split --target NAME`): the parts
/// come from `couler_opt::split` as IR (children, and a parent whose sub-workflow steps run
/// them in dependency order); this measures steps on the engine's emitted document and writes
/// the engine's files for parent and children.
///
/// As with [`Backend::compile`], the capability check has one place: [`Self::step_bytes`] and
/// [`Self::compile_split`] check every workflow they are given, and engines implement only
/// [`Self::measure_steps`] and [`Self::lower_split`].
pub trait SplitLowering: Backend {
    /// Default `--max-bytes` of one part's emitted document (the engine's object limit), if any.
    fn default_max_bytes(&self) -> Option<u64>;
    /// Where values crossing a cut can travel.
    fn exchange_kinds(&self) -> ExchangeKinds;
    /// Each step's share of the emitted document, and the rest (the fixed part): a part's
    /// document is at most the fixed part plus its steps' shares, up to the few bytes that cut
    /// artifacts add (the caller compiles each part and checks). Checks `wf` first
    /// ([`check_support`]); not overridden.
    fn step_bytes(
        &self,
        wf: &Workflow,
        options: &Options,
    ) -> Result<(Vec<u64>, u64), CompileError> {
        check_support(self, wf)?;
        self.measure_steps(wf, options)
    }
    /// The engine's measure behind [`Self::step_bytes`], of a checked workflow.
    fn measure_steps(
        &self,
        wf: &Workflow,
        options: &Options,
    ) -> Result<(Vec<u64>, u64), CompileError>;
    /// The file a child is written to, from the file name the parent's step references
    /// (`NAME-part-1.yaml`): the same name unless the engine's files have another extension.
    fn child_file(&self, reference: &str) -> String {
        reference.to_string()
    }
    /// The files of a split workflow: one per child under [`Self::child_file`] of the name
    /// the parent's steps reference (`children[i].0`; the caller measures each child by it),
    /// and the parent's (any other names: every file that is not a child's counts as the
    /// parent's). Checks every child, then the parent ([`check_support`]); not overridden.
    fn compile_split(
        &self,
        parent: &Workflow,
        children: &[(String, Workflow)],
        options: &Options,
    ) -> Result<BTreeMap<String, String>, CompileError> {
        for (_, child) in children {
            check_support(self, child)?;
        }
        check_support(self, parent)?;
        self.lower_split(parent, children, options)
    }
    /// The engine's lowering behind [`Self::compile_split`], of checked workflows.
    fn lower_split(
        &self,
        parent: &Workflow,
        children: &[(String, Workflow)],
        options: &Options,
    ) -> Result<BTreeMap<String, String>, CompileError>;
}

/// A use of a sub-workflow step that an engine which starts the child run and waits for it
/// cannot lower: `map`, `repeat` or `when` on the step, or a read of its outcome (the child's
/// run returns no outputs or status to its parent). Returns the step and what to do instead.
pub(crate) fn sub_workflow_misuse<'w>(
    wf: &'w Workflow,
    engine: &str,
    child_run: &str,
) -> Option<(&'w Step, String)> {
    let is_sub = |s: &Step| matches!(s.kind, StepKind::Workflow(_));
    let subs: Vec<&str> = wf
        .steps
        .iter()
        .chain(&wf.on_exit)
        .filter(|s| is_sub(s))
        .map(|s| s.name.as_str())
        .collect();
    for s in wf.steps.iter().chain(&wf.on_exit) {
        if is_sub(s) && (s.map.is_some() || s.repeat.is_some() || s.when.is_some()) {
            return Some((
                s,
                format!(
                    "a sub-workflow step with `map`, `repeat` or `when` has no {engine} lowering ({child_run} is one task); put the condition or loop inside the sub-workflow"
                ),
            ));
        }
        for (path, r) in s.references() {
            if let Some(from) = r.step_name()
                && subs.contains(&from)
            {
                return Some((
                    s,
                    format!(
                        "`{path}` reads `{{{{{r}}}}}`, an outcome of the sub-workflow step `{from}`; {child_run} returns no outputs or status to its parent (order the steps with `dependsOn` instead)"
                    ),
                ));
            }
        }
    }
    None
}

/// The engine object a sub-workflow step runs (Argo: a WorkflowTemplate, Airflow: a DAG) when
/// the caller did not read the child's name ([`Options::sub_workflow_name`]): a registered
/// name as it is, a spec file path by its file stem.
pub(crate) fn sub_workflow_name(reference: &str) -> String {
    let last = reference.rsplit('/').next().unwrap_or(reference);
    let stem = last
        .strip_suffix(".yaml")
        .or_else(|| last.strip_suffix(".yml"))
        .or_else(|| last.strip_suffix(".json"))
        .unwrap_or(last);
    couler_ir::validate::to_dns1123(stem)
}

/// The workflows launcher tasks need (docs/launcher.md, "The task"), for one workflow: the
/// workflow's own fields, the steps a task runs whole, and a stub of each step they read
/// ([`launcher_stub`]); an exit step's slice also stubs the exit steps and the main steps with
/// `continueOnFailure`, for its derived `workflow.status`. So a task's input grows with what
/// its steps read, not with the workflow: the whole workflow in every task would make the
/// engine's documents grow with steps × tasks, and one environment string may not pass
/// 128 KiB ([`ENV_STRING_LIMIT`]; a slice that does, a fan-in's, travels in a file). Orders
/// (`dependsOn`, groups) are the engine's business and are left out.
///
/// Built once per workflow, so that each slice costs what it holds, not the workflow's size.
pub struct LauncherSlices<'a> {
    wf: &'a Workflow,
    /// Step name → (is an exit step, its index in `steps` or `on_exit`).
    index: HashMap<&'a str, (bool, usize)>,
    /// What an exit step's slice stubs besides what it references.
    exit_reads: Vec<&'a str>,
}

impl<'a> LauncherSlices<'a> {
    pub fn new(wf: &'a Workflow) -> Self {
        let main = wf
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| (s.name.as_str(), (false, i)));
        let exit = wf
            .on_exit
            .iter()
            .enumerate()
            .map(|(i, s)| (s.name.as_str(), (true, i)));
        let exempt = wf.steps.iter().filter(|s| s.continue_on_failure);
        LauncherSlices {
            wf,
            index: main.chain(exit).collect(),
            exit_reads: exempt.chain(&wf.on_exit).map(|s| s.name.as_str()).collect(),
        }
    }

    /// The workflow's own fields: no steps, exit steps or groups.
    pub fn head(&self) -> Workflow {
        let Workflow {
            api_version,
            kind,
            name,
            description,
            labels,
            annotations,
            params,
            defaults,
            parallelism,
            timeout,
            schedule,
            service_account,
            image_pull_secrets,
            volumes,
            volume_claims,
            ttl,
            pod_gc,
            artifact_repository,
            groups: _,
            steps: _,
            on_exit: _,
        } = self.wf;
        Workflow {
            api_version: api_version.clone(),
            kind: kind.clone(),
            name: name.clone(),
            description: description.clone(),
            labels: labels.clone(),
            annotations: annotations.clone(),
            params: params.clone(),
            defaults: defaults.clone(),
            parallelism: *parallelism,
            timeout: *timeout,
            schedule: schedule.clone(),
            service_account: service_account.clone(),
            image_pull_secrets: image_pull_secrets.clone(),
            volumes: volumes.clone(),
            volume_claims: volume_claims.clone(),
            ttl: ttl.clone(),
            pod_gc: pod_gc.clone(),
            artifact_repository: artifact_repository.clone(),
            groups: Vec::new(),
            steps: Vec::new(),
            on_exit: Vec::new(),
        }
    }

    /// The workflow the launcher of a task running `members` reads, steps in workflow order.
    pub fn of(&self, members: &[&str]) -> Workflow {
        let wf = self.wf;
        let step = |&(exit, i): &(bool, usize)| if exit { &wf.on_exit[i] } else { &wf.steps[i] };
        let mut wanted: BTreeMap<(bool, usize), bool> = BTreeMap::new();
        for m in members {
            let Some(&at) = self.index.get(m) else {
                continue;
            };
            wanted.insert(at, true);
            let mut reads: Vec<&str> = Vec::new();
            for (_, r) in step(&at).references() {
                if let couler_ir::Reference::Step { step, .. } = r {
                    reads.push(step);
                }
            }
            if at.0 {
                reads.extend(&self.exit_reads);
            }
            for r in reads {
                if let Some(&at) = self.index.get(r) {
                    wanted.entry(at).or_insert(false);
                }
            }
        }
        let mut slice = self.head();
        for (at, member) in &wanted {
            let s = if *member {
                let mut s = step(at).clone();
                s.depends_on.clear();
                s
            } else {
                launcher_stub(step(at))
            };
            if at.0 {
                slice.on_exit.push(s)
            } else {
                slice.steps.push(s)
            }
        }
        // A workflow has a step: an exit step that reads none still gets one.
        if slice.steps.is_empty()
            && let Some(first) = wf.steps.first()
        {
            slice.steps.push(launcher_stub(first));
        }
        slice
    }
}

/// Another step as a launcher reads it: its name, declared outputs, `continueOnFailure` (the
/// exit handler's derived status) and whether its `when` reads `item` (a mapped step whose every
/// instance that `when` skipped is `Succeeded` with empty lists, not Skipped: `combine_map`),
/// in a body that always validates.
pub fn launcher_stub(s: &Step) -> Step {
    let mut t = Step::new(
        s.name.clone(),
        StepKind::Container(couler_ir::Container {
            command: vec![couler_ir::Template::text("true")],
            ..Default::default()
        }),
    );
    t.outputs = s.outputs.clone();
    t.continue_on_failure = s.continue_on_failure;
    if s.when_reads_item() {
        // The stub's own `when` and `map` read nothing else (a slice may leave out what the
        // step's read), and it never runs.
        t.map = Some(Box::new(couler_ir::Map {
            over: couler_ir::MapOver::Range {
                start: 0,
                stop: 1,
                step: 1,
            },
            parallelism: None,
        }));
        t.when = Some(couler_ir::Expr::Ref(couler_ir::Reference::Item(Vec::new())));
    }
    t
}

/// Every backend built, in a fixed order.
pub fn backends() -> Vec<Box<dyn Backend>> {
    vec![
        Box::new(argo::Argo),
        Box::new(airflow::Airflow),
        Box::new(tekton::Tekton),
        Box::new(local::Local),
    ]
}

/// Looks a backend up by name.
pub fn backend(name: &str) -> Option<Box<dyn Backend>> {
    backends().into_iter().find(|b| b.name() == name)
}

/// How the capability matrix is printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableFormat {
    /// Aligned columns for a terminal.
    Text,
    /// A Markdown table (what `docs/backends.md` holds).
    Markdown,
}

/// The capability matrix: one row per feature, one column per backend, then numbered notes
/// saying how each lowered feature is lowered. Both formats come from this one walk over the
/// matrix, so the terminal and the docs never disagree.
pub fn capability_table(format: TableFormat) -> String {
    let all = backends();
    let mut notes: Vec<String> = Vec::new();
    let mut rows: Vec<Vec<String>> = Vec::new();
    for &f in Feature::ALL {
        let mut row = vec![f.name().to_string()];
        if format == TableFormat::Markdown {
            row.push(f.describe().to_string());
        }
        for b in &all {
            row.push(match b.support(f) {
                Support::Native => "native".to_string(),
                Support::Lowered(how) => {
                    notes.push(format!("{} / {}: {how}", b.name(), f.name()));
                    format!("lowered[{}]", notes.len())
                }
                Support::Dropped(how) => {
                    notes.push(format!("{} / {}: {how}", b.name(), f.name()));
                    format!("dropped[{}]", notes.len())
                }
                Support::Unsupported => "-".to_string(),
            });
        }
        rows.push(row);
    }
    let mut header = vec!["feature".to_string()];
    if format == TableFormat::Markdown {
        header.push("what".to_string());
    }
    header.extend(all.iter().map(|b| b.name().to_string()));
    let mut out = String::new();
    match format {
        TableFormat::Text => {
            for row in std::iter::once(&header).chain(&rows) {
                let mut line = format!("{:<24}", row[0]);
                for cell in &row[1..] {
                    line.push_str(&format!(" {cell:<12}"));
                }
                out.push_str(line.trim_end());
                out.push('\n');
            }
        }
        TableFormat::Markdown => {
            let line = |cells: &[String]| format!("| {} |\n", cells.join(" | "));
            out.push_str(&line(&header));
            out.push_str(&line(&vec!["---".to_string(); header.len()]));
            for row in &rows {
                // `|` would end a cell early; the feature phrases contain backquotes only.
                let cells: Vec<String> = row.iter().map(|c| c.replace('|', "\\|")).collect();
                out.push_str(&line(&cells));
            }
        }
    }
    if !notes.is_empty() {
        out.push('\n');
        for (i, n) in notes.iter().enumerate() {
            match format {
                TableFormat::Text => out.push_str(&format!("[{}] {n}\n", i + 1)),
                TableFormat::Markdown => out.push_str(&format!("{}. {n}\n", i + 1)),
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;
    use std::collections::{BTreeSet, HashSet};

    /// A backend that supports only container steps and counts the lowerings it is asked for.
    #[derive(Default)]
    struct ContainersOnly {
        lowered: Cell<usize>,
    }

    impl Backend for ContainersOnly {
        fn name(&self) -> &'static str {
            "containers-only"
        }
        fn support(&self, feature: Feature) -> Support {
            match feature {
                Feature::Container => Support::Native,
                _ => Support::Unsupported,
            }
        }
        fn lower(&self, wf: &Workflow, _: &Options) -> Result<Output, CompileError> {
            self.lowered.set(self.lowered.get() + 1);
            Ok(Output {
                files: [(wf.name.clone(), String::new())].into(),
                warnings: Vec::new(),
            })
        }
    }

    impl SplitLowering for ContainersOnly {
        fn default_max_bytes(&self) -> Option<u64> {
            None
        }
        fn exchange_kinds(&self) -> ExchangeKinds {
            ExchangeKinds::Directory
        }
        fn measure_steps(
            &self,
            wf: &Workflow,
            _: &Options,
        ) -> Result<(Vec<u64>, u64), CompileError> {
            self.lowered.set(self.lowered.get() + 1);
            Ok((vec![1; wf.steps.len()], 0))
        }
        fn lower_split(
            &self,
            parent: &Workflow,
            _: &[(String, Workflow)],
            _: &Options,
        ) -> Result<BTreeMap<String, String>, CompileError> {
            self.lowered.set(self.lowered.get() + 1);
            Ok([(parent.name.clone(), String::new())].into())
        }
    }

    fn workflow(step: &str) -> Workflow {
        let text = format!(
            "apiVersion: couler.dev/v1alpha1\nkind: Workflow\nname: w\nsteps:\n  - name: a\n    {step}\n"
        );
        couler_ir::spec::load(&text, couler_ir::Format::Yaml)
            .unwrap()
            .0
    }

    /// An engine implements only its lowering: `compile`, `step_bytes` and `compile_split`
    /// refuse an unsupported feature (naming it, its step and who supports it) before any
    /// lowering runs, and lower what the engine supports.
    #[test]
    fn compile_checks_support_before_the_engines_lowering() {
        let b = ContainersOnly::default();
        let ok = workflow("container: {image: alpine, command: [echo]}");
        let suspend = workflow("suspend: {duration: 1s}");
        let o = Options::default();
        let err = b.compile(&suspend, &o).unwrap_err();
        match &err {
            CompileError::Unsupported {
                feature,
                step,
                backend,
                supported_by,
                ..
            } => {
                assert_eq!(
                    (*feature, step.as_deref(), *backend),
                    (Feature::Suspend, Some("a"), "containers-only")
                );
                assert!(supported_by.contains(&"argo"), "{supported_by:?}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(b.step_bytes(&suspend, &o).unwrap_err(), err);
        let children = [("c.yaml".to_string(), suspend.clone())];
        assert_eq!(b.compile_split(&ok, &children, &o).unwrap_err(), err);
        assert_eq!(b.compile_split(&suspend, &[], &o).unwrap_err(), err);
        assert_eq!(b.lowered.get(), 0, "an unchecked workflow was lowered");
        assert!(b.compile(&ok, &o).is_ok());
        assert!(b.step_bytes(&ok, &o).is_ok());
        assert!(
            b.compile_split(&ok, &[("c.yaml".into(), ok.clone())], &o)
                .is_ok()
        );
        assert_eq!(b.lowered.get(), 3);
    }

    /// Every step of every example, as its launcher task sees it: a workflow that validates,
    /// holds the step whole (less `dependsOn`) and, besides, exactly the steps it references
    /// (and, for an exit step, the exit steps and the steps with `continueOnFailure`).
    #[test]
    fn every_launcher_workflow_of_the_examples_validates() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
        let mut checked = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            // A tuned spec reaches a backend lowered (couler-tune, above this crate): couler-cli's
            // tests/tune_block.rs compiles it for every engine.
            if text.contains("\n  tune:\n") {
                continue;
            }
            let (wf, _) = couler_ir::spec::load(&text, couler_ir::Format::Yaml)
                .unwrap_or_else(|d| panic!("{}: {d:?}", path.display()));
            let exits: HashSet<&str> = wf.on_exit.iter().map(|s| s.name.as_str()).collect();
            for step in wf.steps.iter().chain(&wf.on_exit) {
                let slice = LauncherSlices::new(&wf).of(&[&step.name]);
                let json = serde_json::to_string(&slice).unwrap();
                let (back, _) = couler_ir::spec::load(&json, couler_ir::Format::Json)
                    .unwrap_or_else(|d| panic!("{}: step `{}`: {d:?}", path.display(), step.name));
                let mut whole = step.clone();
                whole.depends_on.clear();
                let all = || back.steps.iter().chain(&back.on_exit);
                assert_eq!(
                    all().find(|s| s.name == step.name),
                    Some(&whole),
                    "{}: step `{}`",
                    path.display(),
                    step.name
                );
                let mut expected: BTreeSet<&str> = step
                    .references()
                    .into_iter()
                    .filter_map(|(_, r)| match r {
                        couler_ir::Reference::Step { step, .. } => Some(step.as_str()),
                        _ => None,
                    })
                    .collect();
                if exits.contains(step.name.as_str()) {
                    let exempt = wf.steps.iter().filter(|s| s.continue_on_failure);
                    expected.extend(exempt.chain(&wf.on_exit).map(|s| s.name.as_str()));
                }
                expected.remove(step.name.as_str());
                if !expected.iter().any(|n| !exits.contains(n))
                    && exits.contains(step.name.as_str())
                {
                    expected.insert(wf.steps[0].name.as_str());
                }
                let got: BTreeSet<&str> = all()
                    .map(|s| s.name.as_str())
                    .filter(|n| *n != step.name)
                    .collect();
                assert_eq!(got, expected, "{}: step `{}`", path.display(), step.name);
                checked += 1;
            }
        }
        assert!(checked > 20, "only {checked} steps checked");
    }
}
