//! A study run as rounds of trial steps (docs/tuning.md, "Rounds"): the lowering of a tuned
//! step whose method learns from results. Each round is one batch of the driver
//! ([`crate::study::Driver`]); round `r` is proposed by replaying the study from its seed with
//! the objectives of rounds `0..r` as the trials printed them, so a proposer keeps no state of
//! its own and any process (the compiler for round 0, `couler tune propose` in a step for the
//! others) proposes the same trials.
//!
//! The number of rounds and the size of each are fixed when the step is lowered, by a dry run:
//! so they must not depend on the results. They do not for TPE (a batch is always
//! `parallelism` trials) nor for the synchronous brackets of successive halving and Hyperband
//! (which configurations go on depends on results, how many does not). ASHA's promotions, and
//! so the fidelities and the cost of its batches, do; it is refused.

use crate::llm::{Cards, Llm, LlmSettings, LlmStats, Target};
use crate::space::{Fidelity, Space, Value};
use crate::study::Driver;
use crate::warm::{WARM_TRIALS, WarmStart};
use crate::{Method, Trial};
use couler_ir::tune::{Goal, Tune, TuneLlm, TuneMethod};
use couler_model::{Choice, Message, Model, ModelError, Options};
use serde_json::{Map as JsonMap, Value as Json};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A tuned step's study, ready to plan and replay.
pub struct Rounds {
    space: Space,
    method: TuneMethod,
    seed: u64,
    budget: f64,
    parallelism: usize,
    goal: Goal,
    /// The model and cards of method `llm`, or of another method's warm start.
    llm: Option<(TuneLlm, Target)>,
}

/// One round's proposal: its settings and the model's answers to the round's questions (one
/// for method `llm`; one or none in a warm start), which the later rounds' proposers replay
/// instead of asking again.
#[derive(Debug, Default, PartialEq)]
pub struct Proposal {
    pub settings: Vec<Json>,
    pub answers: Vec<String>,
}

impl Rounds {
    /// The study of `tune`; an error (the reason, for `tune.method`) when its method cannot run
    /// in fixed rounds.
    pub fn new(tune: &Tune) -> Result<Rounds, String> {
        if tune.method == TuneMethod::Asha {
            return Err("method `asha` promotes as results arrive, so how much each round costs depends on the results, and a tuned step is lowered into rounds fixed beforehand; use `hyperband` or `sh` (their brackets are synchronous)".into());
        }
        let space = space(tune);
        space.check().map_err(|e| e.to_string())?;
        let llm = match (tune.method, &tune.llm) {
            (_, Some(llm)) => {
                if tune.method != TuneMethod::Llm {
                    crate::by_name(tune.method.name(), &space, tune.seed)?;
                }
                let target = Target {
                    metric: llm
                        .data_card
                        .metrics
                        .first()
                        .cloned()
                        .unwrap_or_else(|| tune.objective.parameter.clone()),
                    maximize: tune.objective.goal == Goal::Maximize,
                };
                Some((llm.clone(), target))
            }
            (TuneMethod::Llm, None) => {
                return Err("method `llm` asks a language model, and the study names none: add an `llm` block".into());
            }
            _ => {
                crate::by_name(tune.method.name(), &space, tune.seed)?;
                None
            }
        };
        Ok(Rounds {
            space,
            method: tune.method,
            seed: tune.seed,
            budget: f64::from(tune.budget),
            // Methods that do not learn from results run the whole study in one round.
            parallelism: match tune.method {
                TuneMethod::Random | TuneMethod::Sobol => tune.budget,
                _ => tune.parallelism.unwrap_or(tune.budget),
            }
            .max(1) as usize,
            goal: tune.objective.goal,
            llm,
        })
    }

    /// Whether round 0 is known at compile time. A study with a model (method `llm`, or a warm
    /// start) asks it when it runs, round 0 included, so each of its rounds has a proposer step.
    pub fn fixed_first(&self) -> bool {
        self.llm.is_none()
    }

