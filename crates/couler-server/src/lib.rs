//! # couler-server
//!
//! `couler server`: Couler as a shared service (docs/server.md). An HTTP API under `/api/v1`
//! ([`api`]) accepts workflow submissions, records them in a metadata database ([`store`])
//! before answering, and a bounded worker pool ([`pool`]) runs them on the embedded local
//! runtime through `couler_run::Host`: the same executor and step core as `couler run`, in one
//! state directory the server holds. Run and step status are read from that runtime's state.
//! Bearer tokens map to users with roles per namespace ([`auth`]); every mutating request is
//! appended to an audit log. The web UI is served at `/` from assets embedded at compile time
//! ([`web`]).

pub mod api;
pub mod auth;
pub mod cli;
pub mod config;
pub mod events;
pub mod pool;
pub mod queue;
pub mod retry;
pub mod store;
pub mod submission;
pub mod tls;
pub mod web;

/// A line on standard error, prefixed `couler server: `; a closed stream drops it (SIGPIPE is
/// ignored in the server, so `eprintln!` would panic there).
pub(crate) fn log(line: std::fmt::Arguments) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "couler server: {line}");
}
