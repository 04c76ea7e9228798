//! What a run keeps in memory of the steps that ended: every step's status (what decides
//! whether its successors run and how the run ends), and a step's whole outcome (outputs,
//! message) only while a reader may still need it: a successor that references it and has not
//! started yet, or an exit step that references it. Everything else is in `state.db` already
//! (the step's end is recorded before it reaches the ledger), so the run's memory does not grow
//! with the outcomes of steps nobody reads: a 100,000-step fan-out holds a status per step
//! (docs/performance.md, "Memory").

use crate::outcome::{Outcome, StepStatus};
use couler_ir::{Graph, Reference, Step, Workflow};
use std::collections::{BTreeMap, BTreeSet, HashMap};

pub(crate) struct Ledger {
    status: Vec<Option<StepStatus>>,
    /// Whole outcomes still to be read, by step index.
    held: HashMap<usize, Outcome>,
    /// Per step: successors that reference it and have not started yet.
    readers_left: Vec<u32>,
    /// Per step: whether an exit step references it (then it is held to the end).
    exit_read: Vec<bool>,
}

/// The names of the other steps `step` references (`steps.NAME.…`).
fn referenced(step: &Step) -> BTreeSet<&str> {
    step.references()
        .into_iter()
        .filter_map(|(_, r)| match r {
            Reference::Step { step: s, .. } if s != &step.name => Some(s.as_str()),
            _ => None,
        })
        .collect()
}

impl Ledger {
    pub fn new(wf: &Workflow, graph: &Graph) -> Ledger {
        let n = wf.steps.len();
        let mut readers_left = vec![0u32; n];
        for (i, step) in wf.steps.iter().enumerate() {
            let names = referenced(step);
            if names.is_empty() {
                continue;
            }
            for &p in graph.predecessors(i) {
                if names.contains(wf.steps[p].name.as_str()) {
                    readers_left[p] += 1;
                }
            }
        }
        let mut exit_read = vec![false; n];
        let exit_names: BTreeSet<&str> = wf.on_exit.iter().flat_map(referenced).collect();
        if !exit_names.is_empty() {
            for (i, step) in wf.steps.iter().enumerate() {
                exit_read[i] = exit_names.contains(step.name.as_str());
            }
        }
        Ledger {
            status: vec![None; n],
            held: HashMap::new(),
            readers_left,
            exit_read,
        }
    }

    pub fn status(&self, i: usize) -> Option<StepStatus> {
        self.status[i]
    }

    /// Step `i` ended with `o`: its status is kept, its outcome while someone may read it.
    pub fn ended(&mut self, i: usize, o: Outcome) {
        self.status[i] = Some(o.status);
        if self.readers_left[i] > 0 || self.exit_read[i] {
            self.held.insert(i, o);
        }
    }

    /// What step `i` may read of its predecessors: the outcomes of those it references.
    pub fn seen_by(&self, wf: &Workflow, graph: &Graph, i: usize) -> BTreeMap<String, Outcome> {
        let names = referenced(&wf.steps[i]);
        if names.is_empty() {
            return BTreeMap::new();
        }
        graph
            .predecessors(i)
            .iter()
            .filter(|&&p| names.contains(wf.steps[p].name.as_str()))
            .filter_map(|&p| Some((wf.steps[p].name.clone(), self.held.get(&p)?.clone())))
            .collect()
    }

    /// Step `i` has started (or was omitted): the outcomes it read are let go once no other
    /// reader waits for them.
    pub fn started(&mut self, wf: &Workflow, graph: &Graph, i: usize) {
        let names = referenced(&wf.steps[i]);
        if names.is_empty() {
            return;
        }
        for &p in graph.predecessors(i) {
            if names.contains(wf.steps[p].name.as_str()) {
                self.readers_left[p] = self.readers_left[p].saturating_sub(1);
                if self.readers_left[p] == 0 && !self.exit_read[p] {
                    self.held.remove(&p);
                }
            }
        }
    }

    /// Every step's status (`None`: it never ended), and the outcomes the exit handler reads,
    /// by step name.
    pub fn into_parts(self, wf: &Workflow) -> (Vec<Option<StepStatus>>, BTreeMap<String, Outcome>) {
        let exit = self
            .held
            .into_iter()
            .filter(|(i, _)| self.exit_read[*i])
            .map(|(i, o)| (wf.steps[i].name.clone(), o))
            .collect();
        (self.status, exit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use couler_ir::{Container, StepKind, Template};

    fn step(name: &str, cmd: &str, deps: &[&str]) -> Step {
        let mut s = Step::new(
            name,
            StepKind::Container(Container {
                command: vec![Template::parse(cmd).unwrap_or_else(|e| panic!("{e:?}"))],
                ..Container::default()
            }),
        );
        s.depends_on = deps.iter().map(|d| d.to_string()).collect();
        s
    }

    /// An outcome is held exactly while a reader may need it: until its last referencing
    /// successor starts, or to the end when the exit handler reads it; a step nobody
    /// references keeps only its status.
    #[test]
    fn outcomes_are_held_only_while_a_reader_waits() {
        let mut wf = Workflow::new("w");
        wf.steps = vec![
            step("a", "echo", &[]),
            step("b", "echo {{steps.a.outputs.result}}", &["a"]),
            step("c", "echo {{steps.a.outputs.result}}", &["a"]),
            step("d", "echo", &["a"]),
            step("e", "echo", &[]),
        ];
        wf.on_exit = vec![step("x", "echo {{steps.e.outputs.result}}", &[])];
        let graph = Graph::new(&wf);
        let mut l = Ledger::new(&wf, &graph);
        let done = |s: &str| {
            let mut o = Outcome::new(StepStatus::Succeeded, None);
            o.outputs.result = Some(s.to_string());
            o
        };
        l.started(&wf, &graph, 0);
        l.ended(0, done("A"));
        l.ended(4, done("E"));
        assert_eq!(l.held.len(), 2);
        // d does not reference a: it sees nothing of it, and its start frees nothing.
        assert!(l.seen_by(&wf, &graph, 3).is_empty());
        l.started(&wf, &graph, 3);
        let seen = l.seen_by(&wf, &graph, 1);
        assert_eq!(seen["a"].outputs.result.as_deref(), Some("A"));
        l.started(&wf, &graph, 1);
        assert!(l.held.contains_key(&0), "c has not started yet");
        assert_eq!(l.seen_by(&wf, &graph, 2).len(), 1);
        l.started(&wf, &graph, 2);
        assert!(!l.held.contains_key(&0), "a's last reader started");
        for i in 1..4 {
            l.ended(i, Outcome::new(StepStatus::Failed, None));
        }
        assert_eq!(l.status(0), Some(StepStatus::Succeeded));
        assert_eq!(l.status(3), Some(StepStatus::Failed));
        let (status, exit) = l.into_parts(&wf);
        assert_eq!(status.len(), 5);
        assert_eq!(exit.keys().collect::<Vec<_>>(), ["e"]);
    }
}
