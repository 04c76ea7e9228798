//! `llm`: the paper's Algorithm 4 (§IV.C). A language model reads a Data Card and a Model Card,
//! and for each setting of a candidate set predicts the training log (the objective at a few
//! points of training, then its final value); the method runs the settings with the best
//! predicted final values. No training happens to make a prediction.
//!
//! Beyond the paper's one shot, the method runs in rounds as every method here does: each round
//! draws a fresh candidate set (the next points of a seeded Sobol' sequence, so candidates spread
//! evenly), shows the model the results measured so far, and asks for predictions again. An
//! answer that cannot be read (a model error, text that is not the JSON asked for) does not stop
//! the study: that round's candidates run in their quasi-random order, and [`LlmStats`] counts it
//! so reports say how often the model was of no use.

use crate::method::{Ledger, Method, Trial, TrialId};
use crate::sobol::SobolSequence;
use crate::space::{Domain, Space};
use couler_model::{Message, Model, Options};
use serde::Deserialize;
use serde_json::{Value as Json, json};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

pub use couler_ir::tune::{DataCard, ModelCard};

/// Both cards.
#[derive(Clone, Debug, PartialEq)]
pub struct Cards {
    pub data: DataCard,
    pub model: ModelCard,
}

impl Cards {
    /// The cards in two YAML files; an error names the file and the field.
    pub fn load(data: &Path, model: &Path) -> Result<Cards, String> {
        Ok(Cards {
            data: read_card(data, "Data Card")?,
            model: read_card(model, "Model Card")?,
        })
    }
}

fn read_card<T: for<'de> Deserialize<'de>>(path: &Path, what: &str) -> Result<T, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the {what} {}: {e}", path.display()))?;
    serde_norway::from_str(&text).map_err(|e| {
        format!(
            "{}: not a {what} ({e}); see docs/tuning.md, \"The llm method\", for its fields",
            path.display()
        )
    })
}

/// What the study optimises, as the model is told it.
#[derive(Clone, Debug, PartialEq)]
pub struct Target {
    /// The metric's name (`validation accuracy (%)`).
    pub metric: String,
    /// Whether higher is better. Losses told to the method are the metric, negated when true.
    pub maximize: bool,
}

/// How often the model's answers were of use, shared by every study that reports together.
#[derive(Debug, Default)]
pub struct LlmStats {
    /// Questions asked.
    pub asked: AtomicUsize,
    /// Answers that could not be used (the round ran its candidates in quasi-random order).
    pub unusable: AtomicUsize,
    /// The first error of the model itself (unreachable, refused, no such log entry): a setup
    /// to fix, not a useless answer, so reports stop on it.
    pub error: Mutex<Option<String>>,
}

impl LlmStats {
    /// The model's first error, if one happened.
    pub fn error(&self) -> Option<String> {
        self.error.lock().expect("llm stats").clone()
    }
}

/// The method's settings.
#[derive(Clone, Debug, PartialEq)]
pub struct LlmSettings {
    /// Candidates shown to the model a round (at least the trials asked for).
    pub candidates: usize,
    /// Measured results shown back to the model (the best ones), at most.
    pub shown_results: usize,
    /// The most tokens an answer may have.
    pub max_tokens: u32,
}

impl Default for LlmSettings {
    fn default() -> Self {
        LlmSettings {
            candidates: 8,
            shown_results: 8,
            max_tokens: 600,
        }
    }
}

/// The `llm` method. Full fidelity only: the model predicts the whole training.
pub struct Llm {
    model: Arc<dyn Model + Send + Sync>,
    space: Space,
    cards: Cards,
    target: Target,
    settings: LlmSettings,
    seed: u64,
    seq: SobolSequence,
    ledger: Ledger,
    stats: Arc<LlmStats>,
}

impl Llm {
    pub fn new(
        model: Arc<dyn Model + Send + Sync>,
        space: &Space,
        cards: Cards,
        target: Target,
        seed: u64,
    ) -> Llm {
        Llm {
            model,
            seq: SobolSequence::new(space.dims(), seed),
            space: space.clone(),
            cards,
            target,
            settings: LlmSettings::default(),
            seed,
            ledger: Ledger::default(),
            stats: Arc::new(LlmStats::default()),
        }
    }

    /// The same method with other settings.
    pub fn with_settings(mut self, settings: LlmSettings) -> Llm {
        self.settings = settings;
        self
    }

    /// The same method counting into `stats` (shared with other studies).
    pub fn with_stats(mut self, stats: Arc<LlmStats>) -> Llm {
        self.stats = stats;
        self
    }

