//! The real local model (issue 24): Qwen2.5-Coder-0.5B-Instruct (Q4_K_M) run in-process by
//! llama.cpp on the CPU, from `$COULER_LOCAL_MODEL` (scripts/model-deps fetches it; scripts/test
//! sets it). These tests check the machinery end to end, with capped answers and greedy
//! decoding, not the quality of what a 0.5B model writes: the grammar made from a stage's JSON
//! schema holds the answer to it, and the pipeline's stages run, are logged and end in a spec
//! the checks have judged.

use couler_generate::lake;
use couler_generate::pipeline::{self, Asker, Config};
use couler_generate::retrieve::Bm25;
use couler_model::local::Local;
use couler_model::log::{Log, read};
use couler_model::{Message, Model, Options};
use std::path::PathBuf;
use std::sync::OnceLock;

/// The answers' cap: long enough for a few steps, short enough for a test.
const CAP: u32 = 200;

fn model() -> &'static Local {
    static MODEL: OnceLock<Local> = OnceLock::new();
    MODEL.get_or_init(|| {
        let path = std::env::var_os("COULER_LOCAL_MODEL").map(PathBuf::from).expect(
            "the local-model tests need the model: run `bash scripts/model-deps` and set COULER_LOCAL_MODEL to the path it prints (scripts/test does)",
        );
        Local::load(&path)
            .unwrap_or_else(|e| panic!("{e}"))
            .capped(CAP)
    })
}

#[test]
fn a_json_schema_holds_the_answer_to_its_grammar() {
    let schema = serde_json::json!({
        "type": "object",
        "properties": {"subtasks": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 4}},
        "required": ["subtasks"],
        "additionalProperties": false,
    });
    let options = Options {
        temperature: Some(0.0),
        max_tokens: Some(120),
        json_schema: Some(schema),
        ..Options::default()
    };
    // Asked for prose, the model can still only answer the schema's object.
    let messages = [
        Message::system("You are a helpful assistant."),
        Message::user("Describe, in a few sentences, how to train a model on the iris data set."),
    ];
    let answer = model().chat(&messages, &options).unwrap();
    let value: serde_json::Value = serde_json::from_str(&answer)
        .unwrap_or_else(|e| panic!("the constrained answer is not JSON ({e}): {answer}"));
    let object = value.as_object().expect("an object");
    assert_eq!(object.keys().collect::<Vec<_>>(), ["subtasks"], "{answer}");
    let tasks = object["subtasks"].as_array().unwrap();
    assert!((1..=4).contains(&tasks.len()), "{answer}");
    assert!(tasks.iter().all(serde_json::Value::is_string), "{answer}");
    // Greedy decoding: the same question gets the same answer.
    assert_eq!(model().chat(&messages, &options).unwrap(), answer);
}

#[test]
fn the_pipeline_runs_on_the_local_model_and_logs_every_exchange() {
    let config = Config {
        target: "argo".into(),
        rounds: 1,
        decompose: true,
        retrieve: true,
        calibrate: true,
        top_k: 1,
        file: "wf.yaml".into(),
    };
    let lake = lake::builtin();
    let retriever = Bm25::new(lake.iter().map(|e| e.text.as_str()));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wf.yaml.generate.jsonl");
    let mut log = Log::create(&path).unwrap();
    let mut lines = Vec::new();
    let mut progress = |l: &str| lines.push(l.to_string());
    let mut asker = Asker {
        model: model(),
        log: &mut log,
        progress: &mut progress,
        seed: None,
    };
    let outcome = pipeline::run(
        "print hello in an alpine container",
        &config,
        &lake,
        &retriever,
        &mut asker,
    );
    let entries = read(&path).unwrap();
    let stages: Vec<&str> = entries.iter().map(|e| e.stage.as_str()).collect();
    // The grammar holds the decomposition, so it parses the first time.
    assert_eq!(stages.first(), Some(&"decompose"), "{stages:?}");
    assert_ne!(stages.get(1), Some(&"decompose"), "{stages:?}");
    // The grammar of a step holds each sub-task's answer too: one question a sub-task, each
    // answer steps the reader takes field by field.
    let subtasks: serde_json::Value = serde_json::from_str(&entries[0].answer).unwrap();
    let count = subtasks["subtasks"].as_array().unwrap().len();
    let generated: Vec<&str> = entries
        .iter()
        .filter(|e| e.stage == "generate")
        .map(|e| e.answer.as_str())
        .collect();
    assert_eq!(generated.len(), count, "{stages:?} {lines:?}");
    for answer in &generated {
        let fragment = couler_generate::assemble::fragment(answer).expect("the grammar's JSON");
        for step in &fragment.steps {
            let step: Result<couler_ir::Step, _> = serde_json::from_value(step.clone());
            if let Err(e) = step {
                // Only a value the schema leaves free (a kind missing, a bad template) is wrong.
                assert!(!e.to_string().contains("unknown field"), "{e}: {answer}");
            }
        }
    }
    // A calibration answer, where a round ran, is a whole spec under the spec's grammar: JSON
    // that parses, or, where the test's cap of CAP tokens cut it (a whole spec is longer than a
    // sub-task's steps), JSON that ends early and is otherwise well formed.
    for e in entries.iter().filter(|e| e.stage == "calibrate") {
        let spec: serde_json::Value = match serde_json::from_str(&e.answer) {
            Ok(spec) => spec,
            Err(err) => {
                assert!(err.is_eof(), "{err}: {}", e.answer);
                continue;
            }
        };
        assert_eq!(spec["kind"], "Workflow", "{}", e.answer);
        if let Err(err) = serde_json::from_value::<couler_ir::Workflow>(spec) {
            assert!(
                !err.to_string().contains("unknown field"),
                "{err}: {}",
                e.answer
            );
        }
    }
    let outcome = outcome.expect("every sub-task's steps parse");
    // Judged by the checks: valid, or a calibration round was spent on its errors.
    assert!(
        outcome.check.is_valid() || stages.contains(&"calibrate"),
        "{stages:?} {:?}",
        outcome.check
    );
    assert!(lines.iter().any(|l| l.starts_with("result: ")), "{lines:?}");
    assert!(!outcome.spec.trim().is_empty());
    assert!(entries.iter().all(|e| !e.answer.is_empty() || e.millis > 0));
}
