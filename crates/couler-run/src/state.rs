//! The state store: one embedded SQLite database (`state.db`, WAL) under the state directory.
//!
//! It records runs, the steps of each run (one row per step, or per map instance), every
//! attempt, and the memoization cache. Writes are single statements or short transactions, so
//! a `kill -9` of the executor at any moment leaves a consistent database: a step is `Succeeded`
//! only once its outputs (and the digests of its artifacts, already in the artifact store) are
//! committed in the same row. A step that ran costs two commits on its critical path: its
//! start (which also reads the last attempt number and its cache entry) and its end (last
//! attempt, step row and cache entry in one transaction); see docs/performance.md.
//!
//! The schema is versioned in `meta.schema_version` and migrated forward in order on open; a
//! database from a newer Couler is refused rather than written to.

use crate::Error;
use crate::outcome::{StepOutputs, StepStatus};
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The schema version this Couler writes; migrations below bring older databases up to it.
pub const SCHEMA_VERSION: i64 = 4;

/// Migrations in order: `MIGRATIONS[i]` takes a database from version `i` to `i + 1`.
const MIGRATIONS: &[&[&str]] = &[
    &[
        "CREATE TABLE runs (
        id TEXT PRIMARY KEY,
        workflow TEXT NOT NULL,
        spec TEXT NOT NULL,
        params TEXT NOT NULL,
        status TEXT NOT NULL,
        pid INTEGER,
        started_at REAL NOT NULL,
        finished_at REAL,
        message TEXT
    )",
        "CREATE TABLE steps (
        run_id TEXT NOT NULL,
        node TEXT NOT NULL,
        step TEXT NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        exit_code INTEGER,
        started_at REAL,
        finished_at REAL,
        peak_rss_kb INTEGER,
        cpu_seconds REAL,
        cache_key TEXT,
        outputs TEXT,
        log_dir TEXT,
        message TEXT,
        pgid INTEGER,
        PRIMARY KEY (run_id, node)
    )",
        "CREATE TABLE attempts (
        run_id TEXT NOT NULL,
        node TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        status TEXT NOT NULL,
        exit_code INTEGER,
        started_at REAL NOT NULL,
        finished_at REAL,
        peak_rss_kb INTEGER,
        cpu_seconds REAL,
        log_dir TEXT NOT NULL,
        message TEXT,
        PRIMARY KEY (run_id, node, attempt)
    )",
        "CREATE TABLE cache (
        key TEXT PRIMARY KEY,
        outputs TEXT NOT NULL,
        run_id TEXT NOT NULL,
        node TEXT NOT NULL,
        created_at REAL NOT NULL
    )",
    ],
    // 2: where each run keeps its artifacts (JSON of `artifacts::Location`; NULL: the state
    // directory's local store, as every run before version 2 did).
    &["ALTER TABLE runs ADD COLUMN artifact_store TEXT"],
    // 3: per-entry metadata the cache budget ranks by (`cache_budget`): the step, the bytes of
    // its artifacts, the seconds it took (what a miss costs), hits, last use, and how many
    // steps of its workflow read it. Older entries read as 0 bytes, 0 seconds, never used.
    &[
        "ALTER TABLE cache ADD COLUMN step TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE cache ADD COLUMN bytes INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE cache ADD COLUMN recompute_secs REAL NOT NULL DEFAULT 0",
        "ALTER TABLE cache ADD COLUMN hits INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE cache ADD COLUMN last_used REAL",
        "ALTER TABLE cache ADD COLUMN consumers INTEGER NOT NULL DEFAULT 0",
    ],
    // 4: the start time (clock ticks since boot) of the executor and of each running step's
    // group leader, so that nothing signals a pid the kernel gave to another process
    // (`owner`). NULL on older rows: such a pid is never signalled by `resume`.
    &[
        "ALTER TABLE runs ADD COLUMN pid_start INTEGER",
        "ALTER TABLE steps ADD COLUMN pgid_start INTEGER",
    ],
];

/// The status of a whole run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RunStatus {
    Running,
    Succeeded,
    Failed,
    Error,
    Stopped,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "Running",
            RunStatus::Succeeded => "Succeeded",
            RunStatus::Failed => "Failed",
            RunStatus::Error => "Error",
            RunStatus::Stopped => "Stopped",
        }
    }
}

/// One row of `steps`.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StepRecord {
    pub node: String,
    pub step: String,
    pub status: String,
    pub attempts: i64,
    pub exit_code: Option<i64>,
    pub started_at: Option<f64>,
    pub finished_at: Option<f64>,
    pub peak_rss_kb: Option<i64>,
    pub cpu_seconds: Option<f64>,
    pub cache_key: Option<String>,
    /// Typed, not a JSON tree: a row of a run's 100,000 map instances holds a few bytes of
    /// them, not a map of maps.
    pub outputs: Option<StepOutputs>,
    pub log_dir: Option<String>,
    pub message: Option<String>,
}

impl StepRecord {
    /// The row of `node` (of `step`) in `status`, nothing else known yet.
    pub fn new(node: &str, step: &str, status: &str) -> StepRecord {
        StepRecord {
            node: node.to_string(),
            step: step.to_string(),
            status: status.to_string(),
            attempts: 0,
            exit_code: None,
            started_at: None,
            finished_at: None,
            peak_rss_kb: None,
            cpu_seconds: None,
            cache_key: None,
            outputs: None,
            log_dir: None,
            message: None,
        }
    }
}

