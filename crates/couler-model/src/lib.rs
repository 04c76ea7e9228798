//! The one model client of Couler: a chat model behind [`Model`], free of workflow and tuning
//! concepts, so that every feature asking a language model something (workflow generation in
//! couler-generate, the `llm` tuning method in couler-tune) shares it. Implementations:
//! [`openai::OpenAi`] (any OpenAI-compatible chat-completions endpoint), [`log::Replay`] (the
//! answers of a recorded log, no model at all) and the in-process [`local::Local`] (a GGUF model
//! run by llama.cpp on the CPU; the `local-model` feature). [`log`] records every exchange;
//! [`standin`] is a loopback OpenAI-compatible server for tests.

#[cfg(feature = "local-model")]
pub mod local;
pub mod log;
pub mod openai;
mod retry;
pub mod standin;

pub use retry::Retry;

use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The file name of the local model `scripts/model-deps` fetches (Qwen2.5-Coder-0.5B-Instruct,
/// Q4_K_M).
pub const LOCAL_FILE: &str = "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf";

/// Where the local model is looked for: `$COULER_LOCAL_MODEL`, else
/// `$XDG_CACHE_HOME/couler/models/` (`~/.cache/couler/models/`) and [`LOCAL_FILE`].
pub fn local_path() -> PathBuf {
    if let Some(p) = std::env::var_os("COULER_LOCAL_MODEL").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from(".cache"));
    cache.join("couler").join("models").join(LOCAL_FILE)
}

/// A model as a user names it (`couler generate --model`, the server's `generate.model`).
#[derive(Clone, Debug)]
pub struct Choice {
    /// `local` (the in-process model at [`local_path`]), a `FILE.gguf`, or a model name the
    /// `endpoint` serves.
    pub model: String,
    /// The base URL of an OpenAI-compatible API (unused by a local model).
    pub endpoint: String,
    /// The endpoint's bearer token.
    pub key: Option<String>,
    /// How long one request to the endpoint may take.
    pub timeout: Duration,
}

impl Choice {
    /// `model` at `endpoint`, else `$OPENAI_BASE_URL`, else OpenAI's; the key `$OPENAI_API_KEY`.
    pub fn from_env(model: &str, endpoint: Option<&str>, timeout: Duration) -> Choice {
        let endpoint = endpoint
            .map(str::to_string)
            .or_else(|| {
                std::env::var("OPENAI_BASE_URL")
                    .ok()
                    .filter(|s| !s.is_empty())
            })
            .unwrap_or_else(|| openai::DEFAULT_ENDPOINT.to_string());
        Choice {
            model: model.to_string(),
            endpoint,
            key: std::env::var("OPENAI_API_KEY").ok(),
            timeout,
        }
    }
}

/// The model `choice` names, ready to answer.
pub fn open(choice: &Choice) -> Result<Box<dyn Model + Send + Sync>, ModelError> {
    let local = match choice.model.as_str() {
        "local" => Some(local_path()),
        name if name.ends_with(".gguf") => Some(PathBuf::from(name)),
        _ => None,
    };
    match local {
        Some(path) => open_local(&path),
        None => openai::OpenAi::new(
            &choice.endpoint,
            &choice.model,
            choice.key.clone(),
            choice.timeout,
        )
        .map(|m| Box::new(m) as Box<dyn Model + Send + Sync>),
    }
}

#[cfg(feature = "local-model")]
fn open_local(path: &Path) -> Result<Box<dyn Model + Send + Sync>, ModelError> {
    local::Local::load(path).map(|m| Box::new(m) as Box<dyn Model + Send + Sync>)
}

#[cfg(not(feature = "local-model"))]
fn open_local(path: &Path) -> Result<Box<dyn Model + Send + Sync>, ModelError> {
    Err(ModelError(format!(
        "{}: this couler was built without the local model; build it with the `local-model` feature (`cargo build --release -p couler-cli --features local-model`; llama.cpp needs cmake and libclang, which `bash scripts/llama-deps` installs), or give the URL of an OpenAI-compatible API",
        path.display()
    )))
}

/// Who says a [`Message`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The instructions.
    System,
    /// The asker.
    User,
    /// The model's earlier answers.
    Assistant,
}

/// One message of a chat.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub role: Role,
    pub content: String,
}

impl Message {
    pub fn system(content: impl Into<String>) -> Message {
        Message {
            role: Role::System,
            content: content.into(),
        }
    }
    pub fn user(content: impl Into<String>) -> Message {
        Message {
            role: Role::User,
            content: content.into(),
        }
    }
    pub fn assistant(content: impl Into<String>) -> Message {
        Message {
            role: Role::Assistant,
            content: content.into(),
        }
    }
}

/// How to sample one answer.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Options {
    /// Sampling temperature (`None`: the model's default).
    pub temperature: Option<f32>,
    /// The most tokens the answer may have (`None`: the model's default).
    pub max_tokens: Option<u32>,
    /// Strings that end the answer.
    pub stop: Vec<String>,
    /// A JSON schema the answer must follow (constrained output), where the model supports it.
    pub json_schema: Option<serde_json::Value>,
    /// A sampling seed (`None`: none sent), so repeated samples differ reproducibly where the
    /// model honours it.
    pub seed: Option<u64>,
}

/// Why a model gave no answer; the message names the model or endpoint and what to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelError(pub String);

impl fmt::Display for ModelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ModelError {}

/// A chat model: messages in, one answer out.
pub trait Model {
    /// What the model is, for progress lines and logs (never a secret).
    fn describe(&self) -> String;
    /// The model's answer to `messages`.
    fn chat(&self, messages: &[Message], options: &Options) -> Result<String, ModelError>;
}
