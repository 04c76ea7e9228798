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
fn asha_and_llm_are_refused_with_the_reason() {
    let err = Rounds::new(&tune("asha", 8, 4)).err().unwrap();
    assert!(err.contains("hyperband"), "{err}");
    let err = Rounds::new(&tune("llm", 8, 4)).err().unwrap();
    assert!(err.contains("cannot use it yet"), "{err}");
}

#[test]
fn propose_from_reads_the_study_the_round_and_the_collected_lists() {
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
        propose_from(vars).unwrap(),
        study.propose(std::slice::from_ref(&printed)).unwrap()
    );
    // A missing earlier round is named.
    let err = propose_from(|name| match name {
        ROUND_ENV => Some("2".into()),
        other => vars(other),
    })
    .unwrap_err();
    assert!(err.starts_with("OBJECTIVES_1 is not set"), "{err}");
    let err = propose_from(|name| match name {
        "OBJECTIVES_0" => Some("0.5".into()),
        other => vars(other),
    })
    .unwrap_err();
    assert!(err.starts_with("OBJECTIVES_0: not the JSON list"), "{err}");
}
