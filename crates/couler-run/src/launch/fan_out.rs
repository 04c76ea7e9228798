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

#[cfg(test)]
mod tests {
    use super::super::{LaunchOptions, Task, Usage, run_step};
    use crate::outcome::StepStatus;

    /// A mapped step whose instance 0 waits (at most 3 s) for instance 1 to have started: it
    /// succeeds only when both run at once. `parallelism` is the map's own.
    fn waiting_pair(marks: &std::path::Path, parallelism: Option<u32>) -> Task {
        let mut map = serde_json::json!({"items": [0, 1]});
        if let Some(n) = parallelism {
            map["parallelism"] = n.into();
        }
        let wf = serde_json::json!({
            "apiVersion": "couler.dev/v1alpha1", "kind": "Workflow", "name": "w",
            "steps": [{"name": "pair", "map": map, "outputs": {"parameters": [{"name": "i"}]},
                "script": {"command": ["sh"], "source": format!(
                    "touch {d}/{{{{item}}}}; if [ {{{{item}}}} = 0 ]; then n=0; while [ ! -e {d}/1 ]; do n=$((n+1)); [ $n -gt 30 ] && exit 7; sleep 0.1; done; fi; echo {{{{item}}}}",
                    d = marks.display())}}]
        });
        super::super::tests::task(wf, "pair")
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_mapped_step_without_an_item_runs_every_instance_bounded_by_its_parallelism()
    -> Result<(), Usage> {
        let dir = tempfile::tempdir().map_err(|e| Usage(e.to_string()))?;
        let opts = LaunchOptions {
            no_cache: true,
            ..LaunchOptions::default()
        };
        // Unbounded: both instances run at once, combined in item order as `couler run` does.
        let free = dir.path().join("free");
        std::fs::create_dir(&free).map_err(|e| Usage(e.to_string()))?;
        let o = run_step(&waiting_pair(&free, None), &opts).await?;
        assert_eq!(o.status, StepStatus::Succeeded, "{o:?}");
        assert_eq!(
            o.outputs.parameters.get("i").map(String::as_str),
            Some(r#"["0","1"]"#)
        );
        // `parallelism: 1`: instance 1 starts only after instance 0 ended, which gave up.
        let one = dir.path().join("one");
        std::fs::create_dir(&one).map_err(|e| Usage(e.to_string()))?;
        let o = run_step(&waiting_pair(&one, Some(1)), &opts).await?;
        assert_eq!(o.status, StepStatus::Failed, "{o:?}");
        assert!(one.join("1").exists(), "instance 1 still ran");
        Ok(())
    }
}
