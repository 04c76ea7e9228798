use super::sim::{Job, Outcome, jain, metrics, percentiles, simulate};
use super::workload::{self, clusters, quotas};
use super::*;
use std::collections::BTreeMap;

fn policies() -> Vec<Box<dyn Policy>> {
    vec![
        Box::new(WeightedQueue::default()),
        Box::new(Fifo),
        Box::new(StrictPriority),
    ]
}

fn job(id: u64, user: &str, priority: u32, cores: u64, at: u64, duration: u64) -> Job {
    Job {
        pending: Pending {
            id,
            user: user.into(),
            priority,
            request: Resources::new(cores * 1000, 1024, 0),
            submitted_at: at,
        },
        duration,
    }
}

fn one_cluster(cores: u64) -> Vec<Cluster> {
    vec![Cluster {
        name: "only".into(),
        capacity: Resources::new(cores * 1000, 64 * 1024, 0),
        labels: BTreeMap::new(),
    }]
}

/// Nobody uses any quota yet.
static NO_USAGE: BTreeMap<String, Resources> = BTreeMap::new();

/// A view where `used` is each cluster's usage and no user uses anything.
fn view_at<'a>(
    clusters: &'a [Cluster],
    used: &'a [Resources],
    quotas: &'a BTreeMap<String, Resources>,
    now: u64,
) -> View<'a> {
    View {
        clusters,
        used,
        quotas,
        usage: &NO_USAGE,
        now,
    }
}

/// Replays `out` independently: at every admission instant, what runs on each cluster and for
/// each user stays within capacity and quota.
fn assert_within_limits(
    jobs: &[Job],
    cl: &[Cluster],
    q: &BTreeMap<String, Resources>,
    out: &Outcome,
) {
    let by_id: BTreeMap<u64, &Job> = jobs.iter().map(|j| (j.pending.id, j)).collect();
    for r in &out.ran {
        assert!(r.start >= by_id[&r.id].pending.submitted_at);
        let running: Vec<_> = out
            .ran
            .iter()
            .filter(|o| o.start <= r.start && r.start < o.end)
            .collect();
        for (c, cluster) in cl.iter().enumerate() {
            let used = running
                .iter()
                .filter(|o| o.cluster == c)
                .fold(Resources::default(), |t, o| {
                    t.plus(&by_id[&o.id].pending.request)
                });
            assert!(
                used.fits_in(&cluster.capacity),
                "{} over capacity at {}: {used:?}",
                cluster.name,
                r.start
            );
        }
        let user = &by_id[&r.id].pending.user;
        let used = running
            .iter()
            .filter(|o| &by_id[&o.id].pending.user == user)
            .fold(Resources::default(), |t, o| {
                t.plus(&by_id[&o.id].pending.request)
            });
        let quota = q.get(user).copied().unwrap_or(Resources::UNLIMITED);
        assert!(
            used.fits_in(&quota),
            "{user} over quota at {}: {used:?}",
            r.start
        );
    }
}

#[test]
fn random_workloads_never_exceed_capacity_or_quota() {
    let (cl, q) = (clusters(), quotas());
    for seed in 0..30 {
        let jobs = workload::generate(seed, 250, 1.3);
        for p in policies() {
            let out = simulate(p.as_ref(), &cl, &q, &jobs);
            assert_within_limits(&jobs, &cl, &q, &out);
            assert!(
                out.stuck.is_empty(),
                "{} left {:?} pending",
                p.name(),
                out.stuck
            );
            assert_eq!(
                out.ran.len() + out.refused.len(),
                jobs.len(),
                "{} seed {seed}",
                p.name()
            );
        }
    }
}

/// A four-core, priority-0 job submitted at second 1 amid a stream of `count` priority-9 jobs
/// of `cores` each, one every `every` seconds, each running 10 s, on one four-core cluster:
/// its wait under the weighted queue and under strict priority.
fn low_job_waits(cores: u64, every: u64, count: u64) -> (u64, u64) {
    let mut jobs: Vec<Job> = (0..count)
        .map(|k| job(k, "hi", 9, cores, k * every, 10))
        .collect();
    jobs.push(job(count, "lo", 0, 4, 1, 10));
    let (cl, q) = (one_cluster(4), BTreeMap::new());
    let wait = |p: &dyn Policy| {
        let out = simulate(p, &cl, &q, &jobs);
        out.ran
            .iter()
            .find(|r| r.id == count)
            .expect("it ran")
            .start
            - 1
    };
    (wait(&WeightedQueue::default()), wait(&StrictPriority))
}

#[test]
fn aging_admits_a_low_priority_job_under_a_high_priority_stream() {
    // Whole-cluster jobs arriving twice as fast as they are served.
    let (weighted, strict) = low_job_waits(4, 5, 2000);
    // Only jobs submitted within `catch_up` after it outrank it; draining them takes at most
    // twice that.
    assert!(
        weighted <= 2 * Weights::default().catch_up_secs() + 10,
        "{weighted}"
    );
    assert!(
        strict >= 2000 * 5 - 1,
        "strict priority starves it: {strict}"
    );
}

#[test]
fn a_starving_large_job_gets_its_cluster_reserved() {
    // One-core jobs keep the cluster busy; the four-core job needs it empty.
    let (weighted, strict) = low_job_waits(1, 2, 5000);
    assert!(
        weighted <= Weights::default().catch_up_secs() + 10,
        "{weighted}"
    );
    assert!(strict >= 5000 * 2 - 1, "{strict}");
}

