//! `couler tune bench` end to end: the real binary on the shared LCBench surrogate
//! (`../shared/benchmarks/yahpo-lcbench`), its JSON records, and its refusals.

#[path = "support/cli.rs"]
mod cli;

use std::path::{Path, PathBuf};

fn surrogate() -> String {
    let dir =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/benchmarks/yahpo-lcbench");
    dir.to_string_lossy().into_owned()
}

/// `couler ARGS`: exit code, stdout, stderr.
fn couler(args: &[&str]) -> (i32, String, String) {
    let out = cli::couler_in(Path::new("."), args);
    (
        out.status.code().unwrap_or(-1),
        cli::text(&out.stdout),
        cli::text(&out.stderr),
    )
}

#[test]
fn bench_writes_one_json_record_per_method_and_budget() {
    let s = surrogate();
    let args = [
        "tune",
        "bench",
        "--surrogate",
        &s,
        "--instances",
        "3945,7593",
        "--budget",
        "5,10",
    ];
    let (code, out, err) = couler(
        &[
            &args[..],
            &[
                "--seeds",
                "2",
                "--methods",
                "random,asha",
                "--format",
                "json",
            ],
        ]
        .concat(),
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("[1/2] data set 3945 done") && err.contains("[2/2] data set 7593 done"),
        "{err}"
    );
    let records: Vec<serde_json::Value> = serde_json::from_str(&out).expect("JSON records");
    assert_eq!(records.len(), 4);
    for (r, (method, budget)) in records.iter().zip([
        ("random", 5.0),
        ("asha", 5.0),
        ("random", 10.0),
        ("asha", 10.0),
    ]) {
        assert_eq!(r["method"], method);
        assert_eq!(r["budget"], budget);
        let regret = r["mean_regret"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&regret), "{r}");
        assert_eq!(r["studies"], 4);
    }
    // Random search spends its budget in full-fidelity queries: budget × studies of them.
    assert_eq!(records[0]["evaluations"], 20);
    assert!(
        records[1]["evaluations"].as_u64().unwrap() > 20,
        "ASHA queries cheap low fidelities"
    );
    let (code, table, _) = couler(&[&args[..], &["--seeds", "1", "--methods", "tpe"]].concat());
    assert_eq!(code, 0);
    assert!(
        table.starts_with("| method | regret @5 | rank @5 | regret @10 | rank @10 |\n"),
        "{table}"
    );
    assert!(table.contains("\n| tpe | "), "{table}");
}

#[test]
fn bench_refuses_bad_input_naming_the_flag() {
    let s = surrogate();
    let cases: [(&[&str], &str); 4] = [
        (
            &["--surrogate", "/nonexistent"],
            "--surrogate: /nonexistent/config_space.json",
        ),
        (
            &["--surrogate", &s, "--instances", "42"],
            "unknown LCBench data set `42`",
        ),
        (
            &["--surrogate", &s, "--methods", "bayes"],
            "unknown tuning method `bayes`",
        ),
        (
            &["--surrogate", &s, "--budget", "0.5"],
            "--budget 0.5: a budget is at least one",
        ),
    ];
    for (args, want) in cases {
        let (code, out, err) = couler(&[&["tune", "bench"], args].concat());
        assert_eq!(code, 2, "{args:?}: {out}{err}");
        assert!(err.contains(want), "{args:?}: {err}");
    }
}

