//! The artifact store on HDFS through WebHDFS. No HDFS can run on the machines Couler is built
//! on (Hadoop is in none of the registries they reach), so these run against a stand-in written
//! from Hadoop's WebHDFS REST API documentation (`support/webhdfs_standin.py`), which keeps the
//! behaviour the store's design rests on: a file is visible under its name while it is being
//! written and stays there, short, when its writer dies; RENAME never replaces a file and answers
//! `false` rather than an error. Never skipped: when the stand-in cannot start, the test fails.

mod common;
#[path = "support/servers.rs"]
mod servers;
use servers::{Server, files_under, http, start_webhdfs};

use couler_store::{ArtifactStore, Location, StoreErrorKind};
use std::time::{Duration, SystemTime};

const ROOT: &str = "/couler-test/team/artifacts";

fn config(server: &Server) -> Location {
    Location::Hdfs {
        endpoint: server.endpoint(),
        root: ROOT.into(),
        user: Some("ml".into()),
    }
}

/// The stand-in's directory for the store's root.
fn root_dir(server: &Server) -> std::path::PathBuf {
    server
        .data
        .as_ref()
        .expect("the stand-in's data")
        .join(ROOT.trim_start_matches('/'))
}

/// Tells the stand-in to misbehave (`/standin/fail`), or resets its request log.
fn control(server: &Server, path: &str, body: &str) {
    let (status, resp) = http(server.port, "POST", path, body.as_bytes()).expect("control");
    assert_eq!(status, 200, "{path} {body}: {resp}");
}

/// The next `count` datanode writes stop after `after_bytes` bytes and drop the connection.
fn cut_uploads(server: &Server, after_bytes: usize, count: usize) {
    let fault = format!(
        r#"{{"op": "CREATE", "path_contains": "/", "after_bytes": {after_bytes}, "count": {count}}}"#
    );
    control(server, "/standin/fail", &fault);
}

