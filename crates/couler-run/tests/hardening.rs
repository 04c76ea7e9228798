//! The state directory and a step's end under stress (issue #29, items 5 and 6): the lock's
//! owner is always named and cannot be unlinked away, a truncated `state.db` is refused, a step
//! that ends cleanly while stopped keeps its outcome, and declared outputs that are symlinks out
//! of the working directory or sparse files are refused.

mod common;

use common::*;
use couler_run::{Error, RunStatus};
use std::io::{Seek, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::time::Duration;

fn refused(r: Result<couler_run::Lock, Error>) -> String {
    match r {
        Err(Error::Locked(m)) => m,
        Err(e) => panic!("not a lock refusal: {e}"),
        Ok(_) => panic!("a second owner got the state directory"),
    }
}

#[test]
fn the_lock_refusal_names_the_owner_even_before_it_wrote_its_pid() {
    let d = tmp();
    // An owner between taking the lock and writing its pid (the previous owner's file was
    // emptied): the pid appears 150 ms later.
    let path = d.path().join("lock");
    let mut f = std::fs::File::create(&path).unwrap_or_else(|e| panic!("{e}"));
    // SAFETY: flock on a descriptor we own.
    assert_eq!(unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) }, 0);
    let writer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(150));
        let _ = f.rewind();
        let _ = write!(f, "4242");
        f
    });
    let m = refused(couler_run::Lock::acquire(d.path()));
    assert!(m.contains("(pid 4242)"), "{m}");
    drop(writer.join());
}

