//! The YAHPO Gym LCBench surrogate (Pfisterer et al., AutoML-Conf 2022): an ONNX model that
//! predicts, for 34 OpenML data sets, what training a funnel-shaped MLP with given
//! hyperparameters for a given number of epochs would score. `couler tune bench` optimises it.
//!
//! The folder holds `model.onnx`, `config_space.json` (bounds and scales) and `encoding.json`
//! (data set id → the integer the model takes). Inputs: `x_cat` i32 `[N, 1]`, `x_cont` f32
//! `[N, 8]` in yahpo_gym's `cont_names` order (epoch first); outputs `[N, 6]` in its `y_names`
//! order, checked against yahpo_gym's `benchmarks/lcbench.py` and by their values (time grows
//! with epochs, accuracy is a percentage, cross-entropy falls as accuracy rises).

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value as Json;
use tract_onnx::prelude::*;

use crate::space::{Domain, Fidelity, Param, Space, Value};

/// The surrogate's continuous inputs, in the order the model takes them.
pub const CONT_NAMES: [&str; 8] = [
    "epoch",
    "batch_size",
    "learning_rate",
    "momentum",
    "weight_decay",
    "num_layers",
    "max_units",
    "max_dropout",
];

/// What the surrogate predicts for one configuration at one epoch.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Metrics {
    /// Seconds of training.
    pub time: f64,
    /// Validation accuracy, in percent (the objective `couler tune bench` maximises).
    pub val_accuracy: f64,
    pub val_cross_entropy: f64,
    pub val_balanced_accuracy: f64,
    pub test_cross_entropy: f64,
    pub test_balanced_accuracy: f64,
}

type Plan = std::sync::Arc<TypedSimplePlan>;

/// The loaded surrogate.
pub struct Surrogate {
    plan: Plan,
    codes: BTreeMap<String, i32>,
    instances: Vec<String>,
    space: Space,
}

impl Surrogate {
    /// Loads the surrogate from its folder; errors name the file and what is wrong.
    pub fn load(dir: &Path) -> Result<Surrogate, String> {
        let read = |name: &str| -> Result<Json, String> {
            let path = dir.join(name);
            let text =
                std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
        };
        let (space, instances) = read_space(&read("config_space.json")?)
            .map_err(|e| format!("{}: {e}", dir.join("config_space.json").display()))?;
        let codes: BTreeMap<String, i32> = read("encoding.json")?["OpenML_task_id"]
            .as_object()
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_i64()? as i32)))
                    .collect()
            })
            .unwrap_or_default();
        if let Some(missing) = instances.iter().find(|i| !codes.contains_key(*i)) {
            return Err(format!(
                "{}: no code for data set {missing}",
                dir.join("encoding.json").display()
            ));
        }
        let model_path = dir.join("model.onnx");
        let plan = tract_onnx::onnx()
            .model_for_path(&model_path)
            .and_then(|m| m.into_optimized())
            .and_then(|m| m.into_runnable())
            .map_err(|e| format!("{}: cannot load the ONNX model: {e}", model_path.display()))?;
        Ok(Surrogate {
            plan,
            codes,
            instances,
            space,
        })
    }

    /// The 34 data sets (OpenML task ids), as `config_space.json` lists them.
    pub fn instances(&self) -> &[String] {
        &self.instances
    }

    /// The seven tuned hyperparameters, in `CONT_NAMES` order after the epoch, and the epoch as
    /// the fidelity.
    pub fn space(&self) -> &Space {
        &self.space
    }

    /// Predictions for configurations (values in `space()` order) at the given epochs.
    pub fn evaluate(
        &self,
        instance: &str,
        configs: &[(Vec<Value>, f64)],
    ) -> Result<Vec<Metrics>, String> {
        let code = *self.codes.get(instance).ok_or_else(|| {
            format!(
                "unknown LCBench data set `{instance}`; choose one of: {}",
                self.instances.join(", ")
            )
        })?;
        let n = configs.len();
        let mut cont = Vec::with_capacity(n * 8);
        for (values, epoch) in configs {
            cont.push(*epoch as f32);
            cont.extend(values.iter().map(|v| match v {
                Value::Float(x) => *x as f32,
                Value::Int(x) => *x as f32,
                Value::Choice(_) => f32::NAN,
            }));
        }
        let run = || -> TractResult<Vec<Metrics>> {
            let x_cat = Tensor::from_shape(&[n, 1], &vec![code; n])?;
            let x_cont = Tensor::from_shape(&[n, 8], &cont)?;
            let out = self.plan.run(tvec![x_cat.into(), x_cont.into()])?;
            let y = out[0].to_plain_array_view::<f32>()?;
            Ok((0..n)
                .map(|i| {
                    let g = |j: usize| y[[i, j]] as f64;
                    Metrics {
                        time: g(0),
                        val_accuracy: g(1),
                        val_cross_entropy: g(2),
                        val_balanced_accuracy: g(3),
                        test_cross_entropy: g(4),
                        test_balanced_accuracy: g(5),
                    }
                })
                .collect())
        };
        run().map_err(|e| format!("the LCBench surrogate failed: {e}"))
    }
}

