//! The flags that name a language model, shared by `couler generate` and `couler tune bench`
//! (the `llm` method), and the one way they become a model.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use couler_model::log::Replay;
use couler_model::{Choice, Model};

#[derive(Args)]
pub struct ModelArgs {
    /// The model to ask: a name the endpoint serves, or `local` (the in-process CPU model
    /// `scripts/model-deps` fetches; $COULER_LOCAL_MODEL overrides its path), or a FILE.gguf
    #[arg(long, default_value = "gpt-4o-mini")]
    pub model: String,
    /// The base URL of an OpenAI-compatible API [default: $OPENAI_BASE_URL, else
    /// https://api.openai.com/v1]; the key is $OPENAI_API_KEY
    #[arg(long, value_name = "URL")]
    pub endpoint: Option<String>,
    /// Answer from this log instead of a model (what `couler generate` or `couler tune bench
    /// --record` wrote): the same questions get the recorded answers, so the same command
    /// reproduces its output byte for byte
    #[arg(long, value_name = "LOG")]
    pub replay: Option<PathBuf>,
    /// Seconds each request to the endpoint may take
    #[arg(long, default_value_t = 300)]
    pub timeout: u64,
}

impl ModelArgs {
    /// The model these flags name (the replay of a log, where given).
    pub fn open(&self) -> Result<Box<dyn Model + Send + Sync>, String> {
        if let Some(log) = &self.replay {
            return Ok(Box::new(Replay::open(log)?));
        }
        let choice = Choice::from_env(
            &self.model,
            self.endpoint.as_deref(),
            Duration::from_secs(self.timeout),
        );
        couler_model::open(&choice).map_err(|e| e.to_string())
    }
}
