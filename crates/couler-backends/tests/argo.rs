//! The Argo backend on every example and on one spec per IR feature: golden snapshots (insta),
//! Argo's JSON Schema, the semantic lint, and determinism.

use couler_backends::argo::{self, Argo};
use couler_backends::{Backend, Kind, Options};
use serde_json::Value;
use std::path::Path;

mod common;
use common::argo_check::check_document;
use common::{repo, specs};

fn load(path: &Path) -> couler_ir::Workflow {
    let text = std::fs::read_to_string(path).unwrap();
    match couler_ir::spec::load(&text, couler_ir::Format::Yaml) {
        Ok((wf, _)) => wf,
        Err(d) => panic!("{}: {d:?}", path.display()),
    }
}

fn compile(path: &Path, kind: Option<Kind>) -> String {
    let wf = load(path);
    let out = Argo
        .compile(
            &wf,
            &Options {
                kind,
                ..Options::default()
            },
        )
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(out.files.len(), 1);
    out.files.into_values().next().unwrap()
}

fn snapshot_name(path: &Path) -> String {
    let stem = path.file_stem().unwrap().to_string_lossy().to_string();
    if path.parent().is_some_and(|p| p.ends_with("features")) {
        format!("feature-{stem}")
    } else if path.parent().is_some_and(|p| p.ends_with("cluster")) {
        format!("example-cluster-{stem}")
    } else {
        format!("example-{stem}")
    }
}

#[test]
fn every_spec_compiles_to_a_valid_linted_document() {
    for path in specs() {
        let yaml = compile(&path, None);
        check_document(&path.display().to_string(), &yaml);
        insta::assert_snapshot!(snapshot_name(&path), yaml);
    }
}

#[test]
fn other_kinds_validate_too() {
    for path in specs() {
        for kind in [Kind::WorkflowTemplate, Kind::Workflow] {
            let yaml = compile(&path, Some(kind));
            check_document(&format!("{} ({kind:?})", path.display()), &yaml);
        }
    }
}

#[test]
fn output_is_deterministic() {
    for path in specs() {
        assert_eq!(
            compile(&path, None),
            compile(&path, None),
            "{}",
            path.display()
        );
    }
}

#[test]
fn unsupported_features_name_feature_step_and_backends() {
    let wf = couler_ir::spec::load(
        "apiVersion: couler.dev/v1alpha1\nkind: Workflow\nname: t\nsteps:\n  - name: a\n    container: {image: alpine, command: [echo]}\n    outputs:\n      artifacts:\n        - name: x\n          path: /x\n          storage: {local: {path: /tmp/out}}\n",
        couler_ir::Format::Yaml,
    )
    .unwrap()
    .0;
    let e = Argo
        .compile(&wf, &Options::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("local artifact storage"), "{e}");
    assert!(e.contains("step `a`"), "{e}");
}

#[test]
fn a_daemon_is_a_daemon_template_its_readers_wait_for_it_daemoned_and_read_its_ip() {
    let yaml = compile(
        &common::repo().join("crates/couler-backends/tests/features/daemon.yaml"),
        None,
    );
    let doc: Value = serde_norway::from_str(&yaml).unwrap();
    let templates = doc["spec"]["templates"].as_array().unwrap();
    let template = |name: &str| {
        templates
            .iter()
            .find(|t| t["name"] == name)
            .unwrap_or_else(|| panic!("no template {name}:\n{yaml}"))
    };
    assert_eq!(template("cache")["daemon"], Value::Bool(true), "{yaml}");
    assert_eq!(template("warm-up").get("daemon"), None, "{yaml}");
    let tasks = templates
        .iter()
        .find_map(|t| t["dag"]["tasks"].as_array())
        .unwrap();
    let warm_up = tasks.iter().find(|t| t["name"] == "warm-up").unwrap();
    // The bare name accepts Daemoned; `cache.Succeeded` would wait until the DAG ends.
    assert_eq!(
        warm_up["dependencies"],
        serde_json::json!(["cache"]),
        "{yaml}"
    );
    assert!(
        serde_json::to_string(warm_up)
            .unwrap()
            .contains("{{tasks.cache.ip}}"),
        "{yaml}"
    );
    // Argo has `tasks.cache.ip` in scope only while `cache` is a daemon template.
    let mut broken = doc.clone();
    for t in broken["spec"]["templates"].as_array_mut().unwrap() {
        if t["name"] == "cache" {
            t.as_object_mut().unwrap().remove("daemon");
        }
    }
    let problems = argo::lint::lint(&broken);
    assert!(
        problems
            .iter()
            .any(|p| p.contains("`{{tasks.cache.ip}}` does not resolve")),
        "{problems:?}"
    );
}

