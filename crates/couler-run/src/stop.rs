//! Stop requests: each one is a `send(true)` on the run's stop channel
//! ([`crate::RunOptions::stop`]): Ctrl-C, or the SIGTERM `couler stop RUN` sends.
//!
//! The first request stops the workflow's steps (SIGTERM, SIGKILL after a grace) and omits the
//! pending ones; the exit handler then runs, since it is how users clean up. The second request
//! stops the exit handler too: [`exit_handler_signal`] turns true on it.

use tokio::sync::watch;

/// A stop signal for the exit handler: it turns true at the second stop request on `requests`
/// (counting one already made when this is called). Call it when the run starts, so that the
/// first request is counted as it arrives. The counting task ends when the returned receiver
/// (and its clones) are dropped, or when the sender of `requests` is.
pub(crate) fn exit_handler_signal(mut requests: watch::Receiver<bool>) -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        let mut seen = u32::from(*requests.borrow_and_update());
        while seen < 2 {
            tokio::select! {
                changed = requests.changed() => {
                    if changed.is_err() {
                        return;
                    }
                }
                () = tx.closed() => return,
            }
            if *requests.borrow_and_update() {
                seen += 1;
            }
        }
        let _ = tx.send(true);
    });
    rx
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    async fn settle() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    #[tokio::test]
    async fn the_second_request_stops_the_exit_handler_and_the_first_does_not() {
        let (tx, rx) = watch::channel(false);
        let exit = exit_handler_signal(rx);
        settle().await;
        tx.send(true).unwrap_or_else(|e| panic!("{e}"));
        settle().await;
        assert!(
            !*exit.borrow(),
            "the first request leaves the exit handler running"
        );
        tx.send(true).unwrap_or_else(|e| panic!("{e}"));
        settle().await;
        assert!(*exit.borrow(), "the second request stops it");
    }

    #[tokio::test]
    async fn a_run_started_after_a_stop_counts_it() {
        let (tx, rx) = watch::channel(false);
        tx.send(true).unwrap_or_else(|e| panic!("{e}"));
        let exit = exit_handler_signal(rx);
        settle().await;
        assert!(!*exit.borrow());
        tx.send(true).unwrap_or_else(|e| panic!("{e}"));
        settle().await;
        assert!(*exit.borrow());
    }
}
