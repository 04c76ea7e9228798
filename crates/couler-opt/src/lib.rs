//! `couler-opt`: optimisation passes over Couler's engine-independent IR.
//!
//! Each optimisation reads a validated [`couler_ir::Workflow`] with the inputs it needs (the
//! caching pass: recorded runtimes and sizes; splitting: the target engine's measure of each
//! step) and reports a [`plan::Plan`]: what it decided, about which step or artifact, and why.
//! `couler optimize FILE` prints the caching pass's plan; `couler split` and `couler compile`
//! drive splitting. The pass layer reads no front end: the simulator's input ([`cache::SimInput`])
//! is built by the front end (WfFormat traces) or from a workflow and handed down.
//!
//! - [`cache`]: artifact caching under a storage budget with the paper's cost model (§IV.A),
//!   the baseline policies it is measured against, and the trace-replay simulator.
//! - [`rightsize`]: each step's resources from its history's high percentile plus a margin
//!   (`couler optimize --rightsize`).
//! - [`split`]: splitting a workflow too big for an engine into parts (§IV.B, Algorithm 3).

pub mod cache;
pub mod plan;
pub mod rightsize;
pub mod split;