/// `--methods llm` against an OpenAI-compatible stand-in on loopback: the question carries the
/// Data and Model Cards, the candidates and the answer's JSON schema; the best-predicted
/// candidates run; `--record` keeps the exchange and `--replay` reproduces the report without
/// a model.
#[test]
fn bench_llm_asks_the_endpoint_records_and_replays() {
    use couler_model::standin::{Reply, Server};
    let s = surrogate();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("llm.jsonl");
    let log_s = log.to_string_lossy().into_owned();
    // Candidate 3 predicted best, then 1: the study (budget 2, two at once) runs those two.
    let answer = r#"{"predictions": [{"candidate": 1, "log": [60, 70, 80]}, {"candidate": 2, "log": [50, 55, 60]}, {"candidate": 3, "log": [70, 85, 90]}, {"candidate": 4, "log": [10, 20, 30]}]}"#;
    let server = Server::start(vec![Reply::answer(answer)]);
    let common = [
        "tune",
        "bench",
        "--surrogate",
        &s,
        "--instances",
        "3945",
        "--budget",
        "2",
        "--seeds",
        "1",
        "--parallelism",
        "2",
        "--candidates",
        "4",
        "--methods",
        "sobol,llm",
        "--format",
        "json",
    ];
    let (code, out, err) = couler(
        &[
            &common[..],
            &[
                "--model",
                "m",
                "--endpoint",
                &server.url,
                "--record",
                &log_s,
            ],
        ]
        .concat(),
    );
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("llm: 1 questions to"), "{err}");
    assert!(err.contains("0 answers unusable"), "{err}");
    let requests = server.requests();
    assert_eq!(requests.len(), 1, "one question for one round");
    let body = &requests[0].body;
    let question = body["messages"][1]["content"].as_str().unwrap();
    for part in [
        "Data Card",
        "OpenML task 3945",
        "Model Card",
        "funnel-shaped",
        "learning_rate:",
        "Candidates:\n1. ",
        "4. ",
    ] {
        assert!(question.contains(part), "{part} missing:\n{question}");
    }
    assert_eq!(
        body["response_format"]["json_schema"]["schema"]["properties"]["predictions"]["minItems"],
        4
    );
    let records: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(records.len(), 2);
    // llm ran candidates 3 and 1; sobol the quasi-random first two of the same sequence, so the
    // two differ unless the predictions were ignored.
    assert_eq!(records[1]["method"], "llm");
    assert_ne!(records[0]["mean_regret"], records[1]["mean_regret"]);
    let recorded = std::fs::read_to_string(&log).unwrap();
    assert_eq!(recorded.lines().count(), 1);
    assert!(recorded.contains("\"stage\":\"tune\""));

    // The replay: no endpoint (nothing listens there), the same report.
    let (code, again, err) = couler(
        &[
            &common[..],
            &["--endpoint", "http://127.0.0.1:9/v1", "--replay", &log_s],
        ]
        .concat(),
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(again, out);
    // Another question (more candidates) is not in the log: the bench stops and says so.
    let mut other = common.to_vec();
    other[13] = "5";
    let (code, _, err) = couler(&[&other[..], &["--replay", &log_s]].concat());
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("method llm") && err.contains("the log has no answer to this question"),
        "{err}"
    );
    // --record without llm is refused.
    let (code, _, err) =
        couler(&[&common[..14], &["--methods", "sobol", "--record", &log_s]].concat());
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("tpe+llm) to --methods"), "{err}");
}

/// The local model's run of the `llm` method, recorded (crates/couler-tune/recorded/), replays
/// to the figures docs/tuning.md shows: the document, the record and the method agree.
#[test]
fn the_recorded_local_model_run_replays_to_the_documented_figures() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let log = root.join("crates/couler-tune/recorded/lcbench-llm-local.jsonl");
    let s = surrogate();
    let (code, out, err) = couler(&[
        "tune",
        "bench",
        "--surrogate",
        &s,
        "--instances",
        "3945,7593,167149",
        "--budget",
        "10",
        "--seeds",
        "1",
        "--parallelism",
        "5",
        "--methods",
        "random,sobol,tpe,llm",
        "--replay",
        &log.to_string_lossy(),
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("llm: 6 questions"), "{err}");
    let doc = std::fs::read_to_string(root.join("docs/tuning.md")).unwrap();
    let records: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(records.len(), 4);
    for r in &records {
        let row = format!(
            "| {} | {:.4} | {:.2} |\n",
            r["method"].as_str().unwrap(),
            r["mean_regret"].as_f64().unwrap(),
            r["average_rank"].as_f64().unwrap()
        );
        assert!(doc.contains(&row), "docs/tuning.md lacks the row {row}");
    }
}
