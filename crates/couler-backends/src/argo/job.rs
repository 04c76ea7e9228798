//! Distributed training jobs: a resource template creating a Kubeflow `TFJob`,
//! `PyTorchJob` or `MPIJob`, and the conditions that end it.

use super::template::PodFields;
use super::{to_yaml, volume};
use crate::CompileError;
use crate::k8s::placement;
use couler_ir::{CleanPodPolicy, Framework, Step, Workflow};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

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

fn condition(j: &couler_ir::DistributedJob, success: bool) -> String {
    let (role, n) = job_lead(j);
    if success {
        format!("status.replicaStatuses.{role}.succeeded == {n}")
    } else {
        format!("status.replicaStatuses.{role}.failed > 0")
    }
}

/// The `resource` field of a job step's template: create the job (owned by the workflow, so
/// deleting the workflow deletes it), done when its lead replica succeeds.
pub(super) fn resource(
    wf: &Workflow,
    step: &Step,
    j: &couler_ir::DistributedJob,
    command: Vec<String>,
    args: Vec<String>,
    pod: &PodFields,
) -> Result<Value, CompileError> {
    Ok(json!({
        "action": "create",
        "setOwnerReference": true,
        "manifest": manifest(wf, step, j, command, args, pod)?,
        "successCondition": condition(j, true),
        "failureCondition": condition(j, false),
    }))
}

/// The job's manifest: one replica spec per role, every replica the same pod.
fn manifest(
    wf: &Workflow,
    step: &Step,
    j: &couler_ir::DistributedJob,
    command: Vec<String>,
    args: Vec<String>,
    fields: &PodFields,
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
    fields.insert_into(&mut container);
    let mut pod = Map::new();
    pod.insert("containers".into(), json!([container]));
    placement(step, &mut pod);
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
