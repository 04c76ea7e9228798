//! A cgroup v2 per step process, where this process may create one: everything the step
//! starts stays in it, even a grandchild that calls `setsid` (and so leaves the step's process
//! group), so killing the cgroup when the step ends leaves nothing behind.
//!
//! Available where a cgroup v2 hierarchy is mounted and this process may create a cgroup below
//! its own (root, or a delegated cgroup such as a systemd user service's); elsewhere steps run
//! as before and only their process group is killed (docs/runtime.md, "Stop and Ctrl-C"). The
//! first failure to create one turns the feature off for the rest of the process, and
//! `COULER_STEP_CGROUPS=off` turns it off from the start.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// One step's cgroup, removed (its processes killed) when dropped.
pub(crate) struct StepCgroup {
    dir: PathBuf,
    /// `DIR/cgroup.procs`, ready for the child to join before it executes the step.
    procs: CString,
}

/// This process's own cgroup directory in the cgroup v2 hierarchy, if any.
fn own_dir() -> Option<&'static Path> {
    static DIR: OnceLock<Option<PathBuf>> = OnceLock::new();
    DIR.get_or_init(|| {
        if std::env::var_os("COULER_STEP_CGROUPS").is_some_and(|v| v == "off") {
            return None;
        }
        let own = std::fs::read_to_string("/proc/self/cgroup").ok()?;
        let rel = own.lines().find_map(|l| l.strip_prefix("0::"))?;
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
        // `ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS... - FSTYPE SOURCE SUPEROPTS`
        let mount = mounts.lines().find_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            let f: Vec<&str> = left.split_whitespace().collect();
            let v2 = right.split_whitespace().next() == Some("cgroup2");
            f.get(4)
                .filter(|_| v2 && f.get(3) == Some(&"/"))
                .map(PathBuf::from)
        })?;
        let dir = mount.join(rel.trim_start_matches('/'));
        sweep(&dir);
        Some(dir)
    })
    .as_deref()
}

/// This process's name prefix for its step cgroups: `couler-PID-START-` (with the start time, a
/// later process given the same pid never takes a dead one's names).
fn prefix() -> &'static str {
    static PREFIX: OnceLock<String> = OnceLock::new();
    PREFIX.get_or_init(|| {
        let pid = std::process::id() as i32;
        let start = crate::owner::start_time(pid).unwrap_or(0);
        format!("couler-{pid}-{start}-")
    })
}

/// Removes the empty step cgroups of executors that are gone (a crashed executor cannot remove
/// its own). One that still holds processes (what a killed executor's steps left) stays until a
/// later sweep finds it empty.
fn sweep(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let mut f = name.strip_prefix("couler-").unwrap_or("").split('-');
        let (Some(pid), Some(start)) = (f.next(), f.next()) else {
            continue;
        };
        let (Ok(pid), Ok(start)) = (pid.parse::<i32>(), start.parse::<i64>()) else {
            continue;
        };
        if !crate::owner::same_process(pid, Some(start)) {
            let _ = std::fs::remove_dir(e.path());
        }
    }
}

