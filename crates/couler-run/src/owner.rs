//! Whether a recorded process is still the one Couler started, before anything signals it.
//!
//! A pid (or process group id) in `state.db` outlives its process: after the executor dies, or
//! after a reboot, the kernel hands the number to an unrelated process. So a process is known
//! by its pid *and* its start time (field 22 of `/proc/PID/stat`, clock ticks since boot),
//! both recorded when Couler starts it; a number whose process started at another time is
//! someone else's and is never signalled. An executor is, in addition, the holder of its state
//! directory's lock (`flock` on `DIR` itself, listed in `/proc/locks`; `DIR/lock`, also locked,
//! can be deleted from under its owner, the directory cannot): a run still marked
//! `Running` whose executor fails either test was interrupted (its executor crashed or the
//! machine rebooted), and readers show it as [`INTERRUPTED`] (docs/runtime.md).

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// How readers show a run recorded `Running` whose executor is gone.
pub const INTERRUPTED: &str = "Interrupted";

/// The start time of process `pid` (clock ticks since boot), `None` when there is no such
/// process (or no `/proc`).
pub(crate) fn start_time(pid: i32) -> Option<i64> {
    stat_field(pid, 22)
}

/// The process group of process `pid`.
fn process_group(pid: i32) -> Option<i64> {
    stat_field(pid, 5)
}

/// Field `n` (1-based, as in proc(5)) of `/proc/PID/stat`, for fields after the command name
/// (which may hold spaces and parentheses, so fields are counted from its last `)`).
fn stat_field(pid: i32, n: usize) -> Option<i64> {
    if pid <= 0 {
        return None;
    }
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(n.checked_sub(3)?)?.parse().ok()
}

/// Whether `pid` is still the process that started at `start` (a `None` start, from a
/// database older than this check, proves nothing and so is never the same).
pub(crate) fn same_process(pid: i32, start: Option<i64>) -> bool {
    start.is_some() && start_time(pid) == start
}

/// Whether the process group `pgid`, recorded with its leader's start time, is provably still
/// the one a step started: its leader lives, started then, and still leads the group. A group
/// whose leader exited is left alone, since its number cannot be told from a reused one.
pub(crate) fn group_is_ours(pgid: i32, start: Option<i64>) -> bool {
    same_process(pgid, start) && process_group(pgid) == Some(i64::from(pgid))
}

/// Whether the executor recorded on a run (its `pid` and `pid_start`) still runs it: the same
/// process (pid and start time) and the holder of the state directory's lock.
pub fn executor_alive(state_dir: &Path, pid: Option<i64>, pid_start: Option<i64>) -> bool {
    let Some(pid) = pid.and_then(|p| i32::try_from(p).ok()) else {
        return false;
    };
    let start_ok = match pid_start {
        Some(s) => start_time(pid) == Some(s),
        // A run recorded before start times were: the lock alone decides.
        None => start_time(pid).is_some(),
    };
    start_ok && holds_flock(pid, state_dir)
}

/// Whether process `pid` holds an `flock` on `path`, as `/proc/locks` lists it (lines such as
/// `1: FLOCK  ADVISORY  WRITE 4242 fd:01:1234 0 EOF`; a `->` line is a waiter, not a holder).
fn holds_flock(pid: i32, path: &Path) -> bool {
    let Ok(meta) = std::fs::metadata(path) else {
        return false;
    };
    // The file as /proc/locks names it: `MAJOR:MINOR:INODE`, the device numbers in hex.
    let dev = meta.dev();
    let file = format!(
        "{:02x}:{:02x}:{}",
        libc::major(dev),
        libc::minor(dev),
        meta.ino()
    );
    let pid = pid.to_string();
    let held = |locks: &str| {
        locks.lines().any(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            f.get(1) == Some(&"FLOCK")
                && f.get(4) == Some(&pid.as_str())
                && f.get(5) == Some(&file.as_str())
        })
    };
    // /proc/locks is read in pages while other processes take and drop locks, so one read can
    // miss a line that stays put: a lock is held when any of three reads shows it.
    (0..3).any(|_| std::fs::read_to_string("/proc/locks").is_ok_and(|l| held(&l)))
}