    /// The method, asking `model` where it is `llm` or warm-started by it.
    fn method(&self, model: Arc<dyn Model + Send + Sync>, stats: Arc<LlmStats>) -> Box<dyn Method> {
        let inner = || {
            crate::by_name(self.method.name(), &self.space, self.seed)
                .expect("the space was checked against the method")
        };
        match &self.llm {
            Some((llm, target)) => {
                let cards = Cards {
                    data: llm.data_card.clone(),
                    model: llm.model_card.clone(),
                };
                let mut settings = LlmSettings::default();
                if let Some(n) = llm.candidates {
                    settings.candidates = n as usize;
                }
                let llm = Llm::new(model, &self.space, cards, target.clone(), self.seed)
                    .with_settings(settings)
                    .with_stats(stats);
                if self.method == TuneMethod::Llm {
                    return Box::new(llm);
                }
                let warm = WarmStart::new(self.method.name(), llm, inner(), WARM_TRIALS)
                    .expect("every method that lowers has a warm start");
                Box::new(warm)
            }
            None => inner(),
        }
    }

    /// How many trials each round runs: the driver's batches in a dry run. Never empty, and no
    /// round is empty.
    pub fn plan(&self) -> Vec<usize> {
        // Method `llm` is asked nothing: a round's size does not depend on the answer.
        let answers = Arc::new(Answers::new(Vec::new(), None));
        let mut method = self.method(answers, Arc::default());
        let mut driver = Driver::new(method.as_mut(), self.budget, self.parallelism);
        let mut sizes = Vec::new();
        loop {
            let batch = driver.next_batch();
            if batch.is_empty() {
                return sizes;
            }
            sizes.push(batch.len());
            for t in &batch {
                // Any losses serve: the plan does not depend on them (see the module's note).
                driver.tell(t, t.id as f64);
            }
        }
    }

    /// The trials of round `objectives.len()`, as JSON objects of parameter values (and the
    /// fidelity's value, for a multi-fidelity method), given each earlier round's objective
    /// values as its trials printed them, in order. A study with a model is not asked: its
    /// rounds are [`Rounds::propose_llm`]'s.
    pub fn propose(&self, objectives: &[Vec<String>]) -> Result<Vec<Json>, String> {
        if self.llm.is_some() {
            return Err("a study with a model proposes with its answers: a bug, report it".into());
        }
        Ok(self
            .replay(objectives, Arc::new(Answers::new(Vec::new(), None)))?
            .settings)
    }

    /// Round `objectives.len()` of a study with a model: the rounds before replayed with the
    /// model's recorded `answers` (each round's, in order), then `model` asked whatever this
    /// round asks.
    pub fn propose_llm(
        &self,
        objectives: &[Vec<String>],
        answers: Vec<Vec<String>>,
        model: Box<dyn Model + Send + Sync>,
    ) -> Result<Proposal, String> {
        if answers.len() != objectives.len() {
            return Err(format!(
                "round {} needs the model's answers of the {} rounds before, and {} came",
                objectives.len(),
                objectives.len(),
                answers.len()
            ));
        }
        let answers = answers.into_iter().flatten().collect();
        self.replay(objectives, Arc::new(Answers::new(answers, Some(model))))
    }

    fn replay(
        &self,
        objectives: &[Vec<String>],
        answers: Arc<Answers>,
    ) -> Result<Proposal, String> {
        let stats = Arc::new(LlmStats::default());
        let mut method = self.method(answers.clone(), stats.clone());
        let mut driver = Driver::new(method.as_mut(), self.budget, self.parallelism);
        for (r, values) in objectives.iter().enumerate() {
            let batch = driver.next_batch();
            if batch.len() != values.len() {
                return Err(format!(
                    "round {r} ran {} trials and {} objective values came back: every trial must succeed and print its objective",
                    batch.len(),
                    values.len()
                ));
            }
            for (i, (trial, text)) in batch.iter().zip(values).enumerate() {
                let loss = self
                    .loss(text)
                    .map_err(|e| format!("round {r}, trial {i}: {e}"))?;
                driver.tell(trial, loss);
            }
        }
        let settings = driver
            .next_batch()
            .iter()
            .map(|t| self.setting(t))
            .collect();
        if let Some(e) = stats.error() {
            return Err(format!("the model failed: {e}"));
        }
        Ok(Proposal {
            settings,
            answers: answers.live_answers(),
        })
    }

    /// A trial's loss from its objective's text: lower is better.
    fn loss(&self, text: &str) -> Result<f64, String> {
        loss(self.goal, text)
    }

    /// A trial as the JSON object its step instance reads as `item`.
    pub fn setting(&self, trial: &Trial) -> Json {
        setting(&self.space, trial, self.method.multi_fidelity())
    }
}

