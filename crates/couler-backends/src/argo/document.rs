//! The Argo document around the lowered steps: its kind (`Workflow`, `WorkflowTemplate`,
//! `CronWorkflow`) and the workflow-wide fields of its spec (arguments, exit handler,
//! parallelism, service account, volumes and claims, TTL, pod GC).

use super::entry::PrintedEntry;
use super::templates::Templates;
use super::{KEY_ORDER, Lowerer, go_duration, secs};
use crate::k8s::param_text;
use crate::yaml::{self, Splice};
use crate::{CompileError, Kind, Options};
use couler_ir::{ConcurrencyPolicy, VolumeSource, Workflow};
use serde_json::{Map, Value, json};

/// Lowers a workflow to one Argo document (a JSON value).
pub fn lower(wf: &Workflow, options: &Options) -> Result<Value, CompileError> {
    super::limits::check(wf, options)?;
    let mut l = Lowerer::new(wf, options, Templates::trees());
    let (spec, _) = l.workflow_spec()?;
    wrap(wf, kind(wf, options), spec)
}

/// Lowers and prints a workflow without holding its document's tree: templates and tasks are
/// printed as they come (`templates`), the rest of the document around them. The text (the
/// same bytes as [`super::to_yaml`] of [`lower`]) and the template size warnings; `None` when
/// some part cannot be printed in pieces: the caller prints the tree.
pub(super) fn print(
    wf: &Workflow,
    options: &Options,
) -> Result<Option<(String, Vec<String>)>, CompileError> {
    super::limits::check(wf, options)?;
    let kind = kind(wf, options);
    // The dashes of `spec.templates` (of `spec.workflowSpec.templates` in a CronWorkflow).
    let indent = if kind == Kind::CronWorkflow { 4 } else { 2 };
    // The lowering's state (graph, edges, name sets) is dropped before the text is put together.
    let (spec, entry, rest) = {
        let mut l = Lowerer::new(wf, options, Templates::printed(indent));
        let (spec, entry) = l.workflow_spec()?;
        (spec, entry, l.templates.into_printed())
    };
    let doc = wrap(wf, kind, spec)?;
    let (Some(entry), Some(rest)) = (entry, rest) else {
        return Ok(None);
    };
    let spec = if kind == Kind::CronWorkflow {
        &doc["spec"]["workflowSpec"]
    } else {
        &doc["spec"]
    };
    // `templates` holds the entry template's skeleton; the printed templates follow it.
    let templates = &spec["templates"];
    let tasks = PrintedEntry::tasks_at(&templates[0]);
    let (Some(tasks), false, false) = (tasks, entry.failed, rest.failed.get()) else {
        return Ok(None);
    };
    let rest_items = rest.seq.into_text();
    let splices = [
        Splice {
            at: templates,
            indent,
            items: &rest_items,
        },
        Splice {
            at: tasks,
            indent: entry.items_indent,
            items: &entry.items,
        },
    ];
    let Ok(text) = yaml::print_spliced(&doc, &KEY_ORDER, &splices) else {
        return Ok(None);
    };
    let mut warnings: Vec<String> = entry.size_warning().into_iter().collect();
    warnings.extend(rest.warnings);
    Ok(Some((text, warnings)))
}

/// The kind of document `wf` lowers to.
fn kind(wf: &Workflow, options: &Options) -> Kind {
    options.kind.unwrap_or(if wf.schedule.is_some() {
        Kind::CronWorkflow
    } else {
        Kind::Workflow
    })
}

/// The document of `kind` around the workflow's `spec`.
fn wrap(wf: &Workflow, kind: Kind, spec: Value) -> Result<Value, CompileError> {
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
            document("Workflow", meta, spec)
        }
        Kind::WorkflowTemplate => {
            meta.insert("name".into(), json!(wf.name));
            meta.extend(wf_meta);
            document("WorkflowTemplate", meta, spec)
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
            document("CronWorkflow", meta, Value::Object(cron))
        }
    };
    Ok(doc)
}

/// An Argo document of `kind`.
fn document(kind: &str, meta: Map<String, Value>, spec: Value) -> Value {
    object([
        ("apiVersion", json!("argoproj.io/v1alpha1")),
        ("kind", json!(kind)),
        ("metadata", Value::Object(meta)),
        ("spec", spec),
    ])
}

/// A JSON object of `fields`, moved in: `json!` would copy a `Value` it is given (it
/// serializes it again), for a large workflow a copy of every task and template.
pub(super) fn object<const N: usize>(fields: [(&str, Value); N]) -> Value {
    Value::Object(
        fields
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    )
}

