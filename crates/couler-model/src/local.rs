//! The in-process local model: a GGUF chat model run on this machine's CPU by llama.cpp
//! (through `llama-cpp-2`), with no server and no network. Where a stage gives
//! [`Options::json_schema`], the schema becomes a llama.cpp grammar and the sampler can only
//! produce text that follows it, so a small model's answer parses.
//!
//! The default model is Qwen2.5-Coder-0.5B-Instruct (Q4_K_M), fetched, joined and hash-checked
//! by `scripts/model-deps` into `~/.cache/couler/models/` ([`crate::local_path`]).

use crate::{Message, Model, ModelError, Options, Role};
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::{LlamaChatMessage, LlamaModel};
use llama_cpp_2::sampling::LlamaSampler;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The tokens of prompt and answer together (the model was trained on 32,768).
const CONTEXT: u32 = 8192;
/// The answer's length when the stage sets none.
const DEFAULT_MAX_TOKENS: u32 = 1024;
/// Prompt tokens decoded per batch.
const BATCH: usize = 512;

/// llama.cpp's process-wide state: initialised once, never torn down.
fn backend() -> Result<&'static LlamaBackend, ModelError> {
    static BACKEND: OnceLock<Result<LlamaBackend, String>> = OnceLock::new();
    BACKEND
        .get_or_init(|| {
            let mut backend = LlamaBackend::init().map_err(|e| e.to_string())?;
            backend.void_logs();
            Ok(backend)
        })
        .as_ref()
        .map_err(|e| {
            ModelError(format!(
                "the local model's runtime (llama.cpp) did not start: {e}"
            ))
        })
}

/// llama.cpp is built for x86-64-v3 (.cargo/config.toml): a CPU without AVX2, FMA and F16C
/// would die of an illegal instruction, so it is refused first.
fn cpu_check() -> Result<(), ModelError> {
    #[cfg(target_arch = "x86_64")]
    if !(std::arch::is_x86_feature_detected!("avx2")
        && std::arch::is_x86_feature_detected!("fma")
        && std::arch::is_x86_feature_detected!("f16c"))
    {
        return Err(ModelError(
            "this CPU lacks AVX2, FMA or F16C, which this couler's llama.cpp was built for (.cargo/config.toml): rebuild without the GGML_* lines there, or use --endpoint URL of an OpenAI-compatible API".into(),
        ));
    }
    Ok(())
}

/// A GGUF chat model loaded into memory, answering on the CPU.
pub struct Local {
    path: PathBuf,
    model: LlamaModel,
    threads: i32,
    /// The most tokens any answer may have, whatever the stage asks.
    cap: Option<u32>,
}

