//! `couler predict eval`: train the predictors on some executions (WfCommons instances of a
//! workflow family), test them on others, and report how far their predictions fall from what
//! happened, and what right-sizing from them would have reserved.
//!
//! Per test trace: the median and p90 of `|predicted median − actual| / actual` over its tasks,
//! for the learned model and the per-template baseline, for runtime and (where the traces
//! record it) memory; and right-sizing's slack `Σ (requested − used)⁺ / Σ used` with the share
//! of tasks under-provisioned (`requested < used`), for three ways of requesting: `manual`
//! (the template's largest use in training, plus the margin: what a person who reads the
//! history sets), `baseline` and `learned` (their percentile, plus the margin).

use crate::predict::{Learned, Predictor, TemplateBaseline, sorted_quantile};
use crate::record::{Execution, StepFeatures, Target};
use serde::Serialize;
use std::collections::HashMap;

/// How requests are made from predictions.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Sizing {
    /// The percentile requested (95: the p95).
    pub percentile: f64,
    /// The margin added on top, as a fraction (0.15: 15%).
    pub margin: f64,
}

/// Relative errors of one quantity on one test trace.
#[derive(Clone, Debug, Serialize)]
pub struct Errors {
    /// Tasks that had a value and a prediction.
    pub predicted: usize,
    /// Tasks that had a value but no prediction (their template is not in training).
    pub unpredicted: usize,
    pub median_rel_error: Option<f64>,
    pub p90_rel_error: Option<f64>,
    pub baseline_median_rel_error: Option<f64>,
    pub baseline_p90_rel_error: Option<f64>,
}

/// Slack and under-provisioning of one way of requesting.
#[derive(Clone, Debug, Serialize)]
pub struct Provisioning {
    pub slack: f64,
    pub under_provisioned: f64,
}

/// Right-sizing on one test trace.
#[derive(Clone, Debug, Serialize)]
pub struct Rightsizing {
    /// What is requested: `memory` where the traces record it, else `duration` (a time limit).
    pub resource: &'static str,
    pub tasks: usize,
    pub manual: Provisioning,
    pub baseline: Provisioning,
    pub learned: Provisioning,
    /// `1 − learned.slack / manual.slack`.
    pub slack_cut: f64,
}

/// The evaluation of one test trace.
#[derive(Clone, Debug, Serialize)]
pub struct TraceReport {
    pub trace: String,
    pub tasks: usize,
    /// Runtime: the learned model's errors, and the baseline's beside them.
    #[serde(flatten)]
    pub runtime: Errors,
    /// Memory, where the test trace records it.
    pub memory: Option<Errors>,
    pub rightsizing: Option<Rightsizing>,
}

/// The whole evaluation.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub train_executions: usize,
    pub sizing: Sizing,
    pub tests: Vec<TraceReport>,
}

/// Trains on `train` and tests on each `(name, executions)` of `tests`.
pub fn evaluate(train: &[Execution], tests: &[(String, Vec<Execution>)], sizing: Sizing) -> Report {
    let learned = Learned::train(train);
    let baseline = TemplateBaseline::train(train);
    let manual = Manual::train(train);
    let tests = tests
        .iter()
        .map(|(name, xs)| {
            let errors = |t| errors(&learned, &baseline, xs, t);
            let memory = errors(Target::Memory);
            let resource = if memory.predicted > 0 {
                Target::Memory
            } else {
                Target::Duration
            };
            TraceReport {
                trace: name.clone(),
                tasks: xs.len(),
                runtime: errors(Target::Duration),
                memory: (memory.predicted + memory.unpredicted > 0).then_some(memory),
                rightsizing: rightsizing(&[&manual, &baseline, &learned], xs, resource, sizing),
            }
        })
        .collect();
    Report {
        train_executions: train.len(),
        sizing,
        tests,
    }
}

fn rel_errors(p: &dyn Predictor, xs: &[Execution], t: Target) -> (Vec<f64>, usize) {
    let mut missing = 0;
    let mut e: Vec<f64> = xs
        .iter()
        .filter_map(|x| {
            let actual = x.value(t)?;
            match p.predict(t, &x.features) {
                Some(p) => Some((p.median - actual).abs() / actual),
                None => {
                    missing += 1;
                    None
                }
            }
        })
        .collect();
    e.sort_by(f64::total_cmp);
    (e, missing)
}

fn errors(learned: &Learned, baseline: &TemplateBaseline, xs: &[Execution], t: Target) -> Errors {
    let (l, unpredicted) = rel_errors(learned, xs, t);
    let (b, _) = rel_errors(baseline, xs, t);
    Errors {
        predicted: l.len(),
        unpredicted,
        median_rel_error: sorted_quantile(&l, 0.5),
        p90_rel_error: sorted_quantile(&l, 0.9),
        baseline_median_rel_error: sorted_quantile(&b, 0.5),
        baseline_p90_rel_error: sorted_quantile(&b, 0.9),
    }
}

