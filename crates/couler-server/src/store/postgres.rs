//! [`Store`] on PostgreSQL (`--db postgres://…`): a metadata database kept by a PostgreSQL
//! server. Same tables and meaning as [`super::sqlite`]; `admit` moves a run from `Queued` to
//! `Running` in one conditional `UPDATE`, so of concurrent admitters, in this process or
//! another, exactly one gets each run. The connection, and how any thread may call it, is in
//! `postgres/thread.rs`.
//!
//! Migrations: `couler_migrations` holds one row per applied version; all pending ones run in
//! one transaction under an advisory lock, so servers starting together migrate once.

use super::{AuditEntry, Binding, NewRun, RUN_COLUMNS, Result, Retry, RunFilter, RunRow, Store};
use crate::auth::Role;
use crate::queue::Resources;
use postgres::Row;
use thread::Connection;
pub use thread::redact;

mod thread;

/// Migrations in order: `MIGRATIONS[i]` is version `i + 1`.
const MIGRATIONS: &[&str] = &[
    "
    CREATE TABLE runs (
        seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        namespace TEXT NOT NULL,
        workflow TEXT NOT NULL,
        submitted_by TEXT NOT NULL,
        spec TEXT NOT NULL,
        params TEXT NOT NULL,
        state TEXT NOT NULL,
        submitted_at DOUBLE PRECISION NOT NULL,
        message TEXT
    );
    CREATE INDEX runs_state ON runs (state, seq);
    CREATE TABLE tokens (
        hash TEXT PRIMARY KEY,
        user_name TEXT NOT NULL,
        created_at DOUBLE PRECISION NOT NULL
    );
    CREATE TABLE bindings (
        user_name TEXT NOT NULL,
        namespace TEXT NOT NULL,
        role TEXT NOT NULL,
        PRIMARY KEY (user_name, namespace)
    );
    CREATE TABLE audit (
        seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        at DOUBLE PRECISION NOT NULL,
        user_name TEXT,
        method TEXT NOT NULL,
        path TEXT NOT NULL,
        namespace TEXT,
        run TEXT,
        status INTEGER NOT NULL,
        outcome TEXT NOT NULL
    );
    CREATE FUNCTION couler_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$;
    CREATE TRIGGER audit_no_change BEFORE UPDATE OR DELETE ON audit
        FOR EACH ROW EXECUTE FUNCTION couler_audit_append_only();
    CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit
        FOR EACH STATEMENT EXECUTE FUNCTION couler_audit_append_only();
",
    "
    ALTER TABLE runs ADD COLUMN priority INTEGER NOT NULL DEFAULT 5;
    ALTER TABLE runs ADD COLUMN request_cpu_milli BIGINT NOT NULL DEFAULT 0;
    ALTER TABLE runs ADD COLUMN request_mem_mib BIGINT NOT NULL DEFAULT 0;
    ALTER TABLE runs ADD COLUMN request_gpu BIGINT NOT NULL DEFAULT 0;
    ALTER TABLE runs ADD COLUMN account TEXT;
    ALTER TABLE runs ADD COLUMN cluster TEXT;
    ALTER TABLE runs ADD COLUMN resume BOOLEAN NOT NULL DEFAULT FALSE;
    ALTER TABLE runs ADD COLUMN not_before DOUBLE PRECISION NOT NULL DEFAULT 0;
    CREATE TABLE retries (
        run TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        at DOUBLE PRECISION NOT NULL,
        node TEXT NOT NULL,
        pattern TEXT NOT NULL,
        delay_secs DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (run, attempt)
    );
",
];

/// The advisory lock a migration holds (any constant of Couler's own).
const MIGRATION_LOCK: i64 = 0x636f_756c_6572;

pub struct Postgres {
    conn: Connection,
}

fn now() -> f64 {
    couler_run::state::now()
}

