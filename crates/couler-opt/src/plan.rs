//! The [`Plan`] an optimisation produces: what it decided, about what, and why. `couler optimize`
//! prints plans; each optimisation is its own type with its own inputs (the caching pass takes
//! recorded figures, splitting needs the target engine's measure), so there is no common trait.

use couler_ir::Workflow;
use std::fmt;

/// One decision of a pass, for people: what, about which subject, and why.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    /// What the decision is about: a step, an artifact (`step/output`), a part.
    pub subject: String,
    /// What the pass decided (`cache`, `evict first`, `part 3`, ...).
    pub action: String,
    /// Why, with the figures that decided it.
    pub reason: String,
}

/// What one pass decided about one workflow.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Plan {
    /// The pass's name.
    pub pass: &'static str,
    /// One line for the whole plan.
    pub summary: String,
    /// The decisions, in the order the pass made them.
    pub decisions: Vec<Decision>,
    /// The workflows after the pass; empty when the pass leaves the workflow as it is.
    pub workflows: Vec<Workflow>,
}

/// Why a pass could not plan.
#[derive(Clone, Debug, PartialEq)]
pub struct PassError {
    /// The pass's name.
    pub pass: &'static str,
    /// What went wrong.
    pub message: String,
}

impl fmt::Display for PassError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.pass, self.message)
    }
}

impl std::error::Error for PassError {}
