//! What a workflow's steps are predicted to take before its run, and what follows from it:
//! each step's predicted median duration from the per-template baseline (a step's inputs are
//! not known before it starts), and its predicted remaining path to the workflow's end, the
//! priority of critical-path-first dispatch (the local runtime's slot queue serves the step
//! with the longest one first).

use crate::predict::{Predictor, TemplateBaseline};
use crate::record::{Execution, StepFeatures, Target};
use couler_ir::graph::Graph;
use couler_ir::{Step, Workflow};
use std::collections::HashMap;

/// Predicted median durations of a workflow's steps, by step name (steps without history are
/// absent).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Medians(pub HashMap<String, f64>);

impl Medians {
    /// The medians of `wf`'s steps from the per-template baseline over `history`; `key` is a
    /// step's template key (the runtime's `template_key`, which recorded the history).
    pub fn of(history: &[Execution], wf: &Workflow, key: impl Fn(&Step) -> String) -> Medians {
        let baseline = TemplateBaseline::train(history);
        Medians(
            wf.steps
                .iter()
                .filter_map(|s| {
                    let f = StepFeatures {
                        template: key(s),
                        ..StepFeatures::default()
                    };
                    let p = baseline.predict(Target::Duration, &f)?;
                    Some((s.name.clone(), p.median))
                })
                .collect(),
        )
    }

    /// The median of `step`, if predicted.
    pub fn get(&self, step: &str) -> Option<f64> {
        self.0.get(step).copied()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The median of the predicted medians (what an unpredicted step is taken to last);
    /// 1 s when none is predicted (then a remaining path counts steps).
    pub fn typical(&self) -> f64 {
        let mut v: Vec<f64> = self.0.values().copied().collect();
        v.sort_by(f64::total_cmp);
        crate::predict::sorted_quantile(&v, 0.5).unwrap_or(1.0)
    }
}

/// Each step's predicted remaining path, by index in `graph`: its own cost plus the longest
/// remaining path among its successors. `None` when the graph has a cycle.
pub fn remaining_paths(graph: &Graph, cost: impl Fn(usize) -> f64) -> Option<Vec<f64>> {
    let order = graph.topological_order().ok()?;
    let mut rest = vec![0.0; graph.len()];
    for &i in order.iter().rev() {
        let after = graph
            .successors(i)
            .iter()
            .map(|&j| rest[j])
            .fold(0.0, f64::max);
        rest[i] = cost(i) + after;
    }
    Some(rest)
}

/// The dispatch priorities of `wf`'s steps by name: their predicted remaining paths, a step
/// without history taking the workflow's [`Medians::typical`] duration.
pub fn priorities(wf: &Workflow, medians: &Medians) -> HashMap<String, f64> {
    let typical = medians.typical();
    let cost = |i: usize| medians.get(&wf.steps[i].name).unwrap_or(typical);
    remaining_paths(&Graph::new(wf), cost)
        .map(|rest| {
            wf.steps
                .iter()
                .zip(rest)
                .map(|(s, r)| (s.name.clone(), r))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_remaining_path_is_the_longest_chain_after_a_step() {
        // 0 → 1 → 3, 0 → 2 → 3; costs 1, 5, 2, 1.
        let g = Graph::from_edges(4, &[(0, 1), (0, 2), (1, 3), (2, 3)]);
        let cost = [1.0, 5.0, 2.0, 1.0];
        let rest = remaining_paths(&g, |i| cost[i]).unwrap();
        assert_eq!(rest, vec![7.0, 6.0, 3.0, 1.0]);
        let cyclic = Graph::from_edges(2, &[(0, 1), (1, 0)]);
        assert!(remaining_paths(&cyclic, |_| 1.0).is_none());
    }

    #[test]
    fn unpredicted_steps_take_the_typical_median() {
        let mut m = Medians::default();
        assert_eq!(m.typical(), 1.0);
        m.0.extend([("a".into(), 2.0), ("b".into(), 10.0), ("c".into(), 4.0)]);
        assert_eq!(m.typical(), 4.0);
    }
}