fn run_row(r: &Row) -> RunRow {
    RunRow {
        seq: r.get(0),
        id: r.get(1),
        namespace: r.get(2),
        workflow: r.get(3),
        submitted_by: r.get(4),
        state: r.get(5),
        submitted_at: r.get(6),
        message: r.get(7),
        spec: r.get(8),
        params: r.get(9),
        priority: u32::try_from(r.get::<_, i32>(10)).unwrap_or(0),
        cluster: r.get(11),
        request: Resources::new(
            unsigned(r.get(12)),
            unsigned(r.get(13)),
            unsigned(r.get(14)),
        ),
        account: r.get(15),
        resume: r.get(16),
        not_before: r.get(17),
    }
}

fn retry_row(r: &Row) -> Retry {
    Retry {
        run: r.get(0),
        attempt: u32::try_from(r.get::<_, i32>(1)).unwrap_or(0),
        at: r.get(2),
        node: r.get(3),
        pattern: r.get(4),
        delay_secs: r.get(5),
    }
}

/// A stored `BIGINT` amount (never negative) as the `u64` it was.
fn unsigned(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// A `u64` amount as a `BIGINT` (amounts beyond it are not requests anyone makes).
fn signed(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn audit_row(r: &Row) -> AuditEntry {
    AuditEntry {
        seq: r.get(0),
        at: r.get(1),
        user: r.get(2),
        method: r.get(3),
        path: r.get(4),
        namespace: r.get(5),
        run: r.get(6),
        status: u16::try_from(r.get::<_, i32>(7)).unwrap_or(0),
        outcome: r.get(8),
    }
}

/// A page size as SQL's `LIMIT`.
fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl Postgres {
    /// Connects to `url` (a libpq URL: `postgres://user[:password]@host[:port]/db`, with
    /// `?host=/socket/dir` for a Unix socket) and migrates the database; a database from a
    /// newer Couler is refused.
    pub fn open(url: &str) -> Result<Postgres> {
        let db = Postgres {
            conn: Connection::open(url)?,
        };
        db.migrate()?;
        Ok(db)
    }

    fn migrate(&self) -> Result<()> {
        let known = MIGRATIONS.len() as i64;
        let found = self.conn.call("migration", move |c| {
            let mut tx = c.transaction()?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
            tx.batch_execute(
                "CREATE TABLE IF NOT EXISTS couler_migrations (
                    version INTEGER PRIMARY KEY,
                    applied_at DOUBLE PRECISION NOT NULL
                )",
            )?;
            let version: i64 = tx
                .query_one(
                    "SELECT COALESCE(MAX(version), 0)::BIGINT FROM couler_migrations",
                    &[],
                )?
                .get(0);
            if version > known {
                return Ok(version);
            }
            for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
                tx.batch_execute(sql)?;
                tx.execute(
                    "INSERT INTO couler_migrations (version, applied_at) VALUES ($1, $2)",
                    &[&(i as i32 + 1), &now()],
                )?;
            }
            tx.commit()?;
            Ok(version)
        })?;
        super::check_version(found, MIGRATIONS.len())
    }
}

