//! # couler-ir
//!
//! The engine-independent intermediate representation (IR) of a Couler workflow, and everything
//! that needs nothing but the IR itself:
//!
//! - [`model`]: the typed DAG of steps (container, script, resource, distributed job,
//!   sub-workflow, suspend) with parameters, artifacts, conditions, maps, loops and policies;
//! - [`expr`]: typed references between steps, `{{…}}` string templates and condition ASTs;
//! - [`spec`]: the versioned YAML/JSON spec format, strict, with line/column diagnostics, and
//!   deterministic printing (IR → spec → IR is exact, and equal IR prints equal bytes);
//! - [`validate`]: semantic checks with a fix for every problem;
//! - [`graph`]: dependency edges, topological order, levels, cycles and critical path, all linear;
//! - [`tune`]: a step's hyperparameter study (`tune`), described and checked;
//! - [`memo`]: which steps are memoized, the one caching rule of every engine;
//! - [`launch_protocol`]: how an engine's task hands a step to the in-task launcher (`couler
//!   launch`) and reads its outcome: the task, its forms, the environment, the exit codes.
//!
//! Invariants: no I/O, no async, no engine-specific strings. Front ends produce a [`Workflow`];
//! passes and backends consume one that [`validate`] accepted.

#![deny(missing_docs)]

pub mod comments;
pub mod cron;
pub mod diag;
pub mod expr;
pub mod fields;
pub mod graph;
pub mod launch_protocol;
pub mod memo;
pub mod model;
pub mod spec;
pub mod tune;
pub mod validate;
pub mod value;
pub mod zoo;

pub use diag::{Diagnostic, Location, Severity};
pub use expr::{
    CmpOp, Expr, Literal, Reference, Segment, StepOutput, Template, WorkflowField, value_text,
};
pub use graph::{Cycle, Graph};
pub use memo::Memo;
pub use model::*;
pub use spec::Format;
pub use validate::validate;
pub use value::{Duration, Quantity};
