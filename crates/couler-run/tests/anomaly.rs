//! Anomaly detection and self-healing (docs/history.md) with real processes: a step whose
//! history says it takes about 0.2 s hangs once (a flag file decides); it is flagged, and with
//! `retry.slow` also stopped and retried well before its timeout.

mod common;

use common::*;
use couler_run::{Event, RunReport, RunStatus};
use std::path::Path;
use std::time::Instant;
use tokio::sync::mpsc;

/// A step of about 0.2 s that hangs for 8 s once when `flag` exists (it removes the flag).
fn spec(flag: &Path, retry: &str) -> couler_ir::Workflow {
    load(&format!(
        r#"
apiVersion: couler.dev/v1alpha1
kind: Workflow
name: healing
steps:
  - name: work
    container:
      command: [sh, -c, 'if [ -f {flag} ]; then rm {flag}; sleep 8; fi; sleep 0.2']
    timeout: 30s
{retry}
"#,
        flag = flag.display()
    ))
}

/// Runs `wf` without the cache (every run is a real execution); returns its report, its
/// `slow` anomaly events and how long it took.
async fn run_watched(wf: &couler_ir::Workflow, state: &Path) -> (RunReport, Vec<String>, f64) {
    run_watched_kind(wf, state, couler_run::anomaly::SLOW).await
}

/// [`run_watched`] for anomalies of `kind` (every event is of step `work`).
async fn run_watched_kind(
    wf: &couler_ir::Workflow,
    state: &Path,
    want: &str,
) -> (RunReport, Vec<String>, f64) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut o = opts(state);
    o.use_cache = false;
    o.events = Some(tx);
    let t = Instant::now();
    let report = couler_run::run(wf, o)
        .await
        .unwrap_or_else(|e| panic!("the run failed to execute: {e}"));
    let took = t.elapsed().as_secs_f64();
    let mut flags = Vec::new();
    while let Ok(e) = rx.try_recv() {
        if let Event::Anomaly {
            node,
            kind,
            message,
        } = e
        {
            assert_eq!(node, "work");
            if kind == want {
                flags.push(message);
            }
        }
    }
    (report, flags, took)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hung_step_is_flagged_and_with_retry_slow_restarted_before_its_timeout() {
    let d = tmp();
    let (state, flag) = (d.path().join("state"), d.path().join("hang"));
    let plain = spec(&flag, "");
    let healing = spec(&flag, "    retry: {limit: 2, slow: 4}");

    // History: MIN_SUPPORT runs of about 0.2 s, none flagged (none hung).
    for _ in 0..couler_run::anomaly::MIN_SUPPORT {
        let (r, flags, _) = run_watched(&plain, &state).await;
        assert_eq!((r.status, flags.len()), (RunStatus::Succeeded, 0));
    }

    // With `retry.slow`: flagged, stopped, retried, done long before the 30 s timeout.
    std::fs::write(&flag, "").unwrap_or_else(|e| panic!("{e}"));
    let (r, flags, took) = run_watched(&healing, &state).await;
    let s = step(&r, "work");
    assert_eq!(r.status, RunStatus::Succeeded, "{:?}", s.message);
    assert!(!flags.is_empty(), "flagged");
    assert!(
        flags[0].starts_with("anomaly: step work running "),
        "{flags:?}"
    );
    assert!(s.attempts >= 2, "retried: {} attempts", s.attempts);
    assert!(took < 6.0, "healed well before the hang's 8 s: {took} s");
    assert!(!flag.exists());

    // Without the opt-in: flagged only (k = 3), the step runs its 8 s to the end.
    std::fs::write(&flag, "").unwrap_or_else(|e| panic!("{e}"));
    let (r, flags, took) = run_watched(&plain, &state).await;
    assert_eq!(flags.len(), 1, "{flags:?}");
    let s = step(&r, "work");
    assert_eq!((r.status, s.attempts), (RunStatus::Succeeded, 1));
    assert!(
        took >= 8.0,
        "a flag alone does not stop the step ({took} s)"
    );
    assert_eq!(s.message.as_deref(), Some(flags[0].as_str()));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_memory_peak_far_above_its_history_is_flagged_when_the_attempt_ends() {
    let d = tmp();
    let (state, flag) = (d.path().join("state"), d.path().join("big"));
    // `dd` with a 256 MiB block touches all of it: the step's peak (a waited child, above the
    // test process's own peak: rss.rs). The `sleep` lets the runtime sample the usual peak.
    let wf = load(&format!(
        r#"
apiVersion: couler.dev/v1alpha1
kind: Workflow
name: grows
steps:
  - name: work
    container:
      command: [sh, -c, 'if [ -f {f} ]; then rm {f}; dd if=/dev/zero of=/dev/null bs=256M count=1 2>/dev/null; fi; sleep 0.3']
"#,
        f = flag.display()
    ));
    for _ in 0..couler_run::anomaly::MIN_SUPPORT {
        let (r, flags, _) = run_watched_kind(&wf, &state, couler_run::anomaly::MEMORY).await;
        assert_eq!((r.status, flags.len()), (RunStatus::Succeeded, 0));
    }
    std::fs::write(&flag, "").unwrap_or_else(|e| panic!("{e}"));
    let (r, flags, _) = run_watched_kind(&wf, &state, couler_run::anomaly::MEMORY).await;
    assert_eq!(flags.len(), 1, "{flags:?}");
    assert!(
        flags[0].starts_with("anomaly: step work peaked at "),
        "{flags:?}"
    );
    // Its message is its first flag: this one, unless the loaded machine made it slow too.
    let message = step(&r, "work").message.clone().unwrap_or_default();
    assert!(message.starts_with("anomaly: step work "), "{message}");
}
