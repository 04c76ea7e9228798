//! The metadata store's contract, run against both implementations: SQLite (a file in a
//! temporary directory) and PostgreSQL (a database in a throwaway PostgreSQL 15 cluster).

#[path = "../../couler-cli/tests/support/postgres.rs"]
mod pg;

use couler_server::auth::Role;
use couler_server::queue::Resources;
use couler_server::store::{AuditEntry, Binding, DbUrl, NewRun, Retry, RunFilter, Store};
use std::collections::HashSet;
use std::sync::Arc;

/// One test's database, and how to open it (more than once: two processes' connections).
enum Db {
    Sqlite(tempfile::TempDir),
    /// The database's name.
    Postgres(String),
}

impl Db {
    fn sqlite() -> Db {
        Db::Sqlite(tempfile::tempdir().unwrap_or_else(|e| panic!("{e}")))
    }
    fn postgres() -> Db {
        Db::Postgres(pg::create())
    }
    fn url(&self) -> DbUrl {
        match self {
            Db::Sqlite(dir) => DbUrl::Sqlite(dir.path().join("server.db")),
            Db::Postgres(name) => DbUrl::Postgres(pg::url(name)),
        }
    }
    fn open(&self) -> Box<dyn Store> {
        self.url().open().unwrap_or_else(|e| panic!("{e}"))
    }
    /// Runs `sql` on the database behind the store's back; the error text when refused.
    fn raw(&self, sql: &str) -> Result<(), String> {
        match self {
            Db::Sqlite(dir) => rusqlite::Connection::open(dir.path().join("server.db"))
                .and_then(|c| c.execute_batch(sql))
                .map_err(|e| e.to_string()),
            Db::Postgres(name) => pg::try_psql(name, sql).map(drop),
        }
    }
}

/// Each test body, run once on SQLite and once on PostgreSQL.
macro_rules! both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[test]
            fn sqlite() {
                super::$name(&super::Db::sqlite());
            }
            #[test]
            fn postgres() {
                super::$name(&super::Db::postgres());
            }
        }
    )*};
}

both!(
    runs_are_listed_newest_first_filtered_and_paged,
    the_queue_is_oldest_first_and_concurrent_admitters_never_share_a_run,
    a_run_requeued_for_resume_keeps_its_retries_until_deleted,
    requeue_set_state_delete_and_counts,
    tokens_map_to_users_and_their_bindings,
    the_audit_log_is_append_only_and_paged,
    reopening_keeps_everything_and_a_newer_schema_is_refused,
    servers_opening_a_new_database_together_migrate_it_once,
);

