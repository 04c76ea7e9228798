//! Automatic retry (docs/server.md, "Automatic retry"): whether a run that ended Failed or
//! Error is resumed, and after how long. Each failed step's status and message are classified
//! by `retry::classify_step`; the run is retried when some failed step matched a retryable
//! pattern and none matched a user error (a failure no pattern knows does not block it), under
//! the pattern's and the configuration's attempt limits.

use crate::config::RetryConfig;
use crate::retry::{self, Pattern};
use couler_run::state::StepRecord;
use std::time::Duration;

/// A retry decided: which step's failure, the pattern it matched, the wait.
#[derive(Debug)]
pub struct Decision {
    pub node: String,
    pub pattern: &'static Pattern,
    pub delay: Duration,
}

/// The retry of a run whose steps ended as `steps` (the run's own `message` standing for a
/// failure no step recorded), as retry number `attempt` (1 for the first); `None`: it stays
/// ended. `rng` yields uniform numbers in [0, 1) for the jitter.
pub fn decide(
    steps: &[StepRecord],
    run_status: &str,
    message: Option<&str>,
    attempt: u32,
    limits: &RetryConfig,
    rng: &mut dyn FnMut() -> f64,
) -> Option<Decision> {
    if !limits.enabled || attempt > limits.max_attempts {
        return None;
    }
    let mut failures: Vec<(String, &str, &str)> = steps
        .iter()
        .filter(|s| s.status == "Failed" || s.status == "Error")
        .map(|s| {
            let message = s.message.as_deref().unwrap_or("");
            (s.node.clone(), s.status.as_str(), message)
        })
        .collect();
    if failures.is_empty() {
        failures.push(("(run)".to_string(), run_status, message.unwrap_or("")));
    }
    let mut chosen: Option<(String, &'static Pattern)> = None;
    for (node, status, message) in failures {
        match retry::classify_step(status, message) {
            Some(p) if !p.retryable() => return None,
            Some(p) if chosen.is_none() => chosen = Some((node, p)),
            _ => {}
        }
    }
    let (node, pattern) = chosen?;
    let delay = retry::backoff(pattern, attempt, rng)?;
    Some(Decision {
        node,
        pattern,
        delay,
    })
}

/// A uniform number in [0, 1) from /dev/urandom (0 if it cannot be read: no wait).
pub fn uniform() -> f64 {
    crate::auth::random_hex(8)
        .ok()
        .and_then(|h| u64::from_str_radix(&h, 16).ok())
        .map_or(0.0, |n| (n >> 11) as f64 / (1u64 << 53) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(node: &str, status: &str, message: &str) -> StepRecord {
        StepRecord {
            node: node.into(),
            step: node.into(),
            status: status.into(),
            attempts: 1,
            exit_code: Some(1),
            started_at: Some(1.0),
            finished_at: Some(2.0),
            peak_rss_kb: None,
            cpu_seconds: None,
            cache_key: None,
            outputs: None,
            log_dir: None,
            message: Some(message.into()),
        }
    }

    const ETCD: &str = "exited with code 1: etcdserver: request timed out";

    #[test]
    fn a_system_error_is_retried_within_its_backoff_and_a_user_error_never() {
        let limits = RetryConfig::default();
        let steps = [step("a", "Succeeded", ""), step("b", "Failed", ETCD)];
        let d = decide(&steps, "Failed", None, 1, &limits, &mut || 0.5)
            .unwrap_or_else(|| panic!("not retried"));
        assert_eq!(
            (d.node.as_str(), d.pattern.name),
            ("b", "etcd-request-timeout")
        );
        assert_eq!(d.delay, Duration::from_millis(500));
        let user = [
            step("b", "Failed", ETCD),
            step("c", "Failed", "exited with code 3: bad"),
        ];
        assert!(decide(&user, "Failed", None, 1, &limits, &mut || 0.5).is_none());
        let unknown = [step("b", "Failed", "exited with code 3: bad")];
        assert!(decide(&unknown, "Failed", None, 1, &limits, &mut || 0.5).is_none());
    }

    #[test]
    fn attempts_stop_at_the_configured_limit_or_when_disabled() {
        let steps = [step("b", "Failed", ETCD)];
        let two = RetryConfig {
            enabled: true,
            max_attempts: 2,
        };
        assert!(decide(&steps, "Failed", None, 2, &two, &mut || 0.0).is_some());
        assert!(decide(&steps, "Failed", None, 3, &two, &mut || 0.0).is_none());
        let off = RetryConfig {
            enabled: false,
            ..two
        };
        assert!(decide(&steps, "Failed", None, 1, &off, &mut || 0.0).is_none());
        let run_level = decide(
            &[],
            "Error",
            Some("cannot start `x`: Resource temporarily unavailable"),
            1,
            &RetryConfig::default(),
            &mut || 0.0,
        );
        assert_eq!(run_level.map(|d| d.pattern.name), Some("local-runtime"));
        let u = uniform();
        assert!((0.0..1.0).contains(&u), "{u}");
    }
}
