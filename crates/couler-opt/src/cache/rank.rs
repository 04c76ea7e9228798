//! Ranks the local runtime's cache entries for eviction with the simulator's own policies, so
//! `couler run --cache-size` and `couler simulate` score with one set of formulas.
//!
//! The entries become a small [`SimInput`]: each entry is one file whose producer ran for the
//! entry's recompute seconds, read by `consumers + 1` tasks that have not started and wait on
//! nothing else (its workflow's steps that read it, plus the step's own cache lookup on the
//! next run). Every file is cached, the budget is the runtime's, and times are the entries'
//! insert and last-use times. So for `couler`: L̂ = recompute seconds / mean recompute seconds,
//! V̂ = bytes / budget, R̂ = readers, and a big artifact that is quick to rebuild goes first.

use super::model::{SimFile, SimInput, SimTask};
use super::policy::{CacheState, CoulerParams, PolicyKind};

/// What ranking needs to know of one runtime cache entry (`couler_run::cache_budget` keeps the
/// entries; this crate stays free of the runtime).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RuntimeEntry {
    /// The step, for names in the model.
    pub step: String,
    /// Content bytes of the entry's artifacts.
    pub bytes: u64,
    /// Seconds the step took: what a miss costs.
    pub recompute_secs: f64,
    /// Steps of its workflow that read it.
    pub consumers: u32,
    /// Seconds since the epoch.
    pub created_at: f64,
    pub last_used: f64,
}

/// The policy named `name` when it can rank a runtime cache: every policy but `none`, `all`
/// (no ranking: no budget or a zero one) and `belady` (it needs the future reads).
pub fn runtime_policy(name: &str) -> Result<PolicyKind, String> {
    let usable = [
        PolicyKind::Fifo,
        PolicyKind::Lru,
        PolicyKind::Lrc,
        PolicyKind::Gds,
        PolicyKind::CoulerPaper,
        PolicyKind::Couler,
    ];
    let names: Vec<&str> = usable.iter().map(|k| k.name()).collect();
    match PolicyKind::parse(name) {
        Some(k) if usable.contains(&k) => Ok(k),
        Some(k) => Err(format!(
            "cache policy `{}` cannot rank the runtime's cache ({}); use one of {}",
            k.name(),
            if k == PolicyKind::Belady {
                "it needs to know future reads"
            } else {
                "it does not rank"
            },
            names.join(", ")
        )),
        None => Err(format!(
            "unknown cache policy `{name}`; use one of {}",
            names.join(", ")
        )),
    }
}

/// Milliseconds since the epoch, as the replay's event clock.
fn tick(secs: f64) -> u64 {
    if secs.is_finite() && secs > 0.0 {
        (secs * 1000.0) as u64
    } else {
        0
    }
}

