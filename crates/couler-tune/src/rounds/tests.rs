use super::*;
use crate::study;
use couler_ir::tune::Tune;
use serde_json::json;

fn tune(method: &str, budget: u32, parallelism: u32) -> Tune {
    serde_json::from_value(json!({
        "space": [
            {"name": "x", "type": "float", "low": -5, "high": 10},
            {"name": "y", "type": "float", "low": 0, "high": 15},
            {"name": "kind", "type": "categorical", "choices": ["a", "b", "c"]},
        ],
        "objective": {"parameter": "score", "goal": "minimize"},
        "fidelity": {"name": "epochs", "min": 1, "max": 27},
        "budget": budget,
        "parallelism": parallelism,
        "method": method,
        "seed": 7,
    }))
    .expect("a tune block")
}

/// A smooth objective of a setting, lower is better, that depends on the fidelity as a learning
/// curve does: so the results steer every method.
fn objective(setting: &Json) -> f64 {
    let x = setting["x"].as_f64().unwrap();
    let y = setting["y"].as_f64().unwrap();
    let kind = ["a", "b", "c"]
        .iter()
        .position(|k| setting["kind"] == *k)
        .unwrap() as f64;
    let epochs = setting.get("epochs").and_then(Json::as_f64).unwrap_or(27.0);
    (x - 2.0).powi(2) + (y - 4.0).abs() + kind + 30.0 / epochs
}

/// Runs the study round by round through `propose`, as the lowered steps do, printing each
/// objective as a trial would.
fn rounds(study: &Rounds) -> Vec<Vec<Json>> {
    let mut printed: Vec<Vec<String>> = Vec::new();
    let mut settings = Vec::new();
    loop {
        let round = study.propose(&printed).expect("proposes");
        if round.is_empty() {
            return settings;
        }
        printed.push(round.iter().map(|s| format!("{}", objective(s))).collect());
        settings.push(round);
    }
}

#[test]
fn rounds_replayed_from_printed_objectives_are_the_driver_s_batches() {
    for method in ["random", "sobol", "tpe", "sh", "hyperband"] {
        let t = tune(method, 24, 4);
        let study = Rounds::new(&t).unwrap();
        let replayed = rounds(&study);
        let sizes: Vec<usize> = replayed.iter().map(Vec::len).collect();
        assert_eq!(sizes, study.plan(), "{method}: the plan is what runs");
        // The same study under the in-process driver runs the same settings in the same order.
        let mut m = crate::by_name(method, &study.space, t.seed).unwrap();
        let multi = t.method.multi_fidelity();
        let outcomes = study::run(m.as_mut(), 24.0, 4, |trial| {
            objective(&setting(&study.space, trial, multi))
        });
        let direct: Vec<Json> = outcomes
            .iter()
            .map(|o| setting(&study.space, &o.trial, multi))
            .collect();
        let flat: Vec<Json> = replayed.into_iter().flatten().collect();
        assert_eq!(flat, direct, "{method}");
        assert!(flat.len() >= 6, "{method}: {}", flat.len());
    }
}

#[test]
fn the_plan_does_not_depend_on_the_results_for_the_methods_that_lower() {
    for method in ["tpe", "sh", "hyperband"] {
        let study = Rounds::new(&tune(method, 30, 5)).unwrap();
        let plan = study.plan();
        // Replay with results of the opposite order: the same round sizes.
        let mut printed: Vec<Vec<String>> = Vec::new();
        for (r, size) in plan.iter().enumerate() {
            let round = study.propose(&printed).unwrap();
            assert_eq!(round.len(), *size, "{method} round {r}");
            printed.push(round.iter().map(|s| format!("{}", -objective(s))).collect());
        }
        assert!(study.propose(&printed).unwrap().is_empty(), "{method}");
        assert!(plan.len() > 1, "{method} runs in rounds: {plan:?}");
    }
}

#[test]
fn multi_fidelity_settings_carry_the_fidelity_and_the_others_do_not() {
    let sh = Rounds::new(&tune("sh", 12, 9)).unwrap();
    let first = sh.propose(&[]).unwrap();
    let epochs: Vec<i64> = first
        .iter()
        .map(|s| s["epochs"].as_i64().unwrap())
        .collect();
    assert!(epochs.iter().all(|e| (1..=27).contains(e)), "{epochs:?}");
    assert!(epochs.iter().any(|e| *e < 27), "sh starts low: {epochs:?}");
    let tpe = Rounds::new(&tune("tpe", 12, 4)).unwrap();
    assert!(tpe.propose(&[]).unwrap()[0].get("epochs").is_none());
}

