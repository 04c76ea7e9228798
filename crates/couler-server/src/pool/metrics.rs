//! The pool's counters for `/metrics`: a histogram of step durations, retries by pattern and
//! anomalies by kind, kept in memory since the server started (Prometheus counters may restart at zero).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Mutex, PoisonError};

/// Upper bounds of the step duration buckets, seconds.
const BUCKETS: [f64; 10] = [0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0];

#[derive(Default)]
struct Counts {
    /// Observations at or under each bound (cumulative when rendered).
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
    retries: BTreeMap<&'static str, u64>,
    anomalies: BTreeMap<&'static str, u64>,
}

#[derive(Default)]
pub struct Metrics {
    counts: Mutex<Counts>,
}

impl Metrics {
    fn counts(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A step that ran for `secs`.
    pub fn step_finished(&self, secs: f64) {
        let secs = secs.max(0.0);
        let mut c = self.counts();
        if let Some(i) = BUCKETS.iter().position(|b| secs <= *b) {
            c.buckets[i] += 1;
        }
        c.count += 1;
        c.sum += secs;
    }

    /// A retry for a failure that matched `pattern`.
    pub fn retried(&self, pattern: &'static str) {
        *self.counts().retries.entry(pattern).or_default() += 1;
    }

    /// A running step flagged as an anomaly of `kind` (`couler_run::anomaly`).
    pub fn anomaly(&self, kind: &'static str) {
        *self.counts().anomalies.entry(kind).or_default() += 1;
    }

    /// The three families in Prometheus text format.
    pub fn render(&self, out: &mut String) {
        let c = self.counts();
        let _ = writeln!(
            out,
            "# HELP couler_server_step_duration_seconds How long steps ran (steps run by this server since it started).\n# TYPE couler_server_step_duration_seconds histogram"
        );
        let mut cumulative = 0;
        for (bound, n) in BUCKETS.iter().zip(c.buckets) {
            cumulative += n;
            let _ = writeln!(
                out,
                "couler_server_step_duration_seconds_bucket{{le=\"{bound}\"}} {cumulative}"
            );
        }
        let _ = writeln!(
            out,
            "couler_server_step_duration_seconds_bucket{{le=\"+Inf\"}} {}\ncouler_server_step_duration_seconds_sum {}\ncouler_server_step_duration_seconds_count {}",
            c.count, c.sum, c.count
        );
        let _ = writeln!(
            out,
            "# HELP couler_server_retries_total Automatic retries, by the failure pattern matched.\n# TYPE couler_server_retries_total counter"
        );
        for p in crate::retry::PATTERNS.iter().filter(|p| p.retryable()) {
            let n = c.retries.get(p.name).copied().unwrap_or(0);
            let _ = writeln!(
                out,
                "couler_server_retries_total{{pattern=\"{}\"}} {n}",
                p.name
            );
        }
        let _ = writeln!(
            out,
            "# HELP couler_server_step_anomalies_total Steps flagged past their history: slow (running past k x their predicted p99 duration), memory (a peak past k x its p99).\n# TYPE couler_server_step_anomalies_total counter"
        );
        for kind in [couler_run::anomaly::SLOW, couler_run::anomaly::MEMORY] {
            let n = c.anomalies.get(kind).copied().unwrap_or(0);
            let _ = writeln!(
                out,
                "couler_server_step_anomalies_total{{kind=\"{kind}\"}} {n}"
            );
        }
    }
}
