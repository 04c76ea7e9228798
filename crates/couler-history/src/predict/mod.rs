//! Predictors behind one trait: what a step will take (duration, memory, cores), from the
//! history of executions like it.
//!
//! - [`TemplateBaseline`]: per template, a decayed histogram of what its executions took
//!   (the VPA recommender's model); knows nothing of a step's inputs.
//! - [`Learned`]: per template, a regression of the log of what an execution took on the logs
//!   of its input bytes, map size and numeric parameters, with the quantiles of its residuals;
//!   it falls back to the baseline where the history is thin or says nothing about the inputs.
//!
//! Anomaly detection (a step past its p99 × k) and critical-path-first dispatch read the same
//! trait: a [`Prediction`] carries the median, the p90 and the p99, and its support.

mod baseline;
mod learned;
mod linear;

pub use baseline::TemplateBaseline;
pub use learned::Learned;

use crate::record::{StepFeatures, Target};
use serde::Serialize;

/// What a predictor expects an execution to take, and how much history that rests on.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Prediction {
    pub median: f64,
    pub p90: f64,
    pub p99: f64,
    /// How many recorded executions the prediction rests on.
    pub support: u64,
}

/// A quantile and the number of executions it rests on.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Estimate {
    pub value: f64,
    pub support: u64,
}

/// Something that predicts what a step will take from its features.
pub trait Predictor {
    /// The predictor's name in reports (`baseline`, `learned`).
    fn name(&self) -> &'static str;

    /// The value of `target` below which a fraction `q` (0..=1) of executions like `f` fall;
    /// `None` when the history holds nothing to say it from.
    fn quantile(&self, target: Target, f: &StepFeatures, q: f64) -> Option<Estimate>;

    /// The median, p90 and p99 of `target` for `f`.
    fn predict(&self, target: Target, f: &StepFeatures) -> Option<Prediction> {
        let at = |q| self.quantile(target, f, q);
        let (m, p90, p99) = (at(0.5)?, at(0.9)?, at(0.99)?);
        Some(Prediction {
            median: m.value,
            p90: p90.value,
            p99: p99.value.max(p90.value),
            support: m.support,
        })
    }
}

/// The value below which a fraction `q` of `values` lies (nearest rank; `values` sorted).
pub(crate) fn sorted_quantile(values: &[f64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let rank = (q.clamp(0.0, 1.0) * values.len() as f64).ceil() as usize;
    Some(values[rank.clamp(1, values.len()) - 1])
}
