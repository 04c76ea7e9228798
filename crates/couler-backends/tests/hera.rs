//! Every emitted document loads into the Argo models of PyPI `hera==7.1.0` without a dropped or
//! changed field (`tests/hera_check.py`, in the venv of `scripts/test-deps`, or the python named
//! by `COULER_TEST_PYTHON`). Skips with a message when no such python can be had.

use couler_backends::argo::Argo;
use couler_backends::{Backend, Kind, Options};
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn python() -> Option<String> {
    if let Ok(p) = std::env::var("COULER_TEST_PYTHON") {
        return Some(p);
    }
    let out = Command::new("bash")
        .arg(repo().join("scripts/test-deps"))
        .stderr(Stdio::inherit())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let p = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!p.is_empty()).then_some(p)
}

fn specs() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for dir in [
        repo().join("examples"),
        repo().join("examples/cluster"),
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/features"),
    ] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
            .collect();
        files.sort();
        out.extend(files);
    }
    out
}

#[test]
fn every_document_loads_into_hera_models_intact() {
    let Some(py) = python() else {
        println!(
            "skipping the hera check: no python with hera (run scripts/test-deps or set COULER_TEST_PYTHON)"
        );
        return;
    };
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
        Err(e) => {
            println!("skipping the hera check: cannot run {py}: {e}");
            return;
        }
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
