//! Unit tests of the lowering from builder calls to IR.

use crate::*;
use couler_ir::{Graph, MapOver, StepKind, spec};
use std::time::Duration;

fn build(wf: WorkflowBuilder) -> Workflow {
    wf.build().unwrap_or_else(|e| panic!("{e}"))
}

fn build_err(wf: WorkflowBuilder) -> String {
    match wf.build() {
        Ok(w) => panic!("expected a build error, got\n{}", spec::to_yaml(&w)),
        Err(e) => e.to_string(),
    }
}

/// Every built workflow must print as a spec that loads back to itself.
fn assert_round_trips(wf: &Workflow) {
    let yaml = spec::to_yaml(wf);
    let loaded = spec::load(&yaml, ir::Format::Yaml).map(|(w, _)| w);
    assert_eq!(loaded.as_ref(), Ok(wf), "{yaml}");
}

#[test]
fn reading_an_output_creates_the_dependency() {
    let mut wf = WorkflowBuilder::new("implicit");
    let producer = wf
        .run_container("producer", "alpine")
        .command(["sh", "-c"])
        .arg(concat([
            "echo hi > ".into(),
            this::output_artifact_path("message").into(),
        ]))
        .output_artifact("message", "/tmp/message")
        .output_parameter("count", Some("/tmp/count"))
        .add();
    wf.run_container("consumer", "alpine")
        .input_artifact("message", "/in/message", producer.artifact("message"))
        .add();
    wf.run_container("echo", "alpine")
        .args([concat(["n=".into(), producer.parameter("count").into()])])
        .add();
    let wf = build(wf);
    assert!(wf.steps.iter().all(|s| s.depends_on.is_empty()));
    let graph = Graph::new(&wf);
    assert_eq!(graph.edges().collect::<Vec<_>>(), vec![(0, 1), (0, 2)]);
    let yaml = spec::to_yaml(&wf);
    assert!(
        yaml.contains("from: steps.producer.outputs.artifacts.message"),
        "{yaml}"
    );
    assert!(
        yaml.contains("n={{steps.producer.outputs.parameters.count}}"),
        "{yaml}"
    );
    assert!(
        yaml.contains("echo hi > {{outputs.artifacts.message.path}}"),
        "{yaml}"
    );
    assert_round_trips(&wf);
}

#[test]
fn when_applies_to_every_step_inside_and_nests_with_and() {
    let mut wf = WorkflowBuilder::new("conditions");
    let deploy = wf.param("deploy", true);
    let train = wf
        .run_script("train", "print(0.93)")
        .image("python:3.12")
        .add();
    wf.when(bigger_equal(train.result(), 0.9), |wf| {
        wf.run_container("push", "alpine").add();
        wf.when(equal(&deploy, true), |wf| {
            wf.run_container("serve", "alpine")
                .when(not_equal(train.exit_code(), 1))
                .add();
        });
    });
    wf.run_container("always", "alpine").add();
    let wf = build(wf);
    let when = |name: &str| {
        wf.step(name)
            .and_then(|s| s.when.as_ref())
            .map(Expr::to_string)
    };
    assert_eq!(
        when("push").as_deref(),
        Some("steps.train.outputs.result >= 0.9")
    );
    assert_eq!(
        when("serve").as_deref(),
        Some(
            "steps.train.outputs.result >= 0.9 && params.deploy == true && steps.train.exitCode != 1"
        )
    );
    assert_eq!(when("always"), None);
    assert_eq!(Graph::new(&wf).predecessors(2), &[0]);
    assert_round_trips(&wf);
}

