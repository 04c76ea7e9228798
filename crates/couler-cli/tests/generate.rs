//! `couler generate` end to end against `couler_model::standin`: a real HTTP server on
//! loopback speaking the OpenAI chat-completions protocol, answering from each test's script
//! (no real model runs here; the answers are what a model could say). The requests it records
//! are checked: model, messages, the bearer key, and what the calibration prompt says.

#[path = "support/server.rs"]
mod support;

use couler_model::standin::{Reply, Server};
use serde_json::json;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

const PREP: &str = "```yaml\nsteps:\n- name: prep\n  container:\n    image: alpine:3.19\n    command: [echo, data]\n```";
/// `dependsOn` a step that does not exist (a typo of `prep`).
const TRAIN_TYPO: &str = "Here you go:\n```yaml\nsteps:\n- name: train\n  dependsOn: [prepp]\n  container:\n    image: alpine:3.19\n    command: [echo, train]\n```";
/// The calibration answer as the schema has it written: one JSON object, no fence.
const FIXED: &str = r#"{"apiVersion": "couler.dev/v1alpha1", "kind": "Workflow", "name": "prepare-data-and-train-a", "steps": [{"name": "prep", "container": {"image": "alpine:3.19", "command": ["echo", "data"]}}, {"name": "train", "dependsOn": ["prep"], "container": {"image": "alpine:3.19", "command": ["echo", "train"]}}]}"#;

