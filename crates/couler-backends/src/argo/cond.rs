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

/// A number as Rust's `str::parse::<f64>` reads it after `trim()` (`nan` and `inf` included,
/// signed or not, any case), for Go's RE2 (`regexMatch`). Written without `?` and `\\`, which
/// would need escapes in the emitted YAML.
const NUMBER: &str = "^(|[+-])([nN][aA][nN]|[iI][nN][fF]|[iI][nN][fF][iI][nN][iI][tT][yY]|([0-9]+([.][0-9]*|)|[.][0-9]+)([eE](|[+-])[0-9]+|))$";
/// A signed `nan`, which Go's `ParseFloat` refuses: its sign is dropped before `asFloat`.
const SIGNED_NAN: &str = "^[+-]([nN][aA][nN])$";

/// Renders a condition as `{{=…}}`; each reference is first rendered by `reference` into an
/// Argo tag (`{{tasks.a.outputs.result}}`, `{{=…}}`, or text around tags for an input param).
pub fn condition(
    e: &Expr,
    reference: &mut dyn FnMut(&Reference) -> Result<String, CompileError>,
) -> Result<String, CompileError> {
    Ok(tag(&boolean(e, reference)?))
}

/// `{{=EXPR}}`: the tag Argo replaces by the value of an expr expression.
pub fn tag(expr: &str) -> String {
    format!("{{{{={expr}}}}}")
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

/// An expr expression of type bool with the local meaning of `e` (what [`condition`] tags).
pub fn boolean(
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

/// Whether a known text reads as a number locally.
fn is_number(text: &str) -> bool {
    text.trim().parse::<f64>().is_ok()
}

/// The float of a side that reads as a number. Go's float comparisons treat NaN as the local
/// rule does (only `!=` holds), so no case of its own is needed.
fn float(side: &Operand) -> String {
    match &side.known {
        Some(t) => {
            let t = t.trim();
            let t = t
                .strip_prefix(['+', '-'])
                .filter(|u| u.eq_ignore_ascii_case("nan"))
                .unwrap_or(t);
            format!("asFloat({})", literal(t))
        }
        None => format!(
            "asFloat(sprig.regexReplaceAll({}, sprig.trim({}), '$1'))",
            literal(SIGNED_NAN),
            side.expr
        ),
    }
}

/// The local `compare`: numeric when both sides read as numbers, else text.
fn compare(op: CmpOp, l: Operand, r: Operand) -> String {
    let sym = op.symbol();
    let text = format!("{} {sym} {}", l.expr, r.expr);
    let numeric = format!("{} {sym} {}", float(&l), float(&r));
    let unknown: Vec<String> = [&l, &r]
        .into_iter()
        .filter(|o| o.known.is_none())
        .map(|o| {
            format!(
                "sprig.regexMatch({}, sprig.trim({}))",
                literal(NUMBER),
                o.expr
            )
        })
        .collect();
    let known_text = [&l, &r]
        .iter()
        .any(|o| o.known.as_deref().is_some_and(|t| !is_number(t)));
    if known_text {
        return text;
    }
    if unknown.is_empty() {
        return numeric;
    }
    let both = unknown.join(" && ");
    format!("({both} && {numeric}) || (!({both}) && {text})")
}

/// An expr string literal for any text: quotes, backslash, braces, `?`, `:` and control
/// characters as `\u` escapes, everything else as it is. So the literal cannot end early, and
/// holds nothing fasttemplate (`}}`) or Argo's ternary shortcut (`?` and `:`) would read.
pub fn literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('\'');
    for c in text.chars() {
        if !(c.is_ascii_control() || matches!(c, '\'' | '"' | '\\' | '{' | '}' | '?' | ':' | '`')) {
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
            "{{=asFloat('1') == asFloat('1.0')}}"
        );
        assert_eq!(
            render("\"-NaN\" != 1"),
            "{{=asFloat('NaN') != asFloat('1')}}"
        );
        assert_eq!(
            render("(1 == 1) == true"),
            "{{=toJson(asFloat('1') == asFloat('1')) == 'true'}}"
        );
        assert_eq!(render("\"a\" < params.x"), "{{='a' < params.x}}");
        assert!(!render("steps.a.outputs.result == \"x?:y\"").contains('?'));
    }
}
