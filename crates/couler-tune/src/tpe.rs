//! The Tree-structured Parzen Estimator (Bergstra et al., NeurIPS 2011), univariate: after a few
//! random trials, split the finished ones into the best `γ(n)` and the rest, fit a Parzen
//! density to each per coordinate, and propose the candidate (of 24 drawn from the good density)
//! with the highest ratio good/bad. Categorical coordinates use smoothed counts instead of kernels.

use crate::method::{Ledger, Method, Trial, TrialId};
use crate::random::uniform_point;
use crate::rng::Rng;

/// How many random trials come first, and candidates drawn per proposal.
#[derive(Clone, Copy, Debug)]
pub struct TpeSettings {
    pub startup: usize,
    pub candidates: usize,
}

impl Default for TpeSettings {
    fn default() -> Self {
        TpeSettings {
            startup: 10,
            candidates: 24,
        }
    }
}

pub struct Tpe {
    /// `Some(k)` for a categorical coordinate with `k` choices.
    kinds: Vec<Option<usize>>,
    settings: TpeSettings,
    rng: Rng,
    ledger: Ledger,
}

impl Tpe {
    /// `categories[d]` is `Some(k)` where coordinate `d` is a choice among `k`.
    pub fn new(categories: Vec<Option<usize>>, seed: u64, settings: TpeSettings) -> Tpe {
        Tpe {
            kinds: categories,
            settings,
            rng: Rng::new(seed),
            ledger: Ledger::default(),
        }
    }

    fn propose(&mut self) -> Vec<f64> {
        let mut done: Vec<(&Trial, f64)> = self.ledger.finished().collect();
        if done.len() < self.settings.startup.max(2) {
            return uniform_point(&mut self.rng, self.kinds.len());
        }
        done.sort_by(|a, b| a.1.total_cmp(&b.1));
        let n_good = gamma(done.len());
        let (good, bad) = done.split_at(n_good);
        let mut best = (f64::NEG_INFINITY, Vec::new());
        let dims: Vec<(Density, Density)> = (0..self.kinds.len())
            .map(|d| {
                let col =
                    |set: &[(&Trial, f64)]| set.iter().map(|(t, _)| t.unit[d]).collect::<Vec<_>>();
                (
                    Density::fit(&col(good), self.kinds[d]),
                    Density::fit(&col(bad), self.kinds[d]),
                )
            })
            .collect();
        for _ in 0..self.settings.candidates {
            let x: Vec<f64> = dims.iter().map(|(l, _)| l.sample(&mut self.rng)).collect();
            let score: f64 = dims
                .iter()
                .zip(&x)
                .map(|((l, g), &v)| l.log_pdf(v) - g.log_pdf(v))
                .sum();
            if score > best.0 {
                best = (score, x);
            }
        }
        best.1
    }
}

/// How many of `n` finished trials count as good (Optuna's default: 10 %, at most 25).
fn gamma(n: usize) -> usize {
    n.div_ceil(10).clamp(1, 25)
}

/// A density over one coordinate of the unit interval.
enum Density {
    /// A mixture of normals truncated to [0, 1], with a wide prior component at 0.5.
    Parzen { mus: Vec<f64>, sigmas: Vec<f64> },
    /// Smoothed choice frequencies.
    Choices(Vec<f64>),
}

impl Density {
    fn fit(xs: &[f64], categories: Option<usize>) -> Density {
        if let Some(k) = categories {
            let mut w = vec![1.0; k]; // the prior: one pseudo-observation of each choice
            for x in xs {
                w[((x * k as f64) as usize).min(k - 1)] += 1.0;
            }
            let total: f64 = w.iter().sum();
            return Density::Choices(w.into_iter().map(|c| c / total).collect());
        }
        let mut mus: Vec<f64> = xs.to_vec();
        mus.push(0.5); // the prior
        mus.sort_by(f64::total_cmp);
        let min_sigma = 1.0 / (100.0f64).min(1.0 + mus.len() as f64);
        let mut sigmas: Vec<f64> = (0..mus.len())
            .map(|i| {
                let left = if i == 0 { mus[i] } else { mus[i] - mus[i - 1] };
                let right = if i + 1 == mus.len() {
                    1.0 - mus[i]
                } else {
                    mus[i + 1] - mus[i]
                };
                left.max(right).clamp(min_sigma, 1.0)
            })
            .collect();
        // The prior spans the whole interval (an observation at exactly 0.5 is interchangeable).
        if let Some(p) = mus.iter().position(|&m| m == 0.5) {
            sigmas[p] = 1.0;
        }
        Density::Parzen { mus, sigmas }
    }

