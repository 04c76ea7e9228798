//! A discrete-event simulation of a workload through a [`Policy`], and its metrics
//! (`cargo bench -p couler-server --bench queue`; the tests check admissions against it).

use super::{Admission, Cluster, Pending, Policy, Refusal, Resources, View, admissible};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};

/// A workflow of the workload: its submission and how long it runs once admitted (seconds).
#[derive(Clone, Debug, PartialEq)]
pub struct Job {
    pub pending: Pending,
    pub duration: u64,
}

/// One admitted workflow: where and when it ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ran {
    pub id: u64,
    pub cluster: usize,
    pub start: u64,
    pub end: u64,
}

/// What happened to a workload: the runs in admission order, the refusals, and what was left
/// pending at the end (nothing, unless a policy deadlocks).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Outcome {
    pub ran: Vec<Ran>,
    pub refused: Vec<(u64, Refusal)>,
    pub stuck: Vec<u64>,
}

/// A running workflow: (end, id, cluster, request, user), ordered by its end first.
type Running = (u64, u64, usize, Resources, String);

/// The simulation's state between events.
struct Sim<'a> {
    clusters: &'a [Cluster],
    quotas: &'a BTreeMap<String, Resources>,
    used: Vec<Resources>,
    usage: BTreeMap<String, Resources>,
    pending: Vec<Pending>,
    /// The running workflows, earliest end first.
    running: BinaryHeap<Reverse<Running>>,
    durations: BTreeMap<u64, u64>,
    out: Outcome,
}

/// Runs `jobs` through `policy` on `clusters` under `quotas` (users without one are
/// unlimited). Each event time: finished workflows free their resources, arrivals are refused
/// or queued, then the policy admits until it picks nothing.
pub fn simulate(
    policy: &dyn Policy,
    clusters: &[Cluster],
    quotas: &BTreeMap<String, Resources>,
    jobs: &[Job],
) -> Outcome {
    let mut order: Vec<&Job> = jobs.iter().collect();
    order.sort_by_key(|j| (j.pending.submitted_at, j.pending.id));
    let mut sim = Sim {
        clusters,
        quotas,
        used: vec![Resources::default(); clusters.len()],
        usage: BTreeMap::new(),
        pending: Vec::new(),
        running: BinaryHeap::new(),
        durations: jobs.iter().map(|j| (j.pending.id, j.duration)).collect(),
        out: Outcome::default(),
    };
    let mut next = 0;
    loop {
        let arrival = order.get(next).map(|j| j.pending.submitted_at);
        let finish = sim.running.peek().map(|Reverse(r)| r.0);
        let now = match (arrival, finish) {
            (None, None) => break,
            (a, f) => a.unwrap_or(u64::MAX).min(f.unwrap_or(u64::MAX)),
        };
        sim.finish_until(now);
        while let Some(j) = order.get(next).filter(|j| j.pending.submitted_at == now) {
            sim.arrive(&j.pending);
            next += 1;
        }
        sim.admit(policy, now);
    }
    sim.out.stuck = sim.pending.iter().map(|w| w.id).collect();
    sim.out.stuck.sort_unstable();
    sim.out
}

impl Sim<'_> {
    fn finish_until(&mut self, now: u64) {
        while self.running.peek().is_some_and(|Reverse(r)| r.0 <= now) {
            let Reverse((_, _, cluster, request, user)) = self.running.pop().expect("peeked");
            self.used[cluster] = self.used[cluster].minus(&request);
            let u = self.usage.entry(user).or_default();
            *u = u.minus(&request);
        }
    }

    fn arrive(&mut self, w: &Pending) {
        let quota = self
            .quotas
            .get(&w.user)
            .copied()
            .unwrap_or(Resources::UNLIMITED);
        match admissible(w, self.clusters, &quota) {
            Ok(()) => self.pending.push(w.clone()),
            Err(r) => self.out.refused.push((w.id, r)),
        }
    }

    fn admit(&mut self, policy: &dyn Policy, now: u64) {
        loop {
            let view = View {
                clusters: self.clusters,
                used: &self.used,
                quotas: self.quotas,
                usage: &self.usage,
                now,
            };
            let Some(Admission { index, cluster }) = policy.pick(&self.pending, &view) else {
                return;
            };
            let w = self.pending.swap_remove(index);
            let end = now + self.durations[&w.id];
            self.used[cluster] = self.used[cluster].plus(&w.request);
            let u = self.usage.entry(w.user.clone()).or_default();
            *u = u.plus(&w.request);
            self.out.ran.push(Ran {
                id: w.id,
                cluster,
                start: now,
                end,
            });
            self.running
                .push(Reverse((end, w.id, cluster, w.request, w.user)));
        }
    }
}

