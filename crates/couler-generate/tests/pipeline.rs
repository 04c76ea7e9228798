//! The pipeline's stages through the real client against the loopback stand-in
//! (`couler_model::standin`, a chat-completions server answering from each test's script).

use couler_generate::lake;
use couler_generate::pipeline::{self, Asker, Config};
use couler_generate::retrieve::Bm25;
use couler_model::log::{Log, read};
use couler_model::openai::OpenAi;
use couler_model::standin::{Reply, Server};
use std::time::Duration;

const STEP: &str = "```yaml\nsteps:\n- name: prep\n  container:\n    image: alpine:3.19\n    command: [echo, data]\n```";

fn config() -> Config {
    Config {
        target: "argo".into(),
        rounds: 2,
        decompose: true,
        retrieve: true,
        calibrate: true,
        top_k: 2,
        file: "wf.yaml".into(),
    }
}

fn run(server: &Server, log: &mut Log) -> (Result<pipeline::Outcome, String>, Vec<String>) {
    let model = OpenAi::new(&server.url, "m", None, Duration::from_secs(10)).unwrap();
    let lake = lake::builtin();
    let retriever = Bm25::new(lake.iter().map(|e| e.text.as_str()));
    let mut lines = Vec::new();
    let mut progress = |l: &str| lines.push(l.to_string());
    let mut asker = Asker {
        model: &model,
        log,
        progress: &mut progress,
        seed: None,
    };
    let outcome = pipeline::run("prepare the data", &config(), &lake, &retriever, &mut asker);
    (outcome, lines)
}

#[test]
fn unparsable_answers_are_asked_again_once_with_the_reason() {
    let server = Server::start(vec![
        Reply::answer("1. prepare\n2. train"),
        Reply::answer("[\"prepare the data\"]"),
        Reply::answer("I would use a container."),
        Reply::answer(STEP),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wf.yaml.generate.jsonl");
    let mut log = Log::create(&path).unwrap();
    let (outcome, progress) = run(&server, &mut log);
    let outcome = outcome.unwrap();
    assert!(outcome.check.is_valid(), "{:?}", outcome.check);
    assert!(outcome.spec.contains("name: prep"), "{}", outcome.spec);
    assert!(
        progress.iter().any(|l| l == "decompose: 1 sub-tasks"),
        "{progress:?}"
    );
    let requests = server.requests();
    assert_eq!(requests.len(), 4);
    let retry = requests[1].body["messages"][3]["content"].as_str().unwrap();
    assert!(retry.contains("not a JSON array"), "{retry}");
    let retry = requests[3].body["messages"][3]["content"].as_str().unwrap();
    assert!(retry.contains("mapping with `steps`"), "{retry}");
    // Every exchange is in the log, in order, with its stage and round.
    let entries = read(&path).unwrap();
    let stages: Vec<(&str, u32)> = entries
        .iter()
        .map(|e| (e.stage.as_str(), e.round))
        .collect();
    assert_eq!(
        stages,
        [
            ("decompose", 1),
            ("decompose", 2),
            ("generate", 1),
            ("generate", 1)
        ]
    );
    assert_eq!(entries[3].answer, STEP);
}

#[test]
fn two_unparsable_decompositions_are_an_error_that_suggests_the_way_out() {
    let server = Server::start(vec![
        Reply::answer("prep, train"),
        Reply::answer("still no"),
    ]);
    let (outcome, _) = run(&server, &mut Log::none());
    let err = outcome.unwrap_err();
    assert!(
        err.contains("did not parse twice") && err.contains("--no-decompose"),
        "{err}"
    );
}
