//! The `llm` method (Algorithm 4) on Branin–Hoo with stand-in models: one that predicts
//! perfectly from the prompt's candidates (so the method's question, its reading of the answer
//! and its choice are what is tested), one whose answers are useless, and one that fails. A real
//! model's predictions are measured by `couler tune bench --methods llm` (docs/tuning.md).

mod common;

use common::{BRANIN_MIN, branin, float};
use couler_model::{Message, Model, ModelError, Options};
use couler_tune::llm::{Cards, DataCard, Llm, LlmStats, ModelCard, Target, read_predictions};
use couler_tune::study::{self, Outcome};
use couler_tune::warm::{WARM_TRIALS, WarmStart};
use couler_tune::{Method, Space, Trial, Value, by_name};
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

fn space() -> Space {
    Space {
        params: vec![float("x1", -5.0, 10.0), float("x2", 0.0, 15.0)],
        fidelity: None,
    }
}

fn cards() -> Cards {
    Cards {
        data: DataCard {
            name: "branin".into(),
            input_type: "two real numbers".into(),
            label_space: "real value".into(),
            metrics: vec!["loss".into()],
            description: None,
        },
        model: ModelCard {
            name: "Branin-Hoo".into(),
            structure: "closed form".into(),
            description: "a test function with three global minima".into(),
            hyperparameters: BTreeMap::from([("a".into(), serde_json::json!(1))]),
        },
    }
}

fn target() -> Target {
    Target {
        metric: "loss".into(),
        maximize: false,
    }
}

fn loss(space: &Space, t: &Trial) -> f64 {
    let x: Vec<f64> = space
        .decode(&t.unit)
        .into_iter()
        .map(|v| match v {
            Value::Float(x) => x,
            other => panic!("{other:?}"),
        })
        .collect();
    branin(x[0], x[1])
}

/// Reads the numbered candidates back from the question, as a model must.
fn candidates(question: &str) -> Vec<(f64, f64)> {
    let list = question
        .split("Candidates:\n")
        .nth(1)
        .expect("a candidate list");
    list.lines()
        .take_while(|l| {
            l.split_once(". ")
                .is_some_and(|(n, _)| n.parse::<u32>().is_ok())
        })
        .map(|l| {
            let (_, setting) = l.split_once(". ").unwrap();
            let v: Vec<f64> = setting
                .split(", ")
                .map(|kv| kv.split_once('=').unwrap().1.parse().unwrap())
                .collect();
            (v[0], v[1])
        })
        .collect()
}

/// Predicts each candidate's loss exactly, and keeps every question it was asked.
struct Oracle {
    questions: Mutex<Vec<Vec<Message>>>,
}

impl Model for Oracle {
    fn describe(&self) -> String {
        "an oracle".into()
    }
    fn chat(&self, messages: &[Message], options: &Options) -> Result<String, ModelError> {
        let cs = candidates(&messages[1].content);
        let schema = options.json_schema.as_ref().expect("a schema");
        assert_eq!(schema["properties"]["predictions"]["minItems"], cs.len());
        self.questions.lock().unwrap().push(messages.to_vec());
        let predictions: Vec<_> = cs
            .iter()
            .enumerate()
            .map(|(i, (a, b))| {
                let v = branin(*a, *b);
                serde_json::json!({"candidate": i + 1, "log": [v + 20.0, v + 5.0, v]})
            })
            .collect();
        Ok(serde_json::json!({ "predictions": predictions }).to_string())
    }
}

struct Useless;

impl Model for Useless {
    fn describe(&self) -> String {
        "useless".into()
    }
    fn chat(&self, _: &[Message], _: &Options) -> Result<String, ModelError> {
        Ok("I think the second one will do best.".into())
    }
}

struct Down;

impl Model for Down {
    fn describe(&self) -> String {
        "down".into()
    }
    fn chat(&self, _: &[Message], _: &Options) -> Result<String, ModelError> {
        Err(ModelError(
            "http://127.0.0.1:9/v1: connection refused".into(),
        ))
    }
}

fn study(method: &mut dyn Method, budget: f64, parallelism: usize) -> Vec<Outcome> {
    let s = space();
    study::run(method, budget, parallelism, |t| loss(&s, t))
}

