//! Every emitted document loads into the Argo models of PyPI `hera==7.1.0` without a dropped or
//! changed field (`tests/hera_check.py`, in the venv of `scripts/test-deps`, or the python named
//! by `COULER_TEST_PYTHON`). Skips with a message when no such python can be had.

use couler_backends::argo::Argo;
use couler_backends::{Backend, Kind, Options};
use serde_json::Value;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

mod common;
use common::specs;

/// `COULER_TEST_PYTHON`, else the venv scripts/test-deps creates.
fn python() -> String {
    common::installed_tool(
        "COULER_TEST_PYTHON",
        "test-deps",
        "a Python venv with hera==7.1.0",
    )
}

#[test]
fn every_document_loads_into_hera_models_intact() {
    let py = python();
    let mut docs = serde_json::Map::new();
    for path in specs() {
        let text = std::fs::read_to_string(&path).unwrap();
        let wf = couler_ir::spec::load(&text, couler_ir::Format::Yaml)
            .unwrap()
            .0;
        for kind in [None, Some(Kind::WorkflowTemplate)] {
            let out = Argo
                .compile(
                    &wf,
                    &Options {
                        kind,
                        ..Options::default()
                    },
                )
                .unwrap();
            let yaml = out.files.into_values().next().unwrap();
            let doc: Value = serde_norway::from_str(&yaml).unwrap();
            docs.insert(format!("{} ({kind:?})", path.display()), doc);
        }
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/hera_check.py");
    let mut child = match Command::new(&py)
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => panic!("cannot run {py} for the hera check: {e}; run scripts/test-deps"),
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(Value::Object(docs).to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "hera_check.py failed");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut bad = Vec::new();
    for (name, problems) in report.as_object().unwrap() {
        for p in problems.as_array().unwrap() {
            bad.push(format!("{name}: {}", p.as_str().unwrap_or_default()));
        }
    }
    assert!(
        bad.is_empty(),
        "hera dropped or changed fields:\n{}",
        bad.join("\n")
    );
}
