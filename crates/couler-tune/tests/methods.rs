//! Every method on synthetic objectives whose optimum is known: the driver's budget and
//! parallelism hold, seeds repeat, and the model-based and multi-fidelity methods beat random
//! search where they should.

mod common;

use common::{BRANIN_MIN, branin, float};
use couler_tune::study::{self, Outcome};
use couler_tune::{
    Domain, Fidelity, METHODS, Method, Param, Space, Trial, TrialId, Value, by_name,
};

fn branin_space() -> Space {
    Space {
        params: vec![float("x1", -5.0, 10.0), float("x2", 0.0, 15.0)],
        fidelity: Some(Fidelity {
            name: "epochs".into(),
            min: 1.0,
            max: 27.0,
            integer: true,
        }),
    }
}

fn floats(space: &Space, t: &Trial) -> Vec<f64> {
    space
        .decode(&t.unit)
        .into_iter()
        .map(|v| match v {
            Value::Float(x) => x,
            Value::Int(x) => x as f64,
            Value::Choice(_) => panic!("no choices here"),
        })
        .collect()
}

/// Branin seen at a fidelity: low fidelities add a smooth, configuration-dependent error that
/// vanishes at full fidelity (as a learning curve does), so ranks at low fidelity are informative
/// but imperfect.
fn branin_at(space: &Space, t: &Trial) -> f64 {
    let x = floats(space, t);
    branin(x[0], x[1]) + (1.0 - t.fidelity) * (20.0 + 8.0 * (x[0] * 0.7).sin() * (x[1] * 0.4).cos())
}

/// The full-fidelity regret of what a study recommends.
fn regret(space: &Space, outcomes: &[Outcome]) -> f64 {
    let best = study::recommend(outcomes).expect("a recommendation");
    let x = floats(space, &best.trial);
    branin(x[0], x[1]) - BRANIN_MIN
}

fn mean_regret(method: &str, budget: f64, seeds: u64) -> f64 {
    let space = branin_space();
    let total: f64 = (0..seeds)
        .map(|seed| {
            let mut m = by_name(method, &space, seed).unwrap();
            regret(
                &space,
                &study::run(m.as_mut(), budget, 4, |t| branin_at(&space, t)),
            )
        })
        .sum();
    total / seeds as f64
}

/// A method that records the size of every batch it hands out.
struct Spy(Box<dyn Method>, Vec<usize>);

impl Method for Spy {
    fn name(&self) -> &'static str {
        self.0.name()
    }
    fn ask(&mut self, n: usize) -> Vec<Trial> {
        let batch = self.0.ask(n);
        assert!(
            batch.len() <= n,
            "{} handed out {} trials when asked for {n}",
            self.name(),
            batch.len()
        );
        self.1.push(batch.len());
        batch
    }
    fn tell(&mut self, id: TrialId, loss: f64) {
        self.0.tell(id, loss)
    }
}

#[test]
fn the_driver_keeps_the_budget_and_parallelism_and_seeds_repeat() {
    let space = branin_space();
    let study = |name: &str, seed| {
        let mut spy = Spy(by_name(name, &space, seed).unwrap(), Vec::new());
        let out = study::run(&mut spy, 20.0, 3, |t| branin_at(&space, t));
        (out, spy.1)
    };
    for name in METHODS {
        let (out, batches) = study(name, 5);
        let spent: f64 = out.iter().map(|o| o.trial.fidelity).sum();
        assert!(
            spent <= 20.0 + 1e-9 && spent > 15.0,
            "{name} spent {spent} of 20"
        );
        assert!(batches.contains(&3), "{name} ran in parallel: {batches:?}");
        assert!(
            out.iter()
                .all(|o| o.trial.unit.iter().all(|u| (0.0..=1.0).contains(u))),
            "{name}"
        );
        assert_eq!(
            out,
            study(name, 5).0,
            "{name}: the same seed gives the same study"
        );
        assert_ne!(
            out,
            study(name, 6).0,
            "{name}: another seed gives another study"
        );
    }
}

#[test]
fn tpe_and_sobol_beat_random_search_on_branin() {
    let random = mean_regret("random", 60.0, 12);
    let tpe = mean_regret("tpe", 60.0, 12);
    let sobol = mean_regret("sobol", 60.0, 12);
    eprintln!("mean regret at 60 evaluations: random {random:.3}, sobol {sobol:.3}, tpe {tpe:.3}");
    assert!(tpe < 0.5 * random, "TPE {tpe} against random {random}");
    assert!(sobol < random, "Sobol {sobol} against random {random}");
    assert!(tpe < 0.5, "TPE gets near the optimum: regret {tpe}");
}

#[test]
fn multi_fidelity_methods_beat_random_search_at_a_small_budget() {
    let random = mean_regret("random", 15.0, 12);
    for name in ["sh", "hyperband", "asha"] {
        let r = mean_regret(name, 15.0, 12);
        eprintln!("mean regret at 15 evaluations: {name} {r:.3}, random {random:.3}");
        assert!(r < random, "{name} {r} against random {random}");
    }
}

#[test]
fn tpe_finds_the_best_choice_of_a_categorical_parameter() {
    let space = Space {
        params: vec![
            Param {
                name: "model".into(),
                domain: Domain::Categorical(
                    ["knn", "logreg", "forest", "boost"]
                        .map(String::from)
                        .to_vec(),
                ),
            },
            float("x", 0.0, 1.0),
        ],
        fidelity: None,
    };
    let loss = |t: &Trial| {
        let v = space.decode(&t.unit);
        let Value::Float(x) = v[1] else { panic!() };
        let base = match &v[0] {
            Value::Choice(c) if c == "forest" => 0.0,
            _ => 1.0,
        };
        base + (x - 0.3).powi(2)
    };
    let found = (0..10)
        .filter(|&seed| {
            let out = study::run(
                by_name("tpe", &space, seed).unwrap().as_mut(),
                30.0,
                1,
                loss,
            );
            let best = study::recommend(&out).unwrap();
            space.decode(&best.trial.unit)[0] == Value::Choice("forest".into())
        })
        .count();
    assert!(
        found >= 9,
        "TPE picked the best model in {found} of 10 studies"
    );
}

#[test]
fn bad_names_and_spaces_are_refused_with_the_fix() {
    let space = Space {
        params: vec![float("x", 0.0, 1.0)],
        fidelity: None,
    };
    let e = by_name("asha", &space, 0).err().unwrap();
    assert!(
        e.contains("declares none") && e.contains("random, sobol or tpe"),
        "{e}"
    );
    let e = by_name("bayes", &space, 0).err().unwrap();
    assert!(
        e.contains("unknown tuning method `bayes`") && e.contains("hyperband"),
        "{e}"
    );
}
