//! The workflow queue (paper Appendix A; docs/server.md, "The queue model"): which pending
//! workflow to admit next and onto which cluster, given the clusters' free capacity and the
//! users' quota usage. Pure logic, no I/O: the same code drives the server (later slice) and
//! the simulation benchmark (`cargo bench -p couler-server --bench queue`).
//!
//! - [`admissible`]: a request that fits no cluster's total capacity, or exceeds its user's
//!   quota outright, is refused with the reason, never queued.
//! - [`Policy`]: picks the next admission; [`WeightedQueue`] is the server's policy, [`Fifo`]
//!   and [`StrictPriority`] the baselines it is measured against.
//! - [`sim`]: a discrete-event simulation of a workload through a policy, and its metrics.

mod baseline;
mod refusal;
pub mod sim;
mod weighted;
pub mod workload;

#[cfg(test)]
mod tests;

pub use baseline::{Fifo, StrictPriority};
pub use refusal::{Refusal, admissible};
pub use weighted::{Placement, WeightedQueue, Weights};

use std::collections::BTreeMap;

/// An amount of each resource: CPU in millicores, memory in MiB, GPUs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Resources {
    pub cpu_milli: u64,
    pub mem_mib: u64,
    pub gpu: u64,
}

impl Resources {
    /// No limit (a user without a quota).
    pub const UNLIMITED: Resources = Resources {
        cpu_milli: u64::MAX,
        mem_mib: u64::MAX,
        gpu: u64::MAX,
    };

    pub fn new(cpu_milli: u64, mem_mib: u64, gpu: u64) -> Self {
        Resources {
            cpu_milli,
            mem_mib,
            gpu,
        }
    }

    /// Whether `self` fits within `limit` in every resource.
    pub fn fits_in(&self, limit: &Resources) -> bool {
        self.cpu_milli <= limit.cpu_milli && self.mem_mib <= limit.mem_mib && self.gpu <= limit.gpu
    }

    pub fn plus(&self, o: &Resources) -> Resources {
        Resources::new(
            self.cpu_milli.saturating_add(o.cpu_milli),
            self.mem_mib.saturating_add(o.mem_mib),
            self.gpu.saturating_add(o.gpu),
        )
    }

    pub fn minus(&self, o: &Resources) -> Resources {
        Resources::new(
            self.cpu_milli.saturating_sub(o.cpu_milli),
            self.mem_mib.saturating_sub(o.mem_mib),
            self.gpu.saturating_sub(o.gpu),
        )
    }

    /// The three amounts with their names and units, in a fixed order.
    pub fn named(&self) -> [(&'static str, u64); 3] {
        [
            ("cpu_milli", self.cpu_milli),
            ("mem_mib", self.mem_mib),
            ("gpu", self.gpu),
        ]
    }
}

/// An execution target with its total capacity and labels.
#[derive(Clone, Debug, PartialEq)]
pub struct Cluster {
    pub name: String,
    pub capacity: Resources,
    pub labels: BTreeMap<String, String>,
}

/// A workflow waiting for admission. `submitted_at` and every other time are seconds.
#[derive(Clone, Debug, PartialEq)]
pub struct Pending {
    pub id: u64,
    pub user: String,
    /// Higher runs first; clamped to [`Weights::max_priority`] by the weighted queue.
    pub priority: u32,
    pub request: Resources,
    pub submitted_at: u64,
}

/// What a policy sees: each cluster's usage (same order as `clusters`), each user's usage and
/// quota (a user without a quota is unlimited), and the time now.
#[derive(Clone, Debug)]
pub struct View<'a> {
    pub clusters: &'a [Cluster],
    pub used: &'a [Resources],
    pub quotas: &'a BTreeMap<String, Resources>,
    pub usage: &'a BTreeMap<String, Resources>,
    pub now: u64,
}

impl View<'_> {
    pub fn quota_of(&self, user: &str) -> Resources {
        self.quotas
            .get(user)
            .copied()
            .unwrap_or(Resources::UNLIMITED)
    }

    pub fn usage_of(&self, user: &str) -> Resources {
        self.usage.get(user).copied().unwrap_or_default()
    }

    /// Whether the user's quota has room for `w` now.
    pub fn quota_allows(&self, w: &Pending) -> bool {
        self.usage_of(&w.user)
            .plus(&w.request)
            .fits_in(&self.quota_of(&w.user))
    }

    /// Free capacity of cluster `c` now.
    pub fn free(&self, c: usize) -> Resources {
        self.clusters[c].capacity.minus(&self.used[c])
    }

    /// The first cluster (in order) whose free capacity holds `w`.
    pub fn first_fit(&self, w: &Pending) -> Option<usize> {
        (0..self.clusters.len()).find(|&c| w.request.fits_in(&self.free(c)))
    }
}

/// The decision: admit `pending[index]` onto `clusters[cluster]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Admission {
    pub index: usize,
    pub cluster: usize,
}

/// An admission policy. `pick` returns an admission that fits the cluster's free capacity and
/// the user's quota, or `None` when nothing is to be admitted now. Deterministic: the same
/// pending set (in any order) and view give the same answer.
pub trait Policy {
    fn name(&self) -> &str;
    fn pick(&self, pending: &[Pending], view: &View) -> Option<Admission>;
}
