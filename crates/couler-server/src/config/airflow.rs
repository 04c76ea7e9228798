//! A `kind: airflow` cluster's keys (docs/server.md, "Airflow clusters"): the api-server's
//! `url`, the `dagsFolder` the server writes DAG files into, the credentials by name
//! (`username` + `passwordSecret`, a file under `--secrets-dir`, never a password in the
//! config), and how DAGs are compiled (`operator`, `launcher`).

use super::{ClusterFile, check_url};
use couler_backends::Operator;
use std::path::PathBuf;
use std::time::Duration;

/// Where and how an airflow cluster runs its runs.
#[derive(Clone, Debug)]
pub struct AirflowTarget {
    /// The api-server's base URL, without a trailing `/`.
    pub url: String,
    pub dags_folder: PathBuf,
    /// The user the server signs in as and its password's secret (`NS/SECRET/KEY`, read
    /// from `SECRETS_DIR/NS/SECRET/KEY` at each run).
    pub credentials: (String, String),
    pub operator: Operator,
    /// The `couler` the tasks run; `None`: the server's own executable.
    pub launcher: Option<String>,
    /// How long the dag-processor may take to parse a new DAG file.
    pub parse_timeout: Duration,
}

/// What Airflow 3's dag-processor takes at most to see a new file by default
/// (`[dag_processor] refresh_interval`, 300 s), and a parse.
const PARSE_TIMEOUT_SECS: u64 = 330;

/// The airflow keys of `c` and whether each is set.
pub(super) fn keys(c: &ClusterFile) -> impl Iterator<Item = (&'static str, bool)> {
    [
        ("url", c.url.is_some()),
        ("dagsFolder", c.dags_folder.is_some()),
        ("username", c.username.is_some()),
        ("passwordSecret", c.password_secret.is_some()),
        ("operator", c.operator.is_some()),
        ("launcher", c.launcher.is_some()),
        ("parseTimeoutSecs", c.parse_timeout_secs.is_some()),
    ]
    .into_iter()
}

/// The target of a `kind: airflow` cluster, or what is missing or wrong.
pub(super) fn target(c: &ClusterFile) -> Result<AirflowTarget, String> {
    let Some(url) = &c.url else {
        return Err(
            "`url` is missing: give Airflow's api-server URL, e.g. http://127.0.0.1:8080".into(),
        );
    };
    check_url(url)?;
    let Some(dags_folder) = c.dags_folder.clone() else {
        return Err("`dagsFolder` is missing: name the DAGs folder Airflow's dag-processor reads ([core] dags_folder); Airflow's API cannot upload DAG code, so the server writes its DAG files there".into());
    };
    if !dags_folder.is_dir() {
        return Err(format!(
            "`dagsFolder: {}` is not a directory: create it, or name Airflow's [core] dags_folder",
            dags_folder.display()
        ));
    }
    let credentials = match (&c.username, &c.password_secret) {
        (Some(user), Some(secret)) => (user.clone(), check_secret(secret)?),
        (None, _) => {
            return Err("`username` is missing: Airflow 3's REST API takes a token; name the user the server signs in as, and `passwordSecret`".into());
        }
        (Some(_), None) => {
            return Err("`username` needs `passwordSecret` (NS/SECRET/KEY: the file SECRETS_DIR/NS/SECRET/KEY holds the password)".into());
        }
    };
    let operator = match c.operator.as_deref() {
        None | Some("host") => Operator::Host,
        Some("kubernetes") => Operator::Kubernetes,
        Some("docker") => Operator::Docker,
        Some(other) => {
            return Err(format!(
                "`operator: {other}` is not an operator: write host, kubernetes or docker"
            ));
        }
    };
    if c.parse_timeout_secs == Some(0) {
        return Err("`parseTimeoutSecs` must be at least 1".into());
    }
    Ok(AirflowTarget {
        url: url.trim_end_matches('/').to_string(),
        dags_folder,
        credentials,
        operator,
        launcher: c.launcher.clone(),
        parse_timeout: Duration::from_secs(c.parse_timeout_secs.unwrap_or(PARSE_TIMEOUT_SECS)),
    })
}

/// A `passwordSecret`: `NS/SECRET/KEY`, three plain names (the secrets directory's layout).
fn check_secret(secret: &str) -> Result<String, String> {
    let parts: Vec<&str> = secret.split('/').collect();
    let plain = |p: &&str| {
        !p.is_empty()
            && *p != "."
            && *p != ".."
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    if parts.len() != 3 || !parts.iter().all(plain) {
        return Err(format!(
            "`passwordSecret: {secret}` is not NS/SECRET/KEY: name the file SECRETS_DIR/NS/SECRET/KEY that holds the password (three names of letters, digits, `-`, `_`, `.`)"
        ));
    }
    Ok(secret.to_string())
}
