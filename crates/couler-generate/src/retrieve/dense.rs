//! Retrieval by sentence embeddings: all-MiniLM-L6-v2 (a 6-layer BERT, 384 dimensions) run by
//! candle on the CPU, as sentence-transformers runs it: WordPiece tokens (at most 256), the
//! encoder's last hidden states averaged over the real tokens, scaled to unit length. A query's
//! score against a document is the cosine of their embeddings. The documents' embeddings are
//! cached on disk, keyed by the model and the texts, so a later run embeds only its queries.

use super::{Hit, Retriever};
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use std::path::{Path, PathBuf};
use tokenizers::{PaddingParams, Tokenizer, TruncationParams};

/// The most tokens an input keeps (the model's `max_seq_length`).
const MAX_TOKENS: usize = 256;

/// Texts embedded at once (attention's memory grows with the batch: 4 keeps the peak near
/// the model's own size).
const BATCH: usize = 4;

/// couler's cache directory: `$XDG_CACHE_HOME/couler`, else `~/.cache/couler`.
fn cache_root() -> PathBuf {
    std::env::var_os("XDG_CACHE_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from(".cache"))
        .join("couler")
}

/// Where `scripts/embedding-deps` puts the model: `$COULER_EMBEDDING_MODEL`, else
/// `~/.cache/couler/models/all-minilm-l6-v2` (or under `$XDG_CACHE_HOME`).
pub fn model_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("COULER_EMBEDDING_MODEL").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    cache_root().join("models/all-minilm-l6-v2")
}

/// Where documents' embeddings are cached: `~/.cache/couler/embeddings`.
pub fn embeddings_cache() -> PathBuf {
    cache_root().join("embeddings")
}

/// The sentence-embedding model.
pub struct Embedder {
    model: BertModel,
    tokenizer: Tokenizer,
    device: Device,
    /// What identifies the model in cache keys: its config and the sizes of its files.
    identity: String,
}

impl Embedder {
    /// The model in `dir` (`config.json`, `tokenizer.json`, `model.safetensors`); an error names
    /// the file and says how to get it.
    pub fn load(dir: &Path) -> Result<Embedder, String> {
        let fix = "run scripts/embedding-deps (it fetches all-MiniLM-L6-v2, hash-checked), or set COULER_EMBEDDING_MODEL to its directory";
        let file = |name: &str| {
            let path = dir.join(name);
            if path.is_file() {
                Ok(path)
            } else {
                Err(format!("no {} in {}: {fix}", name, dir.display()))
            }
        };
        let config_path = file("config.json")?;
        let config_text = std::fs::read_to_string(&config_path)
            .map_err(|e| format!("cannot read {}: {e}", config_path.display()))?;
        let config: Config = serde_json::from_str(&config_text)
            .map_err(|e| format!("{}: not a BERT config ({e})", config_path.display()))?;
        let tokenizer_path = file("tokenizer.json")?;
        let mut tokenizer = Tokenizer::from_file(&tokenizer_path)
            .map_err(|e| format!("{}: {e}", tokenizer_path.display()))?;
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS,
                ..TruncationParams::default()
            }))
            .map_err(|e| format!("{}: {e}", tokenizer_path.display()))?;
        tokenizer.with_padding(Some(PaddingParams::default()));
        let weights_path = file("model.safetensors")?;
        let weights = std::fs::read(&weights_path)
            .map_err(|e| format!("cannot read {}: {e}", weights_path.display()))?;
        let identity = format!(
            "{config_text}\n{} {}",
            weights.len(),
            std::fs::metadata(&tokenizer_path).map_or(0, |m| m.len())
        );
        let device = Device::Cpu;
        let model = VarBuilder::from_buffered_safetensors(weights, DType::F32, &device)
            .and_then(|vb| BertModel::load(vb, &config))
            .map_err(|e| format!("{}: not the model's weights ({e})", weights_path.display()))?;
        Ok(Embedder {
            model,
            tokenizer,
            device,
            identity,
        })
    }

    /// The unit-length embedding of each text, in order.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, String> {
        let mut out = Vec::with_capacity(texts.len());
        for batch in texts.chunks(BATCH) {
            out.extend(
                self.embed_batch(batch)
                    .map_err(|e| format!("embedding: {e}"))?,
            );
        }
        Ok(out)
    }

    fn embed_batch(
        &self,
        texts: &[&str],
    ) -> Result<Vec<Vec<f32>>, Box<dyn std::error::Error + Send + Sync>> {
        let encodings = self.tokenizer.encode_batch(texts.to_vec(), true)?;
        let rows = |f: fn(&tokenizers::Encoding) -> &[u32]| -> candle_core::Result<Tensor> {
            let rows = encodings
                .iter()
                .map(|e| Tensor::new(f(e), &self.device))
                .collect::<candle_core::Result<Vec<_>>>()?;
            Tensor::stack(&rows, 0)
        };
        let ids = rows(tokenizers::Encoding::get_ids)?;
        let types = ids.zeros_like()?;
        let mask = rows(tokenizers::Encoding::get_attention_mask)?;
        let hidden = self.model.forward(&ids, &types, Some(&mask))?;
        // Mean over the real tokens (the mask), then unit length.
        let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
        let summed = hidden.broadcast_mul(&mask)?.sum(1)?;
        let counts = mask.sum(1)?;
        let mean = summed.broadcast_div(&counts)?;
        let norm = mean.sqr()?.sum_keepdim(1)?.sqrt()?;
        Ok(mean.broadcast_div(&norm)?.to_vec2::<f32>()?)
    }
}