    /// The question of one round: the cards, the space, the results so far, the candidates.
    pub fn prompt(&self, candidates: &[Vec<f64>]) -> Vec<Message> {
        let mut user = String::new();
        let d = &self.cards.data;
        user += &format!(
            "Data Card\n- dataset: {}\n- input type: {}\n- label space: {}\n- metrics: {}\n",
            d.name,
            d.input_type,
            d.label_space,
            d.metrics.join(", ")
        );
        if let Some(text) = &d.description {
            user += &format!("- description: {text}\n");
        }
        let m = &self.cards.model;
        user += &format!(
            "\nModel Card\n- model: {}\n- structure: {}\n- description: {}\n",
            m.name, m.structure, m.description
        );
        for (k, v) in &m.hyperparameters {
            user += &format!("- {k}: {}\n", plain(v));
        }
        user += "\nTuned hyperparameters\n";
        for p in &self.space.params {
            user += &format!("- {}: {}\n", p.name, domain_text(&p.domain));
        }
        let results = self.best_results();
        if !results.is_empty() {
            user += &format!("\nMeasured so far ({}):\n", self.target.metric);
            for (unit, value) in results {
                user += &format!("- {} -> {}\n", self.setting(&unit), round4(value));
            }
        }
        let (points, unit) = self.checkpoints();
        user += &format!(
            "\nCandidates:\n{}\nFor every candidate, predict the training log: the {} after {} {unit}, the last being the end of training. Answer with JSON only: {{\"predictions\": [{{\"candidate\": 1, \"log\": [..{} numbers..]}}, ...]}}, one entry per candidate.",
            candidates
                .iter()
                .enumerate()
                .map(|(i, u)| format!("{}. {}", i + 1, self.setting(u)))
                .collect::<Vec<_>>()
                .join("\n"),
            self.target.metric,
            points
                .iter()
                .map(|p| round4(*p).to_string())
                .collect::<Vec<_>>()
                .join(", "),
            points.len()
        );
        let goal = if self.target.maximize {
            "higher"
        } else {
            "lower"
        };
        vec![
            Message::system(format!(
                "You are an expert in machine learning who predicts, without training, how a model trains under given hyperparameters. The {} is better when {goal}. Reply with the JSON asked for and nothing else.",
                self.target.metric
            )),
            Message::user(user),
        ]
    }

    /// Where the predicted log's points lie: a third, two thirds and all of the fidelity's
    /// range (epochs, say), or of training.
    fn checkpoints(&self) -> (Vec<f64>, String) {
        match &self.space.fidelity {
            Some(f) => {
                let at = |x: f64| {
                    let v = f.min + (f.max - f.min) * x;
                    if f.integer { v.round() } else { v }
                };
                (vec![at(1.0 / 3.0), at(2.0 / 3.0), f.max], f.name.clone())
            }
            None => (vec![1.0, 2.0, 3.0], "thirds of training".into()),
        }
    }

