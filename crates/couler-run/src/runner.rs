//! Running one attempt of a step as a process: the host runner, and the argv of the container
//! runner (`--runtime docker|podman`).
//!
//! Each attempt runs in its own process group (`process_group(0)`), so a timeout, `couler stop`
//! or Ctrl-C stops the whole tree the step started, not just its first process. The process is
//! reaped with `wait4`, which also gives its peak RSS and CPU time (its own and its waited-for
//! children's).

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;
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
    /// Added to the inherited environment.
    pub env: Vec<(String, String)>,
    pub cwd: PathBuf,
    pub stdout: PathBuf,
    pub stderr: PathBuf,
    pub timeout: Option<Duration>,
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
    /// It could not start (no such command, not executable, …).
    SpawnFailed(String),
}

/// How long a stopped step gets between SIGTERM and SIGKILL.
pub const STOP_GRACE: Duration = Duration::from_secs(5);

struct Reaped {
    status: i32,
    rss_kb: i64,
    cpu: f64,
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
/// `spawned` receives the process group id as soon as the process exists, so the caller can
/// record it (and a later `resume` can stop a group that a killed executor left behind).
pub async fn run_process(
    spec: &ProcessSpec,
    mut stop: watch::Receiver<bool>,
    spawned: Option<tokio::sync::oneshot::Sender<i32>>,
) -> ProcessEnd {
    let Some(argv0) = spec.argv.first() else {
        return ProcessEnd::SpawnFailed("the step has no command to run".to_string());
    };
    let open = |p: &Path| {
        File::create(p).map_err(|e| format!("cannot create log file {}: {e}", p.display()))
    };
    let (out, err) = match (open(&spec.stdout), open(&spec.stderr)) {
        (Ok(o), Ok(e)) => (o, e),
        (Err(m), _) | (_, Err(m)) => return ProcessEnd::SpawnFailed(m),
    };
    let mut cmd = Command::new(argv0);
    cmd.args(&spec.argv[1..])
        .current_dir(&spec.cwd)
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err))
        .process_group(0);
    let child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return ProcessEnd::SpawnFailed(spawn_error(argv0, &e)),
    };
    let pid = child.id() as i32;
    if let Some(tx) = spawned {
        let _ = tx.send(pid);
    }
    // `child` is dropped without waiting: wait4 below reaps it and reads its resource use.
    drop(child);
    let mut reaper = tokio::task::spawn_blocking(move || wait4(pid));
    let timeout = async {
        match spec.timeout {
            Some(t) => tokio::time::sleep(t).await,
            None => std::future::pending().await,
        }
    };
    let stopped = async {
        loop {
            if *stop.borrow_and_update() {
                return;
            }
            if stop.changed().await.is_err() {
                // The sender is gone: nobody can stop us any more.
                std::future::pending::<()>().await;
            }
        }
    };
    enum Why {
        Done(std::io::Result<Reaped>),
        Timeout,
        Stop,
    }
    let why = tokio::select! {
        r = &mut reaper => Why::Done(r.unwrap_or_else(|e| Err(std::io::Error::other(e.to_string())))),
        _ = timeout => Why::Timeout,
        _ = stopped => Why::Stop,
    };
    let reaped = match why {
        Why::Done(r) => {
            // Anything the step left running in the background goes with it.
            kill_group(pid, libc::SIGKILL);
            r
        }
        Why::Timeout | Why::Stop => {
            kill_group(pid, libc::SIGTERM);
            let r = match tokio::time::timeout(STOP_GRACE, &mut reaper).await {
                Ok(r) => r,
                Err(_) => {
                    kill_group(pid, libc::SIGKILL);
                    reaper.await
                }
            };
            kill_group(pid, libc::SIGKILL);
            let r = r.unwrap_or_else(|e| Err(std::io::Error::other(e.to_string())));
            if matches!(why, Why::Stop) {
                return ProcessEnd::Stopped;
            }
            return match r {
                Ok(x) => ProcessEnd::TimedOut {
                    peak_rss_kb: x.rss_kb,
                    cpu_seconds: x.cpu,
                },
                Err(_) => ProcessEnd::TimedOut {
                    peak_rss_kb: 0,
                    cpu_seconds: 0.0,
                },
            };
        }
    };
    match reaped {
        Ok(r) => ProcessEnd::Exited {
            code: exit_code(r.status),
            peak_rss_kb: r.rss_kb,
            cpu_seconds: r.cpu,
        },
        Err(e) => ProcessEnd::SpawnFailed(format!("cannot wait for `{argv0}`: {e}")),
    }
}

/// What a container-engine invocation needs besides the step's own command.
#[derive(Clone, Debug)]
pub struct ContainerSpec<'a> {
    pub engine: &'a str,
    pub name: &'a str,
    pub image: &'a str,
    /// The step's working directory, mounted at the same absolute path so rendered paths hold
    /// inside.
    pub work_dir: &'a Path,
    /// A script step's source file (outside the working directory), mounted read-only.
    pub script: Option<&'a Path>,
    pub env: &'a [(String, String)],
    pub cpu_limit: Option<f64>,
    pub memory_limit_bytes: Option<u64>,
    pub command: &'a [String],
}

/// The argv that runs a step in `docker` or `podman`.
pub fn container_argv(c: &ContainerSpec<'_>) -> Vec<String> {
    let dir = c.work_dir.to_string_lossy().into_owned();
    let mut argv = vec![
        c.engine.to_string(),
        "run".into(),
        "--rm".into(),
        "--name".into(),
        c.name.to_string(),
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
            engine: "docker",
            name: "couler-r1-train",
            image: "python:3.12-slim",
            work_dir: files.work(),
            script: Some(&files.script()),
            env: &env,
            cpu_limit: Some(2.0),
            memory_limit_bytes: Some(1024),
            command: &cmd,
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

    #[test]
    fn runtime_names() {
        assert_eq!(Runtime::parse("podman"), Some(Runtime::Podman));
        assert_eq!(Runtime::parse("lxc"), None);
        assert_eq!(Runtime::Docker.engine(), Some("docker"));
    }
}
