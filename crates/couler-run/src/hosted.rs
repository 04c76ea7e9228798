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
