//! The launcher protocol has one home in code, `couler_ir::launch_protocol`, and one document,
//! `docs/launcher.md`: these tests fail when the document's tables (task fields, task forms,
//! environment, exit codes) differ from the code, or when an engine backend writes a launcher
//! input the protocol does not define.

use couler_backends::{Backend, Options, airflow::Airflow, tekton::Tekton};
use couler_ir::launch_protocol::*;
use serde::Deserialize;
use std::collections::BTreeSet;
use std::path::Path;

fn repo_file(rel: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// The rows of the first Markdown table after the heading `heading`, cells trimmed, header and
/// separator left out.
fn table(doc: &str, heading: &str) -> Vec<Vec<String>> {
    let at = doc
        .lines()
        .position(|l| l.trim_end() == heading)
        .unwrap_or_else(|| panic!("docs/launcher.md has no heading {heading:?}"));
    let rows: Vec<Vec<String>> = doc
        .lines()
        .skip(at + 1)
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .map(|l| {
            let inner = l.trim().trim_start_matches('|').trim_end_matches('|');
            inner.split(" | ").map(|c| c.trim().to_string()).collect()
        })
        .collect();
    assert!(rows.len() > 2, "the table under {heading:?} is empty");
    rows[2..].to_vec()
}

fn unquote(cell: &str) -> &str {
    cell.trim_matches('`')
}

/// Every `COULER_…` name in `text`.
fn couler_names(text: &str) -> BTreeSet<&str> {
    let mut names = BTreeSet::new();
    for (i, _) in text.match_indices("COULER_") {
        let rest = &text[i..];
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        names.insert(&rest[..end]);
    }
    names
}

/// Whether `name` is a variable of the protocol: one of its names, or one param's or one
/// upstream step's variable.
fn is_protocol_name(name: &str) -> bool {
    let exact = [
        TASK_ENV,
        PARAMS_ENV,
        ITEM_ENV,
        ITEM_INDEX_ENV,
        RUN_ID_ENV,
        WORKFLOW_STATUS_ENV,
        ARTIFACT_STORE_ENV,
        CHILD_RUN_ENV,
        POLL_INTERVAL_ENV,
    ];
    exact.contains(&name)
        || [PARAM_ENV_PREFIX, UPSTREAM_ENV_PREFIX]
            .iter()
            .any(|p| name.len() > p.len() && name.starts_with(p))
}

#[test]
fn the_exit_codes_table_is_the_protocols() {
    let doc = repo_file("docs/launcher.md");
    let rows = table(&doc, "## Exit codes");
    let codes: Vec<i32> = rows
        .iter()
        .map(|r| {
            r[0].parse()
                .unwrap_or_else(|_| panic!("exit code {:?}", r[0]))
        })
        .collect();
    assert_eq!(
        codes,
        EXIT_CODES.map(|(c, _)| c),
        "docs/launcher.md, \"Exit codes\""
    );
    for (row, (code, meaning)) in rows.iter().zip(EXIT_CODES) {
        assert!(
            row[1].starts_with(&format!("`{meaning}`")) || row[1].starts_with(meaning),
            "exit code {code} means {meaning:?} in the code, {:?} in docs/launcher.md",
            row[1]
        );
    }
}

#[test]
fn the_task_table_is_the_task_type() {
    let doc = repo_file("docs/launcher.md");
    let documented: BTreeSet<String> = table(&doc, "### The task (`--task`, or env `COULER_TASK`)")
        .iter()
        .map(|r| unquote(&r[0]).to_string())
        .collect();
    let mut full = Task::new("s", serde_json::json!({}));
    full.params.insert("p".into(), 1.into());
    full.upstream.insert("u".into(), serde_json::json!({}));
    full.item = Some(1.into());
    full.item_index = Some(0);
    full.run_id = Some("r".into());
    full.workflow_status = Some("Succeeded".into());
    let value = serde_json::to_value(&full).unwrap();
    let fields: BTreeSet<String> = value.as_object().unwrap().keys().cloned().collect();
    assert_eq!(fields, documented, "the task's fields");
    // The required ones: a task of only those is read; without either it is not.
    assert!(doc.contains("only `workflow` and `step` are required"));
    let minimal = serde_json::to_value(Task::new("s", serde_json::json!({}))).unwrap();
    let keys: BTreeSet<&str> = minimal
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, BTreeSet::from(["step", "workflow"]));
    for key in keys {
        let mut less = minimal.clone();
        less.as_object_mut().unwrap().remove(key);
        assert!(
            Task::deserialize(&less).is_err(),
            "a task without `{key}` was read"
        );
    }
    // The forms its text travels in.
    for form in [TaskForm::File("PATH"), TaskForm::Base64("BASE64")] {
        assert!(
            doc.contains(&format!("- `{}`:", form.text())),
            "docs/launcher.md does not list the task form `{}`",
            form.text()
        );
    }
}

