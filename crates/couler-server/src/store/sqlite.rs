//! [`Store`] on an embedded SQLite database (rusqlite, the same library couler-run's state
//! uses): WAL, `synchronous = FULL` (an accepted submission survives a power loss once
//! answered), one connection under a mutex. The audit table refuses updates and deletes by
//! trigger.

use super::{
    AuditEntry, Binding, NewRun, RUN_COLUMNS, Result, Retry, RunFilter, RunRow, Store, StoreError,
};
use crate::auth::Role;
use crate::queue::Resources;
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};
use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};

/// Migrations in order: `MIGRATIONS[i]` takes the database from `user_version` `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    "
    CREATE TABLE runs (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        namespace TEXT NOT NULL,
        workflow TEXT NOT NULL,
        submitted_by TEXT NOT NULL,
        spec TEXT NOT NULL,
        params TEXT NOT NULL,
        state TEXT NOT NULL,
        submitted_at REAL NOT NULL,
        message TEXT
    );
    CREATE INDEX runs_state ON runs (state, seq);
    CREATE TABLE tokens (
        hash TEXT PRIMARY KEY,
        user TEXT NOT NULL,
        created_at REAL NOT NULL
    );
    CREATE TABLE bindings (
        user TEXT NOT NULL,
        namespace TEXT NOT NULL,
        role TEXT NOT NULL,
        PRIMARY KEY (user, namespace)
    );
    CREATE TABLE audit (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        at REAL NOT NULL,
        user TEXT,
        method TEXT NOT NULL,
        path TEXT NOT NULL,
        namespace TEXT,
        run TEXT,
        status INTEGER NOT NULL,
        outcome TEXT NOT NULL
    );
    CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
",
    "
    ALTER TABLE runs ADD COLUMN priority INTEGER NOT NULL DEFAULT 5;
    ALTER TABLE runs ADD COLUMN request_cpu_milli INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE runs ADD COLUMN request_mem_mib INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE runs ADD COLUMN request_gpu INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE runs ADD COLUMN account TEXT;
    ALTER TABLE runs ADD COLUMN cluster TEXT;
    ALTER TABLE runs ADD COLUMN resume INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE runs ADD COLUMN not_before REAL NOT NULL DEFAULT 0;
    CREATE TABLE retries (
        run TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        at REAL NOT NULL,
        node TEXT NOT NULL,
        pattern TEXT NOT NULL,
        delay_secs REAL NOT NULL,
        PRIMARY KEY (run, attempt)
    );
",
];

pub struct Sqlite {
    conn: Mutex<Connection>,
}

fn err(what: &str) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
    move |e| StoreError(format!("{what}: {e}"))
}

fn now() -> f64 {
    couler_run::state::now()
}

fn run_row(r: &Row<'_>) -> rusqlite::Result<RunRow> {
    Ok(RunRow {
        seq: r.get(0)?,
        id: r.get(1)?,
        namespace: r.get(2)?,
        workflow: r.get(3)?,
        submitted_by: r.get(4)?,
        state: r.get(5)?,
        submitted_at: r.get(6)?,
        message: r.get(7)?,
        spec: r.get(8)?,
        params: r.get(9)?,
        priority: r.get(10)?,
        cluster: r.get(11)?,
        request: Resources::new(
            r.get::<_, i64>(12)? as u64,
            r.get::<_, i64>(13)? as u64,
            r.get::<_, i64>(14)? as u64,
        ),
        account: r.get(15)?,
        resume: r.get(16)?,
        not_before: r.get(17)?,
    })
}

fn retry_row(r: &Row<'_>) -> rusqlite::Result<Retry> {
    Ok(Retry {
        run: r.get(0)?,
        attempt: r.get(1)?,
        at: r.get(2)?,
        node: r.get(3)?,
        pattern: r.get(4)?,
        delay_secs: r.get(5)?,
    })
}

fn audit_row(r: &Row<'_>) -> rusqlite::Result<AuditEntry> {
    Ok(AuditEntry {
        seq: r.get(0)?,
        at: r.get(1)?,
        user: r.get(2)?,
        method: r.get(3)?,
        path: r.get(4)?,
        namespace: r.get(5)?,
        run: r.get(6)?,
        status: r.get(7)?,
        outcome: r.get(8)?,
    })
}