/// Right-sizing of the tasks every predictor can size (so the three are compared on the same
/// tasks); `None` when there are none.
fn rightsizing(
    ps: &[&dyn Predictor; 3],
    xs: &[Execution],
    t: Target,
    s: Sizing,
) -> Option<Rightsizing> {
    let q = s.percentile / 100.0;
    let sized: Vec<(f64, [f64; 3])> = xs
        .iter()
        .filter_map(|x| {
            let used = x.value(t)?;
            let req = |p: &&dyn Predictor| p.quantile(t, &x.features, q).map(|e| e.value);
            let r = [req(&ps[0])?, req(&ps[1])?, req(&ps[2])?];
            Some((used, r.map(|v| v * (1.0 + s.margin))))
        })
        .collect();
    if sized.is_empty() {
        return None;
    }
    let used: f64 = sized.iter().map(|(u, _)| u).sum();
    let of = |k: usize| Provisioning {
        slack: sized.iter().map(|(u, r)| (r[k] - u).max(0.0)).sum::<f64>() / used,
        under_provisioned: sized.iter().filter(|(u, r)| r[k] < *u).count() as f64
            / sized.len() as f64,
    };
    let (manual, baseline, learned) = (of(0), of(1), of(2));
    Some(Rightsizing {
        resource: t.name(),
        tasks: sized.len(),
        slack_cut: if manual.slack > 0.0 {
            1.0 - learned.slack / manual.slack
        } else {
            0.0
        },
        manual,
        baseline,
        learned,
    })
}

/// What a person reading the history requests: the template's largest use, whatever the
/// percentile.
struct Manual(HashMap<(String, Target), (f64, u64)>);

impl Manual {
    fn train(history: &[Execution]) -> Manual {
        let mut m: HashMap<(String, Target), (f64, u64)> = HashMap::new();
        for x in history.iter().filter(|x| x.succeeded) {
            for t in Target::ALL {
                if let Some(v) = x.value(t) {
                    let e = m.entry((x.features.template.clone(), t)).or_default();
                    *e = (e.0.max(v), e.1 + 1);
                }
            }
        }
        Manual(m)
    }
}

impl Predictor for Manual {
    fn name(&self) -> &'static str {
        "manual"
    }

    fn quantile(&self, t: Target, f: &StepFeatures, _q: f64) -> Option<crate::predict::Estimate> {
        let (value, support) = *self.0.get(&(f.template.clone(), t))?;
        Some(crate::predict::Estimate { value, support })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(template: &str, secs: f64, memory: Option<u64>) -> Execution {
        Execution {
            features: StepFeatures {
                template: template.into(),
                ..StepFeatures::default()
            },
            duration_s: secs,
            peak_rss_bytes: memory,
            succeeded: true,
            ..Execution::default()
        }
    }

    #[test]
    fn errors_and_slack_by_their_definitions() {
        // Template `a` took 10 s and 100 MB in training (thrice, plus a 20 s / 200 MB outlier).
        let mut train = vec![run("a", 10.0, Some(100_000_000)); 3];
        train.push(run("a", 20.0, Some(200_000_000)));
        let test = vec![
            run("a", 5.0, Some(50_000_000)),
            run("a", 40.0, Some(400_000_000)),
            run("unknown", 1.0, None),
        ];
        let sizing = Sizing {
            percentile: 50.0,
            margin: 0.1,
        };
        let r = evaluate(&train, &[("t".into(), test)], sizing);
        let t = &r.tests[0];
        assert_eq!(
            (t.tasks, t.runtime.predicted, t.runtime.unpredicted),
            (3, 2, 1)
        );
        // The median is 10 s (±2.5%): errors 1.0 (5 s) and 0.75 (40 s); nearest-rank median 0.75.
        let median = t.runtime.baseline_median_rel_error.unwrap();
        assert!((median - 0.75).abs() < 0.01, "{median}");
        let memory = t.memory.as_ref().unwrap();
        assert_eq!((memory.predicted, memory.unpredicted), (2, 0));
        // Memory is recorded, so right-sizing is of memory. Manual: the largest use (200 MB)
        // + 10% = 220 MB for both tasks: slack (170 + 0) / 450, the 400 MB task under.
        let rs = t.rightsizing.as_ref().unwrap();
        assert_eq!((rs.resource, rs.tasks), ("memory", 2));
        assert!((rs.manual.slack - 170.0 / 450.0).abs() < 1e-9, "{rs:?}");
        assert_eq!(rs.manual.under_provisioned, 0.5);
        // Baseline and learned (thin history: the baseline) request the median, 110 MB ± 2.5%.
        assert!((rs.baseline.slack - 60.0 / 450.0).abs() < 0.01, "{rs:?}");
        assert_eq!(rs.learned.slack, rs.baseline.slack);
        assert!((rs.slack_cut - (1.0 - rs.learned.slack / rs.manual.slack)).abs() < 1e-12);
        assert_eq!(r.train_executions, 4);
    }
}
