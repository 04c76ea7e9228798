//! `couler cache ls|stats|gc|verify`: what the local runtime's memoization cache holds, how each
//! entry ranks under an eviction policy and why, trimming it to a budget, and checking the
//! artifact store's blobs against their digests.
//!
//! The ranking is `couler_opt::cache::rank` (the simulator's policies); the mechanics (pinning,
//! eviction order, blob collection) are `couler_run::cache_budget`. `budget` is shared with
//! `couler run|resume --cache-size`.

use crate::exit::{self, FAILED, INVALID, OK};
use crate::state_dir::{Output, StateArg, open_existing, tokio_rt};
use clap::{Args, Subcommand};
use couler_opt::cache::PolicyKind;
use couler_opt::cache::{Budget, rank};
use couler_run::Error;
use couler_run::cache_budget::{self, CacheBudget, CacheEntry, Ranked, Ranker};
use std::sync::Arc;

/// Arguments of `couler cache`.
#[derive(Args)]
pub struct CacheArgs {
    #[command(subcommand)]
    command: CacheCommand,
}

#[derive(Subcommand)]
enum CacheCommand {
    /// List cache entries in eviction order (rank 1 goes first) with their score
    Ls(QueryArgs),
    /// Entries, bytes, budget and hits of the cache
    Stats(QueryArgs),
    /// Evict down to the budget, then delete the blobs nothing references any more
    Gc(QueryArgs),
    /// Hash every blob of the artifact store and report those that do not match their digest;
    /// with --repair, remove them so the steps that produce them run again (exit 1 when corrupt
    /// blobs remain)
    Verify(VerifyArgs),
}

#[derive(Args)]
struct VerifyArgs {
    #[command(flatten)]
    state: StateArg,
    /// The artifact store to check: a directory, s3://, gs://, oss:// or webhdfs://
    /// [default: $COULER_ARTIFACT_STORE, else the state directory's]
    #[arg(long, value_name = "LOCATION")]
    artifact_store: Option<String>,
    /// Remove the corrupt blobs: the cache entries that name them stop hitting, so the next
    /// `couler run` runs their steps again and stores the content afresh
    #[arg(long)]
    repair: bool,
    /// Output format
    #[arg(long, short, value_enum, default_value_t = Output::Text)]
    output: Output,
}

#[derive(Args)]
struct QueryArgs {
    #[command(flatten)]
    state: StateArg,
    /// The budget (500Mi, 2G, 4096) [default: $COULER_CACHE_SIZE; `ls` and `stats` without one
    /// rank against the cache's current size, `gc` without one only collects blobs]
    #[arg(long, value_name = "SIZE")]
    cache_size: Option<String>,
    /// How entries are ranked: couler, couler-paper, gds, lrc, lru, fifo
    #[arg(long, value_name = "POLICY", default_value = "couler")]
    policy: String,
    /// Output format
    #[arg(long, short, value_enum, default_value_t = Output::Text)]
    output: Output,
}

/// The runtime's budget from `--cache-size` (or `$COULER_CACHE_SIZE`) and a policy name;
/// `None` without a size.
pub fn budget(size: Option<&str>, policy: &str) -> Result<Option<CacheBudget>, String> {
    let kind = rank::runtime_policy(policy).map_err(|e| format!("--cache-policy: {e}"))?;
    let Some(size) = size else { return Ok(None) };
    Ok(Some(runtime_budget(kind, parse_size(size)?)))
}

/// The runtime's budget of `bytes` ranked by `kind` with the simulator's formulas.
fn runtime_budget(kind: PolicyKind, bytes: u64) -> CacheBudget {
    let rank: Ranker = Arc::new(move |entries: &[CacheEntry], budget: f64| {
        let entries: Vec<rank::RuntimeEntry> = entries
            .iter()
            .map(|e| rank::RuntimeEntry {
                step: e.step.clone(),
                bytes: e.bytes,
                recompute_secs: e.recompute_secs,
                consumers: e.consumers,
                created_at: e.created_at,
                last_used: e.last_used,
            })
            .collect();
        rank::rank_entries(kind, &entries, budget)
    });
    CacheBudget {
        bytes,
        policy: kind.name().to_string(),
        rank,
    }
}

/// A cache size as `couler simulate --budget` reads one, without the percentage form (there is
/// no trace total to take a share of).
fn parse_size(text: &str) -> Result<u64, String> {
    match Budget::parse(text) {
        Ok(Budget::Bytes(b)) => Ok(b.round() as u64),
        Ok(Budget::Percent(_)) => Err(format!(
            "--cache-size `{text}`: a percentage has nothing to be a share of here; give a size (500Mi, 2G, 4096)"
        )),
        Err(e) => Err(format!("--cache-size: {e}")),
    }
}

