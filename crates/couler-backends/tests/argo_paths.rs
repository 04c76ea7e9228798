//! Argo lowerings that keep the local meaning (issue 28): where paths resolve, retry backoff,
//! sub-workflow manifests, nested map items, an item-reading `when` under `parallelism`, and
//! the `repeat` recursion limit. Each emitted document also passes Argo's schema and the lint.

use couler_backends::argo::Argo;
use couler_backends::{Backend, CompileError, Options, Output};
use serde_json::Value;
use std::collections::BTreeMap;

mod common;
use common::argo_check::check_document;

const HEAD: &str = "apiVersion: couler.dev/v1alpha1\nkind: Workflow\n";

fn compile_with(spec: &str, options: &Options) -> Result<Output, CompileError> {
    let text = format!("{HEAD}{spec}");
    let wf = match couler_ir::spec::load(&text, couler_ir::Format::Yaml) {
        Ok((wf, _)) => wf,
        Err(d) => panic!("{d:?}\n{text}"),
    };
    Argo.compile(&wf, options)
}

/// The document, checked against Argo's schema and lint.
fn compile(spec: &str, options: &Options) -> Value {
    let out = compile_with(spec, options).unwrap_or_else(|e| panic!("{e}"));
    let yaml = out.files.values().next().cloned().unwrap_or_default();
    check_document("spec", &yaml);
    serde_norway::from_str(&yaml).unwrap_or_else(|e| panic!("{e}"))
}

fn template<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["spec"]["templates"]
        .as_array()
        .and_then(|ts| ts.iter().find(|t| t["name"] == name))
        .unwrap_or_else(|| panic!("no template {name}"))
}

/// The entry DAG's task `name`.
fn task<'a>(doc: &'a Value, name: &str) -> &'a Value {
    let entry = doc["spec"]["entrypoint"].as_str().unwrap_or_default();
    dag_task(template(doc, entry), name)
}

/// Task `name` of a DAG template, or step `name` of a steps template.
fn dag_task<'a>(t: &'a Value, name: &str) -> &'a Value {
    let steps = t["steps"].as_array().into_iter().flatten();
    let mut all = (t["dag"]["tasks"].as_array().into_iter().flatten())
        .chain(steps.filter_map(Value::as_array).flatten());
    all.find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("no task {name} in {t}"))
}

#[test]
fn relative_paths_resolve_where_the_step_starts() {
    let doc = compile(
        r#"name: paths
steps:
  - name: train
    script:
      image: python:3.12-slim
      source: open("score.txt", "w").write("0.93")
    outputs:
      parameters: [{name: score, path: score.txt, default: "0"}]
      artifacts: [{name: model, path: model}]
  - name: absolute
    container: {image: alpine, command: [sh, -c, "echo 1 > /tmp/o"]}
    outputs:
      parameters: [{name: o, path: /tmp/o}]
  - name: own-dir
    container: {image: alpine, command: [ls], workingDir: src}
    inputs:
      artifacts: [{name: m, path: m, from: steps.train.outputs.artifacts.model}]
"#,
        &Options::default(),
    );
    // The image's WORKDIR would be `/`: the script would write /score.txt, Argo read /tmp/….
    let train = template(&doc, "train");
    assert_eq!(train["script"]["workingDir"], "/tmp");
    assert_eq!(
        train["outputs"]["parameters"][0]["valueFrom"]["path"],
        "/tmp/score.txt"
    );
    assert_eq!(train["outputs"]["artifacts"][0]["path"], "/tmp/model");
    let absolute = template(&doc, "absolute");
    assert!(absolute["container"].get("workingDir").is_none());
    // A relative workingDir is under the step's directory; paths stay relative to that.
    let own = template(&doc, "own-dir");
    assert_eq!(own["container"]["workingDir"], "/tmp/src");
    assert_eq!(own["inputs"]["artifacts"][0]["path"], "/tmp/m");
}

