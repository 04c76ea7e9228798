//! `couler.generate(...)` (python/couler/_generate.py): the pipeline of `couler generate`
//! (couler-generate: decompose, retrieve, generate, calibrate) with the model the caller names,
//! run with the GIL released.

use couler_generate::pipeline::{Config, Generator};
use couler_model::Choice;
use couler_model::log::Log;
use serde::Deserialize;
use serde_json::json;
use std::path::PathBuf;
use std::time::Duration;

/// What the Python side sends (its keyword arguments, checked there).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    description: String,
    target: String,
    model: String,
    endpoint: Option<String>,
    rounds: u32,
    decompose: bool,
    retrieve: bool,
    calibrate: bool,
    top_k: usize,
    timeout: u64,
    /// Where the log of every exchange goes (JSON lines, as `couler generate` writes it).
    log: Option<PathBuf>,
}

/// `{valid, spec, errors, warnings, model}` as JSON; `Err` when the model failed or the input
/// is refused.
pub fn generate(request: Request) -> Result<String, String> {
    let choice = Choice::from_env(
        &request.model,
        request.endpoint.as_deref(),
        Duration::from_secs(request.timeout),
    );
    let generator = Generator::new(couler_model::open(&choice).map_err(|e| e.to_string())?);
    let mut log = match &request.log {
        Some(path) => Log::create(path)?,
        None => Log::none(),
    };
    let config = Config {
        target: request.target.clone(),
        rounds: request.rounds,
        decompose: request.decompose,
        retrieve: request.retrieve,
        calibrate: request.calibrate,
        top_k: request.top_k,
        file: "generated.yaml".into(),
    };
    let outcome = generator.run(&request.description, &config, &mut log)?;
    Ok(json!({
        "valid": outcome.check.is_valid(),
        "spec": outcome.spec,
        "errors": outcome.check.errors,
        "warnings": outcome.check.warnings,
        "model": generator.describe(),
    })
    .to_string())
}
