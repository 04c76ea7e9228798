//! The pipeline of the paper's §III: (a) decompose, (b) retrieve, (c) generate and assemble,
//! (d) self-calibrate, (e) the user's feedback; each stage in its own module, each question to
//! the model asked through [`Asker`], which logs it.

use crate::assemble::{self, Fragment};
use crate::calibrate::{self, Check};
use crate::generate::{self, Request};
use crate::lake;
use crate::retrieve::{self, Retriever};
use couler_model::log::{Entry, Log};
use couler_model::{Message, Model, Options};
use std::time::Instant;

/// What the pipeline does.
#[derive(Clone, Debug)]
pub struct Config {
    /// The engine the spec must compile for (`calibrate::TARGETS`).
    pub target: String,
    /// The most calibration rounds (answers to diagnostics).
    pub rounds: u32,
    /// Split the description into sub-tasks first.
    pub decompose: bool,
    /// Put the closest Code Lake entries in each generation prompt.
    pub retrieve: bool,
    /// Feed the checks' diagnostics back to the model.
    pub calibrate: bool,
    /// How many entries each sub-task retrieves.
    pub top_k: usize,
    /// The spec's file name in diagnostics.
    pub file: String,
}

/// What the pipeline made: the spec (the attempt with the fewest errors), and its check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub spec: String,
    pub check: Check,
}

/// Asks the model, logging each exchange and reporting progress.
pub struct Asker<'a> {
    pub model: &'a dyn Model,
    pub log: &'a mut Log,
    pub progress: &'a mut dyn FnMut(&str),
    /// Sample with this seed: every question is asked with it at
    /// [`crate::eval::SAMPLE_TEMPERATURE`] (or the stage's own temperature when higher);
    /// `None` leaves each stage's options as they are.
    pub seed: Option<u64>,
}

impl Asker<'_> {
    /// The model's answer to `messages`, logged as `stage`'s `round`.
    pub fn ask(
        &mut self,
        stage: &str,
        round: u32,
        messages: Vec<Message>,
        options: &Options,
    ) -> Result<String, String> {
        let start = Instant::now();
        let sampled;
        let options = match self.seed {
            None => options,
            Some(seed) => {
                let t = crate::eval::SAMPLE_TEMPERATURE;
                sampled = Options {
                    seed: Some(seed),
                    temperature: Some(options.temperature.map_or(t, |own| own.max(t))),
                    ..options.clone()
                };
                &sampled
            }
        };
        let answer = self
            .model
            .chat(&messages, options)
            .map_err(|e| format!("{stage}: {e}"))?;
        self.log.append(&Entry {
            stage: stage.to_string(),
            round,
            messages,
            answer: answer.clone(),
            millis: start.elapsed().as_millis() as u64,
        })?;
        Ok(answer)
    }
}

/// A model and the Code Lake it is shown: what the server and the Python SDK generate with (the
/// CLI adds evaluation, replay and the interactive loop on the same [`run`]).
pub struct Generator {
    model: Box<dyn Model + Send + Sync>,
    lake: Vec<lake::Entry>,
    retriever: Box<dyn Retriever + Send + Sync>,
    retrieval: String,
}

impl Generator {
    /// `model` with the Code Lake built into couler (the examples and docs/spec.md), ranked as
    /// `couler generate --retriever auto` ranks it: by sentence embeddings where they can run,
    /// else by BM25 ([`Generator::retrieval`] says which).
    pub fn new(model: Box<dyn Model + Send + Sync>) -> Generator {
        let lake = lake::builtin();
        let docs: Vec<&str> = lake.iter().map(|e| e.text.as_str()).collect();
        let (retriever, retrieval) =
            retrieve::best(retrieve::Kind::Auto, &docs).expect("`auto` falls back to BM25");
        Generator {
            model,
            lake,
            retriever,
            retrieval,
        }
    }

    /// What the model is.
    pub fn describe(&self) -> String {
        self.model.describe()
    }

    /// How the Code Lake is ranked (and, where it fell back to BM25, why).
    pub fn retrieval(&self) -> &str {
        &self.retrieval
    }

