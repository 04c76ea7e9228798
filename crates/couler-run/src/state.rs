//! The state store: one embedded SQLite database (`state.db`, WAL) under the state directory.
//!
//! It records runs, the steps of each run (one row per step, or per map instance), every
//! attempt, and the memoization cache. Writes are single statements or short transactions, so
//! a `kill -9` of the executor at any moment leaves a consistent database: a step is `Succeeded`
//! only once its outputs (and the digests of its artifacts, already in the artifact store) are
//! committed in the same row. A step that ran costs two commits: its start (which also reads
//! the last attempt number) and its end (last attempt, step row and cache entry in one
//! transaction, sent as one batch); see docs/performance.md.
//!
//! The schema is versioned in `meta.schema_version` and migrated forward in order on open; a
//! database from a newer Couler is refused rather than written to.

use crate::Error;
use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The schema version this Couler writes; migrations below bring older databases up to it.
pub const SCHEMA_VERSION: i64 = 3;

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
];

/// The status of a step (or map instance).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum StepStatus {
    Pending,
    Running,
    Succeeded,
    Failed,
    Error,
    Skipped,
    /// Outputs restored from the memoization cache; nothing ran.
    Cached,
    /// Not run because a step it needs failed, or the run was stopped.
    Omitted,
}

impl StepStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            StepStatus::Pending => "Pending",
            StepStatus::Running => "Running",
            StepStatus::Succeeded => "Succeeded",
            StepStatus::Failed => "Failed",
            StepStatus::Error => "Error",
            StepStatus::Skipped => "Skipped",
            StepStatus::Cached => "Cached",
            StepStatus::Omitted => "Omitted",
        }
    }
    pub fn parse(s: &str) -> Option<StepStatus> {
        Some(match s {
            "Pending" => StepStatus::Pending,
            "Running" => StepStatus::Running,
            "Succeeded" => StepStatus::Succeeded,
            "Failed" => StepStatus::Failed,
            "Error" => StepStatus::Error,
            "Skipped" => StepStatus::Skipped,
            "Cached" => StepStatus::Cached,
            "Omitted" => StepStatus::Omitted,
            _ => return None,
        })
    }
    /// Finished and counts as done: what `resume` keeps.
    pub fn is_kept(self) -> bool {
        matches!(
            self,
            StepStatus::Succeeded | StepStatus::Skipped | StepStatus::Cached
        )
    }
    pub fn is_failure(self) -> bool {
        matches!(self, StepStatus::Failed | StepStatus::Error)
    }
}

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

/// What a finished step produced, as stored (and as restored by the cache and `resume`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StepOutputs {
    pub parameters: BTreeMap<String, String>,
    pub result: Option<String>,
    pub exit_code: Option<i32>,
    pub artifacts: BTreeMap<String, crate::artifacts::ArtifactRef>,
    /// Runs of a `repeat` step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iterations: Option<u32>,
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
    pub outputs: Option<serde_json::Value>,
    pub log_dir: Option<String>,
    pub message: Option<String>,
}

/// One row of `runs`.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunRecord {
    pub id: String,
    pub workflow: String,
    pub status: String,
    pub pid: Option<i64>,
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

/// Seconds since the Unix epoch.
pub fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs_f64()
}

fn db_err(what: &str) -> impl Fn(sqlx::Error) -> Error + '_ {
    move |e| Error::State(format!("{what}: {e}"))
}

/// The state database of one state directory.
#[derive(Clone)]
pub struct State {
    pool: SqlitePool,
    /// The memoization cache's size budget, enforced on every put (`--cache-size`).
    cache_budget: Option<crate::cache_budget::CacheBudget>,
}

