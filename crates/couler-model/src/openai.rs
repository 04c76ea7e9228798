//! Any OpenAI-compatible chat-completions endpoint (OpenAI, vLLM, llama.cpp's server, Ollama,
//! …): `POST {endpoint}/chat/completions`, the key as a bearer token. The key is never printed,
//! logged or put in an error.

use crate::{Message, Model, ModelError, Options, Retry};
use serde_json::{Value, json};
use std::time::Duration;

/// `OPENAI_BASE_URL`'s default.
pub const DEFAULT_ENDPOINT: &str = "https://api.openai.com/v1";

/// A client of one endpoint and model.
pub struct OpenAi {
    endpoint: String,
    model: String,
    key: Option<String>,
    retry: Retry,
    http: reqwest::Client,
    runtime: tokio::runtime::Runtime,
}

impl std::fmt::Debug for OpenAi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the key.
        f.debug_struct("OpenAi")
            .field("endpoint", &self.endpoint)
            .field("model", &self.model)
            .finish_non_exhaustive()
    }
}

impl OpenAi {
    /// A client of `endpoint` (the base URL, e.g. `https://api.openai.com/v1`) asking `model`,
    /// with `key` as the bearer token, each request allowed `timeout`.
    pub fn new(
        endpoint: &str,
        model: &str,
        key: Option<String>,
        timeout: Duration,
    ) -> Result<OpenAi, ModelError> {
        let endpoint = endpoint.trim_end_matches('/').to_string();
        if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
            return Err(ModelError(format!(
                "endpoint `{endpoint}`: give the base URL of an OpenAI-compatible API, e.g. {DEFAULT_ENDPOINT} or http://127.0.0.1:8080/v1"
            )));
        }
        // reqwest is built with rustls and no crypto provider of its own (as the CLI's client).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(timeout)
            .build()
            .map_err(|e| ModelError(format!("cannot set up an HTTP client: {e}")))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| ModelError(format!("cannot start the HTTP runtime: {e}")))?;
        Ok(OpenAi {
            endpoint,
            model: model.to_string(),
            key: key.filter(|k| !k.is_empty()),
            retry: Retry::default(),
            http,
            runtime,
        })
    }

    /// The same client with another retry policy.
    pub fn with_retry(mut self, retry: Retry) -> OpenAi {
        self.retry = retry;
        self
    }

    fn url(&self) -> String {
        format!("{}/chat/completions", self.endpoint)
    }

    /// The request body: the chat-completions protocol.
    fn body(&self, messages: &[Message], options: &Options) -> Value {
        let mut body = json!({"model": self.model, "messages": messages});
        if let Some(t) = options.temperature {
            body["temperature"] = json!(t);
        }
        if let Some(seed) = options.seed {
            body["seed"] = json!(seed);
        }
        if let Some(n) = options.max_tokens {
            body["max_tokens"] = json!(n);
        }
        if !options.stop.is_empty() {
            body["stop"] = json!(options.stop);
        }
        if let Some(schema) = &options.json_schema {
            body["response_format"] = json!({
                "type": "json_schema",
                "json_schema": {"name": "answer", "schema": schema},
            });
        }
        body
    }

    /// One attempt: the answer's status, `Retry-After` and text.
    async fn post(&self, body: &Value) -> Result<(u16, Option<String>, String), reqwest::Error> {
        let mut request = self
            .http
            .post(self.url())
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(key) = &self.key {
            request = request.bearer_auth(key);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        Ok((status, retry_after, response.text().await?))
    }

    /// What an answer with an error status tells the user.
    fn refusal(&self, status: u16, text: &str) -> ModelError {
        let url = self.url();
        let excerpt: String = text.chars().take(300).collect();
        ModelError(match status {
            401 | 403 => format!(
                "{url} refused the request ({status}): set OPENAI_API_KEY to a key this endpoint accepts"
            ),
            404 => format!(
                "{url} answered 404: give the API's base URL (the part before /chat/completions, often ending in /v1) and a model it serves (--model `{}`): {excerpt}",
                self.model
            ),
            _ => format!("{url} answered {status}: {excerpt}"),
        })
    }
}

/// The answer's text from a chat-completions response.
fn content(text: &str) -> Result<String, String> {
    let value: Value = serde_json::from_str(text).map_err(|e| format!("not JSON ({e})"))?;
    value
        .pointer("/choices/0/message/content")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| "no `choices[0].message.content` string".to_string())
}

impl Model for OpenAi {
    fn describe(&self) -> String {
        format!("{} at {}", self.model, self.endpoint)
    }

    fn chat(&self, messages: &[Message], options: &Options) -> Result<String, ModelError> {
        let body = self.body(messages, options);
        let url = self.url();
        let mut attempt = 1;
        loop {
            let last = attempt >= self.retry.attempts.max(1);
            match self.runtime.block_on(self.post(&body)) {
                Ok((200..=299, _, text)) => {
                    return content(&text).map_err(|why| {
                        let excerpt: String = text.chars().take(300).collect();
                        ModelError(format!(
                            "{url} answered with something that is not a chat completion: {why}: {excerpt}"
                        ))
                    });
                }
                Ok((status, retry_after, _)) if Retry::retryable(status) && !last => {
                    std::thread::sleep(self.retry.wait(attempt, retry_after.as_deref()));
                }
                Ok((status, _, text)) => return Err(self.refusal(status, &text)),
                Err(e) if (e.is_connect() || e.is_timeout() || e.is_request()) && !last => {
                    std::thread::sleep(self.retry.wait(attempt, None));
                }
                Err(e) => {
                    let what = if e.is_timeout() {
                        "timed out"
                    } else {
                        "unreachable"
                    };
                    return Err(ModelError(format!(
                        "{url} {what} after {attempt} attempt(s): {e}; check --endpoint or OPENAI_BASE_URL"
                    )));
                }
            }
            attempt += 1;
        }
    }
}
