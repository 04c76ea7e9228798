//! `couler-history`: learning from history (docs/history.md).
//!
//! Every step execution is recorded with its features (template, image, input sizes, parameter
//! values, map size, machine) and its outcome (duration, peak memory, CPU time, exit reason):
//! by the local runtime at each step's end and from WfCommons traces. Predictors behind one
//! trait ([`predict::Predictor`]) forecast a step's duration and memory from that history; the
//! ETA of a run, `couler optimize --rightsize` and `couler predict eval` use them.
//!
//! - [`record`]: the vocabulary (an [`Execution`], its [`StepFeatures`], a [`Target`]).
//! - [`store`]: the SQLite table of executions (`STATE_DIR/history.db`).
//! - [`histogram`]: exponentially decayed histograms (VPA-style).
//! - [`predict`]: the [`predict::Predictor`] trait, the per-template baseline and the learned
//!   model.
//! - [`critical`]: a workflow's predicted step medians and remaining paths (the ETA's input
//!   and critical-path-first dispatch's priorities).
//! - [`eta`]: a run's estimated time to finish (critical path over predicted durations).
//! - [`eval`]: training on some traces, testing on others.
//!
//! The crate sits just above `couler-ir`: the runtime (`couler-run`) and the WfFormat front end
//! depend on it, it depends on neither.

pub mod critical;
pub mod eta;
pub mod eval;
pub mod histogram;
pub mod predict;
pub mod record;
pub mod store;

pub use record::{Execution, StepFeatures, Target};
pub use store::{History, HistoryError};
