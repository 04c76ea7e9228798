//! The `tune` block of a step: a hyperparameter study over the step's input parameters
//! (docs/spec.md §18, docs/tuning.md). The IR only describes and checks the study; the methods
//! and the lowering into trial steps live in `couler-tune`, above this crate.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A study: run the step for settings of its input parameters drawn from `space`, and publish
/// the setting with the best `objective`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Tune {
    /// The tuned parameters, each one of the step's input parameters.
    pub space: Vec<TuneParam>,
    /// The output parameter to optimise and which way.
    pub objective: Objective,
    /// How many trials (full-fidelity evaluations) the study may run.
    pub budget: u32,
    /// At most this many trials at once; all at once when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallelism: Option<u32>,
    /// An input parameter a multi-fidelity method varies (epochs, say).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fidelity: Option<TuneFidelity>,
    /// The search method.
    #[serde(default)]
    pub method: TuneMethod,
    /// The seed of the method's random numbers: equal seeds propose equal trials.
    #[serde(default)]
    pub seed: u64,
    /// How trials are scheduled: in rounds fixed when the step is lowered (every engine), or
    /// asynchronously, each trial started as a worker frees (the local runtime). Absent:
    /// asynchronous for `asha`, rounds otherwise ([`Tune::asynchronous`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<TuneSchedule>,
    /// What method `llm` asks: the model and the Data and Model Cards. With another method, the
    /// model proposes the study's first trials (a warm start) and the method the rest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub llm: Option<TuneLlm>,
}

/// The language model of method `llm` (the paper's Algorithm 4) and what it is told.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TuneLlm {
    /// `local` (the in-process CPU model), a `FILE.gguf`, or a model name the endpoint serves.
    pub model: String,
    /// The base URL of an OpenAI-compatible API; `$OPENAI_BASE_URL` in the proposer's
    /// environment when absent (the key is always `$OPENAI_API_KEY` there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Candidates shown to the model a round (8 when absent; at least a round's trials).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub candidates: Option<u32>,
    /// The dataset the step trains on.
    pub data_card: DataCard,
    /// The model the step trains.
    pub model_card: ModelCard,
}

/// The dataset a study trains on, as the paper's Data Card describes it. Its keys are written
/// in camelCase (`inputType`) or snake_case (`input_type`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DataCard {
    /// The dataset's name.
    pub name: String,
    /// What one example is: `tabular`, `image`, `text`, ….
    #[serde(alias = "input_type")]
    pub input_type: String,
    /// The labels: `2 classes`, `10 classes (digits)`, `real value`, ….
    #[serde(alias = "label_space")]
    pub label_space: String,
    /// The evaluation metrics usual for it, the first the study's objective.
    pub metrics: Vec<String>,
    /// Anything else a practitioner would want to know (size, balance, features).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// The model a study tunes, as the paper's Model Card describes it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ModelCard {
    /// The model's name.
    pub name: String,
    /// Its structure: `funnel-shaped MLP`, `ResNet-50`, ….
    pub structure: String,
    /// What it is and how it is trained.
    pub description: String,
    /// Its fixed architecture hyperparameters (the tuned ones are the search space's).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub hyperparameters: BTreeMap<String, serde_json::Value>,
}

/// One tuned parameter and its domain.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TuneParam {
    /// The step's input parameter it sets.
    pub name: String,
    /// `float`, `int` or `categorical`.
    #[serde(rename = "type")]
    pub kind: TuneParamType,
    /// The lowest value (`float`, `int`).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "whole_as_integer"
    )]
    pub low: Option<f64>,
    /// The highest value (`float`, `int`).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "whole_as_integer"
    )]
    pub high: Option<f64>,
    /// Spread draws evenly over the logarithm (needs `low > 0`).
    #[serde(default, skip_serializing_if = "crate::model::is_false")]
    pub log: bool,
    /// The choices (`categorical`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<String>,
}

/// The domain of a [`TuneParam`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum TuneParamType {
    /// A real number in `[low, high]`.
    Float,
    /// An integer in `[low, high]`.
    Int,
    /// One of `choices`.
    Categorical,
}

