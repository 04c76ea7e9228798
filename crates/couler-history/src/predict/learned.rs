//! The learned model: per template and target, a ridge regression of `ln(value)` on the logs of
//! the step's input bytes, map size and numeric parameters (each standardised), and the sorted
//! residuals, whose quantiles turn the regression's point into a median, p90 and p99.
//!
//! Why this and not a crate: the workplace's package lists name no Rust gradient-boosting or
//! quantile-regression crate, and `linfa` would bring `ndarray` and its linear-algebra stack
//! for one least-squares solve of at most ten columns (`linear.rs`). Runtime and memory of a template are close to
//! power laws of its input size (`t ≈ a·sizeᵇ`), which is a line in log space; the residuals
//! carry the spread a quantile needs. Beyond the inputs training saw, the line is not
//! extrapolated: a point is clamped into the range of the fitted training points.

use super::linear::ridge;
use super::{Estimate, Predictor, TemplateBaseline, sorted_quantile};
use crate::record::{Execution, StepFeatures, Target};
use std::collections::{BTreeSet, HashMap};

/// Below this many executions of a template, the learned model defers to the baseline.
pub const MIN_SUPPORT: usize = 8;
/// At most this many numeric parameters enter a template's model (the first by name).
const MAX_PARAMS: usize = 8;
/// The ridge penalty per execution on standardised columns.
const LAMBDA_PER_ROW: f64 = 1e-3;

/// One template's fitted regression for one target.
struct Model {
    /// The numeric parameters it reads, by name.
    params: Vec<String>,
    /// Per raw column: (mean, standard deviation); a column whose deviation is 0 is dropped.
    scale: Vec<(f64, f64)>,
    beta: Vec<f64>,
    /// Residuals of `ln(value)`, sorted.
    residuals: Vec<f64>,
    /// The least and greatest fitted `ln(value)` in training: a point is clamped into them,
    /// so inputs beyond what training saw do not extrapolate the line without bound.
    fitted: (f64, f64),
}

/// The learned model, with the baseline behind it.
pub struct Learned {
    models: HashMap<(String, Target), Model>,
    baseline: TemplateBaseline,
}

fn log1p_signed(x: f64) -> f64 {
    x.signum() * x.abs().ln_1p()
}

/// The raw columns of `f`: input bytes, map size, then each named numeric parameter.
fn raw_columns(f: &StepFeatures, params: &[String]) -> Vec<f64> {
    let mut c = vec![
        (f.input_bytes as f64).ln_1p(),
        (f.map_items.unwrap_or(0) as f64).ln_1p(),
    ];
    for p in params {
        let v = f.params.get(p).and_then(|v| v.trim().parse::<f64>().ok());
        c.push(v.filter(|v| v.is_finite()).map_or(0.0, log1p_signed));
    }
    c
}

impl Model {
    fn row(&self, f: &StepFeatures) -> Vec<f64> {
        let mut row = vec![1.0];
        for (v, (mean, sd)) in raw_columns(f, &self.params).into_iter().zip(&self.scale) {
            if *sd > 0.0 {
                row.push((v - mean) / sd);
            }
        }
        row
    }

    fn fit(runs: &[&Execution], target: Target) -> Option<Model> {
        let numeric: BTreeSet<&String> = runs
            .iter()
            .flat_map(|x| x.features.params.iter())
            .filter(|(_, v)| v.trim().parse::<f64>().is_ok_and(f64::is_finite))
            .map(|(k, _)| k)
            .collect();
        let params: Vec<String> = numeric.into_iter().take(MAX_PARAMS).cloned().collect();
        let raw: Vec<Vec<f64>> = runs
            .iter()
            .map(|x| raw_columns(&x.features, &params))
            .collect();
        let n = raw.len() as f64;
        let scale: Vec<(f64, f64)> = (0..raw[0].len())
            .map(|j| {
                let mean = raw.iter().map(|r| r[j]).sum::<f64>() / n;
                let var = raw.iter().map(|r| (r[j] - mean).powi(2)).sum::<f64>() / n;
                (mean, if var > 1e-12 { var.sqrt() } else { 0.0 })
            })
            .collect();
        if scale.iter().all(|(_, sd)| *sd == 0.0) {
            return None; // the inputs never vary: nothing to learn beyond the baseline
        }
        let mut model = Model {
            params,
            scale,
            beta: Vec::new(),
            residuals: Vec::new(),
            fitted: (0.0, 0.0),
        };
        let rows: Vec<Vec<f64>> = runs.iter().map(|x| model.row(&x.features)).collect();
        let y: Vec<f64> = runs
            .iter()
            .filter_map(|x| x.value(target))
            .map(f64::ln)
            .collect();
        model.beta = ridge(&rows, &y, LAMBDA_PER_ROW * n)?;
        let fitted: Vec<f64> = rows.iter().map(|r| dot(&model.beta, r)).collect();
        model.fitted = fitted
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), f| {
                (lo.min(*f), hi.max(*f))
            });
        let mut residuals: Vec<f64> = y.iter().zip(&fitted).map(|(yi, f)| yi - f).collect();
        residuals.sort_by(f64::total_cmp);
        model.residuals = residuals;
        Some(model)
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

