//! Exponentially decayed histograms, as the Kubernetes VPA recommender keeps them: buckets
//! whose bounds grow geometrically (so the relative resolution is the same at every scale),
//! each sample weighted by `2^((t − newest) / half_life)`, so a sample one half-life older than
//! the newest counts half. A percentile is the first bucket at which the cumulative weight
//! reaches the fraction asked for; it reads as the bucket's geometric middle.

use std::collections::BTreeMap;

/// Bucket bounds grow by this ratio: a value is known to within ±2.5%.
const RATIO: f64 = 1.05;
/// The lower bound of bucket 0; smaller values fall in it.
const SMALLEST: f64 = 1e-3;

/// A decayed histogram of positive values.
#[derive(Clone, Debug, Default)]
pub struct DecayedHistogram {
    buckets: BTreeMap<i32, f64>,
    total: f64,
    count: u64,
}

fn bucket_of(v: f64) -> i32 {
    if v <= SMALLEST {
        return 0;
    }
    ((v / SMALLEST).ln() / RATIO.ln())
        .floor()
        .min(f64::from(i32::MAX)) as i32
}

fn middle_of(b: i32) -> f64 {
    SMALLEST * RATIO.powf(f64::from(b) + 0.5)
}

impl DecayedHistogram {
    /// A histogram of `(value, seconds since the epoch)` samples, decayed with `half_life`
    /// seconds towards the newest sample. Values that are not positive and finite are skipped.
    pub fn of(samples: impl IntoIterator<Item = (f64, f64)>, half_life: f64) -> DecayedHistogram {
        let samples: Vec<(f64, f64)> = samples
            .into_iter()
            .filter(|(v, _)| v.is_finite() && *v > 0.0)
            .collect();
        let newest = samples
            .iter()
            .map(|s| s.1)
            .fold(f64::NEG_INFINITY, f64::max);
        let mut h = DecayedHistogram::default();
        for (v, t) in samples {
            let age = (newest - t).max(0.0);
            h.add(v, (-age / half_life.max(1e-9)).exp2());
        }
        h
    }

    /// Adds `v` with `weight`.
    pub fn add(&mut self, v: f64, weight: f64) {
        if !(weight > 0.0 && v.is_finite() && v > 0.0) {
            return;
        }
        *self.buckets.entry(bucket_of(v)).or_default() += weight;
        self.total += weight;
        self.count += 1;
    }

    /// How many samples it holds.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The value below which a fraction `q` (0..=1) of the weight lies; `None` when empty.
    pub fn percentile(&self, q: f64) -> Option<f64> {
        if self.total <= 0.0 {
            return None;
        }
        let want = q.clamp(0.0, 1.0) * self.total;
        let mut seen = 0.0;
        let mut last = None;
        for (&b, &w) in &self.buckets {
            seen += w;
            last = Some(b);
            if seen >= want * (1.0 - 1e-12) {
                break;
            }
        }
        last.map(middle_of)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_within_the_bucket_resolution() {
        let h = DecayedHistogram::of((1..=100).map(|i| (f64::from(i), 0.0)), 3600.0);
        let near = |got: f64, want: f64| (got / want - 1.0).abs() <= 0.026;
        assert!(near(h.percentile(0.5).unwrap(), 50.0));
        assert!(near(h.percentile(0.9).unwrap(), 90.0));
        assert!(near(h.percentile(1.0).unwrap(), 100.0));
        assert_eq!(h.count(), 100);
    }

    #[test]
    fn old_samples_count_less_than_new_ones() {
        // Ten old samples of 100 s, four new ones of 10 s: undecayed, the median is 100; with
        // a half-life of one hour, the old ones (a day older) weigh almost nothing.
        let old = (0..10).map(|_| (100.0, 0.0));
        let new = (0..4).map(|_| (10.0, 86_400.0));
        let h = DecayedHistogram::of(old.chain(new), 3600.0);
        assert!((h.percentile(0.5).unwrap() / 10.0 - 1.0).abs() < 0.03);
        let flat = DecayedHistogram::of(
            (0..10)
                .map(|_| (100.0, 0.0))
                .chain((0..4).map(|_| (10.0, 0.0))),
            3600.0,
        );
        assert!((flat.percentile(0.5).unwrap() / 100.0 - 1.0).abs() < 0.03);
    }

    #[test]
    fn an_empty_histogram_predicts_nothing() {
        assert_eq!(DecayedHistogram::default().percentile(0.5), None);
        let skipped = DecayedHistogram::of([(f64::NAN, 0.0), (-1.0, 0.0)], 1.0);
        assert_eq!(skipped.count(), 0);
    }
}