    fn sample(&self, rng: &mut Rng) -> f64 {
        match self {
            Density::Choices(p) => {
                let k = rng.weighted(p);
                (k as f64 + 0.5) / p.len() as f64
            }
            Density::Parzen { mus, sigmas } => {
                let i = rng.below(mus.len());
                for _ in 0..64 {
                    let x = mus[i] + sigmas[i] * rng.normal();
                    if (0.0..1.0).contains(&x) {
                        return x;
                    }
                }
                mus[i].clamp(0.0, 1.0 - f64::EPSILON)
            }
        }
    }

    fn log_pdf(&self, x: f64) -> f64 {
        match self {
            Density::Choices(p) => p[((x * p.len() as f64) as usize).min(p.len() - 1)].ln(),
            Density::Parzen { mus, sigmas } => {
                let n = mus.len() as f64;
                let p: f64 = mus
                    .iter()
                    .zip(sigmas)
                    .map(|(m, s)| {
                        let z = (x - m) / s;
                        let mass = phi((1.0 - m) / s) - phi(-m / s);
                        (-0.5 * z * z).exp()
                            / (s * (std::f64::consts::TAU).sqrt() * mass.max(1e-12))
                    })
                    .sum();
                (p / n).max(1e-300).ln()
            }
        }
    }
}

/// The standard normal distribution function.
fn phi(z: f64) -> f64 {
    0.5 * (1.0 + erf(z / std::f64::consts::SQRT_2))
}

/// erf by Abramowitz and Stegun 7.1.26 (absolute error under 1.5e-7).
fn erf(x: f64) -> f64 {
    let t = 1.0 / (1.0 + 0.327_591_1 * x.abs());
    let y = 1.0
        - (((((1.061_405_429 * t - 1.453_152_027) * t) + 1.421_413_741) * t - 0.284_496_736) * t
            + 0.254_829_592)
            * t
            * (-x * x).exp();
    y.copysign(x)
}

impl Method for Tpe {
    fn name(&self) -> &'static str {
        "tpe"
    }
    fn ask(&mut self, n: usize) -> Vec<Trial> {
        (0..n)
            .map(|_| {
                let x = self.propose();
                self.ledger.open(x, 1.0)
            })
            .collect()
    }
    fn tell(&mut self, id: TrialId, loss: f64) {
        self.ledger.close(id, loss);
    }
    /// Another method's trial counts as one of TPE's finished trials (a warm start's trials
    /// take the place of random startup trials).
    fn observe(&mut self, unit: &[f64], fidelity: f64, loss: f64) {
        let t = self.ledger.open(unit.to_vec(), fidelity);
        self.ledger.close(t.id, loss);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn densities_integrate_to_one_and_erf_is_accurate() {
        assert!((erf(0.5) - 0.520_499_877_8).abs() < 2e-7);
        assert!((erf(-1.5) + 0.966_105_146_5).abs() < 2e-7);
        let d = Density::fit(&[0.1, 0.12, 0.8], None);
        let n = 20_000;
        let integral: f64 = (0..n)
            .map(|i| d.log_pdf((i as f64 + 0.5) / n as f64).exp())
            .sum::<f64>()
            / n as f64;
        assert!((integral - 1.0).abs() < 1e-3, "integral {integral}");
        let c = Density::fit(&[0.1, 0.1, 0.9], Some(2));
        assert!((c.log_pdf(0.2).exp() - 3.0 / 5.0).abs() < 1e-12);
    }
}
