use super::*;
use serde_json::json;

fn tune(method: &str, budget: u32, parallelism: u32) -> Tune {
    serde_json::from_value(json!({
        "space": [
            {"name": "x", "type": "float", "low": -5, "high": 10},
            {"name": "kind", "type": "categorical", "choices": ["a", "b"]},
        ],
        "objective": {"parameter": "score", "goal": "minimize"},
        "fidelity": {"name": "epochs", "min": 1, "max": 27},
        "budget": budget,
        "parallelism": parallelism,
        "method": method,
        "seed": 11,
    }))
    .expect("a tune block")
}

/// Lower is better; the optimum is x = 2, kind a, and more epochs bring a trial closer to it, as
/// a learning curve does.
fn objective(setting: &Json) -> f64 {
    let x = setting["x"].as_f64().unwrap();
    let kind = if setting["kind"] == "a" { 0.0 } else { 1.0 };
    let epochs = setting.get("epochs").and_then(Json::as_f64).unwrap_or(27.0);
    (x - 2.0).powi(2) + kind + 10.0 / epochs
}

/// A run of the study by its workers, simulated: a trial takes as long as its epochs, plus a
/// little that depends on x (so results arrive out of order); a worker asks for a trial as soon
/// as it is free. Returns every trial started, in order, the journal and the most trials that
/// ran at once.
struct Sim {
    started: Vec<(usize, Json)>,
    journal: Vec<Event>,
    most_at_once: usize,
    /// Each ask: the free workers, and how many trials it handed out.
    asks: Vec<(usize, usize)>,
}

fn simulate(live: &mut Live, stop_after_tells: Option<usize>) -> Sim {
    let mut sim = Sim {
        started: Vec::new(),
        journal: vec![live.study_event()],
        most_at_once: 0,
        asks: Vec::new(),
    };
    let mut running: Vec<(f64, usize, Json)> = Vec::new();
    let mut now = 0.0;
    let mut tells = 0;
    loop {
        let free = live.workers() - running.len();
        sim.journal.push(Event::Ask(free));
        let handed = live.ask(free);
        sim.asks.push((free, handed.len()));
        for (k, setting) in handed {
            let epochs = setting.get("epochs").and_then(Json::as_f64).unwrap_or(27.0);
            let x = setting["x"].as_f64().unwrap();
            running.push((now + epochs + (x + 5.0) / 7.0, k, setting.clone()));
            sim.started.push((k, setting));
        }
        sim.most_at_once = sim.most_at_once.max(running.len());
        if running.is_empty() || stop_after_tells == Some(tells) {
            return sim;
        }
        let next = (0..running.len())
            .min_by(|&a, &b| running[a].0.total_cmp(&running[b].0))
            .unwrap();
        let (end, k, setting) = running.remove(next);
        now = end;
        let text = objective(&setting).to_string();
        live.tell(k, &text).expect("a number");
        sim.journal.push(Event::Tell {
            trial: k,
            objective: text,
        });
        tells += 1;
    }
}

#[test]
fn asha_keeps_every_worker_busy_spends_the_budget_and_promotes_as_results_arrive() {
    let mut live = Live::new(&tune("asha", 30, 4)).unwrap();
    let sim = simulate(&mut live, None);
    assert_eq!(sim.most_at_once, 4);
    let epochs: Vec<f64> = sim
        .started
        .iter()
        .map(|(_, s)| s["epochs"].as_f64().unwrap())
        .collect();
    let spent: f64 = epochs.iter().map(|e| e / 27.0).sum();
    assert!(spent <= 30.0 + 1e-9 && spent > 29.0 - 1.0, "{spent}");
    // A promotion starts before the lowest rung's configurations have all been started: ASHA
    // does not wait for a rung to fill.
    let first_promoted = epochs.iter().position(|&e| e > 1.0).expect("a promotion");
    let last_new = epochs.iter().rposition(|&e| e == 1.0).unwrap();
    assert!(first_promoted < last_new, "{epochs:?}");
    assert!(epochs.contains(&27.0), "some trial reaches full fidelity");
    // The numbers are the start order.
    let ks: Vec<usize> = sim.started.iter().map(|(k, _)| *k).collect();
    assert_eq!(ks, (0..ks.len()).collect::<Vec<_>>());
}