impl StepCgroup {
    /// A new, empty cgroup below this process's own, or `None` where none can be made.
    pub(crate) fn create() -> Option<StepCgroup> {
        static OFF: AtomicBool = AtomicBool::new(false);
        static SEQ: AtomicU64 = AtomicU64::new(0);
        if OFF.load(Ordering::Relaxed) {
            return None;
        }
        let dir = own_dir()?;
        let dir = dir.join(format!(
            "{}{}",
            prefix(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        let made = std::fs::create_dir(&dir)
            .ok()
            .and_then(|()| StepCgroup::at(dir));
        if made.is_none() {
            OFF.store(true, Ordering::Relaxed);
        }
        made
    }

    #[cfg(test)]
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    fn at(dir: PathBuf) -> Option<StepCgroup> {
        let procs = CString::new(dir.join("cgroup.procs").as_os_str().as_bytes()).ok()?;
        Some(StepCgroup { dir, procs })
    }

    /// Starts `p` as a process born inside the cgroup (`clone_into.rs`): its pid, or why it
    /// could not start; `None` where the kernel cannot do that (then [`Self::enter_on_spawn`]
    /// moves it in instead). The first refusal turns this way off for the rest of the process.
    pub(crate) fn spawn_inside(
        &self,
        p: &crate::clone_into::Process<'_>,
    ) -> Option<std::io::Result<i32>> {
        use crate::clone_into::{SpawnError, spawn};
        static UNSUPPORTED: AtomicBool = AtomicBool::new(false);
        if UNSUPPORTED.load(Ordering::Relaxed) {
            return None;
        }
        let dir = match std::fs::File::open(&self.dir) {
            Ok(d) => d,
            Err(_) => return None,
        };
        match spawn(p, std::os::fd::AsFd::as_fd(&dir)) {
            Ok(pid) => Some(Ok(pid)),
            Err(SpawnError::Failed(e)) => Some(Err(e)),
            Err(SpawnError::Unsupported) => {
                UNSUPPORTED.store(true, Ordering::Relaxed);
                None
            }
        }
    }

    /// Makes `cmd`'s process join the cgroup before it executes the step. The child only makes
    /// system calls between fork and exec; a failure leaves it outside (never fails the step).
    pub(crate) fn enter_on_spawn(&self, cmd: &mut std::process::Command) {
        use std::os::unix::process::CommandExt;
        let procs = self.procs.clone();
        // SAFETY: the closure runs in the forked child and only calls open, write and close
        // on a NUL-terminated path made before the fork ("0" names the writing process).
        unsafe {
            cmd.pre_exec(move || {
                let fd = libc::open(procs.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
                if fd >= 0 {
                    libc::write(fd, b"0".as_ptr().cast(), 1);
                    libc::close(fd);
                }
                Ok(())
            });
        }
    }

    /// Kills every process in the cgroup (`cgroup.kill`, or one by one where the kernel is
    /// older than 5.14).
    pub(crate) fn kill(&self) {
        if std::fs::write(self.dir.join("cgroup.kill"), "1").is_ok() {
            return;
        }
        let procs = std::fs::read_to_string(self.dir.join("cgroup.procs")).unwrap_or_default();
        for pid in procs.lines().filter_map(|p| p.trim().parse::<i32>().ok()) {
            // SAFETY: kill has no memory-safety preconditions.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
        }
    }
}

/// Kills what the steps of the executor `pid` (started at `start`) left in their cgroups, once
/// that executor is gone, `setsid` grandchildren included, and removes the cgroups (`resume`,
/// for a run whose executor was killed). Only cgroups beside this process's own step cgroups are
/// found, i.e. when both executors ran in the same cgroup.
pub(crate) fn kill_left_by(pid: i32, start: i64) {
    if crate::owner::same_process(pid, Some(start)) {
        return;
    }
    let Some(Ok(entries)) = own_dir().map(std::fs::read_dir) else {
        return;
    };
    let theirs = format!("couler-{pid}-{start}-");
    for e in entries.flatten() {
        if e.file_name().to_string_lossy().starts_with(&theirs) {
            // Dropped at once: killed, then removed.
            drop(StepCgroup::at(e.path()));
        }
    }
}

impl Drop for StepCgroup {
    /// Kills what is left and removes the cgroup once its processes are gone (they leave it as
    /// they exit, which takes a moment after SIGKILL; a thread waits for that, up to 5 s).
    fn drop(&mut self) {
        self.kill();
        if std::fs::remove_dir(&self.dir).is_ok() {
            return;
        }
        let dir = self.dir.clone();
        std::thread::spawn(move || {
            for _ in 0..500 {
                std::thread::sleep(Duration::from_millis(10));
                if std::fs::remove_dir(&dir).is_ok() || !dir.exists() {
                    return;
                }
                let _ = std::fs::write(dir.join("cgroup.kill"), "1");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::{ProcessSpec, run_process};
    use std::time::Instant;

    /// Alive and not a zombie.
    fn alive(pid: i32) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| {
                s.rsplit_once(") ")
                    .is_some_and(|(_, r)| !r.starts_with('Z'))
            })
            .unwrap_or(false)
    }

    #[test]
    fn a_sweep_removes_only_empty_cgroups_of_executors_that_are_gone() {
        let d = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let mine = d.path().join(format!("{}0", prefix()));
        // pid 1 runs, but did not start at tick 999999999999 (some 300 years after boot).
        let (gone, busy, other) = (
            d.path().join("couler-1-999999999999-0"),
            d.path().join("couler-1-999999999999-1"),
            d.path().join("someone-else"),
        );
        for dir in [&mine, &gone, &busy, &other] {
            std::fs::create_dir(dir).unwrap_or_else(|e| panic!("{e}"));
        }
        std::fs::write(busy.join("x"), "").unwrap_or_else(|e| panic!("{e}"));
        sweep(d.path());
        assert!(
            !gone.exists(),
            "an empty cgroup of a gone executor is removed"
        );
        assert!(mine.exists() && busy.exists() && other.exists());
    }

    /// Where a step cgroup can be made, a grandchild that left the step's process group with
    /// `setsid` is killed when the step ends; where none can be, it survives the step (as
    /// docs/runtime.md says), and this test kills it.
    #[tokio::test]
    async fn a_setsid_grandchild_ends_with_its_step_where_cgroups_are_available() {
        let available = StepCgroup::create().is_some();
        let d = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let spec = ProcessSpec {
            argv: vec![
                "sh".into(),
                "-c".into(),
                "setsid sh -c 'echo $$ > escaped.pid; exec sleep 60' </dev/null >/dev/null 2>&1 & \
                 while [ ! -s escaped.pid ]; do sleep 0.01; done"
                    .into(),
            ],
            env: vec![],
            base_env: None,
            cwd: d.path().to_path_buf(),
            stdout: d.path().join("out.log"),
            stderr: d.path().join("err.log"),
            timeout: None,
            container: None,
        };
        let (_tx, rx) = tokio::sync::watch::channel(false);
        run_process(&spec, rx, |_| {}).await;
        let pid: i32 = std::fs::read_to_string(d.path().join("escaped.pid"))
            .unwrap_or_default()
            .trim()
            .parse()
            .unwrap_or_else(|e| panic!("no pid of the grandchild: {e}"));
        let t = Instant::now();
        while alive(pid) && t.elapsed() < Duration::from_secs(3) {
            std::thread::sleep(Duration::from_millis(20));
        }
        let survived = alive(pid);
        if survived {
            // SAFETY: SIGKILL to the grandchild this test started.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
        }
        assert_eq!(
            survived, !available,
            "cgroups available: {available}; the setsid grandchild survived: {survived}"
        );
    }
}