/// The search space and the data sets from ConfigSpace's JSON.
fn read_space(cs: &Json) -> Result<(Space, Vec<String>), String> {
    let hps = cs["hyperparameters"]
        .as_array()
        .ok_or("no `hyperparameters` list")?;
    let find = |name: &str| {
        hps.iter()
            .find(|h| h["name"] == name)
            .ok_or(format!("no hyperparameter `{name}`"))
    };
    let bounds = |h: &Json| -> Result<(f64, f64, bool), String> {
        let f = |k: &str| {
            h[k].as_f64()
                .ok_or(format!("`{}` has no number `{k}`", h["name"]))
        };
        Ok((
            f("lower")?,
            f("upper")?,
            h["log"].as_bool().unwrap_or(false),
        ))
    };
    let mut params = Vec::new();
    for name in &CONT_NAMES[1..] {
        let h = find(name)?;
        let (low, high, log) = bounds(h)?;
        let domain = match h["type"].as_str() {
            Some("uniform_int") => Domain::Int {
                low: low as i64,
                high: high as i64,
                log,
            },
            Some("uniform_float") => Domain::Float { low, high, log },
            other => {
                return Err(format!(
                    "`{name}` has type {other:?}, not uniform_int or uniform_float"
                ));
            }
        };
        params.push(Param {
            name: name.to_string(),
            domain,
        });
    }
    let (min, max, _) = bounds(find("epoch")?)?;
    let fidelity = Some(Fidelity {
        name: "epoch".into(),
        min,
        max,
        integer: true,
    });
    let instances = find("OpenML_task_id")?["choices"]
        .as_array()
        .ok_or("`OpenML_task_id` lists no choices")?
        .iter()
        .filter_map(|c| c.as_str().map(String::from))
        .collect();
    let space = Space { params, fidelity };
    space.check().map_err(|e| e.to_string())?;
    Ok((space, instances))
}

/// The Data Card of an LCBench data set for the `llm` method. The surrogate's folder names each
/// data set by its OpenML task id only, so the card says that much and no more (no name, no
/// class count: what the card does not know, it does not claim).
pub fn cards(instance: &str) -> crate::llm::Cards {
    use crate::llm::{Cards, DataCard, ModelCard};
    Cards {
        data: DataCard {
            name: format!("OpenML task {instance}"),
            input_type: "tabular".into(),
            label_space: "classes (a classification task)".into(),
            metrics: vec!["validation accuracy (%)".into()],
            description: Some(
                "one of the 34 OpenML classification data sets of LCBench (Zimmer et al. 2021)"
                    .into(),
            ),
        },
        model: ModelCard {
            name: "LCBench MLP".into(),
            structure: "funnel-shaped multilayer perceptron: num_layers layers, the first of max_units units, each later one narrower; dropout rising to max_dropout".into(),
            description: "trained with SGD (momentum, weight decay) for up to 52 epochs, as in LCBench".into(),
            hyperparameters: BTreeMap::new(),
        },
    }
}

/// What `couler tune bench` maximises, as the `llm` method is told it.
pub fn target() -> crate::llm::Target {
    crate::llm::Target {
        metric: "validation accuracy (%)".into(),
        maximize: true,
    }
}
