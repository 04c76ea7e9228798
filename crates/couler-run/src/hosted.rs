//! Runs hosted by a long-lived process that owns one state directory for its lifetime (the
//! server, `couler server`): the directory's lock is taken once, runs start concurrently under
//! ids the host chose (so it can record a run before it starts and find it again after a
//! crash), and are resumed and forgotten under that same lock. The step core, the executor and
//! the state are those of `couler run`; only who holds the lock differs.

use crate::{Error, Lock, RunOptions, RunReport, State};
use couler_ir::Workflow;
use std::path::{Path, PathBuf};

/// A state directory held for the host's lifetime.
pub struct Host {
    dir: PathBuf,
    lock: Lock,
}

impl Host {
    /// Takes `dir`'s lock (refused while another `couler` holds it) and creates or migrates its
    /// state database.
    pub fn open(dir: &Path) -> Result<Host, Error> {
        let lock = Lock::acquire(dir)?;
        State::open(dir)?;
        Ok(Host {
            dir: dir.to_path_buf(),
            lock,
        })
    }

    /// The state directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A reader (and writer) of the state database.
    pub fn state(&self) -> Result<State, Error> {
        State::open(&self.dir)
    }

    /// Runs `wf` as run `run_id`, which must be new in this directory; `opts.state_dir` is
    /// replaced by the host's.
    pub async fn run(
        &self,
        wf: &Workflow,
        run_id: &str,
        opts: RunOptions,
    ) -> Result<RunReport, Error> {
        if self.state()?.run(run_id)?.is_some() {
            return Err(Error::Invalid(format!(
                "run `{run_id}` already exists in {}; resume it instead",
                self.dir.display()
            )));
        }
        let opts = self.options(opts);
        crate::start_run(wf, opts, None, run_id.to_string(), Some(&self.lock)).await
    }

    /// Resumes run `run_id` as `couler resume` does (finished steps are kept).
    pub async fn resume(&self, run_id: &str, opts: RunOptions) -> Result<RunReport, Error> {
        let opts = self.options(opts);
        crate::resume_under(run_id, opts, None, None, Some(&self.lock)).await
    }

    /// Forgets a run that is not running, as `couler runs rm` does.
    pub async fn forget(&self, run_id: &str) -> Result<Vec<String>, Error> {
        crate::forget::forget_under(&self.dir, run_id, Some(&self.lock)).await
    }

    fn options(&self, opts: RunOptions) -> RunOptions {
        RunOptions {
            state_dir: self.dir.clone(),
            ..opts
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RunStatus;

    fn options(dir: &Path) -> (tokio::sync::watch::Sender<bool>, RunOptions) {
        let (tx, stop) = tokio::sync::watch::channel(false);
        let opts = RunOptions {
            use_cache: false,
            ..RunOptions::new(dir.to_path_buf(), stop)
        };
        (tx, opts)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_host_runs_two_runs_at_once_under_its_ids_and_keeps_others_out() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let wf = couler_ir::spec::parse(
            "apiVersion: couler.dev/v1alpha1\nkind: Workflow\nname: w\nsteps:\n- name: s\n  container:\n    command: [sleep, '0.3']\n",
            couler_ir::Format::Yaml,
        )
        .unwrap_or_else(|e| panic!("{e:?}"));
        let host = Host::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        let Err(Error::Locked(_)) = Host::open(dir.path()) else {
            panic!("a second host got the directory");
        };
        let ((_a, oa), (_b, ob)) = (options(dir.path()), options(dir.path()));
        let (ra, rb) = tokio::join!(host.run(&wf, "w-one", oa), host.run(&wf, "w-two", ob));
        let (ra, rb) = (
            ra.unwrap_or_else(|e| panic!("{e}")),
            rb.unwrap_or_else(|e| panic!("{e}")),
        );
        assert_eq!((ra.run_id.as_str(), rb.run_id.as_str()), ("w-one", "w-two"));
        assert_eq!(
            (ra.status, rb.status),
            (RunStatus::Succeeded, RunStatus::Succeeded)
        );
        let state = host.state().unwrap_or_else(|e| panic!("{e}"));
        // The recorded step times overlap: each step started before the other ended.
        let span = |run: &str| {
            let steps = state.steps(run).unwrap_or_else(|e| panic!("{e}"));
            (
                steps[0].started_at.unwrap_or(f64::MAX),
                steps[0].finished_at.unwrap_or(0.0),
            )
        };
        let (a, b) = (span("w-one"), span("w-two"));
        assert!(
            a.0 < b.1 && b.0 < a.1,
            "the runs did not overlap: {a:?} {b:?}"
        );
        let rec = state.run("w-one").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(rec.map(|r| r.status).as_deref(), Some("Succeeded"));
        let Err(Error::Invalid(m)) = host.run(&wf, "w-one", options(dir.path()).1).await else {
            panic!("a run id was used twice");
        };
        assert!(m.contains("already exists"), "{m}");
        assert_eq!(
            host.forget("w-two").await.unwrap_or_else(|e| panic!("{e}")),
            ["w-two"]
        );
    }
}
