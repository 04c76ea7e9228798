//! End-to-end tests of the local-runtime commands: `run`, `resume`, `runs`, `status`, `logs`,
//! `stop`, driven as real processes; an exit handler of several steps; and the crash test:
//! `kill -9` of the executor at many seeded random moments, then `resume`.

#[path = "support/cli.rs"]
mod cli;

use cli::{alive, couler_in, json, text, tmp};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn example(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples")
        .join(name)
        .display()
        .to_string()
}

#[test]
fn run_hello_prints_and_succeeds() {
    let d = tmp();
    let out = couler_in(d.path(), &["run", &example("hello.yaml")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("hello world"));
    assert!(text(&out.stderr).contains("images are not used"));
    // The default state directory is .couler in the current directory.
    assert!(d.path().join(".couler/state.db").exists());

    let out = couler_in(
        d.path(),
        &[
            "run",
            &example("hello.yaml"),
            "--param",
            "who=couler",
            "-o",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    let v = json(&out);
    assert_eq!(v["status"], "Succeeded");
    assert_eq!(v["steps"][0]["node"], "say-hello");
}

#[test]
fn exit_codes_for_failure_and_bad_input() {
    let d = tmp();
    std::fs::write(
        d.path().join("fail.yaml"),
        "apiVersion: couler.dev/v1alpha1\nkind: Workflow\nname: f\nsteps:\n  - name: a\n    container: {command: ['false']}\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let out = couler_in(d.path(), &["run", "fail.yaml"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).contains("resume it with: couler resume"));

    let out = couler_in(
        d.path(),
        &["run", &example("hello.yaml"), "--param", "nope=1"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("has no param `nope`"));

    let out = couler_in(d.path(), &["run", "missing.yaml"]);
    assert_eq!(out.status.code(), Some(2));

    let out = couler_in(d.path(), &["status", "no-such-run"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("no run `no-such-run`"));

    let out = couler_in(
        d.path(),
        &["run", &example("hello.yaml"), "--runtime", "podman"],
    );
    if !Path::new("/usr/bin/podman").exists() {
        assert_eq!(out.status.code(), Some(2));
        assert!(text(&out.stderr).contains("`podman` is not on PATH"));
    }
}

/// The final table lists a map of more than 20 instances as counts by status and the
/// instances that failed; `couler status` and `-o json` still have every instance.
#[test]
fn a_wide_maps_instances_are_counted_in_the_final_table() {
    let d = tmp();
    std::fs::write(
        d.path().join("wide.yaml"),
        "apiVersion: couler.dev/v1alpha1\nkind: Workflow\nname: wide\nsteps:\n  - name: each\n    map: {range: {stop: 30}}\n    container: {command: [sh, -c, 'test {{item}} -ne 7 && test {{item}} -ne 19']}\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let out = couler_in(d.path(), &["run", "wide.yaml"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    let rows: Vec<&str> = table
        .lines()
        .filter(|l| l.starts_with("each"))
        .map(|l| l.split_whitespace().next().unwrap_or_default())
        .collect();
    assert_eq!(rows, ["each", "each[…]", "each[7]", "each[19]"], "{table}");
    assert!(
        table.contains("30 instances: 2 Failed, 28 Succeeded"),
        "{table}"
    );
    let out = couler_in(d.path(), &["run", "wide.yaml", "-o", "json"]);
    let report = json(&out);
    let nodes = report["steps"].as_array().map_or(0, Vec::len);
    assert_eq!(nodes, 31, "{report}");
}

#[test]
fn runs_status_and_logs() {
    let d = tmp();
    let out = couler_in(
        d.path(),
        &["run", &example("model-search.yaml"), "-o", "json"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let run_id = json(&out)["runId"].as_str().unwrap_or_default().to_string();

    let out = couler_in(d.path(), &["runs", "-o", "json"]);
    assert_eq!(json(&out)[0]["id"], run_id.as_str());
    let out = couler_in(d.path(), &["runs"]);
    assert!(text(&out.stdout).contains(&run_id));

    let out = couler_in(d.path(), &["status", &run_id, "-o", "json"]);
    let v = json(&out);
    assert_eq!(v["run"]["status"], "Succeeded");
    let evaluated = v["steps"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|s| s["step"] == "evaluate" && s["node"] != "evaluate")
                .count()
        })
        .unwrap_or(0);
    assert_eq!(evaluated, 5);
    let out = couler_in(d.path(), &["status", &run_id]);
    assert!(text(&out.stdout).contains("peak RSS"));

    let out = couler_in(d.path(), &["logs", &run_id, "pick-best"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).contains("best: batch size"));
    let out = couler_in(d.path(), &["logs", &run_id, "train[0]", "--follow"]);
    assert!(
        text(&out.stdout).trim().parse::<f64>().is_ok(),
        "{}",
        text(&out.stdout)
    );
    let out = couler_in(d.path(), &["logs", &run_id, "evaluate", "-o", "json"]);
    assert_eq!(json(&out).as_array().map(Vec::len), Some(5));

    let out = couler_in(d.path(), &["stop", &run_id, "-o", "json"]);
    assert_eq!(json(&out)["signalled"], false);
}

#[test]
fn stop_ends_a_running_run_and_a_second_run_is_refused_meanwhile() {
    let d = tmp();
    std::fs::write(
        d.path().join("slow.yaml"),
        "apiVersion: couler.dev/v1alpha1\nkind: Workflow\nname: slow\nsteps:\n  - name: a\n    container: {command: [sleep, '30']}\n  - name: b\n    dependsOn: [a]\n    container: {command: [echo, done]}\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let child = Command::new(env!("CARGO_BIN_EXE_couler"))
        .args(["run", "slow.yaml", "-o", "json"])
        .current_dir(d.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let run_id = wait_for_run(d.path());
    std::thread::sleep(Duration::from_millis(300));
    // A second executor on the same state directory is refused while the first runs.
    let out = couler_in(d.path(), &["run", "slow.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("another `couler`"),
        "{}",
        text(&out.stderr)
    );

    let t = Instant::now();
    let out = couler_in(d.path(), &["stop", &run_id]);
    assert!(
        text(&out.stdout).contains("stopping run"),
        "{}",
        text(&out.stdout)
    );
    let out = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
    assert!(t.elapsed() < Duration::from_secs(15));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json(&out)["status"], "Stopped");

    let out = couler_in(d.path(), &["status", &run_id, "-o", "json"]);
    let v = json(&out);
    assert_eq!(v["run"]["status"], "Stopped");
}

#[test]
fn logs_follow_streams_a_running_step() {
    let d = tmp();
    std::fs::write(
        d.path().join("tick.yaml"),
        "apiVersion: couler.dev/v1alpha1\nkind: Workflow\nname: tick\nsteps:\n  - name: tick\n    container: {command: [sh, -c, 'for i in 1 2 3 4; do echo tick $i; sleep 0.3; done']}\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let mut child = spawn_couler(d.path(), &["run", "tick.yaml"]);
    let run_id = wait_for_run(d.path());
    // Give the step time to start (its row appears then); it runs for 1.2 s.
    std::thread::sleep(Duration::from_millis(300));
    let out = couler_in(d.path(), &["logs", &run_id, "tick", "--follow"]);
    let _ = child.wait();
    assert_eq!(
        text(&out.stdout).lines().collect::<Vec<_>>(),
        ["tick 1", "tick 2", "tick 3", "tick 4"]
    );
}

#[test]
fn logs_follow_moves_on_to_a_retry_and_each_attempt_keeps_its_own_files() {
    let d = tmp();
    let marker = d.path().join("tried-once");
    std::fs::write(
        d.path().join("flaky.yaml"),
        format!(
            "apiVersion: couler.dev/v1alpha1\nkind: Workflow\nname: flaky\nsteps:\n  - name: flaky\n    retry: {{limit: 1}}\n    container: {{command: [sh, -c, 'if [ -e {m} ]; then echo second; sleep 0.6; else touch {m}; echo first; sleep 0.6; exit 3; fi']}}\n",
            m = marker.display()
        ),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let mut child = spawn_couler(d.path(), &["run", "flaky.yaml"]);
    let run_id = wait_for_run(d.path());
    std::thread::sleep(Duration::from_millis(200));
    let out = couler_in(d.path(), &["logs", &run_id, "flaky", "--follow"]);
    assert_eq!(child.wait().ok().and_then(|s| s.code()), Some(0));
    assert_eq!(
        text(&out.stdout).lines().collect::<Vec<_>>(),
        ["first", "second"]
    );

    // Two attempts, each a working directory with its logs beside it, and nothing else: a
    // stream that had no output has no file.
    let steps = d.path().join(".couler/runs").join(&run_id).join("steps");
    let mut names: Vec<String> = std::fs::read_dir(&steps)
        .unwrap_or_else(|e| panic!("{}: {e}", steps.display()))
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "flaky.1",
            "flaky.1.stdout.log",
            "flaky.2",
            "flaky.2.stdout.log"
        ]
    );
    assert_eq!(
        std::fs::read_to_string(steps.join("flaky.1.stdout.log"))
            .ok()
            .as_deref(),
        Some("first\n")
    );
}

#[test]
fn resume_stops_steps_orphaned_by_a_killed_executor() {
    let d = tmp();
    let side = d.path().join("side");
    std::fs::create_dir_all(&side).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        d.path().join("orphan.yaml"),
        format!(
            "apiVersion: couler.dev/v1alpha1\nkind: Workflow\nname: orphan\nsteps:\n  - name: long\n    container: {{command: [sh, -c, 'echo $$ >> {s}/pids; test -f {s}/fast || sleep 60']}}\n",
            s = side.display()
        ),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let mut child = spawn_couler(d.path(), &["run", "orphan.yaml", "--no-cache"]);
    let run_id = wait_for_run(d.path());
    let t = Instant::now();
    while !side.join("pids").exists() && t.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(200));
    // SAFETY: SIGKILL to our own child process.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGKILL);
    }
    let _ = child.wait();
    let first: i32 = std::fs::read_to_string(side.join("pids"))
        .unwrap_or_default()
        .trim()
        .parse()
        .unwrap_or(0);
    assert!(first > 0 && alive(first), "the step outlives its executor");
    std::fs::write(side.join("fast"), "").unwrap_or_else(|e| panic!("{e}"));
    let out = couler_in(d.path(), &["resume", &run_id, "--no-cache"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let t = Instant::now();
    while alive(first) && t.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!alive(first), "resume stopped the orphaned step");
}

/// Waits until `couler runs` lists a run and returns its id.
/// Starts `couler ARGS` in `dir` in the background, its output discarded.
fn spawn_couler(dir: &Path, args: &[&str]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_couler"))
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"))
}

fn wait_for_run(dir: &Path) -> String {
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(20) {
        if dir.join(".couler/state.db").exists() {
            let out = couler_in(dir, &["runs", "-o", "json"]);
            if let Some(id) = serde_json::from_slice::<serde_json::Value>(&out.stdout)
                .ok()
                .and_then(|v| v[0]["id"].as_str().map(str::to_string))
            {
                return id;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("no run appeared");
}

/// A deterministic generator for the kill moments (no dependency, same points every run).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

const CHAINS: usize = 6;
const LENGTH: usize = 6;

/// CHAINS chains of LENGTH steps; each appends its name to the artifact it got from the step
/// before, and to a side-effect file that counts executions.
fn crash_spec(side: &Path) -> String {
    let mut s = String::from(
        "apiVersion: couler.dev/v1alpha1\nkind: Workflow\nname: crash\nparallelism: 4\nsteps:\n",
    );
    for c in 0..CHAINS {
        for i in 0..LENGTH {
            let name = format!("c{c}-s{i}");
            s.push_str(&format!("  - name: {name}\n"));
            let show = if i == LENGTH - 1 { "; cat out.txt" } else { "" };
            let read = if i == 0 {
                String::new()
            } else {
                "cat in.txt > out.txt; ".to_string()
            };
            s.push_str(&format!(
                "    container:\n      command: [sh, -c, 'echo {name} >> {}/ran; {read}sleep 0.05; echo {name} >> out.txt{show}']\n",
                side.display()
            ));
            if i > 0 {
                s.push_str(&format!(
                    "    inputs:\n      artifacts:\n        - {{name: in, path: in.txt, from: steps.c{c}-s{}.outputs.artifacts.out}}\n",
                    i - 1
                ));
            }
            s.push_str("    outputs:\n      artifacts:\n        - {name: out, path: out.txt}\n");
        }
    }
    s
}

fn succeeded_nodes(dir: &Path, run_id: &str) -> Vec<String> {
    let out = couler_in(dir, &["status", run_id, "-o", "json"]);
    let v = json(&out);
    v["steps"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|s| s["status"] == "Succeeded")
                .filter_map(|s| s["node"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn kill_9_at_random_moments_then_resume_loses_and_repeats_nothing() {
    // Kill moments are fractions of one uninterrupted run on this machine, so they land mid-run
    // however fast or loaded the machine is.
    let full_run = {
        let d = tmp();
        let side = d.path().join("side");
        std::fs::create_dir_all(&side).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(d.path().join("wf.yaml"), crash_spec(&side))
            .unwrap_or_else(|e| panic!("{e}"));
        let start = std::time::Instant::now();
        let out = couler_in(d.path(), &["run", "wf.yaml", "--no-cache"]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        start.elapsed()
    };
    let mut rng = Lcg(0xC0FFEE);
    let mut resumed = 0;
    for point in 0..16 {
        let d = tmp();
        let side = d.path().join("side");
        std::fs::create_dir_all(&side).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(d.path().join("wf.yaml"), crash_spec(&side))
            .unwrap_or_else(|e| panic!("{e}"));
        let mut child = spawn_couler(d.path(), &["run", "wf.yaml", "--no-cache"]);
        let wait = full_run.mul_f64(0.1 + 0.8 * (rng.next() % 1000) as f64 / 1000.0);
        std::thread::sleep(wait);
        // SAFETY: SIGKILL to our own child process.
        unsafe {
            libc::kill(child.id() as i32, libc::SIGKILL);
        }
        let _ = child.wait();
        // Steps already started keep running in their own process groups; let them end so the
        // side-effect file is complete before we snapshot it.
        std::thread::sleep(Duration::from_millis(300));
        let Some(run_id) = (if d.path().join(".couler/state.db").exists() {
            let out = couler_in(d.path(), &["runs", "-o", "json"]);
            serde_json::from_slice::<serde_json::Value>(&out.stdout)
                .ok()
                .and_then(|v| v[0]["id"].as_str().map(str::to_string))
        } else {
            None
        }) else {
            continue; // killed before the run was recorded: nothing to resume
        };
        let done_before = succeeded_nodes(d.path(), &run_id);
        let ran_before = std::fs::read_to_string(side.join("ran"))
            .unwrap_or_default()
            .lines()
            .count();
        let out = couler_in(d.path(), &["resume", &run_id, "--no-cache", "-o", "json"]);
        if done_before.len() == CHAINS * LENGTH
            && json(&couler_in(d.path(), &["status", &run_id, "-o", "json"]))["run"]["status"]
                == "Succeeded"
        {
            continue; // finished before the kill landed
        }
        assert_eq!(
            out.status.code(),
            Some(0),
            "point {point}: {}",
            text(&out.stderr)
        );
        resumed += 1;
        let ran = std::fs::read_to_string(side.join("ran")).unwrap_or_default();
        let again: Vec<&str> = ran.lines().skip(ran_before).collect();
        for node in &done_before {
            assert!(
                !again.contains(&node.as_str()),
                "point {point} ({wait:?}): {node} was Succeeded before the kill and ran again"
            );
        }
        // Every chain's last step printed the artifact it built from its input artifact: every
        // name of the chain, once, in order; nothing lost or corrupted on the way.
        let v = json(&out);
        for c in 0..CHAINS {
            let last = format!("c{c}-s{}", LENGTH - 1);
            let step = v["steps"]
                .as_array()
                .and_then(|a| a.iter().find(|s| s["node"] == last.as_str()))
                .cloned()
                .unwrap_or_default();
            assert_eq!(step["status"], "Succeeded", "point {point}: {last}");
            let logs = couler_in(d.path(), &["logs", &run_id, &last]);
            let want: Vec<String> = (0..LENGTH).map(|i| format!("c{c}-s{i}")).collect();
            assert_eq!(
                text(&logs.stdout).lines().collect::<Vec<_>>(),
                want,
                "point {point}: chain {c}"
            );
        }
    }
    assert!(resumed >= 8, "only {resumed} kill points interrupted a run");
}

// An exit handler of several steps: after every main step, in their own dependency order,
// each sees the final workflow status, and one after a failed exit step does not run.

/// Runs `spec` in a fresh directory; returns the exit code and `couler status -o json`.
fn run_exits(spec: &str) -> (Option<i32>, serde_json::Value) {
    let dir = tmp();
    std::fs::write(dir.path().join("wf.yaml"), spec).unwrap();
    let out = couler_in(dir.path(), &["run", "wf.yaml", "-o", "json"]);
    let id = json(&out)["runId"].as_str().unwrap().to_string();
    let status = couler_in(dir.path(), &["status", &id, "-o", "json"]);
    (out.status.code(), json(&status))
}

fn exit_step<'v>(status: &'v serde_json::Value, name: &str) -> &'v serde_json::Value {
    cli::step(status, name)
}

const EXITS_HEADER: &str = "apiVersion: couler.dev/v1alpha1\nkind: Workflow\nname: exits\n";

#[test]
fn exit_steps_run_in_order_after_a_failure_and_see_the_status() {
    let spec = format!(
        r#"{EXITS_HEADER}steps:
  - name: work
    script: {{image: python, command: [sh], source: "sleep 0.3; exit 3"}}
onExit:
  - name: notify
    when: workflow.status == "Failed"
    script: {{image: python, command: [sh], source: "sleep 0.3; echo status={{{{workflow.status}}}}"}}
  - name: celebrate
    when: workflow.status == "Succeeded"
    script: {{image: python, command: [sh], source: "echo hooray"}}
  - name: cleanup
    dependsOn: [notify, celebrate]
    script: {{image: python, command: [sh], source: "echo cleaned"}}
"#
    );
    let (code, status) = run_exits(&spec);
    assert_eq!(code, Some(1), "{status}");
    assert_eq!(status["run"]["status"], "Failed");
    assert_eq!(exit_step(&status, "work")["status"], "Failed");
    let notify = exit_step(&status, "notify");
    assert_eq!(notify["status"], "Succeeded", "{notify}");
    assert_eq!(notify["outputs"]["result"], "status=Failed");
    assert_eq!(exit_step(&status, "celebrate")["status"], "Skipped");
    let cleanup = exit_step(&status, "cleanup");
    assert_eq!(cleanup["status"], "Succeeded", "{cleanup}");
    // After every main step, and after the exit steps it depends on.
    let at = |s: &serde_json::Value, k: &str| s[k].as_f64().unwrap();
    assert!(at(notify, "startedAt") >= at(exit_step(&status, "work"), "finishedAt"));
    assert!(at(cleanup, "startedAt") >= at(notify, "finishedAt"));
}

#[test]
fn an_exit_step_after_a_failed_one_does_not_run_and_the_run_fails() {
    let spec = format!(
        r#"{EXITS_HEADER}steps:
  - name: work
    script: {{image: python, command: [sh], source: "echo ok"}}
onExit:
  - name: upload
    script: {{image: python, command: [sh], source: "exit 4"}}
  - name: announce
    dependsOn: [upload]
    script: {{image: python, command: [sh], source: "echo uploaded"}}
  - name: log
    script: {{image: python, command: [sh], source: "echo status={{{{workflow.status}}}}"}}
"#
    );
    let (code, status) = run_exits(&spec);
    assert_eq!(code, Some(1), "{status}");
    assert_eq!(status["run"]["status"], "Failed");
    assert_eq!(exit_step(&status, "work")["status"], "Succeeded");
    assert_eq!(exit_step(&status, "upload")["status"], "Failed");
    let announce = exit_step(&status, "announce");
    assert_eq!(announce["status"], "Omitted", "{announce}");
    assert!(
        announce["message"]
            .as_str()
            .is_some_and(|m| m.contains("`upload` did not succeed")),
        "{announce}"
    );
    // An exit step that does not depend on the failed one still runs, and saw success.
    let log = exit_step(&status, "log");
    assert_eq!(log["status"], "Succeeded");
    assert_eq!(log["outputs"]["result"], "status=Succeeded");
}

/// A small tmpfs mounted for the test, unmounted when dropped. Mounting needs root (or
/// CAP_SYS_ADMIN), which this project's machines and CI have; a full disk cannot be made
/// faithfully any other way (`/dev/full` is not a directory, RLIMIT_FSIZE gives EFBIG).
struct SmallDisk(std::path::PathBuf);

impl SmallDisk {
    fn mount(path: &Path, size: &str) -> SmallDisk {
        std::fs::create_dir_all(path).unwrap_or_else(|e| panic!("{e}"));
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(path)
            .output()
            .unwrap_or_else(|e| panic!("running mount: {e}"));
        assert!(
            out.status.success(),
            "mounting a {size} tmpfs at {} needs root or CAP_SYS_ADMIN: {}",
            path.display(),
            text(&out.stderr)
        );
        SmallDisk(path.to_path_buf())
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).output();
    }
}

/// A step whose 4 MiB artifact does not fit the 1 MiB artifact store: the step is an Error
/// that says "no space left on device" and what to do, its dependent is Omitted, nothing
/// half-written is left (no blob, no temporary file holding the space), the state reads back;
/// with room made, `couler resume` finishes the run.
#[test]
fn a_full_artifact_store_is_a_clear_error_and_resume_finishes_after_room_is_made() {
    let d = tmp();
    let store = d.path().join("store");
    let spec = d.path().join("fills-the-disk.yaml");
    std::fs::write(
        &spec,
        "apiVersion: couler.dev/v1alpha1\nkind: Workflow\nname: fills-the-disk\nsteps:\n  - name: big\n    script: {command: [sh], source: 'head -c 4194304 /dev/zero > data.bin'}\n    outputs: {artifacts: [{name: data, path: data.bin}]}\n  - name: after\n    script: {command: [sh], source: 'wc -c < data.bin'}\n    inputs: {artifacts: [{name: data, path: data.bin, from: steps.big.outputs.artifacts.data}]}\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let spec = spec.display().to_string();
    let store_arg = store.display().to_string();
    let run_id = {
        let _disk = SmallDisk::mount(&store, "1m");
        let out = couler_in(
            d.path(),
            &["run", &spec, "--artifact-store", &store_arg, "-o", "json"],
        );
        assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
        let v = json(&out);
        assert_eq!(v["status"], "Error", "{v:#}");
        let step = |name: &str| -> serde_json::Value {
            v["steps"]
                .as_array()
                .and_then(|a| a.iter().find(|s| s["node"] == name).cloned())
                .unwrap_or_default()
        };
        assert_eq!(step("big")["status"], "Error");
        let message = step("big")["message"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(
            message.contains("output artifact `data`")
                && message.contains("no space left on device")
                && message.contains("free space"),
            "{message}"
        );
        assert_eq!(step("after")["status"], "Omitted");
        let files: Vec<_> = walk_files(&store);
        assert!(files.is_empty(), "left in the store: {files:?}");
        let run_id = v["runId"].as_str().unwrap_or_default().to_string();
        let status = couler_in(d.path(), &["status", &run_id, "-o", "json"]);
        assert_eq!(status.status.code(), Some(0), "{}", text(&status.stderr));
        assert_eq!(json(&status)["run"]["status"], "Error");
        run_id
    };
    let _disk = SmallDisk::mount(&store, "16m");
    let out = couler_in(
        d.path(),
        &[
            "resume",
            &run_id,
            "--artifact-store",
            &store_arg,
            "-o",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v = json(&out);
    assert_eq!(v["status"], "Succeeded", "{v:#}");
    let after = v["steps"]
        .as_array()
        .and_then(|a| a.iter().find(|s| s["node"] == "after").cloned())
        .unwrap_or_default();
    assert_eq!(after["outputs"]["result"], "4194304");
}

fn walk_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk_files(&p));
        } else {
            out.push(p);
        }
    }
    out
}