/// One row of `runs`.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunRecord {
    pub id: String,
    pub workflow: String,
    pub status: String,
    pub pid: Option<i64>,
    /// The executor's start time (`owner`), with `pid` its identity.
    #[serde(skip)]
    pub pid_start: Option<i64>,
    pub started_at: f64,
    pub finished_at: Option<f64>,
    pub message: Option<String>,
    #[serde(skip)]
    pub spec: String,
    #[serde(skip)]
    pub params: String,
    /// Where the run keeps its artifacts (`/dir` or `s3://bucket/prefix`); `None`: the state
    /// directory's `artifacts/`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artifact_store: Option<String>,
    /// The recorded location itself (JSON of `artifacts::Location`).
    #[serde(skip)]
    pub artifact_store_json: Option<String>,
}

/// `run` as readers show it: `Running` becomes [`crate::INTERRUPTED`] when its executor is
/// gone (`owner::executor_alive`).
fn settle(state_dir: &Path, mut run: RunRecord) -> RunRecord {
    if run.status == RunStatus::Running.as_str()
        && !crate::owner::executor_alive(state_dir, run.pid, run.pid_start)
    {
        run.status = crate::owner::INTERRUPTED.to_string();
    }
    run
}

/// Seconds since the Unix epoch.
pub fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs_f64()
}

fn db_err(what: &str) -> impl Fn(rusqlite::Error) -> Error + '_ {
    move |e| Error::State(format!("{what}: {e}"))
}

/// The state database of one state directory.
///
/// One connection, used in the calling thread under a mutex: the executor is the only writer,
/// SQLite serialises writes anyway, and a statement here takes microseconds, where a hand-off
/// to a database thread and back (what an async driver does) cost several times the statement
/// itself on every step's critical path (docs/performance.md). Nothing awaits while holding it.
#[derive(Clone)]
pub struct State {
    conn: Arc<Mutex<Connection>>,
    /// The state directory, whose lock tells a live executor from a dead one (`owner`).
    dir: std::path::PathBuf,
}

