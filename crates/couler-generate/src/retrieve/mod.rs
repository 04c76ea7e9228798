//! Retrieval from the Code Lake: for a sub-task, the closest entries. [`Retriever`] is what the
//! pipeline asks; [`Bm25`] answers without a model (sentence embeddings slot in beside it).

mod bm25;

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
