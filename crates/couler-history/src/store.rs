//! The history store: one SQLite table of step executions, in a file of its own
//! (`STATE_DIR/history.db`) so that neither it nor the runtime's `state.db` can take the other
//! down: a history that cannot be written costs a record, never a run.

use crate::record::{Execution, StepFeatures};
use rusqlite::{Connection, OptionalExtension, params};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

/// The file name of the history in a state directory.
pub const FILE_NAME: &str = "history.db";

/// The schema version this code writes (SQLite's `user_version`).
const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS executions (
    id INTEGER PRIMARY KEY,
    source TEXT NOT NULL,
    workflow TEXT NOT NULL,
    template TEXT NOT NULL,
    step TEXT NOT NULL,
    image TEXT,
    input_bytes INTEGER NOT NULL,
    params TEXT NOT NULL,
    map_items INTEGER,
    machine TEXT NOT NULL,
    finished_at REAL NOT NULL,
    duration_s REAL NOT NULL,
    peak_rss_bytes INTEGER,
    cpu_seconds REAL,
    exit_reason TEXT NOT NULL,
    succeeded INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS executions_template ON executions (template, finished_at)";

/// Why the history could not be read or written.
#[derive(Debug)]
pub struct HistoryError {
    /// The database file.
    pub path: PathBuf,
    pub message: String,
}

impl fmt::Display for HistoryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.message)
    }
}

impl std::error::Error for HistoryError {}

/// Which executions [`History::list`] returns.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// Only templates that start with this (a full key, or its first characters).
    pub template: Option<String>,
    /// Only this step name.
    pub step: Option<String>,
}

/// An open history database.
pub struct History {
    path: PathBuf,
    conn: Mutex<Connection>,
}

