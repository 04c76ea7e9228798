//! The LCBench surrogate as `couler tune bench` reads it (`../shared/benchmarks/yahpo-lcbench`),
//! and a small benchmark through the one driver.

use std::path::PathBuf;

use couler_tune::bench::{self, BenchPlan};
use couler_tune::lcbench::Surrogate;
use couler_tune::{Domain, Value};

fn surrogate() -> Surrogate {
    let dir =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/benchmarks/yahpo-lcbench");
    Surrogate::load(&dir).unwrap_or_else(|e| panic!("the LCBench surrogate: {e}"))
}

fn default_config() -> Vec<Value> {
    // config_space.json's defaults, in the space's order.
    vec![
        Value::Int(91),
        Value::Float(0.003_162_277_7),
        Value::Float(0.545),
        Value::Float(0.050_005),
        Value::Int(3),
        Value::Int(256),
        Value::Float(0.5),
    ]
}

#[test]
fn the_surrogate_reads_its_space_and_its_outputs_are_in_yahpo_order() {
    let s = surrogate();
    assert_eq!(s.instances().len(), 34);
    assert!(s.instances().iter().any(|i| i == "3945"));
    let space = s.space();
    let names: Vec<&str> = space.params.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, &couler_tune::lcbench::CONT_NAMES[1..]);
    let Domain::Float {
        low,
        high,
        log: true,
    } = space.params[1].domain
    else {
        panic!("learning_rate: {:?}", space.params[1])
    };
    assert!((low - 1e-4).abs() < 1e-12 && (high - 0.1).abs() < 1e-12);
    let f = space.fidelity.as_ref().unwrap();
    assert_eq!((f.min, f.max), (1.0, 52.0));
    // The same configuration at growing epochs: training time grows, validation accuracy (a
    // percentage) rises, validation cross-entropy falls.
    let epochs = [1.0, 10.0, 52.0];
    let m = s
        .evaluate("3945", &epochs.map(|e| (default_config(), e)))
        .unwrap();
    assert!(m[0].time < m[1].time && m[1].time < m[2].time, "{m:?}");
    assert!(
        m[0].val_accuracy < m[2].val_accuracy && (1.0..=100.0).contains(&m[2].val_accuracy),
        "{m:?}"
    );
    assert!(m[0].val_cross_entropy > m[2].val_cross_entropy, "{m:?}");
    assert!((0.0..=1.0).contains(&m[2].val_balanced_accuracy), "{m:?}");
    // Data sets differ.
    let other = s.evaluate("7593", &[(default_config(), 52.0)]).unwrap();
    assert_ne!(other[0].val_accuracy, m[2].val_accuracy);
    let e = s.evaluate("12", &[(default_config(), 52.0)]).unwrap_err();
    assert!(
        e.contains("unknown LCBench data set `12`") && e.contains("3945"),
        "{e}"
    );
}

#[test]
fn a_small_benchmark_ranks_every_method_and_random_search_is_beaten_at_thirty() {
    let s = surrogate();
    let plan = BenchPlan {
        instances: vec!["3945".into(), "126025".into()],
        budgets: vec![10.0, 30.0],
        seeds: 3,
        methods: couler_tune::METHODS.iter().map(|m| m.to_string()).collect(),
        parallelism: 1,
        llm: None,
    };
    let mut lines = Vec::new();
    let records = bench::run(&s, &plan, |l| lines.push(l.to_string())).unwrap();
    assert_eq!(lines.len(), 2);
    assert_eq!(records.len(), plan.methods.len() * plan.budgets.len());
    for r in &records {
        eprintln!(
            "{:>9} budget {:>3}: regret {:.4}, rank {:.2}, {} queries",
            r.method, r.budget, r.mean_regret, r.average_rank, r.evaluations
        );
        assert!((0.0..=1.0).contains(&r.mean_regret), "{r:?}");
        assert!(
            (1.0..=plan.methods.len() as f64).contains(&r.average_rank),
            "{r:?}"
        );
        assert_eq!(r.studies, 6);
    }
    let mean_rank: f64 = records
        .iter()
        .filter(|r| r.budget == 10.0)
        .map(|r| r.average_rank)
        .sum::<f64>();
    assert!(
        (mean_rank - 21.0).abs() < 1e-9,
        "ranks 1..6 average to 3.5 each: {mean_rank}"
    );
    let regret = |m: &str, b: f64| {
        records
            .iter()
            .find(|r| r.method == m && r.budget == b)
            .unwrap()
            .mean_regret
    };
    for m in ["random", "sobol", "tpe"] {
        // At full fidelity, the study at 30 continues the one at 10.
        assert!(
            regret(m, 30.0) <= regret(m, 10.0) + 1e-12,
            "{m}: more budget, no worse"
        );
    }
    for m in ["sh", "hyperband"] {
        assert!(
            regret(m, 30.0) < regret("random", 30.0),
            "{m} beats random search at 30 evaluations"
        );
    }
    let multi = couler_tune::METHODS
        .iter()
        .filter(|m| ["sh", "hyperband", "asha"].contains(m));
    assert!(
        multi
            .map(|m| records
                .iter()
                .find(|r| r.method == *m && r.budget == 10.0)
                .unwrap()
                .evaluations)
            .all(|n| n > 60),
        "multi-fidelity methods make many cheap queries"
    );
}
