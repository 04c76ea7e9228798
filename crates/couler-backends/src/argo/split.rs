//! Argo lowering of a split workflow (`couler split --target argo`), and the per-step sizes the
//! partitioner packs.
//!
//! Each child becomes a `WorkflowTemplate` named after its part; the parent is a `Workflow`
//! whose DAG has one task per child, a resource template that creates a `Workflow` from the
//! child's template (`action: create`, `successCondition: status.phase == Succeeded`,
//! `failureCondition: status.phase in (Failed, Error)`) in dependency order: this is how
//! [`super::lower`] lowers any sub-workflow step, so the parent is just the IR parent compiled.

use super::{Argo, STORED_LIMIT, lower, to_yaml};
use crate::{CompileError, ExchangeKinds, Kind, Options, SplitLowering};
use couler_ir::Workflow;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Indentation a step's task and templates get inside the whole document, at most, per line.
const NESTING_INDENT: u64 = 8;

impl SplitLowering for Argo {
    /// What Argo stores in one etcd object.
    fn default_max_bytes(&self) -> Option<u64> {
        Some(STORED_LIMIT as u64)
    }

    /// Argo's pods share no file system: artifacts cross a cut through the S3 repository.
    fn exchange_kinds(&self) -> ExchangeKinds {
        ExchangeKinds::ObjectStore
    }

    fn measure_steps(
        &self,
        wf: &Workflow,
        options: &Options,
    ) -> Result<(Vec<u64>, u64), CompileError> {
        step_bytes(wf, options)
    }

    /// `PARENT.yaml` (a `Workflow`) and one `WorkflowTemplate` per child.
    fn lower_split(
        &self,
        parent: &Workflow,
        children: &[(String, Workflow)],
        options: &Options,
    ) -> Result<BTreeMap<String, String>, CompileError> {
        compile_split(parent, children, options)
    }
}

/// Each step's share of the emitted Argo document (its DAG task and the templates only it
/// uses, as if no template were shared, with the indentation they have in the document), and
/// the rest of the document (header, entry template, exit handler): the fixed part.
///
/// Conservative: a part's document is at most the fixed part plus its steps' shares, up to the
/// few bytes that cut artifacts add (the caller compiles each part and checks).
fn step_bytes(wf: &Workflow, options: &Options) -> Result<(Vec<u64>, u64), CompileError> {
    let opts = Options {
        no_template_reuse: true,
        kind: Some(Kind::Workflow),
        ..options.clone()
    };
    let doc = lower(wf, &opts)?;
    let total = to_yaml(&doc)?.len() as u64;
    let templates: HashMap<&str, &Value> = doc["spec"]["templates"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| Some((t["name"].as_str()?, t)))
        .collect();
    let entry = doc["spec"]["entrypoint"].as_str().unwrap_or_default();
    // The entry is a DAG, or a steps template (a sequence of parallel groups).
    let entry_template = templates.get(entry).copied().unwrap_or(&Value::Null);
    let listed: Vec<&Value> = match entry_template["dag"]["tasks"].as_array() {
        Some(tasks) => tasks.iter().collect(),
        None => entry_template["steps"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_array)
            .flatten()
            .collect(),
    };
    let tasks: HashMap<&str, &Value> = listed
        .into_iter()
        .filter_map(|t| Some((t["name"].as_str()?, t)))
        .collect();
    let measure = |v: &Value| -> Result<u64, CompileError> {
        let text = to_yaml(v)?;
        Ok(text.len() as u64 + NESTING_INDENT * text.lines().count() as u64)
    };
    let mut bytes = Vec::with_capacity(wf.steps.len());
    for step in &wf.steps {
        let Some(task) = tasks.get(step.name.as_str()) else {
            bytes.push(0);
            continue;
        };
        let mut size = measure(task)?;
        // The task's template and the templates those call (loop and fan-out wrappers).
        let mut seen = BTreeSet::new();
        let mut todo: Vec<&str> = task["template"].as_str().into_iter().collect();
        while let Some(name) = todo.pop() {
            if name == entry || !seen.insert(name) {
                continue;
            }
            if let Some(t) = templates.get(name) {
                size += measure(t)?;
                collect_template_refs(t, &mut todo);
            }
        }
        bytes.push(size);
    }
    let fixed = total.saturating_sub(bytes.iter().sum());
    Ok((bytes, fixed))
}

fn collect_template_refs<'v>(v: &'v Value, out: &mut Vec<&'v str>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                match (k.as_str(), x) {
                    ("template", Value::String(s)) => out.push(s),
                    _ => collect_template_refs(x, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| collect_template_refs(x, out)),
        _ => {}
    }
}

/// The documents of a split workflow: `PARENT.yaml` (a `Workflow`) and one `WorkflowTemplate`
/// per child, each under the file name the parent's step references.
fn compile_split(
    parent: &Workflow,
    children: &[(String, Workflow)],
    options: &Options,
) -> Result<BTreeMap<String, String>, CompileError> {
    let mut files = BTreeMap::new();
    for (file, child) in children {
        let opts = Options {
            kind: Some(Kind::WorkflowTemplate),
            ..options.clone()
        };
        let child = super::memoize::part_without_unkeyable(child);
        files.insert(file.clone(), to_yaml(&lower(&child, &opts)?)?);
    }
    let opts = Options {
        kind: None,
        ..options.clone()
    };
    files.insert(
        format!("{}.yaml", parent.name),
        to_yaml(&lower(parent, &opts)?)?,
    );
    Ok(files)
}