impl State {
    /// Opens (creating if needed) `dir/state.db` and migrates it to [`SCHEMA_VERSION`].
    pub async fn open(dir: &Path) -> Result<State, Error> {
        let path = dir.join("state.db");
        let opts = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // With WAL, NORMAL never corrupts the database on a process crash; only a power loss
            // can drop the last commits, which `resume` then redoes.
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10));
        // One connection: the executor is the only writer and SQLite serialises writes anyway;
        // one connection keeps every write in program order.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            // An embedded file needs no liveness ping before each use (one round trip each).
            .test_before_acquire(false)
            .connect_with(opts)
            .await
            .map_err(|e| Error::State(format!("cannot open {}: {e}", path.display())))?;
        let state = State {
            pool,
            cache_budget: None,
        };
        state.migrate().await?;
        Ok(state)
    }

    /// This state with the cache kept under `budget` from now on (`None`: unbounded).
    pub fn with_cache_budget(mut self, budget: Option<crate::cache_budget::CacheBudget>) -> State {
        self.cache_budget = budget;
        self
    }

    async fn migrate(&self) -> Result<(), Error> {
        sqlx::query("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            .execute(&self.pool)
            .await
            .map_err(db_err("cannot create meta table"))?;
        let row = sqlx::query("SELECT value FROM meta WHERE key = 'schema_version'")
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err("cannot read schema version"))?;
        let version: i64 = match row {
            Some(r) => {
                let v: String = r.try_get("value").map_err(db_err("bad schema version"))?;
                v.parse().map_err(|_| {
                    Error::State(format!("the state database has a bad schema version `{v}`"))
                })?
            }
            None => 0,
        };
        if version > SCHEMA_VERSION {
            return Err(Error::NewerState {
                found: version,
                supported: SCHEMA_VERSION,
            });
        }
        for (i, steps) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let mut tx = self.pool.begin().await.map_err(db_err("migration"))?;
            for sql in steps.iter() {
                sqlx::query(*sql)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err("migration"))?;
            }
            sqlx::query(
                "INSERT INTO meta (key, value) VALUES ('schema_version', ?)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            )
            .bind((i as i64 + 1).to_string())
            .execute(&mut *tx)
            .await
            .map_err(db_err("migration"))?;
            tx.commit().await.map_err(db_err("migration"))?;
        }
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    pub async fn create_run(
        &self,
        id: &str,
        workflow: &str,
        spec: &str,
        params: &str,
    ) -> Result<(), Error> {
        sqlx::query(
            "INSERT INTO runs (id, workflow, spec, params, status, pid, started_at)
             VALUES (?, ?, ?, ?, 'Running', ?, ?)",
        )
        .bind(id)
        .bind(workflow)
        .bind(spec)
        .bind(params)
        .bind(i64::from(std::process::id()))
        .bind(now())
        .execute(&self.pool)
        .await
        .map_err(db_err("cannot record the run"))?;
        Ok(())
    }

    /// Marks a run Running again under this process (for `resume`).
    pub async fn reopen_run(&self, id: &str) -> Result<(), Error> {
        sqlx::query(
            "UPDATE runs SET status = 'Running', pid = ?, finished_at = NULL, message = NULL WHERE id = ?",
        )
        .bind(i64::from(std::process::id()))
        .bind(id)
        .execute(&self.pool)
        .await
        .map_err(db_err("cannot reopen the run"))?;
        Ok(())
    }

    /// Records where a run keeps its artifacts, so `resume` uses the same store.
    pub async fn set_run_store(
        &self,
        id: &str,
        location: &crate::artifacts::Location,
    ) -> Result<(), Error> {
        let text = serde_json::to_string(location)
            .map_err(|e| Error::State(format!("cannot encode the artifact store: {e}")))?;
        sqlx::query("UPDATE runs SET artifact_store = ? WHERE id = ?")
            .bind(text)
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(db_err("cannot record the run's artifact store"))?;
        Ok(())
    }

    pub async fn finish_run(
        &self,
        id: &str,
        status: RunStatus,
        message: Option<&str>,
    ) -> Result<(), Error> {
        sqlx::query("UPDATE runs SET status = ?, finished_at = ?, message = ? WHERE id = ?")
            .bind(status.as_str())
            .bind(now())
            .bind(message)
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(db_err("cannot record the run's end"))?;
        Ok(())
    }

    pub async fn runs(&self) -> Result<Vec<RunRecord>, Error> {
        let rows = sqlx::query(
            "SELECT id, workflow, status, pid, started_at, finished_at, message, spec, params,
                artifact_store
             FROM runs ORDER BY started_at",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db_err("cannot list runs"))?;
        rows.iter().map(run_from_row).collect()
    }

    pub async fn run(&self, id: &str) -> Result<Option<RunRecord>, Error> {
        let row = sqlx::query(
            "SELECT id, workflow, status, pid, started_at, finished_at, message, spec, params,
                artifact_store
             FROM runs WHERE id = ?",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err("cannot read the run"))?;
        row.as_ref().map(run_from_row).transpose()
    }

    /// Records that a step (or instance) started; its earlier row, if any, is replaced (its
    /// log directory comes with its first process, [`State::step_spawned`]). Returns the
    /// highest attempt number recorded for the node (0 if none), so `resume` numbers on, and,
    /// when `cache` gives a key (and the entries' maximum age), the outputs cached under it.
    /// One statement, one commit, one round trip to SQLite's thread: this is on every step's
    /// critical path. A hit is not counted until the caller uses it ([`State::cache_hit`]).
    pub async fn step_started(
        &self,
        run_id: &str,
        node: &str,
        step: &str,
        cache: Option<(&str, Option<Duration>)>,
    ) -> Result<(u32, Option<StepOutputs>), Error> {
        let row = sqlx::query(
            "INSERT INTO steps (run_id, node, step, status, started_at)
             VALUES (?1, ?2, ?3, 'Running', ?4)
             ON CONFLICT(run_id, node) DO UPDATE SET status = 'Running',
                started_at = excluded.started_at, finished_at = NULL, log_dir = NULL,
                message = NULL, outputs = NULL, exit_code = NULL, pgid = NULL
             RETURNING (SELECT COALESCE(MAX(attempt), 0) FROM attempts
                        WHERE run_id = ?1 AND node = ?2) AS n,
                (SELECT outputs FROM cache WHERE key = ?5) AS cached,
                (SELECT created_at FROM cache WHERE key = ?5) AS cached_at",
        )
        .bind(run_id)
        .bind(node)
        .bind(step)
        .bind(now())
        .bind(cache.map(|(key, _)| key))
        .fetch_one(&self.pool)
        .await
        .map_err(db_err("cannot record a step start"))?;
        let n: i64 = row.try_get("n").map_err(db_err("cannot read attempts"))?;
        let hit = match cache {
            Some((_, max_age)) => usable_entry(&row, "cached", "cached_at", max_age)?,
            None => None,
        };
        Ok((u32::try_from(n).unwrap_or(0), hit))
    }

    /// Records the process group and the directory of a step's running attempt (so `resume`
    /// can stop what a dead executor left, and `couler logs --follow` finds a retry's logs).
    pub async fn step_spawned(
        &self,
        run_id: &str,
        node: &str,
        pgid: i32,
        log_dir: &str,
    ) -> Result<(), Error> {
        sqlx::query("UPDATE steps SET pgid = ?, log_dir = ? WHERE run_id = ? AND node = ?")
            .bind(i64::from(pgid))
            .bind(log_dir)
            .bind(run_id)
            .bind(node)
            .execute(&self.pool)
            .await
            .map_err(db_err("cannot record a step's process group"))?;
        Ok(())
    }

    /// Nodes and process groups of steps still marked Running (left by an executor that died).
    pub async fn running_pgids(&self, run_id: &str) -> Result<Vec<(String, i32)>, Error> {
        let rows = sqlx::query(
            "SELECT node, pgid FROM steps WHERE run_id = ? AND status = 'Running' AND pgid IS NOT NULL",
        )
        .bind(run_id)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err("cannot read steps"))?;
        let mut out = Vec::new();
        for r in rows {
            let node: String = r.try_get("node").map_err(db_err("cannot read steps"))?;
            let g: i64 = r.try_get("pgid").map_err(db_err("cannot read steps"))?;
            out.extend(i32::try_from(g).ok().map(|g| (node, g)));
        }
        Ok(out)
    }

    /// Records a finished step (or instance) with everything it produced, in one statement.
    pub async fn step_finished(
        &self,
        run_id: &str,
        node: &str,
        step: &str,
        status: StepStatus,
        fin: &Finished,
    ) -> Result<(), Error> {
        bind_step_finished(
            sqlx::query(STEP_FINISHED_SQL),
            run_id,
            node,
            step,
            status,
            fin,
        )?
        .execute(&self.pool)
        .await
        .map_err(db_err("cannot record a step's end"))?;
        Ok(())
    }

    /// Records the end of a step that ran: its last attempt, its row (status, outputs), and its
    /// cache entry, in one transaction (one commit), so a `kill -9` leaves all or none of them.
    /// The cache budget is enforced after the commit.
    pub async fn step_ended(
        &self,
        end: &StepEnd<'_>,
        attempt: &AttemptRecord,
        cache: Option<CachePut<'_>>,
    ) -> Result<(), Error> {
        // One round trip to SQLite's thread: BEGIN, the statements, COMMIT in one batch (the
        // unnamed `?` of each statement take the arguments in order).
        let mut sql = format!("BEGIN; {ATTEMPT_SQL}; {STEP_FINISHED_SQL};");
        if cache.is_some() {
            sql.push_str(CACHE_PUT_SQL);
            sql.push(';');
        }
        sql.push_str(" COMMIT;");
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        q = bind_attempt(q, end.run_id, end.node, attempt);
        q = bind_step_finished(q, end.run_id, end.node, end.step, end.status, end.fin)?;
        if let Some(c) = &cache {
            q = bind_cache_put(q, c.key, c.outputs, end.run_id, end.node, c.meta)?;
        }
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(db_err("cannot record a step's end"))?;
        if let Err(e) = q.execute(&mut *conn).await {
            // A statement failed inside the batch: end its transaction, writing nothing.
            let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
            return Err(Error::State(format!("cannot record a step's end: {e}")));
        }
        drop(conn);
        if cache.is_some()
            && let Some(budget) = &self.cache_budget
        {
            crate::cache_budget::enforce(self, budget, Some(end.run_id)).await?;
        }
        Ok(())
    }

    /// Records one attempt that is not a step's last (a retry follows, or a `repeat` loop goes
    /// on); the last one goes with the step's end in [`State::step_ended`].
    pub async fn attempt_ended(
        &self,
        run_id: &str,
        node: &str,
        attempt: &AttemptRecord,
    ) -> Result<(), Error> {
        bind_attempt(sqlx::query(ATTEMPT_SQL), run_id, node, attempt)
            .execute(&self.pool)
            .await
            .map_err(db_err("cannot record an attempt"))?;
        Ok(())
    }

    /// Records one attempt (its row is replaced if it exists).
    #[allow(clippy::too_many_arguments)]
    pub async fn record_attempt(
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
        self.attempt_ended(run_id, node, &rec).await
    }

    /// The highest attempt number recorded for a node (0 if none), so `resume` numbers on.
    pub async fn last_attempt(&self, run_id: &str, node: &str) -> Result<u32, Error> {
        let row = sqlx::query(
            "SELECT COALESCE(MAX(attempt), 0) AS n FROM attempts WHERE run_id = ? AND node = ?",
        )
        .bind(run_id)
        .bind(node)
        .fetch_one(&self.pool)
        .await
        .map_err(db_err("cannot read attempts"))?;
        let n: i64 = row.try_get("n").map_err(db_err("cannot read attempts"))?;
        Ok(u32::try_from(n).unwrap_or(0))
    }

    pub async fn steps(&self, run_id: &str) -> Result<Vec<StepRecord>, Error> {
        let rows = sqlx::query(
            "SELECT node, step, status, attempts, exit_code, started_at, finished_at, peak_rss_kb,
                cpu_seconds, cache_key, outputs, log_dir, message
             FROM steps WHERE run_id = ? ORDER BY COALESCE(started_at, finished_at), node",
        )
        .bind(run_id)
        .fetch_all(&self.pool)
        .await
        .map_err(db_err("cannot read steps"))?;
        rows.iter().map(step_from_row).collect()
    }

    /// Kept (Succeeded, Skipped, Cached) steps of a run with their outputs, for `resume`.
    pub async fn kept_steps(
        &self,
        run_id: &str,
    ) -> Result<BTreeMap<String, (StepStatus, StepOutputs)>, Error> {
        let mut out = BTreeMap::new();
        for rec in self.steps(run_id).await? {
            let Some(status) = StepStatus::parse(&rec.status) else {
                continue;
            };
            if !status.is_kept() {
                continue;
            }
            let outputs = match rec.outputs {
                Some(v) => serde_json::from_value(v).unwrap_or_default(),
                None => StepOutputs::default(),
            };
            out.insert(rec.node, (status, outputs));
        }
        Ok(out)
    }

    /// The outputs cached under `key` if the entry is younger than `max_age`, its hit counted.
    pub async fn cache_get(
        &self,
        key: &str,
        max_age: Option<Duration>,
    ) -> Result<Option<StepOutputs>, Error> {
        let row = sqlx::query("SELECT outputs, created_at FROM cache WHERE key = ?")
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err("cannot read the cache"))?;
        let hit = match &row {
            Some(row) => usable_entry(row, "outputs", "created_at", max_age)?,
            None => None,
        };
        if hit.is_some() {
            self.cache_hit(key).await?;
        }
        Ok(hit)
    }

    /// Counts a use of the entry under `key`: the budget's policies rank by use.
    pub async fn cache_hit(&self, key: &str) -> Result<(), Error> {
        sqlx::query("UPDATE cache SET hits = hits + 1, last_used = ? WHERE key = ?")
            .bind(now())
            .bind(key)
            .execute(&self.pool)
            .await
            .map_err(db_err("cannot record a cache hit"))?;
        Ok(())
    }

    /// Records a step's outputs under `key`, then evicts down to the budget if one is set.
    pub async fn cache_put(
        &self,
        key: &str,
        outputs: &StepOutputs,
        run_id: &str,
        node: &str,
        meta: &crate::cache_budget::PutMeta,
    ) -> Result<(), Error> {
        bind_cache_put(sqlx::query(CACHE_PUT_SQL), key, outputs, run_id, node, meta)?
            .execute(&self.pool)
            .await
            .map_err(db_err("cannot write the cache"))?;
        if let Some(budget) = &self.cache_budget {
            crate::cache_budget::enforce(self, budget, Some(run_id)).await?;
        }
        Ok(())
    }

    /// Every cache entry with its metadata, oldest first (`pinned` unset).
    pub async fn cache_entries(&self) -> Result<Vec<crate::cache_budget::CacheEntry>, Error> {
        let rows = sqlx::query(
            "SELECT key, outputs, run_id, node, created_at, step, bytes, recompute_secs, hits,
                COALESCE(last_used, created_at) AS last_used, consumers
             FROM cache ORDER BY created_at, key",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db_err("cannot read the cache"))?;
        let e = db_err("cannot read a cache entry");
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let text: String = r.try_get("outputs").map_err(&e)?;
            let outputs: StepOutputs = serde_json::from_str(&text).unwrap_or_default();
            let bytes: i64 = r.try_get("bytes").map_err(&e)?;
            let hits: i64 = r.try_get("hits").map_err(&e)?;
            let consumers: i64 = r.try_get("consumers").map_err(&e)?;
            out.push(crate::cache_budget::CacheEntry {
                key: r.try_get("key").map_err(&e)?,
                step: r.try_get("step").map_err(&e)?,
                node: r.try_get("node").map_err(&e)?,
                run_id: r.try_get("run_id").map_err(&e)?,
                bytes: u64::try_from(bytes).unwrap_or(0),
                recompute_secs: r.try_get("recompute_secs").map_err(&e)?,
                hits: u64::try_from(hits).unwrap_or(0),
                last_used: r.try_get("last_used").map_err(&e)?,
                created_at: r.try_get("created_at").map_err(&e)?,
                consumers: u32::try_from(consumers).unwrap_or(0),
                artifacts: outputs.artifacts.into_values().collect(),
                pinned: false,
            });
        }
        Ok(out)
    }

    /// The cache's bytes: the sum of its entries' (a cheap check before ranking).
    pub async fn cache_bytes(&self) -> Result<u64, Error> {
        let row = sqlx::query("SELECT COALESCE(SUM(bytes), 0) AS n FROM cache")
            .fetch_one(&self.pool)
            .await
            .map_err(db_err("cannot read the cache"))?;
        let n: i64 = row.try_get("n").map_err(db_err("cannot read the cache"))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Deletes one cache entry (its blobs stay until a garbage collection).
    pub async fn cache_delete(&self, key: &str) -> Result<(), Error> {
        sqlx::query("DELETE FROM cache WHERE key = ?")
            .bind(key)
            .execute(&self.pool)
            .await
            .map_err(db_err("cannot delete a cache entry"))?;
        Ok(())
    }

    /// The artifacts recorded by kept steps of every run that did not succeed (a run `resume`
    /// may still continue), with the run's id.
    pub async fn resumable_artifacts(
        &self,
    ) -> Result<Vec<(String, crate::artifacts::ArtifactRef)>, Error> {
        let rows = sqlx::query(
            "SELECT s.run_id, s.status, s.outputs FROM steps s JOIN runs r ON r.id = s.run_id
             WHERE r.status != 'Succeeded' AND s.outputs IS NOT NULL",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db_err("cannot read steps"))?;
        let e = db_err("cannot read a step");
        let mut out = Vec::new();
        for r in &rows {
            let status: String = r.try_get("status").map_err(&e)?;
            if !StepStatus::parse(&status).is_some_and(StepStatus::is_kept) {
                continue;
            }
            let run: String = r.try_get("run_id").map_err(&e)?;
            let text: String = r.try_get("outputs").map_err(&e)?;
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
    pub meta: &'a crate::cache_budget::PutMeta,
}

/// A statement being built, its arguments bound in order.
type Q<'q> = sqlx::query::Query<'q, sqlx::Sqlite, sqlx::sqlite::SqliteArguments>;

const ATTEMPT_SQL: &str = "INSERT OR REPLACE INTO attempts (run_id, node, attempt, status,
    exit_code, started_at, finished_at, peak_rss_kb, cpu_seconds, log_dir, message)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

fn bind_attempt<'q>(q: Q<'q>, run_id: &str, node: &str, a: &AttemptRecord) -> Q<'q> {
    q.bind(run_id.to_string())
        .bind(node.to_string())
        .bind(i64::from(a.attempt))
        .bind(a.status.as_str())
        .bind(a.exit_code.map(i64::from))
        .bind(a.started_at)
        .bind(now())
        .bind(a.peak_rss_kb)
        .bind(a.cpu_seconds)
        .bind(a.log_dir.clone())
        .bind(a.message.clone())
}

