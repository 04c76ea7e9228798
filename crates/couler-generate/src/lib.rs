//! Natural language to workflow (docs/generate.md, the paper's §III): a description is
//! decomposed into sub-tasks, each sub-task's closest Code Lake entries are retrieved, the model
//! writes each sub-task's steps, the steps are assembled into one spec, and the spec is
//! calibrated against the validator and the target's compiler, then (on request) revised with
//! the user's comments. Every exchange with the model is logged for audit and replay.
//!
//! The model client (chat models, the exchange log, replay) is the crate `couler-model`.

pub mod answer;
pub mod assemble;
pub mod calibrate;
pub mod decompose;
pub mod eval;
pub mod feedback;
pub mod generate;
pub mod lake;
pub mod pipeline;
pub mod prompts;
pub mod retrieve;
pub mod schema;
