//! One Workflow as a run: compiled as `couler submit --engine argo` compiles it, created under a
//! chosen name with the run's parameter values, found again by that name, followed to its end
//! with its nodes, stopped (`spec.shutdown: Stop`). What `couler submit` and `couler server`'s
//! Argo clusters share.

use crate::{Cluster, Created, Submitted, argo_api};
use couler_backends::argo::Argo;
use couler_backends::{Backend, Options};
use kube::api::{DynamicObject, Patch, PatchParams};
use serde_json::{Value, json};
use std::time::Duration;

/// A compiled Argo document and the warnings of its compilation.
pub struct Compiled {
    pub yaml: String,
    pub warnings: Vec<String>,
}

/// Compiles `wf` for Argo as `couler submit` submits it (one document: a Workflow, or a
/// CronWorkflow for a scheduled spec).
pub fn compile(wf: &couler_ir::Workflow, options: &Options) -> Result<Compiled, String> {
    let out = Argo.compile(wf, options).map_err(|e| e.to_string())?;
    let yaml = out
        .files
        .into_values()
        .next()
        .ok_or("the Argo backend produced no document")?;
    Ok(Compiled {
        yaml,
        warnings: out.warnings,
    })
}

/// The Kubernetes name of a run id: lowercase letters, digits and `-` (anything else becomes
/// `-`), at most 63 characters keeping the id's tail (the server's random suffix), starting and
/// ending with a letter or digit. Equal ids give equal names, so a restarted server finds the
/// Workflow it created.
pub fn name_of(id: &str) -> String {
    let mapped: String = id
        .chars()
        .map(|c| match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9') => c,
            _ => '-',
        })
        .collect();
    let tail = &mapped[mapped.len().saturating_sub(63)..];
    let name = tail.trim_matches('-');
    if name.is_empty() {
        "run".to_string()
    } else {
        name.to_string()
    }
}

/// Creates the Workflow `yaml` on `cluster` named `name` (its `generateName` dropped), its
/// `spec.arguments.parameters` carrying `params`' values; another kind of document (a
/// CronWorkflow) is refused before anything is created.
pub async fn create_named(
    cluster: &Cluster,
    yaml: &str,
    name: &str,
    params: &[(String, String)],
) -> Result<Submitted, String> {
    let mut obj: DynamicObject = serde_norway::from_str(yaml)
        .map_err(|e| format!("the compiled document does not read back: {e}"))?;
    let kind = obj.types.as_ref().map_or("", |t| t.kind.as_str());
    if kind != "Workflow" {
        return Err(format!(
            "the spec compiles to a {kind} (it has a schedule), not a Workflow that runs once: remove the schedule"
        ));
    }
    obj.metadata.name = Some(name.to_string());
    obj.metadata.generate_name = None;
    set_arguments(&mut obj.data, params);
    crate::create_object(cluster, obj, &[]).await
}

/// Sets each parameter's `value` in `spec.arguments.parameters`, adding the ones not there.
fn set_arguments(data: &mut Value, params: &[(String, String)]) {
    if params.is_empty() {
        return;
    }
    let list = &mut data["spec"]["arguments"]["parameters"];
    if !list.is_array() {
        *list = json!([]);
    }
    let Some(list) = list.as_array_mut() else {
        return;
    };
    for (name, value) in params {
        match list.iter_mut().find(|p| p["name"] == name.as_str()) {
            Some(p) => p["value"] = json!(value),
            None => list.push(json!({"name": name, "value": value})),
        }
    }
}

/// The Workflow `name` on `cluster`, if it exists, and the object as read.
pub async fn find(cluster: &Cluster, name: &str) -> Result<Option<(Submitted, Value)>, String> {
    let (client, namespace) = cluster.client().await?;
    let api = argo_api(client, &namespace, "Workflow");
    match api.get(name).await {
        Ok(found) => Ok(Some((
            Submitted {
                created: Created {
                    kind: "Workflow".into(),
                    namespace,
                    name: name.to_string(),
                    uid: found.metadata.uid,
                },
                api,
            },
            found.data,
        ))),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(None),
        Err(e) => Err(format!(
            "cannot read Workflow {namespace}/{name}: {}",
            crate::api_message(&e)
        )),
    }
}

/// Asks Argo to stop the Workflow: a merge patch of `spec.shutdown: Stop` (its running steps
/// are stopped, its exit handler still runs).
pub async fn shutdown(submitted: &Submitted) -> Result<(), String> {
    let Created {
        namespace, name, ..
    } = &submitted.created;
    let patch = json!({"spec": {"shutdown": "Stop"}});
    submitted
        .api
        .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map(drop)
        .map_err(|e| {
            format!(
                "cannot stop Workflow {namespace}/{name}: {}",
                crate::api_message(&e)
            )
        })
}

/// The end of a Workflow: its final phase and `status.message`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ended {
    pub phase: String,
    pub message: Option<String>,
}

/// The end of the Workflow object `workflow`, if its phase is final.
pub fn ended(workflow: &Value) -> Option<Ended> {
    let status = &workflow["status"];
    let phase = status["phase"].as_str().unwrap_or("Pending");
    matches!(phase, "Succeeded" | "Failed" | "Error").then(|| Ended {
        phase: phase.to_string(),
        message: status["message"].as_str().map(str::to_string),
    })
}