impl State {
    /// Opens (creating if needed) `dir/state.db` and migrates it to [`SCHEMA_VERSION`].
    pub fn open(dir: &Path) -> Result<State, Error> {
        let path = dir.join("state.db");
        refuse_emptied(dir, &path)?;
        let cannot =
            |e: rusqlite::Error| Error::State(format!("cannot open {}: {e}", path.display()));
        let conn = Connection::open(&path).map_err(cannot)?;
        conn.busy_timeout(Duration::from_secs(10)).map_err(cannot)?;
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
            .map_err(cannot)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(Error::State(format!(
                "cannot open {}: its file system does not support SQLite's WAL mode (got `{mode}`); \
                 put the state directory on a local disk (--state-dir)",
                path.display()
            )));
        }
        // With WAL, NORMAL never corrupts the database on a process crash; only a power loss
        // can drop the last commits, which `resume` then redoes.
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(cannot)?;
        // A stand-in for a full disk (docs/runtime.md, "Full disks"): SQLite refuses to grow
        // the database past this many pages with the error a full disk gives.
        if let Some(pages) = std::env::var("COULER_STATE_MAX_PAGES")
            .ok()
            .and_then(|v| v.parse::<i64>().ok())
        {
            conn.pragma_update(None, "max_page_count", pages)
                .map_err(cannot)?;
        }
        // Every statement of this file stays prepared.
        conn.set_prepared_statement_cache_capacity(64);
        let state = State {
            conn: Arc::new(Mutex::new(conn)),
            dir: dir.to_path_buf(),
        };
        state.migrate()?;
        Ok(state)
    }

    /// The connection. A panic elsewhere while holding it cannot leave a transaction open
    /// (rusqlite rolls back a dropped one), so a poisoned lock is still a usable connection.
    fn db(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn migrate(&self) -> Result<(), Error> {
        let mut db = self.db();
        db.execute(
            "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
            [],
        )
        .map_err(db_err("cannot create meta table"))?;
        let found: Option<String> = db
            .query_row(
                "SELECT value FROM meta WHERE key = 'schema_version'",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(db_err("cannot read schema version"))?;
        let version: i64 = match found {
            Some(v) => v.parse().map_err(|_| {
                Error::State(format!("the state database has a bad schema version `{v}`"))
            })?,
            None => 0,
        };
        if version > SCHEMA_VERSION {
            return Err(Error::NewerState {
                found: version,
                supported: SCHEMA_VERSION,
            });
        }
        for (i, steps) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let tx = db
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(db_err("migration"))?;
            for sql in steps.iter() {
                tx.execute(sql, []).map_err(db_err("migration"))?;
            }
            tx.execute(
                "INSERT INTO meta (key, value) VALUES ('schema_version', ?1)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                [(i as i64 + 1).to_string()],
            )
            .map_err(db_err("migration"))?;
            tx.commit().map_err(db_err("migration"))?;
        }
        Ok(())
    }

    /// The rows of one query, each read by `read`.
    fn rows<T>(
        &self,
        what: &str,
        sql: &str,
        args: impl rusqlite::Params,
        read: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>, Error> {
        let db = self.db();
        let mut q = db.prepare_cached(sql).map_err(db_err(what))?;
        let rows = q.query_map(args, read).map_err(db_err(what))?;
        rows.collect::<rusqlite::Result<Vec<T>>>()
            .map_err(db_err(what))
    }

    pub fn create_run(
        &self,
        id: &str,
        workflow: &str,
        spec: &str,
        params: &str,
    ) -> Result<(), Error> {
        exec(
            &self.db(),
            "cannot record the run",
            "INSERT INTO runs (id, workflow, spec, params, status, pid, pid_start, started_at)
             VALUES (?1, ?2, ?3, ?4, 'Running', ?5, ?6, ?7)",
            params![
                id,
                workflow,
                spec,
                params,
                i64::from(std::process::id()),
                this_process_start(),
                now()
            ],
        )
    }

    /// Marks a run Running again under this process (for `resume`).
    pub fn reopen_run(&self, id: &str) -> Result<(), Error> {
        exec(
            &self.db(),
            "cannot reopen the run",
            "UPDATE runs SET status = 'Running', pid = ?1, pid_start = ?2, finished_at = NULL,
                message = NULL
             WHERE id = ?3",
            params![i64::from(std::process::id()), this_process_start(), id],
        )
    }

    /// Records where a run keeps its artifacts, so `resume` uses the same store.
    pub fn set_run_store(
        &self,
        id: &str,
        location: &crate::artifacts::Location,
    ) -> Result<(), Error> {
        let text = serde_json::to_string(location)
            .map_err(|e| Error::State(format!("cannot encode the artifact store: {e}")))?;
        exec(
            &self.db(),
            "cannot record the run's artifact store",
            "UPDATE runs SET artifact_store = ?1 WHERE id = ?2",
            params![text, id],
        )
    }

    /// Deletes run `id` and the runs nested in it (`ID.NODE…`): their rows in `runs`, `steps`
    /// and `attempts`, in one transaction. Cache entries stay (any run may hit them); the pins
    /// the run's kept steps held on them go with its rows.
    pub fn forget_run(&self, id: &str) -> Result<(), Error> {
        let what = "cannot forget the run";
        let mut db = self.db();
        let tx = db
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db_err(what))?;
        for table in ["attempts", "steps"] {
            exec(
                &tx,
                what,
                &format!(
                    "DELETE FROM {table} WHERE run_id = ?1 OR substr(run_id, 1, length(?1) + 1) = ?1 || '.'"
                ),
                [id],
            )?;
        }
        exec(
            &tx,
            what,
            "DELETE FROM runs WHERE id = ?1 OR substr(id, 1, length(?1) + 1) = ?1 || '.'",
            [id],
        )?;
        tx.commit().map_err(db_err(what))
    }

    /// Replaces a run's spec and params (`couler resume --spec`).
    pub fn set_run_spec(&self, id: &str, spec: &str, params: &str) -> Result<(), Error> {
        exec(
            &self.db(),
            "cannot record the run's new spec",
            "UPDATE runs SET spec = ?1, params = ?2 WHERE id = ?3",
            params![spec, params, id],
        )
    }

    pub fn finish_run(
        &self,
        id: &str,
        status: RunStatus,
        message: Option<&str>,
    ) -> Result<(), Error> {
        exec(
            &self.db(),
            "cannot record the run's end",
            "UPDATE runs SET status = ?1, finished_at = ?2, message = ?3 WHERE id = ?4",
            params![status.as_str(), now(), message, id],
        )
    }

    /// Every run, newest first; one recorded `Running` whose executor is gone reads as
    /// `Interrupted` (`owner`).
    pub fn runs(&self) -> Result<Vec<RunRecord>, Error> {
        let rows = self.rows(
            "cannot list runs",
            &format!("SELECT {RUN_COLUMNS} FROM runs ORDER BY started_at DESC, id"),
            [],
            run_from_row,
        )?;
        Ok(rows.into_iter().map(|r| settle(&self.dir, r)).collect())
    }

    /// One run, read as [`State::runs`] reads it.
    pub fn run(&self, id: &str) -> Result<Option<RunRecord>, Error> {
        let mut rows = self.rows(
            "cannot read the run",
            &format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?1"),
            [id],
            run_from_row,
        )?;
        Ok(rows.pop().map(|r| settle(&self.dir, r)))
    }

    /// Records that a step (or instance) started; its earlier row, if any, is replaced (its
    /// log directory comes with its first process, [`State::step_spawned`]). Returns the
    /// highest attempt number recorded for the node (0 if none), so `resume` numbers on, and,
    /// when `cache` gives a key (and the entries' maximum age), the outputs cached under it.
    /// One statement, one commit: this is on every step's critical path. A hit is not counted
    /// until the caller uses it ([`State::cache_hit`]).
    pub fn step_started(
        &self,
        run_id: &str,
        node: &str,
        step: &str,
        cache: Option<(&str, Option<Duration>)>,
    ) -> Result<(u32, Option<StepOutputs>), Error> {
        let (n, cached, cached_at): (i64, Option<String>, Option<f64>) = one(
            &self.db(),
            "cannot record a step start",
            "INSERT INTO steps (run_id, node, step, status, started_at)
             VALUES (?1, ?2, ?3, 'Running', ?4)
             ON CONFLICT(run_id, node) DO UPDATE SET status = 'Running',
                started_at = excluded.started_at, finished_at = NULL, log_dir = NULL,
                message = NULL, outputs = NULL, exit_code = NULL, pgid = NULL, pgid_start = NULL
             RETURNING (SELECT COALESCE(MAX(attempt), 0) FROM attempts
                        WHERE run_id = ?1 AND node = ?2),
                (SELECT outputs FROM cache WHERE key = ?5),
                (SELECT created_at FROM cache WHERE key = ?5)",
            params![run_id, node, step, now(), cache.map(|(key, _)| key)],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        let hit = match cache {
            Some((_, max_age)) => usable_entry(cached, cached_at, max_age),
            None => None,
        };
        Ok((u32::try_from(n).unwrap_or(0), hit))
    }

    /// Records the process group (with its leader's start time, read now, while the caller
    /// has not reaped it) and the directory of a step's running attempt (so `resume` can stop
    /// what a dead executor left, and `couler logs --follow` finds a retry's logs).
    pub fn step_spawned(
        &self,
        run_id: &str,
        node: &str,
        pgid: i32,
        log_dir: &str,
    ) -> Result<(), Error> {
        exec(
            &self.db(),
            "cannot record a step's process group",
            "UPDATE steps SET pgid = ?1, pgid_start = ?2, log_dir = ?3
             WHERE run_id = ?4 AND node = ?5",
            params![
                i64::from(pgid),
                crate::owner::start_time(pgid),
                log_dir,
                run_id,
                node
            ],
        )
    }

    /// Marks a step whose end could not be recorded `Error` with `message` (a short row, for
    /// when the full end does not fit: `unrecorded`).
    pub fn step_unrecorded(&self, run_id: &str, node: &str, message: &str) -> Result<(), Error> {
        exec(
            &self.db(),
            "cannot record a step's error",
            "UPDATE steps SET status = 'Error', message = ?1, finished_at = ?2, pgid = NULL,
                pgid_start = NULL
             WHERE run_id = ?3 AND node = ?4",
            params![message, now(), run_id, node],
        )
    }

    /// Nodes and process groups (with their leaders' start times) of steps still marked
    /// Running (left by an executor that died).
    pub fn running_pgids(&self, run_id: &str) -> Result<Vec<(String, i32, Option<i64>)>, Error> {
        let rows = self.rows(
            "cannot read steps",
            "SELECT node, pgid, pgid_start FROM steps
             WHERE run_id = ?1 AND status = 'Running' AND pgid IS NOT NULL",
            [run_id],
            |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, r.get(2)?)),
        )?;
        Ok(rows
            .into_iter()
            .filter_map(|(node, g, s)| i32::try_from(g).ok().map(|g| (node, g, s)))
            .collect())
    }

    /// Records a finished step (or instance) with everything it produced, in one statement.
    pub fn step_finished(
        &self,
        run_id: &str,
        node: &str,
        step: &str,
        status: StepStatus,
        fin: &Finished,
    ) -> Result<(), Error> {
        write_step_finished(&self.db(), run_id, node, step, status, fin)
    }

    /// Records the end of a step that ran: its last attempt, its row (status, outputs), and its
    /// cache entry, in one transaction (one commit), so a `kill -9` leaves all or none of them.
    /// Storage only: keeping the cache under a budget is the caller's (`cache_budget::enforce`).
    pub fn step_ended(
        &self,
        end: &StepEnd<'_>,
        attempt: &AttemptRecord,
        cache: Option<CachePut<'_>>,
    ) -> Result<(), Error> {
        {
            let what = "cannot record a step's end";
            let mut db = self.db();
            // Dropped without a commit (any error below), the transaction rolls back.
            let tx = db
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(db_err(what))?;
            write_attempt(&tx, end.run_id, end.node, attempt)?;
            write_step_finished(&tx, end.run_id, end.node, end.step, end.status, end.fin)?;
            if let Some(c) = &cache {
                write_cache_put(&tx, c.key, c.outputs, end.run_id, end.node, c.meta)?;
            }
            tx.commit().map_err(db_err(what))?;
        }
        Ok(())
    }

    /// Records one attempt that is not a step's last (a retry follows, or a `repeat` loop goes
    /// on); the last one goes with the step's end in [`State::step_ended`].
    pub fn attempt_ended(
        &self,
        run_id: &str,
        node: &str,
        attempt: &AttemptRecord,
    ) -> Result<(), Error> {
        write_attempt(&self.db(), run_id, node, attempt)
    }

    /// Records one attempt (its row is replaced if it exists).
    #[allow(clippy::too_many_arguments)]
    pub fn record_attempt(
        &self,
        run_id: &str,
        node: &str,
        attempt: u32,
        status: StepStatus,
        exit_code: Option<i32>,
        started_at: f64,
        peak_rss_kb: Option<i64>,
        cpu_seconds: Option<f64>,
        log_dir: &str,
        message: Option<&str>,
    ) -> Result<(), Error> {
        let rec = AttemptRecord {
            attempt,
            status,
            exit_code,
            started_at,
            peak_rss_kb,
            cpu_seconds,
            log_dir: log_dir.to_string(),
            message: message.map(str::to_string),
        };
        self.attempt_ended(run_id, node, &rec)
    }

    /// The highest attempt number recorded for a node (0 if none), so `resume` numbers on.
    pub fn last_attempt(&self, run_id: &str, node: &str) -> Result<u32, Error> {
        let n: i64 = one(
            &self.db(),
            "cannot read attempts",
            "SELECT COALESCE(MAX(attempt), 0) FROM attempts WHERE run_id = ?1 AND node = ?2",
            [run_id, node],
            |r| r.get(0),
        )?;
        Ok(u32::try_from(n).unwrap_or(0))
    }

    /// Every ended attempt of a run's steps, by node then attempt: when each ran and how it
    /// ended (a map instance's under its own node, `train[2]`), for a timeline.
    pub fn attempt_spans(&self, run_id: &str) -> Result<Vec<AttemptSpan>, Error> {
        self.rows(
            "cannot read attempts",
            "SELECT node, attempt, status, started_at, finished_at FROM attempts
             WHERE run_id = ?1 ORDER BY node, attempt",
            [run_id],
            |r| {
                Ok(AttemptSpan {
                    node: r.get(0)?,
                    attempt: r.get(1)?,
                    status: r.get(2)?,
                    started_at: r.get(3)?,
                    finished_at: r.get(4)?,
                })
            },
        )
    }

    pub fn steps(&self, run_id: &str) -> Result<Vec<StepRecord>, Error> {
        self.rows("cannot read steps", STEPS, [run_id], step_from_row)
    }

    /// [`State::steps`] one row at a time, each handed to `each` and dropped: a reader of a
    /// run of 100,000 map instances holds one row, not 100,000.
    pub fn each_step(&self, run_id: &str, mut each: impl FnMut(StepRecord)) -> Result<(), Error> {
        let what = "cannot read steps";
        let db = self.db();
        let mut q = db.prepare_cached(STEPS).map_err(db_err(what))?;
        let rows = q.query_map([run_id], step_from_row).map_err(db_err(what))?;
        for r in rows {
            each(r.map_err(db_err(what))?);
        }
        Ok(())
    }

    /// How many instances (nodes `STEP[K]`) of each mapped step of `run_id` are in each status:
    /// `(step, status, count)`.
    pub fn instance_counts(&self, run_id: &str) -> Result<Vec<(String, String, usize)>, Error> {
        self.rows(
            "cannot count map instances",
            "SELECT step, status, COUNT(*) FROM steps
             WHERE run_id = ?1 AND substr(node, 1, length(step) + 1) = step || '['
             GROUP BY step, status",
            [run_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)?.max(0) as usize)),
        )
    }

    /// Kept (Succeeded, Skipped, Cached) steps of a run with their outputs, for `resume`.
    pub fn kept_steps(
        &self,
        run_id: &str,
    ) -> Result<BTreeMap<String, (StepStatus, StepOutputs)>, Error> {
        let mut out = BTreeMap::new();
        for rec in self.steps(run_id)? {
            let Some(status) = StepStatus::parse(&rec.status) else {
                continue;
            };
            if !status.is_kept() {
                continue;
            }
            out.insert(rec.node, (status, rec.outputs.unwrap_or_default()));
        }
        Ok(out)
    }

    /// The outputs cached under `key` if the entry is younger than `max_age`, its hit counted.
    pub fn cache_get(
        &self,
        key: &str,
        max_age: Option<Duration>,
    ) -> Result<Option<StepOutputs>, Error> {
        let row = self.rows(
            "cannot read the cache",
            "SELECT outputs, created_at FROM cache WHERE key = ?1",
            [key],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let hit = row
            .into_iter()
            .next()
            .and_then(|(text, created)| usable_entry(text, created, max_age));
        if hit.is_some() {
            self.cache_hit(key)?;
        }
        Ok(hit)
    }

    /// Counts a use of the entry under `key`: the budget's policies rank by use.
    pub fn cache_hit(&self, key: &str) -> Result<(), Error> {
        exec(
            &self.db(),
            "cannot record a cache hit",
            "UPDATE cache SET hits = hits + 1, last_used = ?1 WHERE key = ?2",
            params![now(), key],
        )
    }

    /// Records a step's outputs under `key` (eviction is the caller's: `cache_budget::enforce`).
    pub fn cache_put(
        &self,
        key: &str,
        outputs: &StepOutputs,
        run_id: &str,
        node: &str,
        meta: &PutMeta,
    ) -> Result<(), Error> {
        write_cache_put(&self.db(), key, outputs, run_id, node, meta)
    }

    /// Every cache entry with its metadata, oldest first (`pinned` unset).
    pub fn cache_entries(&self) -> Result<Vec<CacheEntry>, Error> {
        self.rows(
            "cannot read the cache",
            "SELECT key, outputs, run_id, node, created_at, step, bytes, recompute_secs, hits,
                COALESCE(last_used, created_at) AS last_used, consumers
             FROM cache ORDER BY created_at, key",
            [],
            |r| {
                let text: String = r.get("outputs")?;
                let outputs: StepOutputs = serde_json::from_str(&text).unwrap_or_default();
                Ok(CacheEntry {
                    key: r.get("key")?,
                    step: r.get("step")?,
                    node: r.get("node")?,
                    run_id: r.get("run_id")?,
                    bytes: u64::try_from(r.get::<_, i64>("bytes")?).unwrap_or(0),
                    recompute_secs: r.get("recompute_secs")?,
                    hits: u64::try_from(r.get::<_, i64>("hits")?).unwrap_or(0),
                    last_used: r.get("last_used")?,
                    created_at: r.get("created_at")?,
                    consumers: u32::try_from(r.get::<_, i64>("consumers")?).unwrap_or(0),
                    artifacts: outputs.artifacts.into_values().collect(),
                    pinned: false,
                })
            },
        )
    }

    /// The cache's bytes: the sum of its entries' (a cheap check before ranking).
    pub fn cache_bytes(&self) -> Result<u64, Error> {
        let n: i64 = one(
            &self.db(),
            "cannot read the cache",
            "SELECT COALESCE(SUM(bytes), 0) FROM cache",
            [],
            |r| r.get(0),
        )?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Deletes one cache entry (its blobs stay until a garbage collection).
    pub fn cache_delete(&self, key: &str) -> Result<(), Error> {
        exec(
            &self.db(),
            "cannot delete a cache entry",
            "DELETE FROM cache WHERE key = ?1",
            [key],
        )
    }

    /// The artifacts recorded by kept steps of every run that did not succeed (a run `resume`
    /// may still continue), with the run's id.
    pub fn resumable_artifacts(
        &self,
    ) -> Result<Vec<(String, crate::artifacts::ArtifactRef)>, Error> {
        let rows = self.rows(
            "cannot read steps",
            "SELECT s.run_id, s.status, s.outputs FROM steps s JOIN runs r ON r.id = s.run_id
             WHERE r.status != 'Succeeded' AND s.outputs IS NOT NULL",
            [],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            },
        )?;
        let mut out = Vec::new();
        for (run, status, text) in rows {
            if !StepStatus::parse(&status).is_some_and(StepStatus::is_kept) {
                continue;
            }
            let outputs: StepOutputs = serde_json::from_str(&text).unwrap_or_default();
            out.extend(outputs.artifacts.into_values().map(|a| (run.clone(), a)));
        }
        Ok(out)
    }
}

