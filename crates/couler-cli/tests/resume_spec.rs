//! `couler resume RUN` after the spec file changed (docs/runtime.md, "Resume"): the change is
//! detected and resume says what to do; `--spec FILE` resumes with the new spec, reusing the
//! finished steps whose cache keys still match; `--recorded-spec` resumes the recorded one.
//! Resuming a run that succeeded reports it as it is. `couler runs rm RUN` forgets a run and
//! its pins on the cache, and refuses a live run.

#[path = "support/cli.rs"]
mod cli;

use cli::{couler_in, json, spawn_in, status, step, text, tmp, wait_for_running, write};
use std::path::Path;

/// `a` makes an artifact (and counts its runs in `count`); `b` reads it and runs `b_command`.
fn spec(count: &Path, b_command: &str) -> String {
    format!(
        r#"apiVersion: couler.dev/v1alpha1
kind: Workflow
name: fixme
steps:
  - name: a
    container:
      command: [sh, -c, 'echo ran >> {}; echo data > {{{{outputs.artifacts.data.path}}}}']
    outputs:
      artifacts:
        - name: data
          path: data.txt
  - name: b
    container:
      command: [sh, -c, '{b_command}']
    inputs:
      artifacts:
        - name: data
          path: data.txt
          from: steps.a.outputs.artifacts.data
"#,
        count.display()
    )
}

fn runs_of_a(count: &Path) -> usize {
    std::fs::read_to_string(count).map_or(0, |t| t.lines().count())
}

/// A failed run of `fixme` (b exits 3) in a fresh directory: (dir, its count file, run id).
fn failed_run() -> (tempfile::TempDir, std::path::PathBuf, String) {
    let d = tmp();
    let count = d.path().join("count");
    write(&d.path().join("wf.yaml"), &spec(&count, "exit 3"));
    let out = couler_in(d.path(), &["run", "wf.yaml", "-o", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let run_id = json(&out)["runId"]
        .as_str()
        .unwrap_or_else(|| panic!("no runId"))
        .to_string();
    assert_eq!(runs_of_a(&count), 1);
    (d, count, run_id)
}

#[test]
fn resume_after_the_file_changed_says_what_to_do_then_takes_the_new_spec() {
    let (d, count, run_id) = failed_run();
    // The user fixes the file.
    write(&d.path().join("wf.yaml"), &spec(&count, "cat data.txt"));

    let out = couler_in(d.path(), &["resume", &run_id]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("wf.yaml changed since run"), "{err}");
    assert!(
        err.contains(&format!("couler resume {run_id} --spec ")) && err.contains("--recorded-spec"),
        "{err}"
    );
    assert_eq!(runs_of_a(&count), 1, "nothing ran");

    let out = couler_in(
        d.path(),
        &["resume", &run_id, "--spec", "wf.yaml", "-o", "json"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(json(&out)["status"], "Succeeded");
    assert_eq!(
        runs_of_a(&count),
        1,
        "`a` is unchanged: its cached result is reused"
    );
    let s = status(d.path(), &run_id);
    assert_eq!(step(&s, "a")["status"], "Cached", "{s}");
    assert_eq!(step(&s, "b")["status"], "Succeeded", "{s}");
    let out = couler_in(d.path(), &["logs", &run_id, "b"]);
    assert_eq!(text(&out.stdout).trim(), "data");
}

#[test]
fn a_changed_step_runs_again_and_recorded_spec_resumes_the_old_one() {
    let (d, count, run_id) = failed_run();
    // Changing `a` changes its key (and so `b`'s input): both run under the new spec.
    let new = spec(&count, "cat data.txt").replace("echo data >", "echo new data >");
    write(&d.path().join("wf.yaml"), &new);
    let out = couler_in(d.path(), &["resume", &run_id, "--recorded-spec"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "the recorded spec fails as before"
    );
    assert_eq!(runs_of_a(&count), 1, "the recorded `a` succeeded: kept");
    let out = couler_in(d.path(), &["resume", &run_id, "--spec", "wf.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(runs_of_a(&count), 2);
    let out = couler_in(d.path(), &["logs", &run_id, "b"]);
    assert_eq!(text(&out.stdout).trim(), "new data");
    // The new spec is the run's now: resuming again has nothing to compare against, and
    // nothing to do. `--output json` reports the run's real state.
    let out = couler_in(d.path(), &["resume", &run_id, "-o", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report = json(&out);
    assert_eq!(report["status"], "Succeeded", "{report}");
    assert_eq!(report["runId"], run_id.as_str());
    let said = report["message"].as_str().unwrap_or_default();
    assert!(said.contains("nothing was resumed"), "{report}");
    assert_eq!(step(&report, "b")["status"], "Succeeded", "{report}");
    assert_eq!(runs_of_a(&count), 2, "nothing ran");
}

#[test]
fn runs_rm_forgets_a_run_and_unpins_its_cache_entries() {
    let (d, _count, run_id) = failed_run();
    let pinned = |d: &Path| {
        json(&couler_in(d, &["cache", "stats", "-o", "json"]))["pinned"]
            .as_u64()
            .unwrap_or_else(|| panic!("no pinned count"))
    };
    assert_eq!(
        pinned(d.path()),
        1,
        "the failed run pins `a`'s entry for resume"
    );
    let run_dir = d.path().join(".couler/runs").join(&run_id);
    assert!(run_dir.exists());

    let out = couler_in(d.path(), &["runs", "rm", &run_id]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains(&format!("forgot run {run_id}")));
    assert_eq!(pinned(d.path()), 0);
    assert!(!run_dir.exists(), "its logs and work directories are gone");
    let runs = json(&couler_in(d.path(), &["runs", "-o", "json"]));
    assert_eq!(runs.as_array().map(Vec::len), Some(0), "{runs}");
    let out = couler_in(d.path(), &["status", &run_id]);
    assert_eq!(out.status.code(), Some(2));
    let out = couler_in(d.path(), &["runs", "rm", &run_id]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("no run"), "{out:?}");
}

#[test]
fn runs_rm_refuses_a_live_run_and_runs_lists_newest_first() {
    let d = tmp();
    write(
        &d.path().join("quick.yaml"),
        "apiVersion: couler.dev/v1alpha1\nkind: Workflow\nname: quick\nsteps:\n  - name: a\n    container: {command: [true]}\n",
    );
    let out = couler_in(d.path(), &["run", "quick.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    write(
        &d.path().join("slow.yaml"),
        "apiVersion: couler.dev/v1alpha1\nkind: Workflow\nname: slow\nsteps:\n  - name: a\n    container: {command: [sleep, '30']}\n",
    );
    let mut child = spawn_in(d.path(), &["run", "slow.yaml"]);
    let run_id = wait_for_running(d.path(), "a");
    assert!(
        run_id.starts_with("slow-"),
        "the newest run is listed first: {run_id}"
    );
    let out = couler_in(d.path(), &["runs"]);
    let table = text(&out.stdout);
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].contains("started (UTC)"), "{table}");
    assert!(
        lines[1].starts_with("slow-") && lines[2].starts_with("quick-"),
        "{table}"
    );

    let out = couler_in(d.path(), &["runs", "rm", &run_id]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("is running") && err.contains("couler stop"),
        "{err}"
    );
    let out = couler_in(d.path(), &["stop", &run_id]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let _ = child.wait();
    let out = couler_in(d.path(), &["runs", "rm", &run_id]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}
