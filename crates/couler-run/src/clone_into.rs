//! Starts a host step's process directly inside its step cgroup with
//! `clone3(CLONE_INTO_CGROUP)` (Linux 5.7+), instead of moving the child into the cgroup
//! between `fork` and `exec`. A move is a cgroup migration, which waits for an RCU grace period
//! (milliseconds, tens of them on a busy machine); a process born in the cgroup migrates
//! nothing (docs/performance.md, "Step cgroups").
//!
//! The child does what `std::process::Command` does for the runner's settings and nothing
//! else: its own process group, the working directory, standard input from `/dev/null`,
//! output to the two pipes, signal mask and `SIGPIPE` back to their defaults, the
//! environment, then `execvp` (so `PATH` is searched as `Command` searches it, with the step's
//! environment). Between `clone3` and `exec` it makes only async-signal-safe system calls on
//! memory prepared before the clone. A failure before `exec` comes back through a close-on-exec
//! pipe as the `errno`, read by the parent, so a missing command is the same error as with
//! `Command`. Where `clone3` or `CLONE_INTO_CGROUP` is refused (an older kernel, a seccomp
//! profile such as Docker's default), [`spawn`] says so and the caller falls back to the move.

use std::ffi::{CString, c_char};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// `struct clone_args` up to `cgroup` (`CLONE_ARGS_SIZE_VER2`), the same on every architecture.
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

unsafe extern "C" {
    static mut environ: *const *const c_char;
}

/// Why [`spawn`] did not start the process.
pub(crate) enum SpawnError {
    /// This kernel (or a seccomp filter) refuses `clone3` into a cgroup: use another way.
    Unsupported,
    /// The process could not start (no such command, not executable, no working directory…).
    Failed(std::io::Error),
}

/// What one step's process is started with.
pub(crate) struct Process<'a> {
    pub argv: &'a [String],
    /// Added to `base_env` (a later entry of the same name wins).
    pub env: &'a [(String, String)],
    /// The environment it starts from: `None` for this process's.
    pub base_env: Option<&'a [(String, String)]>,
    pub cwd: &'a Path,
    /// Where its standard output and error go (the caller closes its copies afterwards).
    pub stdout: BorrowedFd<'a>,
    pub stderr: BorrowedFd<'a>,
}

fn cstring(bytes: &[u8]) -> Result<CString, SpawnError> {
    CString::new(bytes).map_err(|_| {
        SpawnError::Failed(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "an argument or environment variable holds a NUL byte",
        ))
    })
}

/// The child's environment: `base` (`None`: this process's), with `env` set on top.
fn environment(
    base: Option<&[(String, String)]>,
    env: &[(String, String)],
) -> Result<Vec<CString>, SpawnError> {
    let mut vars: std::collections::BTreeMap<Vec<u8>, Vec<u8>> = match base {
        None => std::env::vars_os()
            .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
            .collect(),
        Some(base) => base
            .iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
            .collect(),
    };
    for (k, v) in env {
        vars.insert(k.as_bytes().to_vec(), v.as_bytes().to_vec());
    }
    vars.into_iter()
        .map(|(mut k, v)| {
            k.push(b'=');
            k.extend_from_slice(&v);
            cstring(&k)
        })
        .collect()
}

/// `fd`, or where it is one of the three standard descriptors a close-on-exec copy numbered 3
/// or above (kept in `copies`), so that placing the standard descriptors in the child never
/// overwrites one still to be placed.
fn above_stdio(fd: BorrowedFd<'_>, copies: &mut Vec<OwnedFd>) -> std::io::Result<RawFd> {
    if fd.as_raw_fd() > 2 {
        return Ok(fd.as_raw_fd());
    }
    // SAFETY: fcntl on an open descriptor; the result is a new descriptor or -1.
    let r = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 3) };
    if r < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: r is a new descriptor that nothing else owns.
    copies.push(unsafe { OwnedFd::from_raw_fd(r) });
    Ok(r)
}