/// Runs `couler cache`; returns the exit code.
pub fn run(args: CacheArgs) -> u8 {
    let (q, what) = match &args.command {
        CacheCommand::Ls(q) => (q, "ls"),
        CacheCommand::Stats(q) => (q, "stats"),
        CacheCommand::Gc(q) => (q, "gc"),
        CacheCommand::Verify(v) => return verify(v),
    };
    let size = q
        .cache_size
        .clone()
        .or_else(|| std::env::var("COULER_CACHE_SIZE").ok());
    let given = match budget(size.as_deref(), &q.policy) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: {}", e.replace("--cache-policy", "--policy"));
            return INVALID;
        }
    };
    let dir = q.state.dir();
    let json = q.output == Output::Json;
    let Some(rt) = tokio_rt() else { return FAILED };
    let result = rt.block_on(async {
        if what == "gc" {
            return gc(&dir, given.as_ref(), json).await;
        }
        let state = open_existing(&dir)?;
        // Without a budget, rank against the current size: what a budget of "no growth" keeps.
        let total: u64 = state.cache_entries()?.iter().map(|e| e.bytes).sum();
        let b = match given.clone() {
            Some(b) => b,
            None => budget(Some(&total.max(1).to_string()), &q.policy)
                .map_err(Error::Invalid)?
                .ok_or_else(|| Error::Internal("no budget".into()))?,
        };
        let ranked = cache_budget::ranked(&state, &b, None)?;
        if what == "ls" {
            print_ls(&ranked, &b, json);
        } else {
            print_stats(&ranked, given.as_ref(), &b, json);
        }
        Ok(())
    });
    match result {
        Ok(()) => OK,
        Err(e) => {
            eprintln!("error: {e}");
            exit::of_error(&e)
        }
    }
}

async fn gc(dir: &std::path::Path, budget: Option<&CacheBudget>, json: bool) -> Result<(), Error> {
    // Fails on a directory with no state before the lock would create it.
    drop(open_existing(dir)?);
    // Runs write the cache and the store: never collect beside one.
    let _lock = couler_run::Lock::acquire(dir)?;
    let state = open_existing(dir)?;
    let enforced = match budget {
        Some(b) => Some(cache_budget::enforce(&state, b, None)?),
        None => None,
    };
    let collected = cache_budget::collect(&state, dir).await?;
    if json {
        let v = serde_json::json!({
            "budget": enforced.as_ref().map(|e| e.budget),
            "policy": budget.map(|b| b.policy.clone()),
            "bytesBefore": enforced.as_ref().map(|e| e.bytes_before),
            "bytesAfter": enforced.as_ref().map(|e| e.bytes_after),
            "pinnedOver": enforced.as_ref().map(|e| e.pinned_over),
            "evicted": enforced.as_ref().map(|e| &e.evicted),
            "blobsRemoved": collected.removed.len(),
            "blobBytesFreed": collected.freed_bytes(),
        });
        println!("{v}");
        return Ok(());
    }
    if let (Some(e), Some(b)) = (&enforced, budget) {
        if e.evicted.is_empty() {
            println!(
                "cache: {} within the budget of {}; nothing evicted",
                bytes(e.bytes_before),
                bytes(e.budget)
            );
        }
        for r in &e.evicted {
            println!(
                "evicted {} ({}, {}): rank {} under {}, score {:.3}: {}",
                r.entry.step,
                short(&r.entry.key),
                bytes(r.entry.bytes),
                r.rank,
                b.policy,
                r.score,
                why(r, e.budget)
            );
        }
        if !e.evicted.is_empty() {
            println!(
                "cache: {} -> {} (budget {})",
                bytes(e.bytes_before),
                bytes(e.bytes_after),
                bytes(e.budget)
            );
        }
        if e.pinned_over > 0 {
            println!(
                "note: {} over budget is pinned by runs that did not succeed; `couler resume` or re-run them to release it",
                bytes(e.pinned_over)
            );
        }
    }
    println!(
        "blobs: removed {} ({}); {} referenced kept, {} newer than the collection kept",
        collected.removed.len(),
        bytes(collected.freed_bytes()),
        collected.kept,
        collected.too_new
    );
    Ok(())
}

/// `couler cache verify`: exit 0 when every blob verifies (or every corrupt one was removed),
/// 1 when corrupt blobs remain, 2 for a store that cannot be opened.
fn verify(args: &VerifyArgs) -> u8 {
    let location = args
        .artifact_store
        .clone()
        .or_else(|| std::env::var("COULER_ARTIFACT_STORE").ok())
        .filter(|v| !v.trim().is_empty());
    let dir = args.state.dir();
    let Some(rt) = tokio_rt() else { return FAILED };
    let result = rt.block_on(async {
        let location = match location {
            Some(text) => couler_run::artifacts::Location::parse(&text)?,
            None => couler_run::artifacts::Location::local(&dir.join("artifacts"))?,
        };
        let store = couler_run::artifacts::Store::open_at(&location).await?;
        let mut last = std::time::Instant::now();
        let report = store
            .verify_all(args.repair, |done, total| {
                // Progress on long walks, a line every few seconds, on stderr.
                if last.elapsed().as_secs() >= 5 {
                    eprintln!("verified {done}/{total} blobs");
                    last = std::time::Instant::now();
                }
            })
            .await?;
        Ok::<_, Error>((location, report))
    });
    let (location, report) = match result {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::of_error(&e);
        }
    };
    if args.output == Output::Json {
        let corrupt: Vec<_> = (report.corrupt.iter())
            .map(|(digest, actual)| serde_json::json!({"digest": digest, "contentHash": actual}))
            .collect();
        let v = serde_json::json!({"store": location.to_string(), "checked": report.checked,
            "bytes": report.bytes, "corrupt": corrupt, "repaired": report.repaired});
        println!("{v}");
    } else {
        for (digest, actual) in &report.corrupt {
            let done = if report.repaired {
                "removed"
            } else {
                "corrupt"
            };
            println!("{done}: {digest} (its content hashes to {actual})");
        }
        println!(
            "{location}: {} blobs ({}) checked, {} corrupt{}",
            report.checked,
            bytes(report.bytes),
            report.corrupt.len(),
            match (report.corrupt.is_empty(), report.repaired) {
                (true, _) => "",
                (false, true) =>
                    "; removed: the steps that produce them run again on the next `couler run`",
                (false, false) => "; run `couler cache verify --repair` to remove them",
            }
        );
    }
    if report.corrupt.is_empty() || report.repaired {
        OK
    } else {
        FAILED
    }
}