#[test]
fn a_maximised_objective_is_negated_and_bad_results_are_named() {
    let mut t = tune("tpe", 8, 4);
    t.objective.goal = Goal::Maximize;
    let study = Rounds::new(&t).unwrap();
    assert_eq!(study.loss(" 0.75\n").unwrap(), -0.75);
    let four = vec!["1".to_string(); 4];
    let err = study.propose(&[four[..3].to_vec()]).unwrap_err();
    assert!(
        err.contains("round 0 ran 4 trials and 3 objective values"),
        "{err}"
    );
    let mut bad = four.clone();
    bad[2] = "oops".into();
    let err = study.propose(&[bad]).unwrap_err();
    assert!(
        err.contains("round 0, trial 2") && err.contains("\"oops\""),
        "{err}"
    );
}

#[test]
fn asha_and_an_llm_study_without_a_model_are_refused_with_the_reason() {
    let err = Rounds::new(&tune("asha", 8, 4)).err().unwrap();
    assert!(err.contains("hyperband"), "{err}");
    let err = Rounds::new(&tune("llm", 8, 4)).err().unwrap();
    assert!(err.contains("add an `llm` block"), "{err}");
}

/// A tune block of method `llm` over [`tune`]'s space, `candidates` a round.
fn llm_tune(budget: u32, parallelism: u32, candidates: u32) -> Tune {
    let mut t = tune("llm", budget, parallelism);
    t.llm = Some(
        serde_json::from_value(json!({
            "model": "scripted",
            "candidates": candidates,
            "dataCard": {"name": "toy", "inputType": "tabular", "labelSpace": "real value",
                         "metrics": ["score"]},
            "modelCard": {"name": "quadratic", "structure": "a formula",
                          "description": "lower is better near x=2, y=4"},
        }))
        .unwrap(),
    );
    t
}

/// A model that answers from a script, keeping every question.
struct Scripted {
    answers: std::sync::Mutex<Vec<String>>,
    asked: Arc<std::sync::Mutex<Vec<String>>>,
}

impl Scripted {
    fn new(answers: &[&str]) -> (Box<Scripted>, Arc<std::sync::Mutex<Vec<String>>>) {
        let asked = Arc::default();
        let model = Scripted {
            answers: std::sync::Mutex::new(answers.iter().rev().map(|a| a.to_string()).collect()),
            asked: Arc::clone(&asked),
        };
        (Box::new(model), asked)
    }
}

impl Model for Scripted {
    fn describe(&self) -> String {
        "scripted".into()
    }
    fn chat(&self, messages: &[Message], _: &Options) -> Result<String, ModelError> {
        self.asked.lock().unwrap().push(messages[1].content.clone());
        self.answers
            .lock()
            .unwrap()
            .pop()
            .ok_or_else(|| ModelError("the script is over".into()))
    }
}

/// Predicted final scores for candidates 1..=4, lower better: the order 3, 1, 4, 2.
const ANSWER_0: &str = r#"{"predictions": [{"candidate": 1, "log": [5, 4, 2]}, {"candidate": 2, "log": [9, 9, 9]}, {"candidate": 3, "log": [3, 2, 1]}, {"candidate": 4, "log": [6, 5, 3]}]}"#;
/// The order 2, 4, 1, 3.
const ANSWER_1: &str = r#"{"predictions": [{"candidate": 1, "log": [5, 4, 3]}, {"candidate": 2, "log": [3, 2, 1]}, {"candidate": 3, "log": [9, 9, 9]}, {"candidate": 4, "log": [6, 5, 2]}]}"#;

#[test]
fn llm_rounds_replay_the_recorded_answers_and_ask_the_model_once_a_round() {
    let t = llm_tune(4, 2, 4);
    let study = Rounds::new(&t).unwrap();
    assert!(
        !study.fixed_first(),
        "llm's round 0 is proposed at run time"
    );
    assert_eq!(study.plan(), vec![2, 2]);
    assert!(study.propose(&[]).unwrap_err().contains("bug"));

    let (model, asked) = Scripted::new(&[ANSWER_0]);
    let first = study.propose_llm(&[], Vec::new(), model).unwrap();
    assert_eq!(first.answers, [ANSWER_0]);
    assert_eq!(asked.lock().unwrap().len(), 1);
    let printed: Vec<String> = first
        .settings
        .iter()
        .map(|s| format!("{}", objective(s)))
        .collect();
    let (model, asked) = Scripted::new(&[ANSWER_1]);
    let second = study
        .propose_llm(
            std::slice::from_ref(&printed),
            vec![vec![ANSWER_0.to_string()]],
            model,
        )
        .unwrap();
    let asked = asked.lock().unwrap();
    assert_eq!(asked.len(), 1, "round 0 is replayed, not asked again");
    assert!(asked[0].contains("Measured so far (score)"), "{}", asked[0]);
    assert_eq!(second.answers, [ANSWER_1]);

    // The same study in one process, asked both answers in turn, runs the same settings: the
    // replay is the method itself.
    let (model, _) = Scripted::new(&[ANSWER_0, ANSWER_1]);
    let mut direct = study.method(
        Arc::from(model as Box<dyn Model + Send + Sync>),
        Arc::default(),
    );
    let outcomes = study::run(direct.as_mut(), 4.0, 2, |trial| {
        objective(&setting(&study.space, trial, false))
    });
    let direct: Vec<Json> = outcomes
        .iter()
        .map(|o| setting(&study.space, &o.trial, false))
        .collect();
    let replayed: Vec<Json> = first.settings.into_iter().chain(second.settings).collect();
    assert_eq!(replayed, direct);
    // The answer steered the round: candidates 3 then 1 of the first four Sobol' points ran.
    let mut seq = crate::sobol::SobolSequence::new(study.space.dims(), t.seed);
    let points: Vec<Json> = (0..4)
        .map(|_| {
            let unit = seq.next_point(study.space.dims());
            setting(
                &study.space,
                &Trial {
                    id: 0,
                    unit,
                    fidelity: 1.0,
                },
                false,
            )
        })
        .collect();
    assert_eq!(replayed[..2], [points[2].clone(), points[0].clone()]);
}

