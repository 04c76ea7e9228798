//! Printing in pieces (`document::print`) against printing the tree (`to_yaml(lower(..))`):
//! the same bytes and the same size warnings, on every spec the snapshot tests compile and on
//! generated DAG and steps workflows; and the pieces are really used.

use super::super::document::{lower, print};
use super::super::template_size::{json_len, warnings};
use super::super::templates::Templates;
use super::super::{Lowerer, to_yaml};
use crate::{Kind, Options};
use couler_ir::{Format, Workflow};
use std::path::{Path, PathBuf};

fn specs() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    for dir in ["../../examples", "../../examples/cluster", "tests/features"] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(root.join(dir))
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
            .collect();
        files.sort();
        out.extend(files);
    }
    assert!(out.len() > 10, "{out:?}");
    out
}

fn load(text: &str) -> Workflow {
    couler_ir::spec::load(text, Format::Yaml)
        .unwrap_or_else(|d| panic!("{d:?}\n{text}"))
        .0
}

/// Both ways give the same bytes and warnings; `Some` when printed in pieces.
fn both(wf: &Workflow, options: &Options) -> Option<String> {
    let tree = lower(wf, options).map(|doc| (to_yaml(&doc).unwrap(), warnings(&doc)));
    match print(wf, options) {
        Ok(Some((text, warned))) => {
            let (tree_text, tree_warned) = tree.unwrap();
            assert_eq!(text, tree_text, "{}", wf.name);
            assert_eq!(warned, tree_warned, "{}", wf.name);
            Some(text)
        }
        Ok(None) => None,
        Err(e) => {
            assert_eq!(e.to_string(), tree.unwrap_err().to_string());
            None
        }
    }
}

#[test]
fn every_spec_prints_in_pieces_as_its_tree_prints() {
    for path in specs() {
        let wf = load(&std::fs::read_to_string(&path).unwrap());
        let kinds = [None, Some(Kind::WorkflowTemplate), Some(Kind::CronWorkflow)];
        for kind in kinds {
            let options = Options {
                kind,
                ..Options::default()
            };
            let printed = both(&wf, &options);
            let cron_without_schedule = kind == Some(Kind::CronWorkflow) && wf.schedule.is_none();
            assert_eq!(
                printed.is_some(),
                !cron_without_schedule,
                "{}, {kind:?}: not printed in pieces",
                path.display()
            );
        }
    }
}

/// A layered DAG (`layers` of `width`, each step after the whole layer before) or, with
/// `chain`, a steps template; `same` gives every step the same command (reused templates).
fn generated(layers: usize, width: usize, same: bool) -> Workflow {
    let mut text =
        String::from("apiVersion: couler.dev/v1alpha1\nkind: Workflow\nname: gen\nsteps:\n");
    for l in 0..layers {
        for i in 0..width {
            text += &format!("  - name: s-{l}-{i}\n");
            if l > 0 && !(i == 0 && width > 1) {
                let before: Vec<String> = (0..width).map(|j| format!("s-{}-{j}", l - 1)).collect();
                text += &format!("    dependsOn: [{}]\n", before.join(", "));
            } else if l > 0 {
                text += &format!("    dependsOn: [s-{}-0]\n", l - 1);
            }
            let arg = if same {
                "x".to_string()
            } else {
                format!("'{l}: {i}'")
            };
            text += &format!("    container: {{image: alpine, command: [echo, {arg}]}}\n");
        }
    }
    load(&text)
}

#[test]
fn generated_workflows_print_in_pieces_as_their_trees_print() {
    for (layers, width) in [(1, 1), (3, 1), (4, 3), (20, 10)] {
        for same in [false, true] {
            let wf = generated(layers, width, same);
            assert!(both(&wf, &Options::default()).is_some(), "{layers}×{width}");
            let no_reuse = Options {
                no_template_reuse: true,
                ..Options::default()
            };
            assert!(both(&wf, &no_reuse).is_some());
        }
    }
}

/// The entry template's JSON size, counted from the skeleton and its printed tasks, is the
/// tree's, for a DAG and for a steps template.
#[test]
fn the_entry_templates_size_is_the_trees() {
    for wf in [
        generated(5, 4, false),
        generated(6, 1, true),
        load(include_str!("../../../../../examples/diamond.yaml")),
    ] {
        let options = Options::default();
        let mut l = Lowerer::new(&wf, &options, Templates::printed(2));
        let (_, entry) = l.workflow_spec().unwrap();
        let doc = lower(&wf, &options).unwrap();
        assert_eq!(
            entry.unwrap().json_len(),
            json_len(&doc["spec"]["templates"][0]),
            "{}",
            wf.name
        );
    }
}

/// What the direct printer cannot print alone (a line break other than `\n`) goes to the tree.
#[test]
fn an_unprintable_template_falls_back_to_the_tree() {
    let wf = load(
        "apiVersion: couler.dev/v1alpha1\nkind: Workflow\nname: cr\nsteps:\n  - name: a\n    container: {image: alpine, command: [echo, \"a\\rb\"]}\n",
    );
    assert_eq!(both(&wf, &Options::default()), None);
    let out = crate::Backend::compile(&super::super::Argo, &wf, &Options::default()).unwrap();
    let doc = lower(&wf, &Options::default()).unwrap();
    assert_eq!(out.files["cr.yaml"], to_yaml(&doc).unwrap());
}

/// The size warning of a template over the pod's limit names the same byte count either way
/// (printed: counted from the body's canonical JSON), for a template with and without inputs.
#[test]
fn oversized_templates_are_warned_with_the_trees_sizes() {
    let big = "x".repeat(140_000);
    let wf = load(&format!(
        "apiVersion: couler.dev/v1alpha1\nkind: Workflow\nname: big\nsteps:\n  - name: huge\n    script: {{image: alpine, command: [sh], source: '{big}'}}\n  - name: also\n    dependsOn: [huge]\n    env: {{A: \"1\"}}\n    script: {{image: alpine, command: [sh], source: '{big} \"q\"'}}\n"
    ));
    let options = Options::default();
    assert!(both(&wf, &options).is_some());
    let (_, warned) = print(&wf, &options).unwrap().unwrap();
    assert_eq!(warned.len(), 2, "{warned:?}");
}