#[test]
fn map_lowers_items_ranges_and_upstream_lists() {
    let mut wf = WorkflowBuilder::new("maps");
    let sizes = wf.param("sizes", json!([100, 200]));
    let list = wf.run_script("list", "print('[1, 2]')").add();
    wf.map(
        Over::items([json!({"lr": 0.1}), json!({"lr": 0.2})]).parallelism(2),
        |wf, item| {
            wf.run_container("by-item", "alpine")
                .args([concat(["--lr=".into(), item.field("lr").into()])])
                .add();
        },
    );
    wf.map(0..3, |wf, i| {
        wf.run_container("by-range", "alpine").arg(i).add()
    });
    wf.map(list.result(), |wf, x| {
        wf.run_container("by-result", "alpine").arg(x).add()
    });
    wf.map(sizes, |wf, size| {
        wf.run_container("by-param", "alpine")
            .env("SIZE", size)
            .add()
    });
    let wf = build(wf);
    let map = |name: &str| {
        wf.step(name)
            .and_then(|s| s.map.clone())
            .unwrap_or_else(|| panic!("{name}"))
    };
    assert_eq!(map("by-item").parallelism, Some(2));
    assert!(matches!(map("by-item").over, MapOver::Items(ref v) if v.len() == 2));
    assert_eq!(
        map("by-range").over,
        MapOver::Range {
            start: 0,
            stop: 3,
            step: 1
        }
    );
    assert_eq!(map("by-result").over, MapOver::From(list.result()));
    assert_eq!(
        map("by-param").over,
        MapOver::From(Reference::Param("sizes".into()))
    );
    let yaml = spec::to_yaml(&wf);
    assert!(yaml.contains("--lr={{item.lr}}"), "{yaml}");
    assert!(yaml.contains("from: steps.list.outputs.result"), "{yaml}");
    assert_round_trips(&wf);
}

#[test]
fn nested_and_empty_maps_are_build_errors() {
    let mut wf = WorkflowBuilder::new("nested");
    wf.map([1, 2], |wf, _| {
        wf.map([3, 4], |wf, _| wf.run_container("inner", "alpine").add());
    });
    wf.map([5], |_, _| {});
    let err = build_err(wf);
    assert!(err.contains("step `inner` is inside two `map`s"), "{err}");
    assert!(err.contains("`map` added no step"), "{err}");
}

#[test]
fn concurrent_makes_a_group_that_others_can_depend_on() {
    let mut wf = WorkflowBuilder::new("automl");
    let (xgb, lgbm) = wf.concurrent("train-models", |wf| {
        (
            wf.run_container("xgboost", "xgb").add(),
            wf.run_container("lightgbm", "lgbm").add(),
        )
    });
    wf.run_container("pick", "alpine")
        .depends_on("train-models")
        .add();
    let wf = build(wf);
    let group = wf.group("train-models").map(|g| g.steps.clone());
    assert_eq!(
        group,
        Some(vec![xgb.name().to_string(), lgbm.name().to_string()])
    );
    assert_eq!(Graph::new(&wf).predecessors(2), &[0, 1]);
    assert_round_trips(&wf);
}

#[test]
fn exec_while_puts_repeat_on_the_one_step() {
    let mut wf = WorkflowBuilder::new("loop");
    let flip = wf.exec_while(
        |me| equal(me.result(), "heads"),
        10,
        |wf| wf.run_script("flip", "print('tails')").add(),
    );
    wf.run_container("after", "alpine").depends_on(&flip).add();
    let wf = build(wf);
    let repeat = wf.step("flip").and_then(|s| s.repeat.as_ref());
    assert_eq!(repeat.map(|r| r.max_iterations), Some(10));
    assert_eq!(
        repeat.map(|r| r.condition.to_string()).as_deref(),
        Some("steps.flip.outputs.result == \"heads\"")
    );
    // A loop reads its own outputs: no self-edge.
    assert_eq!(Graph::new(&wf).edge_count(), 1);
    assert_round_trips(&wf);

    let mut wf = WorkflowBuilder::new("loop");
    wf.exec_while(
        |me| equal(me.result(), "x"),
        3,
        |wf| {
            wf.run_script("one", "print(1)").add();
            wf.run_script("two", "print(2)").add();
        },
    );
    let err = build_err(wf);
    assert!(
        err.contains(
            "`exec_while` needs exactly one step, but 2 were added inside it (`one`, `two`)"
        ),
        "{err}"
    );
}

#[test]
fn dag_paths_become_depends_on() {
    let mut wf = WorkflowBuilder::new("diamond");
    // Paths may be given before the steps exist, as in the paper's Code 4.
    wf.dag(&[
        &["a"],
        &["a", "b"],
        &["a", "c"],
        &["b", "d"],
        &["c", "d"],
        &["a", "b"],
    ]);
    for name in ["a", "b", "c", "d"] {
        wf.run_container(name, "alpine").add();
    }
    let built = build(wf);
    let deps = |name: &str| {
        built
            .step(name)
            .map(|s| s.depends_on.clone())
            .unwrap_or_default()
    };
    assert_eq!(deps("a"), Vec::<String>::new());
    assert_eq!(deps("b"), ["a"]);
    assert_eq!(deps("d"), ["b", "c"]);
    assert_eq!(Graph::new(&built).levels(), Ok(vec![0, 1, 1, 2]));

    let mut wf = WorkflowBuilder::new("explicit");
    let a = wf.run_container("a", "alpine").add();
    wf.run_container("b", "alpine").add();
    wf.run_container("c", "alpine").depends_on(&a).add();
    wf.set_dependencies("c", ["b"]);
    assert_eq!(
        build(wf).step("c").map(|s| s.depends_on.clone()),
        Some(vec!["b".into()])
    );

    let mut wf = WorkflowBuilder::new("typo");
    wf.run_container("train", "alpine").add();
    wf.dag(&[&["train", "evaluate"]]);
    let err = build_err(wf);
    assert!(err.contains("`dag` names unknown step `evaluate`"), "{err}");
}

