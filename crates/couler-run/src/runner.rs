//! Running one attempt of a step as a process: the host runner, and the argv of the container
//! runner (`--runtime docker|podman`).
//!
//! Each attempt runs in its own process group (`process_group(0)`), so a timeout, `couler stop`
//! or Ctrl-C stops the whole tree the step started, not just its first process. The process is
//! reaped with `wait4`, which also gives its CPU time (its own and its waited-for children's)
//! and, with `rss.rs`, its peak RSS (the step's alone, not the executor's).

use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;
use tokio::io::unix::AsyncFd;
use tokio::sync::watch;

/// How container steps run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Runtime {
    /// As host processes; the image is not used.
    #[default]
    Host,
    Docker,
    Podman,
}

impl Runtime {
    pub fn parse(s: &str) -> Option<Runtime> {
        match s {
            "host" => Some(Runtime::Host),
            "docker" => Some(Runtime::Docker),
            "podman" => Some(Runtime::Podman),
            _ => None,
        }
    }
    pub fn engine(self) -> Option<&'static str> {
        match self {
            Runtime::Host => None,
            Runtime::Docker => Some("docker"),
            Runtime::Podman => Some("podman"),
        }
    }
}

/// Whether `program` is on `PATH` (used to detect a container engine before a run starts).
pub fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|d| d.join(program).is_file()))
        .unwrap_or(false)
}

/// Where one attempt's files live: its working directory `DIR` and, beside it, `DIR.stdout.log`,
/// `DIR.stderr.log` and (for a script step) `DIR.script`. Logs and script sit outside the working
/// directory so the step never sees, archives or clobbers them, and a plain step costs three
/// inodes (a fresh inode is most of a step's file-system cost on ext4; docs/performance.md).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttemptFiles {
    work: PathBuf,
}

impl AttemptFiles {
    /// The files of the attempt whose working directory is `work`.
    pub fn at(work: impl Into<PathBuf>) -> Self {
        AttemptFiles { work: work.into() }
    }
    /// Attempt `n` of `node` in a run's `steps` directory: `steps/NODE.N` (node names never
    /// hold a `.`: step names are DNS-1123 labels and map instances add `[k]`).
    pub fn numbered(steps: &Path, node: &str, n: u32) -> Self {
        Self::at(steps.join(format!("{node}.{n}")))
    }
    pub fn work(&self) -> &Path {
        &self.work
    }
    pub fn stdout(&self) -> PathBuf {
        self.beside("stdout.log")
    }
    pub fn stderr(&self) -> PathBuf {
        self.beside("stderr.log")
    }
    pub fn script(&self) -> PathBuf {
        self.beside("script")
    }
    fn beside(&self, suffix: &str) -> PathBuf {
        let mut name = self.work.file_name().unwrap_or_default().to_os_string();
        name.push(".");
        name.push(suffix);
        self.work.with_file_name(name)
    }
}

/// One process to run.
#[derive(Clone, Debug)]
pub struct ProcessSpec {
    pub argv: Vec<String>,
    /// Added to `base_env`.
    pub env: Vec<(String, String)>,
    /// The environment the process starts from: `None` for this process's (inherited).
    pub base_env: Option<Vec<(String, String)>>,
    pub cwd: PathBuf,
    pub stdout: PathBuf,
    pub stderr: PathBuf,
    pub timeout: Option<Duration>,
    /// The container the process runs the step in (`docker|podman run`), if any.
    pub container: Option<ContainerRef>,
}

/// A step's container, stopped through its engine when the step is stopped or times out:
/// signals to the engine's client do not reliably reach the container (its PID 1 ignores
/// SIGTERM unless it installs a handler, and killing the client leaves the container running).
#[derive(Clone, Debug)]
pub struct ContainerRef {
    pub engine: String,
    pub name: String,
}

impl ContainerRef {
    /// The container of `node` in run `run_id` under `engine`: named `couler-RUN-NODE` (a map
    /// instance's `[k]` as `-k-`), so a later `resume` can find it again.
    pub fn of_step(engine: &str, run_id: &str, node: &str) -> ContainerRef {
        ContainerRef {
            engine: engine.to_string(),
            name: format!("couler-{run_id}-{}", node.replace(['[', ']'], "-")),
        }
    }