/// The ops the stand-in received since the last reset.
fn ops(server: &Server) -> Vec<String> {
    let (status, resp) = http(server.port, "GET", "/standin/requests", b"").expect("requests");
    assert_eq!(status, 200, "{resp}");
    let body = resp.split("\r\n\r\n").nth(1).unwrap_or_default();
    let list: serde_json::Value =
        serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
    list.as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["op"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhdfs_round_trips_through_staging_and_rename() {
    let tmp = tempfile::tempdir().unwrap();
    let server = start_webhdfs(tmp.path());
    let store = ArtifactStore::open(&config(&server)).await.unwrap();
    assert_eq!(
        store.location(),
        format!("webhdfs://127.0.0.1:{}{ROOT}", server.port)
    );

    // The same checks as on the local filesystem and S3.
    common::round_trips(&store, tmp.path()).await;

    // A blob is written under .tmp/ and renamed into place: nothing is left under .tmp/ but
    // directories, and the blob is at blobs/sha256/<2 hex>/<hex>.
    control(&server, "/standin/reset", "");
    let file = tmp.path().join("layout.txt");
    std::fs::write(&file, b"layout").unwrap();
    let a = store.put(&file).await.unwrap();
    let hex = a.digest.trim_start_matches("sha256:");
    let blob = root_dir(&server).join(format!("blobs/sha256/{}/{hex}", &hex[..2]));
    assert_eq!(std::fs::read(&blob).unwrap(), b"layout");
    assert_eq!(
        files_under(&root_dir(&server).join(".tmp")),
        Vec::<String>::new()
    );
    let seen = ops(&server);
    assert!(
        seen.contains(&"CREATE".to_string()) && seen.contains(&"RENAME".to_string()),
        "{seen:?}"
    );

    // A blob bigger than one upload block (8 MiB) goes up in blocks, concatenated, renamed.
    control(&server, "/standin/reset", "");
    let big: Vec<u8> = (0..9 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
    let big_file = tmp.path().join("big.bin");
    std::fs::write(&big_file, &big).unwrap();
    let b = store.put(&big_file).await.unwrap();
    assert_eq!(b.size, big.len() as u64);
    let out = tmp.path().join("big.out");
    store.get(&b, &out).await.unwrap();
    assert!(
        std::fs::read(&out).unwrap() == big,
        "the 9 MiB blob round trips"
    );
    let seen = ops(&server);
    assert!(seen.contains(&"CONCAT".to_string()), "{seen:?}");
    assert_eq!(
        files_under(&root_dir(&server).join(".tmp")),
        Vec::<String>::new()
    );

    // The same content again: HDFS refuses to rename over the blob, which is whole; the
    // staged copy goes.
    let again = store.put(&big_file).await.unwrap();
    assert_eq!(again, b);
    assert_eq!(
        files_under(&root_dir(&server).join(".tmp")),
        Vec::<String>::new()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_cut_short_never_shows_a_blob() {
    let tmp = tempfile::tempdir().unwrap();
    let server = start_webhdfs(tmp.path());
    let store = ArtifactStore::open(&config(&server)).await.unwrap();
    let file = tmp.path().join("model.bin");
    std::fs::write(&file, b"weights and biases").unwrap();

    // Every datanode write drops its connection after 5 bytes, as a dying writer would, and
    // HDFS keeps the short file under its name. More failures than the store retries.
    cut_uploads(&server, 5, 50);
    let err = store.put(&file).await.unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::Backend, "{err}");
    // Nothing under blobs/: the short file is a staging name, never a blob's key.
    let blobs: Vec<String> = files_under(&root_dir(&server))
        .into_iter()
        .filter(|f| f.starts_with("blobs/"))
        .collect();
    assert_eq!(blobs, Vec::<String>::new());
    assert!(store.list().await.unwrap().is_empty());

    // Once HDFS behaves, the same put stores the whole blob (it is not mistaken for present).
    control(&server, "/standin/fail", r#"{"op": "CREATE", "count": 0}"#);
    let a = store.put(&file).await.unwrap();
    assert!(store.contains(&a.digest).await.unwrap());
    let out = tmp.path().join("out.bin");
    store.get(&a, &out).await.unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), b"weights and biases");

    // One dropped upload is retried, as other transient failures are.
    let other = tmp.path().join("other.bin");
    std::fs::write(&other, b"another artifact").unwrap();
    cut_uploads(&server, 3, 1);
    let o = store.put(&other).await.unwrap();
    store.get(&o, &out).await.unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), b"another artifact");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_are_retried_and_stale_staging_is_collected() {
    let tmp = tempfile::tempdir().unwrap();
    let server = start_webhdfs(tmp.path());
    let store = ArtifactStore::open(&config(&server)).await.unwrap();

    // Two 500s in a row (any op, the RENAME included) do not fail a put.
    control(
        &server,
        "/standin/fail",
        r#"{"op": "ANY", "status": 500, "count": 2}"#,
    );
    let file = tmp.path().join("a.txt");
    std::fs::write(&file, b"retried").unwrap();
    let a = store.put(&file).await.unwrap();
    assert!(store.contains(&a.digest).await.unwrap());

    // What a crashed writer left under .tmp/ an hour and more ago goes when a store opens; a
    // young file may be a live writer's and stays.
    let staging = root_dir(&server).join(".tmp");
    std::fs::create_dir_all(staging.join("blocks")).unwrap();
    for (name, age) in [("old.1", 7200), ("blocks/old-block", 7200), ("young.1", 60)] {
        let path = staging.join(name);
        std::fs::write(&path, b"partial").unwrap();
        let when = SystemTime::now() - Duration::from_secs(age);
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(when)
            .unwrap();
    }
    drop(ArtifactStore::open(&config(&server)).await.unwrap());
    assert_eq!(files_under(&staging), vec!["young.1".to_string()]);
}

#[tokio::test]
async fn bad_webhdfs_configurations_say_what_to_fix() {
    let err = ArtifactStore::open(&Location::Hdfs {
        endpoint: "namenode:9870".into(),
        root: "/x".into(),
        user: None,
    })
    .await
    .unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::Config);
    assert!(err.to_string().contains("http://namenode:9870"), "{err}");
}
