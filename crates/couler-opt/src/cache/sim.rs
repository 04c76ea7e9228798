//! The trace-replay simulator.
//!
//! 1. The scheduler's order: a list schedule of the recorded runtimes on `M` slots
//!    ([`super::schedule`]) gives the sequence of task starts and finishes. Every policy is
//!    replayed over the same sequence, so they see the same reads and the offline policy knows
//!    exactly what comes.
//! 2. At a finish, each intermediate file the task wrote is offered to the cache. At a start,
//!    the task reads its intermediate inputs: a cached one is a hit; a missing one is rebuilt
//!    by re-running its producer, and recursively the producers of that task's missing
//!    inputs, each task once per reading task (rebuilt files are scratch, not cached).
//! 3. Make-span: the same list schedule with each task lengthened by its rebuild seconds.
//!
//! Recompute seconds avoided = rebuild seconds under `none` − rebuild seconds under the policy.

use super::model::SimInput;
use super::policy::{CacheState, CoulerParams, Policy, PolicyKind};
use super::schedule::{Event, Schedule, list_schedule, priorities};

/// How the replay is run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SimConfig {
    /// Scheduler slots (parallel tasks), at least 1.
    pub slots: usize,
    /// Tie-break seed of the scheduler (0: trace order).
    pub seed: u64,
    pub params: CoulerParams,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            slots: 4,
            seed: 0,
            params: CoulerParams::default(),
        }
    }
}

/// What one policy did under one budget.
#[derive(Clone, Debug, PartialEq)]
pub struct SimResult {
    pub policy: &'static str,
    /// Capacity in bytes (infinite for `all`).
    pub budget_bytes: f64,
    pub reads: usize,
    pub hits: usize,
    pub read_bytes: f64,
    pub hit_bytes: f64,
    /// Seconds spent rebuilding missing inputs.
    pub recompute_secs: f64,
    /// Rebuild seconds of `none` minus this policy's.
    pub recompute_avoided_secs: f64,
    /// Make-span when every miss is rebuilt in the reading task's slot.
    pub makespan_secs: f64,
    /// Most bytes cached at once.
    pub peak_bytes: f64,
    pub evictions: usize,
    /// Files the policy chose not to cache (bypass, or larger than the budget).
    pub bypassed: usize,
    /// Files evicted, in order.
    pub evicted: Vec<usize>,
    /// Files not cached when written, in order.
    pub bypassed_files: Vec<usize>,
}

impl SimResult {
    /// The figures before a replay: nothing read, cached or evicted yet.
    fn empty(policy: &'static str, budget_bytes: f64) -> SimResult {
        SimResult {
            policy,
            budget_bytes,
            reads: 0,
            hits: 0,
            read_bytes: 0.0,
            hit_bytes: 0.0,
            recompute_secs: 0.0,
            recompute_avoided_secs: 0.0,
            makespan_secs: 0.0,
            peak_bytes: 0.0,
            evictions: 0,
            bypassed: 0,
            evicted: Vec::new(),
            bypassed_files: Vec::new(),
        }
    }

    pub fn hit_ratio(&self) -> f64 {
        if self.reads == 0 {
            1.0
        } else {
            self.hits as f64 / self.reads as f64
        }
    }
    pub fn byte_hit_ratio(&self) -> f64 {
        if self.read_bytes <= 0.0 {
            1.0
        } else {
            self.hit_bytes / self.read_bytes
        }
    }
}

/// The mutable side of one replay: the cache, each file's read cursor, each task's rebuild
/// seconds, the figures so far and the eviction scratch.
struct Run<'a> {
    s: CacheState<'a>,
    cursor: Vec<usize>,
    extra: Vec<f64>,
    r: SimResult,
    scored: Vec<(f64, u64, usize)>,
}

/// A trace prepared for replays: the reference schedule and each file's read positions.
pub struct Replay<'a> {
    pub input: &'a SimInput,
    pub config: SimConfig,
    pub schedule: Schedule,
    priority: Vec<u64>,
    /// Per task, the tasks it waits for.
    parents: Vec<Vec<usize>>,
    /// Per file, the event positions of its reads, ascending.
    read_at: Vec<Vec<u64>>,
    /// Rebuild seconds under `none`.
    baseline_secs: f64,
}