#[test]
fn unknown_reference_is_a_build_error_with_a_hint() {
    let mut wf = WorkflowBuilder::new("typo");
    let flip = wf.run_script("flip-coin", "print('heads')").add();
    wf.run_container("heads", "alpine")
        .when(equal(flip.parameter("side"), "heads"))
        .add();
    // A handle from another workflow names a step this one does not have.
    let mut other = WorkflowBuilder::new("other");
    let stranger = other.run_script("flip-coins", "print(1)").add();
    wf.run_container("tails", "alpine")
        .when(equal(stranger.result(), "tails"))
        .add();
    let err = build_err(wf);
    assert!(
        err.contains(
            "error: step `flip-coin` has no output parameter `side`\n  \
             --> steps[1].when (step `heads`)"
        ),
        "{err}"
    );
    assert!(
        err.contains(
            "error: unknown step `flip-coins`\n  \
             --> steps[2].when (step `tails`)\n  \
             = help: did you mean `flip-coin`?"
        ),
        "{err}"
    );
    assert!(err.starts_with("workflow `typo` has 2 errors:"), "{err}");
}

#[test]
fn duplicate_names_are_a_build_error_not_a_panic() {
    let mut wf = WorkflowBuilder::new("dup");
    wf.run_container("a", "alpine").add();
    wf.run_container("a", "busybox").add();
    let err = wf.build().unwrap_err();
    assert_eq!(err.errors().count(), 1);
    assert!(
        err.to_string().contains(
            "error: the name `a` is already used at `steps[0].name`\n  --> steps[1].name (step `a`)"
        ),
        "{err}"
    );
}

#[test]
fn literal_reference_syntax_and_nan_are_refused() {
    let mut wf = WorkflowBuilder::new("literal");
    wf.param("x", "1");
    wf.run_container("a", "alpine").arg("{{params.x}}").add();
    wf.run_container("b", "alpine")
        .when(equal(f64::NAN, 1))
        .add();
    let err = build_err(wf);
    assert!(
        err.contains("the text `{{params.x}}` holds `{{…}}`"),
        "{err}"
    );
    assert!(err.contains("steps[0].container.args[0]"), "{err}");
    assert!(
        err.contains("this condition cannot be written in a spec: it compares with `NaN`"),
        "{err}"
    );

    let mut wf = WorkflowBuilder::new("huge");
    let x = wf.param("x", 1);
    let huge = (0..600).fold(equal(&x, 0), |e, i| e.or(equal(&x, i)));
    let deep = (0..100).fold(equal(&x, 0), |e, _| e.not());
    wf.run_container("a", "alpine").when(huge).add();
    wf.run_container("b", "alpine").when(deep).add();
    let err = build_err(wf);
    assert!(err.contains("it has 1201 operators"), "{err}");
    assert!(err.contains("nests deeper than"), "{err}");
}

#[test]
fn on_exit_moves_its_step_to_the_exit_handler() {
    let mut wf = WorkflowBuilder::new("exit");
    wf.run_container("work", "alpine").add();
    wf.on_exit(|wf| {
        wf.run_container("notify", "alpine")
            .args([concat(["status=".into(), workflow_status().into()])])
            .add()
    });
    let wf = build(wf);
    assert_eq!(wf.steps.len(), 1);
    let names: Vec<&str> = wf.on_exit.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["notify"]);
    assert_round_trips(&wf);
}

