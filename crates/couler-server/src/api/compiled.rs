//! `GET /api/v1/runs/{id}/compiled?target=argo|airflow|tekton`: a run's workflow compiled for
//! an engine, as `couler compile --target TARGET` writes it (the backend's one `compile`,
//! default options), for the web UI's compile preview (docs/ui.md). A backend that refuses
//! the workflow is an answer too: `refused` carries its reason, naming the step and the
//! backends that can run it.

use super::runs::find;
use super::ui::stored_workflow;
use super::{ApiError, Shared};
use crate::auth::{Principal, Role};
use axum::Extension;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use couler_backends::{Backend, Options};
use couler_ir::Workflow;
use serde::Deserialize;
use serde_json::{Value, json};

/// The engines a run can be previewed for (the local runtime runs it; it has no files).
pub const TARGETS: [&str; 3] = ["argo", "airflow", "tekton"];

#[derive(Deserialize)]
pub struct Target {
    target: String,
}

pub async fn compiled(
    State(app): State<Shared>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
    query: Result<Query<Target>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = query.map_err(|e| {
        ApiError::bad_request(
            "invalid query",
            format!(
                "{}; give ?target= one of {}",
                e.body_text(),
                TARGETS.join(", ")
            ),
        )
    })?;
    let backend = TARGETS
        .contains(&q.target.as_str())
        .then(|| couler_backends::backend(&q.target))
        .flatten()
        .ok_or_else(|| {
            ApiError::bad_request(
                "unknown target",
                format!(
                    "`{}` is no engine: give ?target= one of {}",
                    q.target,
                    TARGETS.join(", ")
                ),
            )
        })?;
    let row = find(&app, &p, &id, Role::Viewer)?;
    let wf = stored_workflow(&row)?;
    Ok(Json(preview(backend.as_ref(), &wf)).into_response())
}

/// `{target, files: {name: text}, warnings, refused}`: the files, or why there are none.
pub fn preview(backend: &dyn Backend, wf: &Workflow) -> Value {
    let (files, warnings, refused) = match backend.compile(wf, &Options::default()) {
        Ok(out) => (json!(out.files), out.warnings, None),
        Err(e) => (json!({}), Vec::new(), Some(e.to_string())),
    };
    json!({"target": backend.name(), "files": files, "warnings": warnings, "refused": refused})
}

#[cfg(test)]
mod tests {
    use super::*;
    use couler_ir::{Format, spec};

    fn wf(yaml: &str) -> Workflow {
        spec::parse(yaml, Format::Yaml).unwrap_or_else(|e| panic!("{e:?}"))
    }

    #[test]
    fn each_engine_gets_its_files_and_a_refusal_names_the_step() {
        let plain = wf(
            "apiVersion: couler.dev/v1alpha1\nkind: Workflow\nname: g\nsteps:\n\
                        - name: a\n  container:\n    image: alpine:3.20\n    command: [echo, hi]\n",
        );
        for name in TARGETS {
            let b = couler_backends::backend(name).unwrap_or_else(|| panic!("{name}"));
            let got = preview(b.as_ref(), &plain);
            assert_eq!(got["target"], name);
            assert_eq!(got["refused"], Value::Null, "{got}");
            let files = got["files"].as_object().unwrap_or_else(|| panic!("{got}"));
            assert!(!files.is_empty(), "{got}");
        }
        let argo = couler_backends::backend("argo").unwrap_or_else(|| panic!("argo"));
        let text = preview(argo.as_ref(), &plain)["files"].to_string();
        assert!(text.contains("kind: Workflow"), "{text}");
        // A suspend step: a Tekton Pipeline has no such thing; it says which step and who can.
        let suspend = wf(
            "apiVersion: couler.dev/v1alpha1\nkind: Workflow\nname: g\nsteps:\n\
                          - name: wait\n  suspend: {}\n",
        );
        let tekton = couler_backends::backend("tekton").unwrap_or_else(|| panic!("tekton"));
        let got = preview(tekton.as_ref(), &suspend);
        let why = got["refused"].as_str().unwrap_or_else(|| panic!("{got}"));
        assert!(why.contains("`wait`") && why.contains("argo"), "{why}");
        assert_eq!(got["files"], json!({}));
    }
}
