//! `couler server --config FILE` (docs/server.md, "Configuration"): the clusters runs are
//! dispatched to, users' and teams' quotas, the queue's weights and aging, and retry limits.
//! Read with serde_norway; an unknown key, a bad value or an impossible setting is refused
//! naming `FILE:LINE:COL`. Without a file: one local cluster sized from this machine, no quotas.

use crate::queue::{Cluster, Resources, Weights};
pub use airflow::AirflowTarget;
use couler_ir::Quantity;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// The configuration as the server uses it.
#[derive(Clone, Debug)]
pub struct Config {
    pub clusters: Vec<Cluster>,
    /// How many runs each cluster (same order) executes at once.
    pub workers: Vec<usize>,
    /// Where each cluster (same order) executes its runs.
    pub targets: Vec<Target>,
    /// Quota per account: a user's name, or `team:NAME` for a team's shared quota.
    pub quotas: BTreeMap<String, Resources>,
    /// The team each member belongs to.
    pub team_of: BTreeMap<String, String>,
    pub weights: Weights,
    pub retry: RetryConfig,
}

/// Automatic retry's limits.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct RetryConfig {
    /// Off: a failed run stays failed (resume it through the API).
    pub enabled: bool,
    /// The most automatic retries of one run, whatever the pattern allows.
    pub max_attempts: u32,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            enabled: true,
            max_attempts: 6,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    clusters: Vec<ClusterFile>,
    #[serde(default)]
    users: BTreeMap<String, QuotaFile>,
    #[serde(default)]
    teams: BTreeMap<String, TeamFile>,
    #[serde(default)]
    queue: QueueFile,
    #[serde(default)]
    retry: RetryConfig,
}

/// Where a cluster's runs execute.
#[derive(Clone, Debug)]
pub enum Target {
    /// The embedded local runtime on the server's machine.
    Local,
    /// Argo Workflows, through the Kubernetes API server (`pool::argo`).
    Argo(couler_submit::Cluster),
    /// Apache Airflow 3, through its REST API and DAGs folder (`pool::airflow`).
    Airflow(airflow::AirflowTarget),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClusterFile {
    name: String,
    kind: Kind,
    /// Argo: the API server's URL, without credentials (as `kubectl proxy` serves it).
    server: Option<String>,
    /// Argo: a kubeconfig file instead of `server`, and optionally its context.
    kubeconfig: Option<std::path::PathBuf>,
    context: Option<String>,
    /// Argo: the Kubernetes namespace runs are created in.
    namespace: Option<String>,
    /// Airflow: the api-server's base URL.
    url: Option<String>,
    /// Airflow: the DAGs folder its dag-processor reads, where the server writes DAG files.
    #[serde(rename = "dagsFolder")]
    dags_folder: Option<std::path::PathBuf>,
    /// Airflow: the user the server signs in as, and its password's secret (`NS/SECRET/KEY`
    /// under `--secrets-dir`).
    username: Option<String>,
    #[serde(rename = "passwordSecret")]
    password_secret: Option<String>,
    /// Airflow: how tasks run steps (`couler compile --target airflow --operator`).
    operator: Option<String>,
    /// Airflow: the `couler` program on the workers (default: the server's own executable).
    launcher: Option<String>,
    /// Airflow: how long a new DAG file may take to be parsed.
    #[serde(rename = "parseTimeoutSecs")]
    parse_timeout_secs: Option<u64>,
    capacity: QuotaFile,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default = "default_workers")]
    workers: usize,
}

fn default_workers() -> usize {
    4
}

#[derive(Deserialize, PartialEq)]
#[serde(rename_all = "lowercase")]
enum Kind {
    /// The embedded local runtime on the server's machine.
    Local,
    /// Argo Workflows on Kubernetes.
    Argo,
    /// Apache Airflow 3.
    Airflow,
}

