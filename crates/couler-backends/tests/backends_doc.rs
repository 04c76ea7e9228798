//! `docs/backends.md` holds the capability matrix generated from the code, never written by
//! hand: this test fails when the two differ. `COULER_BLESS=1 cargo test -p couler-backends
//! --test backends_doc` rewrites the generated block.

use couler_backends::{TableFormat, capability_table};
use std::path::Path;

const BEGIN: &str = "<!-- BEGIN GENERATED: couler backends --format markdown -->\n";
const END: &str = "<!-- END GENERATED -->";

#[test]
fn docs_backends_md_holds_the_generated_matrix() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/backends.md");
    let doc = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let (Some(b), Some(e)) = (doc.find(BEGIN), doc.find(END)) else {
        panic!(
            "{} must contain the markers {BEGIN:?} and {END:?} around the generated table",
            path.display()
        );
    };
    let generated = format!("\n{}\n", capability_table(TableFormat::Markdown));
    let current = &doc[b + BEGIN.len()..e];
    if current == generated {
        return;
    }
    if std::env::var_os("COULER_BLESS").is_some() {
        let fresh = format!("{}{BEGIN}{generated}{}", &doc[..b], &doc[e..]);
        std::fs::write(&path, fresh).unwrap();
        return;
    }
    panic!(
        "{} is out of date with the capability matrix in the code; regenerate it with\n  COULER_BLESS=1 cargo test -p couler-backends --test backends_doc",
        path.display()
    );
}

#[test]
fn every_backend_and_feature_is_in_the_markdown_table() {
    let table = capability_table(TableFormat::Markdown);
    for b in couler_backends::backends() {
        assert!(
            table.lines().next().unwrap().contains(b.name()),
            "{}",
            b.name()
        );
    }
    for f in couler_backends::Feature::ALL {
        assert!(
            table.contains(&format!("| {} | {} |", f.name(), f.describe())),
            "{}",
            f.name()
        );
    }
}
