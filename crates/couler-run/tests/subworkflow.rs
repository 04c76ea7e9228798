//! Sub-workflow steps on the local runtime: params passed into the child, the child's outcome
//! as the step's, clear errors for missing, invalid, unresolvable and recursive `ref`s, resume
//! keeping finished child steps, the cache reaching child steps, and `storage: local` outputs.

mod common;

use common::*;
use couler_run::{RunReport, RunStatus, State, StepRecord};
use std::path::Path;

/// Writes spec `name` into `dir`, with `SIDE` replaced by `dir` (for side-effect files).
fn write(dir: &Path, name: &str, body: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    let text = body.replace("SIDE", &dir.to_string_lossy());
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("{e}"));
    path
}

/// Runs spec file `file` (sub-workflows resolved next to it) with state in `dir/state`.
async fn run_file(dir: &Path, file: &Path) -> RunReport {
    let wf = load_file(file);
    let mut o = opts(&dir.join("state"));
    o.spec_dir = file.parent().map(Path::to_path_buf);
    couler_run::run(&wf, o)
        .await
        .unwrap_or_else(|e| panic!("run failed to execute: {e}"))
}

/// The steps of the nested run of sub-workflow step `node`.
fn child_steps(dir: &Path, r: &RunReport, node: &str) -> Vec<StepRecord> {
    State::open(&dir.join("state"))
        .and_then(|state| state.steps(&format!("{}.{node}", r.run_id)))
        .unwrap_or_else(|e| panic!("{e}"))
}

fn child<'a>(steps: &'a [StepRecord], node: &str) -> &'a StepRecord {
    steps
        .iter()
        .find(|s| s.node == node)
        .unwrap_or_else(|| panic!("no child step {node} in {steps:#?}"))
}

fn message(r: &RunReport, node: &str) -> String {
    step(r, node).message.clone().unwrap_or_default()
}

const CHILD: &str = r#"
apiVersion: couler.dev/v1alpha1
kind: Workflow
name: child
params:
  - name: msg
  - name: times
    type: int
    default: 1
steps:
  - name: say
    container:
      command: [sh, -c, 'echo "{{params.msg}}/{{params.times}}"']
    outputs:
      parameters:
        - name: said
"#;

/// A parent whose step `inner` runs `child.yaml` and whose step `after` depends on it.
const INNER_THEN_AFTER: &str = r#"
apiVersion: couler.dev/v1alpha1
kind: Workflow
name: parent
steps:
  - name: inner
    workflow: {ref: child.yaml}
  - name: after
    dependsOn: [inner]
    container:
      command: [sh, -c, 'echo never']
"#;

