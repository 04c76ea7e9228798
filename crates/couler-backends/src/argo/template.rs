//! The template running one step: what it runs (container, script, resource, job,
//! sub-workflow, suspend), its inputs and outputs, pod fields and policies (retry, timeout,
//! memoize). Steps whose definitions are identical share one template.

use super::render;
use super::{
    Forwards, Lowered, Lowerer, go_duration, insert_lists, job, manifest, memoize, paths, secs,
    storage::storage, template_size::json_len,
};
use crate::CompileError;
use crate::k8s::{placement, resources};
use couler_ir::{
    ArtifactSource, Reference, ResourceAction, RetryOn, Step, StepKind, Template, Workflow,
};
use serde_json::{Map, Value, json};
use std::collections::BTreeSet;

/// How a template's body reads a reference: workflow fields, its own inputs and declared paths
/// directly; another step's output or `item` through an input parameter its caller forwards.
struct Body<'w> {
    wf_name: &'w str,
    /// The step's own input names, which forwarded parameters avoid.
    taken: BTreeSet<String>,
    forwards: Forwards,
}

impl<'w> Body<'w> {
    fn new(wf: &'w Workflow, step: &Step) -> Self {
        let params = step.inputs.parameters.iter().map(|p| p.name.clone());
        let artifacts = step.inputs.artifacts.iter().map(|a| a.name.clone());
        Body {
            wf_name: &wf.name,
            taken: params.chain(artifacts).collect(),
            forwards: Forwards::default(),
        }
    }

    fn reference(&mut self, r: &Reference) -> Result<String, CompileError> {
        Ok(match r {
            Reference::Param(n) => render::workflow_param(n),
            Reference::Workflow(f) => render::workflow_field(*f, self.wf_name),
            Reference::InputParameter(n) => render::input_param(n),
            Reference::InputArtifactPath(n) => format!("{{{{inputs.artifacts.{n}.path}}}}"),
            Reference::OutputPath { artifact, name } => {
                let k = if *artifact { "artifacts" } else { "parameters" };
                format!("{{{{outputs.{k}.{name}.path}}}}")
            }
            Reference::Step { .. } | Reference::Item(_) => {
                render::input_param(&self.forwards.name_for(r, &self.taken))
            }
        })
    }

    fn render(&mut self, t: &Template) -> Result<String, CompileError> {
        render::template(t, |r| self.reference(r))
    }

    fn render_all(&mut self, ts: &[Template]) -> Result<Vec<String>, CompileError> {
        ts.iter().map(|t| self.render(t)).collect()
    }
}

/// The fields every container of a step gets: environment (its own and secrets), resources,
/// volume mounts. A container, a script, and the containers of a distributed job.
pub(super) struct PodFields {
    env: Vec<Value>,
    resources: Option<Value>,
    mounts: Vec<Value>,
}

impl PodFields {
    fn of(wf: &Workflow, step: &Step, body: &mut Body<'_>) -> Result<Self, CompileError> {
        let mut env: Vec<Value> = Vec::new();
        for (k, v) in &step.env {
            env.push(json!({"name": k, "value": body.render(v)?}));
        }
        for s in &step.secrets {
            env.push(json!({"name": s.env, "valueFrom": {"secretKeyRef": {"name": s.secret, "key": s.key}}}));
        }
        let mounts = step.volume_mounts.iter().map(|m| {
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
        });
        Ok(PodFields {
            env,
            resources: wf.effective_resources(step).map(resources),
            mounts: mounts.collect(),
        })
    }

    /// Adds the fields that are set to a container.
    pub(super) fn insert_into(&self, c: &mut Map<String, Value>) {
        if !self.env.is_empty() {
            c.insert("env".into(), Value::Array(self.env.clone()));
        }
        if let Some(r) = &self.resources {
            c.insert("resources".into(), r.clone());
        }
        if !self.mounts.is_empty() {
            c.insert("volumeMounts".into(), Value::Array(self.mounts.clone()));
        }
    }
}

