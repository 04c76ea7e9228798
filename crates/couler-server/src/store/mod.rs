//! The server's metadata database, behind [`Store`]: what the server itself knows about a run
//! (who submitted it, where, its spec and parameters, its place in the queue, and a mirror of
//! its final status), users' tokens and role bindings, and the append-only audit log. Run and
//! step status while a run is under way are the runtime's (`couler_run::State`), never copied
//! here.
//!
//! One implementation today, SQLite ([`sqlite`]); the trait is what a PostgreSQL one implements
//! (docs/server.md, "Not built yet"). Methods are blocking: the API calls them through
//! `spawn_blocking`. Migrations are versioned in code, per implementation.

pub mod sqlite;

use crate::auth::Role;
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
}

/// Which runs to list: newest first, after `before` (a continue token's sequence number).
#[derive(Clone, Debug, Default)]
pub struct RunFilter {
    pub state: Option<String>,
    /// Only these namespaces; `None`: every one.
    pub namespaces: Option<Vec<String>>,
    pub before: Option<i64>,
    pub limit: usize,
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
    /// The oldest `Queued` run, now `Running` (one transaction: two workers never claim one).
    fn claim(&self) -> Result<Option<RunRow>>;
    /// Every `Running` run back to `Queued` (on start: no worker holds one any more).
    fn requeue_running(&self) -> Result<usize>;
    /// Sets a run's state; with `only_from`, only when it is in that state (returns whether
    /// it changed).
    fn set_state(
        &self,
        id: &str,
        state: &str,
        message: Option<&str>,
        only_from: Option<&str>,
    ) -> Result<bool>;
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
}

impl DbUrl {
    /// `sqlite:PATH`; anything else is refused with what is accepted.
    pub fn parse(text: &str) -> std::result::Result<DbUrl, String> {
        if let Some(path) = text.strip_prefix("sqlite:") {
            let path = path.strip_prefix("//").unwrap_or(path);
            if path.is_empty() {
                return Err(format!("--db `{text}`: give a file, as sqlite:PATH"));
            }
            return Ok(DbUrl::Sqlite(PathBuf::from(path)));
        }
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            return Err(format!(
                "--db `{text}`: PostgreSQL is not supported yet; use sqlite:PATH (docs/server.md)"
            ));
        }
        Err(format!("--db `{text}`: write sqlite:PATH"))
    }

    /// Opens (creating and migrating) the database.
    pub fn open(&self) -> Result<Box<dyn Store>> {
        match self {
            DbUrl::Sqlite(path) => Ok(Box::new(sqlite::Sqlite::open(path)?)),
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
        let pg = DbUrl::parse("postgres://db/couler").unwrap_err();
        assert!(pg.contains("not supported yet"), "{pg}");
        let other = DbUrl::parse("mysql://x").unwrap_err();
        assert!(other.contains("sqlite:PATH"), "{other}");
        assert!(DbUrl::parse("sqlite:").is_err());
    }
}
