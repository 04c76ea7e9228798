//! Rendering the IR's typed references and conditions into Tekton's syntax.
//!
//! Tekton substitutes `$(…)` variables textually, in several passes, in almost every string of a
//! Task or Pipeline. So no user string is ever placed where Tekton substitutes: the step
//! definition travels to the launcher as JSON in which every `$` is written `\u0024`
//! ([`inert_json`]), and the only `$(…)` texts emitted are the ones built here from typed
//! references. A user literal that would have to stand in a substituted place (a `when` value,
//! an image) and holds `$(` is a compile error, not a silent change.

use couler_ir::{CmpOp, Expr, Literal, Reference};
use serde_json::{Value, json};

/// JSON text of `v` with every `$` written as the JSON escape `\u0024`. The text decodes to
/// exactly `v` with any JSON parser, and holds no `$(` for Tekton to substitute. (`$` never
/// stands inside a JSON escape sequence, so replacing it is always safe.)
pub fn inert_json(v: &Value) -> String {
    v.to_string().replace('$', "\\u0024")
}

/// `$(params.N)`.
pub fn pipeline_param(name: &str) -> String {
    format!("$(params.{name})")
}

/// One Tekton `when` expression.
#[derive(Clone, Debug, PartialEq)]
pub struct When {
    pub input: String,
    /// `in` or `notin`.
    pub operator: &'static str,
    pub values: Vec<String>,
}

impl When {
    pub fn to_json(&self) -> Value {
        json!({"input": self.input, "operator": self.operator, "values": self.values})
    }
}

/// Why a condition has no `when` form: the caller turns it into an error naming the step.
pub type Inexpressible = String;

fn literal_text(l: &Literal) -> Result<String, Inexpressible> {
    let text = l.as_text();
    // The IR compares as numbers when both sides read as numbers; Tekton compares text only.
    if text.trim().parse::<f64>().is_ok() {
        return Err(format!(
            "`{text}` reads as a number, and the IR compares numbers by value (`0.70 == 0.7`) while Tekton compares text"
        ));
    }
    if text.contains("$(") {
        return Err(format!(
            "the literal {text:?} holds `$(`, which Tekton would substitute in a `when` value"
        ));
    }
    Ok(text)
}

/// Lowers a condition to `when` expressions (all must hold), with `input` rendering a reference
/// as a Tekton value (`None`: Tekton has no value for it at the pipeline level).
/// Expressible: `ref == "text"`, `ref != "text"`, a bare reference (`in ["true"]`), `!` of one of
/// these, `||` of equalities on one reference (`in [a, b]`), and `&&` of expressible parts.
pub fn when_expressions(
    e: &Expr,
    input: &mut dyn FnMut(&Reference) -> Option<String>,
) -> Result<Vec<When>, Inexpressible> {
    match e {
        Expr::And(a, b) => {
            let a = when_expressions(a, input);
            let b = when_expressions(b, input);
            match (a, b) {
                (Ok(mut a), Ok(b)) => {
                    a.extend(b);
                    Ok(a)
                }
                (Err(m), _) | (_, Err(m)) => Err(m),
            }
        }
        _ => single(e, input).map(|w| vec![w]),
    }
}

/// The references `e` tests as bare values (`params.deploy`, `!params.deploy`), not compared.
pub fn bare_refs(e: &Expr) -> Vec<&Reference> {
    match e {
        Expr::Ref(r) => vec![r],
        Expr::And(a, b) | Expr::Or(a, b) => {
            let mut v = bare_refs(a);
            v.extend(bare_refs(b));
            v
        }
        Expr::Not(a) => bare_refs(a),
        Expr::Literal(_) | Expr::Compare { .. } => Vec::new(),
    }
}

fn value_of(
    r: &Reference,
    input: &mut dyn FnMut(&Reference) -> Option<String>,
) -> Result<String, Inexpressible> {
    input(r).ok_or_else(|| format!("`{r}` has no value a Tekton `when` can read"))
}

