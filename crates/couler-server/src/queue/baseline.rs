//! The baselines the weighted queue is measured against. Both place on the first cluster that
//! fits, skip a workflow whose user's quota is full, and otherwise wait for the head of their
//! order (no backfill: the head holds everyone behind it until a cluster has room for it).

use super::{Admission, Pending, Policy, View};
use std::cmp::Reverse;

/// Oldest first (submission time, then id).
pub struct Fifo;

/// Highest priority first, oldest first within a priority.
pub struct StrictPriority;

impl Policy for Fifo {
    fn name(&self) -> &str {
        "FIFO"
    }

    fn pick(&self, pending: &[Pending], view: &View) -> Option<Admission> {
        head_of(pending, view, |w| (w.submitted_at, w.id))
    }
}

impl Policy for StrictPriority {
    fn name(&self) -> &str {
        "strict priority"
    }

    fn pick(&self, pending: &[Pending], view: &View) -> Option<Admission> {
        head_of(pending, view, |w| {
            (Reverse(w.priority), w.submitted_at, w.id)
        })
    }
}

/// The first workflow by `key` among those whose user's quota has room, if a cluster fits it.
fn head_of<K: Ord>(
    pending: &[Pending],
    view: &View,
    key: impl Fn(&Pending) -> K,
) -> Option<Admission> {
    let index = (0..pending.len())
        .filter(|&i| view.quota_allows(&pending[i]))
        .min_by_key(|&i| key(&pending[i]))?;
    let cluster = view.first_fit(&pending[index])?;
    Some(Admission { index, cluster })
}
