//! `couler run --artifact-store s3://|gs://|oss://BUCKET/PREFIX` (and `webhdfs://HOST:PORT/PATH`)
//! end to end against servers on loopback, started as child processes as in
//! crates/couler-store/tests/{s3,cloud,webhdfs}.rs: moto's server for S3 (and for OSS's
//! S3-dialect API, path-style: no OSS server runs here, see cloud.rs) and fake-gcs-server for
//! GCS, both pinned in scripts/requirements-test.txt; for HDFS, which cannot run here, the WebHDFS
//! stand-in of crates/couler-store/tests/support. Never skipped: when a server cannot start, the
//! test fails and says why.

#[path = "../../couler-store/tests/support/servers.rs"]
mod servers;
use servers::{Server, keys, repo_root, start_fake_gcs, start_moto, start_webhdfs};

use std::path::Path;
use std::process::{Command, Output};

const BUCKET: &str = "couler-run-test";
const PREFIX: &str = "team/artifacts";

/// One object store under test: its URL scheme, server and the environment that reaches it.
struct Cloud {
    service: &'static str,
    scheme: &'static str,
    server: Server,
    env: Vec<(&'static str, String)>,
}

impl Cloud {
    /// Starts the server for `service` (`s3`, `gcs`, `oss` or `hdfs`) with a bucket (for HDFS,
    /// a top directory of that name).
    fn start(service: &'static str, dir: &Path) -> Cloud {
        let server = match service {
            "gcs" => start_fake_gcs(dir, BUCKET),
            "hdfs" => start_webhdfs(dir),
            _ => start_moto(dir, BUCKET),
        };
        let (scheme, env) = match service {
            "hdfs" => ("webhdfs", vec![("HADOOP_USER_NAME", "ml".to_string())]),
            "s3" => (
                "s3",
                vec![
                    ("AWS_ENDPOINT_URL", server.endpoint()),
                    ("AWS_REGION", "us-east-1".into()),
                    ("AWS_ACCESS_KEY_ID", "testing".into()),
                    ("AWS_SECRET_ACCESS_KEY", "testing".into()),
                ],
            ),
            "gcs" => (
                "gs",
                vec![(
                    "STORAGE_EMULATOR_HOST",
                    format!("127.0.0.1:{}", server.port),
                )],
            ),
            _ => (
                "oss",
                vec![
                    ("OSS_ENDPOINT", server.endpoint()),
                    ("OSS_ADDRESSING_STYLE", "path".into()),
                    ("OSS_ACCESS_KEY_ID", "testing".into()),
                    ("OSS_ACCESS_KEY_SECRET", "testing".into()),
                ],
            ),
        };
        Cloud {
            service,
            scheme,
            server,
            env,
        }
    }

    /// The `--artifact-store` location of `PREFIX` in the bucket.
    fn location(&self) -> String {
        match self.service {
            "hdfs" => format!("webhdfs://127.0.0.1:{}/{BUCKET}/{PREFIX}", self.server.port),
            _ => format!("{}://{BUCKET}/{PREFIX}", self.scheme),
        }
    }

    /// `couler ARGS` in `dir` with this cloud's environment and nothing inherited that could
    /// point elsewhere.
    fn couler(&self, dir: &Path, args: &[&str], store_env: Option<&str>) -> Output {
        let store = store_env.map(|s| ("COULER_ARTIFACT_STORE", s.to_string()));
        self.couler_with(dir, args, store.as_slice())
    }

    /// `couler ARGS` as [`Cloud::couler`] does, with `extra` variables set besides.
    fn couler_with(&self, dir: &Path, args: &[&str], extra: &[(&str, String)]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_couler"));
        cmd.args(args).current_dir(dir);
        for var in [
            "COULER_STATE_DIR",
            "COULER_ARTIFACT_STORE",
            "AWS_SESSION_TOKEN",
            "AWS_DEFAULT_REGION",
            "OSS_SESSION_TOKEN",
            "COULER_WEBHDFS_ENDPOINT",
        ] {
            cmd.env_remove(var);
        }
        cmd.envs(self.env.iter().map(|(k, v)| (*k, v)));
        cmd.envs(extra.iter().map(|(k, v)| (*k, v)));
        cmd.output()
            .unwrap_or_else(|e| panic!("the couler binary runs: {e}"))
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(&out.stdout)))
}