    /// Stages (a) to (d) for `description`, every exchange appended to `log`.
    pub fn run(
        &self,
        description: &str,
        config: &Config,
        log: &mut Log,
    ) -> Result<Outcome, String> {
        let mut progress = |_: &str| {};
        let mut asker = Asker {
            model: self.model.as_ref(),
            log,
            progress: &mut progress,
            seed: None,
        };
        run(
            description,
            config,
            &self.lake,
            self.retriever.as_ref(),
            &mut asker,
        )
    }
}

/// Stages (a) to (d) for `description`.
pub fn run(
    description: &str,
    config: &Config,
    lake: &[lake::Entry],
    retriever: &dyn Retriever,
    asker: &mut Asker,
) -> Result<Outcome, String> {
    let description = description.trim();
    if description.is_empty() {
        return Err("the description is empty: say what the workflow should do, e.g. `couler generate \"train a model on iris and publish it if accuracy > 0.9\"`".into());
    }
    let subtasks = if config.decompose {
        let tasks = crate::decompose::decompose(asker, description)?;
        (asker.progress)(&format!("decompose: {} sub-tasks", tasks.len()));
        tasks
    } else {
        vec![description.to_string()]
    };
    let mut fragments: Vec<Fragment> = Vec::new();
    for (i, subtask) in subtasks.iter().enumerate() {
        let examples: Vec<&lake::Entry> = if config.retrieve {
            retriever
                .retrieve(subtask, config.top_k)
                .iter()
                .map(|h| &lake[h.index])
                .collect()
        } else {
            Vec::new()
        };
        let ids: Vec<&str> = examples.iter().map(|e| e.id.as_str()).collect();
        (asker.progress)(&format!("retrieve {}: {}", i + 1, ids.join(", ")));
        let earlier: Vec<serde_json::Value> =
            fragments.iter().flat_map(|f| f.steps.clone()).collect();
        let earlier = if earlier.is_empty() {
            String::new()
        } else {
            serde_norway::to_string(&earlier).unwrap_or_default()
        };
        let request = Request {
            description,
            subtask,
            index: i as u32 + 1,
            count: subtasks.len() as u32,
            examples: &examples,
            earlier: &earlier,
        };
        fragments.push(generate::generate(asker, &request)?);
        (asker.progress)(&format!("generate {}/{}", i + 1, subtasks.len()));
    }
    let spec = assemble::assemble(&assemble::workflow_name(description), fragments);
    Ok(calibrate_rounds(description, spec, config, asker))
}

/// Stage (d): checks `spec`, and while it has errors and rounds are left (with `calibrate`),
/// asks the model to fix them.
pub fn calibrate_rounds(
    description: &str,
    spec: String,
    config: &Config,
    asker: &mut Asker,
) -> Outcome {
    let check = calibrate::check(&spec, &config.file, &config.target);
    let mut best = Outcome { spec, check };
    let mut current = best.clone();
    let rounds = if config.calibrate { config.rounds } else { 0 };
    for round in 1..=rounds {
        (asker.progress)(&format!(
            "check: {} error(s) for {}",
            current.check.errors.len(),
            config.target
        ));
        if current.check.is_valid() {
            break;
        }
        let messages = calibrate::prompt(
            description,
            &current.spec,
            &config.file,
            &config.target,
            &current.check.errors,
        );
        let options = Options {
            json_schema: Some(crate::schema::spec()),
            ..Options::default()
        };
        let answer = match asker.ask("calibrate", round, messages, &options) {
            Ok(a) => a,
            Err(e) => {
                (asker.progress)(&format!("calibrate round {round}: {e}"));
                break;
            }
        };
        let name = assemble::workflow_name(description);
        let spec = assemble::whole(crate::answer::block(&answer), &name);
        let check = calibrate::check(&spec, &config.file, &config.target);
        current = Outcome { spec, check };
        if current.check.errors.len() <= best.check.errors.len() {
            best = current.clone();
        }
    }
    (asker.progress)(&format!(
        "result: {} error(s) for {}",
        best.check.errors.len(),
        config.target
    ));
    best
}