/// `?, ?, …` for `n` values from parameter number `from`.
fn placeholders(from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Sqlite {
    /// Opens `path` (creating it and its directory) and migrates it; a database from a newer
    /// Couler is refused.
    pub fn open(path: &Path) -> Result<Sqlite> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError(format!("cannot create {}: {e}", dir.display())))?;
        }
        let what = format!("cannot open {}", path.display());
        let conn = Connection::open(path).map_err(err(&what))?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(err(&what))?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(err(&what))?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(err(&what))?;
        let db = Sqlite {
            conn: Mutex::new(conn),
        };
        db.migrate()?;
        Ok(db)
    }

    fn db(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Reads the schema version and applies the missing migrations in one IMMEDIATE
    /// transaction, so processes opening a new database together migrate it once.
    fn migrate(&self) -> Result<()> {
        let mut db = self.db();
        let tx = db
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err("migration"))?;
        let version: i64 = tx
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(err("cannot read the schema version"))?;
        super::check_version(version, MIGRATIONS.len())?;
        for sql in MIGRATIONS.iter().skip(version as usize) {
            tx.execute_batch(sql).map_err(err("migration"))?;
        }
        tx.pragma_update(None, "user_version", MIGRATIONS.len() as i64)
            .map_err(err("migration"))?;
        tx.commit().map_err(err("migration"))
    }
}

