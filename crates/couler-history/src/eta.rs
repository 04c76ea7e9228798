//! A run's estimated time to finish: the critical path of the workflow's DAG over predicted
//! durations, finished steps counting 0 and running ones their predicted median less the time
//! they have run.

use couler_ir::graph::Graph;
use couler_ir::{Step, Workflow};

/// Where a step of a run under way stands.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Progress {
    /// Ended (whatever its status): it costs nothing more.
    Finished,
    /// Started this many seconds ago.
    Running { elapsed: f64 },
    /// Not started.
    Pending,
}

/// An estimated time to finish.
#[derive(Clone, Debug, PartialEq)]
pub struct Eta {
    /// Seconds until the last step on the critical path ends.
    pub seconds: f64,
    /// Unfinished steps without a prediction (counted as 0 s): the ETA is a lower bound when
    /// this is not empty.
    pub unpredicted: Vec<String>,
}

/// The ETA of a run of `wf`: `progress` says where each step stands, `median` its predicted
/// duration (`None`: no history). `None` when the workflow's graph has a cycle (it cannot:
/// validated workflows have none).
pub fn eta(
    wf: &Workflow,
    progress: impl Fn(&Step) -> Progress,
    median: impl Fn(&Step) -> Option<f64>,
) -> Option<Eta> {
    let mut unpredicted = Vec::new();
    let costs: Vec<f64> = wf
        .steps
        .iter()
        .map(|s| match progress(s) {
            Progress::Finished => 0.0,
            p => match median(s) {
                Some(m) => match p {
                    Progress::Running { elapsed } => (m - elapsed).max(0.0),
                    _ => m,
                },
                None => {
                    unpredicted.push(s.name.clone());
                    0.0
                }
            },
        })
        .collect();
    let (seconds, _) = Graph::new(wf).critical_path(|i| costs[i]).ok()?;
    Some(Eta {
        seconds,
        unpredicted,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// a → (b, c) → d, as JSON.
    fn diamond() -> Workflow {
        let step = |name: &str, after: &[&str]| serde_json::json!({"name": name, "container": {"image": "x"}, "dependsOn": after});
        let spec = serde_json::json!({
            "apiVersion": "couler.dev/v1alpha1", "kind": "Workflow", "name": "d",
            "steps": [step("a", &[]), step("b", &["a"]), step("c", &["a"]), step("d", &["b", "c"])],
        });
        couler_ir::spec::parse(&spec.to_string(), couler_ir::spec::Format::Json).unwrap()
    }

    #[test]
    fn the_critical_path_of_what_is_left() {
        let wf = diamond();
        let median = |s: &Step| match s.name.as_str() {
            "b" => Some(10.0),
            "c" => Some(4.0),
            "d" => Some(1.0),
            _ => Some(100.0),
        };
        let progress = |s: &Step| match s.name.as_str() {
            "a" => Progress::Finished,
            "b" => Progress::Running { elapsed: 7.0 },
            _ => Progress::Pending,
        };
        // b has 3 s left, c 4 s: c then d.
        let e = eta(&wf, progress, median).unwrap();
        assert_eq!(e.seconds, 5.0);
        assert!(e.unpredicted.is_empty());
        // A step past its median counts 0, and one without history is named.
        let late = |s: &Step| (s.name != "c").then_some(1.0);
        let e = eta(&wf, |_| Progress::Running { elapsed: 9.0 }, late).unwrap();
        assert_eq!((e.seconds, e.unpredicted), (0.0, vec!["c".to_string()]));
    }
}