fn print_ls(ranked: &[Ranked], b: &CacheBudget, json: bool) {
    if json {
        println!(
            "{}",
            serde_json::json!({"policy": b.policy, "budget": b.bytes, "entries": ranked})
        );
        return;
    }
    if ranked.is_empty() {
        println!("the cache is empty");
        return;
    }
    println!(
        "{:>4}  {:<20} {:<12} {:>10} {:>9} {:>5} {:>10} {:>9}  WHY ({} under {})",
        "RANK",
        "STEP",
        "KEY",
        "BYTES",
        "RECOMPUTE",
        "HITS",
        "LAST USE",
        "SCORE",
        b.policy,
        bytes(b.bytes)
    );
    let now = couler_run::state::now();
    for r in ranked {
        let e = &r.entry;
        println!(
            "{:>4}  {:<20} {:<12} {:>10} {:>8.2}s {:>5} {:>10} {:>9.3}  {}{}",
            r.rank,
            e.step,
            short(&e.key),
            bytes(e.bytes),
            e.recompute_secs,
            e.hits,
            format!("{} ago", secs(now - e.last_used)),
            r.score,
            if e.pinned {
                "pinned (a run to resume needs it); "
            } else {
                ""
            },
            why(r, b.bytes)
        );
    }
}

fn print_stats(ranked: &[Ranked], given: Option<&CacheBudget>, b: &CacheBudget, json: bool) {
    let total: u64 = ranked.iter().map(|r| r.entry.bytes).sum();
    let hits: u64 = ranked.iter().map(|r| r.entry.hits).sum();
    let hit_entries = ranked.iter().filter(|r| r.entry.hits > 0).count();
    let pinned = ranked.iter().filter(|r| r.entry.pinned).count();
    let saved: f64 = ranked
        .iter()
        .map(|r| r.entry.hits as f64 * r.entry.recompute_secs)
        .sum();
    if json {
        println!(
            "{}",
            serde_json::json!({
                "entries": ranked.len(), "bytes": total, "budget": given.map(|g| g.bytes),
                "policy": b.policy, "hits": hits, "entriesHit": hit_entries, "pinned": pinned,
                "recomputeSecondsSaved": saved,
            })
        );
        return;
    }
    println!("entries:   {} ({} pinned)", ranked.len(), pinned);
    println!("bytes:     {}", bytes(total));
    match given {
        Some(g) => println!(
            "budget:    {} ({:.0}% used), evicting by {}",
            bytes(g.bytes),
            100.0 * total as f64 / g.bytes.max(1) as f64,
            g.policy
        ),
        None => println!("budget:    none (unbounded; set --cache-size or COULER_CACHE_SIZE)"),
    }
    println!(
        "hits:      {hits} on {hit_entries} entries, {:.1}s of recompute avoided",
        saved
    );
}

/// Why an entry ranks where it does: the terms the policies score from.
fn why(r: &Ranked, budget: u64) -> String {
    let e = &r.entry;
    format!(
        "{:.2}s to recompute, {} reader(s), {:.1}% of the budget, {} hit(s)",
        e.recompute_secs,
        e.consumers + 1,
        100.0 * e.bytes as f64 / budget.max(1) as f64,
        e.hits
    )
}

/// The key's first 12 hex digits.
fn short(key: &str) -> &str {
    let hex = key.strip_prefix("sha256:").unwrap_or(key);
    hex.get(..12).unwrap_or(hex)
}

fn secs(s: f64) -> String {
    let s = s.max(0.0);
    if s < 120.0 {
        format!("{s:.0}s")
    } else if s < 7200.0 {
        format!("{:.0}m", s / 60.0)
    } else if s < 172_800.0 {
        format!("{:.0}h", s / 3600.0)
    } else {
        format!("{:.0}d", s / 86400.0)
    }
}

fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n}B")
    } else {
        format!("{v:.1}{}", UNITS[u])
    }
}