fn pending(user: &str, cores: u64, gpu: u64) -> Pending {
    Pending {
        id: 1,
        user: user.into(),
        priority: 5,
        request: Resources::new(cores * 1000, 4096, gpu),
        submitted_at: 0,
    }
}

#[test]
fn refusals_name_the_resource_and_the_limit() {
    let cl = clusters();
    let unlimited = Resources::UNLIMITED;
    let err = admissible(&pending("u", 4, 64), &cl, &unlimited).unwrap_err();
    assert_eq!(
        err,
        Refusal::ExceedsEveryCluster {
            resource: "gpu",
            requested: 64,
            largest: "gpu-b".into(),
            capacity: 16
        }
    );
    let msg = err.to_string();
    assert!(msg.contains("largest cluster, `gpu-b`, has 16"), "{msg}");
    let quota = Resources::new(160_000, 640 * 1024, 8);
    let err = admissible(&pending("ann", 4, 12), &cl, &quota).unwrap_err();
    assert!(
        err.to_string()
            .contains("12 gpu but user `ann`'s quota is 8"),
        "{err}"
    );
    // 200 cores fit only cpu-a, which has no GPU.
    let err = admissible(&pending("u", 200, 1), &cl, &unlimited).unwrap_err();
    assert!(matches!(err, Refusal::NoClusterHoldsAll { .. }), "{err}");
    assert_eq!(admissible(&pending("u", 200, 0), &cl, &unlimited), Ok(()));
}

#[test]
fn simulation_refuses_impossible_requests_instead_of_queueing_them() {
    let jobs = vec![job(1, "a", 5, 2, 0, 10), job(2, "a", 5, 9, 0, 10)];
    let out = simulate(
        &WeightedQueue::default(),
        &one_cluster(4),
        &BTreeMap::new(),
        &jobs,
    );
    assert_eq!(out.ran.iter().map(|r| r.id).collect::<Vec<_>>(), vec![1]);
    assert_eq!(out.refused.len(), 1);
    assert_eq!(out.refused[0].0, 2);
    assert!(out.stuck.is_empty());
}

#[test]
fn picks_are_deterministic_and_ties_go_to_the_lower_id() {
    let cl = clusters();
    let q = quotas();
    let jobs = workload::generate(7, 400, 1.2);
    let mut ws: Vec<Pending> = jobs
        .iter()
        .map(|j| Pending {
            submitted_at: 0,
            ..j.pending.clone()
        })
        .collect();
    ws.retain(|w| admissible(w, &cl, &q[&w.user]).is_ok());
    let used = vec![Resources::default(); cl.len()];
    let view = view_at(&cl, &used, &q, 100);
    for p in policies() {
        let a = p.pick(&ws, &view).unwrap();
        let mut rev = ws.clone();
        rev.reverse();
        let b = p.pick(&rev, &view).unwrap();
        assert_eq!(
            (ws[a.index].id, a.cluster),
            (rev[b.index].id, b.cluster),
            "{}",
            p.name()
        );
    }
    // Equal workflows but for their ids: the lower id first, in either order.
    let twins = vec![
        job(8, "a", 3, 2, 0, 10).pending,
        job(4, "a", 3, 2, 0, 10).pending,
    ];
    let one = one_cluster(4);
    let used = vec![Resources::default()];
    let view = view_at(&one, &used, &NO_USAGE, 0);
    for p in policies() {
        assert_eq!(
            twins[p.pick(&twins, &view).unwrap().index].id,
            4,
            "{}",
            p.name()
        );
    }
    let a = simulate(&WeightedQueue::default(), &cl, &q, &jobs);
    assert_eq!(a, simulate(&WeightedQueue::default(), &cl, &q, &jobs));
}

#[test]
fn weighted_prefers_priority_and_spreads_load() {
    let cl = clusters();
    let used = vec![
        Resources::new(200_000, 0, 0),
        Resources::default(),
        Resources::new(64_000, 0, 0),
    ];
    let view = view_at(&cl, &used, &NO_USAGE, 0);
    let mut lo = pending("a", 2, 0);
    lo.priority = 1;
    let mut hi = pending("b", 2, 0);
    hi.id = 2;
    hi.priority = 8;
    let a = WeightedQueue::default().pick(&[lo, hi], &view).unwrap();
    assert_eq!(a.index, 1, "the higher priority first");
    // Balanced placement: not the busy cpu-a, but the cluster left with the largest free share.
    assert_eq!(cl[a.cluster].name, "gpu-b");
}

#[test]
fn metrics_of_a_known_outcome() {
    assert_eq!(jain(&[2.0, 2.0, 2.0]), 1.0);
    assert!((jain(&[1.0, 0.0, 0.0]) - 1.0 / 3.0).abs() < 1e-12);
    let mut xs: Vec<u64> = (1..=100).collect();
    assert_eq!(percentiles(&mut xs), [50, 95, 99]);
    let jobs = vec![job(1, "a", 0, 4, 0, 100), job(2, "b", 9, 4, 0, 100)];
    let cl = one_cluster(4);
    let out = simulate(&StrictPriority, &cl, &BTreeMap::new(), &jobs);
    let m = metrics(&jobs, &cl, &out);
    assert_eq!(m.makespan, 200);
    assert!((m.utilisation[0] - 1.0).abs() < 1e-12);
    assert_eq!(m.waits[0].1, [100, 100, 100]);
    assert_eq!(m.waits[2].1, [0, 0, 0]);
    // Slowdowns 2 and 1: (3)² / (2 · 5).
    assert!((m.jain - 0.9).abs() < 1e-12);
}
