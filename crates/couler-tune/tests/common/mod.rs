//! What the tests of the methods share: Branin–Hoo and its search space's parameters.

use couler_tune::{Domain, Param};

pub fn float(name: &str, low: f64, high: f64) -> Param {
    Param {
        name: name.into(),
        domain: Domain::Float {
            low,
            high,
            log: false,
        },
    }
}

/// Branin–Hoo: global minimum 0.397887 at three points.
pub fn branin(x1: f64, x2: f64) -> f64 {
    use std::f64::consts::PI;
    let b = 5.1 / (4.0 * PI * PI);
    let c = 5.0 / PI;
    (x2 - b * x1 * x1 + c * x1 - 6.0).powi(2) + 10.0 * (1.0 - 1.0 / (8.0 * PI)) * x1.cos() + 10.0
}
pub const BRANIN_MIN: f64 = 0.397_887;