/// The outputs a cache entry read into `row` (columns `outputs` and `created_at`, NULL when
/// there is none) holds, if it is younger than `max_age`; an entry that no longer parses is a
/// miss (it is overwritten when the step ends).
fn usable_entry(
    row: &sqlx::sqlite::SqliteRow,
    outputs: &str,
    created_at: &str,
    max_age: Option<Duration>,
) -> Result<Option<StepOutputs>, Error> {
    let text: Option<String> = row.try_get(outputs).map_err(db_err("cache"))?;
    let created: Option<f64> = row.try_get(created_at).map_err(db_err("cache"))?;
    let (Some(text), Some(created)) = (text, created) else {
        return Ok(None);
    };
    if max_age.is_some_and(|age| now() - created > age.as_secs_f64()) {
        return Ok(None);
    }
    Ok(serde_json::from_str(&text).ok())
}

const STEP_FINISHED_SQL: &str = "INSERT INTO steps (run_id, node, step, status, attempts,
    exit_code, started_at, finished_at, peak_rss_kb, cpu_seconds, cache_key, outputs, log_dir,
    message)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT(run_id, node) DO UPDATE SET status = excluded.status,
        attempts = excluded.attempts, exit_code = excluded.exit_code,
        started_at = COALESCE(steps.started_at, excluded.started_at),
        finished_at = excluded.finished_at, peak_rss_kb = excluded.peak_rss_kb,
        cpu_seconds = excluded.cpu_seconds, cache_key = excluded.cache_key,
        outputs = excluded.outputs, log_dir = COALESCE(excluded.log_dir, steps.log_dir),
        message = excluded.message, pgid = NULL";

