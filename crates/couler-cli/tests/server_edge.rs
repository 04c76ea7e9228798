//! `couler server` at its edge: the per-user rate limit and TLS, over loopback with a real
//! server process.

#[path = "support/server.rs"]
mod support;

use support::{Server, http_head, token};

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn over_the_rate_limit_is_429_with_retry_after_per_user_and_audited() {
    let dir = tempdir();
    let state = dir.path().join("state");
    let ann = token(&state, "ann", "admin", None);
    let bob = token(&state, "bob", "viewer", None);
    let server = Server::start(dir.path(), &["--rate-limit", "2"]);
    // A burst of twice the rate passes; a stop of an unknown run is a mutation, so audited.
    let codes: Vec<u16> = (0..6)
        .map(|_| {
            http_head(
                &server.addr,
                "POST",
                "/api/v1/runs/none/stop",
                Some(&ann),
                None,
            )
            .0
        })
        .collect();
    assert_eq!(&codes[..4], &[404; 4], "{codes:?}");
    assert!(codes[4..].iter().all(|c| *c == 429), "{codes:?}");
    let (code, head, body) = http_head(&server.addr, "GET", "/api/v1/runs", Some(&ann), None);
    assert_eq!(code, 429, "{body}");
    assert!(
        body.contains("user `ann` is over 2 requests a second"),
        "{body}"
    );
    assert!(
        head.to_ascii_lowercase().contains("retry-after: 1"),
        "{head}"
    );
    // Bob has his own budget.
    let (code, _, body) = http_head(&server.addr, "GET", "/api/v1/runs", Some(&bob), None);
    assert_eq!(code, 200, "{body}");
    // After a second, ann may go on; the refused mutations are in the audit log.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let (code, log) = server.call("GET", "/api/v1/audit?limit=10", Some(&ann), None);
    assert_eq!(code, 200, "{log}");
    let statuses: Vec<u64> = log["entries"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["status"].as_u64())
        .collect();
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 2, "{log}");
}
