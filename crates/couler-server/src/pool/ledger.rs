//! What the admitted runs hold: each cluster's used capacity and busy workers, each account's
//! quota usage. The admission loop asks [`Ledger::pick`] for the next admission and records it
//! with [`Ledger::hold`]; a run that ends (or waits for a retry) gives it back.

use crate::config::Config;
use crate::queue::{Cluster, Pending, Policy, Resources, View};
use std::collections::{BTreeMap, HashMap};

pub struct Ledger {
    clusters: Vec<Cluster>,
    workers: Vec<usize>,
    used: Vec<Resources>,
    busy: Vec<usize>,
    usage: BTreeMap<String, Resources>,
    /// Run id → (cluster, account, request).
    held: HashMap<String, (usize, String, Resources)>,
}

/// One cluster's use now.
pub struct ClusterUse {
    pub name: String,
    pub used: Resources,
    pub total: Resources,
}

impl Ledger {
    pub fn new(config: &Config) -> Ledger {
        let n = config.clusters.len();
        Ledger {
            clusters: config.clusters.clone(),
            workers: config.workers.clone(),
            used: vec![Resources::default(); n],
            busy: vec![0; n],
            usage: BTreeMap::new(),
            held: HashMap::new(),
        }
    }

    /// The next admission `policy` makes among `pending`: (index in `pending`, cluster index).
    /// A cluster whose workers are all busy takes nothing.
    pub fn pick(
        &self,
        policy: &dyn Policy,
        quotas: &BTreeMap<String, Resources>,
        pending: &[Pending],
        now: u64,
    ) -> Option<(usize, usize)> {
        let open: Vec<usize> = (0..self.clusters.len())
            .filter(|&c| self.busy[c] < self.workers[c])
            .collect();
        if open.is_empty() || pending.is_empty() {
            return None;
        }
        let clusters: Vec<Cluster> = open.iter().map(|&c| self.clusters[c].clone()).collect();
        let used: Vec<Resources> = open.iter().map(|&c| self.used[c]).collect();
        let view = View {
            clusters: &clusters,
            used: &used,
            quotas,
            usage: &self.usage,
            now,
        };
        policy
            .pick(pending, &view)
            .map(|a| (a.index, open[a.cluster]))
    }

    /// Run `id` now holds `request` on `cluster` and against `account`'s quota.
    pub fn hold(&mut self, id: &str, cluster: usize, account: &str, request: Resources) {
        self.used[cluster] = self.used[cluster].plus(&request);
        self.busy[cluster] += 1;
        let usage = self.usage.entry(account.to_string()).or_default();
        *usage = usage.plus(&request);
        self.held
            .insert(id.to_string(), (cluster, account.to_string(), request));
    }

    /// Run `id` gives back what it held (nothing if it held nothing).
    pub fn release(&mut self, id: &str) {
        let Some((cluster, account, request)) = self.held.remove(id) else {
            return;
        };
        self.used[cluster] = self.used[cluster].minus(&request);
        self.busy[cluster] -= 1;
        if let Some(u) = self.usage.get_mut(&account) {
            *u = u.minus(&request);
        }
    }

    /// Each cluster's use, in configuration order.
    pub fn clusters(&self) -> Vec<ClusterUse> {
        self.clusters
            .iter()
            .zip(&self.used)
            .map(|(c, used)| ClusterUse {
                name: c.name.clone(),
                used: *used,
                total: c.capacity,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::WeightedQueue;

    fn pending(id: u64, user: &str, cpu: u64) -> Pending {
        Pending {
            id,
            user: user.into(),
            priority: 5,
            request: Resources::new(cpu, 0, 0),
            submitted_at: 0,
        }
    }

    #[test]
    fn admissions_stay_within_capacity_workers_and_quota_and_free_on_release() {
        let config = Config::parse(
            "clusters:\n- {name: a, kind: local, capacity: {cpu: 4}, workers: 2}\n- {name: b, kind: local, capacity: {cpu: 1}, workers: 1}\nteams:\n  t: {members: [bob], quota: {cpu: 2}}\n",
            "c.yaml",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let mut l = Ledger::new(&config);
        let q = WeightedQueue::default();
        let pick = |l: &Ledger, p: &[Pending]| l.pick(&q, &config.quotas, p, 0);
        // 3 cores fit only `a`.
        assert_eq!(pick(&l, &[pending(1, "ann", 3000)]), Some((0, 0)));
        l.hold("r1", 0, "ann", Resources::new(3000, 0, 0));
        // 2 cores now fit nowhere (a has 1 left, b has 1).
        assert_eq!(pick(&l, &[pending(2, "ann", 2000)]), None);
        l.hold("r2", 0, "ann", Resources::default());
        // `a`'s two workers are busy: a zero request goes to `b`.
        assert_eq!(pick(&l, &[pending(3, "ann", 0)]), Some((0, 1)));
        // The team's quota: 2 cores in all for its members.
        l.hold("r3", 1, "team:t", Resources::new(1000, 0, 0));
        l.release("r1");
        assert_eq!(pick(&l, &[pending(4, "team:t", 2000)]), None);
        assert_eq!(pick(&l, &[pending(4, "team:t", 1000)]), Some((0, 0)));
        let used: Vec<u64> = l.clusters().iter().map(|c| c.used.cpu_milli).collect();
        assert_eq!(used, [0, 1000]);
        l.release("r3");
        l.release("r3");
        assert_eq!(l.clusters()[1].used, Resources::default());
    }
}
