//! The weighted queue: the server's admission policy (docs/server.md, "The queue model").
//!
//! For each pending workflow `w` and each cluster `c` whose free capacity holds it, and only if
//! the user's quota has room for it:
//!
//! ```text
//! score(w, c) = priority   * min(w.priority, max_priority) / max_priority
//!             + capacity   * place(c)        // free share of c after admitting w (balance),
//!                                            // or its complement (best-fit)
//!             + quota      * cpu/mem quota share the user has left after admitting w
//!             + gpu_quota  * GPU quota share the user has left after admitting w (1 if none asked)
//!             + age        * (now - w.submitted_at) / aging_secs
//! ```
//!
//! The highest score is admitted; ties go to the lower workflow id, then the earlier cluster.
//! Every term but age lies in [0, 1], so a workflow that has waited [`Weights::catch_up_secs`]
//! outranks every workflow submitted after it. Such a workflow is *starving*: while the oldest
//! starving one is held only by cluster capacity, the clusters that could ever hold it admit
//! nothing else (a reservation), so small workflows cannot pass it forever.

use super::{Admission, Pending, Policy, View};

/// How the cluster term rewards a placement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    /// Prefer the cluster left with the largest free share: clusters carry similar load
    /// (the paper's aim). The default.
    Balance,
    /// Prefer the cluster left with the smallest free share: packs, keeps big holes free.
    BestFit,
}

/// The weights of the score. Defaults are in [`Weights::default`].
#[derive(Clone, Debug, PartialEq)]
pub struct Weights {
    pub priority: f64,
    pub capacity: f64,
    pub quota: f64,
    pub gpu_quota: f64,
    pub age: f64,
    /// Seconds of waiting worth `age` score points.
    pub aging_secs: f64,
    /// Priorities above this count as this.
    pub max_priority: u32,
    pub placement: Placement,
}

impl Default for Weights {
    /// priority 4, capacity 1, quota 1, gpu_quota 1, age 1 per 300 s waited, priorities 0..=9,
    /// balanced placement: priority outweighs the other terms together, and 35 minutes of
    /// waiting outweigh everything (see [`Weights::catch_up_secs`]).
    fn default() -> Self {
        Weights {
            priority: 4.0,
            capacity: 1.0,
            quota: 1.0,
            gpu_quota: 1.0,
            age: 1.0,
            aging_secs: 300.0,
            max_priority: 9,
            placement: Placement::Balance,
        }
    }
}

impl Weights {
    /// The wait after which a workflow outranks any workflow submitted later, whatever its
    /// priority, placement or quota: the bounded terms' weights in aging time.
    pub fn catch_up_secs(&self) -> u64 {
        let bounded = self.priority + self.capacity + self.quota + self.gpu_quota;
        (bounded * self.aging_secs / self.age).ceil() as u64
    }
}

/// The weighted queue policy.
#[derive(Clone, Debug, Default)]
pub struct WeightedQueue {
    pub weights: Weights,
}

impl Policy for WeightedQueue {
    fn name(&self) -> &str {
        "weighted"
    }

    fn pick(&self, pending: &[Pending], view: &View) -> Option<Admission> {
        let reserved = self.reservation(pending, view);
        let mut best: Option<(f64, u64, Admission)> = None;
        for (index, w) in pending.iter().enumerate() {
            if !view.quota_allows(w) {
                continue;
            }
            for cluster in 0..view.clusters.len() {
                if reserved.get(cluster).copied().unwrap_or(false)
                    || !w.request.fits_in(&view.free(cluster))
                {
                    continue;
                }
                let s = self.score(w, cluster, view);
                let better = best.as_ref().is_none_or(|(bs, bid, ba)| {
                    s.total_cmp(bs)
                        .then(bid.cmp(&w.id))
                        .then(ba.cluster.cmp(&cluster))
                        .is_gt()
                });
                if better {
                    best = Some((s, w.id, Admission { index, cluster }));
                }
            }
        }
        best.map(|(_, _, a)| a)
    }
}

impl WeightedQueue {
    pub fn new(weights: Weights) -> Self {
        WeightedQueue { weights }
    }

    /// The score of admitting `w` onto `cluster` now (it fits; see the module docs).
    pub fn score(&self, w: &Pending, cluster: usize, view: &View) -> f64 {
        let k = &self.weights;
        let prio = f64::from(w.priority.min(k.max_priority)) / f64::from(k.max_priority.max(1));
        let cap = view.clusters[cluster].capacity;
        let after = view.free(cluster).minus(&w.request);
        let cpu_mem = share(after.cpu_milli, cap.cpu_milli) + share(after.mem_mib, cap.mem_mib);
        let free_share = if w.request.gpu > 0 {
            (cpu_mem + share(after.gpu, cap.gpu)) / 3.0
        } else {
            cpu_mem / 2.0
        };
        let place = match k.placement {
            Placement::Balance => free_share,
            Placement::BestFit => 1.0 - free_share,
        };
        let quota = view.quota_of(&w.user);
        let left = quota.minus(&view.usage_of(&w.user).plus(&w.request));
        let quota_share =
            share(left.cpu_milli, quota.cpu_milli).min(share(left.mem_mib, quota.mem_mib));
        let gpu_share = if w.request.gpu == 0 {
            1.0
        } else {
            share(left.gpu, quota.gpu)
        };
        let waited = view.now.saturating_sub(w.submitted_at) as f64;
        k.priority * prio
            + k.capacity * place
            + k.quota * quota_share
            + k.gpu_quota * gpu_share
            + k.age * waited / k.aging_secs
    }

    /// Clusters held for the oldest starving workflow that its quota allows but no cluster's
    /// free capacity holds now: those whose total capacity could hold it.
    fn reservation(&self, pending: &[Pending], view: &View) -> Vec<bool> {
        let starving_since = view.now.saturating_sub(self.weights.catch_up_secs());
        let oldest = pending
            .iter()
            .filter(|w| w.submitted_at <= starving_since && view.quota_allows(w))
            .min_by_key(|w| (w.submitted_at, w.id));
        match oldest {
            Some(w) if view.first_fit(w).is_none() => view
                .clusters
                .iter()
                .map(|c| w.request.fits_in(&c.capacity))
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// `part / whole` in [0, 1]; an unlimited or empty whole counts as all left.
fn share(part: u64, whole: u64) -> f64 {
    if whole == 0 || whole == u64::MAX {
        1.0
    } else {
        part as f64 / whole as f64
    }
}