/// What a finished step records besides its status.
#[derive(Clone, Debug, Default)]
pub struct Finished {
    pub attempts: u32,
    pub exit_code: Option<i32>,
    pub started_at: Option<f64>,
    pub peak_rss_kb: Option<i64>,
    pub cpu_seconds: Option<f64>,
    pub cache_key: Option<String>,
    pub outputs: Option<StepOutputs>,
    pub log_dir: Option<String>,
    pub message: Option<String>,
}

/// One attempt's row in `attempts`.
#[derive(Clone, Debug)]
pub struct AttemptRecord {
    pub attempt: u32,
    pub status: StepStatus,
    pub exit_code: Option<i32>,
    pub started_at: f64,
    pub peak_rss_kb: Option<i64>,
    pub cpu_seconds: Option<f64>,
    pub log_dir: String,
    pub message: Option<String>,
}

/// One ended attempt of a step ([`State::attempt_spans`]).
#[derive(Clone, Debug, PartialEq)]
pub struct AttemptSpan {
    pub node: String,
    pub attempt: u32,
    pub status: String,
    pub started_at: f64,
    pub finished_at: Option<f64>,
}

/// Which step ended, and how (for [`State::step_ended`]).
pub struct StepEnd<'a> {
    pub run_id: &'a str,
    pub node: &'a str,
    pub step: &'a str,
    pub status: StepStatus,
    pub fin: &'a Finished,
}

