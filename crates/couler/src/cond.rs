//! Conditions for `when` and `exec_while`, with the paper's names (`couler.equal`, …).
//!
//! Each helper compares two operands — references or literals — and returns an IR [`Expr`];
//! combine them with [`Expr::and`], [`Expr::or`] and [`Expr::not`].

use crate::Item;
use couler_ir::{CmpOp, Expr, Literal, Reference};

/// One side of a comparison: a reference, a literal, or another expression.
///
/// Exists so that plain Rust literals (`0`, `0.9`, `"heads"`, `true`) and references mix freely
/// in the condition helpers; the IR's own `Expr` cannot take `i32` or `u32`.
#[derive(Clone, Debug, PartialEq)]
pub struct Operand(Expr);

impl From<Operand> for Expr {
    fn from(o: Operand) -> Expr {
        o.0
    }
}

impl From<Expr> for Operand {
    fn from(e: Expr) -> Self {
        Operand(e)
    }
}

impl From<Reference> for Operand {
    fn from(r: Reference) -> Self {
        Operand(Expr::Ref(r))
    }
}

impl From<&Reference> for Operand {
    fn from(r: &Reference) -> Self {
        Operand(Expr::Ref(r.clone()))
    }
}

impl From<Item> for Operand {
    fn from(item: Item) -> Self {
        Operand(Expr::Ref(item.into()))
    }
}

impl From<&str> for Operand {
    fn from(s: &str) -> Self {
        Operand(Expr::Literal(Literal::String(s.to_string())))
    }
}

impl From<String> for Operand {
    fn from(s: String) -> Self {
        Operand(Expr::Literal(Literal::String(s)))
    }
}

impl From<bool> for Operand {
    fn from(b: bool) -> Self {
        Operand(Expr::Literal(Literal::Bool(b)))
    }
}

macro_rules! number_operands {
    ($($ty:ty),*) => {$(
        impl From<$ty> for Operand {
            fn from(n: $ty) -> Self {
                Operand(Expr::Literal(Literal::Number(f64::from(n))))
            }
        }
    )*};
}

number_operands!(i32, u32, f32, f64);

impl From<i64> for Operand {
    /// Exact up to 2^53, like every engine's JSON numbers.
    fn from(n: i64) -> Self {
        Operand(Expr::Literal(Literal::Number(n as f64)))
    }
}

/// `outer && inner`, associated to the left as the spec parser reads `a && b && c`, so nested
/// `when`s give the same IR as the condition written out in a spec.
pub(crate) fn conjoin(outer: Expr, inner: Expr) -> Expr {
    let mut rights = Vec::new();
    let mut leftmost = inner;
    while let Expr::And(left, right) = leftmost {
        rights.push(*right);
        leftmost = *left;
    }
    rights
        .into_iter()
        .rev()
        .fold(outer.and(leftmost), |acc, right| acc.and(right))
}

fn compare(op: CmpOp, a: impl Into<Operand>, b: impl Into<Operand>) -> Expr {
    Expr::compare(op, a.into(), b.into())
}

/// `a == b`, e.g. `equal(flip.result(), "heads")`.
pub fn equal(a: impl Into<Operand>, b: impl Into<Operand>) -> Expr {
    compare(CmpOp::Eq, a, b)
}

/// `a != b`
pub fn not_equal(a: impl Into<Operand>, b: impl Into<Operand>) -> Expr {
    compare(CmpOp::Ne, a, b)
}

/// `a > b` (numerically when both sides read as numbers).
pub fn bigger(a: impl Into<Operand>, b: impl Into<Operand>) -> Expr {
    compare(CmpOp::Gt, a, b)
}

/// `a < b`
pub fn smaller(a: impl Into<Operand>, b: impl Into<Operand>) -> Expr {
    compare(CmpOp::Lt, a, b)
}

/// `a >= b`
pub fn bigger_equal(a: impl Into<Operand>, b: impl Into<Operand>) -> Expr {
    compare(CmpOp::Ge, a, b)
}

/// `a <= b`
pub fn smaller_equal(a: impl Into<Operand>, b: impl Into<Operand>) -> Expr {
    compare(CmpOp::Le, a, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers_print_like_the_spec() {
        let acc = Reference::Param("acc".into());
        let e = bigger_equal(&acc, 0.9)
            .and(not_equal(acc.clone(), "nan"))
            .or(equal(true, smaller(1, 2u32)).not());
        assert_eq!(
            e.to_string(),
            "params.acc >= 0.9 && params.acc != \"nan\" || !(true == (1 < 2))"
        );
        assert_eq!(Expr::parse(&e.to_string()), Ok(e));
        assert_eq!(smaller_equal(3i64, 4).to_string(), "3 <= 4");
    }
}
