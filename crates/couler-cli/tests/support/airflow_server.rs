//! One real Airflow 3.3.2 for a test binary (`server_airflow.rs`): its api-server, scheduler
//! (LocalExecutor) and dag-processor on loopback, in a temp AIRFLOW_HOME with a SQLite
//! database, the simple auth manager with one admin user `couler`, and a DAGs folder the
//! tests' servers write into. Started once (as support/postgres.rs starts PostgreSQL) by a
//! guardian shell that owns the processes: when the test binary exits, however it exits, the
//! guardian's stdin closes and it stops its whole process group and removes the directory.
//! Airflow's python comes from `$COULER_AIRFLOW_PYTHON` or scripts/airflow-deps
//! (support/airflow.rs); without it the tests fail saying so.

#[path = "guardian.rs"]
mod guardian;

use crate::support::http;
use guardian::ready;
use serde_json::Value;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

/// The password of the `couler` user (the tests write it into the server's secrets).
pub const PASSWORD: &str = "couler-test-password";

pub struct Airflow {
    /// `127.0.0.1:PORT` of its api-server.
    pub addr: String,
    pub dags: PathBuf,
    _guardian: Child,
}

const GUARDIAN: &str = r#"
py="$1"; port="$2"; logport="$3"; password="$4"
bin="$(dirname "$py")"
dir="$(mktemp -d "${TMPDIR:-/tmp}/couler-airflow.XXXXXX")" || exit 1
mkdir -p "$dir/home" "$dir/dags"
export AIRFLOW_HOME="$dir/home" AIRFLOW__CORE__DAGS_FOLDER="$dir/dags"
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="sqlite:///$dir/home/airflow.db"
export AIRFLOW__CORE__EXECUTOR=LocalExecutor AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS=couler:admin
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE="$dir/home/passwords.json"
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL="http://127.0.0.1:$port/execution/"
export AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT="$logport"
export AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL=1 AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC=1
# API tokens expire after 3 s, so a server following a run longer than that must sign in again.
export AIRFLOW__API_AUTH__JWT_EXPIRATION_TIME=3
unset COULER_ARTIFACT_STORE
printf '{"couler": "%s"}' "$password" > "$dir/home/passwords.json"
trap '' TERM INT
stop() { kill -TERM 0; sleep 1; rm -rf "$dir"; kill -KILL 0; }
if ! "$bin/airflow" db migrate >"$dir/migrate.log" 2>&1; then
    echo "airflow db migrate failed:"; tail -40 "$dir/migrate.log"; rm -rf "$dir"; exit 1
fi
"$bin/airflow" api-server --port "$port" >"$dir/api-server.log" 2>&1 &
"$bin/airflow" scheduler >"$dir/scheduler.log" 2>&1 &
"$bin/airflow" dag-processor >"$dir/dag-processor.log" 2>&1 &
healthy='import json, sys, urllib.request
h = json.load(urllib.request.urlopen("http://127.0.0.1:%s/api/v2/monitor/health" % sys.argv[1], timeout=2))
sys.exit(0 if all(h[k]["status"] == "healthy" for k in ("metadatabase", "scheduler", "dag_processor")) else 1)'
tries=0
until "$py" -c "$healthy" "$port" 2>/dev/null; do
    tries=$((tries + 1))
    if [ "$tries" -gt 240 ]; then
        echo "Airflow did not become healthy in 120 s:"; tail -20 "$dir"/*.log; stop
    fi
    sleep 0.5
done
echo "ready $dir"
cat >/dev/null
stop
"#;

/// Airflow's python: `$COULER_AIRFLOW_PYTHON`, else the venv scripts/airflow-deps makes.
fn python() -> PathBuf {
    match std::env::var_os("COULER_AIRFLOW_PYTHON").filter(|p| !p.is_empty()) {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/airflow-venv/bin/python"),
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free port: {e}"))
}

fn start() -> Airflow {
    let py = python();
    assert!(
        py.is_file(),
        "Airflow's python {} is missing: run scripts/airflow-deps (it installs apache-airflow 3.3.2 into target/airflow-venv), or set COULER_AIRFLOW_PYTHON",
        py.display()
    );
    let port = free_port();
    let mut child = Command::new("sh")
        .args(["-c", GUARDIAN, "sh"])
        .arg(&py)
        .args([
            port.to_string(),
            free_port().to_string(),
            PASSWORD.to_string(),
        ])
        .process_group(0)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start Airflow: {e}"));
    let dir = match child.stdout.take().map(ready) {
        Some(Ok(dir)) => PathBuf::from(dir),
        said => {
            let _ = child.wait();
            panic!(
                "Airflow ({}) did not start:\n{}",
                py.display(),
                said.and_then(Result::err).unwrap_or_default()
            );
        }
    };
    Airflow {
        addr: format!("127.0.0.1:{port}"),
        dags: dir.join("dags"),
        _guardian: child,
    }
}

/// The Airflow of this test binary, started on first use.
pub fn airflow() -> &'static Airflow {
    static AIRFLOW: OnceLock<Airflow> = OnceLock::new();
    AIRFLOW.get_or_init(start)
}

impl Airflow {
    /// `GET /api/v2/PATH` as the `couler` user (signed in for this request: tokens last 3 s):
    /// the status and the JSON answer.
    pub fn get(&self, path: &str) -> (u16, Value) {
        let body = format!(r#"{{"username": "couler", "password": "{PASSWORD}"}}"#);
        let (code, text) = http(&self.addr, "POST", "/auth/token", None, Some(&body));
        assert_eq!(code, 201, "signing in to Airflow: {text}");
        let token: Value = serde_json::from_str(&text).unwrap_or_default();
        let token = token["access_token"].as_str().unwrap_or_default();
        let path = format!("/api/v2{path}");
        let (code, text) = http(&self.addr, "GET", &path, Some(token), None);
        (
            code,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// The URL of its api-server.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The DAGs folder.
    pub fn dags(&self) -> &Path {
        &self.dags
    }
}
