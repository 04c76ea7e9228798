//! Rendering the IR's typed references, templates and conditions into Argo's syntax.
//!
//! One function per reference kind and scope; nothing here parses strings.

use crate::CompileError;
use couler_ir::{CmpOp, Expr, Literal, Reference, Segment, StepOutput, Template, WorkflowField};

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

/// `{{workflow.…}}` for a workflow field (`runId` is Argo's `workflow.uid`).
pub fn workflow_field(f: WorkflowField) -> &'static str {
    match f {
        WorkflowField::Name => "{{workflow.name}}",
        WorkflowField::RunId => "{{workflow.uid}}",
        WorkflowField::Status => "{{workflow.status}}",
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
        (StepOutput::Artifact(n), _) => format!("{{{{{prefix}.{step}.outputs.artifacts.{n}}}}}"),
        (StepOutput::Result, Exposure::Plain | Exposure::Mapped) => {
            format!("{{{{{prefix}.{step}.outputs.result}}}}")
        }
        (StepOutput::Result, Exposure::Wrapped) => {
            format!("{{{{{prefix}.{step}.outputs.parameters.result}}}}")
        }
        (StepOutput::Parameter(n), Exposure::Plain | Exposure::Wrapped) => {
            format!("{{{{{prefix}.{step}.outputs.parameters.{n}}}}}")
        }
        (StepOutput::Parameter(n), Exposure::Mapped) => {
            format!("{{{{=toJson(jsonpath({prefix}['{step}'].outputs.parameters, '$[*].{n}'))}}}}")
        }
    }
}

/// How a step's outputs are visible to the steps after it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exposure {
    /// Its template's own outputs.
    Plain,
    /// A `withItems`/`withParam`/`withSequence` task: Argo's aggregated outputs.
    Mapped,
    /// A wrapper template (loop or bounded fan-out) that re-exports `result` and parameters as
    /// output parameters.
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

/// Quotes a string for govaluate (Argo's `when`): single quotes, or double quotes when the text
/// holds a single quote; text holding both cannot be written.
pub fn quote(s: &str) -> Result<String, CompileError> {
    if !s.contains('\'') {
        Ok(format!("'{s}'"))
    } else if !s.contains('"') {
        Ok(format!("\"{s}\""))
    } else {
        Err(CompileError::Invalid(format!(
            "the string {s:?} in a condition holds both kinds of quote, which Argo's `when` cannot express"
        )))
    }
}

fn number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

/// Renders a condition in govaluate syntax, each reference by `reference` (a `{{…}}` tag).
///
/// Semantics of the IR: a comparison is numeric when both sides are numbers, textual otherwise.
/// A reference compared with a number literal is left unquoted (govaluate reads the substituted
/// value as a number); every other reference is quoted, so it compares as text. A bare reference is
/// true when its text is `true`.
pub fn condition(
    e: &Expr,
    reference: &mut dyn FnMut(&Reference) -> Result<String, CompileError>,
) -> Result<String, CompileError> {
    Ok(match e {
        Expr::Literal(Literal::Bool(b)) => b.to_string(),
        Expr::Literal(Literal::Number(_)) => "false".into(),
        Expr::Literal(Literal::String(s)) => format!("{} == 'true'", quote(s)?),
        Expr::Ref(r) => format!("{} == 'true'", quote(&reference(r)?)?),
        Expr::Compare { op, left, right } => {
            let numeric = matches!(**left, Expr::Literal(Literal::Number(_)))
                || matches!(**right, Expr::Literal(Literal::Number(_)));
            let l = operand(left, numeric, reference)?;
            let r = operand(right, numeric, reference)?;
            format!("{l} {} {r}", symbol(*op))
        }
        Expr::And(a, b) => format!(
            "({}) && ({})",
            condition(a, reference)?,
            condition(b, reference)?
        ),
        Expr::Or(a, b) => format!(
            "({}) || ({})",
            condition(a, reference)?,
            condition(b, reference)?
        ),
        Expr::Not(a) => format!("!({})", condition(a, reference)?),
    })
}

fn symbol(op: CmpOp) -> &'static str {
    op.symbol()
}

fn operand(
    e: &Expr,
    numeric: bool,
    reference: &mut dyn FnMut(&Reference) -> Result<String, CompileError>,
) -> Result<String, CompileError> {
    match e {
        Expr::Literal(Literal::Number(n)) => Ok(number(*n)),
        Expr::Literal(Literal::String(s)) => quote(s),
        Expr::Literal(Literal::Bool(b)) => quote(&b.to_string()),
        Expr::Ref(r) => {
            let tag = reference(r)?;
            if numeric { Ok(tag) } else { quote(&tag) }
        }
        other => Ok(format!("({})", condition(other, reference)?)),
    }
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

    #[test]
    fn conditions_quote_strings_and_keep_numbers() {
        let e =
            Expr::parse(r#"steps.a.outputs.result == "heads" && steps.a.exitCode >= 1"#).unwrap();
        let mut r = |r: &Reference| Ok(format!("{{{{{r}}}}}"));
        assert_eq!(
            condition(&e, &mut r).unwrap(),
            "('{{steps.a.outputs.result}}' == 'heads') && ({{steps.a.exitCode}} >= 1)"
        );
    }
}
