//! Every example in examples/ (not examples/cluster) run for real on the local runtime, with its
//! expected outcome asserted.

mod common;

use common::*;
use couler_run::RunStatus;

fn example(name: &str) -> couler_ir::Workflow {
    load_file(&repo_root().join("examples").join(name))
}

fn times(r: &couler_run::RunReport, node: &str) -> (f64, f64) {
    let s = step(r, node);
    (
        s.started_at.unwrap_or(f64::NAN),
        s.finished_at.unwrap_or(f64::NAN),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn hello_prints_the_greeting() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let r = run(&example("hello.yaml"), dir.path()).await;
    assert_eq!(r.status, RunStatus::Succeeded);
    assert_eq!(stdout(&r, "say-hello").trim(), "hello world");
}

#[tokio::test(flavor = "multi_thread")]
async fn diamond_runs_in_dependency_order() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let r = run(&example("diamond.yaml"), dir.path()).await;
    assert_eq!(r.status, RunStatus::Succeeded);
    let (_, a_end) = times(&r, "a");
    let (b_start, b_end) = times(&r, "b");
    let (c_start, c_end) = times(&r, "c");
    let (d_start, _) = times(&r, "d");
    assert!(
        a_end <= b_start && a_end <= c_start,
        "b and c start after a ends"
    );
    assert!(
        d_start >= b_end && d_start >= c_end,
        "d starts after b and c end"
    );
    for s in ["a", "b", "c", "d"] {
        assert_eq!(stdout(&r, s).trim(), s);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn artifact_passing_delivers_the_file() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let r = run(&example("artifact-passing.yaml"), dir.path()).await;
    assert_eq!(r.status, RunStatus::Succeeded);
    assert_eq!(
        artifact(&r, dir.path(), "producer", "message").await,
        b"hello world\n"
    );
    assert_eq!(stdout(&r, "consumer"), "hello world\n");
}

#[tokio::test(flavor = "multi_thread")]
async fn coin_flip_runs_exactly_one_branch() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let r = run(&example("coin-flip.yaml"), dir.path()).await;
    assert_eq!(r.status, RunStatus::Succeeded);
    let side = stdout(&r, "flip-coin").trim().to_string();
    let other = if side == "heads" { "tails" } else { "heads" };
    assert!(side == "heads" || side == "tails");
    assert_eq!(status(&r, &side), "Succeeded");
    assert_eq!(status(&r, other), "Skipped");
}

#[tokio::test(flavor = "multi_thread")]
async fn flip_until_tails_loops_until_tails_or_the_cap() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let r = run(&example("flip-until-tails.yaml"), dir.path()).await;
    assert_eq!(r.status, RunStatus::Succeeded);
    let out = step(&r, "flip-coin").outputs.clone().unwrap_or_default();
    let iterations = out.iterations.unwrap_or(0);
    let last = out.result.unwrap_or_default();
    assert!(iterations >= 1);
    assert!(last == "tails" || iterations == 20, "{iterations} {last}");
    assert_eq!(
        stdout(&r, "report").trim(),
        format!("the coin finally landed {last}")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn model_search_evaluates_five_models_and_picks_one() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let r = run(&example("model-search.yaml"), dir.path()).await;
    assert_eq!(r.status, RunStatus::Succeeded);
    for k in 0..5 {
        assert_eq!(status(&r, &format!("train[{k}]")), "Succeeded");
        assert_eq!(status(&r, &format!("evaluate[{k}]")), "Succeeded");
    }
    // Every evaluation is a JSON object, so the list holds the objects (docs/spec.md §12).
    let evals: Vec<serde_json::Value> = serde_json::from_str(&param(&r, "evaluate", "evaluation"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(evals.len(), 5);
    // Item order is kept: instance k evaluated batch size 100 × (k + 1).
    for (k, v) in evals.iter().enumerate() {
        assert_eq!(v["batch_size"].as_u64(), Some(100 * (k as u64 + 1)), "{v}");
    }
    assert!(stdout(&r, "pick-best").contains("best: batch size"));
}

#[tokio::test(flavor = "multi_thread")]
async fn automl_selects_after_both_candidates() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let r = run(&example("automl.yaml"), dir.path()).await;
    assert_eq!(r.status, RunStatus::Succeeded);
    let (sel, _) = times(&r, "select");
    assert!(sel >= times(&r, "train-xgboost").1);
    assert!(sel >= times(&r, "train-lightgbm").1);
    let best = param(&r, "select", "best");
    assert!(best == "xgboost" || best == "lightgbm", "{best}");
}

#[tokio::test(flavor = "multi_thread")]
async fn ml_pipeline_reports_the_best_model_and_publishes_by_threshold() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let wf = example("ml-pipeline.yaml");
    let r = run(&wf, dir.path()).await;
    assert_eq!(r.status, RunStatus::Succeeded, "{:#?}", r.steps);
    let report = String::from_utf8(artifact(&r, dir.path(), "report", "report").await)
        .unwrap_or_else(|e| panic!("{e}"));
    let best = param(&r, "select-best", "best_model");
    let acc: f64 = param(&r, "select-best", "best_accuracy")
        .parse()
        .unwrap_or(f64::NAN);
    assert!(
        report.contains(&format!("Best model: **{best}**")),
        "{report}"
    );
    let expected = if acc >= 0.8 { "Succeeded" } else { "Skipped" };
    assert_eq!(status(&r, "publish"), expected);
    assert_eq!(
        report.contains("the model was published."),
        expected == "Succeeded"
    );
    assert_eq!(status(&r, "notify"), "Succeeded");
    assert!(stdout(&r, "notify").contains("finished: Succeeded"));

    // A threshold no model reaches: publish is Skipped, the report says so, the run succeeds.
    let mut o = opts(dir.path());
    o.params = vec![("accuracy_threshold".into(), "0.999".into())];
    let r2 = couler_run::run(&wf, o)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r2.status, RunStatus::Succeeded);
    assert_eq!(status(&r2, "publish"), "Skipped");
    let report = String::from_utf8(artifact(&r2, dir.path(), "report", "report").await)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        report.contains("not published (publish step: Skipped)"),
        "{report}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_run_of_an_unchanged_example_is_all_cached() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let wf = example("ml-pipeline.yaml");
    let first = run(&wf, dir.path()).await;
    assert_eq!(first.status, RunStatus::Succeeded);
    let second = run(&wf, dir.path()).await;
    assert_eq!(second.status, RunStatus::Succeeded);
    for s in &wf.steps {
        let st = status(&second, &s.name);
        assert!(st == "Cached" || st == "Skipped", "{}: {st}", s.name);
    }
    // The exit handler always runs: it reports on this run.
    assert_eq!(status(&second, "notify"), "Succeeded");
}
