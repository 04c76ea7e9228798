//! The CLI against a real `couler server` process on loopback: `couler submit|runs|status|
//! logs|stop|resume --server URL` behave as the same commands on a state directory (columns,
//! `--output json` keys, exit codes), and a missing token, a viewer's submission and an
//! unreachable server each get their message.

#[path = "support/server.rs"]
mod support;

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use support::{ECHO, Server, couler, token, wait_file};

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"))
}

/// `couler ARGS` with `env` and no `COULER_SERVER`/`COULER_TOKEN` from the test's own
/// environment.
fn cli(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(couler());
    cmd.args(args)
        .env_remove("COULER_SERVER")
        .env_remove("COULER_TOKEN")
        .env_remove("COULER_STATE_DIR");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output()
        .unwrap_or_else(|e| panic!("couler {args:?}: {e}"))
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn show(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        text(&o.stdout),
        text(&o.stderr)
    )
}

fn json_of(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", show(o)))
}

/// Writes `spec` to DIR/NAME.yaml.
fn spec_file(dir: &Path, name: &str, spec: &str) -> PathBuf {
    let p = dir.join(format!("{name}.yaml"));
    std::fs::write(&p, spec).unwrap_or_else(|e| panic!("{e}"));
    p
}

fn url(server: &Server) -> String {
    format!("http://{}", server.addr)
}

/// A server in single-user mode (`--auth none`) under `dir`, and its URL.
fn single_user(dir: &Path) -> (Server, String) {
    let server = Server::start(dir, &["--auth", "none"]);
    let u = url(&server);
    (server, u)
}

const FAILING: &str = r#"apiVersion: couler.dev/v1alpha1
kind: Workflow
name: failing
steps:
- name: boom
  script:
    command: [sh]
    source: exit 3
"#;

/// `couler submit FILE --server URL ARGS`: its output, and the id on its last line.
fn submit(server: &Server, file: &Path, args: &[&str]) -> (Output, String) {
    let file = file.to_string_lossy();
    let url = url(server);
    let mut all = vec!["submit", file.as_ref(), "--server", url.as_str()];
    all.extend_from_slice(args);
    let out = cli(&all, &[]);
    let id = text(&out.stdout)
        .lines()
        .last()
        .unwrap_or_default()
        .to_string();
    (out, id)
}

