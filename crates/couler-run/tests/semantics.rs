//! Runtime semantics on small workflows: retries, timeouts, the exit handler, errors, skipping,
//! dynamic maps, memoization, locking.

mod common;

use common::*;
use couler_run::{Error, RunStatus};
use std::path::Path;
use std::time::Instant;

/// A spec whose steps can write to `side` (a directory for side-effect files).
fn spec(side: &Path, body: &str) -> couler_ir::Workflow {
    load(&body.replace("SIDE", &side.to_string_lossy()))
}

#[tokio::test(flavor = "multi_thread")]
async fn retries_until_success_with_backoff() {
    let d = tmp();
    let wf = spec(
        d.path(),
        r#"
apiVersion: couler.dev/v1alpha1
kind: Workflow
name: flaky
steps:
  - name: flaky
    container:
      command: [sh, -c, 'echo x >> SIDE/count; [ $(wc -l < SIDE/count) -ge 3 ]']
    retry:
      limit: 3
      backoff: {duration: 100ms, factor: 2}
"#,
    );
    let r = run(&wf, &d.path().join("state")).await;
    assert_eq!(r.status, RunStatus::Succeeded);
    assert_eq!(step(&r, "flaky").attempts, 3);
    let count = std::fs::read_to_string(d.path().join("count")).unwrap_or_default();
    assert_eq!(count.lines().count(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn retries_give_up_after_the_limit() {
    let d = tmp();
    let wf = spec(
        d.path(),
        r#"
apiVersion: couler.dev/v1alpha1
kind: Workflow
name: broken
steps:
  - name: broken
    container:
      command: [sh, -c, 'echo boom >&2; exit 3']
    retry: {limit: 1}
  - name: after
    dependsOn: [broken]
    container:
      command: ['true']
"#,
    );
    let r = run(&wf, &d.path().join("state")).await;
    assert_eq!(r.status, RunStatus::Failed);
    let s = step(&r, "broken");
    assert_eq!(
        (s.status.as_str(), s.attempts, s.exit_code),
        ("Failed", 2, Some(3))
    );
    assert!(s.message.as_deref().unwrap_or_default().contains("boom"));
    assert_eq!(status(&r, "after"), "Omitted");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_timeout_stops_the_attempt_and_its_children() {
    let d = tmp();
    let wf = spec(
        d.path(),
        r#"
apiVersion: couler.dev/v1alpha1
kind: Workflow
name: slow
steps:
  - name: slow
    container:
      command: [sh, -c, 'sleep 30 & sleep 30; echo late > SIDE/late']
    timeout: 500ms
"#,
    );
    let t = Instant::now();
    let r = run(&wf, &d.path().join("state")).await;
    assert!(t.elapsed().as_secs() < 10, "took {:?}", t.elapsed());
    assert_eq!(r.status, RunStatus::Failed);
    let s = step(&r, "slow");
    assert_eq!(s.status, "Failed");
    assert!(
        s.message
            .as_deref()
            .unwrap_or_default()
            .contains("timed out")
    );
    assert!(!d.path().join("late").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_exit_handler_runs_and_sees_failed() {
    let d = tmp();
    let wf = spec(
        d.path(),
        r#"
apiVersion: couler.dev/v1alpha1
kind: Workflow
name: fails
steps:
  - name: fail
    container:
      command: ['false']
onExit:
  name: cleanup
  container:
    command: [sh, -c, 'echo "{{workflow.status}}" > SIDE/status']
"#,
    );
    let r = run(&wf, &d.path().join("state")).await;
    assert_eq!(r.status, RunStatus::Failed);
    assert_eq!(status(&r, "cleanup"), "Succeeded");
    let seen = std::fs::read_to_string(d.path().join("status")).unwrap_or_default();
    assert_eq!(seen.trim(), "Failed");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_command_is_a_clear_error() {
    let d = tmp();
    let wf = spec(
        d.path(),
        r#"
apiVersion: couler.dev/v1alpha1
kind: Workflow
name: missing
steps:
  - name: nope
    container:
      command: [no-such-command-couler-test, x]
"#,
    );
    let r = run(&wf, &d.path().join("state")).await;
    assert_eq!(r.status, RunStatus::Error);
    let s = step(&r, "nope");
    assert_eq!(s.status, "Error");
    let m = s.message.clone().unwrap_or_default();
    assert!(m.contains("`no-such-command-couler-test` not found"), "{m}");
}

#[tokio::test(flavor = "multi_thread")]
async fn resource_and_job_steps_fail_clearly() {
    let d = tmp();
    let wf = spec(
        d.path(),
        r#"
apiVersion: couler.dev/v1alpha1
kind: Workflow
name: cluster-only
steps:
  - name: job
    job:
      framework: pytorch
      image: trainer:1
      replicas: {master: 1, worker: 2}
      command: [python, train.py]
"#,
    );
    let r = run(&wf, &d.path().join("state")).await;
    assert_eq!(status(&r, "job"), "Error");
    let m = step(&r, "job").message.clone().unwrap_or_default();
    // The local row of the capability matrix says it, as `couler compile --target local` would.
    assert!(
        m.starts_with(
            "local does not support PyTorch distributed jobs (PyTorchJob) (used by step `job`)"
        ) && m.contains("supported by: argo"),
        "{m}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn skips_propagate_through_outputs_but_not_status_or_depends_on() {
    let d = tmp();
    let wf = spec(
        d.path(),
        r#"
apiVersion: couler.dev/v1alpha1
kind: Workflow
name: skipping
steps:
  - name: never
    when: 1 == 2
    container:
      command: [echo, x]
  - name: reader
    container:
      command: [echo, "{{steps.never.outputs.result}}"]
  - name: reader-of-reader
    container:
      command: [echo, "{{steps.reader.outputs.result}}"]
  - name: status-reader
    container:
      command: [echo, "{{steps.never.status}}"]
  - name: after
    dependsOn: [never]
    container:
      command: [echo, ran]
"#,
    );
    let r = run(&wf, &d.path().join("state")).await;
    assert_eq!(r.status, RunStatus::Succeeded);
    assert_eq!(status(&r, "never"), "Skipped");
    assert_eq!(status(&r, "reader"), "Skipped");
    assert_eq!(status(&r, "reader-of-reader"), "Skipped");
    assert_eq!(stdout(&r, "status-reader").trim(), "Skipped");
    assert_eq!(stdout(&r, "after").trim(), "ran");
}

#[tokio::test(flavor = "multi_thread")]
async fn continue_on_failure_lets_the_workflow_go_on() {
    let d = tmp();
    let wf = spec(
        d.path(),
        r#"
apiVersion: couler.dev/v1alpha1
kind: Workflow
name: tolerant
steps:
  - name: optional
    continueOnFailure: true
    container:
      command: ['false']
  - name: after
    dependsOn: [optional]
    container:
      command: [echo, "{{steps.optional.status}}"]
"#,
    );
    let r = run(&wf, &d.path().join("state")).await;
    assert_eq!(r.status, RunStatus::Succeeded);
    assert_eq!(status(&r, "optional"), "Failed");
    assert_eq!(stdout(&r, "after").trim(), "Failed");
}

#[tokio::test(flavor = "multi_thread")]
async fn dynamic_map_over_an_upstream_json_list_aggregates_outputs() {
    let d = tmp();
    let wf = spec(
        d.path(),
        r#"
apiVersion: couler.dev/v1alpha1
kind: Workflow
name: fanout
params:
  - name: factor
    type: int
    default: 10
steps:
  - name: list
    container:
      command: [echo, '[1, 2, 3, {"x": 4}]']
  - name: square
    map:
      from: steps.list.outputs.result
      parallelism: 2
    container:
      command: [echo, "{{item}}:{{params.factor}}"]
  - name: ranged
    map:
      range: {start: 5, stop: 0, step: -2}
    container:
      command: [echo, "{{item}}"]
  - name: join
    container:
      command: [echo, "{{steps.square.outputs.result}} {{steps.ranged.outputs.result}}"]
"#,
    );
    let r = run(&wf, &d.path().join("state")).await;
    assert_eq!(r.status, RunStatus::Succeeded);
    assert_eq!(
        stdout(&r, "join").trim(),
        r#"["1:10","2:10","3:10","{\"x\":4}:10"] ["5","3","1"]"#
    );
}

/// A map without its own `parallelism` makes its instances as earlier ones end: at most 256
/// (the executor's bound on tasks in flight) are started and not ended at any time, not every
/// instance up front (each holds a future, an attempt directory and a `Running` row). Each
/// instance's history record carries its map's size.
#[tokio::test(flavor = "multi_thread")]
async fn a_wide_map_keeps_a_bounded_number_of_instances_in_flight() {
    const N: usize = 600;
    let d = tmp();
    let wf = spec(
        d.path(),
        &format!(
            r#"
apiVersion: couler.dev/v1alpha1
kind: Workflow
name: wide
steps:
  - name: each
    map:
      range: {{stop: {N}}}
    container:
      command: ['true']
"#
        ),
    );
    let state = d.path().join("state");
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut o = opts(&state);
    o.events = Some(tx);
    let r = couler_run::run(&wf, o)
        .await
        .unwrap_or_else(|e| panic!("the run failed to execute: {e}"));
    assert_eq!(r.status, RunStatus::Succeeded);
    let (mut open, mut most, mut ended) = (0i64, 0i64, 0);
    while let Ok(e) = rx.try_recv() {
        match e {
            couler_run::Event::Started { node } if node.starts_with("each[") => open += 1,
            couler_run::Event::Finished { node, .. } if node.starts_with("each[") => {
                open -= 1;
                ended += 1;
            }
            _ => {}
        }
        most = most.max(open);
    }
    assert_eq!(ended, N);
    assert!(
        (1..=256).contains(&most),
        "{most} instances of {N} were in flight at once"
    );
    let history = couler_history::History::open(&state.join(couler_history::store::FILE_NAME))
        .unwrap_or_else(|e| panic!("{e}"));
    let runs = history
        .list(&couler_history::store::Filter::default())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(runs.len(), N);
    assert!(
        runs.iter().all(|x| x.features.map_items == Some(N as u64)),
        "{:?}",
        runs[0].features
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn params_from_the_command_line_are_typed_and_checked() {
    let d = tmp();
    let wf = spec(
        d.path(),
        r#"
apiVersion: couler.dev/v1alpha1
kind: Workflow
name: params
params:
  - name: n
    type: int
  - name: mode
    default: fast
    enum: [fast, slow]
steps:
  - name: show
    container:
      command: [echo, "{{params.n}} {{params.mode}}"]
"#,
    );
    let state = d.path().join("state");
    let mut o = opts(&state);
    o.params = vec![("n".into(), "3".into())];
    let r = couler_run::run(&wf, o)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(stdout(&r, "show").trim(), "3 fast");
    for bad in [
        vec![],
        vec![("n".to_string(), "x".to_string())],
        vec![("n".into(), "1".into()), ("mode".into(), "medium".into())],
        vec![("n".into(), "1".into()), ("nope".into(), "1".into())],
    ] {
        let mut o = opts(&state);
        o.params = bad.clone();
        match couler_run::run(&wf, o).await {
            Err(Error::Invalid(_)) => {}
            other => panic!("{bad:?}: {:?}", other.map(|r| r.status)),
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn memoization_reruns_only_a_changed_step_and_its_dependents() {
    let d = tmp();
    let text = |b_word: &str| {
        format!(
            r#"
apiVersion: couler.dev/v1alpha1
kind: Workflow
name: memo
defaults: {{cache: {{}}}} # asks for memoization: b, c and d declare no outputs
steps:
  - name: a
    container:
      command: [sh, -c, 'echo a >> SIDE/ran; echo a > out.txt']
    outputs:
      artifacts:
        - {{name: out, path: out.txt}}
  - name: b
    container:
      command: [sh, -c, 'echo b >> SIDE/ran; echo {b_word}']
  - name: c
    inputs:
      artifacts:
        - {{name: in, path: in.txt, from: steps.a.outputs.artifacts.out}}
    container:
      command: [sh, -c, 'echo c >> SIDE/ran; cat in.txt']
  - name: d
    container:
      command: [sh, -c, 'echo d >> SIDE/ran; echo "{{{{steps.b.outputs.result}}}}"']
"#
        )
    };
    let state = d.path().join("state");
    let ran = || {
        let mut v: Vec<String> = std::fs::read_to_string(d.path().join("ran"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect();
        v.sort();
        v
    };
    let r1 = run(&spec(d.path(), &text("one")), &state).await;
    assert_eq!(r1.status, RunStatus::Succeeded);
    assert_eq!(ran(), ["a", "b", "c", "d"]);

    let r2 = run(&spec(d.path(), &text("one")), &state).await;
    for s in ["a", "b", "c", "d"] {
        assert_eq!(status(&r2, s), "Cached");
    }
    assert_eq!(ran(), ["a", "b", "c", "d"], "nothing ran again");

    let r3 = run(&spec(d.path(), &text("two")), &state).await;
    assert_eq!(status(&r3, "a"), "Cached");
    assert_eq!(status(&r3, "c"), "Cached");
    assert_eq!(status(&r3, "b"), "Succeeded");
    assert_eq!(status(&r3, "d"), "Succeeded");
    assert_eq!(ran(), ["a", "b", "b", "c", "d", "d"]);
    assert_eq!(stdout(&r3, "d").trim(), "two");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_executor_on_one_state_dir_is_refused() {
    let d = tmp();
    let _held = couler_run::Lock::acquire(d.path()).unwrap_or_else(|e| panic!("{e}"));
    let wf = load(
        "apiVersion: couler.dev/v1alpha1\nkind: Workflow\nname: x\nsteps:\n  - name: a\n    container: {command: ['true']}\n",
    );
    match couler_run::run(&wf, opts(d.path())).await {
        Err(Error::Locked(m)) => assert!(m.contains(&format!("pid {}", std::process::id())), "{m}"),
        other => panic!("{:?}", other.map(|r| r.status)),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn parallelism_bounds_running_steps() {
    let d = tmp();
    // Each step records how many siblings run beside it through a shared directory.
    let wf = spec(
        d.path(),
        r#"
apiVersion: couler.dev/v1alpha1
kind: Workflow
name: wide
parallelism: 2
steps:
  - name: w
    map:
      range: {stop: 6}
    container:
      command: [sh, -c, 'touch SIDE/run.{{item}}; ls SIDE | grep -c "^run\." >> SIDE/seen; sleep 0.2; rm SIDE/run.{{item}}']
"#,
    );
    let r = run(&wf, &d.path().join("state")).await;
    assert_eq!(r.status, RunStatus::Succeeded);
    let seen = std::fs::read_to_string(d.path().join("seen")).unwrap_or_default();
    let max = seen
        .lines()
        .filter_map(|l| l.trim().parse::<u32>().ok())
        .max();
    assert!(max.is_some_and(|m| m <= 2), "{seen}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_input_artifact_is_a_clear_error() {
    let d = tmp();
    let wf = spec(
        d.path(),
        r#"
apiVersion: couler.dev/v1alpha1
kind: Workflow
name: missing-input
steps:
  - name: maker
    container:
      command: ['true']
    outputs:
      artifacts:
        - {name: data, path: data.txt, optional: true}
  - name: user
    inputs:
      artifacts:
        - {name: data, path: data.txt, from: steps.maker.outputs.artifacts.data}
    container:
      command: [cat, data.txt]
"#,
    );
    let r = run(&wf, &d.path().join("state")).await;
    assert_eq!(status(&r, "maker"), "Succeeded");
    assert_eq!(status(&r, "user"), "Error");
    let m = step(&r, "user").message.clone().unwrap_or_default();
    assert!(m.contains("missing input artifact `data`"), "{m}");
}

#[tokio::test(flavor = "multi_thread")]
async fn resume_reruns_only_what_did_not_finish() {
    let d = tmp();
    let wf = spec(
        d.path(),
        r#"
apiVersion: couler.dev/v1alpha1
kind: Workflow
name: resumable
steps:
  - name: a
    container:
      command: [sh, -c, 'echo a >> SIDE/ran; echo data > out.txt']
    outputs:
      artifacts:
        - {name: out, path: out.txt}
  - name: b
    inputs:
      artifacts:
        - {name: in, path: in.txt, from: steps.a.outputs.artifacts.out}
    container:
      command: [sh, -c, 'echo b >> SIDE/ran; test -f SIDE/ok && cat in.txt']
onExit:
  name: report
  container:
    command: [sh, -c, 'echo "{{workflow.status}}" >> SIDE/exit']
"#,
    );
    let state = d.path().join("state");
    let mut o = opts(&state);
    o.use_cache = false;
    let r1 = couler_run::run(&wf, o)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r1.status, RunStatus::Failed);
    std::fs::write(d.path().join("ok"), "").unwrap_or_else(|e| panic!("{e}"));
    let mut o = opts(&state);
    o.use_cache = false;
    let r2 = couler_run::resume(&r1.run_id, o)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r2.status, RunStatus::Succeeded);
    assert_eq!(r2.run_id, r1.run_id);
    let ran = std::fs::read_to_string(d.path().join("ran")).unwrap_or_default();
    assert_eq!(ran.lines().collect::<Vec<_>>(), ["a", "b", "b"]);
    assert_eq!(stdout(&r2, "b").trim(), "data");
    assert_eq!(
        step(&r2, "b").attempts,
        2,
        "attempts number on across resume"
    );
    let exits = std::fs::read_to_string(d.path().join("exit")).unwrap_or_default();
    assert_eq!(exits.lines().collect::<Vec<_>>(), ["Failed", "Succeeded"]);
    // A succeeded run has nothing to resume: it is reported as it is, and nothing runs.
    let again = couler_run::resume(&r1.run_id, opts(&state))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(again.status, RunStatus::Succeeded);
    assert!(
        again
            .message
            .as_deref()
            .unwrap_or_default()
            .contains("nothing was resumed")
    );
    let ran = std::fs::read_to_string(d.path().join("ran")).unwrap_or_default();
    assert_eq!(ran.lines().count(), 3);
}

/// The run keeps a step's outcome only while a reader may need it (ledger.rs): the exit
/// handler still reads the result of a step no other step reads, and of one whose readers all
/// ran long before it; a step after them reads the first one's result. Run through
/// `run_shared`, which holds the caller's workflow and lets it go at the end.
#[tokio::test(flavor = "multi_thread")]
async fn outcomes_reach_every_reader_and_the_exit_handler() {
    let d = tmp();
    let wf = std::sync::Arc::new(spec(
        d.path(),
        r#"
apiVersion: couler.dev/v1alpha1
kind: Workflow
name: readers
steps:
  - name: lonely
    container: {command: [sh, -c, 'echo alone']}
  - name: shared
    container: {command: [sh, -c, 'echo both']}
  - name: reader
    container: {command: [sh, -c, 'echo "got {{steps.shared.outputs.result}}"']}
  - name: later
    dependsOn: [reader, lonely]
    container: {command: [sh, -c, 'echo "then {{steps.reader.outputs.result}}"']}
onExit:
  - name: report
    container:
      command: [sh, -c, 'echo "{{steps.lonely.outputs.result}}/{{steps.shared.outputs.result}}/{{steps.later.outputs.result}}" > SIDE/exit']
"#,
    ));
    let r = couler_run::run_shared(
        std::sync::Arc::clone(&wf),
        opts(&d.path().join("state")),
        None,
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status, RunStatus::Succeeded, "{:?}", r.message);
    let exit = std::fs::read_to_string(d.path().join("exit")).unwrap_or_default();
    assert_eq!(exit, "alone/both/then got both\n");
    assert_eq!(
        std::sync::Arc::strong_count(&wf),
        1,
        "the run let the workflow go"
    );
}
