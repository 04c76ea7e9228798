//! Every spec under `examples/` loads cleanly, round-trips exactly, and has the shape its comments
//! describe.
//!
//! A new example must be added to [`EXPECTED`] (and should get its own structural test below), so
//! an untested example cannot slip in unnoticed.

use couler_ir::spec::{self, Format};
use couler_ir::{
    ArtifactSource, CmpOp, ConcurrencyPolicy, Expr, Framework, Graph, Literal, MapOver, ParamType,
    Reference, ResourceAction, StepKind, StepOutput, Storage, TaintEffect, TolerationOperator,
    VolumeSource, Workflow, WorkflowField,
};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Every example, relative to `examples/`, sorted.
const EXPECTED: &[&str] = &[
    "artifact-passing.yaml",
    "automl.yaml",
    "churn.yaml",
    "cluster/distributed-training.yaml",
    "coin-flip.yaml",
    "diamond.yaml",
    "flip-until-tails.yaml",
    "hello.yaml",
    "ml-pipeline.yaml",
    "model-search.yaml",
    "tune-ml-pipeline.yaml",
];

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

fn collect_yaml(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            collect_yaml(&path, out);
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(path);
        }
    }
}

/// Paths of all example specs relative to `examples/`, with `/` separators, sorted.
fn example_files() -> Vec<String> {
    let root = examples_dir();
    let mut paths = Vec::new();
    collect_yaml(&root, &mut paths);
    let mut names: Vec<String> = paths
        .iter()
        .map(|p| {
            let rel = p.strip_prefix(&root).expect("under examples/");
            rel.components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/")
        })
        .collect();
    names.sort();
    names
}

fn read(rel: &str) -> String {
    let path = examples_dir().join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn render_all(diags: &[couler_ir::Diagnostic], file: &str, text: &str) -> String {
    diags.iter().map(|d| d.render(file, Some(text))).collect()
}

/// Loads an example, failing with rendered diagnostics on any error or warning.
fn load(rel: &str) -> Workflow {
    let text = read(rel);
    match spec::load(&text, Format::Yaml) {
        Ok((wf, warnings)) => {
            assert!(
                warnings.is_empty(),
                "examples/{rel} has warnings:\n{}",
                render_all(&warnings, rel, &text)
            );
            wf
        }
        Err(diags) => panic!(
            "examples/{rel} does not load:\n{}",
            render_all(&diags, rel, &text)
        ),
    }
}

fn step<'a>(wf: &'a Workflow, name: &str) -> &'a couler_ir::Step {
    wf.step(name)
        .unwrap_or_else(|| panic!("{}: no step `{name}`", wf.name))
}

fn step_names(wf: &Workflow) -> Vec<&str> {
    wf.steps.iter().map(|s| s.name.as_str()).collect()
}

/// The dependency edges `(from, to)` by step name.
fn edges(wf: &Workflow) -> BTreeSet<(String, String)> {
    Graph::new(wf)
        .edges()
        .map(|(a, b)| (wf.steps[a].name.clone(), wf.steps[b].name.clone()))
        .collect()
}