/// Follows a Workflow, reading it every `poll` and handing each reading to `on_read`, until
/// its phase is `Succeeded`, `Failed` or `Error`.
pub async fn follow(
    submitted: &Submitted,
    poll: Duration,
    mut on_read: impl FnMut(&Value),
) -> Result<Ended, String> {
    let Created {
        namespace, name, ..
    } = &submitted.created;
    loop {
        let current = submitted.api.get(name).await.map_err(|e| {
            format!(
                "cannot read Workflow {namespace}/{name}: {}",
                crate::api_message(&e)
            )
        })?;
        on_read(&current.data);
        if let Some(end) = ended(&current.data) {
            return Ok(end);
        }
        tokio::time::sleep(poll).await;
    }
}

/// One node of a Workflow's `status.nodes` that runs something (groups left out).
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub name: String,
    /// Couler's status: Succeeded, Failed, Error, Skipped, Running or Pending.
    pub status: String,
    /// Seconds since the epoch.
    pub started_at: Option<f64>,
    pub finished_at: Option<f64>,
    pub message: Option<String>,
}

/// The nodes of a Workflow object (its `status.nodes`), by start time then name; DAG, Steps,
/// StepGroup, TaskGroup and Retry nodes (which only group others) are left out.
pub fn nodes(workflow: &Value) -> Vec<Node> {
    let Some(map) = workflow["status"]["nodes"].as_object() else {
        return Vec::new();
    };
    let time = |v: &Value| v.as_str().and_then(seconds_of);
    let mut out: Vec<Node> = map
        .values()
        .filter(|n| {
            !matches!(
                n["type"].as_str(),
                Some("DAG" | "Steps" | "StepGroup" | "TaskGroup" | "Retry")
            )
        })
        .map(|n| Node {
            name: n["displayName"]
                .as_str()
                .or(n["name"].as_str())
                .unwrap_or_default()
                .to_string(),
            status: status_of(n["phase"].as_str().unwrap_or("")).to_string(),
            started_at: time(&n["startedAt"]),
            finished_at: time(&n["finishedAt"]),
            message: n["message"]
                .as_str()
                .filter(|m| !m.is_empty())
                .map(str::to_string),
        })
        .collect();
    out.sort_by(|a, b| {
        a.started_at
            .partial_cmp(&b.started_at)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then_with(|| a.name.cmp(&b.name))
    });
    out
}

/// Seconds since the epoch of an RFC 3339 timestamp (as Kubernetes and Airflow write them),
/// to the millisecond.
pub fn seconds_of(timestamp: &str) -> Option<f64> {
    timestamp
        .parse::<k8s_openapi::jiff::Timestamp>()
        .ok()
        .map(|t| t.as_millisecond() as f64 / 1000.0)
}

/// Couler's status of an Argo node phase (`Omitted`: Skipped; unknown: Pending).
fn status_of(phase: &str) -> &'static str {
    match phase {
        "Succeeded" => "Succeeded",
        "Failed" => "Failed",
        "Error" => "Error",
        "Skipped" | "Omitted" => "Skipped",
        "Running" => "Running",
        _ => "Pending",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_kubernetes_names_and_deterministic() {
        assert_eq!(name_of("hello-0a1b2c3d"), "hello-0a1b2c3d");
        assert_eq!(name_of("My_Flow-0A1B2C3D"), "my-flow-0a1b2c3d");
        let long = format!("{}-0a1b2c3d", "x".repeat(80));
        let n = name_of(&long);
        assert_eq!(n.len(), 63);
        assert!(n.ends_with("-0a1b2c3d"));
        assert_eq!(n, name_of(&long));
        assert_eq!(name_of("-_-"), "run");
    }

    #[test]
    fn parameter_values_replace_defaults_and_unknown_ones_are_added() {
        let mut data = json!({"spec": {"arguments": {"parameters": [
            {"name": "n", "value": "1"}, {"name": "m", "value": "2"}]}}});
        set_arguments(
            &mut data,
            &[("n".into(), "$(rm -rf /)".into()), ("k".into(), "v".into())],
        );
        assert_eq!(
            data["spec"]["arguments"]["parameters"],
            json!([{"name": "n", "value": "$(rm -rf /)"}, {"name": "m", "value": "2"},
                   {"name": "k", "value": "v"}])
        );
    }

    #[test]
    fn nodes_map_phases_and_times_and_leave_groups_out() {
        let wf = json!({"status": {"nodes": {
            "w": {"displayName": "w", "type": "DAG", "phase": "Running"},
            "w-2": {"displayName": "b", "type": "Pod", "phase": "Omitted",
                    "startedAt": "2026-01-01T00:00:10Z"},
            "w-1": {"displayName": "a", "type": "Pod", "phase": "Failed", "message": "boom",
                    "startedAt": "2026-01-01T00:00:00Z", "finishedAt": "2026-01-01T00:00:05Z"}}}});
        let n = nodes(&wf);
        assert_eq!(n.len(), 2);
        assert_eq!((n[0].name.as_str(), n[0].status.as_str()), ("a", "Failed"));
        assert_eq!(
            n[0].finished_at.zip(n[0].started_at).map(|(f, s)| f - s),
            Some(5.0)
        );
        assert_eq!(n[0].started_at, Some(1_767_225_600.0));
        assert_eq!(n[0].message.as_deref(), Some("boom"));
        assert_eq!((n[1].name.as_str(), n[1].status.as_str()), ("b", "Skipped"));
    }
}