    /// `ENGINE stop -t GRACE NAME`: SIGTERM, then SIGKILL after `grace`; the container was
    /// started with `--rm`, so it is removed too. Errors (already gone) are ignored.
    pub async fn stop(&self, grace: Duration) {
        let _ = tokio::process::Command::new(&self.engine)
            .args(["stop", "-t", &grace.as_secs().to_string(), &self.name])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .await;
    }
}

/// How an attempt ended.
#[derive(Clone, Debug, PartialEq)]
pub enum ProcessEnd {
    /// The process exited (a signal death reads as 128 + signal, as in a shell).
    Exited {
        code: i32,
        peak_rss_kb: i64,
        cpu_seconds: f64,
    },
    /// It ran past its timeout and was stopped.
    TimedOut { peak_rss_kb: i64, cpu_seconds: f64 },
    /// The run was stopped (Ctrl-C, `couler stop`).
    Stopped,
    /// It could not start (no such command, not executable, …), or its output could not be
    /// kept (a full disk): the attempt is an Error.
    Error(String),
}

impl ProcessEnd {
    /// Peak memory (KiB) and CPU seconds of a process that ran; none when it did not.
    pub fn usage(&self) -> (Option<i64>, Option<f64>) {
        match self {
            ProcessEnd::Exited {
                peak_rss_kb,
                cpu_seconds,
                ..
            }
            | ProcessEnd::TimedOut {
                peak_rss_kb,
                cpu_seconds,
            } => (Some(*peak_rss_kb), Some(*cpu_seconds)),
            ProcessEnd::Stopped | ProcessEnd::Error(_) => (None, None),
        }
    }
}

/// How long a stopped step gets between SIGTERM and SIGKILL.
pub const STOP_GRACE: Duration = Duration::from_secs(5);

struct Reaped {
    status: i32,
    rss_kb: i64,
    cpu: f64,
    /// Why the step's output could not be kept in its log files (a full disk), if it could not.
    log_error: Option<String>,
}

fn wait4(pid: i32) -> std::io::Result<Reaped> {
    let mut status: libc::c_int = 0;
    // SAFETY: an all-zero rusage is a valid value for this plain C struct.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: pid is our own child; status and ru point to live, writable locals.
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
        if r == pid {
            break;
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Ok(Reaped {
        status,
        // Linux reports ru_maxrss in kilobytes.
        rss_kb: ru.ru_maxrss,
        cpu: secs(ru.ru_utime) + secs(ru.ru_stime),
        log_error: None,
    })
}

fn exit_code(status: i32) -> i32 {
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else if libc::WIFSIGNALED(status) {
        128 + libc::WTERMSIG(status)
    } else {
        -1
    }
}

/// Sends `sig` to the process group `pgid` (errors, such as an already empty group, are ignored).
pub fn kill_group(pgid: i32, sig: i32) {
    if pgid > 0 {
        // SAFETY: kill has no memory-safety preconditions; a negative pid names a group.
        unsafe {
            libc::kill(-pgid, sig);
        }
    }
}

/// A message for a failed spawn that says what to do.
fn spawn_error(argv0: &str, e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => format!(
            "command `{argv0}` not found: it is not on PATH and not a file (the host runner runs commands on this machine; install it, or run with --runtime docker)"
        ),
        std::io::ErrorKind::PermissionDenied => {
            format!("command `{argv0}` is not executable: {e}")
        }
        _ => format!("cannot start `{argv0}`: {e}"),
    }
}

