//! End-to-end tests of the `couler` binary: real processes, real files.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn couler(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_couler"))
        .args(args)
        .output()
        .expect("the couler binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn example(name: &str) -> String {
    repo().join("examples").join(name).display().to_string()
}

const VALID: &str = "apiVersion: couler.dev/v1alpha1
kind: Workflow
name: pair
steps:
  - name: first
    container:
      image: alpine:3.19
      command: [echo, one]
  - name: second
    dependsOn: [first]
    container:
      image: alpine:3.19
      command: [echo, two]
";

fn write(dir: &Path, name: &str, body: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, body).unwrap();
    path.display().to_string()
}

#[test]
fn validate_accepts_a_valid_file() {
    let out = couler(&["validate", &example("hello.yaml")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("ok:"), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains("1 steps"));
}

#[test]
fn validate_reports_file_line_column_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let bad = write(
        dir.path(),
        "bad.yaml",
        &VALID.replace("dependsOn: [first]", "dependsOn: [frist]"),
    );
    let out = couler(&["validate", &bad]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("unknown step `frist`"), "{err}");
    assert!(err.contains(&format!("{bad}:10:17")), "{err}");
    assert!(err.contains("did you mean `first`?"), "{err}");
}

#[test]
fn validate_json_output_is_machine_readable() {
    let dir = tempfile::tempdir().unwrap();
    let good = write(dir.path(), "good.yaml", VALID);
    let bad = write(
        dir.path(),
        "bad.yaml",
        &VALID.replace("image: alpine:3.19\n      command: [echo, one]", "imge: x"),
    );
    let out = couler(&["validate", "--output", "json", &good, &bad]);
    assert_eq!(out.status.code(), Some(2));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report[0]["valid"], true);
    assert_eq!(report[1]["valid"], false);
    let d = &report[1]["diagnostics"][0];
    assert_eq!(d["message"], "unknown field `imge`");
    assert_eq!(d["line"], 7);
    assert_eq!(d["help"], "did you mean `image`?");
}

#[test]
fn missing_file_is_a_clear_error() {
    let out = couler(&["validate", "/nonexistent/wf.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("cannot read /nonexistent/wf.yaml"));
}

#[test]
fn graph_prints_text_dot_and_mermaid() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "pair.yaml", VALID);
    let out = couler(&["graph", &file]);
    assert_eq!(out.status.code(), Some(0));
    let t = text(&out.stdout);
    assert!(t.contains("pair: 2 steps, 1 edges, depth 2"), "{t}");
    assert!(t.contains("second [container]  ← first"), "{t}");
    let dot = text(&couler(&["graph", "--format", "dot", &file]).stdout);
    assert!(dot.starts_with("digraph \"pair\" {"), "{dot}");
    assert!(dot.contains("\"first\" -> \"second\";"), "{dot}");
    let mermaid = text(&couler(&["graph", "-f", "mermaid", &file]).stdout);
    assert!(mermaid.contains("s0 --> s1"), "{mermaid}");
}

#[test]
fn fmt_checks_rewrites_and_keeps_comments() {
    let dir = tempfile::tempdir().unwrap();
    let messy = VALID.replace(
        "command: [echo, one]",
        "command:\n        - echo\n        - 'one'",
    );
    let file = write(dir.path(), "messy.yaml", &messy);
    assert_eq!(couler(&["fmt", "--check", &file]).status.code(), Some(1));
    let out = couler(&["fmt", &file]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let formatted = std::fs::read_to_string(&file).unwrap();
    assert_ne!(formatted, messy);
    assert_eq!(couler(&["fmt", "--check", &file]).status.code(), Some(0));
    // Formatting is idempotent and keeps the meaning.
    assert_eq!(text(&couler(&["fmt", "--stdout", &file]).stdout), formatted);

    // Comments are kept (docs/spec.md §18), unless dropped.
    let commented = write(dir.path(), "commented.yaml", &format!("# keep me\n{messy}"));
    let out = couler(&["fmt", &commented]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        std::fs::read_to_string(&commented).unwrap(),
        format!("# keep me\n{formatted}")
    );
    assert_eq!(
        couler(&["fmt", "--check", &commented]).status.code(),
        Some(0)
    );
    assert_eq!(
        couler(&["fmt", "--drop-comments", &commented])
            .status
            .code(),
        Some(0)
    );
    assert_eq!(std::fs::read_to_string(&commented).unwrap(), formatted);
}

#[test]
fn fmt_refuses_invalid_specs() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "bad.yaml",
        &VALID.replace("[first]", "[nobody]"),
    );
    let out = couler(&["fmt", &file]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("unknown step `nobody`"));
}

const TRACE: &str = r#"{
  "name": "tiny", "schemaVersion": "1.5",
  "workflow": {
    "specification": {
      "tasks": [
        {"name": "t1", "id": "t1", "parents": [], "children": ["t2"], "inputFiles": ["in.txt"], "outputFiles": ["mid.txt"]},
        {"name": "t2", "id": "t2", "parents": ["t1"], "children": [], "inputFiles": ["mid.txt"], "outputFiles": ["out.txt"]}
      ],
      "files": [
        {"id": "in.txt", "sizeInBytes": 10}, {"id": "mid.txt", "sizeInBytes": 20}, {"id": "out.txt", "sizeInBytes": 30}
      ]
    },
    "execution": {
      "makespanInSeconds": 3.0,
      "tasks": [{"id": "t1", "runtimeInSeconds": 1.5}, {"id": "t2", "runtimeInSeconds": 1.5}]
    }
  }
}"#;

#[test]
fn import_wfformat_writes_a_valid_workflow() {
    let dir = tempfile::tempdir().unwrap();
    let trace = write(dir.path(), "tiny.json", TRACE);
    let out_file = dir.path().join("tiny.yaml").display().to_string();
    let out = couler(&[
        "import",
        "wfformat",
        &trace,
        "-o",
        &out_file,
        "--time-scale",
        "0",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("2 steps, 1 edges"),
        "{}",
        text(&out.stderr)
    );
    let v = couler(&["validate", &out_file]);
    assert_eq!(v.status.code(), Some(0), "{}", text(&v.stderr));
    let bad = couler(&["import", "wfformat", &trace, "--size-scale", "-1"]);
    assert_eq!(bad.status.code(), Some(2));
    let broken = write(dir.path(), "broken.json", "{\"workflow\": ");
    let out = couler(&["import", "wfformat", &broken]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("broken.json"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn completions_and_help() {
    let out = couler(&["completions", "bash"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).contains("couler"));
    for cmd in [
        "validate", "graph", "fmt", "import", "run", "compile", "split", "simulate",
    ] {
        let out = couler(&[cmd, "--help"]);
        assert_eq!(out.status.code(), Some(0), "{cmd} --help");
    }
}