/// What `couler tune propose` does, in a tuned step's proposer (docs/tuning.md, "How it runs"):
/// proposes the round named by [`ROUND_ENV`] of the study in [`STUDY_ENV`], from the objective
/// lists `OBJECTIVES_R` of the rounds before (and, in a study with a model, the lists of the
/// model's answers `ANSWERS_R` of those rounds); there, writes this round's answers to the file
/// [`ANSWERS_FILE`] as a JSON list; returns what the step prints, the settings as a JSON list.
/// `var` reads a variable. Errors name the variable and what to fix.
pub fn propose_step(var: impl Fn(&str) -> Option<String>) -> Result<String, String> {
    let need = |name: &str| {
        var(name).ok_or_else(|| format!("{name} is not set: `couler tune propose` runs as a tuned step's proposer, which sets it (docs/tuning.md)"))
    };
    let tune: Tune = serde_json::from_str(&need(STUDY_ENV)?)
        .map_err(|e| format!("{STUDY_ENV} is not a tune block: {e}"))?;
    let round: usize = need(ROUND_ENV)?
        .trim()
        .parse()
        .map_err(|_| format!("{ROUND_ENV} is not a round number (0, 1, …)"))?;
    let objectives = (0..round)
        .map(|r| {
            let name = objectives_env(r);
            objective_list(&need(&name)?).map_err(|e| format!("{name}: {e}"))
        })
        .collect::<Result<Vec<_>, String>>()?;
    let study = Rounds::new(&tune)?;
    let settings = match &tune.llm {
        Some(llm) => {
            let answers = (0..round)
                .map(|r| {
                    let name = answers_env(r);
                    serde_json::from_str::<Vec<String>>(&need(&name)?).map_err(|e| {
                        format!("{name}: not the JSON list of a proposer's answers ({e})")
                    })
                })
                .collect::<Result<Vec<_>, String>>()?;
            let choice = Choice::from_env(
                &llm.model,
                llm.endpoint.as_deref(),
                Duration::from_secs(MODEL_TIMEOUT_SECS),
            );
            let model = Box::new(Opened::new(choice, round));
            let proposal = study.propose_llm(&objectives, answers, model)?;
            let answers = Json::from(proposal.answers).to_string();
            std::fs::write(ANSWERS_FILE, answers)
                .map_err(|e| format!("cannot write the model's answers to {ANSWERS_FILE}: {e}"))?;
            proposal.settings
        }
        None => study.propose(&objectives)?,
    };
    Ok(Json::Array(settings).to_string())
}

/// How long the proposer waits for one answer of an endpoint.
const MODEL_TIMEOUT_SECS: u64 = 600;

/// Where the proposer of a study with a model leaves the model's answers, the output parameter
/// [`ANSWERS_OUTPUT`] of its step (relative: the step's working directory).
pub const ANSWERS_FILE: &str = "couler-tune-answers.json";

/// The output parameter of a proposer step holding the model's answers, a JSON list.
pub const ANSWERS_OUTPUT: &str = "answers";

/// The variable carrying the model's answers of round `r`.
pub fn answers_env(r: usize) -> String {
    format!("ANSWERS_{r}")
}

/// The model a proposer asks, opened when first asked: a round that asks nothing (a warm
/// start's after the first trials) loads no local model.
struct Opened {
    choice: Choice,
    round: usize,
    model: std::sync::OnceLock<Result<Box<dyn Model + Send + Sync>, ModelError>>,
}

impl Opened {
    fn new(choice: Choice, round: usize) -> Opened {
        Opened {
            choice,
            round,
            model: std::sync::OnceLock::new(),
        }
    }
}

impl Model for Opened {
    fn describe(&self) -> String {
        self.choice.model.clone()
    }

    fn chat(&self, messages: &[Message], options: &Options) -> Result<String, ModelError> {
        let model = self.model.get_or_init(|| {
            let model = couler_model::open(&self.choice)?;
            // The step's log says which model answered (its answers are the step's output).
            eprintln!("asking {} for round {}", model.describe(), self.round);
            Ok(model)
        });
        match model {
            Ok(model) => model.chat(messages, options),
            Err(e) => Err(e.clone()),
        }
    }
}

/// The model as method `llm` sees it in a replay: the recorded answers of the rounds before,
/// in order, then the live model (none while planning: any answer serves, and none is used).
struct Answers {
    recorded: Mutex<VecDeque<String>>,
    live: Option<Box<dyn Model + Send + Sync>>,
    answers: Mutex<Vec<String>>,
}

impl Answers {
    fn new(recorded: Vec<String>, live: Option<Box<dyn Model + Send + Sync>>) -> Answers {
        Answers {
            recorded: Mutex::new(recorded.into()),
            live,
            answers: Mutex::new(Vec::new()),
        }
    }

