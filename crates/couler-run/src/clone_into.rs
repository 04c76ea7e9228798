//! Starts a host step's process directly inside its step cgroup with
//! `clone3(CLONE_INTO_CGROUP)` (Linux 5.7+), instead of moving the child into the cgroup
//! between `fork` and `exec`. A move is a cgroup migration, which waits for an RCU grace period
//! (milliseconds, tens of them on a busy machine); a process born in the cgroup migrates
//! nothing (docs/performance.md, "Step cgroups"). On x86-64 the child shares this address
//! space until it executes (`CLONE_VM | CLONE_VFORK`, as `posix_spawn` starts one), so a start
//! costs the same whatever memory the executor holds; elsewhere it is a `fork`-like copy.
//!
//! The child does what `std::process::Command` does for the runner's settings and nothing
//! else: its own process group, the working directory, standard input from `/dev/null`,
//! output to the two pipes, signal mask and `SIGPIPE` back to their defaults, then the
//! program executed with the step's environment, looked for on that environment's `PATH` as
//! `execvp` looks (the places listed before the clone). Between `clone3` and `exec` it makes
//! only async-signal-safe system calls on memory prepared before the clone, and allocates
//! nothing. A failure before `exec` comes back as the `errno`, so a missing command is the
//! same error as with `Command`. Where `clone3` or `CLONE_INTO_CGROUP` is refused (an older
//! kernel, a seccomp profile such as Docker's default), [`spawn`] says so and the caller
//! falls back to the move.

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

/// Where `program` is looked for, in order, as `execvp` looks (`PATH` from the child's
/// environment, `/bin:/usr/bin` without one, an empty entry meaning the working directory);
/// a name with a `/` is itself the one place.
fn candidates(program: &[u8], envp: &[CString]) -> Result<Vec<CString>, SpawnError> {
    if program.is_empty() {
        return Ok(Vec::new());
    }
    if program.contains(&b'/') {
        return Ok(vec![cstring(program)?]);
    }
    let path = envp
        .iter()
        .find_map(|e| e.to_bytes().strip_prefix(b"PATH="))
        .unwrap_or(b"/bin:/usr/bin");
    path.split(|&b| b == b':')
        .map(|dir| match dir {
            [] => cstring(program),
            dir => {
                let mut full = dir.to_vec();
                if !dir.ends_with(b"/") {
                    full.push(b'/');
                }
                full.extend_from_slice(program);
                cstring(&full)
            }
        })
        .collect()
}

/// A null-terminated array of pointers into `strings`.
fn pointers<'a>(strings: impl IntoIterator<Item = &'a CString>) -> Vec<*const c_char> {
    let mut ptrs: Vec<*const c_char> = strings.into_iter().map(|s| s.as_ptr()).collect();
    ptrs.push(std::ptr::null());
    ptrs
}

/// What the child reads, all made before the clone (it allocates nothing). It writes only
/// `errno`, and slot 1 of `sh_argv`.
struct ChildArgs {
    /// Null-terminated: where the program is looked for ([`candidates`]).
    candidates: *const *const c_char,
    argv: *const *const c_char,
    /// `/bin/sh`, the file found, then `argv[1..]`: how `execvp` runs a file the kernel does
    /// not know how to execute (a script without `#!`).
    sh_argv: *mut *const c_char,
    envp: *const *const c_char,
    cwd: *const c_char,
    fds: [(RawFd, RawFd); 3],
    /// A pipe's write end for the errno where the child has its own copy of memory, or -1.
    report: RawFd,
    /// The errno of a failure before `exec`, where the child shares this memory.
    errno: std::sync::atomic::AtomicI32,
}

/// Bytes of the stack the child runs on where it shares this address space: its calls are
/// a few system call wrappers deep.
#[cfg(target_arch = "x86_64")]
const CHILD_STACK: usize = 64 * 1024;