impl<'a> Lowerer<'a> {
    /// The template running one step (shared with identical steps), and its arguments.
    pub(super) fn step_template(&mut self, step: &'a Step) -> Result<Lowered, CompileError> {
        let wf = self.wf;
        let mut body = Body::new(wf, step);
        let pod = PodFields::of(wf, step, &mut body)?;
        let run = self.run_fields(step, &pod, &mut body)?;
        let memo = memoize::plan(wf, step, |n| self.step(n))?;
        if memo.is_some() {
            for r in memoize::identity_reads(step) {
                body.forwards.name_for(&r, &body.taken);
            }
        }
        let (in_params, params, item_params) = self.input_parameters(step, &body.forwards)?;
        let (in_artifacts, artifacts) = self.input_artifacts(step)?;
        let (out_params, out_artifacts) = outputs(wf, step)?;
        let mut t = Map::new();
        insert_lists(&mut t, "inputs", in_params, in_artifacts);
        insert_lists(&mut t, "outputs", out_params, out_artifacts);
        t.extend(run);
        insert_policies(wf, step, &mut t);
        // A `repeat` step is memoized as a whole loop (`memoized_loop`), never per iteration.
        if let Some(m) = memo.filter(|_| step.repeat.is_none()) {
            let memoize = memoize::field(wf, step, m, &t, &[]);
            t.insert("memoize".into(), memoize);
        }
        Ok(Lowered {
            template: self.register(step, t),
            params,
            artifacts,
            item_params,
        })
    }

    /// What the template runs: `container`, `script`, `resource` or `suspend`.
    fn run_fields(
        &self,
        step: &Step,
        pod: &PodFields,
        body: &mut Body<'_>,
    ) -> Result<Map<String, Value>, CompileError> {
        let wf = self.wf;
        // A container's or script's image, working directory and pod fields.
        let container = || -> Result<Map<String, Value>, CompileError> {
            let image = wf.effective_image(step).ok_or_else(|| {
                CompileError::Invalid(format!(
                    "step `{}` has no image; Argo runs every step in a container: set its `image` or `defaults.image`",
                    step.name
                ))
            })?;
            let mut m = Map::new();
            m.insert("image".into(), json!(image));
            if let Some(w) = paths::working_dir(step) {
                m.insert("workingDir".into(), json!(w));
            }
            pod.insert_into(&mut m);
            Ok(m)
        };
        let mut t = Map::new();
        let mut m = Map::new();
        match &step.kind {
            StepKind::Container(c) => {
                let mut m = container()?;
                if !c.command.is_empty() {
                    m.insert("command".into(), Value::from(body.render_all(&c.command)?));
                }
                if !c.args.is_empty() {
                    m.insert("args".into(), Value::from(body.render_all(&c.args)?));
                }
                t.insert("container".into(), Value::Object(m));
            }
            StepKind::Script(s) => {
                let mut m = container()?;
                m.insert("command".into(), json!(s.command));
                m.insert("source".into(), json!(body.render(&s.source)?));
                t.insert("script".into(), Value::Object(m));
            }
            StepKind::Resource(r) => {
                m.insert("action".into(), json!(action(r.action)));
                m.insert("manifest".into(), json!(body.render(&r.manifest)?));
                if let Some(c) = &r.success_condition {
                    m.insert("successCondition".into(), json!(c));
                }
                if let Some(c) = &r.failure_condition {
                    m.insert("failureCondition".into(), json!(c));
                }
                t.insert("resource".into(), Value::Object(m));
            }
            StepKind::Job(j) => {
                let command = body.render_all(&j.command)?;
                let args = body.render_all(&j.args)?;
                let resource = job::resource(wf, step, j, command, args, pod)?;
                t.insert("resource".into(), resource);
            }
            StepKind::Workflow(sw) => {
                let template_name = self.options.sub_workflow_name(&sw.reference);
                let manifest =
                    manifest::child_manifest(&template_name, &sw.params, |r| body.reference(r))?;
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
                if let Some(d) = s.duration {
                    m.insert("duration".into(), json!(secs(d).to_string()));
                }
                t.insert("suspend".into(), Value::Object(m));
            }
        }
        if step.is_daemon() {
            // Argo marks the node Daemoned once the pod runs (and is ready), lets its
            // dependants start, and kills the pod when the enclosing DAG ends.
            t.insert("daemon".into(), json!(true));
        }
        Ok(t)
    }

