//! The artifact store against a real S3-compatible server: moto's server (pinned in
//! scripts/requirements-test.txt), started on loopback as a child process. Never skipped: when
//! the server cannot start, the test fails and says why.

mod common;
#[path = "support/servers.rs"]
mod servers;
use servers::{FlakyProxy, Server, start_moto};

use couler_store::{ArtifactKind, ArtifactStore, Location, StoreErrorKind, StoredArtifact};
use sha2::{Digest, Sha256};

const BUCKET: &str = "couler-test";
const PREFIX: &str = "team/artifacts";

fn config(server: &Server, bucket: &str) -> Location {
    Location::S3 {
        bucket: bucket.into(),
        prefix: PREFIX.into(),
        endpoint: Some(server.endpoint()),
        region: Some("us-east-1".into()),
        access_key_id: Some("testing".into()),
        secret_access_key: Some("testing".into()),
    }
}

/// A plain opendal operator on the bucket, to look at and plant objects behind the store's back.
fn raw_operator(server: &Server) -> opendal::Operator {
    let builder = opendal::services::S3::default()
        .bucket(BUCKET)
        .endpoint(&server.endpoint())
        .region("us-east-1")
        .access_key_id("testing")
        .secret_access_key("testing")
        .disable_config_load()
        .disable_ec2_metadata();
    opendal::Operator::new(builder).unwrap()
}

fn hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_against_moto_server() {
    let tmp = tempfile::tempdir().unwrap();
    let server = start_moto(tmp.path(), BUCKET);
    let store = ArtifactStore::open(&config(&server, BUCKET)).await.unwrap();
    assert_eq!(store.location(), format!("s3://{BUCKET}/{PREFIX}"));

    // The same checks as on the local filesystem.
    common::round_trips(&store, tmp.path()).await;

    // Objects live under <prefix>/blobs/sha256/<2 hex>/<hex>.
    let file = tmp.path().join("layout.txt");
    std::fs::write(&file, b"layout").unwrap();
    let a = store.put(&file).await.unwrap();
    let h = hex(b"layout");
    let raw = raw_operator(&server);
    let key = format!("{PREFIX}/blobs/sha256/{}/{h}", &h[..2]);
    assert_eq!(raw.read(&key).await.unwrap().to_vec(), b"layout");

    // Foreign objects under the prefix are not listed as blobs.
    raw.write(
        &format!("{PREFIX}/blobs/sha256/zz/not-a-blob"),
        b"junk".to_vec(),
    )
    .await
    .unwrap();
    raw.write(
        &format!("{PREFIX}/blobs/sha256/{}/{h}.tmp", &h[..2]),
        b"junk".to_vec(),
    )
    .await
    .unwrap();
    let listed = store.list().await.unwrap();
    assert!(listed.iter().all(|(d, _)| d.len() == 71), "{listed:?}");
    assert!(listed.contains(&(a.digest.clone(), 6)), "{listed:?}");

    // A multipart upload (several 8 MiB parts) round-trips.
    let big = tmp.path().join("big.bin");
    let content: Vec<u8> = (0..20 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&big, &content).unwrap();
    let b = store.put(&big).await.unwrap();
    assert_eq!(b.size, content.len() as u64);
    assert_eq!(store.size(&b.digest).await.unwrap(), content.len() as u64);
    let out = tmp.path().join("big.out");
    store.get(&b, &out).await.unwrap();
    assert!(
        std::fs::read(&out).unwrap() == content,
        "multipart content differs"
    );

    // A blob whose content does not match its key is reported as corrupt.
    let lie = hex(b"the truth");
    raw.write(
        &format!("{PREFIX}/blobs/sha256/{}/{lie}", &lie[..2]),
        b"a lie".to_vec(),
    )
    .await
    .unwrap();
    let err = store
        .get(
            &StoredArtifact {
                digest: format!("sha256:{lie}"),
                size: 9,
                kind: ArtifactKind::File,
            },
            &tmp.path().join("lie"),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::Corrupt, "{err}");
    assert!(!tmp.path().join("lie").exists());

    // A bucket that does not exist: a clear backend error naming the object and a fix.
    let missing = ArtifactStore::open(&config(&server, "no-such-bucket"))
        .await
        .unwrap();
    let err = missing.put(&file).await.unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("s3://no-such-bucket/"), "{msg}");
    assert!(msg.contains("bucket exists"), "{msg}");

    drop(server);
}

/// A service that answers 500 now and then (as S3, GCS and OSS all do) costs a retry, not the
/// step: the first two requests through the proxy fail, and the put and get still succeed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_server_errors_are_retried() {
    let tmp = tempfile::tempdir().unwrap();
    let server = start_moto(tmp.path(), BUCKET);
    let proxy = FlakyProxy::start(server.port, 2);
    let mut cfg = config(&server, BUCKET);
    if let Location::S3 { endpoint, .. } = &mut cfg {
        *endpoint = Some(format!("http://127.0.0.1:{}", proxy.port));
    }
    let store = ArtifactStore::open(&cfg).await.unwrap();
    let file = tmp.path().join("retried.txt");
    std::fs::write(&file, b"worth a retry").unwrap();
    let a = store.put(&file).await.unwrap();
    assert_eq!(proxy.served.load(std::sync::atomic::Ordering::SeqCst), 2);
    let back = tmp.path().join("back.txt");
    store.get(&a, &back).await.unwrap();
    assert_eq!(std::fs::read(&back).unwrap(), b"worth a retry");
}