#[test]
fn the_selection_is_the_best_at_the_top_fidelity_and_publishes_every_trial() {
    let mut live = Live::new(&tune("asha", 40, 3)).unwrap();
    let sim = simulate(&mut live, None);
    let chosen = live.select().unwrap();
    let top = sim
        .started
        .iter()
        .map(|(_, s)| s["epochs"].as_f64().unwrap())
        .fold(0.0, f64::max);
    let best = sim
        .started
        .iter()
        .filter(|(_, s)| s["epochs"].as_f64().unwrap() == top)
        .min_by(|a, b| objective(&a.1).total_cmp(&objective(&b.1)))
        .unwrap();
    assert_eq!(chosen.parameters[BEST_TRIAL], best.0.to_string());
    assert_eq!(
        chosen.parameters["best_x"],
        best.1["x"].to_string(),
        "{chosen:?}"
    );
    assert_eq!(
        chosen.parameters["best_kind"],
        best.1["kind"].as_str().unwrap()
    );
    assert!(!chosen.parameters.contains_key("best_epochs"));
    assert_eq!(
        chosen.parameters[BEST_OBJECTIVE],
        objective(&best.1).to_string()
    );
    // Near the optimum (x = 2, kind a: 0.37 at 27 epochs), far from the space's mean.
    assert!(objective(&best.1) < 3.0, "{}", objective(&best.1));
    let records: Vec<Json> = serde_json::from_str(&chosen.result).unwrap();
    assert_eq!(records.len(), sim.started.len());
    assert_eq!(
        records[0]["objective"].as_f64().unwrap(),
        objective(&sim.started[0].1)
    );
}

#[test]
fn a_resumed_study_replays_its_journal_and_reruns_only_the_unreported_trials() {
    let t = tune("asha", 30, 4);
    let whole = simulate(&mut Live::new(&t).unwrap(), None);
    for tells in [0, 1, 5, 17] {
        let mut first = Live::new(&t).unwrap();
        let cut = simulate(&mut first, Some(tells));
        let (mut resumed, pending) = Live::resume(&t, &cut.journal).unwrap();
        assert_eq!(
            resumed.started(),
            cut.started.len(),
            "after {tells} results"
        );
        let reported: Vec<usize> = cut
            .journal
            .iter()
            .filter_map(|e| match e {
                Event::Tell { trial, .. } => Some(*trial),
                _ => None,
            })
            .collect();
        let unreported: Vec<(usize, Json)> = cut
            .started
            .iter()
            .filter(|(k, _)| !reported.contains(k))
            .cloned()
            .collect();
        assert_eq!(pending, unreported, "after {tells} results");
        // The interrupted study started what the uninterrupted one did, in the same order.
        assert_eq!(cut.started, whole.started[..cut.started.len()]);
        // Asked for the free workers, the resumed study goes on as the uninterrupted one did.
        let next = resumed.ask(4 - unreported.len());
        for (k, setting) in &next {
            assert_eq!(
                whole.started[*k],
                (*k, setting.clone()),
                "after {tells} results"
            );
        }
    }
    assert!(Live::resume(&t, &[]).unwrap().1.is_empty());
}

#[test]
fn a_journal_of_another_study_or_a_bad_objective_is_refused_with_the_reason() {
    let t = tune("asha", 30, 4);
    let mut live = Live::new(&t).unwrap();
    let sim = simulate(&mut live, Some(2));
    let mut changed = t.clone();
    changed.budget = 31;
    let err = Live::resume(&changed, &sim.journal).err().unwrap();
    assert!(err.contains("`tune` block changed"), "{err}");
    let mut live = Live::new(&t).unwrap();
    let (k, _) = live.ask(1)[0].clone();
    let err = live.tell(k, "n/a").unwrap_err();
    assert!(err.contains("\"n/a\" is not a number"), "{err}");
    assert!(live.tell(99, "1").unwrap_err().contains("never started"));
    assert!(
        live.select()
            .unwrap_err()
            .contains("trial 0 has not reported")
    );
}

#[test]
fn a_learning_method_asynchronously_keeps_its_workers_busy_and_finds_the_optimum() {
    let mut t = tune("tpe", 24, 3);
    t.fidelity = None;
    let mut live = Live::new(&t).unwrap();
    let sim = simulate(&mut live, None);
    assert_eq!(sim.started.len(), 24);
    assert_eq!(sim.most_at_once, 3);
    // Each result starts the next trial at once, until the budget is spent: one worker frees,
    // one trial starts.
    assert_eq!(sim.asks[0], (3, 3));
    let handed: usize = sim.asks.iter().map(|a| a.1).sum();
    assert_eq!(handed, 24);
    let busy = sim.asks.iter().take_while(|a| a.1 > 0).count();
    assert!(
        sim.asks[1..busy].iter().all(|&a| a == (1, 1)),
        "{:?}",
        sim.asks
    );
    let best = live.select().unwrap();
    let x: f64 = best.parameters["best_x"].parse().unwrap();
    assert!((x - 2.0).abs() < 1.5, "{best:?}");
}

#[test]
fn a_study_with_a_model_does_not_run_asynchronously() {
    let mut t = tune("tpe", 8, 2);
    t.llm = Some(
        serde_json::from_value(json!({
            "model": "local",
            "dataCard": {"name": "d", "inputType": "t", "labelSpace": "l", "metrics": ["score"]},
            "modelCard": {"name": "m", "structure": "s", "description": "d"},
        }))
        .unwrap(),
    );
    let err = Live::new(&t).err().unwrap();
    assert!(err.contains("runs in rounds"), "{err}");
}