    /// The input parameters (the step's own, then forwarded values), the caller's parameter
    /// arguments, and the forwarded `item` values (rendered only where the loop is).
    #[allow(clippy::type_complexity)]
    fn input_parameters(
        &self,
        step: &Step,
        forwards: &Forwards,
    ) -> Result<(Vec<Value>, Vec<Value>, Vec<(String, Reference)>), CompileError> {
        let mut inputs: Vec<Value> = step
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
        for (n, r) in &forwards.list {
            inputs.push(json!({"name": n}));
            if matches!(r, Reference::Item(_)) {
                item_params.push((n.clone(), r.clone()));
            } else {
                args.push(json!({"name": n, "value": self.dag_ref("tasks", step, r)?}));
            }
        }
        Ok((inputs, args, item_params))
    }

    /// The input artifacts, and the caller's artifact arguments (`from` another step).
    fn input_artifacts(&self, step: &Step) -> Result<(Vec<Value>, Vec<Value>), CompileError> {
        let mut inputs = Vec::new();
        let mut args = Vec::new();
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
                    args.push(Value::Object(arg));
                }
                None => {}
            }
            inputs.push(Value::Object(m));
        }
        Ok((inputs, args))
    }

    /// The template `body` under its name: an identical template's when there is one (and
    /// reuse is on), else a new one named after the step.
    fn register(&mut self, step: &Step, body: Map<String, Value>) -> String {
        // The body's canonical JSON (keys sorted): equal bytes, equal bodies.
        let key = serde_json::to_vec(&body).unwrap_or_default();
        if !self.options.no_template_reuse
            && let Some(n) = self.templates.with_body(&key)
        {
            return n.to_string();
        }
        let n = if self.template_names.contains(step.name.as_str()) || step.name == self.wf.name {
            self.fresh(&step.name)
        } else {
            step.name.clone()
        };
        // The template's JSON is the body's with `"name":N` (and a comma when the body has
        // fields) added: no second serialization.
        let comma = usize::from(!body.is_empty());
        let json_len = key.len() + "\"name\":".len() + json_len(n.as_str()) + comma;
        let mut t = Map::new();
        t.insert("name".into(), json!(n));
        t.extend(body);
        self.templates.remember(key, &n);
        self.templates.push_sized(Value::Object(t), json_len);
        self.template_names.insert(n.clone());
        n
    }
}

/// The output parameters (read from a file `path`; those without one are the standard output,
/// `result`) and artifacts, stored in the workflow's artifact repository when they name none.
fn outputs(wf: &Workflow, step: &Step) -> Result<(Vec<Value>, Vec<Value>), CompileError> {
    let params: Vec<Value> = step
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
    let mut artifacts = Vec::new();
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
        artifacts.push(Value::Object(m));
    }
    Ok((params, artifacts))
}

/// Where and how long the step's pod runs, and its retries: node selector, tolerations,
/// `activeDeadlineSeconds`, `retryStrategy`.
fn insert_policies(wf: &Workflow, step: &Step, t: &mut Map<String, Value>) {
    placement(step, t);
    if let Some(d) = wf.effective_timeout(step)
        && !matches!(step.kind, StepKind::Suspend(_))
    {
        t.insert("activeDeadlineSeconds".into(), json!(secs(d).to_string()));
    }
    let Some(r) = wf.effective_retry(step) else {
        return;
    };
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
    t.insert("retryStrategy".into(), Value::Object(rs));
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
