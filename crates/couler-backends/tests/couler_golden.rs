//! The original Couler's golden outputs (`../shared/couler-golden/*.yaml`) against what this
//! compiler emits for the same workflows written in Couler's spec
//! (`tests/couler_golden/<name>.yaml`).
//!
//! Documents are compared by meaning, not bytes (`golden_compare`). Intentional differences are
//! listed in `docs/argo.md`.

use couler_backends::argo::{self, Argo};
use couler_backends::{Backend, Options};
use serde_json::Value;
use std::path::{Path, PathBuf};

mod golden_compare;

fn spec_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/couler_golden")
}

fn compile(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap();
    let (wf, _) = couler_ir::spec::load(&text, couler_ir::Format::Yaml)
        .unwrap_or_else(|d| panic!("{}: {d:?}", path.display()));
    let out = Argo.compile(&wf, &Options::default()).unwrap();
    let yaml = out.files.into_values().next().unwrap();
    let doc: Value = serde_norway::from_str(&yaml).unwrap();
    assert!(argo::lint::lint(&doc).is_empty(), "{}", path.display());
    doc
}

#[test]
fn compiled_specs_match_the_original_couler_goldens() {
    golden_compare::compare_all("tests/couler_golden/", |stem| {
        let spec = spec_dir().join(format!("{stem}.yaml"));
        spec.exists().then(|| compile(&spec))
    });
}