fn best(outcomes: &[Outcome]) -> f64 {
    study::recommend(outcomes).unwrap().loss
}

#[test]
fn with_a_perfect_predictor_it_runs_the_best_candidates_and_beats_random_search() {
    let s = space();
    let (mut llm_sum, mut random_sum) = (0.0, 0.0);
    for seed in 0..10 {
        let oracle = Arc::new(Oracle {
            questions: Mutex::new(Vec::new()),
        });
        let stats = Arc::new(LlmStats::default());
        let mut m = Llm::new(oracle.clone(), &s, cards(), target(), seed).with_stats(stats.clone());
        let outcomes = study(&mut m, 10.0, 2);
        assert_eq!(outcomes.len(), 10);
        assert_eq!(stats.asked.load(Ordering::Relaxed), 5);
        assert_eq!(stats.unusable.load(Ordering::Relaxed), 0);
        // Each round runs the two best of its eight candidates.
        let questions = oracle.questions.lock().unwrap();
        for (round, q) in questions.iter().enumerate() {
            let cs = candidates(&q[1].content);
            assert_eq!(cs.len(), 8);
            let mut truth: Vec<f64> = cs.iter().map(|(a, b)| branin(*a, *b)).collect();
            truth.sort_by(f64::total_cmp);
            let ran: Vec<f64> = outcomes[round * 2..round * 2 + 2]
                .iter()
                .map(|o| o.loss)
                .collect();
            for r in ran {
                assert!(
                    r <= truth[1] + 0.05,
                    "round {round}: ran {r}, best two {truth:?}"
                );
            }
        }
        // The question carries both cards, the space, and from round 2 the results so far.
        let first = &questions[0][1].content;
        for part in [
            "Data Card",
            "dataset: branin",
            "Model Card",
            "- a: 1",
            "x1: real from -5 to 10",
        ] {
            assert!(first.contains(part), "{part} missing from:\n{first}");
        }
        assert!(!first.contains("Measured so far"));
        assert!(questions[1][1].content.contains("Measured so far (loss):"));
        assert!(questions[0][0].content.contains("better when lower"));
        llm_sum += best(&outcomes);
        random_sum += best(&study(
            by_name("random", &s, seed).unwrap().as_mut(),
            10.0,
            2,
        ));
    }
    let (llm, random) = (llm_sum / 10.0, random_sum / 10.0);
    eprintln!("mean best at 10: llm (oracle) {llm:.3}, random {random:.3}, optimum {BRANIN_MIN}");
    assert!(llm < random, "llm {llm} against random {random}");
}

#[test]
fn useless_answers_fall_back_to_the_quasi_random_order_and_are_counted() {
    let s = space();
    let stats = Arc::new(LlmStats::default());
    let mut m = Llm::new(Arc::new(Useless), &s, cards(), target(), 3).with_stats(stats.clone());
    let outcomes = study(&mut m, 6.0, 3);
    assert_eq!(stats.asked.load(Ordering::Relaxed), 2);
    assert_eq!(stats.unusable.load(Ordering::Relaxed), 2);
    assert_eq!(stats.error(), None);
    // The first three of each round's eight candidates: the Sobol' sequence's points 0-2, 8-10.
    let mut sobol = by_name("sobol", &s, 3).unwrap();
    let points: Vec<Vec<f64>> = sobol.ask(16).into_iter().map(|t| t.unit).collect();
    let ran: Vec<&Vec<f64>> = outcomes.iter().map(|o| &o.trial.unit).collect();
    let expected: Vec<&Vec<f64>> = [0, 1, 2, 8, 9, 10].iter().map(|&i| &points[i]).collect();
    assert_eq!(ran, expected);
}

#[test]
fn a_model_that_fails_is_reported_as_an_error() {
    let s = space();
    let stats = Arc::new(LlmStats::default());
    let mut m = Llm::new(Arc::new(Down), &s, cards(), target(), 0).with_stats(stats.clone());
    let outcomes = study(&mut m, 2.0, 1);
    assert_eq!(outcomes.len(), 2, "the study still finishes");
    let e = stats.error().expect("the error is kept");
    assert!(e.contains("connection refused"), "{e}");
}

