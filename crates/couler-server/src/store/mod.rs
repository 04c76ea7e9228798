//! The server's metadata database, behind [`Store`]: what the server itself knows about a run
//! (who submitted it, where, its spec and parameters, its place in the queue, and a mirror of
//! its final status), users' tokens and role bindings, and the append-only audit log. Run and
//! step status while a run is under way are the runtime's (`couler_run::State`), never copied
//! here.
//!
//! Two implementations: SQLite ([`sqlite`], embedded, the default) and PostgreSQL
//! ([`postgres`], a database server of its own: on another machine, with its own backups). Methods are blocking and
//! safe to call on any thread, a tokio worker's included (each store says how). Migrations
//! are versioned in code, per implementation, and run when the store is opened.

pub mod postgres;
pub mod sqlite;

use crate::auth::Role;
use crate::queue::Resources;
use serde::Serialize;
use std::path::PathBuf;

/// Where a run stands in the server's own lifecycle.
pub const QUEUED: &str = "Queued";
/// Handed to the runtime, whose state says the rest.
pub const RUNNING: &str = "Running";
/// The runtime's final statuses, mirrored when a run ends (`Stopped` also for a run stopped
/// while queued).
pub const ENDED: [&str; 4] = ["Succeeded", "Failed", "Error", "Stopped"];
/// Every state a run row can have.
pub const STATES: [&str; 6] = [QUEUED, RUNNING, ENDED[0], ENDED[1], ENDED[2], ENDED[3]];

/// A store's failure, with the text to show.
#[derive(Debug)]
pub struct StoreError(pub String);

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// Refuses a database whose schema `version` is newer than the `known` migrations.
fn check_version(version: i64, known: usize) -> Result<()> {
    if version > known as i64 {
        return Err(StoreError(format!(
            "the server database was written by a newer Couler (schema version {version}; this Couler reads up to {known}); upgrade Couler"
        )));
    }
    Ok(())
}

/// A submission as accepted.
#[derive(Clone, Debug)]
pub struct NewRun {
    pub id: String,
    pub namespace: String,
    pub workflow: String,
    pub submitted_by: String,
    /// The validated spec, canonical JSON.
    pub spec: String,
    /// The parameters as given (`name`, `value` text), JSON.
    pub params: String,
    /// 0–9, higher first.
    pub priority: u32,
    /// What the run asks of a cluster (see `crate::pool::request_of`).
    pub request: Resources,
    /// Whose quota it counts against: the user, or `team:NAME`.
    pub account: String,
}

/// A run's row.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunRow {
    pub id: String,
    pub namespace: String,
    pub workflow: String,
    pub submitted_by: String,
    pub state: String,
    pub submitted_at: f64,
    pub message: Option<String>,
    #[serde(skip)]
    pub seq: i64,
    #[serde(skip)]
    pub spec: String,
    #[serde(skip)]
    pub params: String,
    pub priority: u32,
    /// The cluster it was admitted onto (kept after it ends).
    pub cluster: Option<String>,
    #[serde(skip)]
    pub request: Resources,
    #[serde(skip)]
    pub account: String,
    /// Queued to be resumed from failure (automatic retry, `POST …/resume`), not started anew.
    #[serde(skip)]
    pub resume: bool,
    /// Not to be admitted before this time (a retry's backoff), seconds since the epoch.
    #[serde(skip)]
    pub not_before: f64,
}

/// An automatic retry of a run, as recorded.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Retry {
    #[serde(skip)]
    pub run: String,
    /// 1 for the run's first retry.
    pub attempt: u32,
    /// Seconds since the Unix epoch.
    pub at: f64,
    /// The failed step whose failure matched.
    pub node: String,
    /// The `retry::PATTERNS` entry it matched.
    pub pattern: String,
    /// The backoff waited before resuming.
    pub delay_secs: f64,
}

/// A run row's columns, in [`RunRow`]'s order (the same names in every store).
const RUN_COLUMNS: &str = "seq, id, namespace, workflow, submitted_by, state, submitted_at, \
    message, spec, params, priority, cluster, request_cpu_milli, request_mem_mib, request_gpu, \
    COALESCE(account, submitted_by), resume, not_before";

/// Which runs to list: newest first, after `before` (a continue token's sequence number).
#[derive(Clone, Debug, Default)]
pub struct RunFilter {
    pub state: Option<String>,
    /// Only these namespaces; `None`: every one.
    pub namespaces: Option<Vec<String>>,
    pub before: Option<i64>,
    pub limit: usize,
    /// Only runs of this workflow.
    pub workflow: Option<String>,
    /// Only runs this user submitted.
    pub user: Option<String>,
    /// Only runs whose id, workflow or submitter holds this text, ASCII letters in either case.
    pub search: Option<String>,
}

/// One audit entry.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    #[serde(skip)]
    pub seq: i64,
    /// Seconds since the Unix epoch.
    pub at: f64,
    /// The authenticated user; `None` when the request carried no valid token.
    pub user: Option<String>,
    pub method: String,
    pub path: String,
    pub namespace: Option<String>,
    pub run: Option<String>,
    /// The HTTP status answered.
    pub status: u16,
    /// `ok`, or the error answered.
    pub outcome: String,
}

/// A user's role in a namespace (`*`: every namespace).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Binding {
    pub namespace: String,
    pub role: Role,
}

