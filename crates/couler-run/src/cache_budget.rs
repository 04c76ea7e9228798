//! The memoization cache under a size budget (`--cache-size`): after a step's outputs enter the
//! cache, entries are ranked by a policy and the lowest are evicted until the cache's bytes fit.
//!
//! The policies' formulas live in `couler-opt` (`cache::rank`), which depends on this crate;
//! so the runtime takes the ranking as a function ([`Ranker`]) the CLI builds from there, and
//! this module only keeps the mechanics: metadata, pinning, eviction order, collection.
//!
//! - An entry's bytes are the content bytes of its artifacts; the cache's bytes their sum.
//! - An entry is *pinned* when a run that did not succeed (one `resume` may continue) still
//!   references one of its artifacts: it is never evicted, even over budget.
//! - Evicting deletes the row only. Blobs no entry and no unfinished run references are deleted
//!   by [`collect`] (`couler cache gc`, and at the end of a budgeted run), never mid-run, where a
//!   step that just stored a blob may not have recorded it yet.

use crate::Error;
use crate::artifacts::ArtifactRef;
use crate::state::State;
pub use crate::state::{CacheEntry, PutMeta};
use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

/// Scores entries under a budget in bytes, one score per entry: the lowest is evicted first.
pub type Ranker = Arc<dyn Fn(&[CacheEntry], f64) -> Vec<f64> + Send + Sync>;

/// `--cache-size` and `--cache-policy`.
#[derive(Clone)]
pub struct CacheBudget {
    pub bytes: u64,
    /// The policy's name, for messages.
    pub policy: String,
    pub rank: Ranker,
}

impl std::fmt::Debug for CacheBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CacheBudget")
            .field("bytes", &self.bytes)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// An entry with its score and rank (1: first to go) under the policy.
#[derive(Clone, Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Ranked {
    #[serde(flatten)]
    pub entry: CacheEntry,
    pub score: f64,
    pub rank: usize,
}

/// What [`enforce`] did.
#[derive(Clone, Debug, Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Enforced {
    pub budget: u64,
    pub bytes_before: u64,
    pub bytes_after: u64,
    /// Evicted entries, in eviction order.
    pub evicted: Vec<Ranked>,
    /// Bytes over budget left because the rest is pinned.
    pub pinned_over: u64,
}

/// Every entry with `pinned` set, ranked under `budget` (eviction order: lowest score first,
/// then least recently used, then key). `running`: the run in progress, whose references do not
/// pin (its blobs are not collected before it ends, and it has the outputs it needs).
pub fn ranked(
    state: &State,
    budget: &CacheBudget,
    running: Option<&str>,
) -> Result<Vec<Ranked>, Error> {
    let mut entries = state.cache_entries()?;
    let pinned: HashSet<String> = state
        .resumable_artifacts()?
        .into_iter()
        .filter(|(run, _)| Some(run.as_str()) != running)
        .map(|(_, a)| a.digest)
        .collect();
    for e in &mut entries {
        e.pinned = e.artifacts.iter().any(|a| pinned.contains(&a.digest));
    }
    let scores = (budget.rank)(&entries, budget.bytes as f64);
    let mut out: Vec<Ranked> = entries
        .into_iter()
        .zip(scores.into_iter().chain(std::iter::repeat(f64::NAN)))
        .map(|(entry, score)| Ranked {
            entry,
            score,
            rank: 0,
        })
        .collect();
    out.sort_by(|a, b| {
        a.score
            .total_cmp(&b.score)
            .then(a.entry.last_used.total_cmp(&b.entry.last_used))
            .then_with(|| a.entry.key.cmp(&b.entry.key))
    });
    for (i, r) in out.iter_mut().enumerate() {
        r.rank = i + 1;
    }
    Ok(out)
}

