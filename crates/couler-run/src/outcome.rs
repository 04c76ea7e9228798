//! The step vocabulary every driver of the step core speaks: a step's [`StepStatus`], what it
//! produced ([`StepOutputs`]) and the [`Outcome`] that carries both with a message. The local
//! executor records outcomes in SQLite (`state`), the in-task launcher prints them for an
//! engine (docs/launcher.md, "Outcomes"); neither meaning depends on where it is kept, so this
//! module depends on nothing but the artifact reference.

use crate::artifacts::ArtifactRef;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The status of a step (or map instance).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum StepStatus {
    Pending,
    Running,
    Succeeded,
    Failed,
    Error,
    Skipped,
    /// Outputs restored from the memoization cache; nothing ran.
    Cached,
    /// Not run because a step it needs failed, or the run was stopped.
    Omitted,
}

impl StepStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            StepStatus::Pending => "Pending",
            StepStatus::Running => "Running",
            StepStatus::Succeeded => "Succeeded",
            StepStatus::Failed => "Failed",
            StepStatus::Error => "Error",
            StepStatus::Skipped => "Skipped",
            StepStatus::Cached => "Cached",
            StepStatus::Omitted => "Omitted",
        }
    }
    pub fn parse(s: &str) -> Option<StepStatus> {
        Some(match s {
            "Pending" => StepStatus::Pending,
            "Running" => StepStatus::Running,
            "Succeeded" => StepStatus::Succeeded,
            "Failed" => StepStatus::Failed,
            "Error" => StepStatus::Error,
            "Skipped" => StepStatus::Skipped,
            "Cached" => StepStatus::Cached,
            "Omitted" => StepStatus::Omitted,
            _ => return None,
        })
    }
    /// Finished and counts as done: what `resume` keeps.
    pub fn is_kept(self) -> bool {
        matches!(
            self,
            StepStatus::Succeeded | StepStatus::Skipped | StepStatus::Cached
        )
    }
    pub fn is_failure(self) -> bool {
        matches!(self, StepStatus::Failed | StepStatus::Error)
    }
}

/// What a finished step produced, as stored (and as restored by the cache and `resume`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StepOutputs {
    pub parameters: BTreeMap<String, String>,
    pub result: Option<String>,
    pub exit_code: Option<i32>,
    pub artifacts: BTreeMap<String, ArtifactRef>,
    /// Runs of a `repeat` step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iterations: Option<u32>,
}

/// What a step (or one map instance) ended with: what readers see of it (`steps.S.…`), what
/// the executor records and what the launcher reports (docs/launcher.md, "Outcomes").
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub status: StepStatus,
    #[serde(default)]
    pub outputs: StepOutputs,
    #[serde(default)]
    pub message: Option<String>,
}

impl Outcome {
    /// An outcome without outputs.
    pub fn new(status: StepStatus, message: impl Into<Option<String>>) -> Outcome {
        Outcome {
            status,
            outputs: StepOutputs::default(),
            message: message.into(),
        }
    }

    /// An outcome with outputs and no message.
    pub fn with_outputs(status: StepStatus, outputs: StepOutputs) -> Outcome {
        Outcome {
            status,
            outputs,
            message: None,
        }
    }
}