/// A cache entry to write with a step's end.
pub struct CachePut<'a> {
    pub key: &'a str,
    pub outputs: &'a StepOutputs,
    pub meta: &'a PutMeta,
}

/// What the executor knows about an entry when it puts it (the rest is derived or counted).
#[derive(Clone, Debug, Default)]
pub struct PutMeta {
    /// The step's name.
    pub step: String,
    /// Wall seconds the step took: what a miss costs to recompute.
    pub recompute_secs: f64,
    /// Steps of its workflow that read its outputs.
    pub consumers: u32,
}

/// One cache entry with its metadata.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CacheEntry {
    pub key: String,
    pub step: String,
    pub node: String,
    pub run_id: String,
    pub bytes: u64,
    pub recompute_secs: f64,
    pub hits: u64,
    /// Seconds since the epoch of the last put or hit.
    pub last_used: f64,
    pub created_at: f64,
    pub consumers: u32,
    #[serde(skip)]
    pub artifacts: Vec<crate::artifacts::ArtifactRef>,
    /// A run `resume` may continue references its artifacts: never evicted.
    pub pinned: bool,
}

/// Runs one (cached) statement with `args`; `what` names it in the error.
fn exec(db: &Connection, what: &str, sql: &str, args: impl rusqlite::Params) -> Result<(), Error> {
    db.prepare_cached(sql)
        .and_then(|mut q| q.execute(args))
        .map_err(db_err(what))?;
    Ok(())
}