/// Starts `p` inside the cgroup whose directory is open as `cgroup`, in a process group of its
/// own; returns its pid. The caller reaps it.
pub(crate) fn spawn(p: &Process<'_>, cgroup: BorrowedFd<'_>) -> Result<i32, SpawnError> {
    let argv: Vec<CString> = p
        .argv
        .iter()
        .map(|a| cstring(a.as_bytes()))
        .collect::<Result<_, _>>()?;
    if argv.is_empty() {
        return Err(SpawnError::Failed(std::io::ErrorKind::InvalidInput.into()));
    }
    let mut argv_ptrs: Vec<*const c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    argv_ptrs.push(std::ptr::null());
    let envp = environment(p.base_env, p.env)?;
    let mut envp_ptrs: Vec<*const c_char> = envp.iter().map(|a| a.as_ptr()).collect();
    envp_ptrs.push(std::ptr::null());
    let cwd = cstring(p.cwd.as_os_str().as_bytes())?;
    let io = SpawnError::Failed;
    let null = OwnedFd::from(std::fs::File::open("/dev/null").map_err(io)?);
    let mut copies = Vec::new();
    let fds: [(RawFd, RawFd); 3] = [
        (above_stdio(null.as_fd(), &mut copies).map_err(io)?, 0),
        (above_stdio(p.stdout, &mut copies).map_err(io)?, 1),
        (above_stdio(p.stderr, &mut copies).map_err(io)?, 2),
    ];
    let (report_r, report_w) = std::io::pipe().map_err(io)?;
    let args = CloneArgs {
        flags: CLONE_INTO_CGROUP,
        exit_signal: libc::SIGCHLD as u64,
        cgroup: cgroup.as_raw_fd() as u64,
        ..CloneArgs::default()
    };
    // SAFETY: clone3 with a valid, live clone_args of the size given. Without CLONE_VM the
    // child gets a copy of this address space (as after fork) and runs only `child` below,
    // which never returns.
    let pid = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &args as *const CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    if pid == 0 {
        // SAFETY: in the child: every pointer was made before the clone and stays valid in
        // this copy of the address space; `child` only makes async-signal-safe calls.
        unsafe {
            child(
                &fds,
                &cwd,
                argv_ptrs.as_ptr(),
                envp_ptrs.as_ptr(),
                report_w.as_raw_fd(),
            )
        }
    }
    if pid < 0 {
        let e = std::io::Error::last_os_error();
        return Err(match e.raw_os_error() {
            Some(
                libc::ENOSYS
                | libc::EINVAL
                | libc::E2BIG
                | libc::EPERM
                | libc::EOPNOTSUPP
                | libc::EBUSY
                | libc::EACCES,
            ) => SpawnError::Unsupported,
            _ => SpawnError::Failed(e),
        });
    }
    let pid = pid as i32;
    drop(report_w);
    drop((null, copies));
    match read_report(report_r) {
        None => Ok(pid),
        Some(errno) => {
            // The child exited without executing the step: reap it.
            let mut status = 0;
            // SAFETY: pid is our own child, which has exited or is about to.
            unsafe { libc::waitpid(pid, &mut status, 0) };
            Err(SpawnError::Failed(std::io::Error::from_raw_os_error(errno)))
        }
    }
}

/// The errno the child reported before `exec`, or `None` once `exec` closed the pipe.
fn read_report(r: std::io::PipeReader) -> Option<i32> {
    use std::io::Read;
    let mut r = r;
    let mut buf = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
    }
    (got == 4).then(|| i32::from_ne_bytes(buf))
}