/// Starts `p` inside the cgroup whose directory is open as `cgroup`, in a process group of its
/// own; returns its pid. The caller reaps it.
pub(crate) fn spawn(p: &Process<'_>, cgroup: BorrowedFd<'_>) -> Result<i32, SpawnError> {
    let argv: Vec<CString> = p
        .argv
        .iter()
        .map(|a| cstring(a.as_bytes()))
        .collect::<Result<_, _>>()?;
    let Some(program) = argv.first() else {
        return Err(SpawnError::Failed(std::io::ErrorKind::InvalidInput.into()));
    };
    let argv_ptrs = pointers(&argv);
    let envp = environment(p.base_env, p.env)?;
    let envp_ptrs = pointers(&envp);
    let places = candidates(program.to_bytes(), &envp)?;
    let place_ptrs = pointers(&places);
    let sh = c"/bin/sh";
    let mut sh_argv = vec![sh.as_ptr(), std::ptr::null()];
    sh_argv.extend_from_slice(&argv_ptrs[1..]);
    let cwd = cstring(p.cwd.as_os_str().as_bytes())?;
    let io = SpawnError::Failed;
    let null = OwnedFd::from(std::fs::File::open("/dev/null").map_err(io)?);
    let mut copies = Vec::new();
    let mut args = ChildArgs {
        candidates: place_ptrs.as_ptr(),
        argv: argv_ptrs.as_ptr(),
        sh_argv: sh_argv.as_mut_ptr(),
        envp: envp_ptrs.as_ptr(),
        cwd: cwd.as_ptr(),
        fds: [
            (above_stdio(null.as_fd(), &mut copies).map_err(io)?, 0),
            (above_stdio(p.stdout, &mut copies).map_err(io)?, 1),
            (above_stdio(p.stderr, &mut copies).map_err(io)?, 2),
        ],
        report: -1,
        errno: 0.into(),
    };
    let started = start(&mut args, cgroup);
    drop((null, copies));
    let pid = started?;
    match args.errno.load(std::sync::atomic::Ordering::Acquire) {
        0 => Ok(pid),
        errno => {
            // The child exited without executing the step: reap it.
            let mut status = 0;
            // SAFETY: pid is our own child, which has exited or is about to.
            unsafe { libc::waitpid(pid, &mut status, 0) };
            Err(SpawnError::Failed(std::io::Error::from_raw_os_error(errno)))
        }
    }
}

/// The `clone3` result as a pid, or why there is none.
fn cloned(ret: isize, errno: i32) -> Result<i32, SpawnError> {
    if ret >= 0 {
        return Ok(ret as i32);
    }
    Err(match errno {
        libc::ENOSYS
        | libc::EINVAL
        | libc::E2BIG
        | libc::EPERM
        | libc::EOPNOTSUPP
        | libc::EBUSY
        | libc::EACCES => SpawnError::Unsupported,
        e => SpawnError::Failed(std::io::Error::from_raw_os_error(e)),
    })
}