impl History {
    /// Opens (creating it if need be) the history at `path`.
    pub fn open(path: &Path) -> Result<History, HistoryError> {
        let err = |e: rusqlite::Error| HistoryError {
            path: path.to_path_buf(),
            message: e.to_string(),
        };
        let conn = Connection::open(path).map_err(err)?;
        conn.busy_timeout(Duration::from_secs(10)).map_err(err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(err)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(err)?;
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(err)?;
        if version > SCHEMA_VERSION {
            return Err(HistoryError {
                path: path.to_path_buf(),
                message: format!(
                    "was written by a newer Couler (schema {version}, this one reads {SCHEMA_VERSION}); upgrade Couler or use another --history file"
                ),
            });
        }
        conn.execute_batch(SCHEMA).map_err(err)?;
        conn.pragma_update(None, "user_version", SCHEMA_VERSION)
            .map_err(err)?;
        Ok(History {
            path: path.to_path_buf(),
            conn: Mutex::new(conn),
        })
    }

    /// Opens an existing history; a missing file is an error that says how one is made.
    pub fn open_existing(path: &Path) -> Result<History, HistoryError> {
        if !path.exists() {
            return Err(HistoryError {
                path: path.to_path_buf(),
                message: "no such history (`couler run` records into STATE_DIR/history.db; `couler history import TRACE` fills one from WfCommons traces)".into(),
            });
        }
        History::open(path)
    }

    fn err(&self, e: rusqlite::Error) -> HistoryError {
        HistoryError {
            path: self.path.clone(),
            message: e.to_string(),
        }
    }

    /// Records executions, all in one transaction.
    pub fn record(&self, executions: &[Execution]) -> Result<(), HistoryError> {
        let mut conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        let tx = conn.transaction().map_err(|e| self.err(e))?;
        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO executions (source, workflow, template, step, image, input_bytes,
                     params, map_items, machine, finished_at, duration_s, peak_rss_bytes,
                     cpu_seconds, exit_reason, succeeded)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
                )
                .map_err(|e| self.err(e))?;
            for x in executions {
                let f = &x.features;
                let params = serde_json::to_string(&f.params).unwrap_or_else(|_| "{}".into());
                insert
                    .execute(params![
                        x.source,
                        x.workflow,
                        f.template,
                        f.step,
                        f.image,
                        clamp(f.input_bytes),
                        params,
                        f.map_items.map(clamp),
                        f.machine,
                        x.finished_at,
                        x.duration_s,
                        x.peak_rss_bytes.map(clamp),
                        x.cpu_seconds,
                        x.exit_reason,
                        x.succeeded,
                    ])
                    .map_err(|e| self.err(e))?;
            }
        }
        tx.commit().map_err(|e| self.err(e))
    }

    /// The executions `filter` selects, oldest first.
    pub fn list(&self, filter: &Filter) -> Result<Vec<Execution>, HistoryError> {
        let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        // A template prefix is a range of the `executions_template` index (every key that
        // starts with it sorts at or after it and before `prefix_end`), so the runtime's
        // lookup before each step costs a seek, not a scan of the whole history.
        let mut conditions = Vec::new();
        let end = filter.template.as_deref().and_then(prefix_end);
        if filter.template.is_some() {
            conditions.push("template >= ?1");
        }
        if end.is_some() {
            conditions.push("template < ?2");
        }
        if filter.step.is_some() {
            conditions.push("step = ?3");
        }
        let sql = format!(
            "SELECT source, workflow, template, step, image, input_bytes, params, map_items,
             machine, finished_at, duration_s, peak_rss_bytes, cpu_seconds, exit_reason,
             succeeded FROM executions WHERE {} ORDER BY finished_at, id",
            if conditions.is_empty() {
                "1".to_string()
            } else {
                conditions.join(" AND ")
            }
        );
        let mut q = conn.prepare_cached(&sql).map_err(|e| self.err(e))?;
        let mut bound = vec![];
        for (i, value) in [
            filter.template.as_deref(),
            end.as_deref(),
            filter.step.as_deref(),
        ]
        .into_iter()
        .enumerate()
        {
            if let Some(v) = value {
                bound.push((i + 1, v));
            }
        }
        for (i, v) in bound {
            q.raw_bind_parameter(i, v).map_err(|e| self.err(e))?;
        }
        let mut rows = q.raw_query();
        let mut out = Vec::new();
        while let Some(r) = rows.next().map_err(|e| self.err(e))? {
            out.push(row(r).map_err(|e| self.err(e))?);
        }
        Ok(out)
    }

    /// How many executions the history holds.
    pub fn len(&self) -> Result<u64, HistoryError> {
        let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        conn.query_row("SELECT count(*) FROM executions", [], |r| {
            r.get::<_, i64>(0)
        })
        .optional()
        .map(|n| n.unwrap_or(0).max(0) as u64)
        .map_err(|e| self.err(e))
    }

    /// Whether the history holds no execution.
    pub fn is_empty(&self) -> Result<bool, HistoryError> {
        self.len().map(|n| n == 0)
    }
}

