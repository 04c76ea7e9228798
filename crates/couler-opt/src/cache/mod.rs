//! Artifact caching under a storage budget (paper §IV.A): the cost model, the baseline
//! policies it is measured against, and the trace-replay simulator.
//!
//! - [`model`]: the simulator's input ([`SimInput`]): tasks, runtimes, intermediate files.
//! - [`schedule`]: the deterministic list schedule with `M` slots the replay follows.
//! - [`policy`]: the [`Policy`] trait and every policy (`none`, `all`, `fifo`, `lru`, `lrc`,
//!   `gds`, `belady`, `couler-paper`, `couler`).
//! - [`sim`]: the replay ([`Replay`]) and its figures ([`SimResult`]).
//! - [`pass`]: the caching pass ([`CachePass`]) behind `couler optimize`.
//! - [`rank`]: the same policies ranking the local runtime's cache for `--cache-size`.
//!
//! `docs/caching.md` explains the model, the normalisation and the measured results.

pub mod model;
pub mod pass;
pub mod policy;
pub mod rank;
pub mod schedule;
pub mod sim;

#[cfg(test)]
mod tests;

pub use model::{ModelError, SimFile, SimInput, SimTask};
pub use pass::{CachePass, Recorded};
pub use policy::{CacheState, CoulerParams, Policy, PolicyKind};
pub use sim::{Replay, SimConfig, SimResult};

use std::fmt;

/// A cache budget: a share of the trace's intermediate bytes, or a number of bytes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Budget {
    /// Percent of [`SimInput::intermediate_bytes`].
    Percent(f64),
    Bytes(f64),
}

impl Budget {
    /// `5%`, `0.5%`, or a size as a Kubernetes quantity (`10Gi`, `500M`, `4096`).
    pub fn parse(text: &str) -> Result<Budget, String> {
        let t = text.trim();
        if let Some(p) = t.strip_suffix('%') {
            return match p.trim().parse::<f64>() {
                Ok(v) if v.is_finite() && v >= 0.0 => Ok(Budget::Percent(v)),
                _ => Err(format!(
                    "`{text}` is not a percentage; write a non-negative number before `%`, e.g. 5%"
                )),
            };
        }
        let q: couler_ir::Quantity = t.parse().map_err(|e| {
            format!("`{text}` is not a budget ({e}); write a percentage (5%) or a size (10Gi, 500M, 4096)")
        })?;
        let v = q.value();
        if !(v.is_finite() && v >= 0.0) {
            return Err(format!("`{text}` is not a non-negative number of bytes"));
        }
        Ok(Budget::Bytes(v))
    }

    /// The budget in bytes for a trace with `intermediate` bytes of intermediate files.
    pub fn bytes(self, intermediate: f64) -> f64 {
        match self {
            Budget::Percent(p) => intermediate * p / 100.0,
            Budget::Bytes(b) => b,
        }
    }
}

impl fmt::Display for Budget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Budget::Percent(p) => write!(f, "{p}%"),
            Budget::Bytes(b) => write!(f, "{b}B"),
        }
    }
}

/// One row of a comparison: a trace, a budget, a policy.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub trace: String,
    pub budget: Budget,
    pub result: SimResult,
    /// Rebuild seconds with no cache: what `recompute_avoided_secs` is out of.
    pub baseline_secs: f64,
    /// The trace's make-span with `all` (every file kept): what make-spans are relative to,
    /// whether or not `all` is among the compared policies.
    pub all_makespan_secs: f64,
}

impl Row {
    /// Share of the avoidable rebuild seconds this policy avoided (1 when nothing is avoidable).
    pub fn avoided_share(&self) -> f64 {
        if self.baseline_secs <= 0.0 {
            1.0
        } else {
            self.result.recompute_avoided_secs / self.baseline_secs
        }
    }
}

/// Replays every policy under every budget on one input.
pub fn compare(
    input: &SimInput,
    budgets: &[Budget],
    policies: &[PolicyKind],
    config: SimConfig,
) -> Vec<Row> {
    let replay = Replay::new(input, config);
    let total = input.intermediate_bytes();
    // `all` ignores the budget: one replay is every row's baseline.
    let all_makespan_secs = replay.run(PolicyKind::All, total).makespan_secs;
    let mut rows = Vec::with_capacity(budgets.len() * policies.len());
    for &budget in budgets {
        for &kind in policies {
            rows.push(Row {
                trace: input.name.clone(),
                budget,
                result: replay.run(kind, budget.bytes(total)),
                baseline_secs: replay.baseline_secs(),
                all_makespan_secs,
            });
        }
    }
    rows
}

/// Means over traces of one policy under one budget.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    pub budget: Budget,
    pub policy: &'static str,
    pub traces: usize,
    pub hit_ratio: f64,
    pub byte_hit_ratio: f64,
    /// Mean of [`Row::avoided_share`]: every trace weighs the same, whatever its seconds.
    pub avoided_share: f64,
    /// Mean make-span relative to the trace's make-span with `all`.
    pub makespan_ratio: f64,
}

/// Averages rows over traces, per budget and policy, in first-seen order.
pub fn summarize(rows: &[Row]) -> Vec<Summary> {
    let mut out: Vec<Summary> = Vec::new();
    for row in rows {
        let best = row.all_makespan_secs;
        let ms = if best > 0.0 {
            row.result.makespan_secs / best
        } else {
            1.0
        };
        let add = [
            row.result.hit_ratio(),
            row.result.byte_hit_ratio(),
            row.avoided_share(),
            ms,
        ];
        match out
            .iter_mut()
            .find(|s| s.budget == row.budget && s.policy == row.result.policy)
        {
            Some(s) => {
                let n = s.traces as f64;
                let mean = |old: f64, new: f64| (old * n + new) / (n + 1.0);
                s.hit_ratio = mean(s.hit_ratio, add[0]);
                s.byte_hit_ratio = mean(s.byte_hit_ratio, add[1]);
                s.avoided_share = mean(s.avoided_share, add[2]);
                s.makespan_ratio = mean(s.makespan_ratio, add[3]);
                s.traces += 1;
            }
            None => out.push(Summary {
                budget: row.budget,
                policy: row.result.policy,
                traces: 1,
                hit_ratio: add[0],
                byte_hit_ratio: add[1],
                avoided_share: add[2],
                makespan_ratio: add[3],
            }),
        }
    }
    out
}