#[tokio::test(flavor = "multi_thread")]
async fn params_are_rendered_in_the_parent_and_passed_to_the_child() {
    let d = tmp();
    write(d.path(), "child.yaml", CHILD);
    let parent = write(
        d.path(),
        "parent.yaml",
        r#"
apiVersion: couler.dev/v1alpha1
kind: Workflow
name: parent
params:
  - name: greeting
    default: hello
steps:
  - name: inner
    workflow:
      ref: child.yaml
      params:
        msg: "{{params.greeting}} world"
        times: "3"
  - name: after
    dependsOn: [inner]
    container:
      command: [sh, -c, 'echo done']
"#,
    );
    let r = run_file(d.path(), &parent).await;
    assert_eq!(r.status, RunStatus::Succeeded, "{:?}", r.message);
    assert_eq!(status(&r, "inner"), "Succeeded");
    assert_eq!(status(&r, "after"), "Succeeded");
    let steps = child_steps(d.path(), &r, "inner");
    let said = child(&steps, "say")
        .outputs
        .as_ref()
        .and_then(|o| o.parameters.get("said").cloned());
    assert_eq!(said.as_deref(), Some("hello world/3"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_child_fails_the_step_and_omits_its_dependents() {
    let d = tmp();
    write(
        d.path(),
        "child.yaml",
        r#"
apiVersion: couler.dev/v1alpha1
kind: Workflow
name: child
steps:
  - name: boom
    container:
      command: [sh, -c, 'echo broken >&2; exit 4']
"#,
    );
    let parent = write(d.path(), "parent.yaml", INNER_THEN_AFTER);
    let r = run_file(d.path(), &parent).await;
    assert_eq!(r.status, RunStatus::Failed);
    assert_eq!(status(&r, "inner"), "Failed");
    assert_eq!(status(&r, "after"), "Omitted");
    let m = message(&r, "inner");
    assert!(m.contains("Failed") && m.contains("boom"), "{m}");
    let steps = child_steps(d.path(), &r, "inner");
    assert_eq!(child(&steps, "boom").status, "Failed");
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_invalid_and_registered_refs_are_clear_errors() {
    let d = tmp();
    write(
        d.path(),
        "bad.yaml",
        "apiVersion: couler.dev/v1alpha1\nkind: Workflow\nname: bad\nsteps:\n  - name: x\n    container: {command: [true]}\n    dependsOn: [nowhere]\n",
    );
    let parent = write(
        d.path(),
        "parent.yaml",
        r#"
apiVersion: couler.dev/v1alpha1
kind: Workflow
name: parent
steps:
  - name: missing
    workflow: {ref: parts/none.yaml}
  - name: invalid
    workflow: {ref: bad.yaml}
  - name: registered
    workflow: {ref: my-template}
"#,
    );
    let r = run_file(d.path(), &parent).await;
    assert_eq!(r.status, RunStatus::Error);
    let m = message(&r, "missing");
    assert_eq!(status(&r, "missing"), "Error");
    assert!(
        m.contains("parts/none.yaml") && m.contains("does not exist"),
        "{m}"
    );
    let m = message(&r, "invalid");
    assert_eq!(status(&r, "invalid"), "Error");
    assert!(m.contains("bad.yaml") && m.contains("not valid"), "{m}");
    assert!(m.contains("nowhere"), "the diagnostic is rendered: {m}");
    let m = message(&r, "registered");
    assert_eq!(status(&r, "registered"), "Error");
    assert!(
        m.contains("my-template") && m.contains("only as a spec file"),
        "{m}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_spec_directory_the_step_says_how_to_run_it() {
    let d = tmp();
    let wf = load(
        "apiVersion: couler.dev/v1alpha1\nkind: Workflow\nname: p\nsteps:\n  - name: inner\n    workflow: {ref: child.yaml}\n",
    );
    let r = run(&wf, &d.path().join("state")).await;
    assert_eq!(status(&r, "inner"), "Error");
    let m = message(&r, "inner");
    assert!(m.contains("couler run FILE"), "{m}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_workflow_running_itself_is_refused() {
    let d = tmp();
    let file = write(
        d.path(),
        "self.yaml",
        r#"
apiVersion: couler.dev/v1alpha1
kind: Workflow
name: loop
steps:
  - name: again
    workflow: {ref: self.yaml}
"#,
    );
    let r = run_file(d.path(), &file).await;
    // The top level runs self.yaml once as a child; that child's own step is refused.
    assert_eq!(r.status, RunStatus::Error);
    let m = message(&r, "again");
    assert!(m.contains("includes itself"), "{m}");
    assert!(m.contains("self.yaml"), "{m}");
}

#[tokio::test(flavor = "multi_thread")]
async fn nesting_deeper_than_the_limit_is_refused() {
    let d = tmp();
    let levels = couler_run::MAX_SUBWORKFLOW_DEPTH + 2;
    for k in 0..levels {
        write(
            d.path(),
            &format!("level-{k}.yaml"),
            &format!(
                "apiVersion: couler.dev/v1alpha1\nkind: Workflow\nname: level-{k}\nsteps:\n  - name: down\n    workflow: {{ref: level-{}.yaml}}\n",
                k + 1
            ),
        );
    }
    let r = run_file(d.path(), &d.path().join("level-0.yaml")).await;
    assert_eq!(r.status, RunStatus::Error);
    // The refusal is reported at the deepest level; every level above fails with it.
    let m = message(&r, "down");
    assert!(m.contains("Error"), "{m}");
    let state = State::open(&d.path().join("state")).unwrap();
    let mut deepest = String::new();
    for run in state.runs().unwrap() {
        for s in state.steps(&run.id).unwrap() {
            let text = s.message.clone().unwrap_or_default();
            if text.contains("levels") {
                deepest = text;
            }
        }
    }
    assert!(
        deepest.contains(&format!(
            "at most {} levels",
            couler_run::MAX_SUBWORKFLOW_DEPTH
        )),
        "{deepest}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn resume_keeps_the_child_steps_that_finished() {
    let d = tmp();
    write(
        d.path(),
        "child.yaml",
        r#"
apiVersion: couler.dev/v1alpha1
kind: Workflow
name: child
steps:
  - name: first
    container:
      command: [sh, -c, 'echo ran >> SIDE/first.count']
  - name: second
    dependsOn: [first]
    container:
      command: [sh, -c, 'echo ran >> SIDE/second.count; test -e SIDE/ok']
"#,
    );
    let parent = write(
        d.path(),
        "parent.yaml",
        r#"
apiVersion: couler.dev/v1alpha1
kind: Workflow
name: parent
steps:
  - name: before
    container:
      command: [sh, -c, 'echo ran >> SIDE/before.count']
  - name: inner
    dependsOn: [before]
    workflow: {ref: child.yaml}
"#,
    );
    let r = run_file(d.path(), &parent).await;
    assert_eq!(r.status, RunStatus::Failed);
    std::fs::write(d.path().join("ok"), "").unwrap();
    // `couler resume` does not know the file: the run recorded its spec directory.
    let r2 = couler_run::resume(&r.run_id, opts(&d.path().join("state")))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r2.status, RunStatus::Succeeded, "{:?}", r2.message);
    let count = |f: &str| {
        std::fs::read_to_string(d.path().join(f))
            .unwrap_or_default()
            .lines()
            .count()
    };
    assert_eq!(count("before.count"), 1);
    assert_eq!(count("first.count"), 1, "a finished child step ran again");
    assert_eq!(count("second.count"), 2);
    let steps = child_steps(d.path(), &r, "inner");
    assert_eq!(child(&steps, "first").status, "Succeeded");
    assert_eq!(child(&steps, "second").status, "Succeeded");
    // A second resume has nothing to do: the run succeeded, and is reported so.
    let again = couler_run::resume(&r.run_id, opts(&d.path().join("state")))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(again.status, RunStatus::Succeeded);
    assert_eq!(count("second.count"), 2, "nothing ran again");
}

#[tokio::test(flavor = "multi_thread")]
async fn child_steps_are_memoized_across_runs() {
    let d = tmp();
    write(d.path(), "child.yaml", CHILD);
    let parent = write(
        d.path(),
        "parent.yaml",
        "apiVersion: couler.dev/v1alpha1\nkind: Workflow\nname: parent\nsteps:\n  - name: inner\n    workflow: {ref: child.yaml, params: {msg: hi}}\n",
    );
    let first = run_file(d.path(), &parent).await;
    let second = run_file(d.path(), &parent).await;
    assert_eq!(second.status, RunStatus::Succeeded);
    let a = child_steps(d.path(), &first, "inner");
    let b = child_steps(d.path(), &second, "inner");
    assert_eq!(child(&a, "say").status, "Succeeded");
    assert_eq!(child(&b, "say").status, "Cached");
    assert_eq!(child(&a, "say").outputs, child(&b, "say").outputs);
}

#[tokio::test(flavor = "multi_thread")]
async fn local_storage_carries_an_artifact_between_children() {
    let d = tmp();
    write(
        d.path(),
        "make.yaml",
        r#"
apiVersion: couler.dev/v1alpha1
kind: Workflow
name: make
steps:
  - name: produce
    container:
      command: [sh, -c, 'printf payload > out.txt']
    outputs:
      artifacts:
        - name: data
          path: out.txt
          storage: {local: {path: SIDE/exchange/produce/data}}
"#,
    );
    write(
        d.path(),
        "use.yaml",
        r#"
apiVersion: couler.dev/v1alpha1
kind: Workflow
name: use
steps:
  - name: consume
    container:
      command: [sh, -c, 'cat in.txt']
    inputs:
      artifacts:
        - name: data
          path: in.txt
          storage: {local: {path: SIDE/exchange/produce/data}}
"#,
    );
    let parent = write(
        d.path(),
        "parent.yaml",
        r#"
apiVersion: couler.dev/v1alpha1
kind: Workflow
name: parent
steps:
  - name: part-1
    workflow: {ref: make.yaml}
  - name: part-2
    dependsOn: [part-1]
    workflow: {ref: use.yaml}
"#,
    );
    let r = run_file(d.path(), &parent).await;
    assert_eq!(r.status, RunStatus::Succeeded, "{:?}", r.steps);
    let written = std::fs::read_to_string(d.path().join("exchange/produce/data")).unwrap();
    assert_eq!(written, "payload");
    let steps = child_steps(d.path(), &r, "part-2");
    let said = child(&steps, "consume")
        .outputs
        .as_ref()
        .and_then(|o| o.result.clone());
    assert_eq!(said.as_deref(), Some("payload"));
    // A cached producer writes its storage again (a fresh exchange directory).
    std::fs::remove_dir_all(d.path().join("exchange")).unwrap();
    let r = run_file(d.path(), &parent).await;
    assert_eq!(r.status, RunStatus::Succeeded, "{:?}", r.steps);
    let steps = child_steps(d.path(), &r, "part-1");
    assert_eq!(child(&steps, "produce").status, "Cached");
    assert!(d.path().join("exchange/produce/data").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn stopping_the_parent_stops_the_child() {
    let d = tmp();
    write(
        d.path(),
        "child.yaml",
        "apiVersion: couler.dev/v1alpha1\nkind: Workflow\nname: child\nsteps:\n  - name: slow\n    container: {command: [sh, -c, 'touch SIDE/started; sleep 30']}\n",
    );
    let parent = write(
        d.path(),
        "parent.yaml",
        "apiVersion: couler.dev/v1alpha1\nkind: Workflow\nname: parent\nsteps:\n  - name: inner\n    workflow: {ref: child.yaml}\n",
    );
    let wf = load_file(&parent);
    let (tx, rx) = tokio::sync::watch::channel(false);
    let mut o = opts(&d.path().join("state"));
    o.stop = rx;
    o.spec_dir = Some(d.path().to_path_buf());
    let started = std::time::Instant::now();
    let started_file = d.path().join("started");
    let stopper = tokio::spawn(async move {
        // Stop once the child's step runs (not before: then it would be Omitted, not stopped).
        for _ in 0..1000 {
            if started_file.exists() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        let _ = tx.send(true);
        tx
    });
    let r = couler_run::run(&wf, o)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    drop(stopper.await);
    assert_eq!(r.status, RunStatus::Stopped);
    assert!(
        started.elapsed().as_secs() < 20,
        "the child's step kept running"
    );
    let steps = child_steps(d.path(), &r, "inner");
    assert_eq!(child(&steps, "slow").status, "Error");
    assert_eq!(status(&r, "inner"), "Error");
}

/// A child's own `timeout` bounds its nested run: the child fails at its deadline (its exit
/// handler still runs), the sub-workflow step fails, and the parent goes on as after any failed
/// step.
#[tokio::test(flavor = "multi_thread")]
async fn a_childs_timeout_stops_the_nested_run_and_fails_the_step() {
    let d = tmp();
    write(
        d.path(),
        "child.yaml",
        r#"
apiVersion: couler.dev/v1alpha1
kind: Workflow
name: child
timeout: 1s
steps:
  - name: slow
    container: {command: [sleep, "60"]}
onExit:
  name: tidy
  container: {command: [echo, "{{workflow.status}}"]}
"#,
    );
    let parent = write(d.path(), "parent.yaml", INNER_THEN_AFTER);
    let started = std::time::Instant::now();
    let r = run_file(d.path(), &parent).await;
    assert!(started.elapsed() < std::time::Duration::from_secs(40));
    assert_eq!(r.status, RunStatus::Failed, "{:?}", r.message);
    assert_ne!(status(&r, "inner"), "Succeeded");
    assert!(
        message(&r, "inner").contains("timeout of 1s passed"),
        "{}",
        message(&r, "inner")
    );
    assert_eq!(status(&r, "after"), "Omitted");
    let steps = child_steps(d.path(), &r, "inner");
    assert_eq!(child(&steps, "tidy").status, "Succeeded");
}
