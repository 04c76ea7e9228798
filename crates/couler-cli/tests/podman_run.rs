//! `couler run --runtime podman` with a real container engine: podman with runc, from Debian's
//! packages, and an image built from busybox alone, all set up by scripts/container-deps (pinned
//! versions, nothing pulled from a registry). Never skipped: when podman cannot be set up, the
//! test fails and says why. Docker's client is on these machines but no Docker engine can run,
//! so `--runtime docker` shares this code path (the same argv, `docker` for `podman`) but is
//! not run here.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const IMAGE: &str = "localhost/couler-busybox:test";

/// The containers.conf that scripts/container-deps writes (`COULER_CONTAINERS_CONF` when
/// scripts/test already ran it).
fn containers_conf() -> PathBuf {
    if let Some(p) = std::env::var_os("COULER_CONTAINERS_CONF") {
        return PathBuf::from(p);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = Command::new("bash")
        .arg(root.join("scripts/container-deps"))
        .output()
        .unwrap_or_else(|e| panic!("running scripts/container-deps: {e}"));
    assert!(
        out.status.success(),
        "scripts/container-deps failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

fn couler(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_couler"))
        .args(args)
        .current_dir(dir)
        .env("CONTAINERS_CONF", containers_conf())
        .env_remove("COULER_STATE_DIR")
        .output()
        .unwrap_or_else(|e| panic!("the couler binary runs: {e}"))
}

fn report(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// Writes `spec` as `name` in `dir` and runs it on podman; the JSON report.
fn run_on_podman(dir: &Path, name: &str, spec: &str) -> serde_json::Value {
    std::fs::write(dir.join(name), spec).unwrap_or_else(|e| panic!("{e}"));
    report(&couler(
        dir,
        &["run", name, "--runtime", "podman", "-o", "json"],
    ))
}

/// Whether the step's message contains `needle`.
fn says(step: &serde_json::Value, needle: &str) -> bool {
    step["message"].as_str().is_some_and(|m| m.contains(needle))
}

fn step<'a>(report: &'a serde_json::Value, node: &str) -> &'a serde_json::Value {
    report["steps"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["node"] == node))
        .unwrap_or_else(|| panic!("no step {node} in {report}"))
}

/// Container names podman still has for a run (running or not).
fn containers_of(run_id: &str) -> String {
    let out = Command::new("podman")
        .args(["ps", "-a", "--format", "{{.Names}}"])
        .env("CONTAINERS_CONF", containers_conf())
        .output()
        .unwrap_or_else(|e| panic!("podman ps: {e}"));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|n| n.contains(run_id))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The containers still there for the run a report is of.
fn leftovers(report: &serde_json::Value) -> String {
    let run_id = report["runId"].as_str().unwrap_or_default();
    assert!(!run_id.is_empty(), "{report}");
    containers_of(run_id)
}

/// A container step and a script step in the image: env, limits, the working directory mounted
/// at its own path (an artifact passes from one to the other), stdout as the result, and a
/// file system that is the image's, not the host's.
#[test]
fn steps_run_in_podman_with_their_image_env_and_artifacts() {
    let d = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let r = run_on_podman(
        d.path(),
        "wf.yaml",
        &format!(
            r#"apiVersion: couler.dev/v1alpha1
kind: Workflow
name: in-podman
steps:
  - name: produce
    container:
      image: {IMAGE}
      command: [sh, -c, 'echo "$GREETING from the container" > {{{{outputs.artifacts.note.path}}}}; test -e /etc/debian_version && echo host || echo isolated']
    env:
      GREETING: hi
    resources:
      limits: {{cpu: 1, memory: 64Mi}}
    outputs:
      artifacts: [{{name: note, path: note.txt}}]
  - name: consume
    script:
      image: {IMAGE}
      command: [sh]
      source: |
        cat {{{{inputs.artifacts.note.path}}}}
        test -e /etc/debian_version && echo host || echo isolated
    inputs:
      artifacts: [{{name: note, path: note.txt, from: steps.produce.outputs.artifacts.note}}]
"#
        ),
    );
    assert_eq!(r["status"], "Succeeded", "{r}");
    // The host has /etc/debian_version; the busybox image does not.
    assert_eq!(step(&r, "produce")["outputs"]["result"], "isolated", "{r}");
    assert_eq!(
        step(&r, "consume")["outputs"]["result"],
        "hi from the container\nisolated",
        "{r}"
    );
    assert_eq!(leftovers(&r), "", "--rm leaves no container");
}

/// A step past its timeout is stopped through the engine (its `sleep` is PID 1 and ignores
/// SIGTERM, so signalling only podman's client would leave it running), and a failing step's
/// exit code and stderr come through.
#[test]
fn a_timed_out_container_is_stopped_and_removed() {
    let d = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let started = std::time::Instant::now();
    let r = run_on_podman(
        d.path(),
        "slow.yaml",
        &format!(
            "apiVersion: couler.dev/v1alpha1\nkind: Workflow\nname: slow-in-podman\nsteps:\n  - name: slow\n    timeout: 2s\n    container: {{image: {IMAGE}, command: [sleep, '60']}}\n  - name: fails\n    container: {{image: {IMAGE}, command: [sh, -c, 'echo boom >&2; exit 4']}}\n"
        ),
    );
    assert_eq!(r["status"], "Failed", "{r}");
    let slow = step(&r, "slow");
    assert_eq!(slow["status"], "Failed", "{r}");
    assert!(says(slow, "timed out"), "{r}");
    let fails = step(&r, "fails");
    assert_eq!(fails["exitCode"], 4, "{r}");
    assert!(says(fails, "boom"), "{r}");
    // Not the container's 60 s.
    assert!(started.elapsed().as_secs() < 40, "{:?}", started.elapsed());
    assert_eq!(leftovers(&r), "", "the stopped container is gone");
}

/// After a `kill -9` of the executor its step's container keeps running (it outlives podman's
/// client); `couler resume` stops it before running the step again. Were it left, the rerun's
/// container could not even start: it takes the same name.
#[test]
fn resume_stops_a_container_orphaned_by_a_killed_executor() {
    let d = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        d.path().join("orphan.yaml"),
        format!(
            "apiVersion: couler.dev/v1alpha1\nkind: Workflow\nname: orphan-in-podman\nsteps:\n  - name: long\n    timeout: 6s\n    container: {{image: {IMAGE}, command: [sleep, '60']}}\n"
        ),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let mut executor = Command::new(env!("CARGO_BIN_EXE_couler"))
        .args(["run", "orphan.yaml", "--runtime", "podman"])
        .current_dir(d.path())
        .env("CONTAINERS_CONF", containers_conf())
        .env_remove("COULER_STATE_DIR")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("the couler binary runs: {e}"));
    // Wait for the container, then kill the executor outright.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let name = loop {
        if let Some(n) = containers_of("orphan-in-podman")
            .split(' ')
            .find(|n| n.ends_with("-long"))
        {
            break n.to_string();
        }
        assert!(std::time::Instant::now() < deadline, "no container started");
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    executor.kill().unwrap_or_else(|e| panic!("{e}"));
    let _ = executor.wait();
    assert_eq!(
        containers_of(&name),
        name,
        "the container outlived its executor"
    );

    let runs = report(&couler(d.path(), &["runs", "-o", "json"]));
    let run_id = runs
        .as_array()
        .and_then(|r| r.first())
        .and_then(|r| r["id"].as_str())
        .unwrap_or_else(|| panic!("no run in {runs}"))
        .to_string();
    assert!(name.contains(&run_id), "{name} is not {run_id}'s");
    let r = report(&couler(
        d.path(),
        &["resume", &run_id, "--runtime", "podman", "-o", "json"],
    ));
    // The step ran again, in a container of the same name, until its timeout.
    let long = step(&r, "long");
    assert!(says(long, "timed out"), "{r}");
    assert_eq!(containers_of(&run_id), "", "nothing is left running");
}