#[test]
fn answers_are_read_by_candidate_number_and_last_log_value() {
    let a = r#"{"predictions": [{"candidate": 3, "log": [1, 2, 0.5]}, {"candidate": 1, "log": [7]}, {"candidate": 1, "log": [9]}, {"candidate": 0, "log": [1]}, {"log": [1]}]}"#;
    assert_eq!(
        read_predictions(a, 3),
        Some(vec![Some(7.0), None, Some(0.5)])
    );
}

#[test]
fn cards_are_read_from_yaml_and_bad_ones_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data-card.yaml");
    let model = dir.path().join("model-card.yaml");
    std::fs::write(
        &data,
        "name: breast-cancer\ninput_type: tabular\nlabel_space: 2 classes\nmetrics: [accuracy]\n",
    )
    .unwrap();
    std::fs::write(
        &model,
        "name: k-NN\nstructure: instance-based\ndescription: votes of the k nearest\nhyperparameters: {metric: euclidean}\n",
    )
    .unwrap();
    let cards = Cards::load(&data, &model).unwrap();
    assert_eq!(cards.data.label_space, "2 classes");
    assert_eq!(cards.model.hyperparameters["metric"], "euclidean");
    std::fs::write(&data, "name: x\ninput: tabular\n").unwrap();
    let e = Cards::load(&data, &model).unwrap_err();
    assert!(
        e.contains("data-card.yaml") && e.contains("not a Data Card") && e.contains("input"),
        "{e}"
    );
}

#[test]
fn a_warm_start_runs_the_llms_picks_first_and_tpe_learns_from_them() {
    let s = space();
    let (mut warm_sum, mut tpe_sum) = (0.0, 0.0);
    for seed in 0..10 {
        let stats = Arc::new(LlmStats::default());
        let oracle = Arc::new(Oracle {
            questions: Mutex::new(Vec::new()),
        });
        let llm = Llm::new(oracle, &s, cards(), target(), seed).with_stats(stats.clone());
        let tpe = by_name("tpe", &s, seed).unwrap();
        let mut m = WarmStart::new("tpe", llm, tpe, WARM_TRIALS).unwrap();
        assert_eq!(m.name(), "tpe+llm");
        let outcomes = study(&mut m, 15.0, 1);
        assert_eq!(outcomes.len(), 15);
        let ids: Vec<usize> = outcomes.iter().map(|o| o.trial.id).collect();
        assert_eq!(
            ids,
            (0..15).collect::<Vec<_>>(),
            "one numbering for the study"
        );
        assert_eq!(stats.asked.load(Ordering::Relaxed), WARM_TRIALS);
        warm_sum += best(&outcomes);
        tpe_sum += best(&study(by_name("tpe", &s, seed).unwrap().as_mut(), 15.0, 1));
    }
    let (warm, tpe) = (warm_sum / 10.0, tpe_sum / 10.0);
    eprintln!("mean best at 15: tpe+llm (oracle) {warm:.3}, tpe {tpe:.3}");
    assert!(warm < tpe, "tpe+llm {warm} against tpe {tpe}");
    assert!(
        WarmStart::new(
            "bayes",
            Llm::new(Arc::new(Down), &s, cards(), target(), 0),
            by_name("tpe", &s, 0).unwrap(),
            5
        )
        .is_err()
    );
}

/// TPE takes observed trials as its own: after ten observations whose loss grows with the
/// distance from (0.2, 0.2) it models at once, and proposes nearer that point than a fresh TPE
/// (still in its random startup) does.
#[test]
fn tpe_models_from_observed_trials() {
    let s = space();
    let dist = |u: &[f64]| ((u[0] - 0.2).powi(2) + (u[1] - 0.2).powi(2)).sqrt();
    let mut informed = by_name("tpe", &s, 7).unwrap();
    let mut grid = by_name("sobol", &s, 1).unwrap();
    for t in grid.ask(10) {
        informed.observe(&t.unit, 1.0, dist(&t.unit));
    }
    let mut fresh = by_name("tpe", &s, 7).unwrap();
    let mean =
        |m: &mut Box<dyn Method>| m.ask(20).iter().map(|t| dist(&t.unit)).sum::<f64>() / 20.0;
    let (a, b) = (mean(&mut informed), mean(&mut fresh));
    assert!(a < b * 0.8, "informed {a} against fresh {b}");
}