impl Store for Postgres {
    fn submit(&self, run: &NewRun) -> Result<()> {
        let run = run.clone();
        self.conn.call("cannot record the submission", move |c| {
            c.execute(
                "INSERT INTO runs (id, namespace, workflow, submitted_by, spec, params, state,
                    submitted_at, priority, request_cpu_milli, request_mem_mib, request_gpu,
                    account) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
                &[
                    &run.id,
                    &run.namespace,
                    &run.workflow,
                    &run.submitted_by,
                    &run.spec,
                    &run.params,
                    &super::QUEUED,
                    &now(),
                    &i32::try_from(run.priority).unwrap_or(i32::MAX),
                    &signed(run.request.cpu_milli),
                    &signed(run.request.mem_mib),
                    &signed(run.request.gpu),
                    &run.account,
                ],
            )
            .map(drop)
        })
    }

    fn run(&self, id: &str) -> Result<Option<RunRow>> {
        let id = id.to_string();
        self.conn.call("cannot read the run", move |c| {
            let sql = format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = $1");
            Ok(c.query_opt(&sql, &[&id])?.as_ref().map(run_row))
        })
    }

    fn runs(&self, f: &RunFilter) -> Result<Vec<RunRow>> {
        let f = f.clone();
        self.conn.call("cannot list runs", move |c| {
            let sql = format!(
                "SELECT {RUN_COLUMNS} FROM runs WHERE seq < $1
                    AND ($2::TEXT IS NULL OR state = $2)
                    AND ($3::TEXT[] IS NULL OR namespace = ANY($3))
                    AND ($5::TEXT IS NULL OR workflow = $5)
                    AND ($6::TEXT IS NULL OR submitted_by = $6)
                    AND ($7::TEXT IS NULL OR strpos(lower(id), $7) > 0
                         OR strpos(lower(workflow), $7) > 0 OR strpos(lower(submitted_by), $7) > 0)
                 ORDER BY seq DESC LIMIT $4"
            );
            let before = f.before.unwrap_or(i64::MAX);
            let search = f.search.as_deref().map(str::to_ascii_lowercase);
            let rows = c.query(
                &sql,
                &[
                    &before,
                    &f.state,
                    &f.namespaces,
                    &limit(f.limit),
                    &f.workflow,
                    &f.user,
                    &search,
                ],
            )?;
            Ok(rows.iter().map(run_row).collect())
        })
    }

    fn queued(&self) -> Result<Vec<RunRow>> {
        self.conn.call("cannot read the queue", |c| {
            let sql = format!("SELECT {RUN_COLUMNS} FROM runs WHERE state = $1 ORDER BY seq");
            Ok(c.query(&sql, &[&super::QUEUED])?
                .iter()
                .map(run_row)
                .collect())
        })
    }

    fn admit(&self, id: &str, cluster: &str) -> Result<bool> {
        let (id, cluster) = (id.to_string(), cluster.to_string());
        self.conn.call("cannot admit the run", move |c| {
            let n = c.execute(
                "UPDATE runs SET state = $1, cluster = $2 WHERE id = $3 AND state = $4",
                &[&super::RUNNING, &cluster, &id, &super::QUEUED],
            )?;
            Ok(n > 0)
        })
    }

    fn requeue_for_resume(&self, id: &str, from: &[&str], not_before: f64) -> Result<bool> {
        let id = id.to_string();
        let from: Vec<String> = from.iter().map(|s| s.to_string()).collect();
        self.conn.call("cannot queue the run again", move |c| {
            let n = c.execute(
                "UPDATE runs SET state = $1, resume = TRUE, not_before = $2, message = NULL
                    WHERE id = $3 AND state = ANY($4)",
                &[&super::QUEUED, &not_before, &id, &from],
            )?;
            Ok(n > 0)
        })
    }

    fn record_retry(&self, r: &Retry) -> Result<()> {
        let r = r.clone();
        self.conn.call("cannot record the retry", move |c| {
            c.execute(
                "INSERT INTO retries (run, attempt, at, node, pattern, delay_secs)
                    VALUES ($1, $2, $3, $4, $5, $6)",
                &[
                    &r.run,
                    &i32::try_from(r.attempt).unwrap_or(i32::MAX),
                    &r.at,
                    &r.node,
                    &r.pattern,
                    &r.delay_secs,
                ],
            )
            .map(drop)
        })
    }

    fn retries(&self, run: &str) -> Result<Vec<Retry>> {
        let run = run.to_string();
        self.conn.call("cannot read retries", move |c| {
            let rows = c.query(
                "SELECT run, attempt, at, node, pattern, delay_secs FROM retries
                    WHERE run = $1 ORDER BY attempt",
                &[&run],
            )?;
            Ok(rows.iter().map(retry_row).collect())
        })
    }

    fn requeue_running(&self) -> Result<usize> {
        self.conn.call("cannot requeue runs", |c| {
            let n = c.execute(
                "UPDATE runs SET state = $1 WHERE state = $2",
                &[&super::QUEUED, &super::RUNNING],
            )?;
            Ok(usize::try_from(n).unwrap_or(usize::MAX))
        })
    }

    fn set_state(
        &self,
        id: &str,
        state: &str,
        message: Option<&str>,
        only_from: Option<&str>,
    ) -> Result<bool> {
        let (id, state) = (id.to_string(), state.to_string());
        let (message, only_from) = (message.map(str::to_string), only_from.map(str::to_string));
        self.conn.call("cannot record the run's state", move |c| {
            let n = c.execute(
                "UPDATE runs SET state = $1, message = $2, resume = ($1 = $5 AND resume)
                    WHERE id = $3 AND ($4::TEXT IS NULL OR state = $4)",
                &[&state, &message, &id, &only_from, &super::QUEUED],
            )?;
            Ok(n > 0)
        })
    }

    fn delete(&self, id: &str) -> Result<bool> {
        let id = id.to_string();
        self.conn.call("cannot delete the run", move |c| {
            let mut tx = c.transaction()?;
            tx.execute("DELETE FROM retries WHERE run = $1", &[&id])?;
            let n = tx.execute("DELETE FROM runs WHERE id = $1", &[&id])?;
            tx.commit()?;
            Ok(n > 0)
        })
    }

    fn count_by_state(&self) -> Result<Vec<(String, i64)>> {
        self.conn.call("cannot count runs", |c| {
            let rows = c.query(
                "SELECT state, COUNT(*) FROM runs GROUP BY state ORDER BY state",
                &[],
            )?;
            Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
        })
    }

    fn add_token(&self, hash: &str, user: &str, binding: &Binding) -> Result<()> {
        let (hash, user) = (hash.to_string(), user.to_string());
        let (namespace, role) = (binding.namespace.clone(), binding.role.as_str());
        self.conn.call("cannot add the token", move |c| {
            let mut tx = c.transaction()?;
            tx.execute(
                "INSERT INTO tokens (hash, user_name, created_at) VALUES ($1, $2, $3)",
                &[&hash, &user, &now()],
            )?;
            tx.execute(
                "INSERT INTO bindings (user_name, namespace, role) VALUES ($1, $2, $3)
                 ON CONFLICT (user_name, namespace) DO UPDATE SET role = excluded.role",
                &[&user, &namespace, &role],
            )?;
            tx.commit()
        })
    }

    fn token_user(&self, hash: &str) -> Result<Option<(String, Vec<Binding>)>> {
        let hash = hash.to_string();
        self.conn.call("cannot read tokens", move |c| {
            let Some(user) = c
                .query_opt("SELECT user_name FROM tokens WHERE hash = $1", &[&hash])?
                .map(|r| r.get::<_, String>(0))
            else {
                return Ok(None);
            };
            let rows = c.query(
                "SELECT namespace, role FROM bindings WHERE user_name = $1 ORDER BY namespace",
                &[&user],
            )?;
            // A role this Couler does not know grants nothing.
            let bindings = rows
                .iter()
                .filter_map(|r| {
                    Role::parse(r.get(1)).map(|role| Binding {
                        namespace: r.get(0),
                        role,
                    })
                })
                .collect();
            Ok(Some((user, bindings)))
        })
    }

    fn audit(&self, e: &AuditEntry) -> Result<()> {
        let e = e.clone();
        self.conn.call("cannot append to the audit log", move |c| {
            c.execute(
                "INSERT INTO audit (at, user_name, method, path, namespace, run, status, outcome)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                &[
                    &e.at,
                    &e.user,
                    &e.method,
                    &e.path,
                    &e.namespace,
                    &e.run,
                    &i32::from(e.status),
                    &e.outcome,
                ],
            )
            .map(drop)
        })
    }

    fn audit_log(
        &self,
        namespaces: Option<&[String]>,
        before: Option<i64>,
        limit_to: usize,
    ) -> Result<Vec<AuditEntry>> {
        let namespaces = namespaces.map(<[String]>::to_vec);
        self.conn.call("cannot read the audit log", move |c| {
            let rows = c.query(
                "SELECT seq, at, user_name, method, path, namespace, run, status, outcome
                 FROM audit WHERE seq < $1 AND ($2::TEXT[] IS NULL OR namespace = ANY($2))
                 ORDER BY seq DESC LIMIT $3",
                &[&before.unwrap_or(i64::MAX), &namespaces, &limit(limit_to)],
            )?;
            Ok(rows.iter().map(audit_row).collect())
        })
    }
}