/// Declared absolute paths in a container are the step's own, as in a pod: map instances that
/// write the same literal `/tmp` path each keep their value, and an input placed at an
/// absolute path is there in the container.
#[test]
fn absolute_paths_in_containers_belong_to_each_step() {
    let d = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let r = run_on_podman(
        d.path(),
        "abs.yaml",
        &format!(
            r#"apiVersion: couler.dev/v1alpha1
kind: Workflow
name: abs-in-podman
steps:
  - name: train
    map: {{items: [a, b, c], parallelism: 3}}
    container:
      image: {IMAGE}
      command: [sh, -c, 'echo {{{{item}}}} > /tmp/model.txt; sleep 0.5; mkdir -p /out/m && cp /tmp/model.txt /out/m/w']
    outputs:
      parameters: [{{name: model, path: /tmp/model.txt}}]
      artifacts: [{{name: weights, path: /out/m}}]
  - name: first
    container:
      image: {IMAGE}
      command: [sh, -c, 'echo first > /tmp/first.txt']
    outputs:
      artifacts: [{{name: f, path: /tmp/first.txt}}]
  - name: read
    container:
      image: {IMAGE}
      command: [cat, /data/in/first.txt]
    inputs:
      artifacts: [{{name: f, path: /data/in/first.txt, from: steps.first.outputs.artifacts.f}}]
"#
        ),
    );
    assert_eq!(r["status"], "Succeeded", "{r}");
    assert_eq!(
        step(&r, "train")["outputs"]["parameters"]["model"],
        r#"["a","b","c"]"#,
        "{r}"
    );
    assert_eq!(step(&r, "read")["outputs"]["result"], "first", "{r}");
}