/// Clones the child with `CLONE_VM | CLONE_VFORK`, as `posix_spawn` does: it shares this
/// address space on a stack of its own, and this thread waits until it has executed the step
/// or exited. A `fork` copy would copy the page tables and make this process's next writes
/// fault copy-on-write, so a step's start would cost more as the executor holds more memory
/// (docs/performance.md, "Spawn cost grows with the executor's memory"). Every signal is
/// blocked around the clone, so no handler of this process runs in the child before
/// [`child`] has set them back to their defaults.
#[cfg(target_arch = "x86_64")]
fn start(args: &mut ChildArgs, cgroup: BorrowedFd<'_>) -> Result<i32, SpawnError> {
    let mut stack: Vec<u128> = Vec::with_capacity(CHILD_STACK / 16);
    let clone = CloneArgs {
        flags: CLONE_INTO_CGROUP | libc::CLONE_VM as u64 | libc::CLONE_VFORK as u64,
        exit_signal: libc::SIGCHLD as u64,
        stack: stack.as_mut_ptr() as u64,
        stack_size: CHILD_STACK as u64,
        cgroup: cgroup.as_raw_fd() as u64,
        ..CloneArgs::default()
    };
    let entry: unsafe extern "C" fn(*const ChildArgs) -> ! = child_entry;
    let arg: *const ChildArgs = args;
    let ret: isize;
    // SAFETY: all signals blocked and then restored on this thread. clone3 with a live
    // clone_args of the size given; the child starts on `stack` (the kernel points its stack
    // pointer at the top, 16-byte aligned) and calls `child_entry(arg)`, which never returns;
    // this thread resumes once the child has executed or exited, so `stack` and everything
    // `arg` points to outlive its use. rcx and r11 are clobbered by `syscall`.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_BLOCK, &all, &mut old);
        std::arch::asm!(
            "syscall",
            "test rax, rax",
            "jnz 2f",
            "xor ebp, ebp",
            "mov rdi, r12",
            "call r13",
            "ud2",
            "2:",
            inlateout("rax") libc::SYS_clone3 as isize => ret,
            in("rdi") &clone as *const CloneArgs,
            in("rsi") std::mem::size_of::<CloneArgs>(),
            in("r12") arg,
            in("r13") entry,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
        libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
    }
    drop(stack);
    cloned(ret, -ret as i32)
}

/// Clones the child as a copy of this process (as `fork` does; architectures without the
/// shared-memory start above); it reports a failure before `exec` through a close-on-exec
/// pipe.
#[cfg(not(target_arch = "x86_64"))]
fn start(args: &mut ChildArgs, cgroup: BorrowedFd<'_>) -> Result<i32, SpawnError> {
    let (report_r, report_w) = std::io::pipe().map_err(SpawnError::Failed)?;
    args.report = report_w.as_raw_fd();
    let clone = CloneArgs {
        flags: CLONE_INTO_CGROUP,
        exit_signal: libc::SIGCHLD as u64,
        cgroup: cgroup.as_raw_fd() as u64,
        ..CloneArgs::default()
    };
    // SAFETY: clone3 with a valid, live clone_args of the size given. Without CLONE_VM the
    // child gets a copy of this address space and runs only `child_entry`, which never
    // returns.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &clone as *const CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    if ret == 0 {
        // SAFETY: in the child, on this copy of memory made before the clone.
        unsafe { child_entry(args) }
    }
    let errno = std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
    drop(report_w);
    let pid = cloned(ret as isize, errno)?;
    if let Some(errno) = read_report(report_r) {
        args.errno
            .store(errno, std::sync::atomic::Ordering::Release);
    }
    Ok(pid)
}

/// The errno the child reported before `exec`, or `None` once `exec` closed the pipe.
#[cfg(not(target_arch = "x86_64"))]
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

/// The child's entry: sets up and executes the step, or reports `errno` and exits 127.
///
/// # Safety
/// Only to be called in the child of `clone3`, with `args` made by [`spawn`].
unsafe extern "C" fn child_entry(args: *const ChildArgs) -> ! {
    // SAFETY (whole body): async-signal-safe calls on memory prepared before the clone,
    // writing nothing this process reads but `errno` (and `sh_argv`'s slot, its own).
    unsafe {
        let c = &*args;
        let errno = || *libc::__errno_location();
        let fail = |e: i32| -> ! {
            c.errno.store(e, std::sync::atomic::Ordering::Release);
            if c.report >= 0 {
                libc::write(c.report, e.to_ne_bytes().as_ptr().cast(), 4);
            }
            libc::_exit(127)
        };
        // A handler is code of the parent's, on memory the child may share: each back to its
        // default (as posix_spawn does); ignored signals stay ignored, but SIGPIPE, which
        // every Rust program ignores, is back to its default as `Command` sets it.
        for sig in 1..libc::SIGRTMAX() + 1 {
            let mut sa: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(sig, std::ptr::null(), &mut sa) != 0 {
                continue;
            }
            let ignored = sa.sa_sigaction == libc::SIG_IGN && sig != libc::SIGPIPE;
            if sa.sa_sigaction != libc::SIG_DFL && !ignored {
                let mut dfl: libc::sigaction = std::mem::zeroed();
                dfl.sa_sigaction = libc::SIG_DFL;
                libc::sigaction(sig, &dfl, std::ptr::null_mut());
            }
        }
        let mut empty: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut empty);
        libc::pthread_sigmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut());
        if libc::setpgid(0, 0) != 0 {
            fail(errno());
        }
        for &(from, to) in &c.fds {
            if libc::dup2(from, to) < 0 {
                fail(errno());
            }
        }
        if libc::chdir(c.cwd) != 0 {
            fail(errno());
        }
        fail(exec_search(c))
    }
}

