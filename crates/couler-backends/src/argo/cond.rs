//! Conditions (`when`, `repeat.while`) as one Argo expression tag with the local runtime's
//! meaning.
//!
//! Locally (`couler_run::render`) every operand is text; a comparison is numeric when both
//! sides, trimmed, read as numbers (Rust's `f64` grammar), else it compares the text byte by
//! byte; a bare operand is true when its trimmed text is `true`. govaluate cannot express that
//! (it ends a string at either quote, cannot lex `1e-05`, and compares quoted numbers as text),
//! so a condition becomes `{{=EXPR}}`: expr computes the decision from Argo's own variables and
//! yields `true` or `false`, which is all govaluate then reads.
//!
//! Argo details the output respects (docs/argo.md, "Conditions"):
//! - an expression tag holding both `?` and `:` is cut at the first `?` by Argo's ternary
//!   shortcut, and fasttemplate ends a tag at the first `}}`: no `?`, `:`, `{` or `}` is ever
//!   written; user text and the number pattern go in string literals whose other characters
//!   are `\u` escapes, so a literal never needs a quote either;
//! - `tasks['S'].outputs.result` keeps the shape Argo's `hasOutputResultRef` looks for.

use crate::CompileError;
use couler_ir::{CmpOp, Expr, Reference, StepOutput, Workflow};

/// A number as Rust's `str::parse::<f64>` reads it after `trim()`, written for Go's RE2
/// (`regexMatch`). `nan` is apart: Go's `ParseFloat` refuses a signed one.
const NUMBER: &str =
    r"^[+-]?([iI][nN][fF]([iI][nN][iI][tT][yY])?|([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?)$";
/// `nan`, signed or not, any case: it is a number locally, and never equal or ordered.
const NAN: &str = r"^[+-]?[nN][aA][nN]$";

/// Renders a condition as `{{=…}}`; each reference is first rendered by `reference` into an
/// Argo tag (`{{tasks.a.outputs.result}}`, `{{=…}}`, or text around tags for an input param).
pub fn condition(
    e: &Expr,
    reference: &mut dyn FnMut(&Reference) -> Result<String, CompileError>,
) -> Result<String, CompileError> {
    Ok(format!("{{{{={}}}}}", boolean(e, reference)?))
}

/// Refuses a condition of step `at` that reads a variable Argo drops from expression
/// environments: `removeConflicts` sorts the names and drops one that is a string prefix of the
/// next (`workflow.parameters.n` when `workflow.parameters.n2` exists), so expr would read nil.
pub fn check_names(wf: &Workflow, at: &str, e: &Expr) -> Result<(), CompileError> {
    for r in e.refs() {
        let (name, others, what): (&str, Vec<&str>, String) = match r {
            Reference::Param(n) => (
                n,
                wf.params.iter().map(|p| p.name.as_str()).collect(),
                "param".into(),
            ),
            Reference::Step {
                step,
                output: StepOutput::Parameter(n),
            } => (
                n,
                wf.steps
                    .iter()
                    .filter(|s| s.name == *step)
                    .flat_map(|s| s.outputs.parameters.iter().map(|p| p.name.as_str()))
                    .collect(),
                format!("output parameter of `{step}`"),
            ),
            _ => continue,
        };
        if let Some(longer) = others
            .iter()
            .find(|o| o.len() > name.len() && o.starts_with(name))
        {
            return Err(CompileError::Invalid(format!(
                "step `{at}`: its condition reads the {what} `{name}`, which Argo drops from \
                 expression variables because `{longer}` starts with it (Argo's removeConflicts); \
                 rename one of them so that neither name begins with the other"
            )));
        }
    }
    Ok(())
}

/// An expr expression of type bool with the local meaning of `e`.
fn boolean(
    e: &Expr,
    reference: &mut dyn FnMut(&Reference) -> Result<String, CompileError>,
) -> Result<String, CompileError> {
    Ok(match e {
        Expr::Literal(l) => truthy_text(&l.as_text()).to_string(),
        Expr::Ref(r) => format!(
            "sprig.trim({}) == {}",
            tags(&reference(r)?),
            literal("true")
        ),
        Expr::Compare { op, left, right } => {
            compare(*op, operand(left, reference)?, operand(right, reference)?)
        }
        Expr::And(a, b) => format!(
            "({}) && ({})",
            boolean(a, reference)?,
            boolean(b, reference)?
        ),
        Expr::Or(a, b) => format!(
            "({}) || ({})",
            boolean(a, reference)?,
            boolean(b, reference)?
        ),
        Expr::Not(a) => format!("!({})", boolean(a, reference)?),
    })
}