/// The eviction score of each entry under `kind` with `budget` bytes: the lowest goes first.
pub fn rank_entries(kind: PolicyKind, entries: &[RuntimeEntry], budget: f64) -> Vec<f64> {
    if entries.is_empty() {
        return Vec::new();
    }
    let mut tasks = Vec::new();
    let mut files = Vec::with_capacity(entries.len());
    for (i, e) in entries.iter().enumerate() {
        let producer = tasks.len();
        tasks.push(SimTask {
            name: format!("{}#{i}", e.step),
            runtime: e.recompute_secs,
            parents: Vec::new(),
        });
        let readers: Vec<usize> = (0..=e.consumers as usize)
            .map(|r| {
                tasks.push(SimTask {
                    name: format!("{}#{i}/reader{r}", e.step),
                    runtime: 0.0,
                    parents: vec![producer],
                });
                tasks.len() - 1
            })
            .collect();
        files.push(SimFile {
            name: format!("{}#{i}", e.step),
            size: e.bytes as f64,
            producer,
            consumers: readers,
        });
    }
    // Every file has a reader and indices are in range, so this cannot fail; fall back to
    // equal scores (the caller then evicts least recently used first) rather than panic.
    let Ok(input) = SimInput::new("runtime-cache", tasks, files) else {
        return vec![0.0; entries.len()];
    };
    let mut state = CacheState::initial(&input, budget);
    let secs: Vec<f64> = entries.iter().map(|e| e.recompute_secs.max(0.0)).collect();
    let mean = secs.iter().sum::<f64>() / secs.len() as f64;
    state.mean_runtime = if mean > 0.0 { mean } else { 1.0 };
    state.used = entries.iter().map(|e| e.bytes as f64).sum();
    state.clock = entries
        .iter()
        .map(|e| tick(e.last_used).max(tick(e.created_at)))
        .max()
        .unwrap_or(0)
        + 1;
    for (i, e) in entries.iter().enumerate() {
        state.cached[i] = true;
        state.inserted_at[i] = tick(e.created_at);
        state.last_use[i] = tick(e.last_used);
        let producer = input.files[i].producer;
        state.started[producer] = true;
        for &c in &input.files[i].consumers {
            // The producer finished: the readers wait on nothing.
            state.unfinished_parents[c] = 0;
        }
    }
    let mut policy = kind.build(CoulerParams::default());
    for i in 0..entries.len() {
        policy.on_insert(i, &state);
    }
    (0..entries.len())
        .map(|i| policy.score(i, &mut state))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(step: &str, bytes: u64, secs: f64, consumers: u32, t: f64) -> RuntimeEntry {
        RuntimeEntry {
            step: step.into(),
            bytes,
            recompute_secs: secs,
            consumers,
            last_used: t,
            created_at: t,
        }
    }

    fn lowest(scores: &[f64]) -> usize {
        (0..scores.len())
            .min_by(|&a, &b| scores[a].total_cmp(&scores[b]))
            .unwrap_or(usize::MAX)
    }

    #[test]
    fn couler_evicts_the_big_cheap_artifact_before_small_expensive_ones() {
        // The big one is the most recently used, so recency alone would keep it.
        let entries = [
            entry("small-slow-a", 1_000, 3.0, 1, 100.0),
            entry("small-slow-b", 1_000, 3.0, 1, 101.0),
            entry("big-quick", 3_000_000, 0.05, 1, 102.0),
        ];
        for kind in [PolicyKind::Couler, PolicyKind::Gds, PolicyKind::CoulerPaper] {
            let scores = rank_entries(kind, &entries, 2_000_000.0);
            assert_eq!(scores.len(), 3);
            if kind != PolicyKind::CoulerPaper {
                assert_eq!(lowest(&scores), 2, "{kind:?}: {scores:?}");
            }
        }
        let lru = rank_entries(PolicyKind::Lru, &entries, 2_000_000.0);
        assert_eq!(lowest(&lru), 0, "{lru:?}");
    }

    #[test]
    fn more_readers_and_more_seconds_raise_the_couler_score() {
        let entries = [
            entry("one-reader", 1_000, 2.0, 0, 1.0),
            entry("three-readers", 1_000, 2.0, 2, 1.0),
            entry("slower", 1_000, 8.0, 0, 1.0),
        ];
        let s = rank_entries(PolicyKind::Couler, &entries, 10_000.0);
        assert!(s[1] > s[0], "{s:?}");
        assert!(s[2] > s[0], "{s:?}");
    }

    #[test]
    fn fifo_and_lru_follow_the_entries_times() {
        let mut a = entry("a", 10, 1.0, 0, 50.0);
        a.last_used = 300.0;
        let b = entry("b", 10, 1.0, 0, 100.0);
        let fifo = rank_entries(PolicyKind::Fifo, &[a.clone(), b.clone()], 100.0);
        let lru = rank_entries(PolicyKind::Lru, &[a, b], 100.0);
        assert_eq!(lowest(&fifo), 0, "{fifo:?}");
        assert_eq!(lowest(&lru), 1, "{lru:?}");
    }

    #[test]
    fn policies_that_cannot_rank_a_runtime_cache_are_refused_by_name() {
        assert_eq!(runtime_policy("couler"), Ok(PolicyKind::Couler));
        let e = runtime_policy("belady").err().unwrap_or_default();
        assert!(e.contains("future reads") && e.contains("couler"), "{e}");
        let e = runtime_policy("lfu").err().unwrap_or_default();
        assert!(e.contains("unknown cache policy `lfu`"), "{e}");
        assert!(rank_entries(PolicyKind::Couler, &[], 1.0).is_empty());
    }
}
