//! Which ready step gets the next free slot (`--dispatch`, docs/runtime.md). `fifo`: the one
//! that asked first. `critical-path` (the default): the one with the longest predicted
//! remaining path to the workflow's end (`couler_history::critical::priorities`, from the
//! state directory's history, computed once per run), ties in the order they asked; without
//! history every step has the same priority, which is `fifo`.

use couler_history::History;
use couler_history::critical::{Medians, priorities};
use couler_history::store::Filter;
use couler_ir::Workflow;
use std::collections::HashMap;

/// How the run's slots are handed out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Dispatch {
    /// In the order steps asked for a slot.
    Fifo,
    /// The longest predicted remaining path first.
    #[default]
    CriticalPath,
}

/// The slot priority of each step of one workflow (sub-workflows' steps take their step's).
#[derive(Clone, Debug, Default)]
pub(crate) struct Priorities {
    by_step: HashMap<String, f64>,
    otherwise: f64,
}

impl Priorities {
    /// Every step the same priority `p`.
    pub(crate) fn uniform(p: f64) -> Priorities {
        Priorities {
            by_step: HashMap::new(),
            otherwise: p,
        }
    }

    /// The priorities of `wf`'s steps under `dispatch`, from `history` where there is one.
    pub(crate) fn of(dispatch: Dispatch, history: Option<&History>, wf: &Workflow) -> Priorities {
        let (Dispatch::CriticalPath, Some(h)) = (dispatch, history) else {
            return Priorities::default();
        };
        let Ok(executions) = h.list(&Filter::default()) else {
            return Priorities::default();
        };
        let medians = Medians::of(&executions, wf, |s| crate::template_key(wf, s));
        Priorities {
            by_step: priorities(wf, &medians),
            otherwise: 0.0,
        }
    }

    pub(crate) fn of_step(&self, step: &str) -> f64 {
        self.by_step.get(step).copied().unwrap_or(self.otherwise)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use couler_history::{Execution, StepFeatures};

    /// `setup` → (`short`, `long`); `long` → `report`: scripts that differ, so templates do.
    fn workflow() -> Workflow {
        let step = |name: &str, after: &[&str]| {
            serde_json::json!({"name": name, "script": {"image": "x", "command": ["sh"],
                "source": format!("echo {name}")}, "dependsOn": after})
        };
        let spec = serde_json::json!({
            "apiVersion": "couler.dev/v1alpha1", "kind": "Workflow", "name": "w",
            "steps": [step("setup", &[]), step("short", &["setup"]), step("long", &["setup"]),
                step("report", &["long"])],
        });
        couler_ir::spec::parse(&spec.to_string(), couler_ir::spec::Format::Json).unwrap()
    }

    #[test]
    fn critical_path_priorities_come_from_the_recorded_history() {
        let wf = workflow();
        let dir = tempfile::tempdir().unwrap();
        let history = History::open(&dir.path().join("history.db")).unwrap();
        let seconds = [("setup", 1.0), ("short", 2.0), ("long", 10.0)];
        let executions: Vec<Execution> = seconds
            .iter()
            .map(|&(name, s)| {
                let step = wf.steps.iter().find(|x| x.name == name).unwrap();
                Execution {
                    features: StepFeatures {
                        template: crate::template_key(&wf, step),
                        step: name.into(),
                        ..StepFeatures::default()
                    },
                    duration_s: s,
                    succeeded: true,
                    ..Execution::default()
                }
            })
            .collect();
        history.record(&executions).unwrap();
        let p = Priorities::of(Dispatch::CriticalPath, Some(&history), &wf);
        // The baseline's medians are histogram buckets: near the recorded seconds.
        let near = |step: &str, want: f64| {
            let got = p.of_step(step);
            assert!(
                (got - want).abs() <= 0.1 * want,
                "{step}: {got}, want about {want}"
            );
        };
        // `report` has no history: it counts the median of the others' medians (about 2 s).
        near("report", 2.0);
        near("long", 12.0);
        near("short", 2.0);
        near("setup", 13.0);
        assert!(p.of_step("long") > p.of_step("short"));
        // FIFO, or no history: every step alike.
        let fifo = Priorities::of(Dispatch::Fifo, Some(&history), &wf);
        let none = Priorities::of(Dispatch::CriticalPath, None, &wf);
        for s in ["setup", "short", "long", "report"] {
            assert_eq!((fifo.of_step(s), none.of_step(s)), (0.0, 0.0));
        }
    }
}