fn truthy_text(s: &str) -> bool {
    s.trim() == "true"
}

/// An operand: an expr string, and what is known at compile time about its text.
struct Operand {
    expr: String,
    known: Option<String>,
}

fn operand(
    e: &Expr,
    reference: &mut dyn FnMut(&Reference) -> Result<String, CompileError>,
) -> Result<Operand, CompileError> {
    Ok(match e {
        Expr::Literal(l) => {
            let text = l.as_text();
            Operand {
                expr: literal(&text),
                known: Some(text),
            }
        }
        Expr::Ref(r) => Operand {
            expr: tags(&reference(r)?),
            known: None,
        },
        // A sub-condition's text is `true` or `false`: never a number.
        other => Operand {
            expr: format!("toJson({})", boolean(other, reference)?),
            known: Some("true".into()),
        },
    })
}

/// What a side's text is: a number, `nan`, or not a number (`None` when unknown until run time).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Number,
    Nan,
    Text,
}

fn kind_of(text: &str) -> Kind {
    match text.trim().parse::<f64>() {
        Ok(n) if n.is_nan() => Kind::Nan,
        Ok(_) => Kind::Number,
        Err(_) => Kind::Text,
    }
}

fn matches(pattern: &str, side: &Operand) -> String {
    format!(
        "sprig.regexMatch({}, sprig.trim({}))",
        literal(pattern),
        side.expr
    )
}

/// The local `compare`: numeric when both sides read as numbers (a `nan` is only unequal),
/// else text.
fn compare(op: CmpOp, l: Operand, r: Operand) -> String {
    let sym = op.symbol();
    let text = format!("{} {sym} {}", l.expr, r.expr);
    let numeric = format!(
        "asFloat(sprig.trim({})) {sym} asFloat(sprig.trim({}))",
        l.expr, r.expr
    );
    let nan = (op == CmpOp::Ne).to_string();
    let kinds = (
        l.known.as_deref().map(kind_of),
        r.known.as_deref().map(kind_of),
    );
    match kinds {
        (Some(Kind::Text), _) | (_, Some(Kind::Text)) => text,
        (Some(Kind::Nan), Some(_)) | (Some(_), Some(Kind::Nan)) => nan,
        (Some(Kind::Number), Some(Kind::Number)) => numeric,
        _ => {
            // At least one side is known only at run time.
            let unknown: Vec<&Operand> =
                [&l, &r].into_iter().filter(|o| o.known.is_none()).collect();
            let is_number = unknown
                .iter()
                .map(|o| format!("({} || {})", matches(NUMBER, o), matches(NAN, o)))
                .collect::<Vec<_>>()
                .join(" && ");
            let any_nan = [&l, &r]
                .iter()
                .filter_map(|o| match &o.known {
                    None => Some(matches(NAN, o)),
                    Some(t) if kind_of(t) == Kind::Nan => Some("true".into()),
                    Some(_) => None,
                })
                .collect::<Vec<_>>();
            let any_nan = if any_nan.is_empty() {
                "false".to_string()
            } else {
                any_nan.join(" || ")
            };
            format!(
                "(({is_number}) && ({any_nan}) && {nan}) || (({is_number}) && !({any_nan}) && {numeric}) || (!({is_number}) && {text})"
            )
        }
    }
}

/// An expr string literal for any text: letters, digits, space, `_`, `-`, `.` and non-ASCII
/// characters as they are, every other ASCII character as a `\u` escape. So the literal holds no
/// quote, backslash, brace, `?` or `:`, whatever the text.
pub fn literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('\'');
    for c in text.chars() {
        if c.is_ascii_alphanumeric() || matches!(c, ' ' | '_' | '-' | '.') || !c.is_ascii() {
            out.push(c);
        } else {
            out.push_str(&format!("\\u{:04x}", c as u32));
        }
    }
    out.push('\'');
    out
}

