//! The right-sizing pass (`couler optimize --rightsize`): each step's `resources` from what the
//! history says it used, at a high percentile plus a margin, as the Kubernetes VPA recommender
//! sets requests. Memory becomes the request and the limit (memory cannot be throttled, only
//! killed); CPU becomes the request only (a CPU limit throttles, and the history measures
//! average cores). Steps with too little history are left alone and reported as such. The pass
//! reads no history itself: the caller hands it what the history says of each step
//! ([`Observed`]), as the caching pass is handed recorded runtimes.

use crate::plan::{Decision, PassError, Plan};
use couler_ir::{Quantity, Resources, Step, StepKind, Workflow};
use std::collections::HashMap;

/// What the history says one step used, at the pass's percentile.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Observed {
    /// Peak memory, bytes.
    pub memory_bytes: Option<f64>,
    /// Average cores.
    pub cpu_cores: Option<f64>,
    /// How many recorded executions that rests on.
    pub support: u64,
}

/// The right-sizing pass.
#[derive(Clone, Debug, PartialEq)]
pub struct RightsizePass {
    /// The percentile the observations are at (for the report).
    pub percentile: f64,
    /// Added on top, a fraction (0.15: 15%).
    pub margin: f64,
    /// Steps with fewer executions than this are left alone.
    pub min_support: u64,
    /// Step name → what the history says of it.
    pub observed: HashMap<String, Observed>,
}

/// Bytes as whole MiB, rounded up (at least 1Mi).
fn memory_quantity(bytes: f64) -> Quantity {
    let mib = (bytes / 1_048_576.0).ceil().max(1.0) as u64;
    quantity(&format!("{mib}Mi"))
}

/// Cores as whole millicores, rounded up (at least 1m).
fn cpu_quantity(cores: f64) -> Quantity {
    let milli = (cores * 1000.0).ceil().max(1.0) as u64;
    quantity(&format!("{milli}m"))
}

fn quantity(s: &str) -> Quantity {
    s.parse()
        .unwrap_or_else(|_| unreachable!("`{s}` is a quantity"))
}

fn shown(q: Option<&Quantity>) -> &str {
    q.map_or("unset", Quantity::as_str)
}

impl RightsizePass {
    /// The pass's name in plans and errors.
    pub const NAME: &'static str = "rightsize";

    /// Sets the resources of every container and script step the history knows well enough.
    pub fn plan(&self, wf: &Workflow) -> Result<Plan, PassError> {
        let mut out = wf.clone();
        let mut decisions = Vec::new();
        let (mut changed, mut alone) = (0usize, 0usize);
        for step in out.steps.iter_mut().chain(out.on_exit.iter_mut()) {
            if !matches!(step.kind, StepKind::Container(_) | StepKind::Script(_)) {
                continue;
            }
            let before = wf_resources(wf, step);
            match self.observed.get(&step.name).copied() {
                Some(o) if o.support >= self.min_support => {
                    let (after, d) = self.resize(step, &before, o);
                    if after != before {
                        step.resources = Some(Box::new(after));
                        changed += 1;
                    }
                    decisions.push(d);
                }
                o => {
                    alone += 1;
                    decisions.push(Decision {
                        subject: step.name.clone(),
                        action: "left alone".into(),
                        reason: format!(
                            "{} recorded executions; right-sizing needs at least {}",
                            o.map_or(0, |o| o.support),
                            self.min_support
                        ),
                    });
                }
            }
        }
        Ok(Plan {
            pass: Self::NAME,
            summary: format!(
                "{changed} steps resized from the history's p{} + {:.0}%, {alone} left alone for too little history",
                self.percentile,
                self.margin * 100.0
            ),
            decisions,
            workflows: vec![out],
        })
    }

    /// The step's new resources and the decision that reports them.
    fn resize(&self, step: &Step, before: &Resources, o: Observed) -> (Resources, Decision) {
        let mut after = before.clone();
        let mut changes = Vec::new();
        let grow = 1.0 + self.margin;
        if let Some(m) = o.memory_bytes {
            let q = memory_quantity(m * grow);
            changes.push(format!(
                "memory {} → {} (p{} {:.1}MiB)",
                shown(before.requests.memory.as_ref()),
                q,
                self.percentile,
                m / 1_048_576.0
            ));
            after.requests.memory = Some(q.clone());
            after.limits.memory = Some(q);
        }
        if let Some(c) = o.cpu_cores {
            let q = cpu_quantity(c * grow);
            changes.push(format!(
                "cpu request {} → {} (p{} {:.3} cores)",
                shown(before.requests.cpu.as_ref()),
                q,
                self.percentile,
                c
            ));
            after.requests.cpu = Some(q);
        }
        let decision = Decision {
            subject: step.name.clone(),
            action: if after == *before {
                "unchanged"
            } else {
                "resized"
            }
            .into(),
            reason: format!("{}; over {} executions", changes.join(", "), o.support),
        };
        (after, decision)
    }
}

/// The resources in force for `step` (its own, else the workflow default).
fn wf_resources(wf: &Workflow, step: &Step) -> Resources {
    wf.effective_resources(step).cloned().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wf() -> Workflow {
        couler_ir::spec::load(
            r#"apiVersion: couler.dev/v1alpha1
kind: Workflow
name: r
steps:
- name: big
  container: {image: x}
  resources: {requests: {memory: 4Gi, cpu: "2"}, limits: {memory: 8Gi}}
- {name: new, container: {image: x}}
"#,
            couler_ir::spec::Format::Yaml,
        )
        .unwrap()
        .0
    }

    #[test]
    fn resizes_known_steps_and_leaves_thin_history_alone() {
        let pass = RightsizePass {
            percentile: 95.0,
            margin: 0.15,
            min_support: 5,
            observed: [
                (
                    "big".to_string(),
                    Observed {
                        memory_bytes: Some(100.0 * 1_048_576.0),
                        cpu_cores: Some(0.5),
                        support: 12,
                    },
                ),
                (
                    "new".to_string(),
                    Observed {
                        memory_bytes: Some(1.0),
                        cpu_cores: None,
                        support: 2,
                    },
                ),
            ]
            .into(),
        };
        let plan = pass.plan(&wf()).unwrap();
        let big = &plan.workflows[0].steps[0];
        let r = big.resources.as_ref().unwrap();
        assert_eq!(r.requests.memory.as_ref().unwrap().as_str(), "115Mi");
        assert_eq!(r.limits.memory.as_ref().unwrap().as_str(), "115Mi");
        assert_eq!(r.requests.cpu.as_ref().unwrap().as_str(), "575m");
        assert_eq!(plan.decisions[0].action, "resized");
        assert!(
            plan.decisions[0].reason.contains("memory 4Gi → 115Mi"),
            "{:?}",
            plan.decisions[0]
        );
        assert!(plan.decisions[0].reason.contains("over 12 executions"));
        assert_eq!(plan.decisions[1].action, "left alone");
        assert!(plan.decisions[1].reason.contains("2 recorded executions"));
        assert_eq!(plan.workflows[0].steps[1].resources, None);
        assert!(
            plan.summary.starts_with("1 steps resized"),
            "{}",
            plan.summary
        );
    }
}
