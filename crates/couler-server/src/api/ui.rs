//! What the web UI needs beside the runs API (docs/ui.md): who the caller is (`GET /me`, so the
//! UI hides what their role may not do; the server still refuses it), and a run's workflow as
//! its graph and YAML (`GET /runs/{id}/workflow`): the edges are couler-ir's `Graph`, the one
//! rule for dependencies, never recomputed in the browser.

use super::runs::find;
use super::{ApiError, AuthMode, Shared};
use crate::auth::{Principal, Role};
use crate::store::RunRow;
use axum::Extension;
use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use couler_ir::{Format, Graph, Step, Workflow, spec};
use serde_json::{Value, json};

/// `GET /api/v1/me`: the caller, their roles and how the server authenticates.
pub async fn me(State(app): State<Shared>, Extension(p): Extension<Principal>) -> Response {
    let roles: Vec<Value> = p
        .bindings
        .iter()
        .map(|b| json!({"namespace": b.namespace, "role": b.role.as_str()}))
        .collect();
    let auth = match app.auth {
        AuthMode::Token => "token",
        AuthMode::None => "none",
    };
    Json(json!({"user": p.user, "roles": roles, "auth": auth})).into_response()
}

/// `GET /api/v1/runs/{id}/workflow`: the run's stored workflow as YAML, its steps (the exit
/// handler's marked `onExit`) and their dependency edges.
pub async fn workflow(
    State(app): State<Shared>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let row = find(&app, &p, &id, Role::Viewer)?;
    Ok(Json(graph_json(&stored_workflow(&row)?)).into_response())
}

/// The run's workflow as it was submitted.
pub(super) fn stored_workflow(row: &RunRow) -> Result<Workflow, ApiError> {
    // Stored canonical JSON, accepted when submitted: a failure here is the server's own.
    spec::parse(&row.spec, Format::Json).map_err(|d| {
        ApiError::internal(format!(
            "run `{}`: its stored spec no longer reads: {d:?}",
            row.id
        ))
    })
}

/// The workflow's YAML, nodes and edges.
pub fn graph_json(wf: &Workflow) -> Value {
    let mut nodes: Vec<Value> = wf.steps.iter().map(|s| node(s, false)).collect();
    nodes.extend(wf.on_exit.iter().map(|s| node(s, true)));
    let mut edges = edges_of(&wf.steps, &Graph::new(wf));
    edges.extend(edges_of(&wf.on_exit, &Graph::of_exit_handler(wf)));
    json!({
        "workflow": wf.name,
        "yaml": spec::to_yaml(wf),
        "nodes": nodes,
        "edges": edges,
    })
}

fn node(s: &Step, on_exit: bool) -> Value {
    json!({
        "name": s.name,
        "kind": s.kind.key(),
        "onExit": on_exit,
        "map": s.map.is_some(),
        "inputs": s.inputs,
    })
}

fn edges_of(steps: &[Step], g: &Graph) -> Vec<Value> {
    g.edges()
        .map(|(from, to)| json!({"from": steps[from].name, "to": steps[to].name}))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_graph_has_reference_and_depends_on_edges_and_the_exit_handler() {
        let yaml = "apiVersion: couler.dev/v1alpha1\nkind: Workflow\nname: g\nsteps:\n\
                    - name: a\n  script:\n    source: echo 1\n\
                    - name: b\n  container:\n    command: [echo, '{{steps.a.outputs.result}}']\n\
                    - name: c\n  script:\n    source: echo 3\n  dependsOn: [a]\n\
                    onExit:\n- name: bye\n  script:\n    source: echo bye\n";
        let wf = spec::parse(yaml, Format::Yaml).unwrap_or_else(|e| panic!("{e:?}"));
        let g = graph_json(&wf);
        assert_eq!(
            g["edges"],
            json!([{"from": "a", "to": "b"}, {"from": "a", "to": "c"}])
        );
        let kinds: Vec<(&str, &str, bool)> = g["nodes"]
            .as_array()
            .unwrap_or_else(|| panic!("{g}"))
            .iter()
            .map(|n| {
                (
                    n["name"].as_str().unwrap_or(""),
                    n["kind"].as_str().unwrap_or(""),
                    n["onExit"] == true,
                )
            })
            .collect();
        assert_eq!(
            kinds,
            [
                ("a", "script", false),
                ("b", "container", false),
                ("c", "script", false),
                ("bye", "script", true)
            ]
        );
        assert!(
            g["yaml"].as_str().is_some_and(|y| y.contains("name: g\n")),
            "{g}"
        );
    }
}
