//! A bounded load on loopback (issue #22): 200 submissions from 20 concurrent clients (20
//! users with bearer tokens, under the default rate limit), all end Succeeded and none is
//! lost; on SQLite and on PostgreSQL. Figures come from `benches/server_load.rs`, not from here.

#[path = "support/postgres.rs"]
mod pg;
#[macro_use]
#[path = "support/server.rs"]
mod support;

#[path = "support/load.rs"]
mod load;

use std::collections::BTreeSet;
use std::time::Duration;
use support::{Server, token};

both!(two_hundred_submissions_from_twenty_clients_all_succeed_none_lost);

fn two_hundred_submissions_from_twenty_clients_all_succeed_none_lost() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let state = dir.path().join("state");
    let tokens: Vec<String> = (0..20)
        .map(|u| token(&state, &format!("user{u}"), "editor", None))
        .collect();
    let editor = &tokens[0];
    // The default rate limit holds for each of them.
    let server = Server::start(dir.path(), &[]);
    let report = load::drive(&server, &tokens, 20, 10, Duration::from_secs(240));
    let unique: BTreeSet<&String> = report.ids.iter().collect();
    assert_eq!(unique.len(), 200, "ids are not unique");
    assert_eq!(
        report.ended.get("Succeeded").copied(),
        Some(200),
        "{:?}",
        report.ended
    );
    let listed: BTreeSet<String> = load::list_all(&server, Some(editor))
        .into_iter()
        .filter_map(|r| r["id"].as_str().map(str::to_string))
        .collect();
    assert!(
        report.ids.iter().all(|id| listed.contains(id)),
        "a submitted run is missing from the list"
    );
    // Each run's one step printed its own parameter.
    let sample = &report.ids[137];
    let (_, run) = server.call("GET", &format!("/api/v1/runs/{sample}"), Some(editor), None);
    assert_eq!(run["steps"][0]["status"], "Succeeded", "{run}");
}