fn single(
    e: &Expr,
    input: &mut dyn FnMut(&Reference) -> Option<String>,
) -> Result<When, Inexpressible> {
    match e {
        Expr::Ref(r) => Ok(When {
            input: value_of(r, input)?,
            operator: "in",
            values: vec!["true".to_string()],
        }),
        Expr::Literal(Literal::Bool(b)) => Ok(When {
            input: b.to_string(),
            operator: "in",
            values: vec!["true".to_string()],
        }),
        Expr::Compare { op, left, right } if matches!(op, CmpOp::Eq | CmpOp::Ne) => {
            let (r, l) = match (left.as_ref(), right.as_ref()) {
                (Expr::Ref(r), Expr::Literal(l)) | (Expr::Literal(l), Expr::Ref(r)) => (r, l),
                _ => {
                    return Err(
                        "Tekton compares one value with literal strings; both sides here are values or expressions"
                            .to_string(),
                    );
                }
            };
            let text = literal_text(l)?;
            Ok(When {
                input: value_of(r, input)?,
                operator: if *op == CmpOp::Eq { "in" } else { "notin" },
                values: vec![text],
            })
        }
        Expr::Compare { op, .. } => Err(format!(
            "Tekton's `when` has no `{}`: it only tests membership of a string in a list",
            op.symbol()
        )),
        // `!ref` would run the step on `" true"`, which `couler run` reads as true (it trims);
        // the launcher would then skip it, which Tekton counts as a failure.
        Expr::Not(inner) if matches!(inner.as_ref(), Expr::Ref(_)) => Err(
            "`!` of a bare value: `couler run` trims the value before testing `true`, Tekton does not"
                .to_string(),
        ),
        Expr::Not(inner) => {
            let mut w = single(inner, input)?;
            w.operator = if w.operator == "in" { "notin" } else { "in" };
            Ok(w)
        }
        Expr::Or(a, b) => {
            let a = single(a, input);
            let b = single(b, input);
            match (a, b) {
                (Ok(mut a), Ok(b))
                    if a.input == b.input && a.operator == "in" && b.operator == "in" =>
                {
                    a.values.extend(b.values);
                    Ok(a)
                }
                (Err(m), _) | (_, Err(m)) => Err(m),
                _ => Err(
                    "Tekton's `when` expressions are all ANDed; `||` is expressible only between equalities on one value"
                        .to_string(),
                ),
            }
        }
        Expr::And(..) => Err(
            "`&&` under `!` or `||` has no Tekton `when` form (when expressions are a flat AND)"
                .to_string(),
        ),
        Expr::Literal(_) => Err("a constant number or string is not a condition".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lower(text: &str) -> Result<Vec<When>, Inexpressible> {
        let e = Expr::parse(text).unwrap();
        when_expressions(&e, &mut |r| match r {
            Reference::Param(n) => Some(pipeline_param(n)),
            _ => None,
        })
    }

    #[test]
    fn inert_json_round_trips_and_hides_every_dollar() {
        let v = json!({"a": "$(params.x) \\$ $$ \"q\" \u{e9}", "$(k)": ["$("]});
        let text = inert_json(&v);
        assert!(!text.contains('$'), "{text}");
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), v);
    }

    #[test]
    fn equalities_on_one_reference_become_in_and_notin() {
        let w = lower("params.side == \"heads\"").unwrap();
        assert_eq!(w[0].input, "$(params.side)");
        assert_eq!(w[0].operator, "in");
        assert_eq!(w[0].values, ["heads"]);
        let w = lower("!(params.a == \"x\") && params.b != \"y\"").unwrap();
        assert_eq!(
            w.iter().map(|w| w.operator).collect::<Vec<_>>(),
            ["notin", "notin"]
        );
        let w = lower("params.a == \"x\" || params.a == \"y\"").unwrap();
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].values, ["x", "y"]);
        let w = lower("params.deploy").unwrap();
        assert_eq!(
            (w[0].operator, w[0].values.clone()),
            ("in", vec!["true".to_string()])
        );
    }

    #[test]
    fn ordering_numbers_and_mixed_or_are_inexpressible() {
        for text in [
            "params.a > 1",
            "params.a == 0.7",
            "params.a == \"x\" || params.b == \"y\"",
            "!(params.a == \"x\" && params.b == \"y\")",
            "params.a == \"$(params.b)\"",
            "!params.deploy",
            "steps.s.outputs.result == \"x\"",
        ] {
            assert!(lower(text).is_err(), "{text}");
        }
    }
}
