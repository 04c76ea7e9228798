//! The benchmark's seeded workload: three clusters, users with quotas, and workflows of mixed
//! priorities and sizes arriving as a Poisson process at a chosen CPU load.

use super::sim::Job;
use super::{Cluster, Pending, Resources};
use std::collections::BTreeMap;

/// SplitMix64: a small, fast, seeded generator (equal seed, equal workload).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [lo, hi].
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }

    /// Log-uniform in [lo, hi].
    pub fn log_range(&mut self, lo: u64, hi: u64) -> u64 {
        let (a, b) = ((lo as f64).ln(), (hi as f64).ln());
        (a + self.unit() * (b - a)).exp().round() as u64
    }
}

const GIB: u64 = 1024;
const CORE: u64 = 1000;
/// How many users submit; the first [`GPU_USERS`] have a GPU quota.
pub const USERS: usize = 24;
pub const GPU_USERS: usize = 8;

/// Three clusters of different shapes: a large CPU pool, a GPU pool, a small mixed one.
pub fn clusters() -> Vec<Cluster> {
    let c = |name: &str, cores: u64, gib: u64, gpu: u64, pool: &str| Cluster {
        name: name.into(),
        capacity: Resources::new(cores * CORE, gib * GIB, gpu),
        labels: BTreeMap::from([("pool".into(), pool.into())]),
    };
    vec![
        c("cpu-a", 256, 1024, 0, "cpu"),
        c("gpu-b", 96, 768, 16, "gpu"),
        c("mixed-c", 128, 512, 4, "mixed"),
    ]
}

fn user(i: usize) -> String {
    format!("u{i:02}")
}

/// Every user: 160 cores and 640 GiB; the GPU users 8 GPUs, the others none.
pub fn quotas() -> BTreeMap<String, Resources> {
    (0..USERS)
        .map(|i| {
            let gpu = if i < GPU_USERS { 8 } else { 0 };
            (user(i), Resources::new(160 * CORE, 640 * GIB, gpu))
        })
        .collect()
}

/// `n` workflows from `seed`. Users are skewed (user i submits in proportion to 1/(i+1));
/// priorities 60% low (0–3), 30% normal (4–6), 10% high (7–9); sizes 70% small, 18% medium,
/// 7% GPU (GPU users only), 5% large, and one in 500 impossible (more CPU than any cluster, or
/// more GPUs than the user's quota). Arrivals are Poisson at `load` times the clusters' CPU.
pub fn generate(seed: u64, n: usize, load: f64) -> Vec<Job> {
    let mut rng = Rng::new(seed);
    let harmonic: f64 = (1..=USERS).map(|i| 1.0 / i as f64).sum();
    let mut jobs: Vec<Job> = (0..n as u64)
        .map(|id| {
            let mut pick = rng.unit() * harmonic;
            let u = (0..USERS)
                .find(|&i| {
                    pick -= 1.0 / (i + 1) as f64;
                    pick < 0.0
                })
                .unwrap_or(USERS - 1);
            let p = rng.unit();
            let (lo, hi) = if p < 0.6 {
                (0, 3)
            } else if p < 0.9 {
                (4, 6)
            } else {
                (7, 9)
            };
            let priority = rng.range(lo, hi) as u32;
            let (request, duration) = size(&mut rng, u < GPU_USERS);
            Job {
                pending: Pending {
                    id,
                    user: user(u),
                    priority,
                    request,
                    submitted_at: 0,
                },
                duration,
            }
        })
        .collect();
    let demand: f64 = jobs
        .iter()
        .map(|j| j.pending.request.cpu_milli.min(256 * CORE) as f64 * j.duration as f64)
        .sum();
    let capacity: f64 = clusters().iter().map(|c| c.capacity.cpu_milli as f64).sum();
    let mean_gap = demand / (capacity * load) / n as f64;
    let mut t = 0f64;
    for j in &mut jobs {
        t += -mean_gap * (1.0 - rng.unit()).ln();
        j.pending.submitted_at = t as u64;
    }
    jobs
}

/// One workflow's request and duration (seconds).
fn size(rng: &mut Rng, gpu_user: bool) -> (Resources, u64) {
    let k = rng.unit();
    let r = |rng: &mut Rng, cores: (u64, u64), gib: (u64, u64), gpu: u64| {
        Resources::new(
            rng.range(cores.0 * 2, cores.1 * 2) * CORE / 2,
            rng.range(gib.0, gib.1) * GIB,
            gpu,
        )
    };
    if k < 0.002 {
        let impossible = if gpu_user {
            r(rng, (4, 8), (16, 32), 12)
        } else {
            r(rng, (300, 600), (64, 128), 0)
        };
        (impossible, 3600)
    } else if k < 0.702 {
        (r(rng, (1, 4), (1, 16), 0), rng.log_range(60, 3600))
    } else if k < 0.882 || (k < 0.952 && !gpu_user) {
        (r(rng, (8, 32), (32, 128), 0), rng.log_range(600, 3 * 3600))
    } else if k < 0.952 {
        let gpu = rng.range(1, 8);
        (
            r(rng, (4, 32), (32, 256), gpu),
            rng.log_range(600, 2 * 3600),
        )
    } else {
        (
            r(rng, (64, 160), (256, 640), 0),
            rng.log_range(1800, 2 * 3600),
        )
    }
}
