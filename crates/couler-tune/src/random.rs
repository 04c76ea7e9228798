//! Random search: every coordinate uniform, every trial at full fidelity.

use crate::method::{Ledger, Method, Trial, TrialId};
use crate::rng::Rng;

pub struct RandomSearch {
    dims: usize,
    rng: Rng,
    ledger: Ledger,
}

impl RandomSearch {
    pub fn new(dims: usize, seed: u64) -> RandomSearch {
        RandomSearch {
            dims,
            rng: Rng::new(seed),
            ledger: Ledger::default(),
        }
    }
}

/// A uniform point of the unit cube.
pub fn uniform_point(rng: &mut Rng, dims: usize) -> Vec<f64> {
    (0..dims).map(|_| rng.unit()).collect()
}

impl Method for RandomSearch {
    fn name(&self) -> &'static str {
        "random"
    }
    fn ask(&mut self, n: usize) -> Vec<Trial> {
        (0..n)
            .map(|_| {
                self.ledger
                    .open(uniform_point(&mut self.rng, self.dims), 1.0)
            })
            .collect()
    }
    fn tell(&mut self, id: TrialId, loss: f64) {
        self.ledger.close(id, loss);
    }
}