/// Runs one process to its end, its timeout, or until `stop` turns true.
///
/// The process writes into two pipes, not into its log files: the executor copies what
/// arrives to `spec.stdout` / `spec.stderr`, creating each file on its first byte, so a step
/// that prints nothing costs no inode (a new inode is most of a short step's file-system cost;
/// docs/performance.md). Readers treat a missing log as empty. A log that cannot be written
/// makes the attempt an `Error` naming the file, whatever the exit code.
///
/// `spawned` is called with the process group id as soon as the process exists, so the caller
/// can record it (and a later `resume` can stop a group that a killed executor left behind).
pub async fn run_process(
    spec: &ProcessSpec,
    mut stop: watch::Receiver<bool>,
    spawned: impl FnOnce(i32),
) -> ProcessEnd {
    let Some(argv0) = spec.argv.first() else {
        return ProcessEnd::Error("the step has no command to run".to_string());
    };
    let Spawned { pid, pipes, cgroup } = match spawn(spec, argv0) {
        Ok(spawned) => spawned,
        Err(end) => return end,
    };
    let rss = crate::rss::PeakRss::watch(pid);
    spawned(pid);
    let logs = [spec.stdout.clone(), spec.stderr.clone()];
    let reaper = pump_and_reap(pid, pipes, logs, cgroup.as_ref());
    tokio::pin!(reaper);
    enum Why {
        Done(std::io::Result<Reaped>),
        Timeout,
        Stop,
    }
    let why = tokio::select! {
        r = &mut reaper => Why::Done(r),
        _ = after(spec.timeout) => Why::Timeout,
        _ = stop_requested(&mut stop) => Why::Stop,
    };
    let reaped = match why {
        Why::Done(r) => r,
        Why::Timeout => {
            let r = terminate(pid, reaper, spec.container.as_ref()).await;
            let (peak_rss_kb, cpu_seconds) = match r {
                Ok(x) => (rss.step_peak_kb(x.rss_kb), x.cpu),
                Err(_) => (0, 0.0),
            };
            return ProcessEnd::TimedOut {
                peak_rss_kb,
                cpu_seconds,
            };
        }
        Why::Stop => {
            let r = terminate(pid, reaper, spec.container.as_ref()).await;
            // A step that still ends cleanly (exit 0) in its grace period succeeded: its
            // outcome and outputs are kept, and `resume` does not run it again.
            let clean = r
                .as_ref()
                .is_ok_and(|x| x.log_error.is_none() && exit_code(x.status) == 0);
            if !clean {
                return ProcessEnd::Stopped;
            }
            r
        }
    };
    waited_end(reaped, &rss, argv0)
}

/// How a process that was waited for (not timed out, not stopped) ended.
fn waited_end(
    reaped: std::io::Result<Reaped>,
    rss: &crate::rss::PeakRss,
    argv0: &str,
) -> ProcessEnd {
    match reaped {
        Ok(Reaped {
            log_error: Some(m), ..
        }) => ProcessEnd::Error(m),
        Ok(r) => ProcessEnd::Exited {
            code: exit_code(r.status),
            peak_rss_kb: rss.step_peak_kb(r.rss_kb),
            cpu_seconds: r.cpu,
        },
        Err(e) => ProcessEnd::Error(format!("cannot wait for `{argv0}`: {e}")),
    }
}

/// Completes after `timeout`; never without one.
async fn after(timeout: Option<Duration>) {
    match timeout {
        Some(t) => tokio::time::sleep(t).await,
        None => std::future::pending().await,
    }
}

