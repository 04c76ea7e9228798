//! The artifact store against a real S3-compatible server: moto's server (pinned in
//! scripts/requirements-test.txt), started on loopback as a child process. Never skipped: when
//! the server cannot start, the test fails and says why.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use couler_store::{ArtifactKind, ArtifactStore, StoreConfig, StoreErrorKind, StoredArtifact};
use sha2::{Digest, Sha256};

const BUCKET: &str = "couler-test";
const PREFIX: &str = "team/artifacts";

/// Kills the server when the test ends, also when it panics.
struct Server {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let start = log.len().saturating_sub(4000);
        log.get(start..).unwrap_or(&log).to_string()
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `COULER_TEST_PYTHON`, else the venv that scripts/test-deps creates (idempotent, locked).
fn test_python() -> PathBuf {
    if let Some(p) = std::env::var_os("COULER_TEST_PYTHON").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let script = repo_root().join("scripts/test-deps");
    let out = Command::new("bash")
        .arg(&script)
        .stderr(Stdio::inherit())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
    assert!(
        out.status.success(),
        "{} failed ({}); it installs moto for this test: check network access to PyPI or set COULER_TEST_PYTHON to a python with moto[server] installed",
        script.display(),
        out.status
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let python = stdout.lines().last().unwrap_or("").trim();
    assert!(
        !python.is_empty(),
        "{} printed no python path",
        script.display()
    );
    PathBuf::from(python)
}

fn start_moto(dir: &Path) -> Server {
    let python = test_python();
    // A free port: bind to 0, read it, release it for the server.
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free loopback port");
    let log = dir.join("moto.log");
    let log_file = std::fs::File::create(&log).expect("cannot create the moto log file");
    let child = Command::new(&python)
        .args(["-m", "moto.server", "-H", "127.0.0.1", "-p", &port.to_string()])
        .stdin(Stdio::null())
        .stdout(log_file.try_clone().expect("cannot share the log file"))
        .stderr(log_file)
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot start moto with {}: {e}; run `bash scripts/test-deps` or set COULER_TEST_PYTHON",
                python.display()
            )
        });
    let mut server = Server { child, port, log };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(Some(status)) = server.child.try_wait() {
            panic!(
                "moto server exited ({status}) before answering; its log:\n{}",
                server.log_tail()
            );
        }
        if let Ok((200, _)) = http(port, "GET", "/moto-api/", b"") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "moto server did not answer on 127.0.0.1:{port} within 60 s; its log:\n{}",
            server.log_tail()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let (status, body) = http(port, "PUT", &format!("/{BUCKET}"), b"").expect("create bucket");
    assert_eq!(status, 200, "creating the bucket: {body}");
    server
}

/// One plain HTTP/1.0 request (moto accepts unsigned requests): status and body.
fn http(port: u16, method: &str, path: &str, body: &[u8]) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        s,
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )?;
    s.write_all(body)?;
    let mut resp = Vec::new();
    s.read_to_end(&mut resp)?;
    let text = String::from_utf8_lossy(&resp).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    Ok((status, text))
}

fn config(server: &Server, bucket: &str) -> StoreConfig {
    StoreConfig::S3 {
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
    let server = start_moto(tmp.path());
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