/// A workload's figures under one policy.
#[derive(Clone, Debug, PartialEq)]
pub struct Metrics {
    /// Busy share of the clusters' total CPU, memory and GPU over the makespan.
    pub utilisation: [f64; 3],
    /// Wait (admission minus submission, seconds) p50/p95/p99 for each priority class.
    pub waits: Vec<(&'static str, [u64; 3])>,
    /// Jain's index over the users' mean bounded slowdown (1 = every user slowed alike).
    pub jain: f64,
    /// From the first submission to the last finish, seconds.
    pub makespan: u64,
    pub refused: usize,
}

/// Priority classes of the report: low 0–3, normal 4–6, high 7 and above.
pub const CLASSES: [(&str, u32, u32); 3] = [("low", 0, 3), ("normal", 4, 6), ("high", 7, u32::MAX)];

/// Bounded slowdown's floor on the duration (seconds): short jobs don't dominate it.
const SLOWDOWN_FLOOR: u64 = 60;

pub fn metrics(jobs: &[Job], clusters: &[Cluster], out: &Outcome) -> Metrics {
    let by_id: BTreeMap<u64, &Job> = jobs.iter().map(|j| (j.pending.id, j)).collect();
    let first = jobs
        .iter()
        .map(|j| j.pending.submitted_at)
        .min()
        .unwrap_or(0);
    let makespan = out.ran.iter().map(|r| r.end).max().unwrap_or(first) - first;
    let total = clusters
        .iter()
        .fold(Resources::default(), |t, c| t.plus(&c.capacity));
    let mut busy = [0f64; 3];
    let mut waits: Vec<Vec<u64>> = vec![Vec::new(); CLASSES.len()];
    let mut slowdown: BTreeMap<&str, (f64, usize)> = BTreeMap::new();
    for r in &out.ran {
        let j = by_id[&r.id];
        for (b, (_, n)) in busy.iter_mut().zip(j.pending.request.named()) {
            *b += n as f64 * j.duration as f64;
        }
        let wait = r.start - j.pending.submitted_at;
        let class = CLASSES
            .iter()
            .position(|&(_, lo, hi)| (lo..=hi).contains(&j.pending.priority))
            .expect("classes cover every priority");
        waits[class].push(wait);
        let sd = (wait + j.duration) as f64 / j.duration.max(SLOWDOWN_FLOOR) as f64;
        let e = slowdown.entry(j.pending.user.as_str()).or_default();
        *e = (e.0 + sd.max(1.0), e.1 + 1);
    }
    let span = makespan.max(1) as f64;
    let utilisation = [0, 1, 2].map(|i| {
        let cap = total.named()[i].1;
        if cap == 0 {
            0.0
        } else {
            busy[i] / (cap as f64 * span)
        }
    });
    let means: Vec<f64> = slowdown.values().map(|(s, n)| s / *n as f64).collect();
    Metrics {
        utilisation,
        waits: CLASSES
            .iter()
            .zip(&mut waits)
            .map(|(c, w)| (c.0, percentiles(w)))
            .collect(),
        jain: jain(&means),
        makespan,
        refused: out.refused.len(),
    }
}

/// p50, p95 and p99 (nearest rank) of `xs`; zeros when empty.
pub fn percentiles(xs: &mut [u64]) -> [u64; 3] {
    xs.sort_unstable();
    [50, 95, 99].map(|p| {
        if xs.is_empty() {
            0
        } else {
            xs[(xs.len() * p).div_ceil(100).max(1) - 1]
        }
    })
}

/// Jain's fairness index `(Σx)² / (n·Σx²)`: 1 when all equal, 1/n when one takes all.
pub fn jain(xs: &[f64]) -> f64 {
    let sum: f64 = xs.iter().sum();
    let sq: f64 = xs.iter().map(|x| x * x).sum();
    if sq == 0.0 {
        1.0
    } else {
        sum * sum / (xs.len() as f64 * sq)
    }
}