/// Executes the first of `c.candidates` that can be, as `execvp` does: a place where it is
/// missing is passed over, one not executable is remembered (`EACCES` if none ran), any other
/// error ends the search; a file the kernel cannot execute is run by `/bin/sh`. Returns the
/// errno of the failure.
///
/// # Safety
/// In the child, with `c` made by [`spawn`].
unsafe fn exec_search(c: &ChildArgs) -> i32 {
    // SAFETY: null-terminated arrays of NUL-terminated strings, made before the clone.
    unsafe {
        let mut denied = false;
        let mut last = libc::ENOENT;
        let mut at = c.candidates;
        while !(*at).is_null() {
            libc::execve(*at, c.argv, c.envp);
            last = *libc::__errno_location();
            match last {
                libc::ENOEXEC => {
                    *c.sh_argv.add(1) = *at;
                    libc::execve(*c.sh_argv, c.sh_argv.cast_const(), c.envp);
                    return *libc::__errno_location();
                }
                libc::EACCES => denied = true,
                libc::ENOENT | libc::ESTALE | libc::ENOTDIR | libc::ENODEV | libc::ETIMEDOUT => {}
                _ => return last,
            }
            at = at.add(1);
        }
        if denied { libc::EACCES } else { last }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroup::StepCgroup;
    use std::io::Read;

    /// Runs `argv` born in `cg` with `COULER_T` and `more` on top of this process's
    /// environment, and returns its exit status and output.
    fn run_with(
        cg: &std::fs::File,
        cwd: &Path,
        argv: &[&str],
        more: &[(&str, &str)],
    ) -> Result<(i32, String), SpawnError> {
        let (mut r, w) = std::io::pipe().unwrap_or_else(|e| panic!("{e}"));
        let argv: Vec<String> = argv.iter().map(|a| a.to_string()).collect();
        let mut env = vec![("COULER_T".to_string(), "it's $here".to_string())];
        env.extend(more.iter().map(|(k, v)| (k.to_string(), v.to_string())));
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

    fn run(cg: &std::fs::File, cwd: &Path, argv: &[&str]) -> Result<(i32, String), SpawnError> {
        run_with(cg, cwd, argv, &[])
    }

    /// A step cgroup's directory, open, or `None` where none can be made here.
    fn cgroup() -> Option<(StepCgroup, std::fs::File)> {
        let cg = StepCgroup::create()?;
        let fd = std::fs::File::open(cg.dir()).unwrap_or_else(|e| panic!("{e}"));
        Some((cg, fd))
    }

    fn write_file(path: &Path, text: &str, mode: u32) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::write(path, text).unwrap_or_else(|e| panic!("{e}"));
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .unwrap_or_else(|e| panic!("{e}"));
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

    /// The program is looked for on the step's own `PATH`, in order, as `execvp` does: a
    /// place without it is passed over, a file there that is not executable is `EACCES` only
    /// if nothing later runs, and a file without `#!` is run by `/bin/sh`.
    #[test]
    fn the_program_is_found_on_the_steps_path_as_execvp_finds_it() {
        let Some((_cg, fd)) = cgroup() else {
            eprintln!("no step cgroup can be made here: nothing to check");
            return;
        };
        let work = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let [a, b, c] = ["a", "b", "c"].map(|d| work.path().join(d));
        for d in [&a, &b, &c] {
            std::fs::create_dir(d).unwrap_or_else(|e| panic!("{e}"));
        }
        write_file(&a.join("tool"), "#!/bin/sh\necho not executable\n", 0o644);
        write_file(&b.join("tool"), "#!/bin/sh\necho \"b: $1\"\n", 0o755);
        write_file(&c.join("tool"), "#!/bin/sh\necho c\n", 0o755);
        // No `#!`: the kernel refuses it (ENOEXEC) and the shell runs it.
        write_file(&c.join("bare"), "echo \"bare: $1\"\n", 0o755);
        let path = format!("/nowhere:{}:{}:{}", a.display(), b.display(), c.display());
        let env = [("PATH", path.as_str())];
        let ran = |argv: &[&str]| run_with(&fd, work.path(), argv, &env);
        let got = |argv: &[&str]| match ran(argv) {
            Ok(r) => r,
            Err(_) => panic!("{argv:?} did not start"),
        };
        assert_eq!(got(&["tool", "x y"]), (0, "b: x y\n".to_string()));
        assert_eq!(got(&["bare", "z"]), (0, "bare: z\n".to_string()));
        // Relative to the working directory, where the name has a `/`.
        assert_eq!(got(&["./c/tool"]), (0, "c\n".to_string()));
        let a_only = format!("{}", a.display());
        match run_with(&fd, work.path(), &["tool"], &[("PATH", a_only.as_str())]) {
            Err(SpawnError::Failed(e)) => {
                assert_eq!(e.kind(), std::io::ErrorKind::PermissionDenied, "{e}")
            }
            Err(SpawnError::Unsupported) => panic!("unsupported after a success"),
            Ok(r) => panic!("a file that is not executable ran: {r:?}"),
        }
        match run(&fd, work.path(), &[""]) {
            Err(SpawnError::Failed(e)) => assert_eq!(e.kind(), std::io::ErrorKind::NotFound),
            _ => panic!("an empty program name started"),
        }
    }

    /// Every signal is blocked around the clone: the child starts with none blocked, SIGPIPE
    /// at its default, and a signal this process ignores still ignored (as with `Command`).
    #[test]
    fn the_child_starts_with_no_signal_blocked_and_ignored_ones_kept() {
        let Some((_cg, fd)) = cgroup() else {
            eprintln!("no step cgroup can be made here: nothing to check");
            return;
        };
        // SAFETY: SIGUSR1 ignored: no other test of this crate sends or handles it.
        unsafe {
            libc::signal(libc::SIGUSR1, libc::SIG_IGN);
        }
        let work = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        // `cat` changes no signal's disposition or mask: it reports what it was born with.
        let (code, out) = run(&fd, work.path(), &["cat", "/proc/self/status"])
            .unwrap_or_else(|_| panic!("clone3 into a cgroup failed"));
        assert_eq!(code, 0, "{out}");
        let field = |name: &str| {
            let line = out
                .lines()
                .find(|l| l.starts_with(name))
                .unwrap_or_else(|| panic!("no {name} in {out}"));
            u64::from_str_radix(line[name.len()..].trim(), 16).unwrap_or_else(|e| panic!("{e}"))
        };
        assert_eq!(field("SigBlk:"), 0, "signals blocked in the child: {out}");
        let ignored = field("SigIgn:");
        assert_eq!(ignored & (1 << (libc::SIGPIPE - 1)), 0, "{out}");
        assert_ne!(ignored & (1 << (libc::SIGUSR1 - 1)), 0, "{out}");
    }
}