/// Documents ranked by the cosine of their embeddings with the query's.
pub struct Dense {
    embedder: Embedder,
    docs: Vec<Vec<f32>>,
}

impl Dense {
    /// Embeds `docs` once.
    pub fn new<'a>(
        embedder: Embedder,
        docs: impl IntoIterator<Item = &'a str>,
    ) -> Result<Dense, String> {
        let docs: Vec<&str> = docs.into_iter().collect();
        let docs = embedder.embed(&docs)?;
        Ok(Dense { embedder, docs })
    }

    /// [`Dense::new`], the embeddings read from `cache` when this model embedded these very
    /// texts before, and written there otherwise (a cache that cannot be written is skipped:
    /// it only saves time).
    pub fn cached(embedder: Embedder, docs: &[&str], cache: &Path) -> Result<Dense, String> {
        use sha2::{Digest, Sha256};
        let mut key = Sha256::new();
        for part in std::iter::once(embedder.identity.as_str()).chain(docs.iter().copied()) {
            key.update((part.len() as u64).to_le_bytes());
            key.update(part.as_bytes());
        }
        let name: String = key.finalize()[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let path = cache.join(format!("{name}.json"));
        let stored = std::fs::read(&path)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<Vec<Vec<f32>>>(&bytes).ok())
            .filter(|v| v.len() == docs.len());
        if let Some(vectors) = stored {
            return Ok(Dense {
                embedder,
                docs: vectors,
            });
        }
        let dense = Dense::new(embedder, docs.iter().copied())?;
        let tmp = cache.join(format!(".{name}.{}.tmp", std::process::id()));
        let written = std::fs::create_dir_all(cache)
            .and_then(|()| std::fs::write(&tmp, serde_json::to_vec(&dense.docs)?))
            .and_then(|()| std::fs::rename(&tmp, &path));
        if written.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        Ok(dense)
    }

    /// The embedding of `text`.
    pub fn embed(&self, text: &str) -> Result<Vec<f32>, String> {
        Ok(self.embedder.embed(&[text])?.remove(0))
    }
}

/// The cosine of two unit vectors.
pub fn cosine(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(x, y)| f64::from(x * y)).sum()
}

impl Retriever for Dense {
    fn retrieve(&self, query: &str, k: usize) -> Vec<Hit> {
        // The model is loaded and the documents embedded: a query cannot fail but by a bug.
        let Ok(q) = self.embed(query) else {
            return Vec::new();
        };
        let mut hits: Vec<Hit> = self
            .docs
            .iter()
            .enumerate()
            .map(|(index, d)| Hit {
                index,
                score: cosine(&q, d),
            })
            .collect();
        // Stable: equal scores keep the documents' order.
        hits.sort_by(|a, b| b.score.total_cmp(&a.score));
        hits.truncate(k);
        hits
    }
}
