//! What the local-runtime commands (`run`, `resume`, `runs`, `status`, `logs`, `stop`, `cache`)
//! share: the state directory flag, opening an existing state, the output format and the async
//! runtime.

use crate::say::tell;
use clap::{Args, ValueEnum};
use couler_run::{Error, State};
use std::path::{Path, PathBuf};

/// How a local-runtime command prints.
#[derive(Clone, Copy, ValueEnum, PartialEq, Eq, Default)]
pub enum Output {
    #[default]
    Text,
    Json,
}

/// `--state-dir`.
#[derive(Args)]
pub struct StateArg {
    /// State directory (runs, logs, artifacts, cache) [default: $COULER_STATE_DIR or .couler]
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
}

impl StateArg {
    /// Whether `--state-dir` was given (it then wins over `COULER_SERVER`).
    pub(crate) fn given(&self) -> bool {
        self.state_dir.is_some()
    }

    pub(crate) fn dir(&self) -> PathBuf {
        self.state_dir
            .clone()
            .unwrap_or_else(couler_run::default_state_dir)
    }
}

/// The multi-threaded async runtime, or `None` after saying why it cannot start.
pub(crate) fn tokio_rt() -> Option<tokio::runtime::Runtime> {
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => Some(rt),
        Err(e) => {
            tell!("error: cannot start the async runtime: {e}");
            None
        }
    }
}

/// Opens an existing state directory for reading (does not create one).
pub(crate) fn open_existing(dir: &Path) -> Result<State, Error> {
    if !dir.join("state.db").exists() {
        return Err(Error::Invalid(format!(
            "{} holds no Couler state (no runs yet; `couler run` creates it)",
            dir.display()
        )));
    }
    State::open(dir)
}
