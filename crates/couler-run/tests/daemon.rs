//! Daemon steps on the local runtime (docs/spec.md "Daemon steps"), with real processes: a
//! daemon serves a port that a later step reads at `{{steps.NAME.ip}}`, and no daemon process
//! is left once the run has ended, whatever its outcome.

mod common;
use common::{load, run, status, stdout, tmp};
use couler_run::RunStatus;
use std::path::Path;

/// A TCP server on 127.0.0.1: it writes its port to `argv[1]` (whole, by a rename), its pid to
/// `argv[2]`, and greets every connection.
const SERVER: &str = "import os, socket, sys\ns = socket.socket()\ns.bind(('127.0.0.1', 0))\ns.listen()\nopen(sys.argv[2], 'w').write(str(os.getpid()))\nopen(sys.argv[1] + '.tmp', 'w').write(str(s.getsockname()[1]))\nos.rename(sys.argv[1] + '.tmp', sys.argv[1])\nwhile True:\n    c, _ = s.accept()\n    c.sendall(b'hello from the daemon')\n    c.close()\n";

/// Connects to `argv[1]` at the port in file `argv[2]` (waiting up to 20 s for the file, as a
/// client waits for a service that is still starting) and prints what it says.
const CLIENT: &str = "import os, socket, sys, time\nfor _ in range(400):\n    if os.path.exists(sys.argv[2]):\n        break\n    time.sleep(0.05)\nc = socket.create_connection((sys.argv[1], int(open(sys.argv[2]).read())))\nprint(c.recv(100).decode())\n";

fn quoted(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

/// The pid a daemon wrote to `file`, once it has.
fn pid_in(file: &Path) -> i32 {
    let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    text.trim()
        .parse()
        .unwrap_or_else(|e| panic!("{text:?}: {e}"))
}

/// Workflow `name` whose first step is daemon `daemon` running `sh -c SCRIPT`, then `rest`
/// (more steps, an `onExit`).
fn with_daemon(name: &str, daemon: &str, script: &str, rest: &str) -> couler_ir::Workflow {
    load(&format!(
        "apiVersion: couler.dev/v1alpha1\nkind: Workflow\nname: {name}\nsteps:
  - name: {daemon}
    container:
      command: [sh, -c, {script}]
      daemon: true
{rest}",
        script = quoted(script),
    ))
}

fn alive(pid: i32) -> bool {
    // Reaped processes leave no /proc entry (a zombie would still have one).
    Path::new(&format!("/proc/{pid}")).exists()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_later_step_reads_a_daemons_port_and_the_daemon_is_gone_after_the_run() {
    let d = tmp();
    let (port, pid) = (d.path().join("port"), d.path().join("pid"));
    let server = format!(
        "exec python3 -c {} {} {}",
        shell(SERVER),
        shell(&port.to_string_lossy()),
        shell(&pid.to_string_lossy())
    );
    let rest = format!(
        "  - name: quitter
    container:
      command: [sh, -c, 'exit 3']
      daemon: true
  - name: client
    dependsOn: [quitter]
    container:
      command: [python3, -c, {client}, '{{{{steps.server.ip}}}}', {port}]
",
        client = quoted(CLIENT),
        port = quoted(&port.to_string_lossy()),
    );
    let wf = with_daemon("serve", "server", &server, &rest);
    let r = run(&wf, &d.path().join("state")).await;
    assert_eq!(r.status, RunStatus::Succeeded, "{:?}", r.message);
    assert_eq!(stdout(&r, "client").trim(), "hello from the daemon");
    // Succeeded once started; one that exits on its own (code 3) does not fail the run.
    assert_eq!(status(&r, "server"), "Succeeded");
    assert_eq!(status(&r, "quitter"), "Succeeded");
    let pid = pid_in(&pid);
    assert!(!alive(pid), "the daemon {pid} outlived its run");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_daemon_that_ignores_sigterm_is_killed_when_a_failed_runs_steps_end_before_the_exit_handler()
 {
    let d = tmp();
    let pid = d.path().join("pid");
    let pidq = quoted(&pid.to_string_lossy());
    // It ignores SIGTERM, and its child holds the group: both get SIGKILL after the grace.
    let daemon =
        format!("trap '' TERM; echo $$ > {pidq}; sleep 1000 & while :; do sleep 0.1; done");
    let rest = format!(
        "  - name: boom
    dependsOn: [stubborn]
    container:
      command: [sh, -c, 'while [ ! -s {pidq} ]; do sleep 0.05; done; exit 1']
onExit:
  - name: check
    container:
      command: [sh, -c, 'kill -0 $(cat {pidq}) 2>/dev/null && echo alive || echo gone']
"
    );
    let wf = with_daemon("stubborn", "stubborn", &daemon, &rest);
    let started = std::time::Instant::now();
    let r = run(&wf, &d.path().join("state")).await;
    assert_eq!(r.status, RunStatus::Failed, "{:?}", r.message);
    assert_eq!(r.message.as_deref(), Some("step `boom` Failed"));
    assert_eq!(status(&r, "stubborn"), "Succeeded");
    // The exit handler runs after the daemons were stopped.
    assert_eq!(stdout(&r, "check").trim(), "gone");
    let pid = pid_in(&pid);
    assert!(!alive(pid), "the daemon {pid} outlived its run");
    assert!(
        started.elapsed() >= couler_run::runner::STOP_GRACE,
        "SIGKILL came before the grace period"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn resume_starts_the_daemons_again_for_the_steps_still_to_run() {
    let d = tmp();
    let (port, pid, go) = (
        d.path().join("port"),
        d.path().join("pid"),
        d.path().join("go"),
    );
    // The client fails until `go` exists (once the server is up, so that it wrote its pid);
    // the server is a new process on each attempt.
    let reset = format!(
        "rm -f {port}; exec python3 -c {server} {port} {pid}",
        port = shell(&port.to_string_lossy()),
        pid = shell(&pid.to_string_lossy()),
        server = shell(SERVER),
    );
    let rest = format!(
        "  - name: client
    container:
      command: [sh, -c, {gate}, sh, '{{{{steps.server.ip}}}}']
",
        gate = quoted(&format!(
            "i=0; while [ ! -e {port} ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done; test -e {go} && exec python3 -c {client} \"$1\" {port}",
            go = shell(&go.to_string_lossy()),
            client = shell(CLIENT),
            port = shell(&port.to_string_lossy()),
        )),
    );
    let wf = with_daemon("again", "server", &reset, &rest);
    let state = d.path().join("state");
    let first = run(&wf, &state).await;
    assert_eq!(first.status, RunStatus::Failed, "{:?}", first.message);
    let first_pid = pid_in(&pid);
    assert!(!alive(first_pid), "the daemon {first_pid} outlived its run");
    std::fs::write(&go, "").unwrap();
    let second = couler_run::resume(&first.run_id, common::opts(&state))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(second.status, RunStatus::Succeeded, "{:?}", second.message);
    assert_eq!(stdout(&second, "client").trim(), "hello from the daemon");
    let second_pid = pid_in(&pid);
    assert_ne!(first_pid, second_pid, "the daemon was not started again");
    assert!(
        !alive(second_pid),
        "the daemon {second_pid} outlived its run"
    );
}

/// `s` quoted for `sh`.
fn shell(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}
