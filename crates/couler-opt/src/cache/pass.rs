//! The caching pass: which step outputs the couler policy would keep under a budget, and
//! why. It replays the workflow's own DAG through the simulator ([`super::Replay`]) with
//! recorded runtimes and sizes where given ([`Recorded`]) and estimates elsewhere
//! ([`ESTIMATED_RUNTIME_SECS`], [`ESTIMATED_BYTES`]); each decision says which it used.

use super::model::{SimFile, SimInput, SimTask};
use super::policy::{CacheState, CoulerParams, PolicyKind, couler_score};
use super::sim::{Replay, SimConfig};
use crate::plan::{Decision, PassError, Plan};
use couler_ir::{ArtifactSource, Graph, Reference, StepOutput, Workflow};
use std::collections::HashMap;

/// Runtime assumed for a step with no recorded duration.
pub const ESTIMATED_RUNTIME_SECS: f64 = 60.0;
/// Size assumed for an output artifact with no recorded size.
pub const ESTIMATED_BYTES: f64 = 1_048_576.0;

/// Durations and sizes measured by earlier runs.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Recorded {
    /// Step name → seconds.
    pub runtimes: HashMap<String, f64>,
    /// `step/artifact` → bytes.
    pub sizes: HashMap<String, f64>,
}

/// The caching pass.
#[derive(Clone, Debug, PartialEq)]
pub struct CachePass {
    /// Cache size in bytes; `None` is unbounded.
    pub budget: Option<f64>,
    pub params: CoulerParams,
    pub slots: usize,
    pub recorded: Recorded,
}

impl Default for CachePass {
    fn default() -> Self {
        CachePass {
            budget: None,
            params: CoulerParams::default(),
            slots: 4,
            recorded: Recorded::default(),
        }
    }
}

impl CachePass {
    /// The pass's name in plans and errors.
    pub const NAME: &'static str = "cache";

    /// The simulator's input for `wf`: its steps as tasks and each artifact a step reads as a
    /// file, with the recorded runtimes and sizes where known, else estimates.
    fn sim_input(&self, wf: &Workflow) -> Result<SimInput, PassError> {
        let graph = Graph::new(wf);
        let index: HashMap<&str, usize> = wf
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| (s.name.as_str(), i))
            .collect();
        let tasks: Vec<SimTask> = wf
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| SimTask {
                name: s.name.clone(),
                runtime: self
                    .recorded
                    .runtimes
                    .get(&s.name)
                    .copied()
                    .unwrap_or(ESTIMATED_RUNTIME_SECS),
                parents: graph.predecessors(i).to_vec(),
            })
            .collect();
        let mut files: Vec<SimFile> = Vec::new();
        let mut file_index: HashMap<String, usize> = HashMap::new();
        for (i, step) in wf.steps.iter().enumerate() {
            for input in &step.inputs.artifacts {
                let Some(ArtifactSource::From(Reference::Step {
                    step: from,
                    output: StepOutput::Artifact(name),
                })) = &input.source
                else {
                    continue;
                };
                let Some(&p) = index.get(from.as_str()) else {
                    continue;
                };
                let key = format!("{from}/{name}");
                let fi = *file_index.entry(key.clone()).or_insert_with(|| {
                    files.push(SimFile {
                        size: self
                            .recorded
                            .sizes
                            .get(&key)
                            .copied()
                            .unwrap_or(ESTIMATED_BYTES),
                        name: key,
                        producer: p,
                        consumers: Vec::new(),
                    });
                    files.len() - 1
                });
                files[fi].consumers.push(i);
            }
        }
        SimInput::new(wf.name.clone(), tasks, files).map_err(|e| PassError {
            pass: Self::NAME,
            message: e.to_string(),
        })
    }

    /// Which outputs of `wf` the couler policy would keep under the budget, and why.
    pub fn plan(&self, wf: &Workflow) -> Result<Plan, PassError> {
        let input = self.sim_input(wf)?;
        let budget = self.budget.unwrap_or(f64::INFINITY);
        let config = SimConfig {
            slots: self.slots,
            seed: 0,
            params: self.params,
        };
        let replay = Replay::new(&input, config);
        let kind = if budget.is_finite() {
            PolicyKind::Couler
        } else {
            PolicyKind::All
        };
        let result = replay.run(kind, budget);
        let mut before = CacheState::initial(&input, budget);
        let mut decisions = Vec::new();
        for (f, file) in input.files.iter().enumerate() {
            let producer = &input.tasks[file.producer].name;
            let measured = |known: bool| if known { "recorded" } else { "estimated" };
            let secs_known = self.recorded.runtimes.contains_key(producer);
            let size_known = self.recorded.sizes.contains_key(&file.name);
            let score = couler_score(self.params, f, &mut before);
            let action = if result.bypassed_files.contains(&f) {
                "do not cache"
            } else if result.evicted.contains(&f) {
                "cache, evicted later"
            } else {
                "cache"
            };
            decisions.push(Decision {
                subject: file.name.clone(),
                action: action.to_string(),
                reason: format!(
                    "I(u) = {score:.3} before the run: {} read(s), producer {} s ({}), {} bytes ({})",
                    file.consumers.len(),
                    input.tasks[file.producer].runtime,
                    measured(secs_known),
                    file.size,
                    measured(size_known),
                ),
            });
        }
        let budget_text = match self.budget {
            Some(b) => format!("{b} bytes"),
            None => "unbounded".to_string(),
        };
        Ok(Plan {
            pass: Self::NAME,
            summary: format!(
                "{} intermediate artifact(s), {} bytes; cache {budget_text}: {} hit(s) of {} read(s), {:.1} of {:.1} rebuild seconds avoided (policy {})",
                input.files.len(),
                input.intermediate_bytes(),
                result.hits,
                result.reads,
                result.recompute_avoided_secs,
                replay.baseline_secs(),
                result.policy
            ),
            decisions,
            workflows: Vec::new(),
        })
    }
}