fn couler(dir: &Path, args: &[&str], endpoint: &str, stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_couler"))
        .args(args)
        .current_dir(dir)
        .env("OPENAI_BASE_URL", endpoint)
        .env("OPENAI_API_KEY", "sk-test-key")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("couler runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn decompose_retrieve_generate_then_calibrate_a_wrong_reference_away_and_replay_it() {
    let server = Server::start(vec![
        Reply::answer("[\"prepare the data\", \"train a model\"]"),
        Reply::answer(PREP),
        Reply::answer(TRAIN_TYPO),
        Reply::answer(FIXED),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let description = "Prepare data and train a model";
    let out = couler(
        dir.path(),
        &["generate", description, "-o", "wf.yaml", "--model", "m1"],
        &server.url,
        "",
    );
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("decompose: 2 sub-tasks") && err.contains("wrote wf.yaml"),
        "{err}"
    );

    let requests = server.requests();
    assert_eq!(
        requests.len(),
        4,
        "decompose, 2 × generate, 1 calibration round"
    );
    for r in &requests {
        assert_eq!(r.path, "/v1/chat/completions");
        assert_eq!(r.body["model"], "m1");
        assert_eq!(r.header("authorization"), Some("Bearer sk-test-key"));
    }
    assert_eq!(requests[0].body["messages"][1]["content"], description);
    // Sub-task 2's prompt: the Code Lake entries BM25 retrieved, and sub-task 1's steps.
    let second = requests[2].body["messages"][1]["content"].as_str().unwrap();
    assert!(
        second.contains("Reference `") && second.contains("train a model"),
        "{second}"
    );
    assert!(second.contains("name: prep"), "{second}");
    // The calibration prompt carries the validator's located diagnostic.
    let fix = requests[3].body["messages"][1]["content"].as_str().unwrap();
    assert!(
        fix.contains("prepp") && fix.contains("--> wf.yaml:"),
        "{fix}"
    );
    // It asks for the whole spec under the spec's schema (the local model's grammar).
    let schema = &requests[3].body["response_format"]["json_schema"]["schema"];
    assert_eq!(
        schema["properties"]["kind"]["const"], "Workflow",
        "{schema}"
    );
    assert_eq!(
        schema["properties"]["steps"]["items"]["additionalProperties"],
        false
    );
    let located = fix.lines().find(|l| l.contains("--> wf.yaml:")).unwrap();
    assert!(
        located.split(':').count() >= 3,
        "line and column: {located}"
    );

    let spec = std::fs::read_to_string(dir.path().join("wf.yaml")).unwrap();
    assert!(spec.contains("- prep"), "{spec}");
    let validate = Command::new(env!("CARGO_BIN_EXE_couler"))
        .args(["validate", "wf.yaml"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(validate.status.success(), "{}", stderr(&validate));

    let log = std::fs::read_to_string(dir.path().join("wf.yaml.generate.jsonl")).unwrap();
    let stages: Vec<String> = log
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["stage"].to_string())
        .collect();
    assert_eq!(
        stages,
        [
            "\"decompose\"",
            "\"generate\"",
            "\"generate\"",
            "\"calibrate\""
        ]
    );
    assert!(!log.contains("sk-test-key"), "the key is never logged");

    // Replay: no endpoint (nothing listens there), the same bytes.
    std::fs::create_dir(dir.path().join("again")).unwrap();
    let replay = couler(
        dir.path(),
        &[
            "generate",
            description,
            "-o",
            "again/wf.yaml",
            "--model",
            "m1",
            "--replay",
            "wf.yaml.generate.jsonl",
        ],
        "http://127.0.0.1:9/v1",
        "",
    );
    assert!(replay.status.success(), "{}", stderr(&replay));
    let again = std::fs::read_to_string(dir.path().join("again/wf.yaml")).unwrap();
    assert_eq!(again, spec);
    // Another description asks other questions: the replay says so.
    let other = couler(
        dir.path(),
        &[
            "generate",
            "something else",
            "--replay",
            "wf.yaml.generate.jsonl",
        ],
        "http://127.0.0.1:9/v1",
        "",
    );
    assert_eq!(other.status.code(), Some(1));
    assert!(
        stderr(&other).contains("the log has no answer to this question"),
        "{}",
        stderr(&other)
    );
}

#[test]
fn rounds_exhausted_exit_non_zero_with_the_diagnostics_and_save_the_attempt_as_invalid() {
    let server = Server::start(vec![Reply::answer(TRAIN_TYPO), Reply::answer(TRAIN_TYPO)]);
    let dir = tempfile::tempdir().unwrap();
    let out = couler(
        dir.path(),
        &[
            "generate",
            "train",
            "-o",
            "wf.yaml",
            "--no-decompose",
            "--rounds",
            "1",
            "-t",
            "local",
        ],
        &server.url,
        "",
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("prepp") && err.contains("no valid workflow for local after 1"),
        "{err}"
    );
    assert!(err.contains("wf.invalid.yaml"), "{err}");
    assert!(
        !dir.path().join("wf.yaml").exists(),
        "an invalid spec is never written as valid"
    );
    let saved = std::fs::read_to_string(dir.path().join("wf.invalid.yaml")).unwrap();
    assert!(saved.contains("prepp"), "{saved}");
    assert_eq!(server.requests().len(), 2);
}

#[test]
fn interactive_comments_revise_the_spec_and_an_empty_line_accepts() {
    let renamed = PREP.replace("name: prep", "name: greet");
    let server = Server::start(vec![Reply::answer(PREP), Reply::answer(&renamed)]);
    let dir = tempfile::tempdir().unwrap();
    let out = couler(
        dir.path(),
        &[
            "generate",
            "echo data",
            "--no-decompose",
            "--no-retrieve",
            "--interactive",
        ],
        &server.url,
        "call the step greet\n\n",
    );
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert_eq!(err.matches("Your comment").count(), 2, "{err}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("name: greet") && !stdout.contains("name: prep"),
        "{stdout}"
    );
    let revise = server.requests()[1].body["messages"][1]["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        revise.contains("call the step greet") && revise.contains("name: prep"),
        "{revise}"
    );
    // Without retrieval, no Code Lake entry in the prompt.
    let first = server.requests()[0].body["messages"][1]["content"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(!first.contains("Reference `"), "{first}");
}

#[test]
fn a_refused_key_and_an_empty_description_are_clear_errors() {
    let server = Server::start(vec![Reply::status(401, "{\"error\": \"invalid key\"}")]);
    let dir = tempfile::tempdir().unwrap();
    let out = couler(dir.path(), &["generate", "train a model"], &server.url, "");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("401") && err.contains("OPENAI_API_KEY") && err.contains(&server.url),
        "{err}"
    );
    assert!(!err.contains("sk-test-key"), "{err}");
    let empty = couler(dir.path(), &["generate", "  "], &server.url, "");
    assert_eq!(empty.status.code(), Some(2));
    assert!(
        stderr(&empty).contains("the description is empty"),
        "{}",
        stderr(&empty)
    );
}

#[test]
fn eval_reports_pass_at_1_per_variant_and_replays() {
    // One task, four variants in order: full (decompose, generate), no-decompose (generate),
    // no-retrieve (decompose, generate), no-calibrate (decompose, generate: a wrong reference
    // it may not fix).
    let sub = "[\"echo data\"]";
    let server = Server::start(vec![
        Reply::answer(sub),
        Reply::answer(PREP),
        Reply::answer(PREP),
        Reply::answer(sub),
        Reply::answer(PREP),
        Reply::answer(sub),
        Reply::answer(TRAIN_TYPO),
    ]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("tasks.yaml"),
        "- description: echo some data\n  expect: {minSteps: 1, kinds: [container]}\n",
    )
    .unwrap();
    let out = couler(
        dir.path(),
        &["generate", "eval", "--tasks", "tasks.yaml"],
        &server.url,
        "",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(report.contains("| full | 1/1 | 100.0% |"), "{report}");
    assert!(
        report.contains("| no-decompose | 1/1 | 100.0% |"),
        "{report}"
    );
    assert!(
        report.contains("| no-retrieve | 1/1 | 100.0% |"),
        "{report}"
    );
    assert!(report.contains("| no-calibrate | 0/1 | 0.0% |"), "{report}");
    assert_eq!(server.requests().len(), 7);
    let replay = couler(
        dir.path(),
        &[
            "generate",
            "eval",
            "--tasks",
            "tasks.yaml",
            "--replay",
            "tasks.yaml.generate.jsonl",
        ],
        "http://127.0.0.1:9/v1",
        "",
    );
    assert!(replay.status.success(), "{}", stderr(&replay));
    assert_eq!(String::from_utf8_lossy(&replay.stdout), report);
}

#[test]
fn eval_samples_each_task_k_times_with_seeds_and_reports_pass_at_k() {
    // One easy task, two samples a variant, no calibration rounds: each answer stands.
    // full: sample 1 passes, sample 2 names a step that does not exist → pass@1 50%, pass@2 100%.
    // no-decompose: both pass. no-retrieve: both fail. no-calibrate: both pass.
    let sub = "[\"echo data\"]";
    let (pass, fail) = (Reply::answer(PREP), Reply::answer(TRAIN_TYPO));
    let server = Server::start(vec![
        Reply::answer(sub),
        pass.clone(),
        Reply::answer(sub),
        fail.clone(),
        pass.clone(),
        pass.clone(),
        Reply::answer(sub),
        fail.clone(),
        Reply::answer(sub),
        fail,
        Reply::answer(sub),
        pass.clone(),
        Reply::answer(sub),
        pass,
    ]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("tasks.yaml"),
        "- description: echo some data\n  difficulty: easy\n  expect: {minSteps: 1, kinds: [container]}\n",
    )
    .unwrap();
    let args = [
        "generate",
        "eval",
        "--tasks",
        "tasks.yaml",
        "--samples",
        "2",
        "--rounds",
        "0",
    ];
    let out = couler(dir.path(), &args, &server.url, "");
    assert!(out.status.success(), "{}", stderr(&out));
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        report.starts_with(
            "| variant | passed | pass@1 | pass@2 | easy pass@1 | medium pass@1 | hard pass@1 |"
        ),
        "{report}"
    );
    for row in [
        "| full | 1/2 | 50.0% | 100.0% | 50.0% | - | - |",
        "| no-decompose | 2/2 | 100.0% | 100.0% | 100.0% | - | - |",
        "| no-retrieve | 0/2 | 0.0% | 0.0% | 0.0% | - | - |",
        "| no-calibrate | 2/2 | 100.0% | 100.0% | 100.0% | - | - |",
    ] {
        assert!(report.contains(row), "{row} in {report}");
    }
    // Each sample's questions carry its seed, sampled at temperature 0.8.
    let requests = server.requests();
    assert_eq!(requests.len(), 14);
    let seeds: Vec<u64> = requests
        .iter()
        .map(|r| r.body["seed"].as_u64().unwrap())
        .collect();
    assert_eq!(seeds, [0, 0, 1, 1, 0, 1, 0, 0, 1, 1, 0, 0, 1, 1]);
    for r in &requests {
        assert!((r.body["temperature"].as_f64().unwrap() - 0.8).abs() < 1e-6);
    }

    // The log replays the same samples; as JSON.
    let mut json_args = args.to_vec();
    json_args.extend(["--replay", "tasks.yaml.generate.jsonl", "--format", "json"]);
    let replay = couler(dir.path(), &json_args, "http://127.0.0.1:9/v1", "");
    assert!(replay.status.success(), "{}", stderr(&replay));
    let rows: serde_json::Value = serde_json::from_slice(&replay.stdout).unwrap();
    let full = &rows[0];
    assert_eq!(full["variant"], "full");
    assert_eq!(
        (full["k"].as_u64(), full["tasks"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(full["pass_at_1"], 0.5);
    assert_eq!(full["pass_at_k"], 1.0);
    assert_eq!(full["pass_at_1_by_difficulty"]["easy"], 0.5);
    assert_eq!(rows[2]["variant"], "no-retrieve");
    assert_eq!(rows[2]["pass_at_k"], 0.0);

    // --samples belongs to `generate eval`; a malformed task file names itself and the fix.
    let lone = couler(
        dir.path(),
        &["generate", "x", "--samples", "2"],
        &server.url,
        "",
    );
    assert_eq!(lone.status.code(), Some(2), "{}", stderr(&lone));
    std::fs::write(
        dir.path().join("bad.yaml"),
        "- description: d\n  difficulty: extreme\n",
    )
    .unwrap();
    let bad = couler(
        dir.path(),
        &["generate", "eval", "--tasks", "bad.yaml"],
        &server.url,
        "",
    );
    let err = stderr(&bad);
    assert_eq!(bad.status.code(), Some(2), "{err}");
    assert!(
        err.contains("bad.yaml: ") && err.contains("easy, medium or hard"),
        "{err}"
    );
}

#[test]
fn the_server_generates_with_the_model_it_was_started_with() {
    let dir = tempfile::tempdir().unwrap();
    // Without --generate-model the route says how to give one.
    let plain = support::Server::start(&dir.path().join("plain"), &["--auth", "none"]);
    let body = json!({"description": "Prepare the data"}).to_string();
    let (code, answer) = plain.call("POST", "/api/v1/generate", None, Some(&body));
    assert_eq!(code, 503, "{answer}");
    assert!(
        answer["detail"]
            .as_str()
            .unwrap()
            .contains("--generate-model"),
        "{answer}"
    );
    drop(plain);

    let model = Server::start(vec![
        Reply::answer("[\"prepare the data\"]"),
        Reply::answer(PREP),
        Reply::status(503, "{\"error\": \"overloaded\"}"),
        Reply::status(503, "{\"error\": \"overloaded\"}"),
        Reply::status(503, "{\"error\": \"overloaded\"}"),
        Reply::status(503, "{\"error\": \"overloaded\"}"),
        Reply::status(503, "{\"error\": \"overloaded\"}"),
    ]);
    let server = support::Server::start_with_env(
        dir.path(),
        &[
            "--auth",
            "none",
            "--generate-model",
            "m1",
            "--generate-endpoint",
            &model.url,
        ],
        &[("OPENAI_API_KEY", "sk-server-key")],
    );
    for (bad, why) in [
        (json!({"description": "  "}), "is empty"),
        (
            json!({"description": "x", "target": "k8s"}),
            "argo, airflow",
        ),
        (json!({"description": "x", "rounds": 99}), "`rounds` may be"),
        (json!({"describe": "x"}), "unknown field"),
    ] {
        let (code, answer) = server.call("POST", "/api/v1/generate", None, Some(&bad.to_string()));
        assert_eq!(code, 400, "{bad}: {answer}");
        assert!(answer["detail"].as_str().unwrap().contains(why), "{answer}");
    }
    assert!(
        model.requests().is_empty(),
        "bad input never reaches the model"
    );

    let (code, answer) = server.call("POST", "/api/v1/generate", None, Some(&body));
    assert_eq!(code, 200, "{answer}");
    assert_eq!(answer["valid"], true, "{answer}");
    assert_eq!(answer["target"], "argo");
    assert!(
        answer["spec"].as_str().unwrap().contains("name: prep"),
        "{answer}"
    );
    let stages: Vec<&str> = answer["exchanges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["stage"].as_str().unwrap())
        .collect();
    assert_eq!(stages, ["decompose", "generate"], "{answer}");
    assert_eq!(answer["exchanges"][1]["answer"], PREP);
    let requests = model.requests();
    assert_eq!(requests.len(), 2);
    for r in &requests {
        assert_eq!(r.body["model"], "m1");
        assert_eq!(r.header("authorization"), Some("Bearer sk-server-key"));
    }

    // A model that keeps failing: 502 naming it, after the client's retries.
    let (code, answer) = server.call("POST", "/api/v1/generate", None, Some(&body));
    assert_eq!(code, 502, "{answer}");
    assert!(
        answer["detail"].as_str().unwrap().contains("decompose"),
        "{answer}"
    );
    // The audit log has both generations, who asked and what answered.
    let (code, audit) = server.call("GET", "/api/v1/audit", None, None);
    assert_eq!(code, 200, "{audit}");
    let generated = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["path"] == "/generate")
        .count();
    assert_eq!(generated, 6, "4 refused, 1 answered, 1 failed: {audit}");
}

/// `couler generate` with `COULER_EMBEDDING_MODEL` set to `model`: what it printed.
fn generate_with_model_dir(dir: &Path, url: &str, model: &Path, retriever: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_couler"))
        .args([
            "generate",
            "prepare the data",
            "--no-decompose",
            "-o",
            "wf.yaml",
        ])
        .args(["--model", "m1", "--retriever", retriever])
        .current_dir(dir)
        .env("OPENAI_BASE_URL", url)
        .env("OPENAI_API_KEY", "sk-test-key")
        .env("COULER_EMBEDDING_MODEL", model)
        .output()
        .unwrap()
}

#[test]
fn retrieval_uses_the_embeddings_where_they_run_and_says_when_it_falls_back_to_bm25() {
    let dir = tempfile::tempdir().unwrap();
    let none = dir.path().join("no-model");
    // `auto` without the model: BM25, and the reason.
    let server = Server::start(vec![Reply::answer(PREP)]);
    let out = generate_with_model_dir(dir.path(), &server.url, &none, "auto");
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("retrieving by BM25 (sentence embeddings unavailable: no config.json in"),
        "{err}"
    );
    // `embeddings` without the model: an error naming the script, and no question asked.
    let server = Server::start(vec![Reply::answer(PREP)]);
    let out = generate_with_model_dir(dir.path(), &server.url, &none, "embeddings");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("scripts/embedding-deps"), "{err}");
    assert!(server.requests().is_empty());
    // With the model (scripts/embedding-deps; the suite exports its directory), `auto` embeds.
    let model = std::env::var_os("COULER_EMBEDDING_MODEL")
        .map(std::path::PathBuf::from)
        .expect("COULER_EMBEDDING_MODEL names the model scripts/embedding-deps fetched");
    let server = Server::start(vec![Reply::answer(PREP)]);
    let out = generate_with_model_dir(dir.path(), &server.url, &model, "auto");
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("retrieving by sentence embeddings (all-MiniLM-L6-v2"),
        "{err}"
    );
    let asked = server.requests()[0].body["messages"][1]["content"].to_string();
    assert!(asked.contains("Reference `"), "{asked}");
}
