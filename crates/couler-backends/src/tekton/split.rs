//! Tekton lowering of a split workflow (`couler split --target tekton`): chained PipelineRuns.
//! Tekton has no runnable "pipelines in pipelines" (TEP-0056 is API-only), so each part is a
//! `Pipeline` with its Tasks, and the parent's Pipeline runs one task per part, in dependency
//! order, whose launcher (`couler launch pipelinerun`) creates the part's PipelineRun through
//! the Kubernetes API and waits for it to finish. This is how the backend lowers any
//! sub-workflow step whose child is compiled with it, so the parent is just the IR parent
//! compiled.
//!
//! The parts share the parent run's volumes: the child's workspaces are bound to the claims of
//! the parent's (`$(workspaces.W.claim)`), so the artifact store, the exchange of artifacts that
//! cross a cut (a directory in it) and the workflow's volume claims are those of one logical
//! run. The parent's artifact volume is claimed `ReadWriteMany` (the parts' pods may run on
//! any node at once).

use super::{ARTIFACTS_PATH, Tekton, bounded, documents_text, launcher_rbac, lower};
use crate::{CompileError, ExchangeKinds, Options, SplitLowering};
use couler_ir::Workflow;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};

/// The default budget of one part's file (its Tasks and Pipeline). Kubernetes keeps each object
/// in etcd (about 1.5 MiB a value), and Tekton copies the Pipeline's spec into the status of
/// every PipelineRun of it, beside the child references; 1 MiB of file keeps the Pipeline and
/// that status clear of the limit.
pub const DOCUMENT_LIMIT: u64 = 1024 * 1024;

/// Label on a part's PipelineRun: the parent PipelineRun's name, and its uid (so a retry of the
/// parent's task knows the run it finds is its own).
pub const PARENT_LABEL: &str = "couler.dev/parent-run";
pub const PARENT_UID_LABEL: &str = "couler.dev/parent-uid";

/// Bytes of indentation a pipeline task's line gets in the Pipeline document (`spec.tasks[]`).
const TASK_INDENT: u64 = 4;

impl SplitLowering for Tekton {
    fn default_max_bytes(&self) -> Option<u64> {
        Some(DOCUMENT_LIMIT)
    }

    /// A directory in the run's artifact volume, which every part's tasks mount.
    fn exchange_kinds(&self) -> ExchangeKinds {
        ExchangeKinds::Volume(ARTIFACTS_PATH)
    }

    /// Each step's share: its Task (as if none were shared), its pipeline task and its entry in
    /// the PipelineRun's `taskRunSpecs`; the rest of the file is fixed.
    fn measure_steps(
        &self,
        wf: &Workflow,
        options: &Options,
    ) -> Result<(Vec<u64>, u64), CompileError> {
        let opts = Options {
            no_template_reuse: true,
            ..options.clone()
        };
        let docs = lower(wf, &opts, &BTreeMap::new(), &mut Vec::new())?;
        let total = documents_text(&docs)?.len() as u64;
        let yaml_len = |v: &Value, indent: u64| -> Result<u64, CompileError> {
            let text = super::to_yaml(v)?;
            Ok(text.len() as u64 + indent * text.lines().count() as u64)
        };
        let tasks: HashMap<&str, &Value> = docs
            .iter()
            .filter(|d| d["kind"] == "Task")
            .filter_map(|d| Some((d["metadata"]["name"].as_str()?, d)))
            .collect();
        // A Task's launcher inputs in its ConfigMap (same name), one entry a step.
        let inputs: HashMap<&str, &Value> = docs
            .iter()
            .filter(|d| d["kind"] == "ConfigMap")
            .filter_map(|d| Some((d["metadata"]["name"].as_str()?, &d["data"])))
            .collect();
        let by_kind = |kind: &str| docs.iter().find(|d| d["kind"] == kind);
        let pipeline_tasks: HashMap<&str, &Value> = by_kind("Pipeline")
            .map(|p| &p["spec"]["tasks"])
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|t| Some((t["name"].as_str()?, t)))
            .collect();
        let run_specs: HashMap<&str, &Value> = by_kind("PipelineRun")
            .map(|r| &r["spec"]["taskRunSpecs"])
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|t| Some((t["pipelineTaskName"].as_str()?, t)))
            .collect();
        let mut bytes = Vec::with_capacity(wf.steps.len());
        for step in &wf.steps {
            let mut size = 0;
            if let Some(pt) = pipeline_tasks.get(step.name.as_str()) {
                size += yaml_len(pt, TASK_INDENT)?;
                let task_name = pt["taskRef"]["name"].as_str().unwrap_or_default();
                if let Some(task) = tasks.get(task_name) {
                    size += yaml_len(task, 0)? + "---\n".len() as u64;
                }
                if let Some(input) = inputs.get(task_name) {
                    let entry = json!({ format!("{}.json", step.name): input[format!("{}.json", step.name)] });
                    size += yaml_len(&entry, 2)?;
                }
            }
            if let Some(spec) = run_specs.get(step.name.as_str()) {
                size += yaml_len(spec, TASK_INDENT)?;
            }
            bytes.push(size);
        }
        let fixed = total.saturating_sub(bytes.iter().sum());
        Ok((bytes, fixed))
    }

    /// Each child's Tasks and Pipeline (no PipelineRun: the parent's task creates it), the
    /// parent's documents, and the launcher's service account and role (`NAME-rbac.yaml`).
    fn lower_split(
        &self,
        parent: &Workflow,
        children: &[(String, Workflow)],
        options: &Options,
    ) -> Result<BTreeMap<String, String>, CompileError> {
        let mut files = BTreeMap::new();
        let mut runs = BTreeMap::new();
        for (reference, child) in children {
            let mut docs = lower(child, options, &BTreeMap::new(), &mut Vec::new())?;
            let run = docs
                .pop()
                .filter(|d| d["kind"] == "PipelineRun")
                .ok_or_else(|| {
                    CompileError::Invalid(format!(
                        "part `{}` compiled without a PipelineRun",
                        child.name
                    ))
                })?;
            files.insert(self.child_file(reference), documents_text(&docs)?);
            runs.insert(reference.clone(), run);
        }
        let docs = lower(parent, options, &runs, &mut Vec::new())?;
        files.insert(format!("{}.yaml", parent.name), documents_text(&docs)?);
        files.insert(
            format!("{}-rbac.yaml", parent.name),
            documents_text(&launcher_rbac(parent))?,
        );
        Ok(files)
    }
}

