//! Real Airflow for the tests (airflow.rs, airflow_decisions.rs): Airflow's python (installed by
//! `scripts/airflow-deps`, or `$COULER_AIRFLOW_PYTHON`), an Airflow home with a migrated SQLite
//! database, compiling specs with the test's `couler` as the launcher, and reading a run's
//! outcome as comparable nodes (tests/airflow/outcome.py, support/outcomes.rs).

use super::outcomes::RunView;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

pub use super::cli::couler_in as couler;

pub fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"))
}

/// Airflow's python: `$COULER_AIRFLOW_PYTHON`, else installed by scripts/airflow-deps. A failed
/// install fails the test with how to fix it (never a silent skip).
pub fn python() -> &'static Path {
    static PY: OnceLock<PathBuf> = OnceLock::new();
    PY.get_or_init(|| {
        if let Ok(p) = std::env::var("COULER_AIRFLOW_PYTHON")
            && !p.is_empty()
        {
            return PathBuf::from(p);
        }
        let out = Command::new("bash")
            .arg(repo().join("scripts/airflow-deps"))
            .output()
            .unwrap_or_else(|e| panic!("cannot run scripts/airflow-deps: {e}"));
        assert!(
            out.status.success(),
            "scripts/airflow-deps failed (it needs python3 >= 3.10 with venv and access to PyPI; or set COULER_AIRFLOW_PYTHON to a python with apache-airflow==3.3.2 installed):\n{}",
            text(&out.stderr)
        );
        PathBuf::from(text(&out.stdout).trim())
    })
}

/// An Airflow home in a temp dir with a migrated SQLite database.
pub struct Home {
    pub dir: tempfile::TempDir,
}

impl Home {
    pub fn new(dags: &Path) -> Home {
        let h = Home { dir: tmp() };
        std::fs::create_dir_all(dags).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(h.dir.path().join("dags_folder"), dags.display().to_string())
            .unwrap_or_else(|e| panic!("{e}"));
        let out = h.airflow(dags, &["db", "migrate"]);
        assert!(
            out.status.success(),
            "airflow db migrate: {}",
            text(&out.stderr)
        );
        h
    }

    /// A copy of this home (database included) reading another DAGs folder.
    pub fn copy(&self, dags: &Path) -> Home {
        let h = Home { dir: tmp() };
        std::fs::copy(
            self.dir.path().join("airflow.db"),
            h.dir.path().join("airflow.db"),
        )
        .unwrap_or_else(|e| panic!("copying the Airflow database: {e}"));
        std::fs::write(h.dir.path().join("dags_folder"), dags.display().to_string())
            .unwrap_or_else(|e| panic!("{e}"));
        h
    }

    pub fn command(&self, program: &Path, dags: &Path) -> Command {
        let mut c = Command::new(program);
        c.env("AIRFLOW_HOME", self.dir.path())
            .env("AIRFLOW__CORE__DAGS_FOLDER", dags)
            .env("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
            .env(
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
                format!("sqlite:///{}", self.dir.path().join("airflow.db").display()),
            )
            .env_remove("COULER_ARTIFACT_STORE")
            .current_dir(self.dir.path());
        c
    }

    pub fn airflow(&self, dags: &Path, args: &[&str]) -> Output {
        let bin = python().with_file_name("airflow");
        self.command(&bin, dags)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("running airflow: {e}"))
    }

    pub fn python(&self, dags: &Path, args: &[&str]) -> Output {
        self.command(python(), dags)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("running Airflow's python: {e}"))
    }

    /// Import errors of every DAG file in `dags`, and the DAG ids found.
    pub fn dagbag(&self, dags: &Path) -> (BTreeMap<String, String>, Vec<String>) {
        let script = "import json, sys\nfrom airflow.dag_processing.dagbag import DagBag\nb = DagBag(dag_folder=sys.argv[1])\nprint(json.dumps({'errors': {str(k): str(v) for k, v in b.import_errors.items()}, 'ids': sorted(b.dag_ids)}))";
        let out = self.python(dags, &["-c", script, &dags.display().to_string()]);
        assert!(out.status.success(), "DagBag: {}", text(&out.stderr));
        let v: serde_json::Value =
            serde_json::from_str(text(&out.stdout).lines().last().unwrap_or_default())
                .unwrap_or_else(|e| {
                    panic!("DagBag output is not JSON ({e}): {}", text(&out.stdout))
                });
        let errors = v["errors"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                    .collect()
            })
            .unwrap_or_default();
        let ids = v["ids"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        (errors, ids)
    }

    /// `airflow dags test DAG`, then the run's outcome per task (tests/airflow/outcome.py).
    pub fn run(&self, dags: &Path, dag: &str) -> serde_json::Value {
        let out = self.airflow(dags, &["dags", "test", dag]);
        let log = format!("{}\n{}", text(&out.stdout), text(&out.stderr));
        let script = repo().join("crates/couler-cli/tests/airflow/outcome.py");
        let db = self.dir.path().join("airflow.db");
        let o = self.python(
            dags,
            &[
                &script.display().to_string(),
                &db.display().to_string(),
                dag,
            ],
        );
        assert!(
            o.status.success(),
            "reading the outcome of {dag}: {}\n--- airflow dags test log ---\n{log}",
            text(&o.stderr)
        );
        serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| panic!("outcome of {dag} is not JSON ({e})\n{log}"))
    }
}

pub fn compile(file: &Path, out: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "compile".to_string(),
        file.display().to_string(),
        "--target".into(),
        "airflow".into(),
        "-o".into(),
        out.display().to_string(),
        "--launcher".into(),
        env!("CARGO_BIN_EXE_couler").into(),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    couler(&repo(), &refs)
}

pub fn examples() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(repo().join("examples"))
        .unwrap_or_else(|e| panic!("{e}"))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    v.sort();
    v
}

/// A step's status as Airflow ended it: the launcher's outcome when it left one (a success, a
/// `continueOnFailure` failure, or a failure recorded by the failure callback), else the task
/// state.
pub fn airflow_status(entry: &serde_json::Value) -> String {
    if let Some(s) = entry["xcom"]["status"].as_str() {
        return s.to_string();
    }
    match entry["state"].as_str().unwrap_or_default() {
        "success" => "Succeeded",
        "skipped" => "Skipped",
        "upstream_failed" => "Omitted",
        "failed" => "Failed",
        other => return format!("airflow:{other}"),
    }
    .to_string()
}

pub fn airflow_nodes(
    outcome: &serde_json::Value,
    view: &RunView<'_>,
) -> BTreeMap<String, serde_json::Value> {
    let mut out = BTreeMap::new();
    for (task, entries) in outcome["tasks"].as_object().into_iter().flatten() {
        if task.contains('.') {
            continue; // a generated helper task (`S.items`), not a step
        }
        for e in entries.as_array().into_iter().flatten() {
            let node = match e["mapIndex"].as_i64() {
                Some(i) if i >= 0 => format!("{task}[{i}]"),
                _ => task.clone(),
            };
            let status = airflow_status(e);
            out.insert(node, view.comparable(&status, &e["xcom"]["outputs"]));
        }
    }
    out
}

/// The tasks of `outcome` (tests/airflow/outcome.py) that ran mapped instances: their steps'
/// aggregate nodes have no task of their own.
pub fn mapped_tasks(outcome: &serde_json::Value) -> Vec<String> {
    outcome["tasks"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(_, e)| {
            e.as_array()
                .is_some_and(|a| a.iter().any(|x| x["mapIndex"].as_i64().unwrap_or(-1) >= 0))
        })
        .map(|(k, _)| k.clone())
        .collect()
}
