use super::*;

const GOOD: &str = "
clusters:
- name: cpu-a
  kind: local
  capacity: {cpu: 16, memory: 64Gi}
  labels: {zone: a}
  workers: 8
- name: gpu-b
  kind: local
  capacity: {cpu: \"8\", memory: 32Gi, gpu: 2}
users:
  ann: {cpu: 4, memory: 8Gi, gpu: 1}
teams:
  vision:
    members: [bob, cy]
    quota: {cpu: 12, gpu: 2}
queue: {priority: 6, agingSecs: 120}
retry: {maxAttempts: 2}
";

#[test]
fn a_config_is_read_into_clusters_quotas_weights_and_retry_limits() {
    let c = Config::parse(GOOD, "server.yaml").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.clusters.len(), 2);
    assert_eq!(c.clusters[0].capacity, Resources::new(16_000, 65_536, 0));
    assert_eq!(c.clusters[1].capacity, Resources::new(8_000, 32_768, 2));
    assert_eq!(c.clusters[0].labels["zone"], "a");
    assert_eq!(c.workers, [8, 4]);
    assert_eq!(c.quotas["ann"], Resources::new(4_000, 8_192, 1));
    // A team's absent resource is unlimited.
    assert_eq!(c.quotas["team:vision"], Resources::new(12_000, u64::MAX, 2));
    assert_eq!(c.account_of("bob"), "team:vision");
    assert_eq!(c.account_of("ann"), "ann");
    assert_eq!((c.weights.priority, c.weights.aging_secs), (6.0, 120.0));
    assert_eq!(c.weights.capacity, Weights::default().capacity);
    assert_eq!(c.retry.max_attempts, 2);
    assert!(c.retry.enabled);
}

#[test]
fn an_unknown_key_is_refused_naming_the_file_line_and_key() {
    let text = GOOD.replace("  workers: 8", "  wokers: 8");
    let e = Config::parse(&text, "server.yaml").expect_err("accepted a typo");
    assert!(e.starts_with("server.yaml:7:"), "{e}");
    assert!(e.contains("unknown field `wokers`"), "{e}");
}

#[test]
fn impossible_settings_are_refused_with_what_to_do() {
    for (from, to, says) in [
        (
            "kind: local\n  capacity: {cpu: 16",
            "kind: tekton\n  capacity: {cpu: 16",
            "server.yaml:4:",
        ),
        ("cpu: 16,", "cpu: lots,", "not a quantity"),
        ("name: gpu-b", "name: cpu-a", "declared twice"),
        ("workers: 8", "workers: 0", "at least 1"),
        (
            "quota: {cpu: 12, gpu: 2}",
            "quota: {cpu: 12, gpu: 2}\n  other:\n    members: [cy]\n    quota: {}",
            "counts against one team",
        ),
        ("agingSecs: 120", "agingSecs: 0", "must be above 0"),
    ] {
        assert_refused(GOOD, from, to, says);
    }
    let e = Config::parse("clusters: []\n", "s.yaml").expect_err("no cluster");
    assert!(e.contains("at least one"), "{e}");
}

#[test]
fn without_a_file_one_local_cluster_has_this_machines_cores_and_no_quotas() {
    let c = Config::this_machine(3);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get() as u64);
    assert_eq!(c.clusters.len(), 1);
    assert_eq!(c.clusters[0].capacity.cpu_milli, cores * 1000);
    assert!(c.clusters[0].capacity.mem_mib > 0);
    assert_eq!(c.clusters[0].capacity.gpu, 0);
    assert_eq!(c.workers, [3]);
    assert!(c.quotas.is_empty());
}

/// The first YAML example after `heading` in docs/server.md.
fn doc_example(heading: &str) -> String {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/server.md"))
        .unwrap_or_else(|e| panic!("{e}"));
    let (_, after) = doc
        .split_once(heading)
        .unwrap_or_else(|| panic!("no {heading} section"));
    let (_, block) = after
        .split_once("```yaml\n")
        .unwrap_or_else(|| panic!("no yaml example after {heading}"));
    let (yaml, _) = block
        .split_once("```")
        .unwrap_or_else(|| panic!("unclosed"));
    yaml.to_string()
}

#[test]
fn the_example_in_docs_server_md_is_a_valid_config() {
    let yaml = doc_example("## Configuration");
    let c = Config::parse(&yaml, "docs/server.md").unwrap_or_else(|e| panic!("{e}"));
    assert!(c.clusters.len() >= 2, "{c:?}");
    assert!(!c.quotas.is_empty(), "{c:?}");
    assert!(
        c.targets.iter().any(|t| matches!(t, Target::Argo(_))),
        "the example shows an argo cluster: {c:?}"
    );
}

/// `base` with `from` replaced by `to` is refused saying `says`.
fn assert_refused(base: &str, from: &str, to: &str, says: &str) {
    let text = base.replacen(from, to, 1);
    assert_ne!(text, base, "{from}");
    let e = Config::parse(&text, "server.yaml").expect_err(to);
    assert!(e.contains(says), "{to}: {e}");
}

const ARGO: &str = "
clusters:
- name: k8s
  kind: argo
  server: http://127.0.0.1:8001
  namespace: ml
  capacity: {cpu: 64, memory: 256Gi}
  workers: 20
- name: k8s-b
  kind: argo
  kubeconfig: /etc/couler/kubeconfig
  context: prod
  namespace: batch
  capacity: {cpu: 8}
";

