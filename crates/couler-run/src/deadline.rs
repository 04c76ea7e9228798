//! The workflow's `timeout`: a deadline for the whole run, counted from the moment this run (or
//! this resume of it) starts. When it passes, it acts as the first stop request (`stop.rs`):
//! running steps are stopped as `couler stop` stops them, no new step starts, and the exit
//! handler still runs; the run then ends `Failed` with a message naming the deadline, not
//! `Stopped`. Once the workflow's steps have ended the deadline is disarmed: it never stops the
//! exit handler's steps, nor counts as a stop request while they run.

use crate::state::RunStatus;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use tokio::sync::watch;

/// [`Deadline`]'s states: it may still pass; it passed (before any stop request); disarmed.
const ARMED: u8 = 0;
const PASSED: u8 = 1;
const DISARMED: u8 = 2;

/// Whether a run's deadline passed before any stop request and before its steps ended.
pub(crate) struct Deadline {
    timeout: Option<couler_ir::Duration>,
    state: Arc<AtomicU8>,
}

impl Deadline {
    /// The workflow's steps have ended: from now on the deadline does nothing.
    pub fn disarm(&self) {
        let _ = self
            .state
            .compare_exchange(ARMED, DISARMED, Ordering::SeqCst, Ordering::SeqCst);
    }

    /// The status and message of a run whose steps were stopped: `Failed` when the deadline
    /// stopped them, `Stopped` when a stop request did.
    pub fn stopped_run(&self) -> (RunStatus, String) {
        match self.timeout {
            Some(t) if self.state.load(Ordering::SeqCst) == PASSED => (
                RunStatus::Failed,
                format!(
                    "the workflow's timeout of {t} passed: running steps were stopped and pending ones not started"
                ),
            ),
            _ => (RunStatus::Stopped, "stopped".to_string()),
        }
    }
}

/// The stop signal a run's steps watch: `stop`'s requests, plus one more once `timeout` has
/// passed (from now). Without a timeout it is `stop` itself. The forwarding task ends when the
/// returned receiver (and its clones) are dropped.
pub(crate) fn arm(
    mut stop: watch::Receiver<bool>,
    timeout: Option<couler_ir::Duration>,
) -> (watch::Receiver<bool>, Deadline) {
    let state = Arc::new(AtomicU8::new(ARMED));
    let deadline = Deadline {
        timeout,
        state: Arc::clone(&state),
    };
    let Some(t) = timeout else {
        return (stop, deadline);
    };
    let (tx, rx) = watch::channel(*stop.borrow_and_update());
    tokio::spawn(async move {
        let sleep = tokio::time::sleep(t.as_std());
        tokio::pin!(sleep);
        let (mut requests_open, mut pending) = (true, true);
        loop {
            tokio::select! {
                changed = stop.changed(), if requests_open => match changed {
                    Ok(()) => {
                        if *stop.borrow_and_update() && tx.send(true).is_err() {
                            return;
                        }
                    }
                    Err(_) => requests_open = false,
                },
                () = &mut sleep, if pending => {
                    pending = false;
                    // After a stop request the deadline adds nothing: a second request would
                    // stop the exit handler too. Nor does it once disarmed.
                    let first = !*tx.borrow()
                        && state
                            .compare_exchange(ARMED, PASSED, Ordering::SeqCst, Ordering::SeqCst)
                            .is_ok();
                    if first && tx.send(true).is_err() {
                        return;
                    }
                }
                () = tx.closed() => return,
            }
        }
    });
    (rx, deadline)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn ms(n: u64) -> Option<couler_ir::Duration> {
        Some(couler_ir::Duration::from_millis(n))
    }

    #[tokio::test]
    async fn the_deadline_is_a_stop_request_that_fails_the_run() {
        let (_tx, rx) = watch::channel(false);
        let (mut armed, deadline) = arm(rx, ms(50));
        assert!(!*armed.borrow_and_update());
        assert_eq!(deadline.stopped_run().0, RunStatus::Stopped);
        tokio::time::timeout(Duration::from_secs(10), armed.changed())
            .await
            .unwrap_or_else(|e| panic!("the deadline never fired: {e}"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(*armed.borrow());
        let (status, message) = deadline.stopped_run();
        assert_eq!(status, RunStatus::Failed);
        assert!(message.contains("timeout of 50ms passed"), "{message}");
    }

    #[tokio::test]
    async fn a_disarmed_deadline_never_fires() {
        let (_tx, rx) = watch::channel(false);
        let (armed, deadline) = arm(rx, ms(50));
        deadline.disarm();
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!armed.has_changed().unwrap_or(true) && !*armed.borrow());
        assert_eq!(deadline.stopped_run().0, RunStatus::Stopped);
    }

    #[tokio::test]
    async fn a_stop_before_the_deadline_stays_a_stop_and_later_requests_pass_through() {
        let (tx, rx) = watch::channel(false);
        let (mut armed, deadline) = arm(rx, ms(100));
        tx.send(true).unwrap_or_else(|e| panic!("{e}"));
        tokio::time::timeout(Duration::from_secs(10), armed.changed())
            .await
            .unwrap_or_else(|e| panic!("the stop never arrived: {e}"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(*armed.borrow_and_update());
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(
            deadline.stopped_run(),
            (RunStatus::Stopped, "stopped".to_string())
        );
        assert!(
            !armed.has_changed().unwrap_or(true),
            "the deadline after a stop is not a second request"
        );
        // A second request still reaches the run (it stops the exit handler).
        tx.send(true).unwrap_or_else(|e| panic!("{e}"));
        tokio::time::timeout(Duration::from_secs(10), armed.changed())
            .await
            .unwrap_or_else(|e| panic!("the second request never arrived: {e}"))
            .unwrap_or_else(|e| panic!("{e}"));
    }
}
