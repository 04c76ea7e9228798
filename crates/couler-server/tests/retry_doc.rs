//! docs/server.md's "Automatic retry" table is generated from `couler_server::retry::PATTERNS`,
//! never written by hand: this test fails when the doc and the code differ, and
//! `COULER_BLESS=1 cargo test -p couler-server --test retry_doc` rewrites the doc's copy.

mod support {
    pub mod generated_doc;
}

use couler_server::retry::{PATTERNS, markdown_table};

#[test]
fn docs_server_md_holds_the_retry_table_from_the_code() {
    support::generated_doc::check(
        &support::generated_doc::server_md(),
        "<!-- BEGIN GENERATED: couler_server::retry::markdown_table -->\n",
        "<!-- END GENERATED: retry -->",
        &markdown_table(),
        "COULER_BLESS=1 cargo test -p couler-server --test retry_doc",
    );
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
