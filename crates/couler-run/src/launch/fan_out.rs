//! `couler launch step` on a mapped step given no item: every instance in this one process, at
//! most `map.parallelism` at once, combined into the step's outcome as the local runtime combines
//! them (`crate::mapped`). Engines that cannot fan out over a run-time list, or cannot bound or
//! collect the instances themselves, run a mapped step this way (Tekton, docs/tekton.md).

use super::{LaunchOptions, Prepared, run_prepared};
use crate::mapped::{combine_map, map_items};
use crate::outcome::{Outcome, StepStatus};
use crate::step;
use futures_util::stream::{self, StreamExt};

/// The step's outcome from all its instances: Skipped when an output it reads (its list
/// included) belongs to a skipped step, Error when its list cannot be read, else the combined
/// status and collected outputs, with the first instance message.
pub(super) async fn run_all(p: &Prepared, opts: &LaunchOptions) -> Outcome {
    let step = &p.step;
    let Some(map) = &step.map else {
        return run_prepared(p, None, opts).await;
    };
    let ctx = p.ctx(None);
    // Reading a skipped step's output skips the whole step, not each instance.
    if let Some(why) = step::skipped_upstream(step, &ctx) {
        return Outcome::new(StepStatus::Skipped, why);
    }
    let items = match map_items(step, &map.over, &ctx) {
        Ok(items) => items,
        Err(u) => return step::unresolved(u),
    };
    let limit = map
        .parallelism
        .map(|n| n.max(1) as usize)
        .unwrap_or(items.len().max(1));
    let ends: Vec<Outcome> = stream::iter(items.iter().enumerate())
        .map(|(k, item)| {
            let mut o = opts.clone();
            o.work_dir = opts.work_dir.as_ref().map(|d| d.join(format!("item-{k}")));
            async move { run_prepared(p, Some(item), &o).await }
        })
        .buffered(limit)
        .collect()
        .await;
    let pairs: Vec<_> = ends.iter().map(|e| (e.status, &e.outputs)).collect();
    let (status, outputs) = combine_map(step, &pairs);
    let mut out = Outcome::with_outputs(status, outputs);
    out.message = ends.iter().find_map(|e| e.message.clone());
    out
}
