//! The LLM as a warm start for another method (`tpe+llm`, …): the study's first trials are the
//! `llm` method's (its best-predicted candidates), and the other method, told of their results
//! through [`Method::observe`], takes over from there. TPE counts them as startup trials, so
//! its model starts from the LLM's picks instead of random points; a method that learns nothing
//! from others' trials (random search, Sobol', the brackets) simply follows them.

use crate::llm::Llm;
use crate::method::{Method, Trial, TrialId};

/// How many trials the LLM proposes before the other method takes over.
pub const WARM_TRIALS: usize = 5;

/// The names of the warm-started methods, as `couler tune bench --methods` takes them.
pub const NAMES: &[&str] = &[
    "random+llm",
    "sobol+llm",
    "tpe+llm",
    "sh+llm",
    "hyperband+llm",
    "asha+llm",
];

/// Who proposed a trial, and its number there.
#[derive(Clone, Copy)]
enum Owner {
    Llm(TrialId),
    Inner(TrialId),
}

pub struct WarmStart {
    name: &'static str,
    llm: Llm,
    inner: Box<dyn Method>,
    warm: usize,
    owners: Vec<Owner>,
    warm_units: Vec<(Vec<f64>, f64)>,
}

impl WarmStart {
    /// `inner` (named `base`, one of [`crate::METHODS`]) after `warm` trials of `llm`.
    pub fn new(base: &str, llm: Llm, inner: Box<dyn Method>, warm: usize) -> Result<Self, String> {
        let name = NAMES
            .iter()
            .find(|n| n.strip_suffix("+llm") == Some(base))
            .ok_or_else(|| {
                format!(
                    "no warm start for `{base}`; choose one of: {}",
                    NAMES.join(", ")
                )
            })?;
        Ok(WarmStart {
            name,
            llm,
            inner,
            warm,
            owners: Vec::new(),
            warm_units: Vec::new(),
        })
    }

    fn renumber(&mut self, trials: Vec<Trial>, owner: fn(TrialId) -> Owner) -> Vec<Trial> {
        trials
            .into_iter()
            .map(|t| {
                let id = self.owners.len();
                self.owners.push(owner(t.id));
                Trial { id, ..t }
            })
            .collect()
    }
}

impl Method for WarmStart {
    fn name(&self) -> &'static str {
        self.name
    }

    fn ask(&mut self, n: usize) -> Vec<Trial> {
        let warm_left = self.warm.saturating_sub(self.warm_units.len());
        if warm_left > 0 {
            let trials = self.llm.ask(n.min(warm_left));
            for t in &trials {
                self.warm_units.push((t.unit.clone(), t.fidelity));
            }
            return self.renumber(trials, Owner::Llm);
        }
        let trials = self.inner.ask(n);
        self.renumber(trials, Owner::Inner)
    }

    fn tell(&mut self, id: TrialId, loss: f64) {
        match self.owners.get(id).copied() {
            Some(Owner::Llm(own)) => {
                self.llm.tell(own, loss);
                let (unit, fidelity) = &self.warm_units[own];
                self.inner.observe(unit, *fidelity, loss);
            }
            Some(Owner::Inner(own)) => self.inner.tell(own, loss),
            None => {}
        }
    }

    fn observe(&mut self, unit: &[f64], fidelity: f64, loss: f64) {
        self.inner.observe(unit, fidelity, loss);
    }
}