#[test]
fn submit_prints_the_run_id_and_watch_exits_0_on_success_1_on_failure() {
    let dir = tempdir();
    let (server, _) = single_user(dir.path());
    let echo = spec_file(dir.path(), "echo", ECHO);
    let (out, id) = submit(&server, &echo, &["--param", "msg=a b;$(x)"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(id.starts_with("echo-"), "{}", show(&out));
    let run = server.wait_for(None, &id, &["Succeeded", "Failed", "Error"]);
    assert_eq!(run["state"], "Succeeded", "{run}");
    assert_eq!(run["namespace"], "default", "{run}");
    assert_eq!(
        run["steps"][0]["outputs"]["parameters"]["said"], "a b;$(x)",
        "{run}"
    );

    let (out, last) = submit(&server, &echo, &["--watch", "-n", "team-a"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let id = text(&out.stdout)
        .lines()
        .next()
        .unwrap_or_default()
        .to_string();
    assert!(id.starts_with("echo-"), "the id first: {}", show(&out));
    assert!(
        last.starts_with(&format!("run {id} Succeeded in ")),
        "{}",
        show(&out)
    );
    assert!(
        last.ends_with(&format!("(server: {})", url(&server))),
        "{}",
        show(&out)
    );
    assert!(text(&out.stderr).contains("team-a"), "{}", show(&out));

    let failing = spec_file(dir.path(), "failing", FAILING);
    let (out, _) = submit(&server, &failing, &["--watch", "--poll-interval", "0.05"]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("failing-"), "{stdout}");
    assert!(
        stdout.contains("boom") && stdout.contains("Failed"),
        "{stdout}"
    );
    assert!(
        stdout.contains("resume it with: couler resume failing-"),
        "{stdout}"
    );
}

#[test]
fn a_bad_spec_or_param_is_refused_before_or_by_the_server() {
    let dir = tempdir();
    let (server, _) = single_user(dir.path());
    let bad = spec_file(dir.path(), "bad", &ECHO.replace("container:", "contaner:"));
    let (out, _) = submit(&server, &bad, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    // Checked here first, so the diagnostic names the file.
    assert!(text(&out.stderr).contains("bad.yaml:"), "{}", show(&out));
    let echo = spec_file(dir.path(), "echo", ECHO);
    let (out, _) = submit(&server, &echo, &["--param", "nope=1"]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(
        text(&out.stderr).contains("invalid parameters") && text(&out.stderr).contains("nope"),
        "{}",
        show(&out)
    );
    let (code, list) = server.call("GET", "/api/v1/runs", None, None);
    assert_eq!((code, list["runs"].clone()), (200, Value::Array(vec![])));
}

/// The keys of a JSON object.
fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .cloned()
        .collect();
    k.sort();
    k
}

fn assert_has_keys(local: &Value, remote: &Value) {
    let remote_keys = keys(remote);
    for k in keys(local) {
        assert!(
            remote_keys.contains(&k),
            "`{k}` missing from the server's\n{remote}\nlocal:\n{local}"
        );
    }
}

/// node → status of `couler status --output json`'s steps.
fn statuses(status: &Value) -> BTreeMap<String, String> {
    status["steps"]
        .as_array()
        .unwrap_or_else(|| panic!("no steps: {status}"))
        .iter()
        .map(|s| {
            (
                s["node"].as_str().unwrap_or_default().to_string(),
                s["status"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// The lines of `out` up to the first step row: the header of a table.
fn header(out: &Output, lines: usize) -> Vec<String> {
    text(&out.stdout)
        .lines()
        .take(lines)
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

#[test]
fn runs_and_status_against_a_server_have_the_local_columns_and_json_keys() {
    let dir = tempdir();
    let echo = spec_file(dir.path(), "echo", ECHO);
    let local_dir = dir.path().join("local");
    let ld = local_dir.to_string_lossy().to_string();
    let ran = cli(&["run", &echo.to_string_lossy(), "--state-dir", &ld], &[]);
    assert_eq!(ran.status.code(), Some(0), "{}", show(&ran));
    let local_runs = cli(&["runs", "--state-dir", &ld, "-o", "json"], &[]);
    let local_id = json_of(&local_runs)[0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let local_status = cli(
        &["status", &local_id, "--state-dir", &ld, "-o", "json"],
        &[],
    );

    let (server, u) = single_user(dir.path());
    let (out, id) = submit(&server, &echo, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    server.wait_for(None, &id, &["Succeeded"]);
    // COULER_SERVER stands for --server.
    let env = [("COULER_SERVER", u.as_str())];
    let remote_runs = cli(&["runs", "-o", "json"], &env);
    assert_eq!(remote_runs.status.code(), Some(0), "{}", show(&remote_runs));
    let (l, r) = (json_of(&local_runs), json_of(&remote_runs));
    assert_eq!(r.as_array().map(Vec::len), Some(1), "{r}");
    assert_has_keys(&l[0], &r[0]);
    assert_eq!(r[0]["id"], id.as_str());
    assert_eq!(r[0]["status"], "Succeeded", "{r}");
    assert_eq!(r[0]["workflow"], "echo", "{r}");
    assert_eq!(
        r[0]["namespace"], "default",
        "the server's own fields are added: {r}"
    );

    let remote_status = cli(&["status", &id, "-o", "json"], &env);
    assert_eq!(
        remote_status.status.code(),
        Some(0),
        "{}",
        show(&remote_status)
    );
    let (l, r) = (json_of(&local_status), json_of(&remote_status));
    assert_has_keys(&l["run"], &r["run"]);
    assert_eq!(r["run"]["status"], "Succeeded", "{r}");
    assert_has_keys(&l["steps"][0], &r["steps"][0]);
    assert_eq!(statuses(&l), statuses(&r));
    assert_eq!(statuses(&r).len(), 2, "{r}");

    // The text tables: the same header and columns.
    let lt = cli(&["runs", "--state-dir", &ld], &[]);
    let rt = cli(&["runs"], &env);
    assert_eq!(header(&lt, 1), header(&rt, 1));
    let row = text(&rt.stdout)
        .lines()
        .nth(1)
        .unwrap_or_default()
        .to_string();
    assert!(row.starts_with(&id) && row.contains("Succeeded"), "{row}");
    assert!(row.trim_end().ends_with("echo"), "{row}");
    let ls = cli(&["status", &local_id, "--state-dir", &ld], &[]);
    let rs = cli(&["status", &id], &env);
    assert_eq!(header(&ls, 2)[1], header(&rs, 2)[1]);
    assert_eq!(
        header(&rs, 1)[0],
        format!("run {id} (echo): Succeeded"),
        "{}",
        show(&rs)
    );
    let rows: Vec<String> = text(&rs.stdout)
        .lines()
        .skip(2)
        .map(str::to_string)
        .collect();
    assert!(
        rows[0].starts_with("one ") && rows[1].starts_with("two "),
        "{rows:?}"
    );

    // An unknown run: the server's detail, exit 2 as locally.
    let out = cli(&["status", "nope-00000000"], &env);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(
        text(&out.stderr).contains("no run `nope-00000000`"),
        "{}",
        show(&out)
    );
    // An explicit --state-dir wins over COULER_SERVER.
    let local_again = cli(&["runs", "--state-dir", &ld, "-o", "json"], &env);
    assert_eq!(json_of(&local_again), json_of(&local_runs));
    // --server and --state-dir together are refused.
    let out = cli(&["runs", "--server", &u, "--state-dir", &ld], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
}

/// A workflow whose step `wait` prints `before`, waits for `gate`, then prints `after`.
fn gated(gate: &Path, started: &Path) -> String {
    format!(
        r#"apiVersion: couler.dev/v1alpha1
kind: Workflow
name: gated
steps:
- name: wait
  script:
    command: [sh]
    source: |
      echo before
      touch '{started}'
      while [ ! -e '{gate}' ]; do sleep 0.05; done
      echo after
"#,
        started = started.display(),
        gate = gate.display()
    )
}

#[test]
fn stop_stops_a_running_run_and_says_when_there_is_nothing_to_stop() {
    let dir = tempdir();
    let (gate, started) = (dir.path().join("gate"), dir.path().join("started"));
    let (server, u) = single_user(dir.path());
    let file = spec_file(dir.path(), "gated", &gated(&gate, &started));
    let (_, id) = submit(&server, &file, &[]);
    wait_file(&started);
    let out = cli(&["stop", &id, "--server", &u], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(
        text(&out.stdout).contains(&format!("stopping run {id}")),
        "{}",
        show(&out)
    );
    let run = server.wait_for(None, &id, &["Stopped", "Failed", "Succeeded", "Error"]);
    assert_eq!(run["state"], "Stopped", "{run}");
    let out = cli(&["stop", &id, "--server", &u, "-o", "json"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let v = json_of(&out);
    assert_eq!(
        (
            v["runId"].as_str(),
            v["status"].as_str(),
            v["signalled"].as_bool()
        ),
        (Some(id.as_str()), Some("Stopped"), Some(false)),
        "{v}"
    );
    let out = cli(&["stop", &id, "--server", &u], &[]);
    assert!(
        text(&out.stdout).contains("is not running (status Stopped); nothing to stop"),
        "{}",
        show(&out)
    );
}

#[test]
fn a_missing_token_a_viewers_submission_and_an_unreachable_server_get_their_messages() {
    let dir = tempdir();
    let server = Server::start(dir.path(), &[]);
    let viewer = token(&server.state_dir, "vic", "viewer", None);
    let u = url(&server);
    let echo = spec_file(dir.path(), "echo", ECHO);
    let e = echo.to_string_lossy();

    let out = cli(&["runs", "--server", &u], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    let err = text(&out.stderr);
    assert!(
        err.contains("COULER_TOKEN is not set") && err.contains("couler server token create"),
        "{err}"
    );
    let out = cli(
        &["runs", "--server", &u],
        &[("COULER_TOKEN", "not-a-token")],
    );
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(
        text(&out.stderr).contains("does not know the token in COULER_TOKEN"),
        "{}",
        show(&out)
    );

    let as_viewer = [
        ("COULER_TOKEN", viewer.as_str()),
        ("COULER_SERVER", u.as_str()),
    ];
    let out = cli(&["runs"], &as_viewer);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let out = cli(&["submit", &e], &as_viewer);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(
        text(&out.stderr).contains("user `vic` needs the editor role in namespace `default`"),
        "{}",
        show(&out)
    );

    // A port where nothing listens.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("{e}"));
    let gone = format!("http://127.0.0.1:{port}");
    for args in [
        vec!["runs", "--server", &gone],
        vec!["status", "x", "--server", &gone],
        vec!["submit", &e, "--server", &gone],
    ] {
        let out = cli(&args, &[]);
        assert_eq!(out.status.code(), Some(2), "{}", show(&out));
        let err = text(&out.stderr);
        assert!(
            err.contains(&format!("cannot reach the Couler server at {gone}"))
                && err.contains("refused")
                && err.contains("`couler server`")
                && err.contains("COULER_SERVER"),
            "{err}"
        );
    }
}

#[test]
fn logs_print_what_the_local_command_prints_and_follow_a_running_step() {
    let dir = tempdir();
    let (server, u) = single_user(dir.path());
    let echo = spec_file(dir.path(), "echo", ECHO);
    let (_, id) = submit(&server, &echo, &["--param", "msg=line one"]);
    server.wait_for(None, &id, &["Succeeded"]);
    let sd = server.state_dir.to_string_lossy().to_string();
    for step in ["one", "two"] {
        let remote = cli(&["logs", &id, step, "--server", &u], &[]);
        assert_eq!(remote.status.code(), Some(0), "{}", show(&remote));
        let local = cli(&["logs", &id, step, "--state-dir", &sd], &[]);
        // The server's body is `couler logs ID STEP 2>&1`: the step's stdout, then its stderr.
        assert_eq!(
            text(&remote.stdout),
            text(&[local.stdout.clone(), local.stderr.clone()].concat()),
            "{}\n{}",
            show(&remote),
            show(&local)
        );
    }
    assert_eq!(
        text(&cli(&["logs", &id, "one", "--server", &u], &[]).stdout),
        "line one"
    );

    // A write error names the log; --output json is refused.
    let out = Command::new(couler())
        .args(["logs", &id, "one", "--server", &u])
        .env_remove("COULER_SERVER")
        .stdout(std::fs::File::create("/dev/full").unwrap_or_else(|e| panic!("{e}")))
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(
        text(&out.stderr).contains(&format!(
            "cannot print the log {u}/api/v1/runs/{id}/steps/one/logs"
        )),
        "{}",
        show(&out)
    );
    let out = cli(&["logs", &id, "one", "--server", &u, "-o", "json"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    // A reader that goes away (`| head`) ends it quietly: no error, no panic.
    let mut gone = Command::new(couler())
        .args(["logs", &id, "two", "--server", &u])
        .env_remove("COULER_SERVER")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    drop(gone.stdout.take());
    let out = gone.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
    assert!(out.stderr.is_empty(), "{}", show(&out));
    assert!(
        matches!(out.status.code(), Some(0) | None),
        "0, or ended by SIGPIPE: {}",
        show(&out)
    );

    // --follow: what the step printed so far, then the rest once it goes on, to its end.
    let (gate, started) = (dir.path().join("gate"), dir.path().join("started"));
    let file = spec_file(dir.path(), "gated", &gated(&gate, &started));
    let (_, id) = submit(&server, &file, &[]);
    wait_file(&started);
    let mut follow = Command::new(couler())
        .args(["logs", &id, "wait", "--follow", "--server", &u])
        .env_remove("COULER_SERVER")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let mut stdout = follow.stdout.take().unwrap_or_else(|| panic!("no stdout"));
    let mut first = [0u8; 7];
    std::io::Read::read_exact(&mut stdout, &mut first).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(&first, b"before\n", "streamed while the step runs");
    std::fs::write(&gate, "").unwrap_or_else(|e| panic!("{e}"));
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap_or_else(|e| panic!("{e}"));
    let status = follow.wait().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(status.code(), Some(0));
    assert!(rest.contains("after"), "{rest:?}");
}

/// A workflow whose step `flaky` fails until `fixed` exists; `first` runs before it once per
/// run, appending to `ran`.
fn flaky(fixed: &Path, ran: &Path) -> String {
    format!(
        r#"apiVersion: couler.dev/v1alpha1
kind: Workflow
name: flaky
steps:
- name: first
  script:
    command: [sh]
    source: echo ran >> '{ran}'
- name: flaky
  script:
    command: [sh]
    source: test -e '{fixed}'
  dependsOn: [first]
"#,
        fixed = fixed.display(),
        ran = ran.display()
    )
}

#[test]
fn resume_re_runs_a_failed_run_from_its_failure_and_exits_by_its_outcome() {
    let dir = tempdir();
    let (fixed, ran) = (dir.path().join("fixed"), dir.path().join("ran"));
    let (server, u) = single_user(dir.path());
    let file = spec_file(dir.path(), "flaky", &flaky(&fixed, &ran));
    let (out, _) = submit(&server, &file, &["--watch", "--poll-interval", "0.05"]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let id = text(&out.stdout)
        .lines()
        .next()
        .unwrap_or_default()
        .to_string();
    std::fs::write(&fixed, "").unwrap_or_else(|e| panic!("{e}"));
    let out = cli(&["resume", &id, "--server", &u], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(
        text(&out.stdout).contains(&format!("run {id} Succeeded")),
        "{}",
        show(&out)
    );
    let ran = std::fs::read_to_string(&ran).unwrap_or_default();
    assert_eq!(ran, "ran\n", "`first` Succeeded before and is kept");
    // The server's own fields of a run (its cluster, its automatic retries) are added to the
    // local keys of `status --output json`.
    let st = json_of(&cli(&["status", &id, "--server", &u, "-o", "json"], &[]));
    assert!(
        st["run"]["retries"].is_array() && st["run"].get("cluster").is_some(),
        "{st}"
    );
    assert_eq!(st["run"]["status"], "Succeeded", "{st}");
    // A Succeeded run is not resumed: the server's 409, exit 2.
    let out = cli(&["resume", &id, "--server", &u], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));

    // --output json: the report the local `resume --output json` prints, with its keys.
    std::fs::remove_file(&fixed).unwrap_or_else(|e| panic!("{e}"));
    let (out, _) = submit(&server, &file, &["--watch", "--poll-interval", "0.05"]);
    let id = text(&out.stdout)
        .lines()
        .next()
        .unwrap_or_default()
        .to_string();
    std::fs::write(&fixed, "").unwrap_or_else(|e| panic!("{e}"));
    let out = cli(&["resume", &id, "--server", &u, "-o", "json"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let remote = json_of(&out);
    let ld = dir.path().join("local").to_string_lossy().to_string();
    let local = cli(
        &[
            "run",
            &file.to_string_lossy(),
            "--state-dir",
            &ld,
            "-o",
            "json",
        ],
        &[],
    );
    let local = json_of(&local);
    assert_has_keys(&local, &remote);
    assert_has_keys(&local["steps"][0], &remote["steps"][0]);
    assert_eq!(remote["runId"], id.as_str(), "{remote}");
    assert_eq!(statuses(&remote), statuses(&local), "{remote}");
}

/// `openssl` args and a check that it ran.
fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("openssl (Debian package `openssl`) is needed: {e}"));
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        text(&out.stderr)
    );
}

#[test]
fn https_is_trusted_through_ssl_cert_file_and_an_untrusted_certificate_says_so() {
    let dir = tempdir();
    let d = dir.path();
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    // A private CA, and a certificate for 127.0.0.1 it signs.
    openssl(
        d,
        &[
            &["req", "-x509", "-days", "1", "-subj", "/CN=test-ca"][..],
            &ec,
            &["-keyout", "ca.key", "-out", "ca.pem"],
        ]
        .concat(),
    );
    openssl(
        d,
        &[
            &["req", "-subj", "/CN=localhost"][..],
            &ec,
            &["-keyout", "key.pem", "-out", "leaf.csr"],
        ]
        .concat(),
    );
    std::fs::write(
        d.join("ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    openssl(
        d,
        &[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "1",
            "-extfile",
            "ext",
            "-out",
            "cert.pem",
        ],
    );
    let (cert, key) = (d.join("cert.pem"), d.join("key.pem"));
    let server = Server::start(
        d,
        &[
            "--auth",
            "none",
            "--tls-cert",
            &cert.to_string_lossy(),
            "--tls-key",
            &key.to_string_lossy(),
        ],
    );
    let u = format!("https://{}", server.addr);
    let out = cli(&["runs", "--server", &u], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(
        text(&out.stderr).contains("certificate") && text(&out.stderr).contains("SSL_CERT_FILE"),
        "{}",
        show(&out)
    );
    let ca = d.join("ca.pem").to_string_lossy().to_string();
    let echo = spec_file(d, "echo", ECHO);
    let trusted = [("SSL_CERT_FILE", ca.as_str())];
    let out = cli(
        &["submit", &echo.to_string_lossy(), "--server", &u, "--watch"],
        &trusted,
    );
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let out = cli(&["runs", "--server", &u], &trusted);
    assert!(text(&out.stdout).contains("Succeeded"), "{}", show(&out));
}
