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

/// A self-signed certificate for 127.0.0.1 made by the machine's `openssl`: (cert, key).
fn self_signed(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let out = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ])
        .args(["-nodes", "-days", "1", "-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap_or_else(|e| panic!("openssl (Debian package `openssl`) is needed: {e}"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (cert, key)
}

#[test]
fn tls_serves_https_and_plain_http_beyond_loopback_is_refused() {
    let dir = tempdir();
    let (cert, key) = self_signed(dir.path());
    let (c, k) = (cert.display().to_string(), key.display().to_string());
    let server = Server::start(
        dir.path(),
        &["--auth", "none", "--tls-cert", &c, "--tls-key", &k],
    );
    // curl, trusting only this certificate, gets an answer over HTTPS.
    let out = std::process::Command::new("curl")
        .args(["--silent", "--show-error", "--cacert", &c])
        .arg(format!("https://{}/healthz", server.addr))
        .output()
        .unwrap_or_else(|e| panic!("curl (Debian package `curl`) is needed: {e}"));
    let body = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(body.contains("\"ok\""), "{body}");
    // Plain HTTP to the TLS port gets no HTTP answer, and the server goes on serving.
    let mut s = std::net::TcpStream::connect(&server.addr).unwrap_or_else(|e| panic!("{e}"));
    use std::io::{Read, Write};
    let _ = s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let mut got = Vec::new();
    let _ = s.read_to_end(&mut got);
    assert!(
        !got.starts_with(b"HTTP/1.1 200"),
        "{:?}",
        String::from_utf8_lossy(&got)
    );
    let again = std::process::Command::new("curl")
        .args(["--silent", "--cacert", &c])
        .arg(format!("https://{}/healthz", server.addr))
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(again.status.success());

    let refused = |args: &[&str]| -> String {
        let out = std::process::Command::new(support::couler())
            .arg("server")
            .args(args)
            .arg("--state-dir")
            .arg(dir.path().join("other"))
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(!out.status.success(), "{args:?} was not refused");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let plain = refused(&["--listen", "0.0.0.0:0"]);
    assert!(plain.contains("--tls-cert FILE --tls-key FILE"), "{plain}");
    let bad_key = refused(&["--tls-cert", &c, "--tls-key", &c]);
    assert!(bad_key.contains("--tls-key"), "{bad_key}");
    let bad_cert = refused(&["--tls-cert", &k, "--tls-key", &k]);
    assert!(bad_cert.contains("--tls-cert"), "{bad_cert}");
}