/// An expr string expression for text that holds Argo tags, as the backend renders references
/// (`{{tasks.a.outputs.result}}`, `{{=…}}`, text with tags for an input param): plain text
/// becomes a literal, a simple tag the variable's path, an expression tag its expression.
fn tags(rendered: &str) -> String {
    let mut parts = Vec::new();
    let mut rest = rendered;
    while let Some(start) = rest.find("{{") {
        if start > 0 {
            parts.push(literal(&rest[..start]));
        }
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            break;
        };
        let tag = &after[..end];
        parts.push(match tag.strip_prefix('=') {
            Some(e) => format!("({e})"),
            None => path(tag.trim()),
        });
        rest = &after[end + 2..];
    }
    if !rest.is_empty() || parts.is_empty() {
        parts.push(literal(rest));
    }
    match parts.as_slice() {
        [one] => one.clone(),
        _ => format!("({})", parts.join(" + ")),
    }
}

/// `tasks.my-step.outputs.parameters.n` → `tasks['my-step'].outputs.parameters['n']`: names
/// that users chose are indexed (they may hold `-` or be expr words), Argo's own field names
/// stay dotted (`hasOutputResultRef` looks for `['S'].outputs.result`).
fn path(key: &str) -> String {
    let mut segments = key.split('.');
    let mut out = segments.next().unwrap_or_default().to_string();
    let mut user_name_next = matches!(out.as_str(), "tasks" | "steps" | "item");
    for s in segments {
        if user_name_next {
            out.push_str(&format!("[{}]", literal(s)));
        } else {
            out.push('.');
            out.push_str(s);
        }
        user_name_next = matches!(s, "parameters" | "artifacts") || out.starts_with("item");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(src: &str) -> String {
        let e = Expr::parse(src).unwrap();
        condition(&e, &mut |r| Ok(format!("{{{{{r}}}}}"))).unwrap()
    }

    #[test]
    fn literals_hold_no_character_argo_or_expr_would_read() {
        assert_eq!(
            literal("it's {x}? a:b"),
            r"'it\u0027s \u007bx\u007d\u003f a\u003ab'"
        );
        assert_eq!(literal("héllo"), "'héllo'");
    }

    #[test]
    fn paths_index_user_names() {
        assert_eq!(
            path("tasks.my-step.outputs.parameters.n"),
            "tasks['my-step'].outputs.parameters['n']"
        );
        assert_eq!(path("workflow.parameters.in"), "workflow.parameters['in']");
        assert_eq!(path("item.k"), "item['k']");
        assert_eq!(
            path("steps.run.outputs.result"),
            "steps['run'].outputs.result"
        );
    }

    #[test]
    fn text_with_tags_is_a_concatenation() {
        assert_eq!(
            tags("a-{{inputs.parameters.x}}{{='{{'}}"),
            "('a-' + inputs.parameters['x'] + ('{{'))"
        );
    }

    #[test]
    fn names_argo_would_drop_are_refused() {
        let spec = "apiVersion: couler.dev/v1alpha1\nkind: Workflow\nname: w\nparams:\n  - {name: n, type: int, default: 1}\n  - {name: n2, type: int, default: 2}\nsteps:\n  - name: a\n    when: params.n2 > 1\n    container: {image: alpine, command: [echo]}\n";
        let (wf, _) = couler_ir::spec::load(spec, couler_ir::Format::Yaml).unwrap();
        let ok = Expr::parse("params.n2 > 1").unwrap();
        assert!(check_names(&wf, "a", &ok).is_ok());
        let bad = Expr::parse("params.n > 1").unwrap();
        let err = check_names(&wf, "a", &bad).unwrap_err().to_string();
        assert!(err.contains("`n2` starts with it"), "{err}");
    }

    #[test]
    fn comparisons_are_decided_statically_where_the_sides_are_literals() {
        assert_eq!(
            render("1 == \"1.0\""),
            "{{=asFloat(sprig.trim('1')) == asFloat(sprig.trim('1.0'))}}"
        );
        assert_eq!(
            render("(1 == 1) == true"),
            "{{=toJson(asFloat(sprig.trim('1')) == asFloat(sprig.trim('1'))) == 'true'}}"
        );
        assert!(!render("steps.a.outputs.result == \"x?:y\"").contains('?'));
    }
}