/// The child's side: sets up and executes the step, or reports `errno` and exits 127.
///
/// # Safety
/// Only to be called in the child of `clone3`, with pointers to live, NUL-terminated arrays.
unsafe fn child(
    fds: &[(RawFd, RawFd); 3],
    cwd: &CString,
    argv: *const *const c_char,
    envp: *const *const c_char,
    report: RawFd,
) -> ! {
    // SAFETY (whole body): async-signal-safe calls on memory prepared before the clone.
    unsafe {
        let fail = || -> ! {
            let errno = *libc::__errno_location();
            let bytes = errno.to_ne_bytes();
            libc::write(report, bytes.as_ptr().cast(), 4);
            libc::_exit(127)
        };
        let mut empty: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut empty);
        libc::pthread_sigmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        if libc::setpgid(0, 0) != 0 {
            fail();
        }
        for &(from, to) in fds {
            if libc::dup2(from, to) < 0 {
                fail();
            }
        }
        if libc::chdir(cwd.as_ptr()) != 0 {
            fail();
        }
        environ = envp;
        libc::execvp(*argv, argv);
        fail()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroup::StepCgroup;
    use std::io::Read;

    /// Runs `script` with `sh -c` born in `cg`, and returns its exit status and output.
    fn run(cg: &std::fs::File, cwd: &Path, argv: &[&str]) -> Result<(i32, String), SpawnError> {
        let (mut r, w) = std::io::pipe().unwrap_or_else(|e| panic!("{e}"));
        let argv: Vec<String> = argv.iter().map(|a| a.to_string()).collect();
        let env = vec![("COULER_T".to_string(), "it's $here".to_string())];
        let pid = spawn(
            &Process {
                argv: &argv,
                env: &env,
                base_env: None,
                cwd,
                stdout: w.as_fd(),
                stderr: w.as_fd(),
            },
            cg.as_fd(),
        )?;
        drop(w);
        let mut out = String::new();
        r.read_to_string(&mut out).unwrap_or_else(|e| panic!("{e}"));
        let mut status = 0;
        // SAFETY: pid is this test's child.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        Ok((libc::WEXITSTATUS(status), out))
    }

    /// A step process born in its cgroup gets what `Command` would give it: its own process
    /// group, the working directory, the environment on top of ours, `/dev/null` as input,
    /// SIGPIPE at its default (this test process ignores it, as every Rust program does);
    /// a missing command is `NotFound`, as with `Command`.
    #[test]
    fn a_process_born_in_its_cgroup_is_set_up_as_command_would() {
        let Some(cg) = StepCgroup::create() else {
            eprintln!("no step cgroup can be made here: nothing to check");
            return;
        };
        let dir = cg.dir().to_path_buf();
        let fd = std::fs::File::open(&dir).unwrap_or_else(|e| panic!("{e}"));
        let work = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let script = "grep '^0::' /proc/self/cgroup; echo \"$COULER_T\"; pwd; \
                      cut -d' ' -f5 /proc/$$/stat; echo $$; \
                      if read x; then echo input; else echo eof; fi; \
                      grep SigIgn /proc/$$/status; exit 3";
        let (code, out) = run(&fd, work.path(), &["sh", "-c", script])
            .unwrap_or_else(|_| panic!("clone3 into a cgroup failed"));
        assert_eq!(code, 3, "{out}");
        let lines: Vec<&str> = out.lines().collect();
        let name = dir.file_name().unwrap_or_default().to_string_lossy();
        assert!(lines[0].ends_with(&format!("/{name}")), "{out}");
        assert_eq!(lines[1], "it's $here");
        let cwd = work.path().canonicalize().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(Path::new(lines[2]), cwd);
        assert_eq!(lines[3], lines[4], "its own process group: {out}");
        assert_eq!(lines[5], "eof");
        let ignored = u64::from_str_radix(lines[6].trim_start_matches("SigIgn:").trim(), 16)
            .unwrap_or_else(|e| panic!("{out}: {e}"));
        assert_eq!(
            ignored & (1 << (libc::SIGPIPE - 1)),
            0,
            "SIGPIPE ignored: {out}"
        );
        match run(&fd, work.path(), &["no-such-command-couler"]) {
            Err(SpawnError::Failed(e)) => assert_eq!(e.kind(), std::io::ErrorKind::NotFound),
            Err(SpawnError::Unsupported) => panic!("unsupported after a success"),
            Ok(r) => panic!("a missing command ran: {r:?}"),
        }
    }
}