/// The one row a (cached) statement returns, read by `read`.
fn one<T>(
    db: &Connection,
    what: &str,
    sql: &str,
    args: impl rusqlite::Params,
    read: impl FnOnce(&Row<'_>) -> rusqlite::Result<T>,
) -> Result<T, Error> {
    db.prepare_cached(sql)
        .and_then(|mut q| q.query_row(args, read))
        .map_err(db_err(what))
}

const RUN_COLUMNS: &str = "id, workflow, status, pid, pid_start, started_at, finished_at,
    message, spec, params, artifact_store";

/// This process's start time, recorded with its pid on the runs it executes (`owner`).
fn this_process_start() -> Option<i64> {
    crate::owner::start_time(std::process::id() as i32)
}

fn write_attempt(
    db: &Connection,
    run_id: &str,
    node: &str,
    a: &AttemptRecord,
) -> Result<(), Error> {
    exec(
        db,
        "cannot record an attempt",
        "INSERT OR REPLACE INTO attempts (run_id, node, attempt, status, exit_code, started_at,
            finished_at, peak_rss_kb, cpu_seconds, log_dir, message)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        params![
            run_id,
            node,
            i64::from(a.attempt),
            a.status.as_str(),
            a.exit_code.map(i64::from),
            a.started_at,
            now(),
            a.peak_rss_kb,
            a.cpu_seconds,
            a.log_dir,
            a.message,
        ],
    )
}

/// The outputs a cache entry holds (its `outputs` and `created_at`, `None` when there is no
/// entry), if it is younger than `max_age`; an entry that no longer parses is a miss (it is
/// overwritten when the step ends).
fn usable_entry(
    text: Option<String>,
    created: Option<f64>,
    max_age: Option<Duration>,
) -> Option<StepOutputs> {
    let (text, created) = (text?, created?);
    if max_age.is_some_and(|age| now() - created > age.as_secs_f64()) {
        return None;
    }
    serde_json::from_str(&text).ok()
}

fn encode_outputs(o: &StepOutputs) -> Result<String, Error> {
    serde_json::to_string(o).map_err(|e| Error::State(format!("cannot encode outputs: {e}")))
}

fn write_step_finished(
    db: &Connection,
    run_id: &str,
    node: &str,
    step: &str,
    status: StepStatus,
    fin: &Finished,
) -> Result<(), Error> {
    let outputs = fin.outputs.as_ref().map(encode_outputs).transpose()?;
    exec(
        db,
        "cannot record a step's end",
        "INSERT INTO steps (run_id, node, step, status, attempts, exit_code, started_at,
            finished_at, peak_rss_kb, cpu_seconds, cache_key, outputs, log_dir, message)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
         ON CONFLICT(run_id, node) DO UPDATE SET status = excluded.status,
            attempts = excluded.attempts, exit_code = excluded.exit_code,
            started_at = COALESCE(steps.started_at, excluded.started_at),
            finished_at = excluded.finished_at, peak_rss_kb = excluded.peak_rss_kb,
            cpu_seconds = excluded.cpu_seconds, cache_key = excluded.cache_key,
            outputs = excluded.outputs, log_dir = COALESCE(excluded.log_dir, steps.log_dir),
            message = excluded.message, pgid = NULL, pgid_start = NULL",
        params![
            run_id,
            node,
            step,
            status.as_str(),
            i64::from(fin.attempts),
            fin.exit_code.map(i64::from),
            fin.started_at,
            now(),
            fin.peak_rss_kb,
            fin.cpu_seconds,
            fin.cache_key,
            outputs,
            fin.log_dir,
            fin.message,
        ],
    )
}