fn edge_set(pairs: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    pairs
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

fn predecessors(wf: &Workflow, name: &str) -> BTreeSet<String> {
    let i = wf.step_index(name).expect("step exists");
    Graph::new(wf)
        .predecessors(i)
        .iter()
        .map(|&j| wf.steps[j].name.clone())
        .collect()
}

fn step_ref(step: &str, output: StepOutput) -> Reference {
    Reference::step(step, output)
}

fn param_ref(step: &str, name: &str) -> Reference {
    step_ref(step, StepOutput::Parameter(name.into()))
}

fn all_refs(step: &couler_ir::Step) -> Vec<Reference> {
    step.references()
        .into_iter()
        .map(|(_, r)| r.clone())
        .collect()
}

// ---- every example ----------------------------------------------------------------------------

#[test]
fn the_examples_are_the_expected_ones() {
    assert_eq!(
        example_files(),
        EXPECTED,
        "examples/ changed: add the new example to EXPECTED and give it a structural test"
    );
}

#[test]
fn every_example_loads_without_errors_or_warnings() {
    for rel in example_files() {
        let wf = load(&rel);
        assert!(!wf.steps.is_empty(), "{rel}");
    }
}

#[test]
fn every_example_round_trips_through_yaml_exactly() {
    for rel in example_files() {
        let wf = load(&rel);
        let yaml = spec::to_yaml(&wf);
        let again = spec::parse(&yaml, Format::Yaml)
            .unwrap_or_else(|d| panic!("{rel}: canonical YAML does not parse:\n{d:?}\n{yaml}"));
        assert_eq!(again, wf, "{rel}: IR → YAML → IR changed the workflow");
        assert_eq!(
            spec::to_yaml(&again),
            yaml,
            "{rel}: printing twice gave different text"
        );
        // The canonical form is itself a valid spec.
        let (reloaded, warnings) = spec::load(&yaml, Format::Yaml)
            .unwrap_or_else(|d| panic!("{rel}: canonical YAML does not load:\n{d:?}"));
        assert!(warnings.is_empty(), "{rel}: {warnings:?}");
        assert_eq!(reloaded, wf, "{rel}");
    }
}

#[test]
fn every_example_round_trips_through_json_exactly() {
    for rel in example_files() {
        let wf = load(&rel);
        let json = spec::to_json(&wf);
        let again = spec::parse(&json, Format::Json)
            .unwrap_or_else(|d| panic!("{rel}: JSON does not parse:\n{d:?}\n{json}"));
        assert_eq!(again, wf, "{rel}: IR → JSON → IR changed the workflow");
        assert_eq!(spec::to_json(&again), json, "{rel}");
        // And across formats: YAML → IR → JSON → IR → YAML gives the same canonical YAML.
        assert_eq!(spec::to_yaml(&again), spec::to_yaml(&wf), "{rel}");
    }
}

#[test]
fn every_example_is_acyclic() {
    for rel in example_files() {
        let wf = load(&rel);
        let order = Graph::new(&wf)
            .topological_order()
            .unwrap_or_else(|c| panic!("{rel}: cycle {c:?}"));
        assert_eq!(order.len(), wf.steps.len(), "{rel}");
    }
}

/// Examples outside `cluster/` must run on a bare Debian machine with only POSIX sh, coreutils and
/// python3 (the local runtime ignores `image`).
#[test]
fn local_examples_use_only_commands_of_a_bare_machine() {
    let allowed = ["echo", "sh", "cat", "python3"];
    for rel in example_files() {
        if rel.starts_with("cluster/") {
            continue;
        }
        let wf = load(&rel);
        for s in wf.steps.iter().chain(&wf.on_exit) {
            let program = match &s.kind {
                StepKind::Container(c) => c
                    .command
                    .first()
                    .or(c.args.first())
                    .and_then(|t| t.as_literal())
                    .unwrap_or_else(|| panic!("{rel}: step `{}` has no command", s.name)),
                StepKind::Script(sc) => sc.command[0].clone(),
                other => panic!(
                    "{rel}: step `{}` is a `{}` step, which needs a cluster",
                    s.name,
                    other.key()
                ),
            };
            assert!(
                allowed.contains(&program.as_str()),
                "{rel}: step `{}` runs `{program}`, which a bare machine lacks",
                s.name
            );
            assert!(
                s.volume_mounts.is_empty() && s.secrets.is_empty(),
                "{rel}: step `{}` needs cluster resources",
                s.name
            );
        }
    }
}

// ---- one test per example ---------------------------------------------------------------------

#[test]
fn hello_says_hello_to_a_parameter() {
    let wf = load("hello.yaml");
    assert_eq!(step_names(&wf), ["say-hello"]);
    assert_eq!(wf.params.len(), 1);
    assert_eq!(wf.params[0].name, "who");
    assert_eq!(
        all_refs(step(&wf, "say-hello")),
        [Reference::Param("who".into())]
    );
}

#[test]
fn diamond_has_exactly_the_four_explicit_edges() {
    let wf = load("diamond.yaml");
    assert_eq!(step_names(&wf), ["a", "b", "c", "d"]);
    assert_eq!(
        edges(&wf),
        edge_set(&[("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")])
    );
    // The edges are explicit: no step reads another's output.
    for s in &wf.steps {
        assert!(all_refs(s).is_empty(), "{}", s.name);
    }
    assert_eq!(step(&wf, "d").depends_on, ["b", "c"]);
    let graph = Graph::new(&wf);
    assert_eq!(graph.levels().unwrap(), [0, 1, 1, 2]);
    assert_eq!(graph.sources().collect::<Vec<_>>(), [0]);
    assert_eq!(graph.sinks().collect::<Vec<_>>(), [3]);
    // Each step echoes its own name.
    for s in &wf.steps {
        let StepKind::Container(c) = &s.kind else {
            panic!("{} is not a container", s.name)
        };
        let words: Vec<String> = c.command.iter().filter_map(|t| t.as_literal()).collect();
        assert_eq!(words, ["echo", s.name.as_str()]);
        assert_eq!(wf.effective_image(s), Some("alpine:3.19"));
    }
}

#[test]
fn artifact_passing_edge_comes_from_the_artifact_reference() {
    let wf = load("artifact-passing.yaml");
    assert_eq!(step_names(&wf), ["producer", "consumer"]);
    assert_eq!(edges(&wf), edge_set(&[("producer", "consumer")]));
    let consumer = step(&wf, "consumer");
    assert!(consumer.depends_on.is_empty(), "the edge must be implicit");
    let input = &consumer.inputs.artifacts[0];
    assert_eq!(input.name, "message");
    assert_eq!(
        input.source,
        Some(ArtifactSource::From(step_ref(
            "producer",
            StepOutput::Artifact("message".into())
        )))
    );
    let output = &step(&wf, "producer").outputs.artifacts[0];
    assert_eq!(
        (output.name.as_str(), output.path.as_str()),
        ("message", "message.txt")
    );
}

#[test]
fn coin_flip_branches_are_guarded_by_the_result() {
    let wf = load("coin-flip.yaml");
    assert_eq!(step_names(&wf), ["flip-coin", "heads", "tails"]);
    assert!(matches!(step(&wf, "flip-coin").kind, StepKind::Script(_)));
    assert!(step(&wf, "flip-coin").when.is_none());
    let result = step_ref("flip-coin", StepOutput::Result);
    for side in ["heads", "tails"] {
        assert_eq!(
            step(&wf, side).when,
            Some(Expr::compare(CmpOp::Eq, result.clone(), side)),
            "{side}"
        );
    }
    assert_eq!(
        edges(&wf),
        edge_set(&[("flip-coin", "heads"), ("flip-coin", "tails")])
    );
}

#[test]
fn flip_until_tails_repeats_on_its_own_result() {
    let wf = load("flip-until-tails.yaml");
    assert_eq!(step_names(&wf), ["flip-coin", "report"]);
    let flip = step(&wf, "flip-coin");
    let repeat = flip.repeat.as_ref().expect("flip-coin repeats");
    assert_eq!(repeat.max_iterations, 20);
    assert_eq!(
        repeat.condition,
        Expr::compare(
            CmpOp::Eq,
            step_ref("flip-coin", StepOutput::Result),
            "heads"
        )
    );
    // The loop reads the step's own output, which is not a graph edge.
    assert_eq!(edges(&wf), edge_set(&[("flip-coin", "report")]));
}

#[test]
fn model_search_maps_train_then_evaluate_over_its_models() {
    let wf = load("model-search.yaml");
    assert_eq!(step_names(&wf), ["train", "evaluate", "pick-best"]);
    let train = step(&wf, "train");
    let map = train.map.as_ref().expect("train is mapped");
    let sizes: Vec<serde_json::Value> = [100, 200, 300, 400, 500].map(Into::into).to_vec();
    assert_eq!(map.over, MapOver::Items(sizes));
    let outputs: Vec<(&str, bool)> = train
        .outputs
        .parameters
        .iter()
        .map(|p| (p.name.as_str(), p.path.is_some()))
        .collect();
    assert_eq!(outputs, [("score", false), ("model", true)]);

    let evaluate = step(&wf, "evaluate");
    assert_eq!(
        evaluate.map.as_ref().map(|m| &m.over),
        Some(&MapOver::From(param_ref("train", "model")))
    );
    assert!(all_refs(evaluate).contains(&Reference::Item(vec![])));
    assert!(all_refs(step(&wf, "pick-best")).contains(&param_ref("evaluate", "evaluation")));
    assert_eq!(
        edges(&wf),
        edge_set(&[("train", "evaluate"), ("evaluate", "pick-best")])
    );
}

#[test]
fn automl_select_waits_for_the_whole_group() {
    let wf = load("automl.yaml");
    assert_eq!(
        step_names(&wf),
        ["train-xgboost", "train-lightgbm", "select"]
    );
    let group = wf.group("train-candidates").expect("the group exists");
    assert_eq!(group.steps, ["train-xgboost", "train-lightgbm"]);
    let select = step(&wf, "select");
    assert_eq!(select.depends_on, ["train-candidates"]);
    assert_eq!(
        predecessors(&wf, "select"),
        BTreeSet::from(["train-xgboost".to_string(), "train-lightgbm".to_string()])
    );
    // The candidates are independent, so they run concurrently.
    assert_eq!(
        edges(&wf),
        edge_set(&[("train-xgboost", "select"), ("train-lightgbm", "select")])
    );
    // The group alone orders `select` after both members, even without the score references.
    let mut group_only = wf.clone();
    let s = group_only.step_index("select").unwrap();
    group_only.steps[s].env.clear();
    assert_eq!(
        predecessors(&group_only, "select"),
        predecessors(&wf, "select")
    );
}

#[test]
fn churn_fans_out_three_trainers_and_selects_among_their_evaluations() {
    let wf = load("churn.yaml");
    for trainer in ["train-logreg", "train-forest", "train-boosting"] {
        assert_eq!(predecessors(&wf, trainer), ["split".to_string()].into());
    }
    let want: BTreeSet<String> = ["logreg", "forest", "boosting"]
        .iter()
        .flat_map(|m| [format!("train-{m}"), format!("evaluate-{m}")])
        .collect();
    assert_eq!(predecessors(&wf, "select"), want);
    assert_eq!(predecessors(&wf, "publish"), ["select".to_string()].into());
    // Every value reaches the code through env, as the zoo's one rule says.
    assert_eq!(
        step(&wf, "train-forest").env["N_ESTIMATORS"].to_string(),
        "50"
    );
}

#[test]
fn ml_pipeline_has_the_documented_shape() {
    let wf = load("ml-pipeline.yaml");
    assert_eq!(
        step_names(&wf),
        [
            "generate-data",
            "split-data",
            "train-logreg",
            "train-knn",
            "train-naive-bayes",
            "evaluate-logreg",
            "evaluate-knn",
            "evaluate-naive-bayes",
            "select-best",
            "publish",
            "report",
        ]
    );

    // Parameters, typed, with defaults so `couler run` needs no arguments.
    let params: Vec<(&str, ParamType)> =
        wf.params.iter().map(|p| (p.name.as_str(), p.ty)).collect();
    assert_eq!(
        params,
        [
            ("n_samples", ParamType::Int),
            ("seed", ParamType::Int),
            ("test_fraction", ParamType::Float),
            ("accuracy_threshold", ParamType::Float),
        ]
    );
    assert!(wf.params.iter().all(|p| p.default.is_some()));

    // Three trainers, in one concurrent group, with no edges between them.
    let trainers = ["train-logreg", "train-knn", "train-naive-bayes"];
    assert_eq!(wf.group("train-models").unwrap().steps, trainers);
    let all_edges = edges(&wf);
    for a in trainers {
        for b in trainers {
            assert!(
                !all_edges.contains(&(a.to_string(), b.to_string())),
                "{a} → {b}"
            );
        }
        assert_eq!(
            predecessors(&wf, a),
            BTreeSet::from(["split-data".to_string()])
        );
        let model = &step(&wf, a).outputs.artifacts[0];
        assert_eq!(
            (model.name.as_str(), model.path.as_str()),
            ("model", "model.json")
        );
    }

    // Every edge comes from data; there is no `dependsOn` anywhere.
    assert!(wf.steps.iter().all(|s| s.depends_on.is_empty()));
    let graph = Graph::new(&wf);
    assert_eq!(graph.sources().collect::<Vec<_>>(), [0]);
    assert_eq!(
        graph.sinks().collect::<Vec<_>>(),
        [wf.step_index("report").unwrap()]
    );
    let levels = graph.levels().unwrap();
    let level = |name: &str| levels[wf.step_index(name).unwrap()];
    let expected_levels = [
        ("generate-data", 0),
        ("split-data", 1),
        ("train-logreg", 2),
        ("train-knn", 2),
        ("train-naive-bayes", 2),
        ("evaluate-logreg", 3),
        ("evaluate-knn", 3),
        ("evaluate-naive-bayes", 3),
        ("select-best", 4),
        ("publish", 5),
        ("report", 6),
    ];
    for (name, l) in expected_levels {
        assert_eq!(level(name), l, "{name}");
    }

    // Each evaluator runs the same script on its own trainer's model and the shared test set.
    let evaluate_script = &step(&wf, "evaluate-logreg").kind;
    for (evaluator, trainer) in [
        ("evaluate-logreg", "train-logreg"),
        ("evaluate-knn", "train-knn"),
        ("evaluate-naive-bayes", "train-naive-bayes"),
    ] {
        let s = step(&wf, evaluator);
        assert_eq!(&s.kind, evaluate_script, "{evaluator}");
        assert_eq!(
            predecessors(&wf, evaluator),
            BTreeSet::from([trainer.to_string(), "split-data".to_string()])
        );
        assert_eq!(s.outputs.parameters[0].name, "accuracy");
    }

    // select-best reads all three accuracies and exposes the winner.
    let select = step(&wf, "select-best");
    for evaluator in ["evaluate-logreg", "evaluate-knn", "evaluate-naive-bayes"] {
        assert!(all_refs(select).contains(&param_ref(evaluator, "accuracy")));
    }
    let outs: Vec<&str> = select
        .outputs
        .parameters
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(outs, ["best_model", "best_accuracy"]);

    // publish is guarded by the threshold parameter, compared as numbers.
    assert_eq!(
        step(&wf, "publish").when,
        Some(Expr::compare(
            CmpOp::Ge,
            param_ref("select-best", "best_accuracy"),
            Reference::Param("accuracy_threshold".into())
        ))
    );

    // The report reads publish's status (so it learns whether publish ran) and keeps a report.
    let report = step(&wf, "report");
    assert!(all_refs(report).contains(&step_ref("publish", StepOutput::Status)));
    assert_eq!(report.outputs.artifacts[0].name, "report");

    // Policies are shown: defaults, per-step overrides, caching, retry with backoff.
    assert_eq!(wf.defaults.image.as_deref(), Some("python:3.12-slim"));
    assert!(wf.defaults.timeout.is_some() && wf.defaults.retry.is_some());
    for t in trainers {
        let s = step(&wf, t);
        assert!(
            s.resources.is_some() && s.timeout.is_some() && s.cache.is_some(),
            "{t}"
        );
        assert_eq!(wf.effective_image(s), Some("python:3.12-slim"));
    }
    let retry = wf.effective_retry(step(&wf, "publish")).unwrap();
    assert_eq!(retry.limit, 3);
    assert!(retry.backoff.is_some());

    // Every step is a Python script (python3 is all the local runtime needs).
    for s in &wf.steps {
        let StepKind::Script(script) = &s.kind else {
            panic!("{} is not a script", s.name)
        };
        assert_eq!(script.command, ["python3"], "{}", s.name);
    }

    // The exit handler reports the final status.
    let exit = wf.on_exit.first().expect("an exit handler");
    assert!(all_refs(exit).contains(&Reference::Workflow(WorkflowField::Status)));
}

#[test]
fn distributed_training_uses_the_cluster_features() {
    let wf = load("cluster/distributed-training.yaml");
    assert_eq!(
        step_names(&wf),
        [
            "fetch-data",
            "preprocess",
            "train",
            "evaluate",
            "approve",
            "deploy"
        ]
    );
    assert_eq!(
        edges(&wf),
        edge_set(&[
            ("fetch-data", "preprocess"),
            ("preprocess", "train"),
            ("train", "evaluate"),
            ("evaluate", "approve"),
            ("approve", "deploy"),
        ])
    );

    // Workflow-level settings.
    assert!(!wf.labels.is_empty() && !wf.annotations.is_empty());
    let schedule = wf.schedule.as_ref().expect("a schedule");
    assert_eq!(schedule.cron, "0 2 * * *");
    assert_eq!(schedule.timezone.as_deref(), Some("Asia/Shanghai"));
    assert_eq!(schedule.concurrency_policy, ConcurrencyPolicy::Forbid);
    assert!(wf.ttl.as_ref().is_some_and(|t| t.after_success.is_some()));
    assert_eq!(wf.service_account.as_deref(), Some("ml-pipeline-runner"));
    assert_eq!(wf.image_pull_secrets, ["registry-example-com"]);
    let Some(Storage::S3(s3)) = &wf.artifact_repository else {
        panic!("the artifact repository is not S3")
    };
    assert!(s3.access_key.is_some() && s3.secret_key.is_some());
    assert!(wf.defaults.image.is_some() && wf.defaults.retry.is_some());
    assert!(wf.defaults.resources.is_some() && wf.defaults.timeout.is_some());
    let sources: Vec<&VolumeSource> = wf.volumes.iter().map(|v| &v.source).collect();
    assert!(matches!(sources[0], VolumeSource::Claim { .. }));
    assert!(matches!(sources[1], VolumeSource::ConfigMap { .. }));
    assert!(matches!(sources[2], VolumeSource::EmptyDir {}));
    assert_eq!(wf.volume_claims.len(), 2);

    // The distributed job.
    let train = step(&wf, "train");
    let StepKind::Job(job) = &train.kind else {
        panic!("train is not a job")
    };
    assert_eq!(job.framework, Framework::Pytorch);
    assert_eq!(job.replicas.get("master"), Some(&1));
    assert_eq!(job.replicas.get("worker"), Some(&3));
    let resources = train.resources.as_ref().unwrap();
    assert_eq!(resources.limits.gpu, Some(1));
    assert!(!train.node_selector.is_empty());
    assert!(
        train
            .tolerations
            .iter()
            .any(|t| t.operator == TolerationOperator::Exists
                && t.effect == Some(TaintEffect::NoSchedule))
    );
    assert!(!train.secrets.is_empty());
    assert!(train.volume_mounts.len() >= 3);
    assert!(all_refs(train).contains(&param_ref("preprocess", "num_shards")));

    // Resource steps wait on a condition.
    let StepKind::Resource(evaluate) = &step(&wf, "evaluate").kind else {
        panic!("evaluate is not a resource step")
    };
    assert_eq!(evaluate.action, ResourceAction::Create);
    assert_eq!(
        evaluate.success_condition.as_deref(),
        Some("status.succeeded > 0")
    );
    assert!(matches!(step(&wf, "approve").kind, StepKind::Suspend(_)));

    // Secrets are references only.
    for s in wf.steps.iter().chain(&wf.on_exit) {
        for secret in &s.secrets {
            assert!(!s.env.contains_key(&secret.env), "{}", s.name);
        }
    }

    // The exit handler sees the final status.
    let exit = wf.on_exit.first().expect("an exit handler");
    assert!(all_refs(exit).contains(&Reference::Workflow(WorkflowField::Status)));
}

/// The `when` of ml-pipeline's publish step prints as written (a check on the expression grammar
/// the docs describe).
#[test]
fn conditions_print_as_written() {
    let wf = load("ml-pipeline.yaml");
    let when = step(&wf, "publish").when.as_ref().unwrap();
    assert_eq!(
        when.to_string(),
        "steps.select-best.outputs.parameters.best_accuracy >= params.accuracy_threshold"
    );
    let wf = load("coin-flip.yaml");
    let when = step(&wf, "heads").when.as_ref().unwrap();
    assert_eq!(
        when.to_string(),
        "steps.flip-coin.outputs.result == \"heads\""
    );
    assert!(matches!(
        when,
        Expr::Compare { right, .. } if **right == Expr::Literal(Literal::String("heads".into()))
    ));
}

#[test]
fn tune_ml_pipeline_tunes_two_models_and_publishes_from_their_best() {
    let wf = load("tune-ml-pipeline.yaml");
    let tuned: Vec<(&str, &str)> = wf
        .steps
        .iter()
        .filter_map(|s| Some((s.name.as_str(), s.tune.as_ref()?.space[0].name.as_str())))
        .collect();
    assert_eq!(tuned, [("tune-knn", "k"), ("tune-logreg", "C")]);
    let publish = wf.steps.iter().find(|s| s.name == "publish").unwrap();
    let reads: BTreeSet<String> = publish
        .references()
        .iter()
        .map(|(_, r)| r.to_string())
        .collect();
    assert!(
        reads.contains("steps.tune-knn.outputs.parameters.best_k"),
        "{reads:?}"
    );
    assert!(
        reads.contains("steps.tune-logreg.outputs.parameters.best_objective"),
        "{reads:?}"
    );
}