/// An amount of each resource; an absent one is 0 in a capacity, unlimited in a quota.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct QuotaFile {
    cpu: Option<Quantity>,
    memory: Option<Quantity>,
    gpu: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TeamFile {
    members: Vec<String>,
    quota: QuotaFile,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
struct QueueFile {
    priority: f64,
    capacity: f64,
    quota: f64,
    gpu_quota: f64,
    age: f64,
    aging_secs: f64,
}

impl Default for QueueFile {
    fn default() -> Self {
        let w = Weights::default();
        QueueFile {
            priority: w.priority,
            capacity: w.capacity,
            quota: w.quota,
            gpu_quota: w.gpu_quota,
            age: w.age,
            aging_secs: w.aging_secs,
        }
    }
}

impl QuotaFile {
    fn resources(&self, absent: u64) -> Resources {
        Resources::new(
            self.cpu
                .as_ref()
                .map_or(absent, |q| (q.value() * 1000.0).round() as u64),
            self.memory
                .as_ref()
                .map_or(absent, |q| (q.value() / 1_048_576.0).round() as u64),
            self.gpu.unwrap_or(absent),
        )
    }
}

impl Config {
    /// Reads `path`; errors name `path:LINE:COL` and what to write instead.
    pub fn load(path: &Path) -> Result<Config, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the config {}: {e}", path.display()))?;
        Config::parse(&text, &path.display().to_string())
    }

    /// Parses config text; `name` is what errors call it.
    pub fn parse(text: &str, name: &str) -> Result<Config, String> {
        let file: File = serde_norway::from_str(text).map_err(|e| match e.location() {
            Some(l) => {
                let text = e.to_string();
                let at = format!(" at line {} column {}", l.line(), l.column());
                let what = text.strip_suffix(&at).unwrap_or(&text);
                format!("{name}:{}:{}: {what}", l.line(), l.column())
            }
            None => format!("{name}: {e}"),
        })?;
        file.check(name)
    }

    /// One local cluster sized from this machine (its cores and memory, no GPU), `workers`
    /// runs at once, no quotas, default weights: the server without `--config`.
    pub fn this_machine(workers: usize) -> Config {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get() as u64);
        Config {
            clusters: vec![Cluster {
                name: "local".to_string(),
                capacity: Resources::new(cores * 1000, memory_mib(), 0),
                labels: BTreeMap::new(),
            }],
            workers: vec![workers],
            targets: vec![Target::Local],
            quotas: BTreeMap::new(),
            team_of: BTreeMap::new(),
            weights: Weights::default(),
            retry: RetryConfig::default(),
        }
    }

    /// The account whose quota a run of `user` counts against: their team's, else their own.
    pub fn account_of(&self, user: &str) -> String {
        match self.team_of.get(user) {
            Some(team) => format!("team:{team}"),
            None => user.to_string(),
        }
    }
}

impl File {
    fn check(self, name: &str) -> Result<Config, String> {
        let bad = |what: String| Err(format!("{name}: {what}"));
        if self.clusters.is_empty() {
            return bad(
                "`clusters` is empty: declare at least one (kind: local, argo or airflow)".into(),
            );
        }
        let mut clusters = Vec::new();
        let mut workers = Vec::new();
        let mut targets = Vec::new();
        for c in &self.clusters {
            if clusters.iter().any(|k: &Cluster| k.name == c.name) {
                return bad(format!("cluster `{}` is declared twice", c.name));
            }
            if c.workers == 0 {
                return bad(format!(
                    "cluster `{}`: `workers` must be at least 1",
                    c.name
                ));
            }
            targets.push(
                c.target()
                    .map_err(|e| format!("{name}: cluster `{}`: {e}", c.name))?,
            );
            clusters.push(Cluster {
                name: c.name.clone(),
                capacity: c.capacity.resources(0),
                labels: c.labels.clone(),
            });
            workers.push(c.workers);
        }
        let mut quotas: BTreeMap<String, Resources> = self
            .users
            .iter()
            .map(|(u, q)| (u.clone(), q.resources(u64::MAX)))
            .collect();
        let mut team_of = BTreeMap::new();
        for (team, t) in &self.teams {
            quotas.insert(format!("team:{team}"), t.quota.resources(u64::MAX));
            for m in &t.members {
                if let Some(other) = team_of.insert(m.clone(), team.clone()) {
                    return bad(format!(
                        "user `{m}` is a member of teams `{other}` and `{team}`: a user counts against one team's quota"
                    ));
                }
            }
        }
        let q = &self.queue;
        if q.aging_secs <= 0.0 || q.age <= 0.0 {
            return bad(
                "queue: `age` and `agingSecs` must be above 0 (aging is what keeps a workflow from starving)"
                    .into(),
            );
        }
        let weights = Weights {
            priority: q.priority,
            capacity: q.capacity,
            quota: q.quota,
            gpu_quota: q.gpu_quota,
            age: q.age,
            aging_secs: q.aging_secs,
            ..Weights::default()
        };
        Ok(Config {
            clusters,
            workers,
            targets,
            quotas,
            team_of,
            weights,
            retry: self.retry,
        })
    }
}

