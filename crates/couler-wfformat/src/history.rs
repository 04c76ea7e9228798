//! A trace's tasks as recorded executions for the history (`couler history import`,
//! `couler predict eval`): the front end builds [`couler_history::Execution`]s and hands them
//! down, as it builds the cache simulator's input.

use crate::error::ImportError;
use crate::trace::{self, Task};
use couler_history::{Execution, StepFeatures};
use std::collections::HashMap;

/// The template of a trace's task: `wfformat:<command.program>`, else its id less a trailing
/// `_ID<digits>` (`mProject_ID0000001` → `mProject`), the way WfCommons names a task's kind.
fn template(t: &Task<'_>) -> String {
    let kind = t.measured.program.unwrap_or_else(|| {
        let id = t.name.unwrap_or(t.id);
        match id.rfind("_ID") {
            Some(i) if id[i + 3..].chars().all(|c| c.is_ascii_digit()) => &id[..i],
            _ => id,
        }
    });
    format!("wfformat:{kind}")
}

/// The executions a trace recorded: one per task with a runtime (tasks without execution data
/// are left out). A task's map size is the number of its template's tasks in the trace. `source` names the trace (its file name); every execution carries
/// `recorded_at` as its end, since traces hold no per-task clock.
pub fn executions(
    json_text: &str,
    source: &str,
    recorded_at: f64,
) -> Result<Vec<Execution>, ImportError> {
    let root: serde_json::Value =
        serde_json::from_str(json_text).map_err(|e| ImportError::json(&e))?;
    let trace = trace::read(&root)?;
    let sizes: &HashMap<&str, f64> = &trace.sizes;
    // A template's tasks in one trace are its fan-out: the trace's analogue of a map's items.
    let mut width: HashMap<String, u64> = HashMap::new();
    for t in trace.tasks.iter().filter(|t| t.runtime.is_some()) {
        *width.entry(template(t)).or_default() += 1;
    }
    let mut out = Vec::with_capacity(trace.tasks.len());
    for t in &trace.tasks {
        let Some(runtime) = t.runtime else { continue };
        if !(runtime.is_finite() && runtime >= 0.0) {
            return Err(ImportError::task(
                t.id,
                format_args!(
                    "has runtime {runtime}; `runtimeInSeconds` must be a number of seconds, 0 or more"
                ),
            ));
        }
        let m = &t.measured;
        if let Some(b) = m.memory.filter(|b| !(b.is_finite() && *b >= 0.0)) {
            return Err(ImportError::task(
                t.id,
                format_args!(
                    "has memory {b}; `memoryInBytes` must be a number of bytes, 0 or more"
                ),
            ));
        }
        let template = template(t);
        let input_bytes: f64 = t.inputs.iter().filter_map(|f| sizes.get(f)).sum();
        out.push(Execution {
            source: format!("trace:{source}"),
            workflow: trace.name.unwrap_or_default().to_string(),
            features: StepFeatures {
                map_items: width.get(&template).copied(),
                template,
                step: t.id.to_string(),
                image: None,
                input_bytes: input_bytes.max(0.0) as u64,
                params: Default::default(),
                machine: m.machine.unwrap_or_default().to_string(),
            },
            finished_at: recorded_at,
            duration_s: runtime,
            peak_rss_bytes: m.memory.map(|b| b as u64),
            cpu_seconds: m.avg_cpu.map(|c| runtime * c / 100.0),
            exit_reason: "succeeded".into(),
            succeeded: true,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRACE: &str = r#"{"name": "t", "workflow": {"specification": {
      "tasks": [{"id": "mAdd_ID0000001", "inputFiles": ["a", "b"]},
                {"id": "x", "parents": ["mAdd_ID0000001"]}],
      "files": [{"id": "a", "sizeInBytes": 1000}, {"id": "b", "sizeInBytes": 24}]},
      "execution": {"tasks": [{"id": "mAdd_ID0000001", "runtimeInSeconds": 4.0,
        "memoryInBytes": 2048, "avgCPU": 50, "machines": ["node-1"]},
        {"id": "x", "runtimeInSeconds": 1, "command": {"program": "tool"}}]}}}"#;

    #[test]
    fn tasks_become_executions_with_their_features() {
        let xs = executions(TRACE, "t.json", 7.0).unwrap();
        assert_eq!(xs.len(), 2);
        let a = &xs[0];
        assert_eq!(a.features.template, "wfformat:mAdd");
        assert_eq!(a.features.input_bytes, 1024);
        assert_eq!(a.features.machine, "node-1");
        assert_eq!(
            (a.duration_s, a.peak_rss_bytes, a.cpu_seconds),
            (4.0, Some(2048), Some(2.0))
        );
        assert_eq!((a.source.as_str(), a.finished_at), ("trace:t.json", 7.0));
        assert_eq!(xs[1].features.template, "wfformat:tool");
        assert_eq!(a.features.map_items, Some(1));
    }

    #[test]
    fn a_malformed_measurement_names_the_task_and_field() {
        let bad = TRACE.replace("\"memoryInBytes\": 2048", "\"memoryInBytes\": \"2k\"");
        let e = executions(&bad, "t.json", 0.0).unwrap_err().to_string();
        assert!(
            e.contains("mAdd_ID0000001") && e.contains("memoryInBytes"),
            "{e}"
        );
        let neg = TRACE.replace("\"runtimeInSeconds\": 1,", "\"runtimeInSeconds\": -1,");
        let e = executions(&neg, "t.json", 0.0).unwrap_err().to_string();
        assert!(
            e.contains("task `x`") && e.contains("runtimeInSeconds"),
            "{e}"
        );
    }
}
