//! `POST /api/v1/runs`'s body, checked before anything is recorded: the spec parsed and
//! validated by couler-ir (its diagnostics, rendered as the CLI renders them, naming `spec`
//! and the line and column; warnings include each place a parameter becomes code), the parameters typed against the workflow's, the namespace a
//! DNS-1123 label.

use crate::api::ApiError;
use crate::store::NewRun;
use couler_ir::{Format, StepKind, spec};
use serde::Deserialize;
use std::collections::BTreeMap;

/// The request body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Body {
    /// The workflow spec, YAML or JSON text.
    pub spec: String,
    /// Workflow parameters: strings as given, other JSON values as their JSON text.
    #[serde(default)]
    pub parameters: BTreeMap<String, serde_json::Value>,
    #[serde(default = "default_namespace")]
    pub namespace: String,
    /// 0–9, higher first in the queue.
    #[serde(default = "default_priority")]
    pub priority: u32,
}

/// The priority of a submission that names none.
pub const DEFAULT_PRIORITY: u32 = 5;
/// The highest priority (the queue's `max_priority`).
pub const MAX_PRIORITY: u32 = 9;

fn default_priority() -> u32 {
    DEFAULT_PRIORITY
}

fn default_namespace() -> String {
    "default".to_string()
}

/// A checked submission: the run to record and the spec's warnings, rendered.
pub struct Checked {
    pub run: NewRun,
    pub warnings: Vec<String>,
}

/// The name diagnostics give the submitted text (`spec:LINE:COL`): the body's field.
const SOURCE_NAME: &str = "spec";

/// Checks `body` from `user`, whose runs count against `account`'s quota; the run gets a new
/// id (`WORKFLOW-` and 8 random hex digits).
pub fn check(body: Body, user: &str, account: &str) -> Result<Checked, ApiError> {
    check_namespace(&body.namespace)?;
    if body.priority > MAX_PRIORITY {
        return Err(ApiError::bad_request(
            "invalid priority",
            format!(
                "priority {}: give 0 to {MAX_PRIORITY} (higher runs first; default {DEFAULT_PRIORITY})",
                body.priority
            ),
        ));
    }
    let format = if body.spec.trim_start().starts_with('{') {
        Format::Json
    } else {
        Format::Yaml
    };
    let render = |diags: &[couler_ir::Diagnostic]| -> Vec<String> {
        diags
            .iter()
            .map(|d| d.render(SOURCE_NAME, Some(&body.spec)))
            .collect()
    };
    let invalid = |diags: Vec<couler_ir::Diagnostic>| {
        ApiError::bad_request("invalid spec", render(&diags).join("\n"))
    };
    let (wf, mut warnings) = spec::load(&body.spec, format).map_err(invalid)?;
    // Tuned steps run as `couler run` runs them: lowered into trials before anything else.
    let wf = couler_tune::lower::lower(wf, &body.spec).map_err(invalid)?;
    // Parameters come from whoever submits: where one becomes code, say so.
    let mut code = couler_ir::validate::untrusted::params_in_code(&wf);
    spec::place(&body.spec, &mut code);
    warnings.extend(code);
    if let Some(s) = wf
        .steps
        .iter()
        .chain(&wf.on_exit)
        .find(|s| matches!(s.kind, StepKind::Workflow(_)))
    {
        return Err(ApiError::bad_request(
            "unsupported step",
            format!(
                "step `{}` is a sub-workflow step: the server cannot read the spec files a `ref` names yet; inline its steps into this workflow, or run it with `couler run`",
                s.name
            ),
        ));
    }
    let params: Vec<(String, String)> = body
        .parameters
        .into_iter()
        .map(|(k, v)| {
            let text = match v {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            };
            (k, text)
        })
        .collect();
    couler_run::resolve_params(&wf, &params)
        .map_err(|e| ApiError::bad_request("invalid parameters", e.to_string()))?;
    let id = format!(
        "{}-{}",
        wf.name,
        crate::auth::random_hex(4).map_err(ApiError::internal)?
    );
    Ok(Checked {
        run: NewRun {
            id,
            namespace: body.namespace,
            workflow: wf.name.clone(),
            submitted_by: user.to_string(),
            spec: spec::to_json(&wf),
            params: serde_json::to_string(&params)
                .map_err(|e| ApiError::internal(e.to_string()))?,
            priority: body.priority,
            request: crate::pool::request_of(&wf),
            account: account.to_string(),
        },
        warnings: render(&warnings),
    })
}