impl Store for Sqlite {
    fn submit(&self, run: &NewRun) -> Result<()> {
        self.db()
            .execute(
                "INSERT INTO runs (id, namespace, workflow, submitted_by, spec, params, state,
                    submitted_at, priority, request_cpu_milli, request_mem_mib, request_gpu,
                    account) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                params![
                    run.id,
                    run.namespace,
                    run.workflow,
                    run.submitted_by,
                    run.spec,
                    run.params,
                    super::QUEUED,
                    now(),
                    run.priority,
                    run.request.cpu_milli as i64,
                    run.request.mem_mib as i64,
                    run.request.gpu as i64,
                    run.account,
                ],
            )
            .map(drop)
            .map_err(err("cannot record the submission"))
    }

    fn run(&self, id: &str) -> Result<Option<RunRow>> {
        self.db()
            .query_row(
                &format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?1"),
                [id],
                run_row,
            )
            .optional()
            .map_err(err("cannot read the run"))
    }

    fn runs(&self, f: &RunFilter) -> Result<Vec<RunRow>> {
        let mut sql = format!("SELECT {RUN_COLUMNS} FROM runs WHERE seq < ?1");
        let mut args: Vec<rusqlite::types::Value> = vec![f.before.unwrap_or(i64::MAX).into()];
        if let Some(state) = &f.state {
            args.push(state.clone().into());
            sql.push_str(&format!(" AND state = ?{}", args.len()));
        }
        if let Some(ns) = &f.namespaces {
            sql.push_str(&format!(
                " AND namespace IN ({})",
                placeholders(args.len() + 1, ns.len())
            ));
            args.extend(ns.iter().map(|n| n.clone().into()));
        }
        for (column, value) in [("workflow", &f.workflow), ("submitted_by", &f.user)] {
            if let Some(v) = value {
                args.push(v.clone().into());
                sql.push_str(&format!(" AND {column} = ?{}", args.len()));
            }
        }
        if let Some(text) = &f.search {
            args.push(text.to_ascii_lowercase().into());
            let n = args.len();
            sql.push_str(&format!(
                " AND (instr(lower(id), ?{n}) > 0 OR instr(lower(workflow), ?{n}) > 0 OR instr(lower(submitted_by), ?{n}) > 0)"
            ));
        }
        sql.push_str(&format!(" ORDER BY seq DESC LIMIT {}", f.limit));
        let db = self.db();
        let mut q = db.prepare(&sql).map_err(err("cannot list runs"))?;
        let rows = q
            .query_map(rusqlite::params_from_iter(args), run_row)
            .map_err(err("cannot list runs"))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(err("cannot list runs"))
    }

    fn queued(&self) -> Result<Vec<RunRow>> {
        let db = self.db();
        let mut q = db
            .prepare(&format!(
                "SELECT {RUN_COLUMNS} FROM runs WHERE state = ?1 ORDER BY seq"
            ))
            .map_err(err("cannot read the queue"))?;
        let rows = q
            .query_map([super::QUEUED], run_row)
            .map_err(err("cannot read the queue"))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(err("cannot read the queue"))
    }

    fn admit(&self, id: &str, cluster: &str) -> Result<bool> {
        let n = self
            .db()
            .execute(
                "UPDATE runs SET state = ?1, cluster = ?2 WHERE id = ?3 AND state = ?4",
                params![super::RUNNING, cluster, id, super::QUEUED],
            )
            .map_err(err("cannot admit the run"))?;
        Ok(n > 0)
    }

    fn requeue_for_resume(&self, id: &str, from: &[&str], not_before: f64) -> Result<bool> {
        let sql = format!(
            "UPDATE runs SET state = ?1, resume = 1, not_before = ?2, message = NULL
                WHERE id = ?3 AND state IN ({})",
            placeholders(4, from.len())
        );
        let mut args: Vec<rusqlite::types::Value> = vec![
            super::QUEUED.to_string().into(),
            not_before.into(),
            id.to_string().into(),
        ];
        args.extend(from.iter().map(|s| s.to_string().into()));
        let n = self
            .db()
            .execute(&sql, rusqlite::params_from_iter(args))
            .map_err(err("cannot queue the run again"))?;
        Ok(n > 0)
    }

    fn record_retry(&self, r: &Retry) -> Result<()> {
        self.db()
            .execute(
                "INSERT INTO retries (run, attempt, at, node, pattern, delay_secs)
                    VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![r.run, r.attempt, r.at, r.node, r.pattern, r.delay_secs],
            )
            .map(drop)
            .map_err(err("cannot record the retry"))
    }

    fn retries(&self, run: &str) -> Result<Vec<Retry>> {
        let db = self.db();
        let mut q = db
            .prepare(
                "SELECT run, attempt, at, node, pattern, delay_secs FROM retries
                    WHERE run = ?1 ORDER BY attempt",
            )
            .map_err(err("cannot read retries"))?;
        let rows = q
            .query_map([run], retry_row)
            .map_err(err("cannot read retries"))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(err("cannot read retries"))
    }

    fn requeue_running(&self) -> Result<usize> {
        self.db()
            .execute(
                "UPDATE runs SET state = ?1 WHERE state = ?2",
                params![super::QUEUED, super::RUNNING],
            )
            .map_err(err("cannot requeue runs"))
    }

    fn set_state(
        &self,
        id: &str,
        state: &str,
        message: Option<&str>,
        only_from: Option<&str>,
    ) -> Result<bool> {
        let n = self
            .db()
            .execute(
                "UPDATE runs SET state = ?1, message = ?2, resume = (?1 = ?5 AND resume)
                    WHERE id = ?3 AND (?4 IS NULL OR state = ?4)",
                params![state, message, id, only_from, super::QUEUED],
            )
            .map_err(err("cannot record the run's state"))?;
        Ok(n > 0)
    }

    fn delete(&self, id: &str) -> Result<bool> {
        let mut db = self.db();
        let tx = db.transaction().map_err(err("cannot delete the run"))?;
        tx.execute("DELETE FROM retries WHERE run = ?1", [id])
            .map_err(err("cannot delete the run"))?;
        let n = tx
            .execute("DELETE FROM runs WHERE id = ?1", [id])
            .map_err(err("cannot delete the run"))?;
        tx.commit().map_err(err("cannot delete the run"))?;
        Ok(n > 0)
    }

    fn count_by_state(&self) -> Result<Vec<(String, i64)>> {
        let db = self.db();
        let mut q = db
            .prepare("SELECT state, COUNT(*) FROM runs GROUP BY state ORDER BY state")
            .map_err(err("cannot count runs"))?;
        let rows = q
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(err("cannot count runs"))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(err("cannot count runs"))
    }

    fn add_token(&self, hash: &str, user: &str, binding: &Binding) -> Result<()> {
        let mut db = self.db();
        let tx = db.transaction().map_err(err("cannot add the token"))?;
        tx.execute(
            "INSERT INTO tokens (hash, user, created_at) VALUES (?1, ?2, ?3)",
            params![hash, user, now()],
        )
        .map_err(err("cannot add the token"))?;
        tx.execute(
            "INSERT INTO bindings (user, namespace, role) VALUES (?1, ?2, ?3)
             ON CONFLICT (user, namespace) DO UPDATE SET role = excluded.role",
            params![user, binding.namespace, binding.role.as_str()],
        )
        .map_err(err("cannot add the token"))?;
        tx.commit().map_err(err("cannot add the token"))
    }

    fn token_user(&self, hash: &str) -> Result<Option<(String, Vec<Binding>)>> {
        let db = self.db();
        let Some(user) = db
            .query_row("SELECT user FROM tokens WHERE hash = ?1", [hash], |r| {
                r.get::<_, String>(0)
            })
            .optional()
            .map_err(err("cannot read tokens"))?
        else {
            return Ok(None);
        };
        let mut q = db
            .prepare("SELECT namespace, role FROM bindings WHERE user = ?1 ORDER BY namespace")
            .map_err(err("cannot read bindings"))?;
        let rows = q
            .query_map([&user], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })
            .map_err(err("cannot read bindings"))?;
        let mut bindings = Vec::new();
        for row in rows {
            let (namespace, role) = row.map_err(err("cannot read bindings"))?;
            // A role this Couler does not know grants nothing.
            if let Some(role) = Role::parse(&role) {
                bindings.push(Binding { namespace, role });
            }
        }
        Ok(Some((user, bindings)))
    }

    fn audit(&self, e: &AuditEntry) -> Result<()> {
        self.db()
            .execute(
                "INSERT INTO audit (at, user, method, path, namespace, run, status, outcome)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    e.at,
                    e.user,
                    e.method,
                    e.path,
                    e.namespace,
                    e.run,
                    e.status,
                    e.outcome
                ],
            )
            .map(drop)
            .map_err(err("cannot append to the audit log"))
    }

    fn audit_log(
        &self,
        namespaces: Option<&[String]>,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<AuditEntry>> {
        let mut sql = "SELECT seq, at, user, method, path, namespace, run, status, outcome
                       FROM audit WHERE seq < ?1"
            .to_string();
        let mut args: Vec<rusqlite::types::Value> = vec![before.unwrap_or(i64::MAX).into()];
        if let Some(ns) = namespaces {
            sql.push_str(&format!(
                " AND namespace IN ({})",
                placeholders(2, ns.len())
            ));
            args.extend(ns.iter().map(|n| n.clone().into()));
        }
        sql.push_str(&format!(" ORDER BY seq DESC LIMIT {limit}"));
        let db = self.db();
        let mut q = db.prepare(&sql).map_err(err("cannot read the audit log"))?;
        let rows = q
            .query_map(rusqlite::params_from_iter(args), audit_row)
            .map_err(err("cannot read the audit log"))?;
        rows.collect::<rusqlite::Result<_>>()
            .map_err(err("cannot read the audit log"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open() -> (tempfile::TempDir, Sqlite) {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let db = Sqlite::open(&dir.path().join("server.db")).unwrap_or_else(|e| panic!("{e}"));
        (dir, db)
    }

    fn entry(user: &str) -> AuditEntry {
        AuditEntry {
            seq: 0,
            at: 1.0,
            user: Some(user.to_string()),
            method: "POST".into(),
            path: "/api/v1/runs".into(),
            namespace: Some("default".into()),
            run: None,
            status: 201,
            outcome: "ok".into(),
        }
    }

    #[test]
    fn the_audit_log_refuses_updates_and_deletes() {
        let (_d, db) = open();
        db.audit(&entry("ann")).unwrap_or_else(|e| panic!("{e}"));
        let conn = db.db();
        for sql in ["UPDATE audit SET user = 'eve'", "DELETE FROM audit"] {
            let e = conn.execute(sql, []).expect_err(sql);
            assert!(e.to_string().contains("append-only"), "{sql}: {e}");
        }
    }

    fn submit(db: &Sqlite, id: &str) {
        db.submit(&NewRun {
            id: id.into(),
            namespace: "default".into(),
            workflow: "w".into(),
            submitted_by: "ann".into(),
            spec: "{}".into(),
            params: "[]".into(),
            priority: 7,
            request: Resources::new(1500, 256, 1),
            account: "team:vision".into(),
        })
        .unwrap_or_else(|e| panic!("{e}"));
    }

    #[test]
    fn an_admitted_run_is_not_admitted_twice_and_requeues_on_start() {
        let (_d, db) = open();
        submit(&db, "a");
        submit(&db, "b");
        let queued = db.queued().unwrap_or_else(|e| panic!("{e}"));
        let ids: Vec<&str> = queued.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["a", "b"], "oldest first");
        assert_eq!(queued[0].request, Resources::new(1500, 256, 1));
        assert_eq!(
            (queued[0].priority, queued[0].account.as_str()),
            (7, "team:vision")
        );
        assert!(db.admit("a", "cpu-a").unwrap_or_else(|e| panic!("{e}")));
        assert!(!db.admit("a", "cpu-b").unwrap_or_else(|e| panic!("{e}")));
        let a = db
            .run("a")
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("a"));
        assert_eq!(
            (a.state.as_str(), a.cluster.as_deref()),
            ("Running", Some("cpu-a"))
        );
        assert_eq!(db.queued().unwrap_or_else(|e| panic!("{e}")).len(), 1);
        assert_eq!(db.requeue_running().unwrap_or_else(|e| panic!("{e}")), 1);
        assert_eq!(db.queued().unwrap_or_else(|e| panic!("{e}")).len(), 2);
    }

    #[test]
    fn a_failed_run_requeues_for_resume_once_with_its_retries_recorded() {
        let (_d, db) = open();
        submit(&db, "a");
        assert!(db.admit("a", "local").unwrap_or_else(|e| panic!("{e}")));
        let retry = Retry {
            run: "a".into(),
            attempt: 1,
            at: 5.0,
            node: "flaky".into(),
            pattern: "etcd-request-timeout".into(),
            delay_secs: 0.25,
        };
        db.record_retry(&retry).unwrap_or_else(|e| panic!("{e}"));
        let ended = ["Failed", "Error"];
        assert!(
            !db.requeue_for_resume("a", &ended, 9.0)
                .unwrap_or_else(|e| panic!("{e}"))
        );
        db.set_state("a", "Failed", Some("x"), None)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            db.requeue_for_resume("a", &ended, 9.0)
                .unwrap_or_else(|e| panic!("{e}"))
        );
        assert!(
            !db.requeue_for_resume("a", &ended, 9.0)
                .unwrap_or_else(|e| panic!("{e}"))
        );
        let a = db
            .run("a")
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("a"));
        assert_eq!(
            (a.state.as_str(), a.resume, a.not_before),
            ("Queued", true, 9.0)
        );
        db.set_state("a", "Succeeded", None, None)
            .unwrap_or_else(|e| panic!("{e}"));
        let a = db
            .run("a")
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("a"));
        assert!(!a.resume, "an ended run is no longer flagged");
        assert_eq!(db.retries("a").unwrap_or_else(|e| panic!("{e}")), [retry]);
        assert!(db.delete("a").unwrap_or_else(|e| panic!("{e}")));
        assert!(db.retries("a").unwrap_or_else(|e| panic!("{e}")).is_empty());
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let (d, db) = open();
        db.db()
            .pragma_update(None, "user_version", 99)
            .unwrap_or_else(|e| panic!("{e}"));
        drop(db);
        let Err(e) = Sqlite::open(&d.path().join("server.db")) else {
            panic!("a newer database was opened");
        };
        assert!(e.0.contains("newer Couler"), "{e}");
    }
}
