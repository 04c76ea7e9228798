//! Request rate limits: a token bucket per authenticated user (`--rate-limit N`: N requests a
//! second on average, bursts up to 2N; 0: no limit). Over it, 429 `too many requests` with a
//! `Retry-After` header, audited like any refusal. Keyed by user, not by address: a team behind
//! one proxy or NAT shares an address, not a budget.

use super::ApiError;
use axum::http::StatusCode;
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

/// The buckets of every user seen (bounded by the users the database knows).
pub struct Limiter {
    per_sec: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

/// A refusal: how long until a request would be let through.
#[derive(Debug)]
pub struct Limited {
    pub user: String,
    pub per_sec: u32,
    pub retry_after_secs: f64,
}

impl Limiter {
    /// `per_sec` requests a second per user, bursts of twice that; `0`: unlimited.
    pub fn new(per_sec: u32) -> Limiter {
        Limiter {
            per_sec: f64::from(per_sec),
            burst: 2.0 * f64::from(per_sec),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one request from `user`'s bucket at `now`.
    pub fn take(&self, user: &str, now: Instant) -> Result<(), Limited> {
        if self.per_sec == 0.0 {
            return Ok(());
        }
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        let b = buckets.entry(user.to_string()).or_insert(Bucket {
            tokens: self.burst,
            at: now,
        });
        let refill = now.saturating_duration_since(b.at).as_secs_f64() * self.per_sec;
        b.tokens = (b.tokens + refill).min(self.burst);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            return Ok(());
        }
        Err(Limited {
            user: user.to_string(),
            per_sec: self.per_sec as u32,
            retry_after_secs: (1.0 - b.tokens) / self.per_sec,
        })
    }
}

impl From<Limited> for ApiError {
    fn from(l: Limited) -> ApiError {
        ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too many requests",
            format!(
                "user `{}` is over {} requests a second (the server's --rate-limit); retry after {:.2} s",
                l.user, l.per_sec, l.retry_after_secs
            ),
        )
    }
}

/// The `Retry-After` header's value: whole seconds, rounded up, at least 1.
pub fn retry_after(l: &Limited) -> String {
    (l.retry_after_secs.ceil() as u64).max(1).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_burst_of_twice_the_rate_passes_then_one_per_refill() {
        let l = Limiter::new(5);
        let t0 = Instant::now();
        for i in 0..10 {
            assert!(l.take("ann", t0).is_ok(), "request {i} of the burst");
        }
        let refused = l.take("ann", t0).expect_err("the 11th at once");
        assert!((refused.retry_after_secs - 0.2).abs() < 1e-9, "{refused:?}");
        assert_eq!(retry_after(&refused), "1");
        // Another user has a bucket of their own.
        assert!(l.take("bob", t0).is_ok());
        // 0.2 s later one more token has come back, and only one.
        let t1 = t0 + Duration::from_millis(200);
        assert!(l.take("ann", t1).is_ok());
        assert!(l.take("ann", t1).is_err());
        // A long pause refills to the burst, no further.
        let t2 = t1 + Duration::from_secs(3600);
        let passed = (0..100).filter(|_| l.take("ann", t2).is_ok()).count();
        assert_eq!(passed, 10);
    }

    #[test]
    fn zero_is_no_limit() {
        let l = Limiter::new(0);
        let t0 = Instant::now();
        assert!((0..10_000).all(|_| l.take("ann", t0).is_ok()));
    }
}