#[test]
fn an_argo_cluster_is_read_with_its_api_server_and_namespace() {
    let c = Config::parse(ARGO, "server.yaml").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.workers, [20, 4]);
    let Target::Argo(k) = &c.targets[0] else {
        panic!("{:?}", c.targets[0]);
    };
    assert_eq!(k.server.as_deref(), Some("http://127.0.0.1:8001"));
    assert_eq!(k.namespace.as_deref(), Some("ml"));
    assert_eq!(k.kubeconfig, None);
    let Target::Argo(k) = &c.targets[1] else {
        panic!("{:?}", c.targets[1]);
    };
    assert_eq!(
        k.kubeconfig.as_deref(),
        Some(Path::new("/etc/couler/kubeconfig"))
    );
    assert_eq!(
        (k.context.as_deref(), k.namespace.as_deref()),
        (Some("prod"), Some("batch"))
    );
    assert!(matches!(
        Config::parse(GOOD, "s.yaml").map(|c| c.targets),
        Ok(t) if matches!(t[..], [Target::Local, Target::Local])
    ));
}

#[test]
fn an_argo_cluster_missing_or_mixing_keys_is_refused_with_what_to_do() {
    for (from, to, says) in [
        ("  namespace: ml\n", "", "`namespace` is missing"),
        (
            "  server: http://127.0.0.1:8001\n",
            "",
            "`server` (an API server URL",
        ),
        (
            "server: http://127.0.0.1:8001",
            "server: http://admin:pw@10.0.0.1",
            "carries credentials",
        ),
        (
            "server: http://127.0.0.1:8001",
            "server: 10.0.0.1:6443",
            "not an http",
        ),
        (
            "  namespace: ml",
            "  namespace: ml\n  kubeconfig: /k",
            "not both",
        ),
        (
            "  kubeconfig: /etc/couler/kubeconfig\n",
            "  server: http://h\n",
            "`context` names a context",
        ),
        (
            "  server:",
            "  servr:",
            "server.yaml:5:3: clusters[0]: unknown field `servr`",
        ),
    ] {
        assert_refused(ARGO, from, to, says);
    }
    let local = GOOD.replacen("kind: local", "kind: local\n  namespace: ml", 1);
    let e = Config::parse(&local, "server.yaml").expect_err("namespace on local");
    assert!(
        e.contains("cluster `cpu-a`: `namespace` is a key of `kind: argo` clusters"),
        "{e}"
    );
}

/// An airflow cluster whose `dagsFolder` is `dags`.
fn airflow_config(dags: &Path) -> String {
    format!(
        "
clusters:
- name: af
  kind: airflow
  url: http://127.0.0.1:8081/
  dagsFolder: {}
  username: couler
  passwordSecret: ops/airflow/password
  operator: docker
  capacity: {{cpu: 8}}
",
        dags.display()
    )
}

#[test]
fn an_airflow_cluster_is_read_with_its_url_dags_folder_and_credentials_by_name() {
    let dags = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let c = Config::parse(&airflow_config(dags.path()), "server.yaml")
        .unwrap_or_else(|e| panic!("{e}"));
    let Target::Airflow(a) = &c.targets[0] else {
        panic!("{:?}", c.targets[0]);
    };
    assert_eq!(a.url, "http://127.0.0.1:8081");
    assert_eq!(a.dags_folder, dags.path());
    assert_eq!(
        a.credentials,
        ("couler".to_string(), "ops/airflow/password".to_string())
    );
    assert_eq!(a.operator, couler_backends::Operator::Docker);
    assert_eq!(
        (a.launcher.as_deref(), a.parse_timeout.as_secs()),
        (None, 330)
    );
}

#[test]
fn an_airflow_cluster_missing_or_mixing_keys_is_refused_with_what_to_do() {
    let dags = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let good = airflow_config(dags.path());
    let folder = format!("dagsFolder: {}", dags.path().display());
    for (from, to, says) in [
        ("  url: http://127.0.0.1:8081/\n", "", "`url` is missing"),
        (folder.as_str(), "", "`dagsFolder` is missing"),
        (
            folder.as_str(),
            "dagsFolder: /no/such/dir",
            "is not a directory",
        ),
        ("  username: couler\n", "", "`username` is missing"),
        (
            "  passwordSecret: ops/airflow/password\n",
            "",
            "needs `passwordSecret`",
        ),
        (
            "ops/airflow/password",
            "../airflow/password",
            "is not NS/SECRET/KEY",
        ),
        ("ops/airflow/password", "hunter2", "is not NS/SECRET/KEY"),
        (
            "url: http://127.0.0.1:8081/",
            "url: http://admin:pw@127.0.0.1:8081",
            "carries credentials",
        ),
        (
            "operator: docker",
            "operator: celery",
            "write host, kubernetes or docker",
        ),
        (
            "  operator:",
            "  namespace: ml\n  operator:",
            "`namespace` is a key of `kind: argo` clusters",
        ),
        (
            "  operator: docker",
            "  password: hunter2",
            "unknown field `password`",
        ),
    ] {
        assert_refused(&good, from, to, says);
    }
    let local = GOOD.replacen("kind: local", "kind: local\n  dagsFolder: /tmp", 1);
    let e = Config::parse(&local, "server.yaml").expect_err("dagsFolder on local");
    assert!(
        e.contains("`dagsFolder` is a key of `kind: airflow` clusters; remove it from this `kind: local` one"),
        "{e}"
    );
}

#[test]
fn the_airflow_example_in_docs_server_md_is_a_valid_config() {
    let yaml = doc_example("### Airflow clusters");
    let dags = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let yaml = yaml.replace("/srv/airflow/dags", &dags.path().display().to_string());
    let c = Config::parse(&yaml, "docs/server.md").unwrap_or_else(|e| panic!("{e}"));
    assert!(
        c.targets.iter().any(|t| matches!(t, Target::Airflow(_))),
        "{c:?}"
    );
}
