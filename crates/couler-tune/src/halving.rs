//! Multi-fidelity methods: successive halving, Hyperband (Li et al., JMLR 2018) and ASHA, its
//! asynchronous form (Li et al., MLSys 2020). Cheap low-fidelity trials (few epochs, say) weed
//! out poor configurations; the best `1/eta` of each rung go on to `eta` times the fidelity.

use std::collections::{HashMap, HashSet};

use crate::method::{Ledger, Method, Trial, TrialId};
use crate::random::uniform_point;
use crate::rng::Rng;

/// The fidelity fractions of the rungs, lowest first, ending at 1.0: `eta^(k-K)` for
/// `k = 0..=K`, where `eta^-K` is the smallest at or above `min_fraction`.
pub fn rungs(min_fraction: f64, eta: f64) -> Vec<f64> {
    let k = if min_fraction >= 1.0 {
        0
    } else {
        ((1.0 / min_fraction).ln() / eta.ln() + 1e-9).floor() as i32
    };
    (0..=k).map(|i| eta.powi(i - k)).collect()
}

/// Asynchronous successive halving: a free worker promotes the best unpromoted configuration
/// of the highest rung that has one in its top `1/eta`, or else starts a new one at the lowest.
pub struct Asha {
    dims: usize,
    eta: usize,
    rungs: Vec<f64>,
    rng: Rng,
    ledger: Ledger,
    configs: Vec<Vec<f64>>,
    results: Vec<Vec<(usize, f64)>>,
    promoted: Vec<HashSet<usize>>,
    jobs: HashMap<TrialId, (usize, usize)>,
}

impl Asha {
    pub fn new(dims: usize, min_fraction: f64, eta: usize, seed: u64) -> Asha {
        let rungs = rungs(min_fraction, eta as f64);
        let n = rungs.len();
        Asha {
            dims,
            eta,
            rungs,
            rng: Rng::new(seed),
            ledger: Ledger::default(),
            configs: Vec::new(),
            results: vec![Vec::new(); n],
            promoted: vec![HashSet::new(); n],
            jobs: HashMap::new(),
        }
    }

    fn next_job(&mut self) -> (usize, usize) {
        for k in (0..self.rungs.len() - 1).rev() {
            let mut done = self.results[k].clone();
            done.sort_by(|a, b| a.1.total_cmp(&b.1));
            let top = done.len() / self.eta;
            if let Some(&(c, _)) = done[..top]
                .iter()
                .find(|(c, _)| !self.promoted[k].contains(c))
            {
                self.promoted[k].insert(c);
                return (c, k + 1);
            }
        }
        self.configs.push(uniform_point(&mut self.rng, self.dims));
        (self.configs.len() - 1, 0)
    }
}

impl Method for Asha {
    fn name(&self) -> &'static str {
        "asha"
    }
    fn ask(&mut self, n: usize) -> Vec<Trial> {
        (0..n)
            .map(|_| {
                let (c, k) = self.next_job();
                let t = self.ledger.open(self.configs[c].clone(), self.rungs[k]);
                self.jobs.insert(t.id, (c, k));
                t
            })
            .collect()
    }
    fn tell(&mut self, id: TrialId, loss: f64) {
        self.ledger.close(id, loss);
        if let (Some((c, k)), Some(loss)) = (self.jobs.remove(&id), self.ledger.loss(id)) {
            self.results[k].push((c, loss));
        }
    }
}

/// Synchronous brackets of successive halving. Hyperband cycles through every bracket, from
/// the most aggressive (many configurations at the lowest fidelity) to plain full-fidelity
/// search; successive halving repeats the most aggressive one.
pub struct Brackets {
    name: &'static str,
    dims: usize,
    eta: f64,
    rungs: Vec<f64>,
    brackets: Vec<usize>,
    next_bracket: usize,
    rng: Rng,
    ledger: Ledger,
    round: Round,
}

/// The rung being run: its configurations, how many were issued, and the losses told.
#[derive(Default)]
struct Round {
    /// Bracket `s` and rung `i` within it.
    s: usize,
    i: usize,
    /// Configurations entering the bracket.
    n: usize,
    configs: Vec<Vec<f64>>,
    issued: usize,
    told: Vec<(usize, f64)>,
    ids: HashMap<TrialId, usize>,
}

impl Brackets {
    pub fn hyperband(dims: usize, min_fraction: f64, eta: usize, seed: u64) -> Brackets {
        let rungs = rungs(min_fraction, eta as f64);
        let brackets = (0..rungs.len()).rev().collect();
        Brackets::with(dims, eta as f64, rungs, brackets, "hyperband", seed)
    }