fn bind_step_finished<'q>(
    q: Q<'q>,
    run_id: &str,
    node: &str,
    step: &str,
    status: StepStatus,
    fin: &Finished,
) -> Result<Q<'q>, Error> {
    let outputs = match &fin.outputs {
        Some(o) => Some(
            serde_json::to_string(o)
                .map_err(|e| Error::State(format!("cannot encode outputs: {e}")))?,
        ),
        None => None,
    };
    Ok(q.bind(run_id.to_string())
        .bind(node.to_string())
        .bind(step.to_string())
        .bind(status.as_str())
        .bind(i64::from(fin.attempts))
        .bind(fin.exit_code.map(i64::from))
        .bind(fin.started_at)
        .bind(now())
        .bind(fin.peak_rss_kb)
        .bind(fin.cpu_seconds)
        .bind(fin.cache_key.clone())
        .bind(outputs)
        .bind(fin.log_dir.clone())
        .bind(fin.message.clone()))
}

const CACHE_PUT_SQL: &str = "INSERT OR REPLACE INTO cache (key, outputs, run_id, node,
    created_at, step, bytes, recompute_secs, hits, last_used, consumers)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)";

fn bind_cache_put<'q>(
    q: Q<'q>,
    key: &str,
    outputs: &StepOutputs,
    run_id: &str,
    node: &str,
    meta: &crate::cache_budget::PutMeta,
) -> Result<Q<'q>, Error> {
    let text = serde_json::to_string(outputs)
        .map_err(|e| Error::State(format!("cannot encode outputs: {e}")))?;
    let bytes: u64 = outputs.artifacts.values().map(|a| a.size).sum();
    let t = now();
    Ok(q.bind(key.to_string())
        .bind(text)
        .bind(run_id.to_string())
        .bind(node.to_string())
        .bind(t)
        .bind(meta.step.clone())
        .bind(i64::try_from(bytes).unwrap_or(i64::MAX))
        .bind(meta.recompute_secs)
        .bind(t)
        .bind(i64::from(meta.consumers)))
}

