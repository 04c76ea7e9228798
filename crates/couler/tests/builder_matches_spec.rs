//! Each builder program in `crates/couler/examples` builds exactly the IR of the spec file of the
//! same name in the repository's `examples/`: the Rust API and the spec format are two spellings
//! of one workflow.

use couler::ir::{self, Format, Workflow};
use std::path::PathBuf;

// The example programs are compiled here as modules; their `main`s go unused.
#[allow(dead_code)]
#[path = "../examples/artifact_passing.rs"]
mod artifact_passing;
#[allow(dead_code)]
#[path = "../examples/automl.rs"]
mod automl;
#[allow(dead_code)]
#[path = "../examples/coin_flip.rs"]
mod coin_flip;
#[allow(dead_code)]
#[path = "../examples/diamond.rs"]
mod diamond;
#[allow(dead_code)]
#[path = "../examples/flip_until_tails.rs"]
mod flip_until_tails;
#[allow(dead_code)]
#[path = "../examples/hello.rs"]
mod hello;
#[allow(dead_code)]
#[path = "../examples/model_search.rs"]
mod model_search;

fn load_spec(file: &str) -> Workflow {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "..", "..", "examples", file]
        .iter()
        .collect();
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    match ir::spec::load(&text, Format::Yaml) {
        Ok((wf, _warnings)) => wf,
        Err(diags) => {
            let shown: Vec<String> = diags.iter().map(|d| d.render(file, Some(&text))).collect();
            panic!("{file} does not load:\n{}", shown.concat())
        }
    }
}

fn assert_same(built: Result<Workflow, couler::BuildError>, file: &str) {
    let built = built.unwrap_or_else(|e| panic!("the builder for {file} fails:\n{e}"));
    let spec = load_spec(file);
    if built != spec {
        // Print both sides as specs so the difference reads as a YAML diff.
        panic!(
            "the builder's IR differs from {file}\n--- builder:\n{}\n--- {file}:\n{}",
            ir::spec::to_yaml(&built),
            ir::spec::to_yaml(&spec)
        );
    }
}

#[test]
fn hello() {
    assert_same(hello::workflow(), "hello.yaml");
}

#[test]
fn diamond() {
    assert_same(diamond::workflow(), "diamond.yaml");
}

#[test]
fn artifact_passing() {
    assert_same(artifact_passing::workflow(), "artifact-passing.yaml");
}

#[test]
fn coin_flip() {
    assert_same(coin_flip::workflow(), "coin-flip.yaml");
}

#[test]
fn flip_until_tails() {
    assert_same(flip_until_tails::workflow(), "flip-until-tails.yaml");
}

#[test]
fn model_search() {
    assert_same(model_search::workflow(), "model-search.yaml");
}

#[test]
fn automl() {
    assert_same(automl::workflow(), "automl.yaml");
}