impl ClusterFile {
    /// Where this cluster's runs execute; the keys of another kind are refused.
    fn target(&self) -> Result<Target, String> {
        let argo_keys = [
            ("server", self.server.is_some()),
            ("kubeconfig", self.kubeconfig.is_some()),
            ("context", self.context.is_some()),
            ("namespace", self.namespace.is_some()),
        ];
        let keys = argo_keys
            .iter()
            .map(|&(key, set)| (key, set, Kind::Argo))
            .chain(airflow::keys(self).map(|(key, set)| (key, set, Kind::Airflow)));
        for (key, set, owner) in keys {
            if set && owner != self.kind {
                return Err(format!(
                    "`{key}` is a key of `kind: {}` clusters; remove it from this `kind: {}` one",
                    owner.name(),
                    self.kind.name()
                ));
            }
        }
        match self.kind {
            Kind::Local => Ok(Target::Local),
            Kind::Argo => self.argo().map(Target::Argo),
            Kind::Airflow => airflow::target(self).map(Target::Airflow),
        }
    }

    fn argo(&self) -> Result<couler_submit::Cluster, String> {
        let Some(namespace) = self.namespace.clone() else {
            return Err(
                "`namespace` is missing: name the Kubernetes namespace its runs go to".into(),
            );
        };
        match (&self.server, &self.kubeconfig) {
            (Some(_), Some(_)) => {
                return Err("give `server` or `kubeconfig`, not both".into());
            }
            (None, None) => {
                return Err("`server` (an API server URL, as `kubectl proxy` serves it) or `kubeconfig` (a file) is missing".into());
            }
            (Some(url), None) => check_url(url)?,
            (None, Some(_)) => {}
        }
        if self.context.is_some() && self.kubeconfig.is_none() {
            return Err("`context` names a context of `kubeconfig`: add `kubeconfig`".into());
        }
        Ok(couler_submit::Cluster {
            namespace: Some(namespace),
            server: self.server.clone(),
            kubeconfig: self.kubeconfig.clone(),
            context: self.context.clone(),
            // The server's retry table retries (and records) what the API server sheds.
            no_client_retry: true,
        })
    }
}

impl Kind {
    fn name(&self) -> &'static str {
        match self {
            Kind::Local => "local",
            Kind::Argo => "argo",
            Kind::Airflow => "airflow",
        }
    }
}

/// An argo cluster's `server`, an airflow cluster's `url`: an http(s) URL without credentials
/// in it.
fn check_url(url: &str) -> Result<(), String> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| format!("`server: {url}` is not an http:// or https:// URL"))?;
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.contains('@') {
        return Err(
            "the URL carries credentials: give them by name (argo: a `kubectl proxy` URL or `kubeconfig`; airflow: `username` and `passwordSecret`)"
                .into(),
        );
    }
    if authority.is_empty() {
        return Err(format!("`server: {url}` names no host"));
    }
    Ok(())
}

/// This machine's memory in MiB (`MemTotal` in /proc/meminfo; 0 where unreadable).
fn memory_mib() -> u64 {
    let text = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kib| kib / 1024)
}

mod airflow;
#[cfg(test)]
mod tests;