#[test]
fn deleting_the_lock_file_does_not_let_a_second_executor_in() {
    let d = tmp();
    let _held = couler_run::Lock::acquire(d.path()).unwrap_or_else(|e| panic!("{e}"));
    std::fs::remove_file(d.path().join("lock")).unwrap_or_else(|e| panic!("{e}"));
    let m = refused(couler_run::Lock::acquire(d.path()));
    assert!(m.contains("another `couler`"), "{m}");
    drop(_held);
    // Released: the next owner gets it, and its pid is written whole.
    let _next = couler_run::Lock::acquire(d.path()).unwrap_or_else(|e| panic!("{e}"));
    let pid = std::fs::read_to_string(d.path().join("lock")).unwrap_or_default();
    assert_eq!(pid, format!("{}\n", std::process::id()));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_truncated_state_db_is_refused_not_taken_for_a_new_one() {
    let d = tmp();
    let wf = load(
        "apiVersion: couler.dev/v1alpha1\nkind: Workflow\nname: x\nsteps:\n  - name: a\n    container: {command: ['true']}\n",
    );
    let r = run(&wf, d.path()).await;
    assert_eq!(r.status, RunStatus::Succeeded);
    for f in ["state.db-wal", "state.db-shm"] {
        let _ = std::fs::remove_file(d.path().join(f));
    }
    std::fs::File::create(d.path().join("state.db")).unwrap_or_else(|e| panic!("{e}"));
    let m = match couler_run::run(&wf, opts(d.path())).await {
        Err(e) => e.to_string(),
        Ok(r) => panic!("a 0-byte state.db was taken for a new one: {:?}", r.status),
    };
    assert!(
        m.contains("is empty (0 bytes)") && m.contains("runs") && m.contains(".broken"),
        "{m}"
    );
    assert_eq!(
        std::fs::metadata(d.path().join("state.db")).map_or(1, |m| m.len()),
        0,
        "the refusal wrote nothing"
    );
    // A directory holding nothing else is a creation cut short: it is used.
    let fresh = tmp();
    std::fs::File::create(fresh.path().join("state.db")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(run(&wf, fresh.path()).await.status, RunStatus::Succeeded);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_step_that_exits_0_in_its_stop_grace_period_succeeded() {
    let d = tmp();
    let wf = load(
        r#"apiVersion: couler.dev/v1alpha1
kind: Workflow
name: graceful
steps:
  - name: save
    container:
      command: [sh, -c, "trap 'sleep 0.3; echo saved > out.txt; exit 0' TERM; touch started; sleep 30 & wait"]
    outputs:
      parameters:
        - name: out
          path: out.txt
"#,
    );
    let (tx, rx) = tokio::sync::watch::channel(false);
    let mut o = opts(d.path());
    o.stop = rx;
    let started = d.path().join("runs");
    let stopper = tokio::spawn(async move {
        // Stop once the step has installed its trap.
        for _ in 0..200 {
            let found = walk_for(&started, "started");
            if found {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = tx.send(true);
        tx
    });
    let r = couler_run::run(&wf, o)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    drop(stopper.await);
    assert_eq!(
        status(&r, "save"),
        "Succeeded",
        "{:?}",
        step(&r, "save").message
    );
    assert_eq!(param(&r, "save", "out"), "saved");
}

/// Whether a file named `name` exists anywhere under `dir`.
fn walk_for(dir: &std::path::Path, name: &str) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries.flatten().any(|e| {
        let p = e.path();
        p.file_name().is_some_and(|n| n == name) || (p.is_dir() && walk_for(&p, name))
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn top_level_symlinks_out_of_the_working_directory_are_refused() {
    let d = tmp();
    let outside = d.path().join("secret.txt");
    std::fs::write(&outside, "secret\n").unwrap_or_else(|e| panic!("{e}"));
    for kind in ["artifacts", "parameters"] {
        let wf = load(&format!(
            r#"apiVersion: couler.dev/v1alpha1
kind: Workflow
name: links
steps:
  - name: inside
    container:
      command: [sh, -c, "echo mine > real.txt; ln -s real.txt link.txt"]
    outputs:
      {kind}:
        - name: x
          path: link.txt
  - name: outside
    container:
      command: [ln, -s, "{}", link.txt]
    outputs:
      {kind}:
        - name: x
          path: link.txt
"#,
            outside.display()
        ));
        let r = run(&wf, &d.path().join(kind)).await;
        // A symlink to a file inside the working directory is that file, as in a directory.
        assert_eq!(status(&r, "inside"), "Succeeded", "{kind}");
        assert_eq!(status(&r, "outside"), "Error", "{kind}");
        let m = step(&r, "outside").message.clone().unwrap_or_default();
        assert!(
            m.contains("is a symlink to") && m.contains("outside the directory"),
            "{kind}: {m}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sparse_output_is_refused_with_the_reason() {
    let d = tmp();
    let wf = load(
        "apiVersion: couler.dev/v1alpha1\nkind: Workflow\nname: sparse\nsteps:\n  - name: a\n    container: {command: [truncate, -s, 2G, big]}\n    outputs:\n      artifacts:\n        - {name: big, path: big}\n",
    );
    // A file system without holes stores such a file as zeros (docs/artifacts.md).
    let probe = d.path().join("probe");
    let f = std::fs::File::create(&probe).unwrap_or_else(|e| panic!("{e}"));
    f.set_len(1 << 30).unwrap_or_else(|e| panic!("{e}"));
    let has_holes = f.metadata().is_ok_and(|m| m.blocks() < 1024);
    let r = run(&wf, d.path()).await;
    if !has_holes {
        return;
    }
    let m = step(&r, "a").message.clone().unwrap_or_default();
    assert_eq!(status(&r, "a"), "Error", "{m}");
    assert!(m.contains("sparse file with 2048 MiB of holes"), "{m}");
    // Nothing was stored: the store holds no 2 GiB blob.
    let stored: u64 = std::fs::read_dir(d.path().join("artifacts"))
        .map(|_| du(&d.path().join("artifacts")))
        .unwrap_or(0);
    assert!(stored < 1 << 20, "{stored} bytes stored");
}

fn du(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir).map_or(0, |es| {
        es.flatten()
            .map(|e| {
                let p = e.path();
                if p.is_dir() {
                    du(&p)
                } else {
                    e.metadata().map_or(0, |m| m.len())
                }
            })
            .sum()
    })
}
