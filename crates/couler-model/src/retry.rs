//! When to ask a model again: on 429 and 5xx answers and dropped connections, with exponential
//! backoff, or after the wait a `Retry-After` header asks for.

use std::time::Duration;

/// A retry policy: how many attempts, and the waits between them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retry {
    /// Attempts in all (1: no retry).
    pub attempts: u32,
    /// The wait before the second attempt; each later wait doubles it.
    pub base: Duration,
    /// The longest wait, whatever the backoff or `Retry-After` says.
    pub max_wait: Duration,
}

impl Default for Retry {
    fn default() -> Retry {
        Retry {
            attempts: 5,
            base: Duration::from_millis(500),
            max_wait: Duration::from_secs(60),
        }
    }
}

impl Retry {
    /// Whether an answer with this HTTP status is worth asking again.
    pub fn retryable(status: u16) -> bool {
        status == 429 || (500..600).contains(&status)
    }

    /// The wait after failed attempt `attempt` (from 1): `Retry-After` in seconds when given,
    /// else `base` × 2^(attempt-1); never over `max_wait`.
    pub fn wait(&self, attempt: u32, retry_after: Option<&str>) -> Duration {
        let asked = retry_after
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let backoff = self
            .base
            .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)));
        asked.unwrap_or(backoff).min(self.max_wait)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_retry_after_wins_within_the_cap() {
        let r = Retry {
            attempts: 5,
            base: Duration::from_millis(100),
            max_wait: Duration::from_secs(3),
        };
        assert_eq!(r.wait(1, None), Duration::from_millis(100));
        assert_eq!(r.wait(3, None), Duration::from_millis(400));
        assert_eq!(r.wait(1, Some("2")), Duration::from_secs(2));
        assert_eq!(r.wait(1, Some("120")), Duration::from_secs(3));
        assert_eq!(r.wait(30, None), Duration::from_secs(3));
        // An HTTP-date is not read: the backoff applies.
        assert_eq!(
            r.wait(2, Some("Wed, 21 Oct 2015 07:28:00 GMT")),
            Duration::from_millis(200)
        );
        assert!(Retry::retryable(429) && Retry::retryable(503) && !Retry::retryable(401));
    }
}
