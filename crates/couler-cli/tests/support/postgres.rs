//! A throwaway PostgreSQL 15 for the tests that run on PostgreSQL: one cluster per test
//! binary (started at first use, from the machine's packages), a fresh database per test.
//!
//! The cluster lives in a temporary directory owned by `postgres` (initdb and postgres refuse
//! to run as root: as root they run through `runuser -u postgres`), listens on a Unix socket
//! in that directory only (no TCP port), and is stopped the way `pg_ctl stop -m immediate`
//! does (SIGQUIT) by a small shell guardian as soon as the test binary exits, however it
//! exits: the guardian waits for its standard input, a pipe only the test binary holds, to
//! close. A machine without PostgreSQL 15 fails the test saying what to install; never a
//! silent skip.

#![allow(dead_code)]

#[path = "guardian.rs"]
mod guardian;

use guardian::ready;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Where PostgreSQL's programs are: `$COULER_PG_BIN`, else Debian's postgresql-15 package.
fn bin_dir() -> PathBuf {
    std::env::var_os("COULER_PG_BIN").map_or_else(
        || PathBuf::from("/usr/lib/postgresql/15/bin"),
        PathBuf::from,
    )
}

struct Cluster {
    /// The socket directory (and the cluster's home).
    dir: String,
    /// The guardian, its standard input open until this process exits.
    _guardian: Child,
}

/// Makes a cluster and prints `ready DIR` once it accepts connections; then waits for its
/// standard input to close, stops it at once and removes it.
const GUARDIAN: &str = r#"
bin="$1"
dir="$(mktemp -d "${TMPDIR:-/tmp}/couler-pg.XXXXXX")" || exit 1
if ! "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -N -E UTF8 --locale=C \
        >"$dir/initdb.log" 2>&1; then
    cat "$dir/initdb.log"; rm -rf "$dir"; exit 1
fi
"$bin/postgres" -D "$dir/data" -k "$dir" -c listen_addresses= -c fsync=off \
    -c full_page_writes=off -c max_connections=200 >"$dir/postgres.log" 2>&1 &
pid=$!
tries=0
until "$bin/pg_isready" -q -h "$dir"; do
    tries=$((tries + 1))
    if [ "$tries" -gt 300 ] || ! kill -0 "$pid" 2>/dev/null; then
        echo "postgres did not start:"; cat "$dir/postgres.log"
        kill -QUIT "$pid" 2>/dev/null; rm -rf "$dir"; exit 1
    fi
    sleep 0.05
done
echo "ready $dir"
cat >/dev/null
kill -QUIT "$pid"; wait "$pid"; rm -rf "$dir"
"#;

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

fn start() -> Cluster {
    let bin = bin_dir();
    for program in ["initdb", "postgres", "pg_isready", "psql"] {
        assert!(
            bin.join(program).is_file(),
            "the PostgreSQL tests need PostgreSQL 15 and {} is missing: install Debian's postgresql-15 (scripts/postgres-deps does), or set COULER_PG_BIN to the directory of its programs",
            bin.join(program).display()
        );
    }
    let mut cmd = if running_as_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--", "sh"]);
        c
    } else {
        Command::new("sh")
    };
    let mut child = cmd
        .args(["-c", GUARDIAN, "sh"])
        .arg(&bin)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start the PostgreSQL test cluster: {e}"));
    match child.stdout.take().map(ready) {
        Some(Ok(dir)) => Cluster {
            dir,
            _guardian: child,
        },
        said => {
            let _ = child.wait();
            panic!(
                "the PostgreSQL test cluster did not start (initdb and postgres from {}, as user postgres):\n{}",
                bin.display(),
                said.and_then(Result::err).unwrap_or_default()
            );
        }
    }
}

fn cluster() -> &'static Cluster {
    static CLUSTER: OnceLock<Cluster> = OnceLock::new();
    CLUSTER.get_or_init(start)
}

/// Runs `sql` as the superuser in database `db`: its output, or psql's error.
pub fn try_psql(db: &str, sql: &str) -> Result<String, String> {
    let out = Command::new(bin_dir().join("psql"))
        .args([
            "-X",
            "-q",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            "-U",
            "postgres",
            "-h",
        ])
        .arg(&cluster().dir)
        .args(["-d", db, "-c", sql])
        .output()
        .unwrap_or_else(|e| panic!("cannot run psql: {e}"));
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// Runs `sql` as the superuser in database `db`; its output.
pub fn psql(db: &str, sql: &str) -> String {
    try_psql(db, sql).unwrap_or_else(|e| panic!("psql `{sql}`: {e}"))
}

/// A new, empty database in the test cluster: its name.
pub fn create() -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let name = format!("couler_{}", NEXT.fetch_add(1, Ordering::Relaxed));
    psql("postgres", &format!("CREATE DATABASE {name}"));
    name
}

/// A new, empty database in the test cluster: its `--db` URL.
pub fn database() -> String {
    url(&create())
}

/// The URL of database `name` in the test cluster (over its Unix socket).
pub fn url(name: &str) -> String {
    format!("postgres://postgres@/{name}?host={}", cluster().dir)
}