    pub fn successive_halving(dims: usize, min_fraction: f64, eta: usize, seed: u64) -> Brackets {
        let rungs = rungs(min_fraction, eta as f64);
        let brackets = vec![rungs.len() - 1];
        Brackets::with(dims, eta as f64, rungs, brackets, "sh", seed)
    }

    fn with(
        dims: usize,
        eta: f64,
        rungs: Vec<f64>,
        brackets: Vec<usize>,
        name: &'static str,
        seed: u64,
    ) -> Brackets {
        let mut hb = Brackets {
            name,
            dims,
            eta,
            rungs,
            brackets,
            next_bracket: 0,
            rng: Rng::new(seed),
            ledger: Ledger::default(),
            round: Round::default(),
        };
        hb.start_bracket();
        hb
    }

    fn start_bracket(&mut self) {
        let s = self.brackets[self.next_bracket % self.brackets.len()];
        self.next_bracket += 1;
        let s_max = self.rungs.len() - 1;
        let n = ((s_max + 1) as f64 / (s + 1) as f64 * self.eta.powi(s as i32)).ceil() as usize;
        let configs = (0..n)
            .map(|_| uniform_point(&mut self.rng, self.dims))
            .collect();
        self.round = Round {
            s,
            i: 0,
            n,
            configs,
            ..Round::default()
        };
    }

    /// After every trial of the rung was told: the best go on, or the next bracket starts.
    fn advance(&mut self) {
        let r = &mut self.round;
        if r.i >= r.s {
            return self.start_bracket();
        }
        r.told.sort_by(|a, b| a.1.total_cmp(&b.1));
        let keep = ((r.n as f64 / self.eta.powi(r.i as i32 + 1)).floor() as usize).max(1);
        r.configs = r
            .told
            .iter()
            .take(keep)
            .map(|&(c, _)| r.configs[c].clone())
            .collect();
        r.i += 1;
        r.issued = 0;
        r.told.clear();
        r.ids.clear();
    }
}

impl Method for Brackets {
    fn name(&self) -> &'static str {
        self.name
    }
    fn ask(&mut self, n: usize) -> Vec<Trial> {
        let mut out = Vec::new();
        while out.len() < n {
            if self.round.told.len() == self.round.configs.len()
                && self.round.issued == self.round.configs.len()
            {
                self.advance();
            }
            let r = &mut self.round;
            if r.issued == r.configs.len() {
                break; // waiting for this rung's losses
            }
            let s_max = self.rungs.len() - 1;
            let fidelity = self.rungs[s_max - r.s + r.i];
            let t = self.ledger.open(r.configs[r.issued].clone(), fidelity);
            r.ids.insert(t.id, r.issued);
            r.issued += 1;
            out.push(t);
        }
        out
    }
    fn tell(&mut self, id: TrialId, loss: f64) {
        self.ledger.close(id, loss);
        if let (Some(c), Some(loss)) = (self.round.ids.remove(&id), self.ledger.loss(id)) {
            self.round.told.push((c, loss));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rungs_climb_by_eta_to_full_fidelity() {
        let r = rungs(1.0 / 52.0, 3.0);
        assert_eq!(r.len(), 4);
        assert!((r[0] - 1.0 / 27.0).abs() < 1e-12 && r[3] == 1.0);
        assert_eq!(rungs(1.0, 3.0), vec![1.0]);
        assert_eq!(
            rungs(1.0 / 9.0, 3.0).len(),
            3,
            "exact powers are not lost to rounding"
        );
    }

    #[test]
    fn hyperband_bracket_shapes_follow_the_paper() {
        // eta 3, fidelity 1/27..1: the first bracket runs 27 configurations at 1/27, 9 at 1/9,
        // 3 at 1/3 and 1 at full fidelity.
        let mut hb = Brackets::hyperband(2, 1.0 / 27.0, 3, 1);
        let mut shape = Vec::new();
        for _ in 0..4 {
            let batch = hb.ask(100);
            shape.push((batch.len(), batch[0].fidelity));
            for t in &batch {
                hb.tell(t.id, t.unit[0]);
            }
        }
        let want = [(27, 1.0 / 27.0), (9, 1.0 / 9.0), (3, 1.0 / 3.0), (1, 1.0)];
        for ((n, f), (wn, wf)) in shape.iter().zip(want) {
            assert_eq!(*n, wn);
            assert!((f - wf).abs() < 1e-12);
        }
        assert_eq!(hb.ask(100).len(), 12, "the next bracket: 12 at 1/9");
    }
}