#[test]
fn on_exit_takes_several_steps_in_their_own_order() {
    let mut wf = WorkflowBuilder::new("exit");
    wf.run_container("work", "alpine").add();
    wf.on_exit(|wf| {
        let heads = wf
            .run_container("heads", "alpine")
            .when(equal(workflow_status(), "Succeeded"))
            .add();
        let tails = wf
            .run_container("tails", "alpine")
            .when(equal(workflow_status(), "Failed"))
            .add();
        wf.set_dependencies(&tails, [&heads]);
    });
    wf.on_exit(|wf| {
        wf.run_container("cleanup", "alpine").add();
    });
    let wf = build(wf);
    let names: Vec<&str> = wf.on_exit.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["heads", "tails", "cleanup"]);
    assert_eq!(wf.on_exit[1].depends_on, ["heads"]);
    assert_eq!(wf.steps.len(), 1);
    assert_round_trips(&wf);
    // Nothing added: a clear problem, not an empty handler.
    let mut empty = WorkflowBuilder::new("exit");
    empty.run_container("work", "alpine").add();
    empty.on_exit(|_| {});
    let err = build_err(empty);
    assert!(err.contains("`on_exit` added no step"), "{err}");
}

#[test]
fn settings_params_and_step_kinds_reach_the_ir() {
    let mut wf = WorkflowBuilder::new("everything");
    wf.description("all setters")
        .label("team", "ml")
        .parallelism(4)
        .timeout(Duration::from_secs(7200))
        .cron("0 2 * * *")
        .default_image("python:3.12")
        .default_timeout(Duration::from_secs(3600));
    let name = wf.param("name", "x");
    wf.param("n", 3);
    wf.param("ratio", 0.5);
    wf.param(
        "flag",
        Param::required(ParamType::Bool).description("on or off"),
    );
    wf.param("mode", Param::new("fast").allowed(["fast", "slow"]));
    let job = wf
        .run_job("train", Framework::Tensorflow, "trainer:v1")
        .replicas("ps", 1)
        .replicas("worker", 4)
        .command(["python", "/train.py"])
        .retry(2)
        .timeout(Duration::from_secs(90))
        .node_selector("gpu", "a100")
        .add();
    wf.run_resource("create", ResourceAction::Create, "kind: ConfigMap\n")
        .success_condition("status.ok == true")
        .depends_on(&job)
        .add();
    wf.run_workflow("sub", "other.yaml")
        .param("who", name)
        .continue_on_failure()
        .add();
    wf.suspend("wait").duration(Duration::from_secs(60)).add();
    wf.run_script("sh", "echo hi").command(["bash"]).add();
    let wf = build(wf);
    let types: Vec<ParamType> = wf.params.iter().map(|p| p.ty).collect();
    assert_eq!(
        types,
        [
            ParamType::String,
            ParamType::Int,
            ParamType::Float,
            ParamType::Bool,
            ParamType::String
        ]
    );
    assert_eq!(wf.timeout, Some(couler_ir::Duration::from_secs(7200)));
    assert_eq!(wf.params[3].default, None);
    assert_eq!(wf.params[3].description.as_deref(), Some("on or off"));
    assert_eq!(wf.params[4].allowed, [json!("fast"), json!("slow")]);
    let train = wf.step("train").map(|s| &s.kind);
    assert!(matches!(train, Some(StepKind::Job(j)) if j.replicas.len() == 2));
    assert_eq!(
        wf.step("train")
            .and_then(|s| s.timeout)
            .map(|d| d.to_string())
            .as_deref(),
        Some("1m30s")
    );
    assert!(
        matches!(wf.step("sh").map(|s| &s.kind), Some(StepKind::Script(s)) if s.command == ["bash"])
    );
    assert_round_trips(&wf);
}

#[test]
fn a_daemon_is_recorded_and_its_address_makes_the_edge() {
    let mut wf = WorkflowBuilder::new("service");
    let db = wf
        .run_container("db", "redis:7")
        .command(["redis-server"])
        .daemon()
        .add();
    let echo = wf.run_script("echo", "print(1)").daemon().add();
    wf.run_container("client", "redis:7")
        .command(["redis-cli", "-h"])
        .args([db.ip(), echo.ip()])
        .add();
    let wf = build(wf);
    assert!(wf.steps[0].is_daemon() && wf.steps[1].is_daemon() && !wf.steps[2].is_daemon());
    assert_eq!(
        Graph::new(&wf).edges().collect::<Vec<_>>(),
        vec![(0, 2), (1, 2)]
    );
    let yaml = spec::to_yaml(&wf);
    assert!(yaml.contains("{{steps.db.ip}}"), "{yaml}");
    assert_round_trips(&wf);
}