/// What a study optimises.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Objective {
    /// An output parameter of the step; each trial's value must read as a number.
    pub parameter: String,
    /// `minimize` or `maximize`.
    pub goal: Goal,
}

/// Which way an objective is better.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Goal {
    /// Lower is better.
    Minimize,
    /// Higher is better.
    Maximize,
}

/// The fidelity of a multi-fidelity study: an input parameter from `min` to `max` (the full
/// evaluation).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TuneFidelity {
    /// The step's input parameter it sets.
    pub name: String,
    /// The lowest fidelity, above 0.
    #[serde(serialize_with = "whole_as_integer")]
    pub min: f64,
    /// The full fidelity.
    #[serde(serialize_with = "whole_as_integer")]
    pub max: f64,
}

/// How a study's trials are scheduled (docs/tuning.md, "Asynchronous studies").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum TuneSchedule {
    /// Rounds of trials fixed when the step is lowered into plain steps: runs on every engine.
    Rounds,
    /// A trial starts whenever a worker is free and the method is told each result as it
    /// arrives: the local runtime drives the study itself.
    Asynchronous,
}

impl TuneSchedule {
    /// The spec name.
    pub fn name(self) -> &'static str {
        match self {
            TuneSchedule::Rounds => "rounds",
            TuneSchedule::Asynchronous => "asynchronous",
        }
    }
}

/// The search methods of `couler-tune`, by their spec names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum TuneMethod {
    /// Uniform random search.
    Random,
    /// Quasi-random search (a scrambled Sobol' sequence).
    #[default]
    Sobol,
    /// The Tree-structured Parzen Estimator.
    Tpe,
    /// Successive halving.
    Sh,
    /// Hyperband.
    Hyperband,
    /// Asynchronous successive halving.
    Asha,
    /// An LLM reading Data and Model Cards (the paper's Algorithm 4).
    Llm,
}

impl TuneMethod {
    /// The spec name.
    pub fn name(self) -> &'static str {
        match self {
            TuneMethod::Random => "random",
            TuneMethod::Sobol => "sobol",
            TuneMethod::Tpe => "tpe",
            TuneMethod::Sh => "sh",
            TuneMethod::Hyperband => "hyperband",
            TuneMethod::Asha => "asha",
            TuneMethod::Llm => "llm",
        }
    }

    /// Whether the method varies a fidelity.
    pub fn multi_fidelity(self) -> bool {
        matches!(
            self,
            TuneMethod::Sh | TuneMethod::Hyperband | TuneMethod::Asha
        )
    }
}

/// The output holding the best trial's objective value.
pub const BEST_OBJECTIVE: &str = "best_objective";
/// The output holding the best trial's number (from 0, in proposal order).
pub const BEST_TRIAL: &str = "best_trial";

impl Tune {
    /// Whether the study is scheduled asynchronously: by its `schedule`, else by its method
    /// (`asha` promotes as results arrive; the others run in rounds).
    pub fn asynchronous(&self) -> bool {
        match self.schedule {
            Some(s) => s == TuneSchedule::Asynchronous,
            None => self.method == TuneMethod::Asha,
        }
    }

    /// The output parameters a tuned step publishes: `best_NAME` per tuned parameter, then
    /// [`BEST_OBJECTIVE`] and [`BEST_TRIAL`]. Nothing else of the step is readable downstream.
    pub fn outputs(&self) -> Vec<String> {
        self.space
            .iter()
            .map(|p| format!("best_{}", p.name))
            .chain([BEST_OBJECTIVE.to_string(), BEST_TRIAL.to_string()])
            .collect()
    }
}

/// Prints a whole bound as an integer (`40`, not `40.0`), so `int` bounds read as written.
fn whole_as_integer<S: serde::Serializer, T: Into<Option<f64>> + Copy>(
    x: &T,
    s: S,
) -> Result<S::Ok, S::Error> {
    match (*x).into() {
        Some(v) if v.fract() == 0.0 && v.abs() < 9.0e15 => s.serialize_i64(v as i64),
        Some(v) => s.serialize_f64(v),
        None => s.serialize_none(),
    }
}