fn write_cache_put(
    db: &Connection,
    key: &str,
    outputs: &StepOutputs,
    run_id: &str,
    node: &str,
    meta: &PutMeta,
) -> Result<(), Error> {
    let text = encode_outputs(outputs)?;
    let bytes: u64 = outputs.artifacts.values().map(|a| a.size).sum();
    let t = now();
    exec(
        db,
        "cannot write the cache",
        "INSERT OR REPLACE INTO cache (key, outputs, run_id, node, created_at, step, bytes,
            recompute_secs, hits, last_used, consumers)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 0, ?5, ?9)",
        params![
            key,
            text,
            run_id,
            node,
            t,
            meta.step,
            i64::try_from(bytes).unwrap_or(i64::MAX),
            meta.recompute_secs,
            i64::from(meta.consumers),
        ],
    )
}

fn run_from_row(r: &Row<'_>) -> rusqlite::Result<RunRecord> {
    let store: Option<String> = r.get("artifact_store")?;
    Ok(RunRecord {
        id: r.get("id")?,
        workflow: r.get("workflow")?,
        status: r.get("status")?,
        pid: r.get("pid")?,
        pid_start: r.get("pid_start")?,
        started_at: r.get("started_at")?,
        finished_at: r.get("finished_at")?,
        message: r.get("message")?,
        spec: r.get("spec")?,
        params: r.get("params")?,
        artifact_store: store
            .as_deref()
            .and_then(|t| serde_json::from_str::<crate::artifacts::Location>(t).ok())
            .map(|l| l.to_string()),
        artifact_store_json: store,
    })
}

/// A run's step rows, in the order they started.
const STEPS: &str = "SELECT node, step, status, attempts, exit_code, started_at, finished_at,
        peak_rss_kb, cpu_seconds, cache_key, outputs, log_dir, message
     FROM steps WHERE run_id = ?1 ORDER BY COALESCE(started_at, finished_at), node";

fn step_from_row(r: &Row<'_>) -> rusqlite::Result<StepRecord> {
    let outputs: Option<String> = r.get("outputs")?;
    Ok(StepRecord {
        node: r.get("node")?,
        step: r.get("step")?,
        status: r.get("status")?,
        attempts: r.get("attempts")?,
        exit_code: r.get("exit_code")?,
        started_at: r.get("started_at")?,
        finished_at: r.get("finished_at")?,
        peak_rss_kb: r.get("peak_rss_kb")?,
        cpu_seconds: r.get("cpu_seconds")?,
        cache_key: r.get("cache_key")?,
        outputs: outputs.and_then(|t| serde_json::from_str(&t).ok()),
        log_dir: r.get("log_dir")?,
        message: r.get("message")?,
    })
}

