//! One recorded step execution: its features and its outcome.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What a prediction is made from: everything known about a step before it runs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StepFeatures {
    /// The step's template: the runtime's hash of its unrendered definition
    /// (`couler_run::template_key`), or `wfformat:<program>` for a trace's task.
    pub template: String,
    /// The step's name in its workflow (a trace's task id).
    pub step: String,
    /// The container image, when there is one.
    pub image: Option<String>,
    /// Total bytes of the step's input artifacts (a trace task's input files).
    pub input_bytes: u64,
    /// Input parameter values, as rendered.
    pub params: BTreeMap<String, String>,
    /// How many items the step's `map` has, when it is a mapped instance.
    pub map_items: Option<u64>,
    /// Where it ran (host name, a trace's machine).
    pub machine: String,
}

/// What a prediction is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    /// Wall-clock seconds.
    Duration,
    /// Peak resident memory, bytes.
    Memory,
    /// Average cores used (CPU seconds / wall-clock seconds).
    Cpu,
}

impl Target {
    /// Every target, in a fixed order.
    pub const ALL: [Target; 3] = [Target::Duration, Target::Memory, Target::Cpu];

    /// The target's name (`duration`, `memory`, `cpu`).
    pub fn name(self) -> &'static str {
        match self {
            Target::Duration => "duration",
            Target::Memory => "memory",
            Target::Cpu => "cpu",
        }
    }
}

/// One step execution: where it came from, its features and its outcome.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Execution {
    /// Where the record came from: `run:<run id>` or `trace:<file name>`.
    pub source: String,
    /// The workflow's name.
    pub workflow: String,
    #[serde(flatten)]
    pub features: StepFeatures,
    /// When it ended, seconds since the Unix epoch. A trace's tasks all carry the time they
    /// were imported: traces have no per-task clock the decay could use.
    pub finished_at: f64,
    /// Wall-clock seconds.
    pub duration_s: f64,
    /// Peak resident memory in bytes, when measured.
    pub peak_rss_bytes: Option<u64>,
    /// CPU seconds (user + system), when measured.
    pub cpu_seconds: Option<f64>,
    /// How it ended: `succeeded`, `timeout`, `stopped`, `exit N`, `failed`, `error`.
    pub exit_reason: String,
    pub succeeded: bool,
}

impl Execution {
    /// The execution's value of `target`, when it was measured (and is a positive number).
    pub fn value(&self, target: Target) -> Option<f64> {
        let v = match target {
            Target::Duration => Some(self.duration_s),
            Target::Memory => self.peak_rss_bytes.map(|b| b as f64),
            Target::Cpu => match self.cpu_seconds {
                Some(c) if self.duration_s > 0.0 => Some(c / self.duration_s),
                _ => None,
            },
        };
        v.filter(|v| v.is_finite() && *v > 0.0)
    }
}
