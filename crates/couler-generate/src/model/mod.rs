//! The one model client: a chat model behind [`Model`], free of workflow concepts, so that any
//! feature asking a language model something (workflow generation here, hyperparameter tuning
//! next) shares it. Implementations: [`openai::OpenAi`] (any OpenAI-compatible chat-completions
//! endpoint) and [`crate::log::Replay`] (the answers of a recorded log, no model at all); the
//! in-process local model comes next.

pub mod openai;
mod retry;

pub use retry::Retry;

use serde::{Deserialize, Serialize};
use std::fmt;

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
