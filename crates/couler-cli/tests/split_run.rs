//! The split form of a workflow runs on the local runtime as a real process: `couler split
//! --target local` writes `DIR/ir/`, `couler run DIR/ir/NAME.yaml` runs the parent (each part a
//! sub-workflow step, artifacts crossing a cut through the exchange directory, by default
//! `DIR/exchange`), and every step gives the same output parameters and artifact digests as
//! `couler run` on the unsplit spec.
//!
//! Also: a parent killed (`kill -9`) while its child runs resumes with `couler resume`, keeping
//! the child's finished steps and stopping the child's orphaned process.
//!
//! A small layered workflow keeps this quick on CI; `couler-opt`'s `split_e2e` runs Montage and
//! a generated 2,000-step workflow the same way through the library.

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
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

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", text(&out.stdout)))
}

/// `layers` layers of `width` steps; each step reads the artifacts of two steps of the layer
/// before, appends its name, and outputs the artifact and its size as a parameter.
fn layered(layers: usize, width: usize) -> String {
    let mut s = String::from(
        "apiVersion: couler.dev/v1alpha1\nkind: Workflow\nname: layered\ndefaults:\n  image: alpine:3.19\nsteps:\n",
    );
    for l in 0..layers {
        for w in 0..width {
            let name = format!("l{l}w{w}");
            s.push_str(&format!(
                "  - name: {name}\n    script:\n      command: [sh]\n      source: \"cat a b 2>/dev/null > out; echo {name} >> out; mkdir -p o; cp out o/out; wc -c < out\"\n"
            ));
            if l > 0 {
                s.push_str("    inputs:\n      artifacts:\n");
                for (input, from) in [("a", w), ("b", (w + 1) % width)] {
                    s.push_str(&format!(
                        "        - name: {input}\n          path: {input}\n          from: steps.l{}w{from}.outputs.artifacts.out\n",
                        l - 1
                    ));
                }
            }
            s.push_str("    outputs:\n      parameters:\n        - name: size\n      artifacts:\n        - name: out\n          path: out\n        - name: dir\n          path: o\n");
        }
    }
    s
}