/// A namespace is a DNS-1123 label, as on Kubernetes.
pub fn check_namespace(ns: &str) -> Result<(), ApiError> {
    let ok = !ns.is_empty()
        && ns.len() <= 63
        && ns
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !ns.starts_with('-')
        && !ns.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "invalid namespace",
            format!(
                "namespace `{ns}`: use lowercase letters, digits and `-` (at most 63, not starting or ending with `-`)"
            ),
        ))
    }
}

/// The parameters a run was submitted with, as `--param` pairs.
pub fn params_of(text: &str) -> Result<Vec<(String, String)>, String> {
    serde_json::from_str(text).map_err(|e| format!("the stored parameters cannot be read: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(spec: &str, namespace: &str) -> Body {
        Body {
            spec: spec.to_string(),
            parameters: BTreeMap::new(),
            namespace: namespace.to_string(),
            priority: DEFAULT_PRIORITY,
        }
    }

    const SUB: &str = "apiVersion: couler.dev/v1alpha1\nkind: Workflow\nname: p\nsteps:\n- name: child\n  workflow:\n    ref: other.yaml\n";

    #[test]
    fn namespaces_are_dns_labels() {
        for ok in ["default", "team-a", "a1"] {
            assert!(check_namespace(ok).is_ok(), "{ok}");
        }
        for bad in ["", "Team", "-a", "a-", "a_b", "a/b", &"x".repeat(64)] {
            let e = check_namespace(bad).expect_err(bad);
            assert_eq!(e.status, axum::http::StatusCode::BAD_REQUEST);
        }
    }

    #[test]
    fn a_parameter_substituted_into_code_is_warned_at_its_line() {
        let spec = "apiVersion: couler.dev/v1alpha1\nkind: Workflow\nname: p\nparams:\n- name: msg\nsteps:\n- name: a\n  script:\n    source: print('{{params.msg}}')\n- name: b\n  env:\n    MSG: '{{params.msg}}'\n  script:\n    source: import os; print(os.environ['MSG'])\n";
        let mut b = body(spec, "default");
        b.parameters.insert("msg".into(), "hi".into());
        let checked = check(b, "ann", "ann").unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(checked.warnings.len(), 1, "{:?}", checked.warnings);
        let w = &checked.warnings[0];
        assert!(w.contains("parameter `msg`"), "{w}");
        assert!(w.contains("spec:9:"), "{w}");
    }

    #[test]
    fn a_sub_workflow_step_is_refused_with_what_to_do() {
        let Err(e) = check(body(SUB, "default"), "ann", "ann") else {
            panic!("a sub-workflow step was accepted");
        };
        assert_eq!(e.error, "unsupported step");
        assert!(e.detail.contains("step `child`"), "{}", e.detail);
    }

    #[test]
    fn a_json_spec_is_read_as_json_and_stored_canonical() {
        let json = r#"{"apiVersion": "couler.dev/v1alpha1", "kind": "Workflow", "name": "j",
            "steps": [{"name": "s", "container": {"command": ["true"]}}]}"#;
        let checked =
            check(body(json, "default"), "ann", "ann").unwrap_or_else(|e| panic!("{e:?}"));
        assert!(checked.run.id.starts_with("j-"), "{}", checked.run.id);
        assert_eq!(checked.run.id.len(), "j-".len() + 8);
        let wf = couler_ir::spec::parse(json, Format::Json).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(checked.run.spec, spec::to_json(&wf));
        assert_eq!(checked.run.params, "[]");
    }
}
