//! The one driver every method runs under: ask, evaluate, tell, until the budget is spent.

use crate::method::{Method, Trial};

/// A finished trial: what was run, its loss, and what it cost in full-fidelity evaluations.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    pub trial: Trial,
    pub loss: f64,
}

/// The driver one batch at a time: [`run`] is a loop over it, the lowered rounds of a tuned
/// step (`crate::rounds`) replay it, a batch per round, from the objectives the trials printed,
/// and an asynchronous study (`crate::live`) asks it for as many trials as workers are free.
/// `M` is the method, borrowed (`&mut dyn Method`) or owned (`Box<dyn Method>`).
pub struct Driver<M> {
    method: M,
    budget: f64,
    parallelism: usize,
    spent: f64,
}

impl<M: Method> Driver<M> {
    /// A study of `method` that may spend `budget` full-fidelity evaluations, `parallelism` at
    /// once.
    pub fn new(method: M, budget: f64, parallelism: usize) -> Self {
        Driver {
            method,
            budget,
            parallelism: parallelism.max(1),
            spent: 0.0,
        }
    }

    /// The next batch: what the method hands out for `parallelism` workers, less any trial that
    /// would overrun the budget (a trial at fidelity `f` costs `f`). Empty when the study is
    /// over; a spent budget asks the method nothing (every trial costs something, and a
    /// question can be dear: the `llm` method's is a model's answer).
    pub fn next_batch(&mut self) -> Vec<Trial> {
        self.next(self.parallelism)
    }

    /// Up to `n` trials, as [`Driver::next_batch`] asks for `parallelism`.
    pub fn next(&mut self, n: usize) -> Vec<Trial> {
        if self.spent >= self.budget - 1e-9 || n == 0 {
            return Vec::new();
        }
        let mut batch = self.method.ask(n);
        batch.retain(|t| {
            let fits = self.spent + t.fidelity <= self.budget + 1e-9;
            if fits {
                self.spent += t.fidelity;
            }
            fits
        });
        batch
    }

    /// Tells the method a trial's loss.
    pub fn tell(&mut self, trial: &Trial, loss: f64) {
        self.method.tell(trial.id, loss);
    }
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
    let mut driver = Driver::new(method, budget, parallelism);
    let mut outcomes = Vec::new();
    loop {
        let batch = driver.next_batch();
        if batch.is_empty() {
            return outcomes;
        }
        for trial in batch {
            let loss = objective(&trial);
            driver.tell(&trial, loss);
            outcomes.push(Outcome { trial, loss });
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