/// Every step's output parameters and artifact digests, by step name, of `run_id`'s steps.
fn outputs(state: &Path, run_id: &str, into: &mut BTreeMap<String, Value>) {
    let out = couler(&[
        "status",
        run_id,
        "--state-dir",
        state.to_str().unwrap(),
        "-o",
        "json",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    for s in json(&out)["steps"].as_array().unwrap() {
        let o = &s["outputs"];
        let digests: BTreeMap<String, Value> = o["artifacts"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v["digest"].clone()))
            .collect();
        let node = s["node"].as_str().unwrap().to_string();
        let row = serde_json::json!({"parameters": o["parameters"], "artifacts": digests});
        assert!(into.insert(node.clone(), row).is_none(), "{node} twice");
    }
}

#[test]
fn the_split_form_runs_with_couler_run_and_gives_the_same_outputs() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = tmp.path().join("layered.yaml");
    std::fs::write(&spec, layered(4, 3)).unwrap();

    let whole_state = tmp.path().join("whole");
    let out = couler(&[
        "run",
        spec.to_str().unwrap(),
        "--state-dir",
        whole_state.to_str().unwrap(),
        "-o",
        "json",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let whole = json(&out);
    assert_eq!(whole["status"], "Succeeded");
    let mut expected = BTreeMap::new();
    outputs(
        &whole_state,
        whole["runId"].as_str().unwrap(),
        &mut expected,
    );
    assert_eq!(expected.len(), 12);

    // The split form, by the command: parts of at most 4 steps, the default exchange
    // `DIR/exchange`.
    let dir = tmp.path().join("split");
    let out = couler(&[
        "split",
        spec.to_str().unwrap(),
        "--target",
        "local",
        "--max-steps",
        "4",
        "-o",
        dir.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report = text(&out.stdout);
    assert!(
        report
            .starts_with("layered: 12 steps split into 3 parts for local (4 steps, method packed)"),
        "{report}"
    );
    let crossing: usize = report
        .lines()
        .find_map(|l| l.strip_prefix("artifacts crossing a cut: "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no count of exchanged artifacts in\n{report}"));
    assert!(crossing > 0, "no artifact crosses a cut:\n{report}");
    assert!(!dir.join("argo").exists(), "--target local writes only ir/");
    let exchange = dir.join("exchange");
    let split_state = tmp.path().join("split-state");
    let parent = dir.join("ir/layered.yaml");
    let out = couler(&[
        "run",
        parent.to_str().unwrap(),
        "--state-dir",
        split_state.to_str().unwrap(),
        "-o",
        "json",
    ]);
    assert!(
        out.status.success(),
        "{}\n{}",
        text(&out.stderr),
        text(&out.stdout)
    );
    let split = json(&out);
    assert_eq!(split["status"], "Succeeded");
    let run_id = split["runId"].as_str().unwrap();
    let parts = split["steps"].as_array().unwrap();
    assert_eq!(parts.len(), 3);
    let mut got = BTreeMap::new();
    for part in parts {
        assert_eq!(part["status"], "Succeeded", "{part}");
        let node = part["node"].as_str().unwrap();
        // Each part ran as a nested run `RUN.NODE` (docs/runtime.md).
        outputs(&split_state, &format!("{run_id}.{node}"), &mut got);
    }
    assert_eq!(got, expected, "split and unsplit outputs differ");
    // The artifacts that crossed a cut were written to the exchange at `STEP/ARTIFACT`.
    let mut in_exchange = 0;
    for step in std::fs::read_dir(&exchange).unwrap() {
        in_exchange += std::fs::read_dir(step.unwrap().path()).unwrap().count();
    }
    assert_eq!(
        in_exchange, crossing,
        "the exchange has not every artifact crossing a cut"
    );
}

/// Whether process `pid` still exists.
fn alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    unsafe { libc::kill(pid, 0) == 0 }
}

#[test]
fn a_killed_parent_resumes_its_child_without_rerunning_finished_steps() {
    use std::process::Stdio;
    use std::time::{Duration, Instant};
    let tmp = tempfile::tempdir().unwrap();
    let side = tmp.path().join("side");
    std::fs::create_dir_all(&side).unwrap();
    std::fs::write(
        tmp.path().join("child.yaml"),
        format!(
            "apiVersion: couler.dev/v1alpha1\nkind: Workflow\nname: child\nsteps:\n  - name: first\n    container: {{command: [sh, -c, 'echo ran >> {s}/first.count']}}\n  - name: second\n    dependsOn: [first]\n    container: {{command: [sh, -c, 'echo $$ >> {s}/pids; test -f {s}/fast || sleep 60']}}\n",
            s = side.display()
        ),
    )
    .unwrap();
    let parent = tmp.path().join("parent.yaml");
    std::fs::write(
        &parent,
        "apiVersion: couler.dev/v1alpha1\nkind: Workflow\nname: parent\nsteps:\n  - name: inner\n    workflow: {ref: child.yaml}\n",
    )
    .unwrap();
    let state = tmp.path().join("state");
    let state_arg = state.to_str().unwrap();
    let mut executor = Command::new(env!("CARGO_BIN_EXE_couler"))
        .args(["run", parent.to_str().unwrap(), "--state-dir", state_arg])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t = Instant::now();
    while !side.join("pids").exists() && t.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(200));
    // SAFETY: SIGKILL to our own child process.
    unsafe {
        libc::kill(executor.id() as i32, libc::SIGKILL);
    }
    let _ = executor.wait();
    let orphan: i32 = std::fs::read_to_string(side.join("pids"))
        .unwrap_or_default()
        .trim()
        .parse()
        .unwrap_or(0);
    assert!(
        orphan > 0 && alive(orphan),
        "the child's step outlives its executor"
    );

    let runs = json(&couler(&["runs", "--state-dir", state_arg, "-o", "json"]));
    let run_id = runs
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["id"].as_str())
        .find(|id| !id.contains('.'))
        .expect("the parent run is listed")
        .to_string();
    std::fs::write(side.join("fast"), "").unwrap();
    let out = couler(&["resume", &run_id, "--state-dir", state_arg, "-o", "json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(json(&out)["status"], "Succeeded");
    let count = std::fs::read_to_string(side.join("first.count")).unwrap();
    assert_eq!(count.lines().count(), 1, "a finished child step ran again");
    let t = Instant::now();
    while alive(orphan) && t.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!alive(orphan), "resume stopped the child's orphaned step");
    let mut steps = BTreeMap::new();
    outputs(&state, &format!("{run_id}.inner"), &mut steps);
    assert_eq!(steps.len(), 2);
}