impl Learned {
    /// Fits a model per template and target that has at least [`MIN_SUPPORT`] successful
    /// executions whose inputs vary; the baseline covers the rest.
    pub fn train(history: &[Execution]) -> Learned {
        let mut groups: HashMap<(String, Target), Vec<&Execution>> = HashMap::new();
        for x in history.iter().filter(|x| x.succeeded) {
            for t in Target::ALL {
                if x.value(t).is_some() {
                    groups
                        .entry((x.features.template.clone(), t))
                        .or_default()
                        .push(x);
                }
            }
        }
        let models = groups
            .into_iter()
            .filter(|(_, runs)| runs.len() >= MIN_SUPPORT)
            .filter_map(|((template, t), runs)| Some(((template, t), Model::fit(&runs, t)?)))
            .collect();
        Learned {
            models,
            baseline: TemplateBaseline::train(history),
        }
    }
}

impl Predictor for Learned {
    fn name(&self) -> &'static str {
        "learned"
    }

    fn quantile(&self, target: Target, f: &StepFeatures, q: f64) -> Option<Estimate> {
        let Some(m) = self.models.get(&(f.template.clone(), target)) else {
            return self.baseline.quantile(target, f, q);
        };
        let point = dot(&m.beta, &m.row(f)).clamp(m.fitted.0, m.fitted.1);
        Some(Estimate {
            value: (point + sorted_quantile(&m.residuals, q)?).exp(),
            support: m.residuals.len() as u64,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::predict::Predictor;

    /// Runtime linear in input size (2 s per MB, ±5% noise), one template.
    fn linear_history(n: u64) -> Vec<Execution> {
        (1..=n)
            .map(|i| {
                let mb = i * 10;
                let noise = 1.0 + 0.05 * (((i * 7919) % 11) as f64 / 10.0 - 0.5);
                Execution {
                    features: StepFeatures {
                        template: "t".into(),
                        input_bytes: mb * 1_000_000,
                        ..StepFeatures::default()
                    },
                    duration_s: 2.0 * mb as f64 * noise,
                    succeeded: true,
                    ..Execution::default()
                }
            })
            .collect()
    }

    fn rel_error(p: &dyn Predictor, test: &[Execution]) -> f64 {
        let mut e: Vec<f64> = test
            .iter()
            .map(|x| {
                let m = p.predict(Target::Duration, &x.features).unwrap().median;
                (m - x.duration_s).abs() / x.duration_s
            })
            .collect();
        e.sort_by(f64::total_cmp);
        e[e.len() / 2]
    }

    #[test]
    fn beats_the_per_template_median_when_runtime_follows_input_size() {
        let history = linear_history(40);
        let (train, test): (Vec<_>, Vec<_>) = history
            .into_iter()
            .enumerate()
            .partition(|(i, _)| i % 2 == 0);
        let train: Vec<Execution> = train.into_iter().map(|(_, x)| x).collect();
        let test: Vec<Execution> = test.into_iter().map(|(_, x)| x).collect();
        let learned = rel_error(&Learned::train(&train), &test);
        let baseline = rel_error(&TemplateBaseline::train(&train), &test);
        assert!(learned < 0.05, "learned median error {learned}");
        assert!(baseline > 0.3, "baseline median error {baseline}");
    }

    #[test]
    fn reads_numeric_parameters() {
        // Runtime equal to parameter `secs`, input bytes constant.
        let history: Vec<Execution> = (1..=20)
            .map(|s| Execution {
                features: StepFeatures {
                    template: "t".into(),
                    params: [("secs".to_string(), s.to_string())].into(),
                    ..StepFeatures::default()
                },
                duration_s: f64::from(s),
                succeeded: true,
                ..Execution::default()
            })
            .collect();
        let mut f = history[0].features.clone();
        f.params.insert("secs".into(), "12".into());
        let p = Learned::train(&history)
            .predict(Target::Duration, &f)
            .unwrap();
        assert!((p.median / 12.0 - 1.0).abs() < 0.05, "{p:?}");
        assert_eq!(p.support, 20);
    }

    #[test]
    fn does_not_extrapolate_beyond_what_training_saw() {
        let history = linear_history(20); // 10 MB to 200 MB: 20 s to 400 s
        let mut f = history[0].features.clone();
        f.input_bytes = 100_000_000_000; // 100 GB
        let p = Learned::train(&history)
            .predict(Target::Duration, &f)
            .unwrap();
        assert!(p.median < 450.0, "{p:?}");
    }

    #[test]
    fn thin_history_falls_back_to_the_baseline() {
        let history = linear_history(MIN_SUPPORT as u64 - 1);
        let f = &history[0].features;
        let learned = Learned::train(&history).predict(Target::Duration, f);
        let baseline = TemplateBaseline::train(&history).predict(Target::Duration, f);
        assert_eq!(learned, baseline);
        assert!(learned.is_some());
        let unknown = StepFeatures {
            template: "other".into(),
            ..StepFeatures::default()
        };
        assert_eq!(
            Learned::train(&history).predict(Target::Duration, &unknown),
            None
        );
    }
}
