//! An asynchronous study (docs/tuning.md, "Asynchronous studies"): the local runtime drives a
//! tuned step itself, starting a trial whenever one of the study's workers is free and telling
//! the method each result as it arrives, through the same [`Driver`] as `couler tune bench` and
//! the lowered rounds. This is how `asha` runs (its promotions depend on the order results
//! arrive in), and any method with `schedule: asynchronous`.
//!
//! What the study is asked and told goes into a journal of [`Event`]s that the runtime keeps
//! beside the run; [`Live::resume`] replays it, so a resumed run proposes exactly the trials it
//! proposed before, in the same order, and reruns only those that had not reported.

use crate::lower::{TRIALS_SUFFIX, trial_template};
use crate::rounds::{loss, setting, space};
use crate::space::Space;
use crate::study::{Driver, Outcome, recommend};
use crate::{Method, Trial};
use couler_ir::Step;
use couler_ir::tune::{BEST_OBJECTIVE, BEST_TRIAL, Tune};
use serde::{Deserialize, Serialize};
use serde_json::{Map as JsonMap, Value as Json};
use std::collections::BTreeMap;

/// One line of a study's journal.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Event {
    /// The `tune` block the study ran: the journal's first line. A resumed run checks that its
    /// spec's block is this one.
    Study(Box<Tune>),
    /// The runtime asked for trials for this many free workers.
    Ask(usize),
    /// Trial `trial` reported this objective value (its output's text).
    Tell { trial: usize, objective: String },
}

/// A study driven as results arrive.
pub struct Live {
    tune: Tune,
    space: Space,
    driver: Driver<Box<dyn Method>>,
    workers: usize,
    /// Every trial started, by its number (`NAME-trials[K]`), in the order they were asked.
    trials: Vec<Started>,
}

struct Started {
    trial: Trial,
    setting: Json,
    /// The objective's text and value, once reported.
    objective: Option<(String, f64)>,
}

/// The outcome of a finished study: what the tuned step publishes.
#[derive(Clone, Debug, PartialEq)]
pub struct Selected {
    /// `best_P` for each tuned parameter, `best_objective` and `best_trial`.
    pub parameters: BTreeMap<String, String>,
    /// Every trial's setting with its objective, as a JSON list (the step's `result`).
    pub result: String,
    /// A line for the step's message.
    pub summary: String,
}

impl Live {
    /// The study of `tune`; an error (the reason) when it cannot run asynchronously.
    pub fn new(tune: &Tune) -> Result<Live, String> {
        if tune.llm.is_some() {
            return Err("a study with a model asks it once a round, so it runs in rounds: remove `schedule: asynchronous`".into());
        }
        let space = space(tune);
        space.check().map_err(|e| e.to_string())?;
        let method = crate::by_name(tune.method.name(), &space, tune.seed)?;
        let workers = tune.parallelism.unwrap_or(tune.budget).max(1) as usize;
        Ok(Live {
            tune: tune.clone(),
            space,
            driver: Driver::new(method, f64::from(tune.budget), workers),
            workers,
            trials: Vec::new(),
        })
    }

    /// The study of `tune` after the journal `events` of an earlier attempt of its run, and the
    /// trials that were started and had not reported (to run again, by number, with their
    /// settings). An error when the journal is of another study, or does not replay.
    pub fn resume(tune: &Tune, events: &[Event]) -> Result<(Live, Vec<(usize, Json)>), String> {
        let mut live = Live::new(tune)?;
        let mut events = events.iter();
        match events.next() {
            None => return Ok((live, Vec::new())),
            Some(Event::Study(t)) if **t == *tune => {}
            Some(Event::Study(_)) => {
                return Err("the `tune` block changed since this run began, so its trials are another study's: start a new run (`couler run`)".into());
            }
            Some(other) => return Err(format!("the journal begins with {other:?}, not the study")),
        }
        for e in events {
            match e {
                Event::Study(_) => return Err("the journal holds two studies".into()),
                Event::Ask(free) => {
                    live.ask(*free);
                }
                Event::Tell { trial, objective } => live.tell(*trial, objective)?,
            }
        }
        let pending = live
            .trials
            .iter()
            .enumerate()
            .filter(|(_, t)| t.objective.is_none())
            .map(|(k, t)| (k, t.setting.clone()))
            .collect();
        Ok((live, pending))
    }

    /// The journal's first line.
    pub fn study_event(&self) -> Event {
        Event::Study(Box::new(self.tune.clone()))
    }

