//! The one driver every method runs under: ask, evaluate, tell, until the budget is spent.

use crate::method::{Method, Trial};

/// A finished trial: what was run, its loss, and what it cost in full-fidelity evaluations.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    pub trial: Trial,
    pub loss: f64,
}

/// Runs `method` against `objective` (losses, lower is better) in batches of at most
/// `parallelism` trials, until `budget` full-fidelity-equivalent evaluations are spent (a trial at
/// fidelity `f` costs `f`) or the method has nothing more to ask. A trial that would overrun the
/// budget is not started.
pub fn run(
    method: &mut dyn Method,
    budget: f64,
    parallelism: usize,
    mut objective: impl FnMut(&Trial) -> f64,
) -> Vec<Outcome> {
    let mut spent = 0.0;
    let mut outcomes = Vec::new();
    loop {
        let batch = method.ask(parallelism.max(1));
        if batch.is_empty() {
            return outcomes;
        }
        let mut ran = 0;
        for trial in batch {
            if spent + trial.fidelity > budget + 1e-9 {
                continue;
            }
            spent += trial.fidelity;
            let loss = objective(&trial);
            method.tell(trial.id, loss);
            outcomes.push(Outcome { trial, loss });
            ran += 1;
        }
        if ran == 0 {
            return outcomes;
        }
    }
}

/// The trial a study recommends: the lowest loss among those run at the highest fidelity any
/// trial reached (a multi-fidelity method's low-fidelity losses do not compete with full ones).
pub fn recommend(outcomes: &[Outcome]) -> Option<&Outcome> {
    let top = outcomes
        .iter()
        .map(|o| o.trial.fidelity)
        .fold(f64::NEG_INFINITY, f64::max);
    outcomes
        .iter()
        .filter(|o| o.trial.fidelity >= top - 1e-12)
        .min_by(|a, b| a.loss.total_cmp(&b.loss))
}