/// The metadata database.
pub trait Store: Send + Sync {
    /// Records an accepted submission as `Queued`, committed before this returns.
    fn submit(&self, run: &NewRun) -> Result<()>;
    fn run(&self, id: &str) -> Result<Option<RunRow>>;
    /// At most `filter.limit` runs, newest first.
    fn runs(&self, filter: &RunFilter) -> Result<Vec<RunRow>>;
    /// Every `Queued` run, oldest first (the admission loop's pending set).
    fn queued(&self) -> Result<Vec<RunRow>>;
    /// Run `id` from `Queued` to `Running` on `cluster`; false if it was no longer queued
    /// (stopped meanwhile).
    fn admit(&self, id: &str, cluster: &str) -> Result<bool>;
    /// Run `id` back to `Queued`, flagged to resume from failure, not admitted before
    /// `not_before`, if its state is one of `from`; returns whether it changed.
    fn requeue_for_resume(&self, id: &str, from: &[&str], not_before: f64) -> Result<bool>;
    /// Records an automatic retry.
    fn record_retry(&self, retry: &Retry) -> Result<()>;
    /// A run's retries, oldest first.
    fn retries(&self, run: &str) -> Result<Vec<Retry>>;
    /// Every `Running` run back to `Queued` (on start: no worker holds one any more).
    fn requeue_running(&self) -> Result<usize>;
    /// Sets a run's state (clearing its resume flag); with `only_from`, only when it is in that state (returns whether
    /// it changed).
    fn set_state(
        &self,
        id: &str,
        state: &str,
        message: Option<&str>,
        only_from: Option<&str>,
    ) -> Result<bool>;
    /// Forgets a run and its retries.
    fn delete(&self, id: &str) -> Result<bool>;
    /// How many runs are in each state (states with none omitted).
    fn count_by_state(&self) -> Result<Vec<(String, i64)>>;

    /// Records a token (by its hash) for `user` and binds `user` to `role` in `namespace`.
    fn add_token(&self, hash: &str, user: &str, binding: &Binding) -> Result<()>;
    /// The user a token hash belongs to, with every binding of that user.
    fn token_user(&self, hash: &str) -> Result<Option<(String, Vec<Binding>)>>;

    /// Appends an audit entry; entries are never changed or removed.
    fn audit(&self, entry: &AuditEntry) -> Result<()>;
    /// At most `limit` entries, newest first, in `namespaces` (`None`: all), before `before`.
    fn audit_log(
        &self,
        namespaces: Option<&[String]>,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<AuditEntry>>;
}

/// `--db`: where the metadata database is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DbUrl {
    Sqlite(PathBuf),
    /// A libpq URL, as given.
    Postgres(String),
}

impl DbUrl {
    /// `sqlite:PATH` or `postgres://…` (`postgresql://…`); anything else is refused with
    /// what is accepted.
    pub fn parse(text: &str) -> std::result::Result<DbUrl, String> {
        if let Some(path) = text.strip_prefix("sqlite:") {
            let path = path.strip_prefix("//").unwrap_or(path);
            if path.is_empty() {
                return Err(format!("--db `{text}`: give a file, as sqlite:PATH"));
            }
            return Ok(DbUrl::Sqlite(PathBuf::from(path)));
        }
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            return match text.parse::<::postgres::Config>() {
                Ok(_) => Ok(DbUrl::Postgres(text.to_string())),
                Err(e) => Err(format!(
                    "--db `{}`: not a PostgreSQL URL ({e}); write postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE, or postgres://USER@/DATABASE?host=/SOCKET/DIR",
                    postgres::redact(text)
                )),
            };
        }
        Err(format!(
            "--db `{}`: write sqlite:PATH or postgres://USER@HOST[:PORT]/DATABASE",
            postgres::redact(text)
        ))
    }

    /// Opens (creating and migrating) the database.
    pub fn open(&self) -> Result<Box<dyn Store>> {
        match self {
            DbUrl::Sqlite(path) => Ok(Box::new(sqlite::Sqlite::open(path)?)),
            DbUrl::Postgres(url) => Ok(Box::new(postgres::Postgres::open(url)?)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn db_urls_are_read_or_refused_with_the_form_to_use() {
        assert_eq!(
            DbUrl::parse("sqlite:/tmp/x.db"),
            Ok(DbUrl::Sqlite(PathBuf::from("/tmp/x.db")))
        );
        assert_eq!(
            DbUrl::parse("sqlite:///tmp/x.db"),
            Ok(DbUrl::Sqlite(PathBuf::from("/tmp/x.db")))
        );
        for url in [
            "postgres://ann@db:5433/couler",
            "postgresql://ann:pw@db/couler",
            "postgres://postgres@/couler?host=/run/postgresql",
        ] {
            assert_eq!(DbUrl::parse(url), Ok(DbUrl::Postgres(url.to_string())));
        }
        let bad = DbUrl::parse("postgres://ann:s3cret@db:notaport/couler").unwrap_err();
        assert!(bad.contains("postgres://USER"), "{bad}");
        assert!(!bad.contains("s3cret"), "the password is shown: {bad}");
        let other = DbUrl::parse("mysql://x").unwrap_err();
        assert!(other.contains("sqlite:PATH or postgres://"), "{other}");
        assert!(DbUrl::parse("sqlite:").is_err());
    }
}