/// Refuses a `state.db` of 0 bytes in a state directory that holds anything else (runs,
/// artifacts, a write-ahead log): SQLite would take it for a new database, and the runs and
/// cache entries recorded there would silently be gone. ([`State::open`] writes a new
/// database's header and schema at once, so a 0-byte file beside a history is a truncated one:
/// a full disk, a failed copy.) Beside nothing but the lock, it is a creation cut short.
fn refuse_emptied(dir: &Path, db: &Path) -> Result<(), Error> {
    if std::fs::metadata(db).map_or(true, |m| m.len() > 0) {
        return Ok(());
    }
    let ignorable = |name: &str, len: u64| {
        matches!(name, "lock" | "state.db" | "state.db-shm") || (name == "state.db-wal" && len == 0)
    };
    let mut others: Vec<String> = std::fs::read_dir(dir)
        .map_err(|e| Error::State(format!("cannot list {}: {e}", dir.display())))?
        .filter_map(|e| e.ok())
        .map(|e| {
            let len = e.metadata().map_or(0, |m| m.len());
            (e.file_name().to_string_lossy().into_owned(), len)
        })
        .filter(|(name, len)| !ignorable(name, *len))
        .map(|(name, _)| name)
        .collect();
    if others.is_empty() {
        return Ok(());
    }
    others.sort();
    let d = dir.display();
    Err(Error::State(format!(
        "{} is empty (0 bytes), but {d} holds {} of earlier runs: the database was truncated (a full disk, a failed copy?) and opening it would lose every run's history. Restore state.db from a backup; or, to start afresh, move the directory aside (`mv {d} {d}.broken`) or use another --state-dir",
        db.display(),
        others.join(", ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run recorded `Running` reads so while its executor (this process) holds the state
    /// directory's lock, and `Interrupted` once it does not (`owner::executor_alive`).
    #[test]
    fn a_running_run_reads_interrupted_once_its_executor_is_gone() -> Result<(), Error> {
        let dir = tempfile::tempdir().map_err(|e| Error::Io(e.to_string()))?;
        let held = crate::Lock::acquire(dir.path())?;
        let state = State::open(dir.path())?;
        state.create_run("r", "w", "{}", "{}")?;
        let status =
            |s: &State| -> Result<Option<String>, Error> { Ok(s.run("r")?.map(|r| r.status)) };
        assert_eq!(status(&state)?.as_deref(), Some("Running"));
        assert_eq!(state.runs()?[0].status, "Running");
        drop(held);
        assert_eq!(status(&state)?.as_deref(), Some(crate::INTERRUPTED));
        assert_eq!(state.runs()?[0].status, crate::INTERRUPTED);
        Ok(())
    }

    #[tokio::test]
    async fn a_state_dir_from_a_newer_couler_is_refused_untouched() -> Result<(), Error> {
        let dir = tempfile::tempdir().map_err(|e| Error::Io(e.to_string()))?;
        let state = State::open(dir.path())?;
        state
            .db()
            .execute_batch("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
            .map_err(db_err("test"))?;
        drop(state);
        match State::open(dir.path()) {
            Err(Error::NewerState { found, supported }) => {
                assert_eq!((found, supported), (99, SCHEMA_VERSION));
            }
            other => panic!("expected NewerState, got {:?}", other.err()),
        }
        // Opening twice is idempotent: migrations run once.
        let d2 = tempfile::tempdir().map_err(|e| Error::Io(e.to_string()))?;
        drop(State::open(d2.path())?);
        let s = State::open(d2.path())?;
        s.create_run("r", "w", "{}", "{}")?;
        assert_eq!(s.runs()?.len(), 1);
        Ok(())
    }

    #[tokio::test]
    async fn a_version_1_database_gains_the_artifact_store_column() -> Result<(), Error> {
        let dir = tempfile::tempdir().map_err(|e| Error::Io(e.to_string()))?;
        // Build a version-1 database by hand: the runs, steps and cache tables as the first
        // migration made them (version 2 adds the artifact store, version 3 the cache's
        // metadata, version 4 the start times), one run in it.
        let sql = format!(
            "DROP TABLE runs; {}; DROP TABLE steps; {}; DROP TABLE cache; {};
             UPDATE meta SET value = '1' WHERE key = 'schema_version';
             INSERT INTO runs (id, workflow, spec, params, status, started_at)
             VALUES ('old', 'w', '{{}}', '{{}}', 'Failed', 0);",
            MIGRATIONS[0][0], MIGRATIONS[0][1], MIGRATIONS[0][3]
        );
        State::open(dir.path())?
            .db()
            .execute_batch(&sql)
            .map_err(db_err("test"))?;
        let state = State::open(dir.path())?;
        let old = state.run("old")?.ok_or(Error::Internal("no run".into()))?;
        assert_eq!(old.artifact_store, None);
        state.create_run("new", "w", "{}", "{}")?;
        let loc = crate::artifacts::Location::parse("s3://bucket-x/p")?;
        state.set_run_store("new", &loc)?;
        let new = state.run("new")?.ok_or(Error::Internal("no run".into()))?;
        assert_eq!(new.artifact_store.as_deref(), Some("s3://bucket-x/p"));
        Ok(())
    }

    fn attempt_row(n: u32) -> AttemptRecord {
        AttemptRecord {
            attempt: n,
            status: StepStatus::Succeeded,
            exit_code: Some(0),
            started_at: now(),
            peak_rss_kb: Some(1),
            cpu_seconds: Some(0.0),
            log_dir: format!("/d/a.{n}"),
            message: None,
        }
    }

    #[tokio::test]
    async fn a_step_end_writes_attempt_row_and_cache_together_or_not_at_all() -> Result<(), Error> {
        let dir = tempfile::tempdir().map_err(|e| Error::Io(e.to_string()))?;
        let state = State::open(dir.path())?;
        state.create_run("r", "w", "{}", "{}")?;
        assert_eq!(state.step_started("r", "a", "a", None)?, (0, None));
        let mut out = StepOutputs::default();
        out.parameters.insert("p".into(), "v".into());
        let fin = Finished {
            attempts: 1,
            cache_key: Some("k".into()),
            outputs: Some(out.clone()),
            ..Finished::default()
        };
        let meta = PutMeta {
            step: "a".into(),
            recompute_secs: 1.5,
            consumers: 3,
        };
        let end = StepEnd {
            run_id: "r",
            node: "a",
            step: "a",
            status: StepStatus::Succeeded,
            fin: &fin,
        };
        let put = CachePut {
            key: "k",
            outputs: &out,
            meta: &meta,
        };
        state.step_ended(&end, &attempt_row(1), Some(put))?;
        let steps = state.steps("r")?;
        assert_eq!(steps[0].status, "Succeeded");
        assert_eq!(state.kept_steps("r")?["a"].1, out);
        assert_eq!(state.cache_get("k", None)?, Some(out.clone()));
        let entries = state.cache_entries()?;
        assert_eq!((entries[0].consumers, entries[0].recompute_secs), (3, 1.5));
        // The next start of the node numbers on from the recorded attempt, and reads the entry
        // its key names (an unknown key: none).
        assert_eq!(
            state.step_started("r", "a", "a", Some(("k", None)))?,
            (1, Some(out.clone()))
        );
        assert_eq!(
            state.step_started("r", "a", "a", Some(("nope", None)))?,
            (1, None)
        );
        let too_old = Some(("k", Some(Duration::from_secs(0))));
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(state.step_started("r", "a", "a", too_old)?, (1, None));

        // A failing statement in the batch (no cache table) leaves nothing of the step's end,
        // and the connection is usable afterwards (no transaction left open).
        state
            .db()
            .execute_batch("DROP TABLE cache")
            .map_err(db_err("test"))?;
        let put = CachePut {
            key: "k2",
            outputs: &out,
            meta: &meta,
        };
        assert!(state.step_ended(&end, &attempt_row(2), Some(put)).is_err());
        assert_eq!(state.last_attempt("r", "a")?, 1);
        assert_eq!(state.steps("r")?[0].status, "Running");
        state.step_ended(&end, &attempt_row(2), None)?;
        drop(state);
        let state = State::open(dir.path())?;
        assert_eq!(state.last_attempt("r", "a")?, 2);
        assert_eq!(state.steps("r")?[0].status, "Succeeded");
        Ok(())
    }
}
