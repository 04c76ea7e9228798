//! `couler server` at its edge: the per-user rate limit and TLS, over loopback with a real
//! server process; on SQLite and on PostgreSQL.

#[path = "support/postgres.rs"]
mod pg;
#[macro_use]
#[path = "support/server.rs"]
mod support;

both!(over_the_rate_limit_is_429_with_retry_after_per_user_and_audited);

use support::{Server, http_head, token};

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"))
}

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

#[test]
fn steps_see_their_secrets_from_the_secrets_dir_and_nothing_of_the_servers_environment() {
    let dir = tempdir();
    let secrets = dir.path().join("secrets");
    std::fs::create_dir_all(secrets.join("team-a/db")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(secrets.join("team-a/db/password"), "s3cr3t").unwrap_or_else(|e| panic!("{e}"));
    let spec = r#"apiVersion: couler.dev/v1alpha1
kind: Workflow
name: secretive
steps:
- name: show
  container:
    command: [sh, -c, 'v=$(printf %s "$PASS" | sha256sum | cut -c1-16); printf "%s|%s" "$v" "${COULER_SERVER_CANARY:-unset}" > said']
  secrets:
  - env: PASS
    secret: db
    key: password
  outputs:
    parameters:
    - name: said
      path: said
"#;
    let s = secrets.display().to_string();
    let server = Server::start_with_env(
        dir.path(),
        &["--auth", "none", "--secrets-dir", &s],
        &[("COULER_SERVER_CANARY", "the server's own")],
    );
    let submit = |ns: &str| -> String {
        let (code, resp) = server.submit(None, &serde_json::json!({"spec": spec, "namespace": ns}));
        assert_eq!(code, 201, "{resp}");
        resp["id"].as_str().unwrap_or_default().to_string()
    };
    let ok = submit("team-a");
    let run = server.wait_for(None, &ok, &["Succeeded", "Failed", "Error"]);
    assert_eq!(run["state"], "Succeeded", "{run}");
    assert_eq!(
        run["steps"][0]["outputs"]["parameters"]["said"],
        // `printf %s s3cr3t | sha256sum | cut -c1-16`: the step saw the value.
        "4e738ca5563c06cf|unset",
        "{run}"
    );
    // Another namespace has no such secret: the step errs naming the file to create.
    let other = submit("team-b");
    let run = server.wait_for(None, &other, &["Succeeded", "Failed", "Error"]);
    assert_ne!(run["state"], "Succeeded", "{run}");
    let message = run["steps"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("team-b/db/password"), "{run}");
    // The value is in no state the server keeps.
    for entry in walk(&server.state_dir) {
        if entry.is_file() && !entry.starts_with(server.state_dir.join("runs")) {
            let bytes = std::fs::read(&entry).unwrap_or_default();
            assert!(
                !bytes.windows(6).any(|w| w == b"s3cr3t"),
                "{} holds the secret",
                entry.display()
            );
        }
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