/// The least string above every string that starts with `prefix` (its last character that
/// has a successor, advanced, and what follows it dropped); `None` where every string at or
/// after `prefix` starts with it. SQLite compares text byte by byte, and UTF-8's byte order is
/// the characters' order.
fn prefix_end(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = match last {
            '\u{D7FF}' => Some('\u{E000}'),
            c => char::from_u32(c as u32 + 1),
        };
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// SQLite integers are signed 64-bit.
fn clamp(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Execution> {
    let params: String = r.get(6)?;
    let unsigned = |i: usize| -> rusqlite::Result<Option<u64>> {
        Ok(r.get::<_, Option<i64>>(i)?.map(|n| n.max(0) as u64))
    };
    Ok(Execution {
        source: r.get(0)?,
        workflow: r.get(1)?,
        features: StepFeatures {
            template: r.get(2)?,
            step: r.get(3)?,
            image: r.get(4)?,
            input_bytes: unsigned(5)?.unwrap_or(0),
            params: serde_json::from_str(&params).unwrap_or_default(),
            map_items: unsigned(7)?,
            machine: r.get(8)?,
        },
        finished_at: r.get(9)?,
        duration_s: r.get(10)?,
        peak_rss_bytes: unsigned(11)?,
        cpu_seconds: r.get(12)?,
        exit_reason: r.get(13)?,
        succeeded: r.get(14)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(step: &str, secs: f64) -> Execution {
        Execution {
            source: "run:r1".into(),
            workflow: "wf".into(),
            features: StepFeatures {
                template: format!("sha256:{step}"),
                step: step.into(),
                input_bytes: 42,
                params: [("n".to_string(), "3".to_string())].into(),
                machine: "host".into(),
                ..StepFeatures::default()
            },
            finished_at: secs,
            duration_s: secs,
            peak_rss_bytes: Some(1 << 20),
            cpu_seconds: Some(0.5),
            exit_reason: "succeeded".into(),
            succeeded: true,
        }
    }

    #[test]
    fn records_round_trip_and_filter_by_template_prefix() {
        let dir = tempfile::tempdir().unwrap();
        let h = History::open(&dir.path().join(FILE_NAME)).unwrap();
        let (a, b) = (sample("aa", 2.0), sample("bb", 1.0));
        h.record(&[a.clone(), b.clone()]).unwrap();
        assert_eq!(
            h.list(&Filter::default()).unwrap(),
            vec![b.clone(), a.clone()]
        );
        let only_a = Filter {
            template: Some("sha256:a".into()),
            ..Filter::default()
        };
        assert_eq!(h.list(&only_a).unwrap(), vec![a]);
        assert_eq!(h.len().unwrap(), 2);
    }

    /// A prefix selects exactly the templates that start with it, whatever its characters
    /// (the last one at the top of its range included), and is looked up in the index.
    #[test]
    fn a_template_prefix_is_a_range_of_the_index() {
        let dir = tempfile::tempdir().unwrap();
        let h = History::open(&dir.path().join(FILE_NAME)).unwrap();
        let keys = [
            "",
            "a",
            "ab",
            "abc",
            "ab\u{7F}",
            "ab\u{80}",
            "ac",
            "b",
            "\u{D7FF}x",
            "\u{E000}",
            "z\u{10FFFF}",
            "z\u{10FFFF}\u{10FFFF}q",
            "{",
            "%_*",
            "%_*y",
        ];
        let mut all = Vec::new();
        for (i, k) in keys.iter().enumerate() {
            let mut e = sample("s", i as f64);
            e.features.template = k.to_string();
            all.push(e);
        }
        h.record(&all).unwrap();
        let prefixes = [
            "",
            "a",
            "ab",
            "ab\u{7F}",
            "b",
            "\u{D7FF}",
            "z",
            "z\u{10FFFF}",
            "%_",
            "%_*",
            "q",
        ];
        for p in prefixes {
            let got: Vec<String> = h
                .list(&Filter {
                    template: Some(p.to_string()),
                    step: None,
                })
                .unwrap()
                .into_iter()
                .map(|e| e.features.template)
                .collect();
            let want: Vec<String> = keys
                .iter()
                .filter(|k| k.starts_with(p))
                .map(|k| k.to_string())
                .collect();
            assert_eq!(got, want, "prefix {p:?}");
        }
        let conn = h.conn.lock().unwrap();
        let plan: Vec<String> = conn
            .prepare(
                "EXPLAIN QUERY PLAN SELECT * FROM executions
                 WHERE template >= 'ab' AND template < 'ac' ORDER BY finished_at, id",
            )
            .unwrap()
            .query_map([], |r| r.get::<_, String>(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(
            plan.iter()
                .any(|l| l.contains("USING INDEX executions_template")),
            "{plan:?}"
        );
    }

    #[test]
    fn a_missing_history_says_how_to_make_one() {
        let dir = tempfile::tempdir().unwrap();
        let e = History::open_existing(&dir.path().join("nope.db"))
            .err()
            .unwrap();
        assert!(e.to_string().contains("couler history import"), "{e}");
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        Connection::open(&path)
            .unwrap()
            .pragma_update(None, "user_version", 99)
            .unwrap();
        let e = History::open(&path).err().unwrap();
        assert!(e.message.contains("newer Couler"), "{e}");
    }
}
