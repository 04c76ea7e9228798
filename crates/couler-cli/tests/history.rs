//! Learning from history (docs/history.md), driven through the `couler` binary: real runs
//! record their steps, `couler history` lists them, `couler optimize --rightsize` sizes steps
//! from them, `couler status` estimates a running run's time to finish, traces import, and
//! `couler predict eval` reports on two shared WfCommons traces.

#[path = "support/cli.rs"]
mod cli;

use cli::{couler_in, json, spawn_in, status, text, tmp, wait_for_running, wait_until, write};
use std::path::{Path, PathBuf};

/// `work` touches `mb` MiB (dd's buffer) and sleeps `secs`; `never` never runs.
const WORK: &str = r#"apiVersion: couler.dev/v1alpha1
kind: Workflow
name: hist
params:
- {name: secs, default: "0.1"}
- {name: mb, default: "1"}
steps:
- name: work
  inputs:
    parameters:
    - {name: secs, value: "{{params.secs}}"}
    - {name: mb, value: "{{params.mb}}"}
  container:
    command: [sh, -c, "dd if=/dev/zero of=/dev/null bs={{inputs.parameters.mb}}M count=1 2>/dev/null; sleep {{inputs.parameters.secs}}"]
- name: never
  when: params.mb == "none"
  container: {command: ["true"]}
"#;