    fn setting(&self, unit: &[f64]) -> String {
        self.space
            .params
            .iter()
            .zip(self.space.decode(unit))
            .map(|(p, v)| match v {
                crate::Value::Float(x) => format!("{}={}", p.name, round4(x)),
                other => format!("{}={other}", p.name),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The best measured results, as the metric (not the loss), best first.
    fn best_results(&self) -> Vec<(Vec<f64>, f64)> {
        let mut done: Vec<(Vec<f64>, f64)> = self
            .ledger
            .finished()
            .filter(|(_, loss)| loss.is_finite())
            .map(|(t, loss)| (t.unit.clone(), loss))
            .collect();
        done.sort_by(|a, b| a.1.total_cmp(&b.1));
        done.truncate(self.settings.shown_results);
        done.into_iter()
            .map(|(u, loss)| (u, if self.target.maximize { -loss } else { loss }))
            .collect()
    }

    /// The candidates' order, best predicted first; `None` when the answer is of no use.
    fn rank(&self, answer: &str, n: usize) -> Option<Vec<usize>> {
        let finals = read_predictions(answer, n)?;
        let mut order: Vec<usize> = (0..n).collect();
        // Unpredicted candidates last; ties keep the quasi-random order.
        let key = |i: usize| match finals[i] {
            Some(v) if self.target.maximize => -v,
            Some(v) => v,
            None => f64::INFINITY,
        };
        order.sort_by(|&a, &b| key(a).total_cmp(&key(b)));
        Some(order)
    }
}

/// The JSON schema of an answer for `n` candidates, each log of `points` numbers (a grammar for
/// the local model).
pub fn answer_schema(n: usize, points: usize) -> Json {
    json!({
        "type": "object",
        "properties": {"predictions": {
            "type": "array",
            "minItems": n, "maxItems": n,
            "items": {
                "type": "object",
                "properties": {
                    "candidate": {"type": "integer"},
                    "log": {"type": "array", "items": {"type": "number"}, "minItems": points, "maxItems": points}
                },
                "required": ["candidate", "log"]
            }
        }},
        "required": ["predictions"]
    })
}

/// Each candidate's predicted final value (its log's last number), by the candidate's number
/// from 1; `None` when the answer holds no such JSON or predicts none of them.
pub fn read_predictions(answer: &str, n: usize) -> Option<Vec<Option<f64>>> {
    let start = answer.find('{')?;
    let end = answer.rfind('}')?;
    let doc: Json = serde_json::from_str(answer.get(start..=end)?).ok()?;
    let mut finals = vec![None; n];
    for p in doc.get("predictions")?.as_array()? {
        let Some(i) = p.get("candidate").and_then(Json::as_u64) else {
            continue;
        };
        let last = p
            .get("log")
            .and_then(Json::as_array)
            .and_then(|l| l.last())
            .and_then(Json::as_f64)
            .filter(|v| v.is_finite());
        if let (Some(slot), Some(v)) = (
            (i as usize).checked_sub(1).and_then(|i| finals.get_mut(i)),
            last,
        ) {
            slot.get_or_insert(v);
        }
    }
    finals.iter().any(Option::is_some).then_some(finals)
}

impl Method for Llm {
    fn name(&self) -> &'static str {
        "llm"
    }

    fn ask(&mut self, n: usize) -> Vec<Trial> {
        if n == 0 {
            return Vec::new();
        }
        let dims = self.space.dims();
        let count = self.settings.candidates.max(n);
        let candidates: Vec<Vec<f64>> = (0..count).map(|_| self.seq.next_point(dims)).collect();
        let options = Options {
            temperature: Some(0.0),
            max_tokens: Some(self.settings.max_tokens),
            json_schema: Some(answer_schema(count, self.checkpoints().0.len())),
            seed: Some(self.seed),
            ..Options::default()
        };
        self.stats.asked.fetch_add(1, Ordering::Relaxed);
        let answer = self
            .model
            .chat(&self.prompt(&candidates), &options)
            .map_err(|e| {
                let mut first = self.stats.error.lock().expect("llm stats");
                first.get_or_insert(e.to_string());
            });
        let order = answer
            .ok()
            .and_then(|answer| self.rank(&answer, count))
            .unwrap_or_else(|| {
                self.stats.unusable.fetch_add(1, Ordering::Relaxed);
                (0..count).collect()
            });
        order
            .into_iter()
            .take(n)
            .map(|i| self.ledger.open(candidates[i].clone(), 1.0))
            .collect()
    }

    fn tell(&mut self, id: TrialId, loss: f64) {
        self.ledger.close(id, loss);
    }
}

fn domain_text(d: &Domain) -> String {
    match d {
        Domain::Float { low, high, log } => format!(
            "real from {low} to {high}{}",
            if *log { ", log scale" } else { "" }
        ),
        Domain::Int { low, high, log } => format!(
            "integer from {low} to {high}{}",
            if *log { ", log scale" } else { "" }
        ),
        Domain::Categorical(cs) => format!("one of {}", cs.join(", ")),
    }
}

fn plain(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Four significant digits: enough for a model to tell settings apart, short in a prompt.
fn round4(x: f64) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    let scale = 10f64.powi(3 - x.abs().log10().floor() as i32);
    (x * scale).round() / scale
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn predictions_are_read_from_json_inside_other_text() {
        let a = "Here:\n```json\n{\"predictions\": [{\"candidate\": 2, \"log\": [50, 80.5]}, {\"candidate\": 1, \"log\": [40, 60]}, {\"candidate\": 9, \"log\": [99]}]}\n```";
        assert_eq!(
            read_predictions(a, 3),
            Some(vec![Some(60.0), Some(80.5), None])
        );
        assert_eq!(read_predictions("no json", 3), None);
        assert_eq!(read_predictions("{\"predictions\": []}", 3), None);
    }

    #[test]
    fn four_significant_digits() {
        assert_eq!(round4(0.000123456), 0.0001235);
        assert_eq!(round4(123456.0), 123500.0);
        assert_eq!(round4(-2.5), -2.5);
    }
}