impl Local {
    /// Loads the model at `path` (memory-mapped).
    pub fn load(path: &Path) -> Result<Local, ModelError> {
        if !path.is_file() {
            return Err(ModelError(format!(
                "the local model {} is not there: run `bash scripts/model-deps` (it fetches Qwen2.5-Coder-0.5B-Instruct, Q4_K_M, and checks its hash), or give --model PATH.gguf, or set COULER_LOCAL_MODEL",
                path.display()
            )));
        }
        cpu_check()?;
        let backend = backend()?;
        let model = LlamaModel::load_from_file(backend, path, &LlamaModelParams::default())
            .map_err(|e| {
                ModelError(format!(
                    "{}: not a model llama.cpp can load ({e}); give a GGUF chat model",
                    path.display()
                ))
            })?;
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get().min(16)) as i32;
        Ok(Local {
            path: path.to_path_buf(),
            model,
            threads,
            cap: None,
        })
    }

    /// Caps every answer at `tokens` (a bounded run: tests, quick trials).
    pub fn capped(mut self, tokens: u32) -> Local {
        self.cap = Some(tokens);
        self
    }

    /// The chat rendered by the model's own template, ready for the assistant's answer.
    fn prompt(&self, messages: &[Message]) -> Result<String, ModelError> {
        let template = self.model.chat_template(None).map_err(|e| {
            ModelError(format!(
                "{}: the model has no chat template ({e}); give a chat (instruct) model",
                self.path.display()
            ))
        })?;
        let chat = messages
            .iter()
            .map(|m| {
                let role = match m.role {
                    Role::System => "system",
                    Role::User => "user",
                    Role::Assistant => "assistant",
                };
                LlamaChatMessage::new(role.into(), m.content.clone())
                    .map_err(|e| ModelError(format!("a message the model cannot take: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.model
            .apply_chat_template(&template, &chat, true)
            .map_err(|e| ModelError(format!("the model's chat template failed: {e}")))
    }

    /// The sampler: the schema's grammar first (where there is one), then greedy at temperature
    /// 0 (the default), else top-k, top-p, temperature and a seeded draw.
    fn sampler(&self, options: &Options) -> Result<LlamaSampler, ModelError> {
        let mut chain = Vec::new();
        if let Some(schema) = &options.json_schema {
            let grammar = llama_cpp_2::json_schema_to_grammar(&schema.to_string())
                .map_err(|e| ModelError(format!("the answer's JSON schema has no grammar: {e}")))?;
            chain.push(
                LlamaSampler::grammar(&self.model, &grammar, "root")
                    .map_err(|e| ModelError(format!("the answer's grammar was refused: {e}")))?,
            );
        }
        match options.temperature.filter(|t| *t > 0.0) {
            None => chain.push(LlamaSampler::greedy()),
            Some(t) => {
                chain.push(LlamaSampler::top_k(40));
                chain.push(LlamaSampler::top_p(0.95, 1));
                chain.push(LlamaSampler::temp(t));
                chain.push(LlamaSampler::dist(options.seed.unwrap_or(0) as u32));
            }
        }
        Ok(LlamaSampler::chain_simple(chain))
    }
}

impl Model for Local {
    fn describe(&self) -> String {
        format!(
            "the local model {} (llama.cpp on {} CPU thread(s))",
            self.path.display(),
            self.threads
        )
    }

    fn chat(&self, messages: &[Message], options: &Options) -> Result<String, ModelError> {
        let backend = backend()?;
        let prompt = self.prompt(messages)?;
        let vocab = self.model.vocab();
        let tokens = vocab.tokenize(prompt.as_bytes(), false, true);
        let max_tokens = options
            .max_tokens
            .unwrap_or(DEFAULT_MAX_TOKENS)
            .min(self.cap.unwrap_or(u32::MAX));
        if tokens.len() + max_tokens as usize > CONTEXT as usize {
            return Err(ModelError(format!(
                "the prompt is {} tokens and the answer may be {max_tokens}, more than the local model's context of {CONTEXT}: give fewer --top-k entries, or --no-retrieve",
                tokens.len()
            )));
        }
        let params = LlamaContextParams::default()
            .with_n_ctx(NonZeroU32::new(CONTEXT))
            .with_n_batch(BATCH as u32)
            .with_n_threads(self.threads)
            .with_n_threads_batch(self.threads);
        let mut ctx = self
            .model
            .new_context(backend, params)
            .map_err(|e| ModelError(format!("the local model's context: {e}")))?;
        let decode_error = |e: &dyn std::fmt::Display| ModelError(format!("llama.cpp: {e}"));
        let mut batch = LlamaBatch::new(BATCH, 1);
        for (chunk_start, chunk) in tokens.chunks(BATCH).enumerate() {
            batch.clear();
            for (i, token) in chunk.iter().enumerate() {
                let pos = (chunk_start * BATCH + i) as i32;
                let last = chunk_start * BATCH + i == tokens.len() - 1;
                batch
                    .add(*token, pos, &[0], last)
                    .map_err(|e| decode_error(&e))?;
            }
            ctx.decode(&mut batch).map_err(|e| decode_error(&e))?;
        }
        let mut sampler = self.sampler(options)?;
        let mut answer: Vec<u8> = Vec::new();
        let mut last = batch.n_tokens() - 1;
        // Each answer token is decoded at the position after the last one.
        for pos in (tokens.len() as i32..).take(max_tokens as usize) {
            let token = sampler.sample(&ctx, last);
            if vocab.is_eog(token) {
                break;
            }
            answer.extend(vocab.token_to_piece(token, false, None));
            if let Some(cut) = stop_at(&answer, &options.stop) {
                answer.truncate(cut);
                break;
            }
            batch.clear();
            batch
                .add(token, pos, &[0], true)
                .map_err(|e| decode_error(&e))?;
            ctx.decode(&mut batch).map_err(|e| decode_error(&e))?;
            last = 0;
        }
        Ok(String::from_utf8_lossy(&answer).into_owned())
    }
}

/// Where the first stop string begins in `text`, if one has appeared.
fn stop_at(text: &[u8], stops: &[String]) -> Option<usize> {
    stops
        .iter()
        .filter(|s| !s.is_empty())
        .filter_map(|s| text.windows(s.len()).position(|w| w == s.as_bytes()))
        .min()
}

#[cfg(test)]
mod tests {
    use super::stop_at;

    #[test]
    fn the_answer_ends_where_a_stop_string_begins() {
        let stops = vec!["```".to_string(), "END".to_string()];
        assert_eq!(stop_at(b"steps: []\n```", &stops), Some(10));
        assert_eq!(stop_at(b"a END b ```", &stops), Some(2));
        assert_eq!(stop_at(b"no stop yet", &stops), None);
        assert_eq!(stop_at(b"anything", &[String::new()]), None);
    }
}
