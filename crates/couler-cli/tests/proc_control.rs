//! Process control you can trust (docs/runtime.md, "Stop and Ctrl-C" and "Crashes"): a pid or
//! process group recorded in `state.db` is signalled only while it is provably the run's (same
//! process by start time; for the executor, also the holder of the state directory's lock).
//! After a crash the run reads `Interrupted`, and `couler stop` says its executor is gone.
//! Real processes throughout; the database is edited only to stand in for pid reuse.

#[path = "support/cli.rs"]
mod cli;

use cli::{alive, couler_in, json, spawn_in, status, step, text, tmp, wait_for_running, write};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// A process that is no part of any run: `sleep 60`, leading its own process group.
fn unrelated_sleep() -> Child {
    Command::new("sleep")
        .arg("60")
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"))
}

fn sql(dir: &Path, statement: &str, args: impl rusqlite::Params) {
    let db =
        rusqlite::Connection::open(dir.join(".couler/state.db")).unwrap_or_else(|e| panic!("{e}"));
    db.execute(statement, args)
        .unwrap_or_else(|e| panic!("{statement}: {e}"));
}

/// Starts a run whose step `long` runs `first` (a shell command; `side` is the side directory),
/// writes its pid to `side/pid` and sleeps (unless `side/fast` exists), then kills its executor
/// with SIGKILL once the step runs. Returns the run id and the orphaned step's pid.
fn crashed_run(dir: &Path, first: &str) -> (String, i32) {
    let side = dir.join("side");
    std::fs::create_dir_all(&side).unwrap_or_else(|e| panic!("{e}"));
    write(
        &dir.join("long.yaml"),
        &format!(
            "apiVersion: couler.dev/v1alpha1\nkind: Workflow\nname: long\nsteps:\n  - name: long\n    container: {{command: [sh, -c, 'test -f {s}/fast && exit 0; {first}; echo $$ > {s}/pid; sleep 60']}}\n",
            s = side.display(),
            first = first.replace("SIDE", &side.display().to_string())
        ),
    );
    let mut child = spawn_in(dir, &["run", "long.yaml", "--no-cache"]);
    let run_id = wait_for_running(dir, "long");
    let t = Instant::now();
    let pid = loop {
        let p: i32 = std::fs::read_to_string(side.join("pid"))
            .unwrap_or_default()
            .trim()
            .parse()
            .unwrap_or(0);
        if p > 0 || t.elapsed() > Duration::from_secs(20) {
            break p;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(pid > 0, "the step started");
    let _ = child.kill();
    let _ = child.wait();
    (run_id, pid)
}

fn kill(pid: i32) {
    // SAFETY: SIGKILL to a process this test started.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
    }
}

#[test]
fn a_crashed_run_reads_interrupted_and_stop_names_the_gone_executor() {
    let d = tmp();
    let (run_id, orphan) = crashed_run(d.path(), "true");
    let runs = json(&couler_in(d.path(), &["runs", "-o", "json"]));
    assert_eq!(runs[0]["status"], "Interrupted", "{runs}");
    let listed = text(&couler_in(d.path(), &["runs"]).stdout);
    assert!(listed.contains("Interrupted"), "{listed}");
    assert_eq!(status(d.path(), &run_id)["run"]["status"], "Interrupted");

    // Following the step's log ends: nothing will write it any more.
    let mut follow = spawn_in(d.path(), &["logs", &run_id, "long", "--follow"]);
    let t = Instant::now();
    while follow.try_wait().ok().flatten().is_none() && t.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(50));
    }
    let ended = follow.try_wait().ok().flatten();
    let _ = follow.kill();
    assert_eq!(
        ended.and_then(|s| s.code()),
        Some(0),
        "`couler logs --follow` still follows"
    );

    let out = couler_in(d.path(), &["stop", &run_id]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    assert!(
        said.contains("was interrupted: its executor")
            && said.contains("is gone")
            && said.contains(&format!("couler resume {run_id}")),
        "{said}"
    );
    let v = json(&couler_in(d.path(), &["stop", &run_id, "-o", "json"]));
    assert_eq!(v["signalled"], false);
    assert_eq!(v["status"], "Interrupted");
    kill(orphan);
}

