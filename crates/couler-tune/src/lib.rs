//! Hyperparameter search for Couler workflows.
//!
//! A study tunes the parameters of a [`Space`] by asking a [`Method`] for trials and telling it
//! their losses, under the one driver [`study::run`]. Every method works in the unit cube; the
//! space decodes a trial's coordinates into parameter values (uniform, log-uniform, integer,
//! categorical) and a fidelity fraction into the fidelity parameter (epochs, say).

pub mod bench;
pub mod halving;
pub mod lcbench;
pub mod live;
pub mod llm;
pub mod lower;
pub mod method;
pub mod random;
pub mod rng;
pub mod rounds;
pub mod sobol;
pub mod space;
pub mod study;
pub mod tpe;
pub mod warm;

pub use method::{Method, Trial, TrialId};
pub use space::{Domain, Fidelity, Param, Space, SpaceError, Value};

/// The methods `by_name` knows, as they are written on the command line.
pub const METHODS: &[&str] = &["random", "sobol", "tpe", "sh", "hyperband", "asha"];

/// The reduction factor of the multi-fidelity methods.
pub const ETA: usize = 3;

/// A method for `space` by name, seeded. Multi-fidelity methods need the space's fidelity.
pub fn by_name(name: &str, space: &Space, seed: u64) -> Result<Box<dyn Method>, String> {
    let dims = space.dims();
    let min_fraction = space.fidelity.as_ref().map(|f| f.min / f.max);
    let multi = |m: &str| {
        min_fraction.ok_or_else(|| {
            format!("method `{m}` varies a fidelity, and the search space declares none; add one (e.g. epochs) or choose random, sobol or tpe")
        })
    };
    Ok(match name {
        "random" => Box::new(random::RandomSearch::new(dims, seed)),
        "sobol" => Box::new(sobol::Sobol::new(dims, seed)),
        "tpe" => {
            let cats = space
                .params
                .iter()
                .map(|p| match &p.domain {
                    Domain::Categorical(cs) => Some(cs.len()),
                    _ => None,
                })
                .collect();
            Box::new(tpe::Tpe::new(cats, seed, tpe::TpeSettings::default()))
        }
        "sh" => Box::new(halving::Brackets::successive_halving(
            dims,
            multi(name)?,
            ETA,
            seed,
        )),
        "hyperband" => Box::new(halving::Brackets::hyperband(dims, multi(name)?, ETA, seed)),
        "asha" => Box::new(halving::Asha::new(dims, multi(name)?, ETA, seed)),
        llm if llm == "llm" || warm::NAMES.contains(&llm) => {
            return Err(format!(
                "method `{llm}` asks a language model, which this study was not given: `couler tune bench --methods {llm}` needs --model (or --replay); a `tune` block names its model in `tune.llm`"
            ));
        }
        other => {
            return Err(format!(
                "unknown tuning method `{other}`; choose one of: {}, llm, or a warm start: {}",
                METHODS.join(", "),
                warm::NAMES.join(", ")
            ));
        }
    })
}