impl<'a> Replay<'a> {
    pub fn new(input: &'a SimInput, config: SimConfig) -> Replay<'a> {
        let n = input.tasks.len();
        let priority = priorities(n, config.seed);
        let parents: Vec<Vec<usize>> = input.tasks.iter().map(|t| t.parents.clone()).collect();
        let runtimes: Vec<f64> = input.tasks.iter().map(|t| t.runtime).collect();
        let schedule = list_schedule(
            &parents,
            &input.children,
            &runtimes,
            config.slots,
            &priority,
        );
        let mut read_at = vec![Vec::new(); input.files.len()];
        for (pos, ev) in schedule.events.iter().enumerate() {
            if let Event::Start(t) = *ev {
                for &f in &input.reads[t] {
                    read_at[f].push(pos as u64);
                }
            }
        }
        let mut replay = Replay {
            input,
            config,
            schedule,
            priority,
            parents,
            read_at,
            baseline_secs: 0.0,
        };
        let none = replay.run(PolicyKind::None, 0.0);
        replay.baseline_secs = none.recompute_secs;
        replay
    }

    /// Rebuild seconds when nothing is cached.
    pub fn baseline_secs(&self) -> f64 {
        self.baseline_secs
    }

    /// Replays `kind` with a cache of `budget` bytes (`none` always gets 0, `all` infinity).
    pub fn run(&self, kind: PolicyKind, budget: f64) -> SimResult {
        let mut policy = kind.build(self.config.params);
        let budget = match kind {
            PolicyKind::None => 0.0,
            PolicyKind::All => f64::INFINITY,
            _ => budget.max(0.0),
        };
        self.run_policy(policy.as_mut(), budget)
    }

    /// Replays any policy with a cache of `budget` bytes.
    pub fn run_policy(&self, policy: &mut dyn Policy, budget: f64) -> SimResult {
        let input = self.input;
        let mut run = Run {
            s: CacheState {
                next_read: self
                    .read_at
                    .iter()
                    .map(|r| r.first().copied().unwrap_or(u64::MAX))
                    .collect(),
                ..CacheState::initial(input, budget)
            },
            cursor: vec![0; input.files.len()],
            extra: vec![0.0; input.tasks.len()],
            r: SimResult::empty(policy.name(), budget),
            scored: Vec::new(),
        };
        for (pos, ev) in self.schedule.events.iter().enumerate() {
            run.s.clock = pos as u64;
            match *ev {
                Event::Start(t) => self.start(policy, &mut run, t),
                Event::Finish(t) => {
                    for &c in &input.children[t] {
                        run.s.unfinished_parents[c] -= 1;
                    }
                    for &f in &input.writes[t] {
                        self.offer(policy, &mut run.s, f, &mut run.r, &mut run.scored);
                    }
                }
            }
        }
        let mut r = run.r;
        r.recompute_avoided_secs = self.baseline_secs - r.recompute_secs;
        r.makespan_secs = self.makespan(&run.extra);
        r
    }

    /// Task `t` starts: it reads its inputs, each a hit or rebuilt in its slot.
    fn start(&self, policy: &mut dyn Policy, run: &mut Run<'_>, t: usize) {
        let input = self.input;
        let (s, r) = (&mut run.s, &mut run.r);
        s.started[t] = true;
        s.new_walk();
        for &f in &input.reads[t] {
            s.remaining[f] -= 1;
            run.cursor[f] += 1;
            s.next_read[f] = self.read_at[f]
                .get(run.cursor[f])
                .copied()
                .unwrap_or(u64::MAX);
            r.reads += 1;
            r.read_bytes += input.files[f].size;
            if s.cached[f] {
                r.hits += 1;
                r.hit_bytes += input.files[f].size;
                s.last_use[f] = s.clock;
                policy.on_hit(f, s);
            } else {
                run.extra[t] += s.rebuild_secs(f, u32::MAX, None);
            }
        }
        r.recompute_secs += run.extra[t];
    }

    /// Make-span of the reference schedule with each task lengthened by `extra` seconds.
    fn makespan(&self, extra: &[f64]) -> f64 {
        let durations: Vec<f64> = self
            .input
            .tasks
            .iter()
            .zip(extra)
            .map(|(t, e)| t.runtime + e)
            .collect();
        list_schedule(
            &self.parents,
            &self.input.children,
            &durations,
            self.config.slots,
            &self.priority,
        )
        .makespan
    }

    /// Offers a freshly written file to the cache: evicts lowest scores until it fits, or
    /// (for a bypassing policy) leaves it out when it is worth less than what it would evict.
    fn offer(
        &self,
        policy: &mut dyn Policy,
        s: &mut CacheState<'_>,
        f: usize,
        r: &mut SimResult,
        scored: &mut Vec<(f64, u64, usize)>,
    ) {
        let size = self.input.files[f].size;
        if size > s.budget || s.budget <= 0.0 {
            s.lost[f] = true;
            r.bypassed += 1;
            r.bypassed_files.push(f);
            return;
        }
        if s.used + size > s.budget {
            scored.clear();
            for g in 0..s.cached.len() {
                if s.cached[g] {
                    let sc = policy.score(g, s);
                    scored.push((sc, s.inserted_at[g], g));
                }
            }
            scored.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
            let mut freed = 0.0;
            let mut k = 0;
            while k < scored.len() && s.used - freed + size > s.budget {
                freed += self.input.files[scored[k].2].size;
                k += 1;
            }
            if policy.may_bypass() {
                let incoming = policy.score(f, s);
                if scored[..k].iter().any(|v| v.0 > incoming) {
                    s.lost[f] = true;
                    r.bypassed += 1;
                    r.bypassed_files.push(f);
                    return;
                }
            }
            for &(sc, _, g) in &scored[..k] {
                s.cached[g] = false;
                s.lost[g] = true;
                s.used -= self.input.files[g].size;
                policy.on_evict(g, sc);
                r.evictions += 1;
                r.evicted.push(g);
            }
            if k == scored.len() {
                // Everything left: forget rounding drift.
                s.used = 0.0;
            }
        }
        s.cached[f] = true;
        s.used += size;
        s.inserted_at[f] = s.clock;
        s.last_use[f] = s.clock;
        policy.on_insert(f, s);
        r.peak_bytes = r.peak_bytes.max(s.used);
    }
}
