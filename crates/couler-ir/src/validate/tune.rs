//! The checks of a step's `tune` block: a space over the step's own input parameters with sound
//! bounds, an objective among its outputs, a budget, and a fidelity where the method varies one.

use super::{StepAt, Validator};
use crate::diag::suggest;
use crate::tune::{Tune, TuneMethod, TuneParam, TuneParamType, TuneSchedule};

impl Validator<'_> {
    /// Checks the step's `tune` block, if it has one.
    pub(super) fn check_tune(&mut self, at: StepAt) {
        let Some(tune) = &at.step.tune else {
            return;
        };
        self.tune_shape(at);
        if tune.budget == 0 {
            let help = "give the number of trials the study may run";
            self.err(at.at("tune.budget"), "a budget of 0 runs no trial", help);
        }
        if tune.parallelism == Some(0) {
            let help = "remove it to run every trial at once, or give at least 1";
            self.err(
                at.at("tune.parallelism"),
                "a parallelism of 0 runs no trial",
                help,
            );
        }
        if tune.space.is_empty() {
            let help = "list at least one input parameter to tune";
            self.err(at.at("tune.space"), "the search space is empty", help);
        }
        for (i, p) in tune.space.iter().enumerate() {
            let path = at.at(&format!("tune.space[{i}]"));
            if tune.space[..i].iter().any(|q| q.name == p.name) {
                let help = "list each parameter once";
                self.err(
                    format!("{path}.name"),
                    format!("`{}` is tuned twice", p.name),
                    help,
                );
            }
            self.tuned_input(at, &format!("{path}.name"), &p.name);
            self.tune_domain(&path, p);
        }
        self.tune_objective(at, tune);
        self.tune_fidelity(at, tune);
        self.tune_llm(at, tune);
        self.tune_schedule(at, tune);
    }

    /// `asha` promotes as results arrive, so it runs only asynchronously; a study with a model
    /// asks it a round's question at once, so it runs only in rounds.
    fn tune_schedule(&mut self, at: StepAt, tune: &Tune) {
        if tune.method == TuneMethod::Asha && tune.schedule == Some(TuneSchedule::Rounds) {
            let help = "remove `schedule` (asha runs asynchronously, on the local runtime), or choose `hyperband` or `sh`, whose brackets run in rounds on every engine";
            let message = "method `asha` promotes as results arrive, which rounds fixed beforehand cannot express";
            self.err(at.at("tune.schedule"), message, help);
        }
        if tune.asynchronous() && tune.llm.is_some() {
            let help = if tune.method == TuneMethod::Asha {
                "remove the `llm` block, or choose `hyperband` or `sh` to warm-start in rounds"
            } else {
                "remove `schedule: asynchronous`: a study with a model runs in rounds"
            };
            let message = "a study with a model asks it once a round (its answers are each round's proposer's output), so it cannot run asynchronously";
            let field = if tune.schedule.is_some() {
                "tune.schedule"
            } else {
                "tune.llm"
            };
            self.err(at.at(field), message, help);
        }
    }

    /// Method `llm` has an `llm` block (the model and both cards); with another method the block
    /// makes the model its warm start.
    fn tune_llm(&mut self, at: StepAt, tune: &Tune) {
        let Some(llm) = &tune.llm else {
            if tune.method == TuneMethod::Llm {
                let help = "add `llm:` with `model` (a name the endpoint serves, or `local`), `dataCard` and `modelCard` (docs/spec.md §12.1)";
                let message = "method `llm` asks a language model, and the study names none";
                self.err(at.at("tune.method"), message, help);
            }
            return;
        };
        let blank = [
            ("model", llm.model.as_str()),
            ("dataCard.name", &llm.data_card.name),
            ("dataCard.inputType", &llm.data_card.input_type),
            ("dataCard.labelSpace", &llm.data_card.label_space),
            ("modelCard.name", &llm.model_card.name),
            ("modelCard.structure", &llm.model_card.structure),
            ("modelCard.description", &llm.model_card.description),
        ];
        for (field, value) in blank {
            if value.trim().is_empty() {
                let help = "the model reads it: say what it is in a few words";
                self.err(at.at(&format!("tune.llm.{field}")), "this is empty", help);
            }
        }
        if llm.data_card.metrics.is_empty() {
            let help =
                "list the dataset's usual metrics, the study's objective first (e.g. `[accuracy]`)";
            self.err(
                at.at("tune.llm.dataCard.metrics"),
                "the Data Card lists no metric",
                help,
            );
        }
        if llm.candidates == Some(0) {
            let help = "remove it (8 a round), or give at least 1";
            self.err(
                at.at("tune.llm.candidates"),
                "0 candidates leave the model nothing to rank",
                help,
            );
        }
        if let Some(url) = &llm.endpoint
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            let help = "write the API's base URL, e.g. http://127.0.0.1:8080/v1";
            let message = format!("endpoint `{url}` is not an http(s) URL");
            self.err(at.at("tune.llm.endpoint"), message, help);
        }
    }

    /// What a tuned step cannot also be: mapped, looped, a daemon or an exit step.
    fn tune_shape(&mut self, at: StepAt) {
        let clash = if at.step.map.is_some() {
            Some("`map`")
        } else if at.step.repeat.is_some() {
            Some("`repeat`")
        } else if at.step.is_daemon() {
            Some("`daemon`")
        } else if at.is_exit {
            Some("the exit handler")
        } else {
            None
        };
        if let Some(what) = clash {
            self.err(
                at.at("tune"),
                format!("a tuned step cannot be {what}: its trials are a map of their own"),
                "tune a plain step, and map or loop over the steps around it",
            );
        }
    }

    /// `name` (at `path`) is one of the step's input parameters.
    fn tuned_input(&mut self, at: StepAt, path: &str, name: &str) {
        let inputs = || at.step.inputs.parameters.iter().map(|p| p.name.as_str());
        if inputs().any(|n| n == name) {
            return;
        }
        let help = match suggest(name, inputs()) {
            Some(s) => format!("did you mean `{s}`?"),
            None => format!(
                "declare `{name}` under the step's `inputs.parameters` and read it as `{{{{inputs.parameters.{name}}}}}`"
            ),
        };
        self.err(
            path,
            format!(
                "`{name}` is not an input parameter of step `{}`",
                at.step.name
            ),
            help,
        );
    }

    /// Bounds in order and finite, a log scale over positive values, choices for categoricals.
    fn tune_domain(&mut self, path: &str, p: &TuneParam) {
        let name = &p.name;
        if p.kind == TuneParamType::Categorical {
            if p.low.is_some() || p.high.is_some() || p.log {
                let help = "remove `low`, `high` and `log`, or make it `float` or `int`";
                self.err(
                    path,
                    format!("categorical `{name}` takes `choices`, not bounds"),
                    help,
                );
            }
            if p.choices.is_empty() {
                let help = "list the values to choose from under `choices`";
                self.err(path, format!("categorical `{name}` lists no choices"), help);
            }
            for (i, c) in p.choices.iter().enumerate() {
                if p.choices[..i].contains(c) {
                    let help = "list each choice once";
                    self.err(
                        format!("{path}.choices[{i}]"),
                        format!("`{c}` is listed twice"),
                        help,
                    );
                }
                if c.contains(['{', '}']) {
                    let help = "choices are plain values; remove the braces";
                    self.err(
                        format!("{path}.choices[{i}]"),
                        format!("choice `{c}` holds a brace"),
                        help,
                    );
                }
            }
            return;
        }
        if !p.choices.is_empty() {
            let help = "remove `choices`, or make it `categorical`";
            self.err(
                format!("{path}.choices"),
                format!("`{name}` is numeric and takes bounds, not choices"),
                help,
            );
        }
        let (Some(low), Some(high)) = (p.low, p.high) else {
            let help = "give both `low` and `high`";
            self.err(path, format!("`{name}` needs `low` and `high`"), help);
            return;
        };
        let int = p.kind == TuneParamType::Int;
        if int && (low.fract() != 0.0 || high.fract() != 0.0) {
            let help = "write whole numbers, or make the parameter `float`";
            self.err(
                path,
                format!("int `{name}` has a fractional bound ({low}, {high})"),
                help,
            );
        }
        if !(low.is_finite() && high.is_finite()) || low > high || (!int && low == high) {
            let help = "write `low` below `high`";
            self.err(
                format!("{path}.high"),
                format!("`{name}` has bounds out of order ({low} to {high})"),
                help,
            );
        }
        if p.log && low <= 0.0 {
            let help = "a logarithm needs positive values: raise `low` above 0, or drop `log`";
            self.err(
                format!("{path}.low"),
                format!("`{name}` is searched on a log scale from {low}"),
                help,
            );
        }
    }

    /// The objective is one of the step's output parameters.
    fn tune_objective(&mut self, at: StepAt, tune: &Tune) {
        let name = &tune.objective.parameter;
        let outputs = || at.step.outputs.parameters.iter().map(|p| p.name.as_str());
        if outputs().any(|n| n == name) {
            return;
        }
        let help = match suggest(name, outputs()) {
            Some(s) => format!("did you mean `{s}`?"),
            None => format!(
                "declare `{name}` under the step's `outputs.parameters` (each trial writes its score there)"
            ),
        };
        let message = format!(
            "the objective `{name}` is not an output parameter of step `{}`",
            at.step.name
        );
        self.err(at.at("tune.objective.parameter"), message, help);
    }

    /// A fidelity is an input parameter outside the space with `0 < min < max`; the
    /// multi-fidelity methods need one.
    fn tune_fidelity(&mut self, at: StepAt, tune: &Tune) {
        let Some(f) = &tune.fidelity else {
            if tune.method.multi_fidelity() {
                let help = "add `fidelity` (e.g. an epochs input with `min` and `max`), or choose random, sobol or tpe";
                let message = format!(
                    "method `{}` varies a fidelity, and the study declares none",
                    tune.method.name()
                );
                self.err(at.at("tune.method"), message, help);
            }
            return;
        };
        self.tuned_input(at, &at.at("tune.fidelity.name"), &f.name);
        if tune.space.iter().any(|p| p.name == f.name) {
            let help = "a fidelity is not searched: remove it from the space";
            self.err(
                at.at("tune.fidelity.name"),
                format!("`{}` is both tuned and the fidelity", f.name),
                help,
            );
        }
        if !(f.min > 0.0 && f.min < f.max && f.max.is_finite()) {
            let help = "write 0 < min < max, `max` being the full evaluation";
            let message = format!("the fidelity runs from {} to {}", f.min, f.max);
            self.err(at.at("tune.fidelity"), message, help);
        }
    }
}
