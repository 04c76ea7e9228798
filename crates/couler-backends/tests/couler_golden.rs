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

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/couler-golden")
}

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
    let dir = golden_dir();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        println!("skipping: {} is absent", dir.display());
        return;
    };
    let mut goldens: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    goldens.sort();
    let mut compared = 0;
    let mut missing = Vec::new();
    for golden in goldens {
        let stem = golden.file_stem().unwrap().to_string_lossy().to_string();
        let spec = spec_dir().join(format!("{stem}.yaml"));
        if !spec.exists() {
            missing.push(stem);
            continue;
        }
        let expected: Value =
            serde_norway::from_str(&std::fs::read_to_string(&golden).unwrap()).unwrap();
        golden_compare::assert_same(&stem, &expected, &compile(&spec));
        compared += 1;
    }
    println!("compared {compared} goldens");
    assert!(
        missing.is_empty(),
        "goldens without a Couler-spec equivalent in tests/couler_golden/: {}",
        missing.join(", ")
    );
    assert!(compared > 0);
}
