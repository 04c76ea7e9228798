//! Retrieval by sentence embeddings with the real all-MiniLM-L6-v2 (scripts/embedding-deps
//! fetches it; `COULER_EMBEDDING_MODEL` names its directory): what the embeddings mean (a
//! paraphrase is closer than another topic), that padding in a batch changes nothing, and that
//! the Code Lake entry about a sub-task ranks first.

use couler_generate::lake;
use couler_generate::retrieve::dense::{Dense, Embedder, cosine, model_dir};
use couler_generate::retrieve::{Kind, Retriever, best};
use std::sync::OnceLock;

/// The model, loaded once for the file's tests; absent weights fail with the fix.
fn embedder() -> &'static Embedder {
    static MODEL: OnceLock<Embedder> = OnceLock::new();
    MODEL.get_or_init(|| Embedder::load(&model_dir()).unwrap_or_else(|e| panic!("{e}")))
}

/// sentence-transformers' own quick start (its README, with this model) prints these
/// similarities: 0.6660, 0.1046 and 0.1411.
#[test]
fn the_similarities_are_sentence_transformers_own() {
    let texts = [
        "The weather is lovely today.",
        "It's so sunny outside!",
        "He drove to the stadium.",
    ];
    let v = embedder().embed(&texts).unwrap();
    assert_eq!((v.len(), v[0].len()), (3, 384));
    for e in &v {
        let norm: f64 = cosine(e, e);
        assert!((norm - 1.0).abs() < 1e-4, "{norm}");
    }
    let got = [
        cosine(&v[0], &v[1]),
        cosine(&v[0], &v[2]),
        cosine(&v[1], &v[2]),
    ];
    for (g, want) in got.iter().zip([0.6660, 0.1046, 0.1411]) {
        assert!((g - want).abs() < 5e-4, "{got:?}");
    }
}

#[test]
fn a_text_embeds_alike_alone_and_padded_in_a_batch() {
    let short = "flip a coin";
    let long = "a much longer sentence about training several models concurrently, evaluating each on held-out data and publishing the best one to the registry";
    let alone = embedder().embed(&[short]).unwrap().remove(0);
    let batch = embedder().embed(&[short, long]).unwrap();
    assert!(
        cosine(&alone, &batch[0]) > 0.9999,
        "padding changed the embedding"
    );
    // Over the model's 256 tokens, a text is cut, not refused.
    let huge = "step ".repeat(2000);
    assert_eq!(embedder().embed(&[&huge]).unwrap()[0].len(), 384);
}

#[test]
fn the_lake_entry_about_a_sub_task_ranks_first() {
    let lake = lake::builtin();
    let docs: Vec<&str> = lake.iter().map(|e| e.text.as_str()).collect();
    let index = Dense::new(Embedder::load(&model_dir()).unwrap(), docs.iter().copied()).unwrap();
    let top = |q: &str, k: usize| -> Vec<String> {
        index
            .retrieve(q, k)
            .iter()
            .map(|h| lake[h.index].id.clone())
            .collect()
    };
    let flips = top("keep flipping a coin until it comes up tails", 3);
    assert!(
        flips
            .iter()
            .any(|id| id == "examples/flip-until-tails.yaml"),
        "{flips:?}"
    );
    let tuning = top(
        "search the hyperparameters of a model for the best accuracy",
        3,
    );
    assert!(tuning.iter().any(|id| id.contains("tune")), "{tuning:?}");
    // `best` picks the embeddings here, and says so.
    let (_, note) = best(Kind::Auto, &docs).unwrap();
    assert!(note.starts_with("sentence embeddings"), "{note}");
}

#[test]
fn a_missing_model_is_an_error_naming_the_script() {
    let dir = tempfile::tempdir().unwrap();
    let err = Embedder::load(dir.path()).err().unwrap();
    assert!(
        err.contains("no config.json") && err.contains("scripts/embedding-deps"),
        "{err}"
    );
}

#[test]
fn the_lake_s_embeddings_are_cached_by_model_and_text() {
    let cache = tempfile::tempdir().unwrap();
    let docs = ["a container step that echoes a greeting", "flip a coin"];
    let first = Dense::cached(Embedder::load(&model_dir()).unwrap(), &docs, cache.path()).unwrap();
    let files: Vec<_> = std::fs::read_dir(cache.path()).unwrap().collect();
    assert_eq!(files.len(), 1, "one file for one set of texts");
    let path = files[0].as_ref().unwrap().path();
    // A stored vector is what a later index uses: overwrite it and see the ranking follow.
    let mut stored: Vec<Vec<f32>> = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(stored.len(), 2);
    stored.swap(0, 1);
    std::fs::write(&path, serde_json::to_vec(&stored).unwrap()).unwrap();
    let again = Dense::cached(Embedder::load(&model_dir()).unwrap(), &docs, cache.path()).unwrap();
    assert_eq!(first.retrieve("toss a coin", 1)[0].index, 1);
    assert_eq!(
        again.retrieve("toss a coin", 1)[0].index,
        0,
        "read from the cache"
    );
    // Other texts, another key: embedded afresh.
    let other = ["flip a coin", "a container step that echoes a greeting"];
    let fresh = Dense::cached(Embedder::load(&model_dir()).unwrap(), &other, cache.path()).unwrap();
    assert_eq!(fresh.retrieve("toss a coin", 1)[0].index, 0);
    assert_eq!(std::fs::read_dir(cache.path()).unwrap().count(), 2);
}