/// Sends `sig` to process `pid` only if it is still the process that started at `start`. The
/// check and the signal go through one pidfd, so the pid cannot be reused between them.
/// Returns whether the signal was sent.
pub fn signal_if_same(pid: i32, start: Option<i64>, sig: i32) -> bool {
    if pid <= 0 || start.is_none() {
        return false;
    }
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
    let raw = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if raw < 0 {
        return false;
    }
    // SAFETY: `raw` is a descriptor the kernel just returned to us, owned by nobody else.
    let fd = unsafe { OwnedFd::from_raw_fd(raw as i32) };
    if !same_process(pid, start) {
        return false;
    }
    // SAFETY: pidfd_send_signal on a descriptor we own, with no siginfo and no flags.
    let sent = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            fd.as_raw_fd(),
            sig,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    sent == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Child, Command};

    fn sleeper() -> Child {
        Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn reap(mut c: Child) -> Option<i32> {
        let _ = c.kill();
        c.wait().ok().and_then(|s| {
            use std::os::unix::process::ExitStatusExt;
            s.signal()
        })
    }

    #[test]
    fn a_process_is_known_by_its_start_time_not_its_pid() {
        let c = sleeper();
        let pid = c.id() as i32;
        let start = start_time(pid);
        assert!(start.is_some(), "no start time for a live process");
        assert!(same_process(pid, start));
        let other = start.map(|s| s + 1);
        assert!(
            !same_process(pid, other),
            "another start time is another process"
        );
        assert!(!same_process(pid, None), "an unknown start proves nothing");
        assert!(
            !signal_if_same(pid, other, libc::SIGKILL),
            "a process with another start time must not be signalled"
        );
        assert_eq!(
            reap(c),
            Some(libc::SIGKILL),
            "sleep was alive until reaped here"
        );
    }

    #[test]
    fn the_same_process_is_signalled() {
        let mut c = sleeper();
        let pid = c.id() as i32;
        assert!(signal_if_same(pid, start_time(pid), libc::SIGTERM));
        let status = c.wait().unwrap_or_else(|e| panic!("{e}"));
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(libc::SIGTERM));
    }

    #[test]
    fn an_executor_is_alive_while_the_same_process_holds_the_lock() {
        let d = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let me = i64::from(std::process::id());
        let start = start_time(me as i32);
        let held = crate::Lock::acquire(d.path()).unwrap_or_else(|e| panic!("{e}"));
        assert!(executor_alive(d.path(), Some(me), start));
        // A row from before start times were recorded: the lock decides.
        assert!(executor_alive(d.path(), Some(me), None));
        // The pid given to another process (another start time).
        let other = start.map(|s| s + 1);
        assert!(!executor_alive(d.path(), Some(me), other));
        assert!(!executor_alive(d.path(), None, start), "no pid recorded");
        // A deleted lock file does not make a live executor look gone.
        std::fs::remove_file(d.path().join("lock")).unwrap_or_else(|e| panic!("{e}"));
        assert!(executor_alive(d.path(), Some(me), start));
        drop(held);
        assert!(
            eventually(|| !executor_alive(d.path(), Some(me), start)),
            "the process lives but holds no lock: not this state directory's executor"
        );
    }

    /// Whether `f` holds within two seconds. A step that another test of this process forks
    /// while a lock is held keeps a copy of the lock's descriptor until it execs
    /// (close-on-exec), so a release may show a moment late.
    fn eventually(f: impl Fn() -> bool) -> bool {
        (0..100).any(|_| {
            let done = f();
            if !done {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            done
        })
    }

    #[test]
    fn the_lock_holder_is_found_in_proc_locks() {
        let d = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let lock = d.path().join("lock");
        assert!(
            !holds_flock(std::process::id() as i32, &lock),
            "no lock file yet"
        );
        let held = crate::Lock::acquire(d.path()).unwrap_or_else(|e| panic!("{e}"));
        assert!(holds_flock(std::process::id() as i32, &lock));
        assert!(!holds_flock(1, &lock), "pid 1 does not hold it");
        drop(held);
        assert!(
            eventually(|| !holds_flock(std::process::id() as i32, &lock)),
            "released"
        );
    }
}
