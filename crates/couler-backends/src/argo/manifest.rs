//! The Workflow a sub-workflow step creates (a `resource` manifest): named after the child
//! spec's own `name:` (what `--kind workflow-template` registers), with each param that reads
//! a value written as `{{=toJson(…)}}`. Argo substitutes the manifest as text, so a value
//! pasted into it (`it's`, `a: b`, a newline) would break its YAML; `toJson` makes every value
//! one valid scalar (docs/argo.md, "Sub-workflows").

use super::{render, to_yaml};
use crate::CompileError;
use couler_ir::{Reference, Segment, Template};
use serde_json::json;
use std::collections::BTreeMap;

/// The manifest's YAML. `placeholder` renders a reference as the step's template sees it.
pub(super) fn child_manifest(
    template_name: &str,
    params: &BTreeMap<String, Template>,
    mut placeholder: impl FnMut(&Reference) -> Result<String, CompileError>,
) -> Result<String, CompileError> {
    let mut args = Vec::new();
    let mut tags = Vec::new();
    for (k, v) in params {
        let value = if v.refs().next().is_none() {
            render::template(v, &mut placeholder)?
        } else {
            // A plain word in the printed YAML, replaced by the tag below.
            tags.push((
                format!("COULER-ARG-{}", tags.len()),
                json_tag(v, &mut placeholder)?,
            ));
            tags[tags.len() - 1].0.clone()
        };
        args.push(json!({"name": k, "value": value}));
    }
    let mut spec = json!({"workflowTemplateRef": {"name": template_name}});
    if !args.is_empty() {
        spec["arguments"] = json!({"parameters": args});
    }
    let child = json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Workflow",
        "metadata": {"generateName": format!("{template_name}-")},
        "spec": spec,
    });
    let mut text = to_yaml(&child)?;
    for (word, tag) in &tags {
        text = text.replace(&format!(": {word}\n"), &format!(": {tag}\n"));
    }
    Ok(text)
}

/// `{{=toJson(…)}}` of a template: its text as expr string literals and its references as
/// expr variables, joined by `+`.
fn json_tag(
    t: &Template,
    placeholder: &mut impl FnMut(&Reference) -> Result<String, CompileError>,
) -> Result<String, CompileError> {
    let mut parts = Vec::new();
    for seg in t.segments() {
        parts.push(match seg {
            Segment::Text(s) => expr_string(s),
            Segment::Ref(r) => expr_variable(&placeholder(r)?),
        });
    }
    Ok(format!("{{{{=toJson({})}}}}", parts.join(" + ")))
}

/// An expr string literal. A `}` is its own literal, so no `}}` ever ends the tag early.
fn expr_string(s: &str) -> String {
    let quoted = |p: &str| format!("'{}'", p.replace('\\', "\\\\").replace('\'', "\\'"));
    let pieces: Vec<String> = s.split('}').map(quoted).collect();
    pieces.join(" + '}' + ")
}

/// The expr form of an Argo placeholder this backend wrote: `{{=E}}` is `(E)`,
/// `{{X.parameters.N}}` is `X.parameters['N']`, other fields as they are.
fn expr_variable(tag: &str) -> String {
    let inner = tag
        .strip_prefix("{{")
        .and_then(|t| t.strip_suffix("}}"))
        .unwrap_or(tag);
    if let Some(e) = inner.strip_prefix('=') {
        return format!("({e})");
    }
    match inner.split_once(".parameters.") {
        Some((scope, name)) => format!("{scope}.parameters['{name}']"),
        None => inner.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_and_placeholders_become_one_expr() {
        assert_eq!(
            expr_string("it's \\ a}}b"),
            "'it\\'s \\\\ a' + '}' + '' + '}' + 'b'"
        );
        assert_eq!(
            expr_variable("{{workflow.parameters.x}}"),
            "workflow.parameters['x']"
        );
        assert_eq!(
            expr_variable("{{inputs.parameters.steps-a-result}}"),
            "inputs.parameters['steps-a-result']"
        );
        assert_eq!(expr_variable("{{workflow.uid}}"), "workflow.uid");
        assert_eq!(expr_variable("{{=toJson(x)}}"), "(toJson(x))");
    }
}
