//! The baseline: per template, a decayed histogram of what its successful executions took.

use super::{Estimate, Predictor};
use crate::histogram::DecayedHistogram;
use crate::record::{Execution, StepFeatures, Target};
use std::collections::HashMap;

/// The half-life of a sample's weight, as the VPA recommender's default for CPU: one day.
pub const HALF_LIFE_SECS: f64 = 86_400.0;

/// Per template and target, a decayed histogram of successful executions.
#[derive(Default)]
pub struct TemplateBaseline {
    histograms: HashMap<(String, Target), DecayedHistogram>,
}

impl TemplateBaseline {
    /// The baseline of `history`, decayed with [`HALF_LIFE_SECS`].
    pub fn train(history: &[Execution]) -> TemplateBaseline {
        TemplateBaseline::with_half_life(history, HALF_LIFE_SECS)
    }

    /// The baseline of `history`, decayed with `half_life` seconds.
    pub fn with_half_life(history: &[Execution], half_life: f64) -> TemplateBaseline {
        let mut samples: HashMap<(String, Target), Vec<(f64, f64)>> = HashMap::new();
        for x in history.iter().filter(|x| x.succeeded) {
            for t in Target::ALL {
                if let Some(v) = x.value(t) {
                    samples
                        .entry((x.features.template.clone(), t))
                        .or_default()
                        .push((v, x.finished_at));
                }
            }
        }
        TemplateBaseline {
            histograms: samples
                .into_iter()
                .map(|(k, s)| (k, DecayedHistogram::of(s, half_life)))
                .collect(),
        }
    }
}

impl Predictor for TemplateBaseline {
    fn name(&self) -> &'static str {
        "baseline"
    }

    fn quantile(&self, target: Target, f: &StepFeatures, q: f64) -> Option<Estimate> {
        let h = self.histograms.get(&(f.template.clone(), target))?;
        Some(Estimate {
            value: h.percentile(q)?,
            support: h.count(),
        })
    }
}