/// Evicts entries, lowest rank first and skipping pinned ones, until the cache's bytes fit
/// the budget. Deletes rows only; see [`collect`] for the blobs.
pub fn enforce(
    state: &State,
    budget: &CacheBudget,
    running: Option<&str>,
) -> Result<Enforced, Error> {
    let bytes = state.cache_bytes()?;
    if bytes <= budget.bytes {
        return Ok(Enforced {
            budget: budget.bytes,
            bytes_before: bytes,
            bytes_after: bytes,
            ..Enforced::default()
        });
    }
    let ranked = ranked(state, budget, running)?;
    let before: u64 = ranked.iter().map(|r| r.entry.bytes).sum();
    let mut report = Enforced {
        budget: budget.bytes,
        bytes_before: before,
        bytes_after: before,
        ..Enforced::default()
    };
    for r in ranked {
        if report.bytes_after <= budget.bytes {
            break;
        }
        if r.entry.pinned {
            continue;
        }
        state.cache_delete(&r.entry.key)?;
        report.bytes_after -= r.entry.bytes;
        report.evicted.push(r);
    }
    report.pinned_over = report.bytes_after.saturating_sub(budget.bytes);
    Ok(report)
}

/// Deletes the blobs of the state directory's own store (`STATE_DIR/artifacts`) that no cache
/// entry and no unfinished run references. A run's custom `--artifact-store` is never touched:
/// other state directories may share it. Call it only while holding the state directory's lock
/// with no run in progress.
pub async fn collect(state: &State, state_dir: &Path) -> Result<couler_store::GcReport, Error> {
    let root = state_dir.join("artifacts");
    if !root.is_dir() {
        return Ok(couler_store::GcReport::default());
    }
    let mut keep: Vec<ArtifactRef> = state
        .cache_entries()?
        .into_iter()
        .flat_map(|e| e.artifacts)
        .collect();
    keep.extend(state.resumable_artifacts()?.into_iter().map(|(_, a)| a));
    let store = couler_store::ArtifactStore::open(&couler_store::Location::Local { root })
        .await
        .map_err(|e| Error::Io(e.to_string()))?;
    store.gc(&keep).await.map_err(|e| Error::Io(e.to_string()))
}

