//! `couler-opt`: optimisation passes over Couler's engine-independent IR.
//!
//! A pass ([`pass::Pass`]) reads a validated [`couler_ir::Workflow`] and produces a
//! [`pass::Plan`]: what it decided, about which step or artifact, and why; passes that rewrite
//! the workflow (splitting) also return the rewritten workflows. `couler optimize FILE` prints
//! the plans of every pass.
//!
//! - [`cache`]: artifact caching under a storage budget with the paper's cost model (§IV.A),
//!   the baseline policies it is measured against, and the trace-replay simulator.
//! - [`split`]: splitting a workflow too big for an engine into parts (§IV.B, Algorithm 3).

pub mod cache;
pub mod pass;
pub mod split;
