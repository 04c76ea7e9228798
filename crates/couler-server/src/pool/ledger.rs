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