#[test]
fn an_llm_round_needs_every_earlier_answer_and_a_failing_model_fails_it() {
    let study = Rounds::new(&llm_tune(4, 2, 4)).unwrap();
    let (model, _) = Scripted::new(&[]);
    let err = study
        .propose_llm(&[vec!["1".into(), "2".into()]], Vec::new(), model)
        .unwrap_err();
    assert!(
        err.contains("answers of the 1 rounds before, and 0 came"),
        "{err}"
    );
    let (model, _) = Scripted::new(&[]);
    let err = study.propose_llm(&[], Vec::new(), model).unwrap_err();
    assert!(
        err.contains("the model failed: the script is over"),
        "{err}"
    );
    // An answer of no use is not a failure: the candidates run in quasi-random order.
    let (model, _) = Scripted::new(&["I cannot predict that."]);
    let p = study.propose_llm(&[], Vec::new(), model).unwrap();
    assert_eq!(p.settings.len(), 2);
    assert_eq!(p.answers, ["I cannot predict that."]);
}

#[test]
fn a_warm_start_asks_for_the_first_trials_only_and_then_the_method_takes_over() {
    let mut t = llm_tune(8, 4, 4);
    t.method = couler_ir::tune::TuneMethod::Tpe;
    let study = Rounds::new(&t).unwrap();
    assert!(!study.fixed_first());
    // The model proposes 5 trials (4, then 1), TPE the other 3.
    assert_eq!(study.plan(), vec![4, 1, 3]);
    let mut printed: Vec<Vec<String>> = Vec::new();
    let mut answers: Vec<Vec<String>> = Vec::new();
    for (r, script) in [&[ANSWER_0][..], &[ANSWER_1][..], &[][..]]
        .iter()
        .enumerate()
    {
        let (model, asked) = Scripted::new(script);
        let p = study
            .propose_llm(&printed, answers.clone(), model)
            .unwrap_or_else(|e| panic!("round {r}: {e}"));
        assert_eq!(asked.lock().unwrap().len(), script.len(), "round {r}");
        assert_eq!(p.answers, *script, "round {r}");
        printed.push(
            p.settings
                .iter()
                .map(|s| format!("{}", objective(s)))
                .collect(),
        );
        answers.push(p.answers);
    }
    assert_eq!(printed.iter().map(Vec::len).collect::<Vec<_>>(), [4, 1, 3]);
    // A warm start of a method without rounds of its own (Sobol') runs the model's 5 first.
    t.method = couler_ir::tune::TuneMethod::Sobol;
    assert_eq!(Rounds::new(&t).unwrap().plan(), vec![5, 3]);
    // ASHA has no rounds to warm.
    t.method = couler_ir::tune::TuneMethod::Asha;
    assert!(Rounds::new(&t).is_err());
}

#[test]
fn propose_step_reads_the_study_the_round_and_the_collected_lists() {
    let t = tune("tpe", 12, 4);
    let study = Rounds::new(&t).unwrap();
    let r0 = study.propose(&[]).unwrap();
    let printed: Vec<String> = r0.iter().map(|s| format!("{}", objective(s))).collect();
    let vars = |name: &str| match name {
        STUDY_ENV => Some(serde_json::to_string(&t).unwrap()),
        ROUND_ENV => Some("1".into()),
        "OBJECTIVES_0" => Some(serde_json::to_string(&printed).unwrap()),
        _ => None,
    };
    assert_eq!(
        propose_step(vars).unwrap(),
        Json::Array(study.propose(std::slice::from_ref(&printed)).unwrap()).to_string()
    );
    // A missing earlier round is named.
    let err = propose_step(|name| match name {
        ROUND_ENV => Some("2".into()),
        other => vars(other),
    })
    .unwrap_err();
    assert!(err.starts_with("OBJECTIVES_1 is not set"), "{err}");
    let err = propose_step(|name| match name {
        "OBJECTIVES_0" => Some("0.5".into()),
        other => vars(other),
    })
    .unwrap_err();
    assert!(err.starts_with("OBJECTIVES_0: not the JSON list"), "{err}");
}