impl Lowerer<'_> {
    /// The workflow's spec: the entry template first, then every other template. When
    /// templates are printed as they come, `templates` is left empty, and the entry template
    /// comes back printed in pieces.
    pub(super) fn workflow_spec(&mut self) -> Result<(Value, Option<PrintedEntry>), CompileError> {
        let wf = self.wf;
        // Reserve step names so that templates named after steps stay recognisable.
        for s in wf.steps.iter().chain(&wf.on_exit) {
            self.names.insert(s.name.clone());
        }
        let levels = self.step_groups();
        let entry = match self.templates.printed_indent() {
            Some(indent) => Entry::Printed(self.printed_entry(levels, indent)?),
            None => Entry::Tree(self.entry_template(levels)?),
        };
        let mut spec = Map::new();
        spec.insert("entrypoint".into(), json!(wf.name));
        if !wf.params.is_empty() {
            spec.insert("arguments".into(), json!({"parameters": arguments(wf)}));
        }
        if !wf.on_exit.is_empty() {
            let name = self.exit_handler(wf)?;
            spec.insert("onExit".into(), json!(name));
        }
        insert_pod_fields(wf, &mut spec);
        if let Some(d) = wf.timeout {
            // Counted from the workflow's start; Argo still runs `onExit` after it.
            spec.insert("activeDeadlineSeconds".into(), json!(secs(d)));
        }
        insert_cleanup(wf, &mut spec);
        let (templates, printed) = match entry {
            Entry::Tree(entry) => {
                let mut templates = vec![entry];
                templates.append(&mut self.templates.take_trees());
                (templates, None)
            }
            Entry::Printed(p) => (vec![p.skeleton.clone()], Some(p)),
        };
        spec.insert("templates".into(), Value::Array(templates));
        Ok((Value::Object(spec), printed))
    }

    /// The entry template, named after the workflow: a DAG with a task per step, or a steps
    /// template when the workflow is a sequence of parallel groups (`levels`, see
    /// [`Lowerer::step_groups`]).
    fn entry_template(&mut self, levels: Option<Vec<usize>>) -> Result<Value, CompileError> {
        let wf = self.wf;
        let mut tasks = Vec::new();
        for step in &wf.steps {
            tasks.push(self.task(step)?);
        }
        Ok(match levels {
            Some(levels) => {
                // A sequence of parallel groups: Argo's steps template says it directly.
                let mut groups: Vec<Vec<Value>> =
                    vec![Vec::new(); levels.iter().max().map_or(0, |m| m + 1)];
                for (mut task, level) in tasks.into_iter().zip(levels) {
                    group_task(&mut task);
                    groups[level].push(task);
                }
                let groups = groups.into_iter().map(Value::Array).collect();
                object([("name", json!(wf.name)), ("steps", Value::Array(groups))])
            }
            None => object([
                ("name", json!(wf.name)),
                ("dag", object([("tasks", Value::Array(tasks))])),
            ]),
        })
    }
}

/// The entry template as a tree, or printed in pieces.
enum Entry {
    Tree(Value),
    Printed(PrintedEntry),
}

/// A task of a steps template: as the DAG task, without the dependencies its group says.
pub(super) fn group_task(task: &mut Value) {
    if let Some(m) = task.as_object_mut() {
        m.remove("dependencies");
    }
}

/// The workflow's parameters with their defaults, allowed values and descriptions.
fn arguments(wf: &Workflow) -> Vec<Value> {
    wf.params
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
        .collect()
}

/// What every pod of the run gets: parallelism, service account, image pull secrets,
/// volumes and the claims created per run.
fn insert_pod_fields(wf: &Workflow, spec: &mut Map<String, Value>) {
    if let Some(p) = wf.parallelism {
        spec.insert("parallelism".into(), json!(p));
    }
    if let Some(sa) = &wf.service_account {
        spec.insert("serviceAccountName".into(), json!(sa));
    }
    if !wf.image_pull_secrets.is_empty() {
        let secrets = wf.image_pull_secrets.iter().map(|n| json!({"name": n}));
        spec.insert(
            "imagePullSecrets".into(),
            json!(secrets.collect::<Vec<_>>()),
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
}

/// What happens after the run: its TTL and the deletion of its pods.
fn insert_cleanup(wf: &Workflow, spec: &mut Map<String, Value>) {
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
}

/// A workflow volume as a pod volume.
pub(super) fn volume(v: &couler_ir::Volume) -> Value {
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