/// Steps of `wf` that depend on the step named `step` (read its outputs or wait for it).
pub fn consumers(wf: &couler_ir::Workflow, step: &str) -> u32 {
    let graph = couler_ir::graph::Graph::new(wf);
    wf.steps.iter().position(|s| s.name == step).map_or(0, |i| {
        u32::try_from(graph.successors(i).len()).unwrap_or(u32::MAX)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::artifacts::ArtifactKind;
    use crate::outcome::{StepOutputs, StepStatus};
    use crate::state::{Finished, RunStatus};

    fn outputs(digest_byte: char, size: u64) -> StepOutputs {
        let mut o = StepOutputs::default();
        o.artifacts.insert(
            "out".into(),
            ArtifactRef {
                digest: format!("sha256:{}", digest_byte.to_string().repeat(64)),
                size,
                kind: ArtifactKind::File,
            },
        );
        o
    }

    /// Ranks by size, biggest first to go: simple enough to know the answer without the
    /// policies (those are tested in couler-opt).
    fn biggest_first(bytes: u64) -> CacheBudget {
        CacheBudget {
            bytes,
            policy: "test-biggest-first".into(),
            rank: Arc::new(|entries: &[CacheEntry], _| {
                entries.iter().map(|e| -(e.bytes as f64)).collect()
            }),
        }
    }

    #[tokio::test]
    async fn a_version_2_cache_gains_the_metadata_and_old_entries_rank_as_unknown()
    -> Result<(), Error> {
        let dir = tempfile::tempdir().map_err(|e| Error::Io(e.to_string()))?;
        let db = |e: rusqlite::Error| Error::State(e.to_string());
        // A version-2 database: the cache table as it was, one entry in it.
        {
            let c = rusqlite::Connection::open(dir.path().join("state.db")).map_err(db)?;
            for sql in [
                "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
                "INSERT INTO meta VALUES ('schema_version', '2')",
                "CREATE TABLE runs (id TEXT PRIMARY KEY, workflow TEXT NOT NULL, spec TEXT NOT NULL,
                    params TEXT NOT NULL, status TEXT NOT NULL, pid INTEGER,
                    started_at REAL NOT NULL, finished_at REAL, message TEXT, artifact_store TEXT)",
                "CREATE TABLE steps (run_id TEXT NOT NULL, node TEXT NOT NULL, step TEXT NOT NULL,
                    status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, exit_code INTEGER,
                    started_at REAL, finished_at REAL, peak_rss_kb INTEGER, cpu_seconds REAL,
                    cache_key TEXT, outputs TEXT, log_dir TEXT, message TEXT, pgid INTEGER,
                    PRIMARY KEY (run_id, node))",
                "CREATE TABLE attempts (run_id TEXT NOT NULL, node TEXT NOT NULL,
                    attempt INTEGER NOT NULL, status TEXT NOT NULL, exit_code INTEGER,
                    started_at REAL NOT NULL, finished_at REAL, peak_rss_kb INTEGER,
                    cpu_seconds REAL, log_dir TEXT NOT NULL, message TEXT,
                    PRIMARY KEY (run_id, node, attempt))",
                "CREATE TABLE cache (key TEXT PRIMARY KEY, outputs TEXT NOT NULL,
                    run_id TEXT NOT NULL, node TEXT NOT NULL, created_at REAL NOT NULL)",
                "INSERT INTO cache VALUES ('old', '{\"parameters\":{},\"result\":null,\"exit_code\":0,\"artifacts\":{}}', 'r', 'n', 5)",
            ] {
                c.execute_batch(sql).map_err(db)?;
            }
            c.close().map_err(|(_, e)| db(e))?;
        }
        let state = State::open(dir.path())?;
        let entries = state.cache_entries()?;
        assert_eq!(entries.len(), 1);
        let old = &entries[0];
        assert_eq!((old.bytes, old.hits, old.consumers), (0, 0, 0));
        assert_eq!(old.last_used, 5.0, "last use falls back to the insert time");
        assert_eq!(state.cache_bytes()?, 0);
        Ok(())
    }

    #[tokio::test]
    async fn entries_a_failed_run_needs_are_pinned_and_the_rest_evicted_to_budget()
    -> Result<(), Error> {
        let dir = tempfile::tempdir().map_err(|e| Error::Io(e.to_string()))?;
        let state = State::open(dir.path())?;
        // A failed run kept `big`'s output: `resume` will read it.
        state.create_run("failed", "w", "{}", "{}")?;
        let fin = Finished {
            outputs: Some(outputs('a', 5000)),
            ..Finished::default()
        };
        state.step_finished("failed", "big", "big", StepStatus::Succeeded, &fin)?;
        state.finish_run("failed", RunStatus::Failed, Some("x"))?;
        let meta = |step: &str| PutMeta {
            step: step.into(),
            recompute_secs: 1.0,
            consumers: 1,
        };
        state.cache_put("k-big", &outputs('a', 5000), "failed", "big", &meta("big"))?;
        state.cache_put("k-mid", &outputs('b', 3000), "now", "mid", &meta("mid"))?;
        state.cache_put(
            "k-small",
            &outputs('c', 1000),
            "now",
            "small",
            &meta("small"),
        )?;
        // A hit is recorded.
        assert!(state.cache_get("k-small", None)?.is_some());
        let entries = state.cache_entries()?;
        let small = entries.iter().find(|e| e.key == "k-small");
        assert_eq!(small.map(|e| (e.hits, e.bytes)), Some((1, 1000)));

        let budget = biggest_first(4500);
        let report = enforce(&state, &budget, None)?;
        // `big` ranks first but is pinned: `mid` goes, then `small` (6000 is still over);
        // what is left over the budget is pinned.
        let evicted: Vec<&str> = report
            .evicted
            .iter()
            .map(|r| r.entry.step.as_str())
            .collect();
        assert_eq!(evicted, ["mid", "small"]);
        assert_eq!(report.bytes_before, 9000);
        assert_eq!(report.bytes_after, 5000);
        assert_eq!(report.pinned_over, 500);
        let left: Vec<String> = state.cache_entries()?.into_iter().map(|e| e.key).collect();
        assert_eq!(left, ["k-big"]);
        // Once the run succeeds (resumed), nothing pins it any more.
        state.finish_run("failed", RunStatus::Succeeded, None)?;
        let report = enforce(&state, &budget, None)?;
        assert_eq!(report.evicted.len(), 1);
        assert_eq!(report.bytes_after, 0);
        Ok(())
    }
}