#[test]
fn backoff_max_is_a_cap_on_each_wait_not_a_budget() {
    let doc = compile(
        r#"name: retry
steps:
  - name: a
    container: {image: alpine, command: ['false']}
    retry: {limit: 4, on: failure, backoff: {duration: 1s, factor: 2, max: 3s}}
"#,
        &Options::default(),
    );
    let backoff = &template(&doc, "a")["retryStrategy"]["backoff"];
    assert_eq!(backoff["cap"], "3s");
    assert!(backoff.get("maxDuration").is_none(), "{backoff}");
}

/// The manifest after Argo's text substitution of `tag` by `value`'s JSON (what `toJson` gives).
fn substituted(manifest: &str, tag: &str, value: &str) -> Value {
    let text = manifest.replace(tag, &serde_json::to_string(value).unwrap_or_default());
    serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

#[test]
fn sub_workflow_manifests_name_the_child_and_keep_params_one_scalar() {
    let spec = r#"name: parent
params: [{name: x, default: "it's"}]
steps:
  - name: sub
    workflow:
      ref: ./child.yaml
      params: {msg: "{{params.x}}", note: "say: {{params.x}} }", fixed: "a: b # c"}
"#;
    let options = Options {
        sub_workflow_names: BTreeMap::from([("./child.yaml".into(), "child-wf".into())]),
        ..Options::default()
    };
    let doc = compile(spec, &options);
    let manifest = template(&doc, "sub")["resource"]["manifest"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let tag = "{{=toJson(workflow.parameters['x'])}}";
    let note = "{{=toJson('say: ' + workflow.parameters['x'] + ' ' + '}' + '')}}";
    assert!(manifest.contains(&format!("value: {tag}\n")), "{manifest}");
    assert!(manifest.contains(&format!("value: {note}\n")), "{manifest}");
    // Every value Argo might substitute stays one scalar, byte for byte.
    for x in ["it's", "a: b", "#c", "two\nlines", "\"q\"", "{{x}}"] {
        let text = manifest.replace(
            note,
            &serde_json::to_string(&format!("say: {x} }}")).unwrap(),
        );
        let child = substituted(&text, tag, x);
        assert_eq!(child["spec"]["workflowTemplateRef"]["name"], "child-wf");
        let args = &child["spec"]["arguments"]["parameters"];
        let value = |n: &str| {
            args.as_array()
                .and_then(|a| a.iter().find(|p| p["name"] == n))
                .map(|p| p["value"].clone())
        };
        assert_eq!(value("msg"), Some(Value::from(x)));
        assert_eq!(value("note"), Some(Value::from(format!("say: {x} }}"))));
        assert_eq!(value("fixed"), Some(Value::from("a: b # c")));
    }
    // Without the child's name (no such file), the file stem, as before.
    let doc = compile(spec, &Options::default());
    let manifest = template(&doc, "sub")["resource"]["manifest"]
        .as_str()
        .unwrap_or_default();
    assert!(manifest.contains("name: child\n"), "{manifest}");
}

/// Argo's `addItemsToScope`: over `withItems` of objects only `item.KEY` of top-level keys
/// exist; every `{{item…}}` the task passes must be one of them.
fn unresolved_items(task: &Value) -> Vec<String> {
    let items = task["withItems"].as_array().cloned().unwrap_or_default();
    let mut bad = Vec::new();
    for arg in task["arguments"]["parameters"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let v = arg["value"].as_str().unwrap_or_default();
        let Some(inner) = v.strip_prefix("{{").and_then(|v| v.strip_suffix("}}")) else {
            continue;
        };
        let resolved = match inner.strip_prefix("item.") {
            Some(key) => items.iter().all(|i| i.get(key).is_some()),
            None => items.iter().all(|i| !i.is_object()),
        };
        if !resolved {
            bad.push(v.to_string());
        }
    }
    bad
}

#[test]
fn nested_and_whole_object_items_resolve_on_argo() {
    let doc = compile(
        r#"name: items
steps:
  - name: each
    map: {items: [{cfg: {lr: 0.1}, bs: 32}, {cfg: {lr: 0.01}, bs: 64}]}
    container: {image: alpine, command: [echo, "{{item.cfg.lr}}", "{{item}}", "{{item.bs}}"]}
"#,
        &Options::default(),
    );
    // A mapped step is a template (`each-map`) whose loop task carries the items.
    let outer = task(&doc, "each");
    let each = dag_task(
        template(&doc, outer["template"].as_str().unwrap_or_default()),
        "each",
    );
    assert_eq!(unresolved_items(each), Vec::<String>::new(), "{each}");
    let first = &each["withItems"][0];
    // The text the local runtime renders for each read.
    assert_eq!(first["cfg.lr"], "0.1");
    assert_eq!(first["couler-item"], r#"{"bs":32,"cfg":{"lr":0.1}}"#);
    assert_eq!(first["bs"], 32);
    let err = compile_with(
        r#"name: items
steps:
  - name: gen
    container: {image: alpine, command: [echo, '[{"cfg": {"lr": 1}}]']}
  - name: each
    map: {from: steps.gen.outputs.result}
    container: {image: alpine, command: [echo, "{{item.cfg.lr}}"]}
"#,
        &Options::default(),
    )
    .expect_err("a nested read of withParam items is refused");
    let msg = err.to_string();
    assert!(
        msg.contains("`each`") && msg.contains("item.cfg.lr"),
        "{msg}"
    );
}

#[test]
fn a_when_reading_item_sits_inside_the_parallelism_loop() {
    let doc = compile(
        r#"name: mapwhen
steps:
  - name: limit
    container: {image: alpine, command: [echo, "2"]}
  - name: each
    map: {items: [1, 2, 3], parallelism: 2}
    when: item > 1 && steps.limit.outputs.result == "2"
    container: {image: alpine, command: [echo, "{{item}}"]}
  - name: plain
    map: {items: [1, 2], parallelism: 1}
    when: steps.limit.outputs.result == "2"
    container: {image: alpine, command: [echo, "{{item}}"]}
"#,
        &Options::default(),
    );
    let outer = task(&doc, "each");
    assert!(outer.get("when").is_none(), "{outer}");
    let wrapper = template(&doc, outer["template"].as_str().unwrap_or_default());
    let inner = dag_task(wrapper, "each");
    let when = inner["when"].as_str().unwrap_or_default();
    // One expr tag (argo/cond.rs) that reads the loop's item.
    assert!(
        when.starts_with("{{=") && when.contains("sprig.trim(item)"),
        "{when}"
    );
    assert!(inner.get("withItems").is_some());
    // The other step's output comes in through the wrapper's inputs.
    assert!(!when.contains("tasks.limit"), "{when}");
    let forwarded = outer["arguments"]["parameters"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        forwarded
            .iter()
            .any(|p| p["value"] == "{{tasks.limit.outputs.result}}"),
        "{outer}"
    );
    // A `when` that does not read `item` stays outside.
    assert!(task(&doc, "plain").get("when").is_some());
}

#[test]
fn repeat_beyond_argos_recursion_limit_is_refused_unless_the_controller_allows_it() {
    let spec = |n: u32| {
        format!(
            r#"name: deep
steps:
  - name: poll
    container: {{image: alpine, command: [echo, pending]}}
    repeat: {{while: steps.poll.outputs.result == "pending", maxIterations: {n}}}
"#
        )
    };
    let err = compile_with(&spec(500), &Options::default())
        .expect_err("500 iterations exceed Argo's recursion limit")
        .to_string();
    assert!(
        err.contains("`poll`")
            && err.contains("at most 90")
            && err.contains("--no-recursion-limit"),
        "{err}"
    );
    let allowed = Options {
        no_recursion_limit: true,
        ..Options::default()
    };
    let out = compile_with(&spec(500), &allowed).unwrap_or_else(|e| panic!("{e}"));
    assert!(out.warnings.is_empty(), "{:?}", out.warnings);
    let out = compile_with(&spec(90), &Options::default()).unwrap_or_else(|e| panic!("{e}"));
    assert!(out.warnings.is_empty(), "{:?}", out.warnings);
}
