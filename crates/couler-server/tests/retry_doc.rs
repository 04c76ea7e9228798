//! docs/server.md's "Automatic retry" table is generated from `couler_server::retry::PATTERNS`,
//! never written by hand: this test fails when the doc and the code differ, and
//! `COULER_BLESS=1 cargo test -p couler-server --test retry_doc` rewrites the doc's copy.

use couler_server::retry::{PATTERNS, markdown_table};
use std::path::PathBuf;

const BEGIN: &str = "<!-- BEGIN GENERATED: couler_server::retry::markdown_table -->\n";
const END: &str = "<!-- END GENERATED: retry -->";

fn doc_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/server.md")
}

#[test]
fn docs_server_md_holds_the_retry_table_from_the_code() {
    let path = doc_path();
    let doc = std::fs::read_to_string(&path).expect("docs/server.md is readable");
    let start = doc.find(BEGIN).map(|b| b + BEGIN.len());
    let end = doc.find(END);
    let (Some(start), Some(end)) = (start, end) else {
        panic!("{} lacks the markers {BEGIN:?} … {END:?}", path.display());
    };
    let table = format!("\n{}\n", markdown_table());
    if doc[start..end] == table {
        return;
    }
    assert!(
        std::env::var_os("COULER_BLESS").is_some(),
        "{}'s retry table differs from the code; regenerate it with\n  COULER_BLESS=1 cargo test -p couler-server --test retry_doc",
        path.display()
    );
    std::fs::write(&path, [&doc[..start], &table, &doc[end..]].concat())
        .expect("docs/server.md is writable");
}

#[test]
fn the_table_has_one_row_per_pattern_in_matching_order() {
    let table = markdown_table();
    let rows: Vec<&str> = table.lines().skip(2).collect();
    assert_eq!(rows.len(), PATTERNS.len());
    for (i, (row, p)) in rows.iter().zip(PATTERNS).enumerate() {
        let head = format!("| {} | `{}` |", i + 1, p.name);
        assert!(row.starts_with(&head), "{row}");
        let policy = if p.retryable() {
            "| retry ×"
        } else {
            "| never |"
        };
        assert!(row.contains(policy), "{row}");
    }
}
