//! docs/server.md's table of API routes is generated from `couler_server::api::routes::table`,
//! the table the router and the OpenAPI document are built from: this test fails when the doc
//! and the code differ, and `COULER_BLESS=1 cargo test -p couler-server --test api_doc`
//! rewrites the doc's copy.

mod support {
    pub mod generated_doc;
}

use couler_server::api::routes::{markdown_table, openapi, table};

#[test]
fn docs_server_md_holds_the_route_table_from_the_code() {
    support::generated_doc::check(
        &support::generated_doc::server_md(),
        "<!-- BEGIN GENERATED: couler_server::api::routes::markdown_table -->\n",
        "<!-- END GENERATED: routes -->",
        &markdown_table(),
        "COULER_BLESS=1 cargo test -p couler-server --test api_doc",
    );
}

#[test]
fn every_route_is_one_row_and_one_operation() {
    let routes = table();
    let md = markdown_table();
    assert_eq!(md.lines().count(), routes.len() + 2);
    let doc = openapi();
    for r in &routes {
        let row = format!("| `{}` | `{}` |", r.verb.as_str(), r.path);
        assert!(md.contains(&row), "{row}");
        let op = &doc["paths"][r.path][r.verb.as_str().to_ascii_lowercase()];
        assert_eq!(op["operationId"], r.id, "{}", r.path);
        for s in r.error_statuses() {
            assert!(op["responses"][s.to_string()].is_object(), "{} {s}", r.path);
        }
    }
    let mut ids: Vec<&str> = routes.iter().map(|r| r.id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), routes.len(), "operation ids are unique");
}