fn statuses(report: &serde_json::Value) -> Vec<(String, String)> {
    report["steps"]
        .as_array()
        .unwrap_or_else(|| panic!("no steps in {report}"))
        .iter()
        .map(|s| {
            (
                s["node"].as_str().unwrap_or("").to_string(),
                s["status"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// Runs examples/artifact-passing.yaml with its artifacts in the cloud's bucket, then again
/// through COULER_ARTIFACT_STORE: the producer Cached, nothing new stored.
fn artifact_passing_then_cached(dir: &Path, cloud: &Cloud) {
    let example = repo_root().join("examples/artifact-passing.yaml");
    let example = example.display().to_string();
    let location = cloud.location();
    let service = cloud.service;

    // First run: every artifact goes to the bucket, none to the state directory.
    let out = cloud.couler(dir, &["run", &example, "--artifact-store", &location], None);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{service}: {}\n{}\nserver log:\n{}",
        text(&out.stdout),
        text(&out.stderr),
        cloud.server.log_tail()
    );
    assert!(
        text(&out.stdout).contains("hello world"),
        "{service}: the consumer prints the producer's message: {}",
        text(&out.stdout)
    );
    let stored = keys(&cloud.server, service, BUCKET);
    let blobs: Vec<&String> = stored
        .iter()
        .filter(|k| k.starts_with(&format!("{PREFIX}/blobs/sha256/")))
        .collect();
    assert!(
        !blobs.is_empty(),
        "{service}: no blobs in the bucket: {stored:?}"
    );
    assert!(
        blobs
            .iter()
            .all(|k| k.len() == PREFIX.len() + "/blobs/sha256/".len() + 2 + 1 + 64),
        "{service}: {blobs:?}"
    );
    let local_count = std::fs::read_dir(dir.join(".couler/artifacts/blobs"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(local_count, 0, "{service}: nothing goes to the local store");

    // The run records its store.
    let out = cloud.couler(dir, &["runs", "-o", "json"], None);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let runs = json(&out);
    assert_eq!(
        runs[0]["artifactStore"],
        location.as_str(),
        "{service}: {runs}"
    );

    // Second run, through COULER_ARTIFACT_STORE this time: the producer comes from the cache,
    // whose artifact is checked in the bucket; the consumer declares no outputs, so it runs
    // again (docs/spec.md §14.8), reading the artifact from the bucket.
    let out = cloud.couler(dir, &["run", &example, "-o", "json"], Some(&location));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{service}: {}",
        text(&out.stderr)
    );
    let report = json(&out);
    let mut st = statuses(&report);
    st.sort();
    assert_eq!(
        st,
        [
            ("consumer".to_string(), "Succeeded".to_string()),
            ("producer".to_string(), "Cached".to_string())
        ],
        "{service}: {report}"
    );
    assert_eq!(
        keys(&cloud.server, service, BUCKET),
        stored,
        "{service}: a cached run stores nothing new"
    );
}

#[test]
fn artifact_passing_through_an_s3_store_then_cached() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    artifact_passing_then_cached(tmp.path(), &Cloud::start("s3", tmp.path()));
}

#[test]
fn artifact_passing_through_a_gcs_store_then_cached() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    artifact_passing_then_cached(tmp.path(), &Cloud::start("gcs", tmp.path()));
}

#[test]
fn artifact_passing_through_an_oss_store_then_cached() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    artifact_passing_then_cached(tmp.path(), &Cloud::start("oss", tmp.path()));
}

#[test]
fn bad_artifact_store_locations_are_invalid_input() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let example = repo_root().join("examples/artifact-passing.yaml");
    let example = example.display().to_string();
    // A file where a directory is needed.
    let file = tmp.path().join("not-a-dir");
    std::fs::write(&file, b"x").unwrap_or_else(|e| panic!("{e}"));
    let file = file.display().to_string();
    for (location, says) in [
        ("s3://", "bucket name is missing"),
        ("s3://Bad_Bucket/x", "not a valid S3 bucket name"),
        ("hdfs://bucket/x", "give webhdfs://NAMENODE:HTTP_PORT/PATH"),
        ("webhdfs://namenode/x", "is not NAMENODE:PORT"),
        // Cloud stores without credentials or endpoint name what to set.
        ("s3://some-bucket", "AWS_ACCESS_KEY_ID"),
        ("gs://some-bucket", "GOOGLE_APPLICATION_CREDENTIALS"),
        ("oss://some-bucket", "OSS_ENDPOINT"),
        (file.as_str(), "artifact store"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_couler"))
            .args(["run", &example, "--artifact-store", location])
            .current_dir(tmp.path())
            .env_remove("COULER_STATE_DIR")
            .env_remove("COULER_ARTIFACT_STORE")
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env_remove("STORAGE_EMULATOR_HOST")
            .env_remove("GOOGLE_APPLICATION_CREDENTIALS")
            .env_remove("OSS_ENDPOINT")
            // No gcloud well-known credentials file either.
            .env("HOME", tmp.path())
            .output()
            .unwrap_or_else(|e| panic!("the couler binary runs: {e}"));
        assert_eq!(
            out.status.code(),
            Some(2),
            "{location}: {}",
            text(&out.stderr)
        );
        assert!(
            text(&out.stderr).contains(says),
            "{location}: {}",
            text(&out.stderr)
        );
    }
}

#[test]
fn resume_keeps_the_runs_store_and_refuses_another() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let store = tmp.path().join("my-store");
    // A workflow whose second step fails until a marker file exists.
    let marker = tmp.path().join("ok");
    let spec = format!(
        r#"apiVersion: couler.dev/v1alpha1
kind: Workflow
name: resume-store
steps:
  - name: producer
    container:
      image: alpine:3.19
      command: [sh, -c, "echo hi > {{{{outputs.artifacts.m.path}}}}"]
    outputs:
      artifacts:
        - name: m
          path: m.txt
  - name: consumer
    container:
      image: alpine:3.19
      command: [sh, -c, "test -f {marker} && cat {{{{inputs.artifacts.m.path}}}}"]
    inputs:
      artifacts:
        - name: m
          path: m.txt
          from: steps.producer.outputs.artifacts.m
"#,
        marker = marker.display()
    );
    let file = tmp.path().join("wf.yaml");
    std::fs::write(&file, spec).unwrap_or_else(|e| panic!("{e}"));
    let couler = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_couler"))
            .args(args)
            .current_dir(tmp.path())
            .env_remove("COULER_STATE_DIR")
            .env_remove("COULER_ARTIFACT_STORE")
            .output()
            .unwrap_or_else(|e| panic!("the couler binary runs: {e}"))
    };
    let store_s = store.display().to_string();
    let file_s = file.display().to_string();
    let out = couler(&["run", &file_s, "--artifact-store", &store_s, "-o", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let run_id = json(&out)["runId"].as_str().unwrap_or("").to_string();
    assert!(!run_id.is_empty());
    assert!(
        store.join("blobs/sha256").is_dir(),
        "the producer's artifact is in my-store"
    );

    // Another store: refused, nothing runs.
    let other = tmp.path().join("other-store").display().to_string();
    let out = couler(&["resume", &run_id, "--artifact-store", &other]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains(&store_s)
            && text(&out.stderr).contains("resume it with that store"),
        "{}",
        text(&out.stderr)
    );

    // Without a flag, resume uses the recorded store: the consumer gets the producer's file.
    std::fs::write(&marker, b"").unwrap_or_else(|e| panic!("{e}"));
    let out = couler(&["resume", &run_id]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("hi"), "{}", text(&out.stdout));
    assert!(
        !tmp.path().join(".couler/artifacts/blobs").exists()
            || std::fs::read_dir(tmp.path().join(".couler/artifacts/blobs"))
                .map(|d| d.count())
                .unwrap_or(0)
                == 0,
        "nothing goes to the state directory's store"
    );
}

#[test]
fn artifact_passing_through_an_hdfs_store_then_cached() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let cloud = Cloud::start("hdfs", tmp.path());
    artifact_passing_then_cached(tmp.path(), &cloud);

    // A workflow's `artifactRepository: hdfs` is used once COULER_WEBHDFS_ENDPOINT gives the
    // NameNode's HTTP address (its `addresses` are RPC ones).
    let spec = tmp.path().join("hdfs-repo.yaml");
    std::fs::write(
        &spec,
        r#"apiVersion: couler.dev/v1alpha1
kind: Workflow
name: hdfs-repo
artifactRepository:
  hdfs: {addresses: ["nn:8020"], path: /repo/couler, user: ml}
steps:
  - name: producer
    script:
      command: [sh]
      source: echo from-the-repository > {{outputs.artifacts.m.path}}
    outputs:
      artifacts:
        - name: m
          path: m.txt
"#,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let spec = spec.display().to_string();
    let endpoint = [("COULER_WEBHDFS_ENDPOINT", cloud.server.endpoint())];
    let out = cloud.couler_with(tmp.path(), &["run", &spec], &endpoint);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stored = keys(&cloud.server, "hdfs", "repo");
    assert!(
        stored.iter().any(|k| k.starts_with("couler/blobs/sha256/")),
        "the artifact is in the repository's HDFS directory: {stored:?}"
    );
}

fn blob_count(root: &Path) -> usize {
    std::fs::read_dir(root.join("blobs/sha256"))
        .map(|d| {
            d.flatten()
                .map(|shard| {
                    std::fs::read_dir(shard.path())
                        .map(|f| f.count())
                        .unwrap_or(0)
                })
                .sum()
        })
        .unwrap_or(0)
}

#[test]
fn precedence_flag_then_env_then_artifact_repository_then_state_dir() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let wf = |name: &str, repo: &str, msg: &str| {
        let spec = format!(
            r#"apiVersion: couler.dev/v1alpha1
kind: Workflow
name: {name}
{repo}
steps:
  - name: producer
    container:
      image: alpine:3.19
      command: [sh, -c, "echo {msg} > {{{{outputs.artifacts.m.path}}}}"]
    outputs:
      artifacts:
        - name: m
          path: m.txt
"#
        );
        let file = tmp.path().join(format!("{name}.yaml"));
        std::fs::write(&file, spec).unwrap_or_else(|e| panic!("{e}"));
        file.display().to_string()
    };
    let couler = |args: &[&str], env_store: Option<&str>| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_couler"));
        c.args(args)
            .current_dir(tmp.path())
            .env_remove("COULER_STATE_DIR")
            .env_remove("COULER_ARTIFACT_STORE")
            .env_remove("COULER_WEBHDFS_ENDPOINT");
        if let Some(s) = env_store {
            c.env("COULER_ARTIFACT_STORE", s);
        }
        let out = c
            .output()
            .unwrap_or_else(|e| panic!("the couler binary runs: {e}"));
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    };
    let with_repo = wf(
        "repo",
        "artifactRepository:\n  local: {path: repo-store}",
        "a",
    );
    // The workflow's artifactRepository (a relative path: against the current directory).
    couler(&["run", &with_repo], None);
    assert_eq!(blob_count(&tmp.path().join("repo-store")), 1);
    // The environment beats it; the flag beats the environment.
    let wf2 = wf(
        "repo2",
        "artifactRepository:\n  local: {path: repo-store}",
        "b",
    );
    couler(&["run", &wf2], Some("env-store"));
    assert_eq!(blob_count(&tmp.path().join("env-store")), 1);
    let wf3 = wf(
        "repo3",
        "artifactRepository:\n  local: {path: repo-store}",
        "c",
    );
    couler(
        &["run", &wf3, "--artifact-store", "flag-store"],
        Some("env-store"),
    );
    assert_eq!(blob_count(&tmp.path().join("flag-store")), 1);
    assert_eq!(blob_count(&tmp.path().join("env-store")), 1);
    assert_eq!(blob_count(&tmp.path().join("repo-store")), 1);
    // A repository the local runtime cannot reach (HDFS without COULER_WEBHDFS_ENDPOINT): the
    // state directory's store.
    let hdfs = wf(
        "hdfs",
        "artifactRepository:\n  hdfs: {addresses: [\"nn:8020\"], path: /x}",
        "d",
    );
    couler(&["run", &hdfs], None);
    assert_eq!(blob_count(&tmp.path().join(".couler/artifacts")), 1);
}
