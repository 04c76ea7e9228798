//! Imports every shared WfCommons trace and checks the result against the trace itself.
//!
//! The traces live outside the repository (`/work/shared/traces/wfinstances`, next to the
//! checkout); without them the test says so and passes.

use couler_ir::spec::{self, Format};
use couler_ir::{Graph, StepKind};
use couler_wfformat::{ImportOptions, import_detailed};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn trace_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/traces/wfinstances")
}

fn traces() -> Option<Vec<PathBuf>> {
    let dir = trace_dir();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        eprintln!(
            "skipping: no shared traces at {} (nothing to check)",
            dir.display()
        );
        return None;
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    Some(files)
}

fn str_list(task: &Value, field: &str) -> Vec<String> {
    task[field]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// The trace's tasks (id in 1.5, name in 1.4) and its (parent, child) pairs, read independently
/// of the importer: the union of `parents` and `children`.
fn trace_tasks_and_edges(doc: &Value) -> (Vec<String>, BTreeSet<(String, String)>) {
    let wf = &doc["workflow"];
    let (tasks, key) = match wf.get("specification") {
        Some(spec) => (spec["tasks"].as_array().cloned().unwrap_or_default(), "id"),
        None => (wf["tasks"].as_array().cloned().unwrap_or_default(), "name"),
    };
    let mut ids = Vec::new();
    let mut edges = BTreeSet::new();
    for t in &tasks {
        let id = t[key].as_str().unwrap_or_default().to_string();
        for p in str_list(t, "parents") {
            edges.insert((p, id.clone()));
        }
        for c in str_list(t, "children") {
            edges.insert((id.clone(), c));
        }
        ids.push(id);
    }
    (ids, edges)
}

#[test]
fn every_shared_trace_imports_exactly() {
    let Some(files) = traces() else { return };
    assert!(
        !files.is_empty(),
        "{} exists but holds no *.json",
        trace_dir().display()
    );
    for path in &files {
        let label = path.file_name().unwrap_or_default().to_string_lossy();
        let text = std::fs::read_to_string(path).unwrap();
        let doc: Value = serde_json::from_str(&text).unwrap();
        let imported = import_detailed(&text, &ImportOptions::default())
            .unwrap_or_else(|e| panic!("{label}: {e}"));
        let wf = &imported.workflow;

        let errors: Vec<_> = couler_ir::validate(wf)
            .into_iter()
            .filter(|d| d.is_error())
            .collect();
        assert!(errors.is_empty(), "{label}: {errors:#?}");

        let (task_ids, trace_edges) = trace_tasks_and_edges(&doc);
        assert_eq!(wf.steps.len(), task_ids.len(), "{label}: step count");
        assert_eq!(imported.task_ids, task_ids, "{label}: step → task mapping");

        let graph = Graph::new(wf);
        let dag_edges: BTreeSet<(String, String)> = graph
            .edges()
            .map(|(from, to)| (task_ids[from].clone(), task_ids[to].clone()))
            .collect();
        assert_eq!(
            graph.edge_count(),
            dag_edges.len(),
            "{label}: duplicate edges"
        );
        assert_eq!(
            dag_edges, trace_edges,
            "{label}: DAG edges differ from the trace"
        );
        assert_eq!(imported.summary.edges, trace_edges.len(), "{label}");
        assert_eq!(
            imported.summary.artifact_edges + imported.summary.order_edges,
            trace_edges.len(),
            "{label}"
        );
        assert!(graph.topological_order().is_ok(), "{label}: cycle");

        let yaml = spec::to_yaml(wf);
        let back = spec::parse(&yaml, Format::Yaml).unwrap_or_else(|e| panic!("{label}: {e:#?}"));
        assert_eq!(&back, wf, "{label}: YAML round trip");

        // Deterministic: a second import prints the same bytes.
        let again = couler_wfformat::import(&text, &ImportOptions::default()).unwrap();
        assert_eq!(spec::to_yaml(&again), yaml, "{label}: not deterministic");

        // Scripts hold nothing but the replay commands over quoted, sanitised names.
        for step in &wf.steps {
            let StepKind::Script(script) = &step.kind else {
                panic!("{label}: step {} is not a script", step.name)
            };
            assert_eq!(script.command, ["sh"]);
            let source = script.source.as_literal().unwrap();
            for line in source.lines() {
                let ok = line == "set -eu"
                    || line.starts_with("mkdir -p ")
                    || line.starts_with("sleep ")
                    || line.starts_with("cat 'in/")
                    || line.starts_with("head -c ");
                assert!(ok, "{label}: unexpected script line {line:?}");
                assert!(
                    !line.contains(['$', '`', ';', '|', '&', '\\', '"']),
                    "{label}: {line:?}"
                );
            }
        }
        eprintln!("{label}: {}", imported.summary);
    }
}

#[test]
fn shared_traces_scale() {
    let Some(files) = traces() else { return };
    let Some(path) = files
        .iter()
        .find(|p| p.ends_with("helloworld-chain-5-chameleon.json"))
    else {
        eprintln!("skipping: helloworld-chain-5-chameleon.json is not among the shared traces");
        return;
    };
    let text = std::fs::read_to_string(path).unwrap();
    let full = import_detailed(&text, &ImportOptions::default()).unwrap();
    let options = ImportOptions {
        time_scale: 0.01,
        size_scale: 0.001,
        name: Some("chain-replay".into()),
    };
    let small = import_detailed(&text, &options).unwrap();
    assert_eq!(small.workflow.name, "chain-replay");
    let ratio = small.summary.replay_critical_path_secs / full.summary.replay_critical_path_secs;
    assert!((ratio - 0.01).abs() < 1e-9, "{ratio}");
    assert!(small.summary.bytes_written * 900 < full.summary.bytes_written);
    assert!(small.summary.bytes_written * 1100 > full.summary.bytes_written);
}
