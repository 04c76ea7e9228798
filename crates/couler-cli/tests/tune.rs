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
