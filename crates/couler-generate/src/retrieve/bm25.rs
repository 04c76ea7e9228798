//! Okapi BM25 (k1 = 1.2, b = 0.75, the non-negative idf ln(1 + (N − df + ½)/(df + ½))) over
//! lower-cased alphanumeric tokens.

use super::{Hit, Retriever};
use std::collections::HashMap;

const K1: f64 = 1.2;
const B: f64 = 0.75;

/// An index of documents' term frequencies.
pub struct Bm25 {
    docs: Vec<HashMap<String, u32>>,
    lengths: Vec<f64>,
    average: f64,
    df: HashMap<String, u32>,
}

/// The terms of `text`: maximal runs of letters and digits, lower-cased, two characters or more.
pub fn tokens(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|t| t.chars().count() > 1)
        .map(str::to_lowercase)
}

impl Bm25 {
    /// Indexes `docs`.
    pub fn new<'a>(docs: impl IntoIterator<Item = &'a str>) -> Bm25 {
        let mut df: HashMap<String, u32> = HashMap::new();
        let mut freqs = Vec::new();
        let mut lengths = Vec::new();
        for doc in docs {
            let mut tf: HashMap<String, u32> = HashMap::new();
            let mut len = 0;
            for t in tokens(doc) {
                *tf.entry(t).or_default() += 1;
                len += 1;
            }
            for t in tf.keys() {
                *df.entry(t.clone()).or_default() += 1;
            }
            freqs.push(tf);
            lengths.push(f64::from(len));
        }
        let average = if lengths.is_empty() {
            0.0
        } else {
            lengths.iter().sum::<f64>() / lengths.len() as f64
        };
        Bm25 {
            docs: freqs,
            lengths,
            average,
            df,
        }
    }

    /// `query`'s score against document `i`.
    pub fn score(&self, query: &[String], i: usize) -> f64 {
        let n = self.docs.len() as f64;
        let norm = 1.0 - B + B * self.lengths[i] / self.average.max(1.0);
        query
            .iter()
            .filter_map(|t| {
                let tf = f64::from(*self.docs[i].get(t)?);
                let df = f64::from(self.df[t]);
                let idf = (1.0 + (n - df + 0.5) / (df + 0.5)).ln();
                Some(idf * tf * (K1 + 1.0) / (tf + K1 * norm))
            })
            .sum()
    }
}

impl Retriever for Bm25 {
    fn retrieve(&self, query: &str, k: usize) -> Vec<Hit> {
        let mut terms: Vec<String> = tokens(query).collect();
        terms.sort();
        terms.dedup();
        let mut hits: Vec<Hit> = (0..self.docs.len())
            .map(|index| Hit {
                index,
                score: self.score(&terms, index),
            })
            .filter(|h| h.score > 0.0)
            .collect();
        // Stable: equal scores keep the documents' order.
        hits.sort_by(|a, b| b.score.total_cmp(&a.score));
        hits.truncate(k);
        hits
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOCS: [&str; 4] = [
        "name: hello\nsteps: a container step that echoes a greeting",
        "name: train\nsteps: train three models concurrently, evaluate them, select the best model",
        "name: coin-flip\nsteps: flip a coin; when heads run heads, when tails run tails",
        "map fan-out: run one step per item of a list, collect the outputs",
    ];

    #[test]
    fn the_document_about_the_sub_task_ranks_first() {
        let index = Bm25::new(DOCS);
        let ranked =
            |q: &str| -> Vec<usize> { index.retrieve(q, 4).iter().map(|h| h.index).collect() };
        assert_eq!(ranked("Train several models and select the best one")[0], 1);
        assert_eq!(ranked("flip a coin and branch on heads or tails")[0], 2);
        assert_eq!(ranked("fan out over a list of items")[0], 3);
        // Nothing in common: nothing retrieved.
        assert!(ranked("kubernetes volumes").is_empty());
        // k caps the answer.
        assert_eq!(index.retrieve("step", 2).len(), 2);
    }

    #[test]
    fn a_rare_term_outweighs_a_common_one_and_ties_keep_order() {
        let index = Bm25::new(["alpha common", "beta common", "common common"]);
        let hits = index.retrieve("beta common", 3);
        assert_eq!(hits[0].index, 1);
        let tied = Bm25::new(["same words", "same words"]).retrieve("same", 2);
        assert_eq!((tied[0].index, tied[1].index), (0, 1));
        assert_eq!(tied[0].score, tied[1].score);
        assert!(Bm25::new([]).retrieve("anything", 3).is_empty());
    }
}
