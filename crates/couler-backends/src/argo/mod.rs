//! The Argo Workflows backend: IR → `Workflow` / `WorkflowTemplate` / `CronWorkflow` YAML.
//!
//! Shape of the output: one DAG template (the entrypoint, named after the workflow) with one task
//! per step; one template per distinct step definition (identical definitions share one); extra
//! templates for loops (`repeat`, a recursive steps template) and mapped steps (`S-map`, a DAG
//! template around the loop: `mapped`). How tasks wait for and are skipped by the steps before
//! them is `edges`. See `docs/argo.md` for every feature.
//!
//! Where each part is: this file holds the backend and the lowering's state (`Lowerer`'s
//! fields, shared by the `impl Lowerer` blocks of the other files); `document` the document and
//! its workflow-wide fields, `dag` the entry template's tasks and the exit handler, `template`
//! the template running one step, `mapped` and `repeat` the wrappers around it, `memoize` its
//! cache key, `job`, `manifest` and `storage` the Kubernetes objects and artifact locations it
//! names, `args` the argument plumbing between a wrapper and what it calls.

mod args;
mod cond;
mod dag;
mod document;
mod edges;
mod entry;
mod items;
mod job;
pub mod limits;
pub mod lint;
mod manifest;
mod mapped;
mod memoize;
mod paths;
mod render;
mod repeat;
pub mod split;
mod storage;
mod template;
mod template_size;
mod templates;

pub use document::lower;
pub use render::LITERAL_OPEN;

use args::{forward_through, insert_arguments, insert_lists, push_input_param};
use dag::result_read;
use document::volume;

use crate::capability::{Feature, Support};
use crate::{Backend, CompileError, Options, Output};
use couler_ir::{Duration, Graph, Reference, Step, StepOutput, Workflow};
use foldhash::{HashMap, HashSet};
use render::Exposure;
use serde_json::Value;
use std::collections::BTreeSet;

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
            // The controller knows no history to compare an attempt with.
            StorageLocal | RetrySlow | TuneAsynchronous => Support::Unsupported,
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
        let (text, size_warnings) = match document::print(wf, options)? {
            Some(printed) => printed,
            None => {
                let doc = lower(wf, options)?;
                (to_yaml(&doc)?, template_size::warnings(&doc))
            }
        };
        let mut out = Output::default();
        out.warnings.extend(size_warnings);
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

/// Prints a document as YAML, keys in Argo's order ([`KEY_ORDER`]).
pub fn to_yaml(doc: &Value) -> Result<String, CompileError> {
    crate::yaml::print(doc, &KEY_ORDER, "the Argo document")
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
                StepOutput::Ip => format!("{step}-ip"),
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

/// The state of one workflow's lowering: the templates emitted so far and what names they take.
struct Lowerer<'a> {
    wf: &'a Workflow,
    options: &'a Options,
    templates: templates::Templates,
    names: BTreeSet<String>,
    exposure: HashMap<&'a str, Exposure>,
    /// Step name → position in `wf.steps`.
    positions: HashMap<&'a str, usize>,
    /// Names of the step templates emitted so far.
    template_names: BTreeSet<String>,
    /// The main steps' dependency graph.
    graph: Graph,
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
    fn new(wf: &'a Workflow, options: &'a Options, templates: templates::Templates) -> Self {
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
        let graph = Graph::new(wf);
        Lowerer {
            wf,
            options,
            templates,
            names,
            exposure,
            positions: wf
                .steps
                .iter()
                .enumerate()
                .map(|(i, s)| (s.name.as_str(), i))
                .collect(),
            template_names: BTreeSet::new(),
            edges: edges::Edges::main(wf, &graph),
            graph,
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
}