fn ok<T, E: std::fmt::Display>(r: Result<T, E>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

fn new_run(id: &str, namespace: &str) -> NewRun {
    NewRun {
        id: id.into(),
        namespace: namespace.into(),
        workflow: "w".into(),
        submitted_by: "ann".into(),
        spec: format!("{{\"name\":\"{id}\"}}"),
        params: "[{\"name\":\"msg\",\"value\":\"a'b\\\"c\"}]".into(),
        priority: 7,
        request: Resources::new(1500, 256, 1),
        account: "team:vision".into(),
    }
}

fn ids(rows: &[couler_server::store::RunRow]) -> Vec<&str> {
    rows.iter().map(|r| r.id.as_str()).collect()
}

fn runs_are_listed_newest_first_filtered_and_paged(db: &Db) {
    let store = db.open();
    for (id, ns) in [("a", "x"), ("b", "y"), ("c", "x"), ("d", "x")] {
        ok(store.submit(&new_run(id, ns)));
    }
    assert!(store.submit(&new_run("a", "x")).is_err(), "an id is unique");
    let a = ok(store.run("a")).unwrap_or_else(|| panic!("run a is gone"));
    assert_eq!(
        (
            a.state.as_str(),
            a.namespace.as_str(),
            a.submitted_by.as_str()
        ),
        ("Queued", "x", "ann")
    );
    assert_eq!(a.params, new_run("a", "x").params, "byte for byte");
    assert!(a.submitted_at > 1.0e9, "{}", a.submitted_at);
    assert!(ok(store.run("nope")).is_none());
    let all = |f: RunFilter| ok(store.runs(&RunFilter { limit: 10, ..f }));
    assert_eq!(ids(&all(RunFilter::default())), ["d", "c", "b", "a"]);
    let in_x = Some(vec!["x".to_string()]);
    assert_eq!(
        ids(&all(RunFilter {
            namespaces: in_x.clone(),
            ..RunFilter::default()
        })),
        ["d", "c", "a"]
    );
    let first = ok(store.runs(&RunFilter {
        namespaces: in_x.clone(),
        limit: 2,
        ..RunFilter::default()
    }));
    assert_eq!(ids(&first), ["d", "c"]);
    let rest = all(RunFilter {
        namespaces: in_x,
        before: Some(first[1].seq),
        ..RunFilter::default()
    });
    assert_eq!(ids(&rest), ["a"], "the next page starts after the last one");
    ok(store.set_state("c", "Succeeded", None, None));
    let done = all(RunFilter {
        state: Some("Succeeded".into()),
        ..RunFilter::default()
    });
    assert_eq!(ids(&done), ["c"]);
    // Filters of the runs list: workflow, submitter (both whole), and text in id, workflow or
    // submitter (either case, no wildcard).
    for (id, workflow, user) in [("e1", "train-big", "Bob"), ("e2", "train", "bo")] {
        ok(store.submit(&NewRun {
            workflow: workflow.into(),
            submitted_by: user.into(),
            ..new_run(id, "z")
        }));
    }
    let of = |f: RunFilter| -> Vec<String> { all(f).into_iter().map(|r| r.id).collect() };
    let filter = |workflow: Option<&str>, user: Option<&str>, search: Option<&str>| RunFilter {
        workflow: workflow.map(Into::into),
        user: user.map(Into::into),
        search: search.map(Into::into),
        ..RunFilter::default()
    };
    assert_eq!(of(filter(Some("train"), None, None)), ["e2"]);
    assert_eq!(of(filter(None, Some("bo"), None)), ["e2"]);
    assert_eq!(of(filter(None, None, Some("TRAIN"))), ["e2", "e1"]);
    assert_eq!(of(filter(None, None, Some("bob"))), ["e1"]);
    assert_eq!(of(filter(None, None, Some("E1"))), ["e1"], "in the id");
    assert_eq!(
        of(filter(Some("train"), None, Some("big"))),
        Vec::<String>::new()
    );
    assert!(of(filter(None, None, Some("%"))).is_empty(), "no wildcard");
    assert!(of(filter(None, None, Some("_"))).is_empty(), "no wildcard");
    let none = all(RunFilter {
        namespaces: Some(vec![]),
        ..RunFilter::default()
    });
    assert!(none.is_empty(), "no namespace: nothing");
}

fn the_queue_is_oldest_first_and_concurrent_admitters_never_share_a_run(db: &Db) {
    let store = db.open();
    for i in 0..40 {
        ok(store.submit(&new_run(&format!("r{i:02}"), "x")));
    }
    let queued = ok(store.queued());
    assert_eq!(queued.len(), 40);
    assert_eq!(queued[0].id, "r00", "oldest first");
    assert_eq!(queued[39].id, "r39");
    let r = &queued[0];
    assert_eq!(
        (
            r.priority,
            r.request,
            r.account.as_str(),
            r.resume,
            r.cluster.as_deref()
        ),
        (7, Resources::new(1500, 256, 1), "team:vision", false, None)
    );
    assert!(ok(store.admit("r00", "cpu-a")));
    assert!(!ok(store.admit("r00", "cpu-b")), "admitted once");
    let r00 = ok(store.run("r00")).unwrap_or_else(|| panic!("r00 is gone"));
    assert_eq!(
        (r00.state.as_str(), r00.cluster.as_deref()),
        ("Running", Some("cpu-a"))
    );
    // Two connections (as two server processes), two threads on each, all trying every run.
    let ids: Vec<String> = ok(store.queued()).into_iter().map(|r| r.id).collect();
    let stores: Vec<Arc<dyn Store>> = vec![Arc::from(store), Arc::from(db.open())];
    let admitters: Vec<_> = (0..4)
        .map(|i| {
            let (store, ids) = (stores[i % 2].clone(), ids.clone());
            std::thread::spawn(move || {
                ids.into_iter()
                    .filter(|id| ok(store.admit(id, &format!("c{i}"))))
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut seen = HashSet::new();
    for admitter in admitters {
        for id in admitter
            .join()
            .unwrap_or_else(|_| panic!("an admitter panicked"))
        {
            assert!(seen.insert(id.clone()), "{id} was admitted twice");
        }
    }
    assert_eq!(seen.len(), 39, "every other run admitted once");
    assert!(ok(stores[0].queued()).is_empty());
}

fn a_run_requeued_for_resume_keeps_its_retries_until_deleted(db: &Db) {
    let store = db.open();
    ok(store.submit(&new_run("a", "x")));
    assert!(ok(store.admit("a", "local")));
    let retry = |attempt| Retry {
        run: "a".into(),
        attempt,
        at: 5.5,
        node: "flaky".into(),
        pattern: "etcd-request-timeout".into(),
        delay_secs: 0.25,
    };
    ok(store.record_retry(&retry(1)));
    ok(store.record_retry(&retry(2)));
    assert!(
        store.record_retry(&retry(2)).is_err(),
        "one record per attempt"
    );
    let ended = ["Failed", "Error"];
    assert!(!ok(store.requeue_for_resume("a", &ended, 9.0)), "it runs");
    ok(store.set_state("a", "Error", Some("etcd"), None));
    assert!(ok(store.requeue_for_resume("a", &ended, 9.0)));
    assert!(
        !ok(store.requeue_for_resume("a", &ended, 9.0)),
        "queued already"
    );
    let a = ok(store.run("a")).unwrap_or_else(|| panic!("a is gone"));
    assert_eq!(
        (a.state.as_str(), a.resume, a.not_before, a.message),
        ("Queued", true, 9.0, None)
    );
    ok(store.set_state("a", "Succeeded", None, None));
    let a = ok(store.run("a")).unwrap_or_else(|| panic!("a is gone"));
    assert!(!a.resume, "an ended run is no longer flagged");
    assert_eq!(ok(store.retries("a")), [retry(1), retry(2)]);
    assert!(ok(store.retries("b")).is_empty());
    assert!(ok(store.delete("a")));
    assert!(ok(store.retries("a")).is_empty(), "forgotten with the run");
}

fn requeue_set_state_delete_and_counts(db: &Db) {
    let store = db.open();
    for id in ["a", "b", "c"] {
        ok(store.submit(&new_run(id, "x")));
    }
    assert!(ok(store.admit("a", "local")) && ok(store.admit("b", "local")));
    assert_eq!(
        ok(store.count_by_state()),
        [("Queued".to_string(), 1), ("Running".to_string(), 2)]
    );
    assert_eq!(ok(store.requeue_running()), 2);
    assert_eq!(ok(store.count_by_state()), [("Queued".to_string(), 3)]);
    assert!(ok(store.set_state(
        "a",
        "Stopped",
        Some("early"),
        Some("Queued")
    )));
    assert!(
        !ok(store.set_state("a", "Failed", None, Some("Running"))),
        "only from Running: a is Stopped"
    );
    let a = ok(store.run("a")).unwrap_or_else(|| panic!("a is gone"));
    assert_eq!(
        (a.state.as_str(), a.message.as_deref()),
        ("Stopped", Some("early"))
    );
    assert!(ok(store.set_state("a", "Failed", None, None)));
    assert_eq!(ok(store.run("a")).and_then(|r| r.message), None);
    assert!(!ok(store.set_state("nope", "Failed", None, None)));
    assert!(ok(store.delete("a")));
    assert!(!ok(store.delete("a")), "already gone");
    assert!(ok(store.run("a")).is_none());
    assert_eq!(ok(store.count_by_state()), [("Queued".to_string(), 2)]);
}

fn tokens_map_to_users_and_their_bindings(db: &Db) {
    let store = db.open();
    let bind = |namespace: &str, role| Binding {
        namespace: namespace.into(),
        role,
    };
    ok(store.add_token("h1", "ann", &bind("team-a", Role::Viewer)));
    ok(store.add_token("h2", "ann", &bind("*", Role::Editor)));
    ok(store.add_token("h3", "ann", &bind("team-a", Role::Admin)));
    ok(store.add_token("h4", "bob", &bind("team-b", Role::Viewer)));
    assert!(
        store
            .add_token("h4", "eve", &bind("team-b", Role::Admin))
            .is_err(),
        "a token hash is unique"
    );
    let (user, bindings) = ok(store.token_user("h1")).unwrap_or_else(|| panic!("h1 unknown"));
    assert_eq!(user, "ann");
    assert_eq!(
        bindings,
        [bind("*", Role::Editor), bind("team-a", Role::Admin)],
        "one role per namespace, the latest"
    );
    let (bob, b) = ok(store.token_user("h4")).unwrap_or_else(|| panic!("h4 unknown"));
    assert_eq!(
        (bob.as_str(), b),
        ("bob", vec![bind("team-b", Role::Viewer)])
    );
    assert!(ok(store.token_user("nope")).is_none());
}

fn entry(namespace: &str, status: u16) -> AuditEntry {
    AuditEntry {
        seq: 0,
        at: 1.5,
        user: Some("ann".into()),
        method: "POST".into(),
        path: "/api/v1/runs".into(),
        namespace: Some(namespace.into()),
        run: None,
        status,
        outcome: "ok".into(),
    }
}

fn the_audit_log_is_append_only_and_paged(db: &Db) {
    let store = db.open();
    for (ns, status) in [("x", 201), ("y", 403), ("x", 202)] {
        ok(store.audit(&entry(ns, status)));
    }
    ok(store.audit(&AuditEntry {
        user: None,
        namespace: None,
        ..entry("", 401)
    }));
    let all = ok(store.audit_log(None, None, 10));
    let statuses: Vec<u16> = all.iter().map(|e| e.status).collect();
    assert_eq!(statuses, [401, 202, 403, 201], "newest first");
    assert_eq!(
        (all[0].user.as_deref(), all[0].namespace.as_deref()),
        (None, None)
    );
    assert_eq!((all[1].at, all[1].method.as_str()), (1.5, "POST"));
    let x = ok(store.audit_log(Some(&["x".to_string()]), None, 1));
    assert_eq!(x.iter().map(|e| e.status).collect::<Vec<_>>(), [202]);
    let older = ok(store.audit_log(Some(&["x".to_string()]), Some(x[0].seq), 10));
    assert_eq!(older.iter().map(|e| e.status).collect::<Vec<_>>(), [201]);
    for sql in ["UPDATE audit SET status = 200", "DELETE FROM audit"] {
        let refused = db.raw(sql).expect_err(sql);
        assert!(refused.contains("append-only"), "{sql}: {refused}");
    }
    assert_eq!(ok(store.audit_log(None, None, 10)).len(), 4);
}

fn reopening_keeps_everything_and_a_newer_schema_is_refused(db: &Db) {
    ok(db.open().submit(&new_run("kept", "x")));
    let again = db.open();
    assert!(
        ok(again.run("kept")).is_some(),
        "reopened and migrated once"
    );
    drop(again);
    let newer = match db {
        Db::Sqlite(_) => "PRAGMA user_version = 99",
        Db::Postgres(_) => "INSERT INTO couler_migrations (version, applied_at) VALUES (99, 0)",
    };
    ok(db.raw(newer));
    let Err(e) = db.url().open() else {
        panic!("a newer database was opened");
    };
    assert!(e.0.contains("newer Couler"), "{e}");
}

fn servers_opening_a_new_database_together_migrate_it_once(db: &Db) {
    let url = db.url();
    let openers: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || url.open().map(drop).map_err(|e| e.0))
        })
        .collect();
    for opener in openers {
        let opened = opener
            .join()
            .unwrap_or_else(|_| panic!("an opener panicked"));
        assert_eq!(opened, Ok(()), "every concurrent open succeeds");
    }
    ok(db.open().submit(&new_run("a", "x")));
}

#[test]
fn a_lost_postgres_connection_fails_one_call_and_is_reopened() {
    let name = pg::create();
    let store = DbUrl::Postgres(pg::url(&name))
        .open()
        .unwrap_or_else(|e| panic!("{e}"));
    ok(store.submit(&new_run("a", "x")));
    let killed = pg::psql(
        "postgres",
        &format!(
            "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '{name}'"
        ),
    );
    assert_eq!(killed.trim(), "1", "the store's one connection");
    let mut answers = (0..3).map(|_| store.run("a").map(|r| r.map(|r| r.id)));
    let first = answers.next().unwrap_or_else(|| panic!("no answer"));
    if let Err(e) = &first {
        assert!(e.0.starts_with("cannot read the run: "), "{e}");
    }
    for later in answers {
        assert_eq!(ok(later).as_deref(), Some("a"), "reconnected");
    }
}

#[test]
fn an_unreachable_postgres_is_named_without_its_password() {
    let url = "postgres://ann:s3cret@127.0.0.1:1/couler";
    let Err(e) = DbUrl::Postgres(url.into()).open() else {
        panic!("connected to nothing");
    };
    assert!(
        e.0.contains("postgres://ann:***@127.0.0.1:1/couler") && e.0.contains("check that"),
        "{e}"
    );
    assert!(!e.0.contains("s3cret"), "the password is shown: {e}");
}

#[test]
fn the_test_cluster_and_a_database_are_ready_within_seconds() {
    let t = std::time::Instant::now();
    let name = pg::create();
    let took = t.elapsed();
    assert_eq!(pg::psql(&name, "SELECT 1").trim(), "1");
    // About 1.4 s alone here (initdb, start, createdb); generous for a loaded 2-core machine.
    assert!(took.as_secs() < 10, "the test cluster took {took:?}");
    eprintln!("the PostgreSQL test cluster and a database: {took:?}");
}