#[test]
fn the_environment_table_is_the_protocols() {
    let doc = repo_file("docs/launcher.md");
    let documented: Vec<String> = table(
        &doc,
        "### Environment overrides (values only known at run time)",
    )
    .iter()
    .map(|r| unquote(&r[0]).to_string())
    .collect();
    let code = [
        TASK_ENV.to_string(),
        PARAMS_ENV.to_string(),
        param_env("<name>"),
        upstream_env("<STEP>"),
        ITEM_ENV.to_string(),
        ITEM_INDEX_ENV.to_string(),
        RUN_ID_ENV.to_string(),
        WORKFLOW_STATUS_ENV.to_string(),
        ARTIFACT_STORE_ENV.to_string(),
    ];
    assert_eq!(
        documented, code,
        "docs/launcher.md, \"Environment overrides\""
    );
    for name in [CHILD_RUN_ENV, POLL_INTERVAL_ENV] {
        assert!(
            doc.contains(&format!("`{name}`")),
            "{name} is not documented"
        );
    }
    let unknown: Vec<&str> = couler_names(&doc)
        .into_iter()
        .filter(|n| !is_protocol_name(n) && !n.ends_with('_'))
        .collect();
    assert!(
        unknown.is_empty(),
        "docs/launcher.md names {unknown:?}, which the protocol does not define"
    );
}

fn examples() -> Vec<couler_ir::Workflow> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let mut out = Vec::new();
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    for path in paths {
        if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        if let Ok((wf, _)) = couler_ir::spec::load(&text, couler_ir::Format::Yaml) {
            out.push(wf);
        }
    }
    assert!(out.len() > 5, "only {} examples", out.len());
    out
}

/// Airflow DAGs set only protocol variables (and `COULER_LAUNCHER`, the DAG's own name for the
/// launcher command), skip on the protocol's exit code and write the task in its forms.
#[test]
fn airflow_writes_the_protocol() {
    let mut compiled = 0;
    for wf in examples() {
        let Ok(out) = Airflow.compile(&wf, &Options::default()) else {
            continue;
        };
        for text in out.files.values() {
            for name in couler_names(text) {
                assert!(
                    is_protocol_name(name) || name == "COULER_LAUNCHER",
                    "{}: the DAG sets {name}, which the launcher protocol does not define",
                    wf.name
                );
            }
            for part in [
                format!("\"{TASK_ENV}\": literal(task)"),
                format!("\"{TASK_BASE64_PREFIX}\" + base64.b64encode"),
                format!("\"{TASK_FILE_PREFIX}\" + _task_file"),
            ] {
                assert!(text.contains(&part), "{}: no {part:?}", wf.name);
            }
            if text.contains("BashOperator(") {
                assert!(text.contains(&format!("skip_on_exit_code={EXIT_SKIPPED}")));
            }
            compiled += 1;
        }
    }
    assert!(compiled > 5, "only {compiled} DAGs");
}

/// Tekton documents set only protocol variables, and each pipeline task's `COULER_TASK`
/// (with Tekton's substitution of the step's name made) is a task of the protocol for that step.
#[test]
fn tekton_writes_the_protocol() {
    let mut checked = 0;
    for wf in examples() {
        let Ok(out) = Tekton.compile(&wf, &Options::default()) else {
            continue;
        };
        let text = out.files.values().next().unwrap();
        for name in couler_names(text) {
            assert!(
                is_protocol_name(name),
                "{}: {name} is not a protocol variable",
                wf.name
            );
        }
        let docs: Vec<serde_json::Value> = serde_norway::Deserializer::from_str(text)
            .map(|d| serde_json::Value::deserialize(d).unwrap())
            .collect();
        let by_name = |kind: &str, name: &str| {
            docs.iter()
                .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
                .cloned()
        };
        let pipeline = docs.iter().find(|d| d["kind"] == "Pipeline").unwrap();
        let tasks = pipeline["spec"]["tasks"].as_array().unwrap();
        let finally = pipeline["spec"]["finally"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for t in tasks.iter().chain(&finally) {
            let step = t["name"].as_str().unwrap();
            let task_name = t["taskRef"]["name"].as_str().unwrap();
            let task = by_name("Task", task_name).unwrap();
            let env = task["spec"]["steps"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|s| s["env"].as_array())
                .flatten()
                .find(|e| e["name"] == TASK_ENV)
                .unwrap_or_else(|| panic!("{}: Task {task_name} sets no {TASK_ENV}", wf.name));
            let value = env["value"]
                .as_str()
                .unwrap()
                .replace("$(params.couler-step)", step);
            let json = match TaskForm::of(&value) {
                TaskForm::Json(j) => j.to_string(),
                TaskForm::File(path) => {
                    let key = path.rsplit('/').next().unwrap();
                    let map = by_name("ConfigMap", task_name).unwrap();
                    map["data"][key].as_str().unwrap().to_string()
                }
                TaskForm::Base64(_) => panic!("{}: Tekton writes no base64 task", wf.name),
            };
            let read: Task = serde_json::from_str(&json)
                .unwrap_or_else(|e| panic!("{}: step {step}: {e}", wf.name));
            assert_eq!(read.step, step);
            let wf_steps = read.workflow["steps"].as_array().into_iter().flatten();
            let exits = read.workflow["onExit"].as_array().into_iter().flatten();
            assert!(
                wf_steps.chain(exits).any(|s| s["name"] == step),
                "{}: {step}",
                wf.name
            );
            checked += 1;
        }
    }
    assert!(checked > 10, "only {checked} Tekton tasks checked");
}
