//! The one interface every search method implements, and the record of trials they share.

/// A trial's number within its study, from 0.
pub type TrialId = usize;

/// One evaluation a method asks for: a point of the unit cube (decoded by the study's
/// `Space`) at a fraction of the full fidelity (1.0 where the method is not multi-fidelity).
#[derive(Clone, Debug, PartialEq)]
pub struct Trial {
    pub id: TrialId,
    pub unit: Vec<f64>,
    pub fidelity: f64,
}

/// A search method, driven by ask and tell: the driver asks for trials, runs them (in
/// parallel where it may) and tells each one's loss. Losses are minimised; a maximised
/// objective is negated by the driver, and a failed trial is told `f64::INFINITY`. `Send`: the
/// local runtime drives an asynchronous study across its tasks.
pub trait Method: Send {
    /// The name used on the command line and in reports.
    fn name(&self) -> &'static str;
    /// Up to `n` trials to start now; fewer, or none, while the method needs results it has
    /// not been told yet.
    fn ask(&mut self, n: usize) -> Vec<Trial>;
    /// The loss of a trial this method asked for.
    fn tell(&mut self, id: TrialId, loss: f64);
    /// The loss of a trial another method proposed (a warm start's): a method that learns from
    /// results takes it as one of its own; the others ignore it, as by default.
    fn observe(&mut self, _unit: &[f64], _fidelity: f64, _loss: f64) {}
}

/// A method borrowed or boxed is the method itself, so the driver takes either.
macro_rules! forward_method {
    ($($by:ty),*) => {$(
        impl<M: Method + ?Sized> Method for $by {
            fn name(&self) -> &'static str {
                (**self).name()
            }
            fn ask(&mut self, n: usize) -> Vec<Trial> {
                (**self).ask(n)
            }
            fn tell(&mut self, id: TrialId, loss: f64) {
                (**self).tell(id, loss)
            }
            fn observe(&mut self, unit: &[f64], fidelity: f64, loss: f64) {
                (**self).observe(unit, fidelity, loss)
            }
        }
    )*};
}

forward_method!(&mut M, Box<M>);

/// Trials asked so far and the losses told: the bookkeeping every method keeps.
#[derive(Clone, Debug, Default)]
pub struct Ledger {
    trials: Vec<Trial>,
    losses: Vec<Option<f64>>,
}

impl Ledger {
    /// Records a new trial and returns it.
    pub fn open(&mut self, unit: Vec<f64>, fidelity: f64) -> Trial {
        let trial = Trial {
            id: self.trials.len(),
            unit,
            fidelity,
        };
        self.trials.push(trial.clone());
        self.losses.push(None);
        trial
    }

    /// Records a trial's loss (NaN counts as a failure: infinitely bad). Unknown ids are ignored.
    pub fn close(&mut self, id: TrialId, loss: f64) {
        if let Some(slot) = self.losses.get_mut(id) {
            *slot = Some(if loss.is_nan() { f64::INFINITY } else { loss });
        }
    }

    pub fn trial(&self, id: TrialId) -> Option<&Trial> {
        self.trials.get(id)
    }

    pub fn loss(&self, id: TrialId) -> Option<f64> {
        self.losses.get(id).copied().flatten()
    }

    /// Trials with a loss, in the order they were asked.
    pub fn finished(&self) -> impl Iterator<Item = (&Trial, f64)> {
        self.trials
            .iter()
            .zip(&self.losses)
            .filter_map(|(t, l)| l.map(|l| (t, l)))
    }

    /// How many trials were asked and have no loss yet.
    pub fn pending(&self) -> usize {
        self.losses.iter().filter(|l| l.is_none()).count()
    }
}