fn run(dir: &Path, file: &str, params: &[&str]) {
    let mut args = vec!["run", file];
    for p in params {
        args.extend(["-p", p]);
    }
    let out = couler_in(dir, &args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

fn history(dir: &Path, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["history", "--output", "json"];
    args.extend(extra);
    let out = couler_in(dir, &args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    json(&out)
}

#[test]
fn runs_record_their_steps_and_rightsize_reads_them() {
    let d = tmp();
    write(&d.path().join("wf.yaml"), WORK);
    // 100 MiB: well above the executor's own peak (about 40 MiB, debug build), below which the
    // runtime cannot tell the step's `ru_maxrss` from its own and reads the shell's `VmHWM`,
    // which misses `dd` (docs/runtime.md).
    for (secs, mb) in [("0.2", "100"), ("0.4", "100"), ("0.3", "20")] {
        run(
            d.path(),
            "wf.yaml",
            &[&format!("secs={secs}"), &format!("mb={mb}")],
        );
    }
    let xs = history(d.path(), &["--step", "work"]);
    let xs = xs.as_array().unwrap();
    assert_eq!(xs.len(), 3, "{xs:?}");
    let first = &xs[0];
    assert_eq!(first["params"]["secs"], "0.2");
    assert_eq!(first["params"]["mb"], "100");
    assert!(first["duration_s"].as_f64().unwrap() >= 0.2, "{first}");
    assert!(
        first["peak_rss_bytes"].as_u64().unwrap() >= 100 << 20,
        "{first}"
    );
    assert!(
        xs[2]["peak_rss_bytes"].as_u64().unwrap() < 40 << 20,
        "{}",
        xs[2]
    );
    assert_eq!(first["exit_reason"], "succeeded");
    assert!(!first["machine"].as_str().unwrap().is_empty());
    assert!(first["source"].as_str().unwrap().starts_with("run:"));
    // One template for every run of the definition, whatever its parameters.
    assert!(xs.iter().all(|x| x["template"] == first["template"]));
    assert!(first["template"].as_str().unwrap().starts_with("sha256:"));
    // The skipped step did not run, so it has no history.
    assert_eq!(
        history(d.path(), &["--step", "never"]),
        serde_json::json!([])
    );
    let table = text(&couler_in(d.path(), &["history", "--step", "work"]).stdout);
    assert_eq!(
        table.lines().filter(|l| l.contains(" work ")).count(),
        3,
        "{table}"
    );
    assert!(
        table.starts_with("template") && table.contains("succeeded"),
        "{table}"
    );
    let prefix = &first["template"].as_str().unwrap()[..12];
    assert_eq!(
        history(d.path(), &["--template", prefix])
            .as_array()
            .unwrap()
            .len(),
        3
    );

    let out = couler_in(
        d.path(),
        &[
            "optimize",
            "wf.yaml",
            "--rightsize",
            "--min-support",
            "3",
            "--margin",
            "10%",
            "-o",
            "sized.yaml",
        ],
    );
    let report = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{report}{}", text(&out.stderr));
    let line = |s: &str| {
        report
            .lines()
            .find(|l| l.trim_start().starts_with(s))
            .unwrap_or_default()
            .to_string()
    };
    assert!(
        line("work").contains("resized") && line("work").contains("over 3 executions"),
        "{report}"
    );
    assert!(line("work").contains("memory unset → "), "{report}");
    assert!(
        line("never").contains("left alone") && line("never").contains("0 recorded"),
        "{report}"
    );
    let sized = std::fs::read_to_string(d.path().join("sized.yaml")).unwrap();
    let (wf, _) = couler_ir::spec::load(&sized, couler_ir::Format::Yaml).unwrap();
    let r = wf.steps[0].resources.as_ref().expect("work is right-sized");
    let mem = r.requests.memory.as_ref().unwrap().value();
    // p95 of two 100 MiB runs and a 20 MiB one, plus 10%: between 110 and 130 MiB.
    assert!(
        (110.0 * 1048576.0..130.0 * 1048576.0).contains(&mem),
        "{mem}"
    );
    assert_eq!(r.limits.memory, r.requests.memory);
    assert_eq!(wf.steps[1].resources, None);
}

#[test]
fn failures_are_recorded_with_how_they_ended() {
    let d = tmp();
    write(
        &d.path().join("fail.yaml"),
        "apiVersion: couler.dev/v1alpha1\nkind: Workflow\nname: fail\nsteps:\n- name: slow\n  timeout: 1s\n  container: {command: [sleep, \"30\"]}\n- name: bad\n  container: {command: [sh, -c, \"exit 3\"]}\n",
    );
    let out = couler_in(d.path(), &["run", "fail.yaml"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let reason = |step: &str| {
        let xs = history(d.path(), &["--step", step]);
        assert_eq!(xs[0]["succeeded"], false, "{xs}");
        xs[0]["exit_reason"].as_str().unwrap().to_string()
    };
    assert_eq!(reason("slow"), "timeout");
    assert_eq!(reason("bad"), "exit 3");
}

const TWO: &str = r#"apiVersion: couler.dev/v1alpha1
kind: Workflow
name: two
params:
- {name: secs, default: "1"}
steps:
- name: first
  container: {command: [sleep, "{{params.secs}}"]}
- name: second
  dependsOn: [first]
  container: {command: [sleep, "{{params.secs}}"]}
"#;

#[test]
fn status_estimates_the_time_to_finish_from_history() {
    let learn = tmp();
    write(&learn.path().join("two.yaml"), TWO);
    run(learn.path(), "two.yaml", &["secs=1"]);
    run(learn.path(), "two.yaml", &["secs=1"]);
    let d = tmp();
    write(&d.path().join("two.yaml"), TWO);
    std::fs::create_dir_all(d.path().join(".couler")).unwrap();
    std::fs::copy(
        learn.path().join(".couler/history.db"),
        d.path().join(".couler/history.db"),
    )
    .unwrap();
    let mut child = spawn_in(d.path(), &["run", "two.yaml", "-p", "secs=3"]);
    let id = wait_for_running(d.path(), "first");
    let s = status(d.path(), &id);
    let eta = s["eta"]["seconds"]
        .as_f64()
        .unwrap_or_else(|| panic!("no eta: {s}"));
    // `first` has at most 1 s left of its 1 s median, `second` 1 s to come.
    assert!(eta > 0.9 && eta <= 2.1, "{s}");
    assert_eq!(s["eta"]["unpredicted"], serde_json::json!([]));
    let out = couler_in(d.path(), &["status", &id]);
    assert!(text(&out.stdout).contains("eta: "), "{}", text(&out.stdout));
    wait_until(30, "the run to end", || child.try_wait().unwrap().is_some());
    assert!(status(d.path(), &id).get("eta").is_none());
}

#[test]
fn status_and_run_flag_a_step_running_far_past_its_history() {
    let d = tmp();
    write(&d.path().join("two.yaml"), TWO);
    // Both steps run one definition: 3 runs make 6 executions of it.
    for _ in 0..3 {
        run(d.path(), "two.yaml", &["secs=0.2"]);
    }
    let child = spawn_in(d.path(), &["run", "two.yaml", "-p", "secs=4"]);
    let id = wait_for_running(d.path(), "first");
    // p99 about 0.2 s × 3, under the 1 s floor: flagged after 1 s.
    let flagged = |s: &serde_json::Value| s["anomalies"][0].as_str().map(str::to_string);
    wait_until(10, "the flag in `couler status`", || {
        flagged(&status(d.path(), &id)).is_some()
    });
    let line = flagged(&status(d.path(), &id)).unwrap_or_default();
    assert!(line.starts_with("anomaly: step first running "), "{line}");
    assert!(line.contains(", p99 of 6 runs is 0."), "{line}");
    let out = couler_in(d.path(), &["status", &id]);
    assert!(
        text(&out.stdout).contains("anomaly: step first"),
        "{}",
        text(&out.stdout)
    );
    let out = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(0), "flagged, not stopped");
    assert!(
        text(&out.stderr).contains("anomaly: step first running "),
        "{}",
        text(&out.stderr)
    );
}

fn shared(name: &str) -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/traces/wfinstances")
        .join(name);
    if p.exists() {
        Some(p)
    } else {
        eprintln!("skipped: {} is absent", p.display());
        None
    }
}

#[test]
fn predict_eval_reports_errors_and_slack_per_test_trace() {
    let (Some(train), Some(test)) = (
        shared("epigenomics-chameleon-ilmn-6seq-50k-001.json"),
        shared("epigenomics-chameleon-hep-1seq-100k-001.json"),
    ) else {
        return;
    };
    let d = tmp();
    let eval = |extra: &[&str]| {
        let mut args = vec!["predict", "eval", "--train", train.to_str().unwrap()];
        args.extend(["--test", test.to_str().unwrap()]);
        args.extend(extra);
        couler_in(d.path(), &args)
    };
    let out = eval(&["--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let r = json(&out);
    assert_eq!(r["train_executions"], 1695);
    assert_eq!(r["sizing"]["percentile"], 95.0);
    let t = &r["tests"][0];
    assert_eq!(t["trace"], "epigenomics-chameleon-hep-1seq-100k-001.json");
    assert_eq!(t["tasks"], 41);
    assert_eq!(t["predicted"], 41);
    for k in [
        "median_rel_error",
        "baseline_median_rel_error",
        "p90_rel_error",
        "baseline_p90_rel_error",
    ] {
        assert!(t[k].as_f64().is_some_and(|v| v >= 0.0), "{k}: {t}");
    }
    // The baseline's error, computed here from the traces by the issue's definition (the
    // per-template median of the training runtimes), within the histogram's ±2.5% resolution.
    let (want, got) = (
        per_template_median_error(&train, &test),
        t["baseline_median_rel_error"].as_f64().unwrap(),
    );
    assert!(
        (got - want).abs() <= 0.03 * (1.0 + want),
        "baseline error {got}, by hand {want}"
    );
    // These traces record no memory: right-sizing is of time, and memory is absent.
    assert!(t["memory"].is_null(), "{t}");
    let rs = &t["rightsizing"];
    assert_eq!(rs["resource"], "duration");
    assert_eq!(rs["tasks"], 41);
    for k in ["manual", "baseline", "learned"] {
        let share = rs[k]["under_provisioned"].as_f64().unwrap();
        assert!(
            (0.0..=1.0).contains(&share) && rs[k]["slack"].as_f64().unwrap() >= 0.0,
            "{rs}"
        );
    }
    // The table says the same.
    let table = eval(&[]);
    assert!(text(&table.stdout).contains("epigenomics-chameleon-hep-1seq-100k-001.json"));
}

/// `(program, runtime)` of every executed task of a WfFormat 1.5 trace.
fn runtimes(path: &Path) -> Vec<(String, f64)> {
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    v["workflow"]["execution"]["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let program = t["command"]["program"].as_str().unwrap().to_string();
            (program, t["runtimeInSeconds"].as_f64().unwrap())
        })
        .collect()
}

/// The median over `test`'s tasks of `|m − a| / a`, `m` the median runtime of the task's
/// program in `train`.
fn per_template_median_error(train: &Path, test: &Path) -> f64 {
    let mut by: std::collections::HashMap<String, Vec<f64>> = Default::default();
    for (p, r) in runtimes(train).into_iter().filter(|(_, r)| *r > 0.0) {
        by.entry(p).or_default().push(r);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len().div_ceil(2) - 1]
    };
    let mut e: Vec<f64> = runtimes(test)
        .into_iter()
        .filter(|(_, a)| *a > 0.0)
        .filter_map(|(p, a)| Some((median(by.get_mut(&p)?) - a).abs() / a))
        .collect();
    median(&mut e)
}

#[test]
fn traces_import_into_the_history_and_bad_ones_name_file_and_field() {
    let d = tmp();
    let good = r#"{"name": "t", "workflow": {"specification": {
      "tasks": [{"id": "a_ID01"}], "files": []},
      "execution": {"tasks": [{"id": "a_ID01", "runtimeInSeconds": 2.5, "memoryInBytes": 1000}]}}}"#;
    write(&d.path().join("good.json"), good);
    write(&d.path().join("bad.json"), &good.replace("2.5", "\"2.5\""));
    let out = couler_in(
        d.path(),
        &["history", "import", "good.json", "--history", "h.db"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // Into a state directory not made yet: made, as `couler run` makes one.
    let out = couler_in(
        d.path(),
        &["history", "import", "good.json", "--state-dir", "new/state"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(d.path().join("new/state/history.db").is_file());
    let xs = history(d.path(), &["--history", "h.db"]);
    // Recorded as the replay's step: the key a run of `couler import wfformat good.json`
    // records and predicts by.
    let replay = couler_wfformat::import(good, &couler_wfformat::ImportOptions::default()).unwrap();
    assert_eq!(
        xs[0]["template"],
        couler_run::template_key(&replay, &replay.steps[0])
    );
    assert_eq!(xs[0]["step"], replay.steps[0].name);
    assert_eq!(xs[0]["duration_s"], 2.5);
    assert_eq!(xs[0]["peak_rss_bytes"], 1000);
    let out = couler_in(
        d.path(),
        &["history", "import", "bad.json", "--history", "h.db"],
    );
    assert_eq!(out.status.code(), Some(2));
    let e = text(&out.stderr);
    assert!(
        e.contains("bad.json") && e.contains("a_ID01") && e.contains("runtimeInSeconds"),
        "{e}"
    );
    // At a time scale, durations are the replay's: scaled, under the scaled replay's key.
    let out = couler_in(
        d.path(),
        &[
            "history",
            "import",
            "good.json",
            "--history",
            "s.db",
            "--time-scale",
            "0.5",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let xs = history(d.path(), &["--history", "s.db"]);
    let options = couler_wfformat::ImportOptions {
        time_scale: 0.5,
        ..Default::default()
    };
    let replay = couler_wfformat::import(good, &options).unwrap();
    assert_eq!(
        xs[0]["template"],
        couler_run::template_key(&replay, &replay.steps[0])
    );
    assert_eq!(xs[0]["duration_s"], 1.25);
    // Nothing of the bad trace was recorded.
    assert_eq!(
        history(d.path(), &["--history", "h.db"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let out = couler_in(d.path(), &["history", "--history", "missing.db"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("couler history import"));
}
