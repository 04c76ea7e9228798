//! Retrieval from the Code Lake: for a sub-task, the closest entries. [`Retriever`] is what the
//! pipeline asks; [`Bm25`] answers without a model, `Dense` (feature `embeddings`) by sentence
//! embeddings; [`best`] picks the embeddings where they can run, BM25 otherwise.

mod bm25;
#[cfg(feature = "embeddings")]
pub mod dense;

pub use bm25::Bm25;

/// One retrieved entry: its index in the lake and its score (higher is closer).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Hit {
    pub index: usize,
    pub score: f64,
}

/// Ranks a fixed set of documents against a query.
pub trait Retriever {
    /// The `k` closest documents to `query`, closest first; documents that share nothing with
    /// the query are left out. Equal scores keep the documents' order (deterministic).
    fn retrieve(&self, query: &str, k: usize) -> Vec<Hit>;
}

/// Which retriever ranks the Code Lake (`couler generate --retriever`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Sentence embeddings where they can run, else BM25 (the default).
    Auto,
    /// BM25 only.
    Bm25,
    /// Sentence embeddings, or an error saying why they cannot run.
    Embeddings,
}

/// A retriever over `docs` of `kind`, and a note saying which and, where `auto` fell back to
/// BM25, why.
pub fn best(
    kind: Kind,
    docs: &[&str],
) -> Result<(Box<dyn Retriever + Send + Sync>, String), String> {
    if kind == Kind::Bm25 {
        return Ok((Box::new(Bm25::new(docs.iter().copied())), "BM25".into()));
    }
    match embeddings(docs) {
        Ok(dense) => Ok(dense),
        Err(why) if kind == Kind::Auto => Ok((
            Box::new(Bm25::new(docs.iter().copied())),
            format!("BM25 (sentence embeddings unavailable: {why})"),
        )),
        Err(why) => Err(why),
    }
}

#[cfg(feature = "embeddings")]
fn embeddings(docs: &[&str]) -> Result<(Box<dyn Retriever + Send + Sync>, String), String> {
    let dir = dense::model_dir();
    let embedder = dense::Embedder::load(&dir)?;
    let index = dense::Dense::cached(embedder, docs, &dense::embeddings_cache())?;
    Ok((
        Box::new(index),
        format!("sentence embeddings (all-MiniLM-L6-v2, {})", dir.display()),
    ))
}

#[cfg(not(feature = "embeddings"))]
fn embeddings(_: &[&str]) -> Result<(Box<dyn Retriever + Send + Sync>, String), String> {
    Err("this couler was built without the `embeddings` feature".into())
}