fn run_from_row(r: &sqlx::sqlite::SqliteRow) -> Result<RunRecord, Error> {
    let e = db_err("cannot read a run");
    let store: Option<String> = r.try_get("artifact_store").map_err(&e)?;
    Ok(RunRecord {
        id: r.try_get("id").map_err(&e)?,
        workflow: r.try_get("workflow").map_err(&e)?,
        status: r.try_get("status").map_err(&e)?,
        pid: r.try_get("pid").map_err(&e)?,
        started_at: r.try_get("started_at").map_err(&e)?,
        finished_at: r.try_get("finished_at").map_err(&e)?,
        message: r.try_get("message").map_err(&e)?,
        spec: r.try_get("spec").map_err(&e)?,
        params: r.try_get("params").map_err(&e)?,
        artifact_store: store
            .as_deref()
            .and_then(|t| serde_json::from_str::<crate::artifacts::Location>(t).ok())
            .map(|l| l.to_string()),
        artifact_store_json: store,
    })
}

fn step_from_row(r: &sqlx::sqlite::SqliteRow) -> Result<StepRecord, Error> {
    let e = db_err("cannot read a step");
    let outputs: Option<String> = r.try_get("outputs").map_err(&e)?;
    Ok(StepRecord {
        node: r.try_get("node").map_err(&e)?,
        step: r.try_get("step").map_err(&e)?,
        status: r.try_get("status").map_err(&e)?,
        attempts: r.try_get("attempts").map_err(&e)?,
        exit_code: r.try_get("exit_code").map_err(&e)?,
        started_at: r.try_get("started_at").map_err(&e)?,
        finished_at: r.try_get("finished_at").map_err(&e)?,
        peak_rss_kb: r.try_get("peak_rss_kb").map_err(&e)?,
        cpu_seconds: r.try_get("cpu_seconds").map_err(&e)?,
        cache_key: r.try_get("cache_key").map_err(&e)?,
        outputs: outputs.and_then(|t| serde_json::from_str(&t).ok()),
        log_dir: r.try_get("log_dir").map_err(&e)?,
        message: r.try_get("message").map_err(&e)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_state_dir_from_a_newer_couler_is_refused_untouched() -> Result<(), Error> {
        let dir = tempfile::tempdir().map_err(|e| Error::Io(e.to_string()))?;
        let state = State::open(dir.path()).await?;
        sqlx::query("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
            .execute(&state.pool)
            .await
            .map_err(db_err("test"))?;
        state.close().await;
        match State::open(dir.path()).await {
            Err(Error::NewerState { found, supported }) => {
                assert_eq!((found, supported), (99, SCHEMA_VERSION));
            }
            other => panic!("expected NewerState, got {:?}", other.err()),
        }
        // Opening twice is idempotent: migrations run once.
        let d2 = tempfile::tempdir().map_err(|e| Error::Io(e.to_string()))?;
        State::open(d2.path()).await?.close().await;
        let s = State::open(d2.path()).await?;
        s.create_run("r", "w", "{}", "{}").await?;
        assert_eq!(s.runs().await?.len(), 1);
        Ok(())
    }

    #[tokio::test]
    async fn a_version_1_database_gains_the_artifact_store_column() -> Result<(), Error> {
        let dir = tempfile::tempdir().map_err(|e| Error::Io(e.to_string()))?;
        // Build a version-1 database by hand: the first migration only.
        {
            let state = State::open(dir.path()).await?;
            sqlx::query("DROP TABLE runs")
                .execute(&state.pool)
                .await
                .map_err(db_err("test"))?;
            sqlx::query(MIGRATIONS[0][0])
                .execute(&state.pool)
                .await
                .map_err(db_err("test"))?;
            // The cache table as version 1 had it (version 3 adds its metadata).
            sqlx::query("DROP TABLE cache")
                .execute(&state.pool)
                .await
                .map_err(db_err("test"))?;
            sqlx::query(MIGRATIONS[0][3])
                .execute(&state.pool)
                .await
                .map_err(db_err("test"))?;
            sqlx::query("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
                .execute(&state.pool)
                .await
                .map_err(db_err("test"))?;
            sqlx::query(
                "INSERT INTO runs (id, workflow, spec, params, status, started_at)
                 VALUES ('old', 'w', '{}', '{}', 'Failed', 0)",
            )
            .execute(&state.pool)
            .await
            .map_err(db_err("test"))?;
            state.close().await;
        }
        let state = State::open(dir.path()).await?;
        let old = state
            .run("old")
            .await?
            .ok_or(Error::Internal("no run".into()))?;
        assert_eq!(old.artifact_store, None);
        state.create_run("new", "w", "{}", "{}").await?;
        let loc = crate::artifacts::Location::parse("s3://bucket-x/p")?;
        state.set_run_store("new", &loc).await?;
        let new = state
            .run("new")
            .await?
            .ok_or(Error::Internal("no run".into()))?;
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
        let state = State::open(dir.path()).await?;
        state.create_run("r", "w", "{}", "{}").await?;
        assert_eq!(state.step_started("r", "a", "a", None).await?, (0, None));
        let mut out = StepOutputs::default();
        out.parameters.insert("p".into(), "v".into());
        let fin = Finished {
            attempts: 1,
            cache_key: Some("k".into()),
            outputs: Some(out.clone()),
            ..Finished::default()
        };
        let meta = crate::cache_budget::PutMeta {
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
        state.step_ended(&end, &attempt_row(1), Some(put)).await?;
        let steps = state.steps("r").await?;
        assert_eq!(steps[0].status, "Succeeded");
        assert_eq!(state.kept_steps("r").await?["a"].1, out);
        assert_eq!(state.cache_get("k", None).await?, Some(out.clone()));
        let entries = state.cache_entries().await?;
        assert_eq!((entries[0].consumers, entries[0].recompute_secs), (3, 1.5));
        // The next start of the node numbers on from the recorded attempt, and reads the entry
        // its key names (an unknown key: none).
        assert_eq!(
            state.step_started("r", "a", "a", Some(("k", None))).await?,
            (1, Some(out.clone()))
        );
        assert_eq!(
            state
                .step_started("r", "a", "a", Some(("nope", None)))
                .await?,
            (1, None)
        );
        let too_old = Some(("k", Some(Duration::from_secs(0))));
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(state.step_started("r", "a", "a", too_old).await?, (1, None));

        // A failing statement in the batch (no cache table) leaves nothing of the step's end,
        // and the connection is usable afterwards (no transaction left open).
        sqlx::query("DROP TABLE cache")
            .execute(&state.pool)
            .await
            .map_err(db_err("test"))?;
        let put = CachePut {
            key: "k2",
            outputs: &out,
            meta: &meta,
        };
        assert!(
            state
                .step_ended(&end, &attempt_row(2), Some(put))
                .await
                .is_err()
        );
        assert_eq!(state.last_attempt("r", "a").await?, 1);
        assert_eq!(state.steps("r").await?[0].status, "Running");
        state.step_ended(&end, &attempt_row(2), None).await?;
        state.close().await;
        let state = State::open(dir.path()).await?;
        assert_eq!(state.last_attempt("r", "a").await?, 2);
        assert_eq!(state.steps("r").await?[0].status, "Succeeded");
        Ok(())
    }
}