    /// How many trials may run at once: the study's parallelism (its budget when absent).
    pub fn workers(&self) -> usize {
        self.workers
    }

    /// Trials for `free` workers: each one's number and the setting its instance reads as
    /// `item`. Fewer, or none, while the method waits for results or once the budget is spent.
    pub fn ask(&mut self, free: usize) -> Vec<(usize, Json)> {
        let multi = self.tune.method.multi_fidelity();
        self.driver
            .next(free)
            .into_iter()
            .map(|trial| {
                let k = self.trials.len();
                let setting = setting(&self.space, &trial, multi);
                self.trials.push(Started {
                    trial,
                    setting: setting.clone(),
                    objective: None,
                });
                (k, setting)
            })
            .collect()
    }

    /// Tells the study trial `k`'s objective value, as its output's text; an error when it is
    /// not a number (the study then fails, as the lowered selection does) or `k` was not asked.
    pub fn tell(&mut self, k: usize, objective: &str) -> Result<(), String> {
        let goal = self.tune.objective.goal;
        let Some(started) = self.trials.get_mut(k) else {
            return Err(format!("trial {k} was never started"));
        };
        let loss = loss(goal, objective).map_err(|e| format!("trial {k}: {e}"))?;
        // `loss` parsed it.
        let value = objective.trim().parse().unwrap_or(f64::NAN);
        started.objective = Some((objective.trim().to_string(), value));
        self.driver.tell(&started.trial, loss);
        Ok(())
    }

    /// How many trials have started.
    pub fn started(&self) -> usize {
        self.trials.len()
    }

    /// The tuned step as one trial, `NAME-trials`, which runs once a setting as
    /// `NAME-trials[K]`.
    pub fn trial_step(&self, step: &Step) -> Step {
        trial_template(step, &self.tune, format!("{}{TRIALS_SUFFIX}", step.name))
    }

    /// The best trial and every trial's record, once every started trial has reported: the
    /// lowest loss among the trials at the highest fidelity any reached, the first of equals
    /// (the rule of the lowered selection step and of `couler tune bench`).
    pub fn select(&self) -> Result<Selected, String> {
        if let Some(k) = self.trials.iter().position(|t| t.objective.is_none()) {
            return Err(format!("trial {k} has not reported its objective"));
        }
        let goal = self.tune.objective.goal;
        let outcomes: Vec<Outcome> = self
            .trials
            .iter()
            .enumerate()
            .map(|(k, t)| {
                let (text, _) = t.objective.as_ref().expect("every trial reported");
                Outcome {
                    trial: Trial {
                        id: k,
                        ..t.trial.clone()
                    },
                    loss: loss(goal, text).expect("told losses parse"),
                }
            })
            .collect();
        let Some(best) = recommend(&outcomes) else {
            return Err("the budget ran no trial: raise `tune.budget`".into());
        };
        let k = best.trial.id;
        let fidelity = self
            .space
            .fidelity
            .as_ref()
            .filter(|_| self.tune.method.multi_fidelity())
            .map(|f| f.name.as_str());
        let mut parameters = BTreeMap::new();
        if let Json::Object(values) = &self.trials[k].setting {
            for (name, value) in values.iter().filter(|(n, _)| Some(n.as_str()) != fidelity) {
                let text = match value {
                    Json::String(s) => s.clone(),
                    other => other.to_string(),
                };
                parameters.insert(format!("best_{name}"), text);
            }
        }
        let (text, _) = self.trials[k].objective.as_ref().expect("reported");
        parameters.insert(BEST_OBJECTIVE.into(), text.clone());
        parameters.insert(BEST_TRIAL.into(), k.to_string());
        let records: Vec<Json> = self
            .trials
            .iter()
            .map(|t| {
                let mut record = match &t.setting {
                    Json::Object(m) => m.clone(),
                    _ => JsonMap::new(),
                };
                let value = t.objective.as_ref().map_or(f64::NAN, |(_, v)| *v);
                let value = serde_json::Number::from_f64(value).map_or(Json::Null, Json::Number);
                record.insert("objective".into(), value);
                Json::Object(record)
            })
            .collect();
        let summary = format!(
            "the best of {} trials by `{}`: trial {k}, {text}",
            self.trials.len(),
            self.tune.objective.parameter
        );
        Ok(Selected {
            parameters,
            result: Json::Array(records).to_string(),
            summary,
        })
    }
}

#[cfg(test)]
mod tests;