#[test]
fn a_daemon_that_may_fail_to_start_is_still_waited_for_daemoned() {
    let text = std::fs::read_to_string(
        common::repo().join("crates/couler-backends/tests/features/daemon.yaml"),
    )
    .unwrap()
    .replace(
        "      daemon: true\n",
        "      daemon: true\n    continueOnFailure: true\n",
    );
    let wf = couler_ir::spec::load(&text, couler_ir::Format::Yaml)
        .unwrap()
        .0;
    let yaml = Argo
        .compile(&wf, &Options::default())
        .unwrap()
        .files
        .into_values()
        .next()
        .unwrap();
    check_document("daemon with continueOnFailure", &yaml);
    assert!(yaml.contains("cache.Daemoned"), "{yaml}");
}

#[test]
fn cron_kind_needs_a_schedule() {
    let wf = load(&repo().join("examples/hello.yaml"));
    let e = Argo
        .compile(
            &wf,
            &Options {
                kind: Some(Kind::CronWorkflow),
                ..Options::default()
            },
        )
        .unwrap_err();
    assert!(e.to_string().contains("schedule"), "{e}");
}

#[test]
fn identical_steps_share_a_template() {
    let mut text =
        String::from("apiVersion: couler.dev/v1alpha1\nkind: Workflow\nname: many\nsteps:\n");
    for i in 0..50 {
        text.push_str(&format!(
            "  - name: s{i}\n    container: {{image: alpine:3.19, command: [echo, same]}}\n"
        ));
    }
    let wf = couler_ir::spec::load(&text, couler_ir::Format::Yaml)
        .unwrap()
        .0;
    let out = Argo.compile(&wf, &Options::default()).unwrap();
    let doc: Value = serde_norway::from_str(&out.files["many.yaml"]).unwrap();
    assert_eq!(doc["spec"]["templates"].as_array().unwrap().len(), 2);
    let unshared = Argo
        .compile(
            &wf,
            &Options {
                no_template_reuse: true,
                ..Options::default()
            },
        )
        .unwrap();
    let doc: Value = serde_norway::from_str(&unshared.files["many.yaml"]).unwrap();
    assert_eq!(doc["spec"]["templates"].as_array().unwrap().len(), 51);
}

#[test]
fn lint_catches_broken_documents() {
    let doc: Value = serde_norway::from_str(
        "kind: Workflow\nspec:\n  entrypoint: main\n  templates:\n  - name: main\n    dag:\n      tasks:\n      - {name: a, template: nope, dependencies: [b]}\n      - {name: b, template: main, dependencies: [a], arguments: {parameters: [{name: x, value: '{{tasks.a.outputs.parameters.y}}'}]}}\n",
    )
    .unwrap();
    let p = argo::lint::lint(&doc);
    assert!(
        p.iter().any(|m| m.contains("`nope` does not exist")),
        "{p:?}"
    );
    assert!(p.iter().any(|m| m.contains("cycle")), "{p:?}");
    assert!(p.iter().any(|m| m.contains("does not resolve")), "{p:?}");
}

#[test]
fn lint_reports_templates_in_document_order() {
    let doc: Value = serde_norway::from_str(
        "kind: WorkflowTemplate\nspec:\n  templates:\n  - {name: zeta, container: {args: ['{{inputs.parameters.z}}']}}\n  - {name: alpha, container: {args: ['{{inputs.parameters.a}}']}}\n  - {name: mid, container: {args: ['{{inputs.parameters.m}}']}}\n",
    )
    .unwrap();
    let expected = ["zeta", "alpha", "mid"].map(|t| {
        let p = &t[..1];
        format!("template `{t}`: `{{{{inputs.parameters.{p}}}}}` does not resolve")
    });
    // Every call builds a new hash map: the order must not come from it.
    for _ in 0..16 {
        assert_eq!(argo::lint::lint(&doc), expected);
    }
}

#[test]
fn capability_matrix_lists_every_feature() {
    let table = couler_backends::capability_table(couler_backends::TableFormat::Text);
    for f in couler_backends::Feature::ALL {
        assert!(table.contains(f.name()), "{}", f.name());
    }
}