/// Completes when the run is stopped; never once nobody can stop it (the sender is gone).
async fn stop_requested(stop: &mut watch::Receiver<bool>) {
    loop {
        if *stop.borrow_and_update() {
            return;
        }
        if stop.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// Stops the step's process group: SIGTERM, then SIGKILL after [`STOP_GRACE`]; the engine
/// stops the container alongside (its client may exit first), while the pump goes on draining
/// the client's output. Returns what `reaper` reaped.
async fn terminate(
    pid: i32,
    mut reaper: std::pin::Pin<&mut impl Future<Output = std::io::Result<Reaped>>>,
    container: Option<&ContainerRef>,
) -> std::io::Result<Reaped> {
    kill_group(pid, libc::SIGTERM);
    let reaped = async {
        match tokio::time::timeout(STOP_GRACE, reaper.as_mut()).await {
            Ok(r) => r,
            Err(_) => {
                kill_group(pid, libc::SIGKILL);
                reaper.as_mut().await
            }
        }
    };
    let container_stopped = async {
        if let Some(c) = container {
            c.stop(STOP_GRACE).await;
        }
    };
    let (r, ()) = tokio::join!(reaped, container_stopped);
    r
}

/// A step's process just started: not yet waited for (the pump reaps it and reads its
/// resource use).
struct Spawned {
    pid: i32,
    /// The read ends of its standard output and error.
    pipes: [std::io::PipeReader; 2],
    cgroup: Option<crate::cgroup::StepCgroup>,
}

/// Starts the step's process in its own process group (and, for a host step, its own cgroup
/// where one can be made), its output going to two pipes.
fn spawn(spec: &ProcessSpec, argv0: &str) -> Result<Spawned, ProcessEnd> {
    let (pipes, ends) = match (std::io::pipe(), std::io::pipe()) {
        (Ok((out_r, out_w)), Ok((err_r, err_w))) => ([out_r, err_r], [out_w, err_w]),
        (Err(e), _) | (_, Err(e)) => {
            return Err(ProcessEnd::Error(format!(
                "cannot create the step's output pipes: {e}"
            )));
        }
    };
    let [out_w, err_w] = ends;
    // Where it can be made, a cgroup holds whatever a host step starts, `setsid` or not. A
    // container step's processes belong to its engine (podman's `conmon` leaves the group on
    // purpose, to remove the container after it ends): the engine stops and removes them.
    let cgroup = match spec.container {
        None => crate::cgroup::StepCgroup::create(),
        Some(_) => None,
    };
    if let Some(cg) = &cgroup {
        let p = crate::clone_into::Process {
            argv: &spec.argv,
            env: &spec.env,
            base_env: spec.base_env.as_deref(),
            cwd: &spec.cwd,
            stdout: out_w.as_fd(),
            stderr: err_w.as_fd(),
        };
        match cg.spawn_inside(&p) {
            Some(Ok(pid)) => return Ok(Spawned { pid, pipes, cgroup }),
            Some(Err(e)) => return Err(ProcessEnd::Error(spawn_error(argv0, &e))),
            // Born outside it: moved in between fork and exec, below.
            None => {}
        }
    }
    let mut cmd = Command::new(argv0);
    if let Some(base) = &spec.base_env {
        cmd.env_clear().envs(base.iter().map(|(k, v)| (k, v)));
    }
    cmd.args(&spec.argv[1..])
        .current_dir(&spec.cwd)
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(out_w)
        .stderr(err_w)
        .process_group(0);
    if let Some(cg) = &cgroup {
        cg.enter_on_spawn(&mut cmd);
    }
    let spawned_child = cmd.spawn();
    // The write ends must close here, or the pipes never reach end-of-file.
    drop(cmd);
    let child = match spawned_child {
        Ok(c) => c,
        Err(e) => return Err(ProcessEnd::Error(spawn_error(argv0, &e))),
    };
    Ok(Spawned {
        pid: child.id() as i32,
        pipes,
        cgroup,
    })
}

/// How long the pipes are still read after the step's process has exited and its group was
/// killed: only a process that left the group (`setsid`) can hold them open that long.
const DRAIN_GRACE: Duration = Duration::from_secs(1);

/// A log file that exists only once something was written to it. After its first error it
/// drops what it is given (the error is reported once).
struct LazyLog {
    path: PathBuf,
    file: Option<File>,
    failed: bool,
}

impl LazyLog {
    fn write(&mut self, bytes: &[u8]) -> Result<(), String> {
        if self.failed {
            return Ok(());
        }
        let r = self.write_through(bytes);
        self.failed = r.is_err();
        r
    }
    fn write_through(&mut self, bytes: &[u8]) -> Result<(), String> {
        let file = match &mut self.file {
            Some(f) => f,
            None => self.file.insert(
                File::create(&self.path)
                    .map_err(|e| format!("cannot create log file {}: {e}", self.path.display()))?,
            ),
        };
        file.write_all(bytes)
            .map_err(|e| format!("cannot write log file {}: {e}", self.path.display()))
    }
}

/// The rest of `run_process` once the process exists: copies the step's two pipes to their
/// log files until both end, then reaps the process. Pipes and exit are watched on tokio's
/// reactor (the exit through a pidfd), so no thread is handed the step: a short step's end
/// reaches the executor without a wake-up of another thread. Once the process has exited, its
/// group is killed, so background children that inherited the pipes cannot keep the step
/// alive, and the pipes are drained for at most `DRAIN_GRACE`. The first log error is
/// reported; reading goes on regardless, so the step never blocks on a full pipe.
async fn pump_and_reap(
    pid: i32,
    pipes: [std::io::PipeReader; 2],
    logs: [PathBuf; 2],
    cgroup: Option<&crate::cgroup::StepCgroup>,
) -> std::io::Result<Reaped> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
    let raw = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    // SAFETY: a non-negative result is a descriptor we now own.
    let pidfd = (raw >= 0).then(|| unsafe { OwnedFd::from_raw_fd(raw as i32) });
    let pidfd = pidfd.and_then(|fd| readable(fd).ok());
    let mut streams = Vec::with_capacity(2);
    for (pipe, path) in pipes.into_iter().zip(logs) {
        let fd = OwnedFd::from(pipe);
        set_nonblocking(&fd)?;
        let log = LazyLog {
            path,
            file: None,
            failed: false,
        };
        streams.push(Some((readable(fd)?, log)));
    }
    let (mut out_buf, mut err_buf) = (vec![0u8; 16 * 1024], vec![0u8; 16 * 1024]);
    let mut log_error = None;
    let mut drain_until: Option<tokio::time::Instant> = None;
    enum Event {
        Read(usize, std::io::Result<usize>),
        Exited,
        DrainOver,
    }
    while streams.iter().any(Option::is_some) {
        let (out, err) = (&streams[0], &streams[1]);
        let event = tokio::select! {
            r = read_some(out, &mut out_buf), if out.is_some() => Event::Read(0, r),
            r = read_some(err, &mut err_buf), if err.is_some() => Event::Read(1, r),
            r = wait_exit(pidfd.as_ref(), pid), if drain_until.is_none() => {
                r?;
                Event::Exited
            }
            // (A disabled branch's future is built but never polled.)
            _ = tokio::time::sleep_until(drain_until.unwrap_or_else(tokio::time::Instant::now)),
                if drain_until.is_some() => Event::DrainOver,
        };
        match event {
            Event::Read(i, Ok(n)) if n > 0 => {
                let bytes = if i == 0 { &out_buf[..n] } else { &err_buf[..n] };
                if let Some((_, log)) = &mut streams[i]
                    && let Err(m) = log.write(bytes)
                {
                    log_error.get_or_insert(m);
                }
            }
            // End of file, or a read error: the stream is over.
            Event::Read(i, _) => streams[i] = None,
            Event::Exited => {
                // The leader is a zombie until reaped, so the group id still names its group;
                // the cgroup also holds what left the group.
                kill_group(pid, libc::SIGKILL);
                if let Some(cg) = cgroup {
                    cg.kill();
                }
                drain_until = Some(tokio::time::Instant::now() + DRAIN_GRACE);
            }
            Event::DrainOver => break,
        }
    }
    if drain_until.is_none() {
        // Both pipes ended first (the step closed them, or its background children write
        // elsewhere): wait for the exit, then the group goes too, as above.
        wait_exit(pidfd.as_ref(), pid).await?;
        kill_group(pid, libc::SIGKILL);
        if let Some(cg) = cgroup {
            cg.kill();
        }
    }
    // The process has exited, so this returns at once.
    let mut reaped = wait4(pid)?;
    reaped.log_error = log_error;
    Ok(reaped)
}

/// Reads what a non-blocking pipe has (0 at its end) once it is readable.
async fn read_some(
    stream: &Option<(AsyncFd<OwnedFd>, LazyLog)>,
    buf: &mut [u8],
) -> std::io::Result<usize> {
    let Some((fd, _)) = stream else {
        return std::future::pending().await;
    };
    loop {
        let mut ready = fd.readable().await?;
        match ready.try_io(|fd| {
            // SAFETY: buf is live and writable for buf.len() bytes; fd is an open pipe.
            let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            if n < 0 {
                Err(std::io::Error::last_os_error())
            } else {
                Ok(n as usize)
            }
        }) {
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Ok(r) => return r,
            // Not readable after all: wait for the next readiness.
            Err(_would_block) => continue,
        }
    }
}

/// Waits until the child `pid` has exited, leaving it unreaped: through its pidfd, or where
/// the kernel has none (before Linux 5.3), by polling every 50 ms.
async fn wait_exit(pidfd: Option<&AsyncFd<OwnedFd>>, pid: i32) -> std::io::Result<()> {
    match pidfd {
        Some(fd) => fd.readable().await.map(drop),
        None => loop {
            if exited(pid)? {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        },
    }
}

/// `fd` watched for readability on tokio's reactor.
fn readable(fd: OwnedFd) -> std::io::Result<AsyncFd<OwnedFd>> {
    // SAFETY: an OwnedFd is open until dropped and always names the same descriptor, and the
    // AsyncFd owns it for its whole life.
    unsafe { AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE) }
        .map_err(std::io::Error::from)
}

fn set_nonblocking(fd: &OwnedFd) -> std::io::Result<()> {
    // SAFETY: fcntl on a descriptor we own, with integer arguments only.
    let ok = unsafe {
        let flags = libc::fcntl(fd.as_raw_fd(), libc::F_GETFL);
        flags >= 0 && libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK) == 0
    };
    if ok {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// Whether the child `pid` has exited, leaving it unreaped so its pid and group id stay its own.
fn exited(pid: i32) -> std::io::Result<bool> {
    loop {
        // SAFETY: an all-zero siginfo_t is a valid value for this plain C struct.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        let flags = libc::WEXITED | libc::WNOWAIT | libc::WNOHANG;
        // SAFETY: pid is our own unreaped child; info points to a live, writable local.
        let r = unsafe { libc::waitid(libc::P_PID, pid as libc::id_t, &mut info, flags) };
        if r == 0 {
            // SAFETY: waitid filled info, or left it zeroed (pid 0: not exited yet).
            return Ok(unsafe { info.si_pid() } != 0);
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// What a container-engine invocation needs besides the step's own command.
#[derive(Clone, Debug)]
pub struct ContainerSpec<'a> {
    pub container: &'a ContainerRef,
    pub image: &'a str,
    /// The step's working directory, mounted at the same absolute path so rendered paths hold
    /// inside.
    pub work_dir: &'a Path,
    /// A script step's source file (outside the working directory), mounted read-only.
    pub script: Option<&'a Path>,
    /// (host directory, container path): where the step's absolute declared paths live
    /// (`crate::paths::container_mounts`).
    pub mounts: &'a [(PathBuf, String)],
    pub env: &'a [(String, String)],
    pub cpu_limit: Option<f64>,
    pub memory_limit_bytes: Option<u64>,
    pub command: &'a [String],
    /// Share the host's network: a daemon step and the steps reading its address meet at
    /// `127.0.0.1`, as host processes do.
    pub host_network: bool,
}

/// The argv that runs a step in `docker` or `podman`.
pub fn container_argv(c: &ContainerSpec<'_>) -> Vec<String> {
    let dir = c.work_dir.to_string_lossy().into_owned();
    let mut argv = vec![
        c.container.engine.clone(),
        "run".into(),
        "--rm".into(),
        "--name".into(),
        c.container.name.clone(),
        "-v".into(),
        format!("{dir}:{dir}"),
        "-w".into(),
        dir,
    ];
    if let Some(f) = c.script {
        let f = f.to_string_lossy();
        argv.push("-v".into());
        argv.push(format!("{f}:{f}:ro"));
    }
    for (host, at) in c.mounts {
        argv.push("-v".into());
        argv.push(format!("{}:{at}", host.display()));
    }
    for (k, v) in c.env {
        argv.push("-e".into());
        argv.push(format!("{k}={v}"));
    }
    if let Some(cpus) = c.cpu_limit {
        argv.push(format!("--cpus={cpus}"));
    }
    if let Some(mem) = c.memory_limit_bytes {
        argv.push(format!("--memory={mem}b"));
    }
    if c.host_network {
        argv.push("--network=host".into());
    }
    if !c.command.is_empty() {
        // --entrypoint takes one word; the rest of the command follows the image.
        argv.push("--entrypoint".into());
        argv.push(c.command[0].clone());
        argv.push(c.image.to_string());
        argv.extend(c.command[1..].iter().cloned());
    } else {
        argv.push(c.image.to_string());
    }
    argv
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_argv_mounts_the_step_dir_and_passes_env() {
        let env = vec![("A".to_string(), "1".to_string())];
        let files = AttemptFiles::numbered(Path::new("/w/steps"), "train", 2);
        let cmd = vec!["python3".to_string(), "/w/steps/train.2.script".to_string()];
        let argv = container_argv(&ContainerSpec {
            container: &ContainerRef::of_step("docker", "r1", "train"),
            image: "python:3.12-slim",
            work_dir: files.work(),
            script: Some(&files.script()),
            mounts: &[(PathBuf::from("/w/steps/train.2/.root/tmp"), "/tmp".into())],
            env: &env,
            cpu_limit: Some(2.0),
            memory_limit_bytes: Some(1024),
            command: &cmd,
            host_network: false,
        });
        assert_eq!(
            argv,
            [
                "docker",
                "run",
                "--rm",
                "--name",
                "couler-r1-train",
                "-v",
                "/w/steps/train.2:/w/steps/train.2",
                "-w",
                "/w/steps/train.2",
                "-v",
                "/w/steps/train.2.script:/w/steps/train.2.script:ro",
                "-v",
                "/w/steps/train.2/.root/tmp:/tmp",
                "-e",
                "A=1",
                "--cpus=2",
                "--memory=1024b",
                "--entrypoint",
                "python3",
                "python:3.12-slim",
                "/w/steps/train.2.script"
            ]
        );
        let daemon = container_argv(&ContainerSpec {
            container: &ContainerRef::of_step("podman", "r1", "db"),
            image: "redis",
            work_dir: files.work(),
            script: None,
            mounts: &[],
            env: &[],
            cpu_limit: None,
            memory_limit_bytes: None,
            command: &[],
            host_network: true,
        });
        assert_eq!(daemon[daemon.len() - 2..], ["--network=host", "redis"]);
    }

    #[test]
    fn an_attempts_logs_and_script_sit_beside_its_working_directory() {
        let f = AttemptFiles::numbered(Path::new("/s/runs/r/steps"), "fit[3]", 1);
        assert_eq!(f.work(), Path::new("/s/runs/r/steps/fit[3].1"));
        assert_eq!(f.stdout(), Path::new("/s/runs/r/steps/fit[3].1.stdout.log"));
        assert_eq!(f.stderr(), Path::new("/s/runs/r/steps/fit[3].1.stderr.log"));
        assert_eq!(f.script(), Path::new("/s/runs/r/steps/fit[3].1.script"));
        assert!(!f.stdout().starts_with(f.work()));
    }

    fn sh(dir: &Path, script: &str) -> ProcessSpec {
        ProcessSpec {
            argv: vec!["sh".into(), "-c".into(), script.into()],
            env: vec![],
            base_env: None,
            cwd: dir.to_path_buf(),
            stdout: dir.join("out.log"),
            stderr: dir.join("err.log"),
            timeout: None,
            container: None,
        }
    }

    async fn run(spec: &ProcessSpec) -> ProcessEnd {
        let (_tx, rx) = watch::channel(false);
        run_process(spec, rx, |_| {}).await
    }

    fn text(p: &Path) -> String {
        std::fs::read_to_string(p).unwrap_or_default()
    }

    fn error_of(end: ProcessEnd) -> String {
        match end {
            ProcessEnd::Error(m) => m,
            other => panic!("expected an error, got {other:?}"),
        }
    }

    /// Whether `pid` runs (a zombie does not: whoever adopted the orphan may not reap it soon).
    fn alive(pid: i32) -> bool {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // The state follows the parenthesised command name.
        stat.rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z') && !rest.starts_with('X'))
    }

    /// A sealed environment: the process sees its base and its own variables, nothing of this
    /// process's (cargo gives a test many `CARGO_*` variables), inherited or not.
    #[tokio::test(flavor = "multi_thread")]
    async fn a_process_with_a_base_environment_sees_nothing_else() {
        let d = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = std::env::var("PATH").unwrap_or_default();
        let mut spec = sh(d.path(), "env | sort");
        spec.base_env = Some(vec![("PATH".into(), path.clone())]);
        spec.env = vec![("COULER_STEP".into(), "s".into())];
        assert!(matches!(
            run(&spec).await,
            ProcessEnd::Exited { code: 0, .. }
        ));
        let names: Vec<String> = text(&spec.stdout)
            .lines()
            .filter_map(|l| l.split_once('=').map(|(k, _)| k.to_string()))
            // What the shell sets itself.
            .filter(|k| !["PWD", "SHLVL", "_", "OLDPWD"].contains(&k.as_str()))
            .collect();
        assert_eq!(names, ["COULER_STEP", "PATH"], "{}", text(&spec.stdout));
        spec.base_env = None;
        assert!(matches!(
            run(&spec).await,
            ProcessEnd::Exited { code: 0, .. }
        ));
        assert!(
            text(&spec.stdout).contains("CARGO_"),
            "inherited: {}",
            text(&spec.stdout)
        );
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_silent_step_leaves_no_log_files_and_a_loud_one_keeps_every_byte() {
        let d = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let quiet = sh(d.path(), "exit 3");
        assert!(matches!(
            run(&quiet).await,
            ProcessEnd::Exited { code: 3, .. }
        ));
        assert!(!quiet.stdout.exists() && !quiet.stderr.exists());
        // 1 MiB on each stream, far past a pipe's buffer, interleaved.
        let loud = sh(
            d.path(),
            "i=0; while [ $i -lt 16 ]; do head -c 65536 /dev/zero | tr '\\0' o; head -c 65536 /dev/zero | tr '\\0' e >&2; i=$((i+1)); done",
        );
        assert!(matches!(
            run(&loud).await,
            ProcessEnd::Exited { code: 0, .. }
        ));
        let out = std::fs::read(&loud.stdout).unwrap_or_default();
        let err = std::fs::read(&loud.stderr).unwrap_or_default();
        assert_eq!(out.len(), 1 << 20);
        assert_eq!(err.len(), 1 << 20);
        assert!(out.iter().all(|&b| b == b'o') && err.iter().all(|&b| b == b'e'));
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn background_children_end_with_the_step_whether_or_not_they_hold_its_pipes() {
        let d = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        for (script, holds_pipes) in [
            ("sleep 60 & echo $! > bg.pid; echo done", true),
            (
                "sleep 60 >/dev/null 2>&1 & echo $! > bg.pid; exec >&- 2>&-; sleep 0.2",
                false,
            ),
        ] {
            let spec = sh(d.path(), script);
            let started = std::time::Instant::now();
            let end = run(&spec).await;
            assert!(matches!(end, ProcessEnd::Exited { code: 0, .. }), "{end:?}");
            // Not the background sleep's 60 s, whether its pipes were held or not.
            assert!(started.elapsed() < Duration::from_secs(20), "{script}");
            let pid: i32 = text(&d.path().join("bg.pid"))
                .trim()
                .parse()
                .unwrap_or_else(|e| panic!("{script}: {e}"));
            let gone = (0..100).any(|_| {
                std::thread::sleep(Duration::from_millis(20));
                !alive(pid)
            });
            assert!(gone, "background child {pid} of `{script}` still runs");
            if holds_pipes {
                assert_eq!(text(&spec.stdout), "done\n");
            }
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_log_that_cannot_be_written_is_an_error_naming_the_file() {
        let d = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let mut spec = sh(d.path(), "echo lost; echo also >&2");
        spec.stdout = d.path().join("no-such-dir").join("out.log");
        let m = error_of(run(&spec).await);
        assert!(
            m.contains("cannot create log file") && m.contains("no-such-dir"),
            "{m}"
        );
        // The other stream was still copied.
        assert_eq!(text(&spec.stderr), "also\n");
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_missing_command_says_what_to_do() {
        let d = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let mut spec = sh(d.path(), "");
        spec.argv = vec!["no-such-command-couler".into()];
        let m = error_of(run(&spec).await);
        assert!(m.contains("not found") && m.contains("install it"), "{m}");
    }

    /// The exit as seen without a pidfd (kernels before 5.3): polled, and left unreaped.
    #[tokio::test(flavor = "multi_thread")]
    async fn without_a_pidfd_the_exit_is_polled_and_left_for_wait4() {
        let child = Command::new("sh")
            .args(["-c", "sleep 0.2; exit 7"])
            .spawn()
            .unwrap_or_else(|e| panic!("{e}"));
        let pid = child.id() as i32;
        drop(child);
        assert!(!exited(pid).unwrap_or(true), "sh exited at once");
        wait_exit(None, pid).await.unwrap_or_else(|e| panic!("{e}"));
        let reaped = wait4(pid).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(exit_code(reaped.status), 7);
    }

    #[test]
    fn runtime_names() {
        assert_eq!(Runtime::parse("podman"), Some(Runtime::Podman));
        assert_eq!(Runtime::parse("lxc"), None);
        assert_eq!(Runtime::Docker.engine(), Some("docker"));
    }
}
