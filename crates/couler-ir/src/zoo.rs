//! The step zoo: reusable, typed step templates shipped inside the binary (`zoo/*.yaml` at the
//! repository root), used from a spec as `uses: zoo/NAME@VERSION` with `with:` values.
//!
//! An entry is a step fragment plus its interface: typed parameters, input artifacts bound by
//! `with:` to an artifact reference, and declared outputs. [`expand`] turns every step that
//! `uses` an entry into the ordinary step it stands for before the spec is read, so
//! validation, `couler fmt`, every backend and the runtime see nothing new. The one rule of how
//! values reach the step's code: a parameter `n_estimators` is the environment variable
//! `N_ESTIMATORS`, an input artifact `train` is `IN_TRAIN` (its path), an output `score` is
//! `OUT_SCORE` (the path to write); the step body never has values pasted into its source.

use crate::model::ParamType;
use serde::{Deserialize, Serialize};
use std::sync::OnceLock;

pub mod doc;
mod expand;
mod keep;

pub use expand::{Renames, expand, rename};
pub use keep::keep_uses;

/// The text of every entry, in name order.
const SOURCES: &[(&str, &str)] = &[
    ("container", include_str!("../../../zoo/container.yaml")),
    ("evaluate", include_str!("../../../zoo/evaluate.yaml")),
    ("publish", include_str!("../../../zoo/publish.yaml")),
    ("read-csv", include_str!("../../../zoo/read-csv.yaml")),
    (
        "read-sql-table",
        include_str!("../../../zoo/read-sql-table.yaml"),
    ),
    ("script", include_str!("../../../zoo/script.yaml")),
    ("select-best", include_str!("../../../zoo/select-best.yaml")),
    ("split", include_str!("../../../zoo/split.yaml")),
    (
        "train-gradient-boosting",
        include_str!("../../../zoo/train-gradient-boosting.yaml"),
    ),
    (
        "train-logistic-regression",
        include_str!("../../../zoo/train-logistic-regression.yaml"),
    ),
    (
        "train-random-forest",
        include_str!("../../../zoo/train-random-forest.yaml"),
    ),
];

/// What an entry is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Category {
    /// Reads data in.
    Data,
    /// Reshapes data.
    Transform,
    /// Fits a model.
    Train,
    /// Scores a model.
    Evaluate,
    /// Chooses among models.
    Select,
    /// Ships a result.
    Publish,
    /// Runs what the user gives it.
    Generic,
}

/// One step template of the zoo.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Entry {
    /// A DNS-1123 name, used as `zoo/NAME@VERSION`.
    pub name: String,
    /// Bumped whenever the interface or the behaviour changes.
    pub version: u32,
    /// What the entry is for.
    pub category: Category,
    /// One line.
    pub description: String,
    /// The values `with:` sets.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub params: Vec<EntryParam>,
    /// Input artifacts, each bound by `with:` to an artifact reference.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inputs: Vec<EntryInput>,
    /// What the step produces.
    #[serde(default)]
    pub outputs: EntryOutputs,
    /// The step body in spec form (`script` or `container`, `env`); `'{{with.NAME}}'` as a
    /// whole value is replaced by that parameter's value.
    pub step: serde_json::Value,
}

/// A typed parameter of an entry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EntryParam {
    /// An identifier (letters, digits, `_`).
    pub name: String,
    /// The type `with:` values are checked against (the spec's param types).
    #[serde(rename = "type", default)]
    pub ty: ParamType,
    /// The value when `with:` does not set it; without one the parameter is required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<serde_json::Value>,
    /// What it does.
    pub description: String,
}

/// An input artifact of an entry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EntryInput {
    /// Its name, also the `with:` key that binds it.
    pub name: String,
    /// Where the step finds it, relative to its working directory.
    pub path: String,
    /// Whether `with:` gives a list of references (the step reads a JSON list of paths).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub list: bool,
    /// What it holds.
    pub description: String,
}

/// The outputs of an entry.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EntryOutputs {
    /// Output parameters (small strings).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<EntryOutput>,
    /// Output artifacts (files).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub artifacts: Vec<EntryOutput>,
}

/// One output of an entry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EntryOutput {
    /// Its name.
    pub name: String,
    /// Where the step writes it.
    pub path: String,
    /// What it holds.
    pub description: String,
}

impl Entry {
    /// `zoo/NAME@VERSION`, the text a spec's `uses` names it by.
    pub fn reference(&self) -> String {
        format!("zoo/{}@{}", self.name, self.version)
    }
}

/// Every entry of the zoo, sorted by name then version.
pub fn entries() -> &'static [Entry] {
    static ENTRIES: OnceLock<Vec<Entry>> = OnceLock::new();
    ENTRIES.get_or_init(|| {
        SOURCES
            .iter()
            .map(|(file, text)| {
                serde_norway::from_str(text)
                    .unwrap_or_else(|e| panic!("zoo/{file}.yaml does not read: {e}"))
            })
            .collect()
    })
}

/// The entries named `name`, every version.
pub fn versions(name: &str) -> impl Iterator<Item = &'static Entry> {
    entries().iter().filter(move |e| e.name == name)
}

/// The environment variable a parameter or artifact named `name` reaches the step as.
pub fn env_name(prefix: &str, name: &str) -> String {
    format!("{prefix}{}", name.replace('-', "_").to_uppercase())
}

#[cfg(test)]
mod tests;