    /// The live model's answers, in order.
    fn live_answers(&self) -> Vec<String> {
        self.answers.lock().expect("answers").clone()
    }
}

impl Model for Answers {
    fn describe(&self) -> String {
        self.live
            .as_ref()
            .map_or_else(|| "no model (planning)".into(), |m| m.describe())
    }

    fn chat(&self, messages: &[Message], options: &Options) -> Result<String, ModelError> {
        if let Some(recorded) = self.recorded.lock().expect("answers").pop_front() {
            return Ok(recorded);
        }
        let Some(live) = &self.live else {
            return Ok(String::new());
        };
        let answer = live.chat(messages, options)?;
        self.answers.lock().expect("answers").push(answer.clone());
        Ok(answer)
    }
}

/// A mapped step's collected output (docs/spec.md §12): a JSON list of each instance's text.
fn objective_list(text: &str) -> Result<Vec<String>, String> {
    let list: Vec<Json> = serde_json::from_str(text)
        .map_err(|e| format!("not the JSON list of a mapped step's outputs ({e})"))?;
    Ok(list
        .into_iter()
        .map(|v| match v {
            Json::String(s) => s,
            other => other.to_string(),
        })
        .collect())
}

/// A trial's loss from its objective's text, for a study with `goal`: lower is better; a value
/// that is not a number is an error naming it, NaN counts as infinitely bad.
pub fn loss(goal: Goal, text: &str) -> Result<f64, String> {
    let x: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("objective value {text:?} is not a number"))?;
    let x = if x.is_nan() { f64::INFINITY } else { x };
    Ok(match goal {
        Goal::Minimize => x,
        Goal::Maximize => -x,
    })
}

/// The proposer's variable holding the `tune` block, as JSON.
pub const STUDY_ENV: &str = "COULER_TUNE_STUDY";

/// The proposer's variable holding the round it proposes (1, 2, …).
pub const ROUND_ENV: &str = "COULER_TUNE_ROUND";

/// The variable carrying the objective values of round `r`, as the trials' collected list.
pub fn objectives_env(r: usize) -> String {
    format!("OBJECTIVES_{r}")
}

/// A trial's parameter values as a JSON object; with `fidelity`, the fidelity's value too.
pub fn setting(space: &Space, trial: &Trial, fidelity: bool) -> Json {
    let mut obj: JsonMap<String, Json> = space
        .params
        .iter()
        .zip(space.decode(&trial.unit))
        .map(|(p, v)| (p.name.clone(), json_value(v)))
        .collect();
    if fidelity && let (Some(f), Some(x)) = (&space.fidelity, space.fidelity_at(trial.fidelity)) {
        let value = if f.integer {
            Json::from(x as i64)
        } else {
            number(x)
        };
        obj.insert(f.name.clone(), value);
    }
    Json::Object(obj)
}

fn number(x: f64) -> Json {
    serde_json::Number::from_f64(x).map_or(Json::Null, Json::Number)
}

fn json_value(v: Value) -> Json {
    match v {
        Value::Float(x) => number(x),
        Value::Int(x) => Json::from(x),
        Value::Choice(s) => Json::String(s),
    }
}

/// The study's search space in `couler-tune`'s terms: the tuned parameters and, where the
/// block declares one, the fidelity (an integer when both its bounds are whole).
pub fn space(tune: &Tune) -> Space {
    use crate::space::{Domain, Param};
    use couler_ir::tune::TuneParamType;
    let params = tune
        .space
        .iter()
        .map(|p| {
            let (low, high) = (p.low.unwrap_or(0.0), p.high.unwrap_or(0.0));
            let domain = match p.kind {
                TuneParamType::Float => Domain::Float {
                    low,
                    high,
                    log: p.log,
                },
                TuneParamType::Int => Domain::Int {
                    low: low as i64,
                    high: high as i64,
                    log: p.log,
                },
                TuneParamType::Categorical => Domain::Categorical(p.choices.clone()),
            };
            Param {
                name: p.name.clone(),
                domain,
            }
        })
        .collect();
    let fidelity = tune.fidelity.as_ref().map(|f| Fidelity {
        name: f.name.clone(),
        min: f.min,
        max: f.max,
        integer: f.min.fract() == 0.0 && f.max.fract() == 0.0,
    });
    Space { params, fidelity }
}

#[cfg(test)]
mod tests;
