//! `GET /api/v1/runs/{id}/critical-path`: the chain of a run's steps that took longest, by
//! their actual durations, for the web UI's Gantt view (docs/ui.md). It is couler-ir's
//! `Graph::critical_path` (the one rule for it, which `couler eta` uses over predictions)
//! with each step's cost its measured wall time: a map step's longest instance, a step still
//! running counted until now, one that never started zero.

use super::runs::find;
use super::ui::stored_workflow;
use super::{ApiError, Shared};
use crate::auth::{Principal, Role};
use axum::Extension;
use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use couler_ir::{Graph, Workflow};
use couler_run::StepRecord;
use serde_json::{Value, json};
use std::collections::HashMap;

/// `GET /api/v1/runs/{id}/critical-path` → `{steps: [name…], seconds}`.
pub async fn critical_path(
    State(app): State<Shared>,
    Extension(p): Extension<Principal>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let row = find(&app, &p, &id, Role::Viewer)?;
    let wf = stored_workflow(&row)?;
    let steps = app.pool.steps(&id).map_err(ApiError::internal)?;
    Ok(Json(longest_chain(&wf, &steps, couler_run::state::now())).into_response())
}

/// The longest chain of `wf`'s steps (its exit handler aside) by the wall time `records` show,
/// a step still running counted until `now`.
pub fn longest_chain(wf: &Workflow, records: &[StepRecord], now: f64) -> Value {
    let mut took: HashMap<&str, f64> = HashMap::new();
    for r in records {
        let Some(start) = r.started_at else { continue };
        let secs = (r.finished_at.unwrap_or(now) - start).max(0.0);
        let longest = took.entry(r.step.as_str()).or_insert(0.0);
        *longest = longest.max(secs);
    }
    let cost = |i: usize| took.get(wf.steps[i].name.as_str()).copied().unwrap_or(0.0);
    // A stored workflow was validated when submitted: it has no cycle.
    let (seconds, path) = Graph::new(wf).critical_path(cost).unwrap_or_default();
    let names: Vec<&str> = path.iter().map(|&i| wf.steps[i].name.as_str()).collect();
    json!({"steps": names, "seconds": seconds})
}

#[cfg(test)]
mod tests {
    use super::*;
    use couler_ir::{Format, spec};

    fn record(node: &str, step: &str, start: Option<f64>, end: Option<f64>) -> StepRecord {
        StepRecord {
            attempts: 1,
            started_at: start,
            finished_at: end,
            ..StepRecord::new(node, step, "Succeeded")
        }
    }

    #[test]
    fn the_chain_that_took_longest_by_actual_durations() {
        // a → {b, c} → d; b is a map whose slowest instance took 7 s, c took 5 s.
        let yaml = "apiVersion: couler.dev/v1alpha1\nkind: Workflow\nname: g\nsteps:\n\
                    - name: a\n  script:\n    source: echo 1\n\
                    - name: b\n  container:\n    command: [echo, '{{item}}']\n  map:\n    items: [x, y]\n  dependsOn: [a]\n\
                    - name: c\n  script:\n    source: echo 3\n  dependsOn: [a]\n\
                    - name: d\n  script:\n    source: echo 4\n  dependsOn: [b, c]\n";
        let wf = spec::parse(yaml, Format::Yaml).unwrap_or_else(|e| panic!("{e:?}"));
        let records = [
            record("a", "a", Some(100.0), Some(101.0)),
            record("b[0]", "b", Some(101.0), Some(102.0)),
            record("b[1]", "b", Some(101.0), Some(108.0)),
            record("c", "c", Some(101.0), Some(106.0)),
            record("d", "d", Some(108.0), None),
        ];
        let got = longest_chain(&wf, &records, 110.0);
        assert_eq!(got, json!({"steps": ["a", "b", "d"], "seconds": 10.0}));
        // b's slow instance done faster: c is on the path instead.
        let mut quick = records.clone();
        quick[2].finished_at = Some(103.0);
        let got = longest_chain(&wf, &quick, 110.0);
        assert_eq!(got, json!({"steps": ["a", "c", "d"], "seconds": 8.0}));
        // Nothing started yet: every cost is zero, the answer still a chain.
        let got = longest_chain(&wf, &[], 110.0);
        assert_eq!(got["seconds"], json!(0.0));
    }
}
