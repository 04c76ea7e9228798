//! Refusal at submission: a request that can never be admitted is refused with its reason.

use super::{Cluster, Pending, Resources};
use std::fmt;

/// Why a workflow can never be admitted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// More of `resource` than any cluster has in total; `largest` is the cluster with the most.
    ExceedsEveryCluster {
        resource: &'static str,
        requested: u64,
        largest: String,
        capacity: u64,
    },
    /// Each resource fits some cluster, but no one cluster has all of them.
    NoClusterHoldsAll { requested: Resources },
    /// More of `resource` than the user's whole quota.
    ExceedsQuota {
        user: String,
        resource: &'static str,
        requested: u64,
        quota: u64,
    },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Refusal::ExceedsEveryCluster {
                resource,
                requested,
                largest,
                capacity,
            } => write!(
                f,
                "requests {requested} {resource} but the largest cluster, `{largest}`, has \
                 {capacity} in total: request at most {capacity} or add a larger cluster"
            ),
            Refusal::NoClusterHoldsAll { requested: r } => write!(
                f,
                "requests cpu_milli {}, mem_mib {}, gpu {} together, and no one cluster has \
                 all of them: lower one of them or add a cluster that has all three",
                r.cpu_milli, r.mem_mib, r.gpu
            ),
            Refusal::ExceedsQuota {
                user,
                resource,
                requested,
                quota,
            } => write!(
                f,
                "requests {requested} {resource} but user `{user}`'s quota is {quota}: \
                 request at most {quota} or ask an admin to raise the quota"
            ),
        }
    }
}

impl std::error::Error for Refusal {}

/// Whether `w` can ever be admitted given the clusters' total capacity and the user's quota.
pub fn admissible(w: &Pending, clusters: &[Cluster], quota: &Resources) -> Result<(), Refusal> {
    for (i, (resource, requested)) in w.request.named().into_iter().enumerate() {
        let quota = quota.named()[i].1;
        if requested > quota {
            return Err(Refusal::ExceedsQuota {
                user: w.user.clone(),
                resource,
                requested,
                quota,
            });
        }
        // The largest by this resource; ties go to the name first in sort order.
        let largest = clusters
            .iter()
            .map(|c| (c.capacity.named()[i].1, c))
            .max_by(|a, b| a.0.cmp(&b.0).then_with(|| b.1.name.cmp(&a.1.name)));
        let capacity = largest.map_or(0, |(n, _)| n);
        if requested > capacity {
            return Err(Refusal::ExceedsEveryCluster {
                resource,
                requested,
                largest: largest.map_or_else(|| "(none)".into(), |(_, c)| c.name.clone()),
                capacity,
            });
        }
    }
    if clusters.iter().any(|c| w.request.fits_in(&c.capacity)) {
        Ok(())
    } else {
        Err(Refusal::NoClusterHoldsAll {
            requested: w.request,
        })
    }
}