#[test]
fn stop_never_signals_an_unrelated_process_recorded_as_the_executor() {
    let d = tmp();
    let (run_id, orphan) = crashed_run(d.path(), "true");
    kill(orphan);
    let mut sleep = unrelated_sleep();
    let pid = sleep.id() as i64;
    let start: i64 = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            let rest = s.rsplit_once(')')?.1.to_string();
            rest.split_whitespace().nth(19)?.parse().ok()
        })
        .unwrap_or_else(|| panic!("no start time for {pid}"));
    // The pid reused by `sleep` (its start time differs from the executor's), then the pid and
    // start time both `sleep`'s (it still holds no lock on the state directory).
    for pid_start in [None, Some(start)] {
        match pid_start {
            None => sql(d.path(), "UPDATE runs SET pid = ?1", [pid]),
            Some(s) => sql(
                d.path(),
                "UPDATE runs SET pid = ?1, pid_start = ?2",
                [pid, s],
            ),
        }
        let out = couler_in(d.path(), &["stop", &run_id]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        assert!(
            text(&out.stdout).contains(&format!("executor (pid {pid}) is gone")),
            "{}",
            text(&out.stdout)
        );
        std::thread::sleep(Duration::from_millis(100));
        assert!(
            alive(pid as i32),
            "`couler stop` killed an unrelated process"
        );
    }
    let _ = sleep.kill();
    let _ = sleep.wait();
}

#[test]
fn resume_never_kills_a_recorded_group_that_is_not_the_steps() {
    let d = tmp();
    let (run_id, orphan) = crashed_run(d.path(), "true");
    kill(orphan);
    std::fs::write(d.path().join("side/fast"), "").unwrap_or_else(|e| panic!("{e}"));
    let mut sleep = unrelated_sleep();
    let pgid = sleep.id() as i64;
    // The step still marked Running now records `sleep`'s group (the number reused).
    sql(
        d.path(),
        "UPDATE steps SET pgid = ?1 WHERE run_id = ?2 AND node = 'long'",
        rusqlite::params![pgid, run_id],
    );
    let out = couler_in(d.path(), &["resume", &run_id, "--no-cache"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        step(&status(d.path(), &run_id), "long")["status"],
        "Succeeded"
    );
    assert!(
        alive(pgid as i32),
        "`couler resume` killed an unrelated group"
    );
    let _ = sleep.kill();
    let _ = sleep.wait();
}

#[test]
fn resume_kills_what_a_dead_executors_step_cgroup_still_holds() {
    let d = tmp();
    let side = d.path().join("side");
    std::fs::create_dir_all(&side).unwrap_or_else(|e| panic!("{e}"));
    write(
        &side.join("escape.sh"),
        &format!("echo $$ > {}/escaped; exec sleep 60\n", side.display()),
    );
    let (run_id, orphan) = crashed_run(
        d.path(),
        "setsid sh SIDE/escape.sh </dev/null >/dev/null 2>&1 & while [ ! -s SIDE/escaped ]; do sleep 0.01; done",
    );
    let escaped: i32 = std::fs::read_to_string(side.join("escaped"))
        .unwrap_or_default()
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("no pid of the setsid grandchild: {e}"));
    // The step cgroup, where this machine gives one (docs/runtime.md, "How a run executes").
    let in_cgroup = std::fs::read_to_string(format!("/proc/{escaped}/cgroup")).is_ok_and(|c| {
        c.lines()
            .any(|l| l.starts_with("0::") && l.contains("/couler-"))
    });
    kill(orphan);
    std::fs::write(side.join("fast"), "").unwrap_or_else(|e| panic!("{e}"));
    let out = couler_in(d.path(), &["resume", &run_id, "--no-cache"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let t = Instant::now();
    while alive(escaped) && t.elapsed() < Duration::from_secs(3) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let survived = alive(escaped);
    if survived {
        kill(escaped);
    }
    assert_eq!(
        survived, !in_cgroup,
        "in a step cgroup: {in_cgroup}; the setsid grandchild survived resume: {survived}"
    );
}