/// The name of the PipelineRun a sub-workflow step of parent run `parent` creates: fixed, so a
/// retried task finds the run it started.
pub fn child_run_name(parent: &str, step: &str) -> String {
    bounded(&format!("{parent}-{step}"))
}

/// Where a part's PipelineRun comes from.
pub struct ChildRun<'a> {
    pub name: &'a str,
    pub namespace: &'a str,
    /// The parent PipelineRun's name and uid (its owner: deleting the parent deletes it).
    pub parent: &'a str,
    pub parent_uid: &'a str,
    /// Param values (text, as Tekton passes params).
    pub params: &'a [(String, String)],
    /// Workspace name → the parent's claim to bind it to.
    pub claims: &'a BTreeMap<String, String>,
}

/// The part's PipelineRun, from the `template` compiled with the parent (the part's PipelineRun
/// as `couler compile` writes it): named and placed, owned and labelled by the parent run, the
/// params given, and every per-run volume (`volumeClaimTemplate`) bound to the parent's claim of
/// the same workspace instead. An error says what does not fit.
pub fn child_run(template: &Value, c: &ChildRun) -> Result<Value, String> {
    if template["kind"] != "PipelineRun" {
        return Err(format!(
            "the child run template is a {}, not a PipelineRun",
            template["kind"]
        ));
    }
    let mut run = template.clone();
    let meta = &mut run["metadata"];
    meta["name"] = json!(c.name);
    meta["namespace"] = json!(c.namespace);
    if !meta["labels"].is_object() {
        meta["labels"] = json!({});
    }
    meta["labels"][PARENT_LABEL] = json!(bounded(c.parent));
    meta["labels"][PARENT_UID_LABEL] = json!(c.parent_uid);
    meta["ownerReferences"] = json!([{
        "apiVersion": "tekton.dev/v1",
        "kind": "PipelineRun",
        "name": c.parent,
        "uid": c.parent_uid,
        "controller": false,
        "blockOwnerDeletion": false,
    }]);
    let spec = &mut run["spec"];
    if !spec["params"].is_array() {
        spec["params"] = json!([]);
    }
    if let Some(params) = spec["params"].as_array_mut() {
        for (name, value) in c.params {
            match params.iter_mut().find(|p| p["name"] == json!(name)) {
                Some(p) => p["value"] = json!(value),
                None => params.push(json!({"name": name, "value": value})),
            }
        }
    }
    for w in spec["workspaces"].as_array_mut().into_iter().flatten() {
        if w.get("volumeClaimTemplate").is_none() {
            continue;
        }
        let name = w["name"].as_str().unwrap_or_default().to_string();
        let claim = c.claims.get(&name).filter(|c| !c.is_empty()).ok_or_else(|| {
            format!(
                "workspace `{name}` of the part is a per-run volume, and the parent run gave no claim for it (`--claim {name}=CLAIM`; the parent's workspace must be a PersistentVolumeClaim)"
            )
        })?;
        *w = json!({"name": name, "persistentVolumeClaim": {"claimName": claim}});
    }
    Ok(run)
}
