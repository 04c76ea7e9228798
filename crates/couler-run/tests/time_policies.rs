//! Policies measured in wall-clock time: a cache entry's `maxAge`, and a timed `suspend`.

mod common;

use common::*;
use couler_run::RunStatus;
use std::time::{Duration, Instant};

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cache_entry_older_than_max_age_is_not_reused() {
    let d = tmp();
    let side = d.path().join("ran");
    let wf = load(&format!(
        r#"
apiVersion: couler.dev/v1alpha1
kind: Workflow
name: aging
steps:
  - name: stamp
    container:
      command: [sh, -c, 'echo x >> {}; echo fixed']
    cache: {{maxAge: 2s}}
"#,
        side.display()
    ));
    let state = d.path().join("state");
    let runs = || {
        std::fs::read_to_string(&side)
            .unwrap_or_default()
            .lines()
            .count()
    };
    let first = Instant::now();
    assert_eq!(run(&wf, &state).await.status, RunStatus::Succeeded);
    assert_eq!(runs(), 1);

    let again = run(&wf, &state).await;
    // The entry is fresh only while less than maxAge has passed since the first run finished;
    // on a very slow machine the second run may already be past it, which this test allows.
    if first.elapsed() < Duration::from_millis(1500) {
        assert_eq!(status(&again, "stamp"), "Cached");
        assert_eq!(runs(), 1, "a fresh entry is reused");
    }

    tokio::time::sleep(Duration::from_millis(2200)).await;
    let late = run(&wf, &state).await;
    assert_eq!(
        status(&late, "stamp"),
        "Succeeded",
        "an entry past maxAge is ignored"
    );
    assert_eq!(stdout(&late, "stamp").trim(), "fixed");
    assert!(runs() >= 2);

    // The re-run refreshed the entry: reused again right away.
    let refreshed = run(&wf, &state).await;
    assert_eq!(status(&refreshed, "stamp"), "Cached");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_timed_suspend_waits_then_lets_dependents_run() {
    let d = tmp();
    let wf = load(
        r#"
apiVersion: couler.dev/v1alpha1
kind: Workflow
name: pause
steps:
  - name: before
    container:
      command: [sh, -c, 'date +%s%N']
  - name: wait
    dependsOn: [before]
    suspend: {duration: 1s}
  - name: after
    dependsOn: [wait]
    container:
      # Not the same command as `before`: identical definitions share one cache entry.
      command: [sh, -c, 'date +%s%N; true']
"#,
    );
    let r = run(&wf, &d.path().join("state")).await;
    assert_eq!(r.status, RunStatus::Succeeded);
    assert_eq!(status(&r, "wait"), "Succeeded");
    let nanos = |node: &str| -> u128 {
        stdout(&r, node)
            .trim()
            .parse()
            .unwrap_or_else(|e| panic!("{node} printed no time: {e}"))
    };
    let gap = Duration::from_nanos((nanos("after") - nanos("before")) as u64);
    assert!(
        gap >= Duration::from_secs(1),
        "`after` started {gap:?} after `before`; the suspend must hold it for 1s"
    );
}

/// A workflow `timeout` of 1 s over a step that sleeps 60 s: the step is stopped, the step after
/// it never starts, the run fails naming the deadline, and the exit handler still runs and sees
/// `Failed`.
#[tokio::test(flavor = "multi_thread")]
async fn the_workflow_timeout_stops_the_run_and_the_exit_handler_still_runs() {
    let d = tmp();
    let wf = load(
        r#"
apiVersion: couler.dev/v1alpha1
kind: Workflow
name: deadline
timeout: 1s
steps:
  - name: quick
    container: {command: [echo, done]}
  - name: slow
    container: {command: [sleep, "60"]}
  - name: after
    dependsOn: [slow]
    container: {command: [echo, never]}
onExit:
  - name: report
    container: {command: [echo, "{{workflow.status}}"]}
"#,
    );
    let started = Instant::now();
    let r = run(&wf, &d.path().join("state")).await;
    let took = started.elapsed();
    assert_eq!(r.status, RunStatus::Failed, "{:?}", r.message);
    let message = r.message.clone().unwrap_or_default();
    assert!(message.contains("timeout of 1s passed"), "{message}");
    assert!(
        took < Duration::from_secs(40),
        "the 60 s step was stopped at the deadline, not waited for ({took:?})"
    );
    assert!(took >= Duration::from_secs(1), "not before the deadline");
    assert_eq!(status(&r, "quick"), "Succeeded");
    assert_ne!(status(&r, "slow"), "Succeeded");
    assert_eq!(status(&r, "after"), "Omitted", "no new step starts");
    assert_eq!(status(&r, "report"), "Succeeded");
    assert_eq!(stdout(&r, "report").trim(), "Failed");
}

/// The deadline counts from each start: a run resumed after its deadline gets the whole
/// `timeout` again (as `argo retry` restarts a workflow's clock), so it can finish.
#[tokio::test(flavor = "multi_thread")]
async fn a_resumed_run_counts_the_workflow_timeout_from_the_resume() {
    let d = tmp();
    let fixed = d.path().join("fixed");
    let wf = load(&format!(
        r#"
apiVersion: couler.dev/v1alpha1
kind: Workflow
name: deadline-resume
timeout: 3s
steps:
  - name: slow
    container:
      command: [sh, -c, 'if [ -e {} ]; then echo quick; else sleep 60; fi']
"#,
        fixed.display()
    ));
    let state = d.path().join("state");
    let first = run(&wf, &state).await;
    assert_eq!(first.status, RunStatus::Failed, "{:?}", first.message);
    std::fs::write(&fixed, "").unwrap_or_else(|e| panic!("{e}"));
    let resumed = couler_run::resume(&first.run_id, opts(&state))
        .await
        .unwrap_or_else(|e| panic!("resume: {e}"));
    assert_eq!(
        resumed.status,
        RunStatus::Succeeded,
        "the resume got a fresh deadline: {:?}",
        resumed.message
    );
    assert_eq!(stdout(&resumed, "slow").trim(), "quick");
}

/// The deadline is disarmed once the workflow's steps have ended: passing while the exit
/// handler runs, it neither fails the run nor counts as a stop request, so the user's first
/// stop after it still lets the exit handler finish.
#[tokio::test(flavor = "multi_thread")]
async fn a_deadline_passing_during_the_exit_handler_changes_nothing() {
    let d = tmp();
    let wf = load(
        r#"
apiVersion: couler.dev/v1alpha1
kind: Workflow
name: deadline-exit
timeout: 2s
steps:
  - name: quick
    container: {command: [echo, done]}
onExit:
  name: report
  container: {command: [sh, -c, 'sleep 5; echo reported']}
"#,
    );
    let (tx, rx) = tokio::sync::watch::channel(false);
    let mut o = opts(&d.path().join("state"));
    o.stop = rx;
    let stopper = tokio::spawn(async move {
        // One stop request, after the deadline, while the exit handler sleeps.
        tokio::time::sleep(Duration::from_secs(3)).await;
        let _ = tx.send(true);
        tx
    });
    let r = couler_run::run(&wf, o)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    drop(stopper.await);
    assert_eq!(r.status, RunStatus::Succeeded, "{:?}", r.message);
    assert_eq!(status(&r, "report"), "Succeeded");
    assert_eq!(stdout(&r, "report").trim(), "reported");
}
