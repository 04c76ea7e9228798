//! Rendering the IR's typed references, templates and conditions into Argo's syntax.
//!
//! One function per reference kind and scope; nothing here parses strings.

use crate::CompileError;
use couler_ir::{Reference, Segment, StepOutput, Template, WorkflowField};

/// A literal `{{` in user text: Argo has no escape for it, so it is produced by an expression
/// tag whose value is the two braces (`{{='{{'}}`). Argo therefore never tries to resolve user
/// text such as `{{ .Values.x }}`.
pub const LITERAL_OPEN: &str = "{{='{{'}}";

/// Appends user text, neutralising every `{{`.
pub fn push_text(out: &mut String, text: &str) {
    let mut rest = text;
    while let Some(i) = rest.find("{{") {
        out.push_str(&rest[..i]);
        out.push_str(LITERAL_OPEN);
        rest = &rest[i + 2..];
    }
    out.push_str(rest);
}

/// A workflow field as the local runtime reads it. `workflow.name` is the spec's name (the
/// workflow `name`), not Argo's generated `name-x7k2p`, so paths and comparisons built from it are
/// the same on every engine; `runId` is Argo's `workflow.uid`.
pub fn workflow_field(f: WorkflowField, spec_name: &str) -> String {
    match f {
        WorkflowField::Name => {
            let mut out = String::new();
            push_text(&mut out, spec_name);
            out
        }
        WorkflowField::RunId => "{{workflow.uid}}".into(),
        WorkflowField::Status => "{{workflow.status}}".into(),
    }
}

/// `{{workflow.parameters.N}}`.
pub fn workflow_param(name: &str) -> String {
    format!("{{{{workflow.parameters.{name}}}}}")
}

/// `{{inputs.parameters.N}}`.
pub fn input_param(name: &str) -> String {
    format!("{{{{inputs.parameters.{name}}}}}")
}

/// `{{item}}` / `{{item.k.sub}}`.
pub fn item(keys: &[String]) -> String {
    let mut s = String::from("{{item");
    for k in keys {
        s.push('.');
        s.push_str(k);
    }
    s.push_str("}}");
    s
}

/// A step output read from the scope that ran the step: `prefix` is `tasks` in a DAG template and
/// `steps` in a steps template. `collected` is how the step's outputs are exposed.
pub fn step_output(prefix: &str, step: &str, output: &StepOutput, exposed: Exposure) -> String {
    match (output, exposed) {
        (StepOutput::ExitCode, _) => format!("{{{{{prefix}.{step}.exitCode}}}}"),
        (StepOutput::Status, _) => format!("{{{{{prefix}.{step}.status}}}}"),
        (StepOutput::Ip, _) => format!("{{{{{prefix}.{step}.ip}}}}"),
        (StepOutput::Artifact(n), _) => format!("{{{{{prefix}.{step}.outputs.artifacts.{n}}}}}"),
        (StepOutput::Result, Exposure::Plain) => {
            format!("{{{{{prefix}.{step}.outputs.result}}}}")
        }
        (StepOutput::Result, Exposure::Wrapped) => {
            format!("{{{{{prefix}.{step}.outputs.parameters.result}}}}")
        }
        (StepOutput::Parameter(n), _) => {
            format!("{{{{{prefix}.{step}.outputs.parameters.{n}}}}}")
        }
    }
}

/// How a step's outputs are visible to the steps after it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exposure {
    /// Its template's own outputs.
    Plain,
    /// A wrapper template (a `repeat` loop, or a mapped step's `S-map`) that re-exports `result`
    /// and parameters as output parameters.
    Wrapped,
}

/// Renders a template, each reference by `reference`.
pub fn template(
    t: &Template,
    mut reference: impl FnMut(&Reference) -> Result<String, CompileError>,
) -> Result<String, CompileError> {
    let mut out = String::new();
    for seg in t.segments() {
        match seg {
            Segment::Text(s) => push_text(&mut out, s),
            Segment::Ref(r) => out.push_str(&reference(r)?),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_braces_are_neutralised() {
        let mut s = String::new();
        push_text(&mut s, "a {{ .Values.x }} b");
        assert_eq!(s, "a {{='{{'}} .Values.x }} b");
    }
}
