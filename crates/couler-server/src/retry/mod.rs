//! Automatic retry of system errors (issue #22 item 6; docs/server.md, "Automatic retry").
//!
//! A failed step's reason and message are matched against [`PATTERNS`], a table of known
//! failures of the machinery under a run (Kubernetes API, etcd, scheduling, nodes, image pulls,
//! network, storage, container runtime, the local runtime): [`classify`] names the first
//! pattern that matches, [`backoff`] says how long to wait before the next attempt (exponential
//! with full jitter) or that there is none. User errors (the program's own non-zero exit,
//! OOMKilled, an invalid spec, an image that does not exist) are in the table too, with the
//! policy [`Policy::Never`], so that a system-looking line in a user program's standard error
//! is never retried.

mod patterns;
mod table;

pub use patterns::PATTERNS;
pub use table::markdown_table;

use std::time::Duration;

/// One known failure: where it comes from, how it is recognised, what to do about it.
#[derive(Debug)]
pub struct Pattern {
    /// A stable name (metrics label, attempt records).
    pub name: &'static str,
    /// The component whose failure this is.
    pub source: &'static str,
    /// Any one of these matches (case-insensitive).
    pub matches: &'static [Needle],
    pub policy: Policy,
    /// Why this policy.
    pub why: &'static str,
}

/// A test on a failure, case-insensitive; needles are written in lower case.
#[derive(Debug, Clone, Copy)]
pub enum Needle {
    /// The failure's reason is exactly this (Kubernetes' `reason` field, the step status).
    Reason(&'static str),
    /// The reason or the message contains this.
    Contains(&'static str),
    /// The message starts with this.
    StartsWith(&'static str),
}

/// What to do when a pattern matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Retry after [`backoff`], up to `max_attempts` retries.
    Retry {
        base: Duration,
        cap: Duration,
        max_attempts: u32,
    },
    /// A user error: retrying runs the same failure again.
    Never,
}

impl Needle {
    fn matches(self, reason: &str, message: &str) -> bool {
        match self {
            Needle::Reason(r) => reason == r,
            Needle::Contains(s) => reason.contains(s) || message.contains(s),
            Needle::StartsWith(s) => message.starts_with(s),
        }
    }
}

impl Pattern {
    /// Whether any needle matches `reason` and `message` (both already in lower case).
    fn matches_lower(&self, reason: &str, message: &str) -> bool {
        self.matches.iter().any(|n| n.matches(reason, message))
    }

    /// Whether any needle matches this failure (case-insensitive).
    pub fn matches(&self, reason: &str, message: &str) -> bool {
        self.matches_lower(&reason.to_lowercase(), &message.to_lowercase())
    }

    /// Whether this pattern is retried at all.
    pub fn retryable(&self) -> bool {
        matches!(self.policy, Policy::Retry { .. })
    }
}

/// The first pattern in [`PATTERNS`] that matches a failure's `reason` (e.g. `Evicted`,
/// `Error`) and `message`; `None` when no pattern is known (not retried).
pub fn classify(reason: &str, message: &str) -> Option<&'static Pattern> {
    let (reason, message) = (reason.to_lowercase(), message.to_lowercase());
    PATTERNS.iter().find(|p| p.matches_lower(&reason, &message))
}

/// Control-plane errors that a step talking to the cluster's API (kubectl, a job submitter, an
/// operator's client) reports on its standard error before exiting non-zero: there the exit is
/// the control plane's failure, not the program's, so [`classify_step`] looks past `user-exit`
/// for these. Network and disk errors a program meets stay its own (`user-exit`).
pub const REPORTED_BY_STEPS: &[&str] = &[
    "k8s-too-many-requests",
    "k8s-server-timeout",
    "k8s-server-error",
    "etcd-request-timeout",
    "etcd-leader-changed",
    "etcd-space-exceeded",
    "quota-exceeded",
];

/// A failed step's pattern, as the server's automatic retry reads it: [`classify`], except that
/// a program's non-zero exit whose standard error (the message's tail after `exited with code
/// N: `, as the local runtime writes it) names one of [`REPORTED_BY_STEPS`] is that pattern.
pub fn classify_step(status: &str, message: &str) -> Option<&'static Pattern> {
    let first = classify(status, message)?;
    if first.name != "user-exit" {
        return Some(first);
    }
    let reported = message
        .split_once(": ")
        .and_then(|(_, tail)| classify("", tail))
        .filter(|p| REPORTED_BY_STEPS.contains(&p.name));
    Some(reported.unwrap_or(first))
}

/// The wait before retry number `attempt` (1 for the first retry) of a failure that matched
/// `pattern`: exponential backoff with full jitter, `uniform(0, min(cap, base * 2^(attempt-1)))`,
/// where `rng` yields a uniform number in `[0, 1)` (clamped there). `None` when the pattern is
/// never retried or its attempts are used up.
pub fn backoff(pattern: &Pattern, attempt: u32, rng: &mut dyn FnMut() -> f64) -> Option<Duration> {
    let Policy::Retry {
        base,
        cap,
        max_attempts,
    } = pattern.policy
    else {
        return None;
    };
    if attempt == 0 || attempt > max_attempts {
        return None;
    }
    let ceiling = base
        .checked_mul(1u32.checked_shl(attempt - 1).unwrap_or(u32::MAX))
        .map_or(cap, |d| d.min(cap));
    let u = rng();
    let u = if u.is_finite() {
        u.clamp(0.0, 1.0)
    } else {
        0.0
    };
    Some(ceiling.mul_f64(u).min(ceiling))
}

#[cfg(test)]
mod tests;
