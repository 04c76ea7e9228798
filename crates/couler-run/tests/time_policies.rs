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
