//! The artifact store on the local filesystem: real files in a temporary directory.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, SystemTime};

use couler_store::{ArtifactKind, ArtifactStore, Location, StoreErrorKind, StoredArtifact};
use sha2::{Digest, Sha256};

async fn open(root: &Path) -> ArtifactStore {
    ArtifactStore::open(&Location::Local {
        root: root.to_path_buf(),
    })
    .await
    .unwrap()
}

fn hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn blob_path(root: &Path, hex: &str) -> std::path::PathBuf {
    root.join("blobs/sha256").join(&hex[..2]).join(hex)
}

/// Writes `bytes` straight into the store's layout, as a hostile or buggy writer could.
fn plant_blob(root: &Path, bytes: &[u8]) -> String {
    let h = hex(bytes);
    let path = blob_path(root, &h);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
    format!("sha256:{h}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_round_trips_dedup_list_delete() {
    let tmp = tempfile::tempdir().unwrap();
    let store = open(&tmp.path().join("store")).await;
    common::round_trips(&store, tmp.path()).await;
}

#[tokio::test]
async fn layout_is_blobs_sha256_shard_hex() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("store");
    let store = open(&root).await;
    let file = tmp.path().join("f");
    std::fs::write(&file, b"layout").unwrap();
    let a = store.put(&file).await.unwrap();
    let h = hex(b"layout");
    assert_eq!(a.digest, format!("sha256:{h}"));
    assert_eq!(std::fs::read(blob_path(&root, &h)).unwrap(), b"layout");
}

#[tokio::test]
async fn clones_share_the_store_and_are_send_sync() {
    fn assert_send_sync<T: Send + Sync + Clone>() {}
    assert_send_sync::<ArtifactStore>();
    let tmp = tempfile::tempdir().unwrap();
    let store = open(&tmp.path().join("store")).await;
    let file = tmp.path().join("f");
    std::fs::write(&file, b"shared").unwrap();
    // Concurrent puts of the same content from several tasks: one blob, same digest.
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let store = store.clone();
        let file = file.clone();
        tasks.push(tokio::spawn(async move { store.put(&file).await }));
    }
    let mut digests = Vec::new();
    for t in tasks {
        digests.push(t.await.unwrap().unwrap().digest);
    }
    digests.dedup();
    assert_eq!(digests.len(), 1);
    assert_eq!(store.list().await.unwrap().len(), 1);
}

#[tokio::test]
async fn crash_leftovers_are_invisible_and_cleaned() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("store");
    let store = open(&root).await;
    // What a writer killed mid-upload leaves: a partial temp file named after its target.
    let content = b"the complete artifact";
    let h = hex(content);
    let leftover = root.join(".tmp").join(format!("{h}.deadbeef"));
    std::fs::write(&leftover, b"the compl").unwrap();
    assert!(!store.contains(&format!("sha256:{h}")).await.unwrap());
    assert!(store.list().await.unwrap().is_empty());
    // Storing the artifact afterwards is unaffected by the leftover.
    let file = tmp.path().join("f");
    std::fs::write(&file, content).unwrap();
    let a = store.put(&file).await.unwrap();
    let out = tmp.path().join("out");
    store.get(&a, &out).await.unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), content);
    // A young leftover may belong to a live writer: kept. An old one is removed on open.
    drop(store);
    let _ = open(&root).await;
    assert!(leftover.exists());
    let f = std::fs::File::options()
        .write(true)
        .open(&leftover)
        .unwrap();
    f.set_modified(SystemTime::now() - Duration::from_secs(2 * 3600))
        .unwrap();
    drop(f);
    let store = open(&root).await;
    assert!(!leftover.exists(), "stale temp file was not cleaned");
    assert_eq!(store.list().await.unwrap().len(), 1);
}

#[tokio::test]
async fn corrupt_blob_is_detected_and_dest_untouched() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("store");
    let store = open(&root).await;
    let file = tmp.path().join("f");
    std::fs::write(&file, b"precious bytes").unwrap();
    let a = store.put(&file).await.unwrap();
    let blob = blob_path(&root, a.digest.trim_start_matches("sha256:"));
    let mut bytes = std::fs::read(&blob).unwrap();
    bytes[3] ^= 0x01;
    std::fs::write(&blob, &bytes).unwrap();
    let dest = tmp.path().join("dest");
    std::fs::write(&dest, b"previous").unwrap();
    let err = store.get(&a, &dest).await.unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::Corrupt, "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("was corrupt") && msg.contains(&a.digest),
        "{msg}"
    );
    // The message names what the user runs, and the blob is gone so that running it repairs.
    assert!(msg.contains("`couler run`"), "{msg}");
    assert!(!blob.exists(), "the corrupt blob must be removed");
    // The failed get neither replaced dest nor left a temporary beside it.
    assert_eq!(std::fs::read(&dest).unwrap(), b"previous");
    let names: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.contains("couler-tmp")), "{names:?}");

    // A corrupt file inside a directory artifact fails the whole get.
    let tree = tmp.path().join("tree");
    common::make_tree(&tree);
    let d = store.put(&tree).await.unwrap();
    let beta = blob_path(&root, &hex(b"beta\n"));
    std::fs::write(&beta, b"BETA\n").unwrap();
    let err = store.get(&d, &tmp.path().join("tree2")).await.unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::Corrupt, "{err}");
    assert!(!tmp.path().join("tree2").exists());
}

fn manifest(files: &[(&str, &str)]) -> Vec<u8> {
    let files: Vec<_> = files
        .iter()
        .map(|(path, digest)| {
            serde_json::json!({"path": path, "digest": digest, "size": 1, "executable": false})
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({
        "format": "couler.dev/directory/v1",
        "files": files,
        "dirs": [],
    }))
    .unwrap()
}

#[tokio::test]
async fn hostile_manifests_are_rejected_before_writing() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("store");
    let store = open(&root).await;
    let payload = plant_blob(&root, b"x");
    let outside = tmp.path().join("x");
    let cases = [
        ("../x", "`..`"),
        ("a/../../x", "`..`"),
        (outside.to_str().unwrap(), "is absolute"),
        ("a//b", "empty component"),
        ("a\\..\\..\\x", "backslash"),
    ];
    for (path, why) in cases {
        let digest = plant_blob(&root, &manifest(&[("ok.txt", &payload), (path, &payload)]));
        let art = StoredArtifact {
            digest,
            size: 2,
            kind: ArtifactKind::Directory,
        };
        let dest = tmp.path().join("deep/dest");
        let err = store.get(&art, &dest).await.unwrap_err();
        assert_eq!(err.kind(), StoreErrorKind::InvalidManifest, "{path}: {err}");
        assert!(err.to_string().contains(why), "{path}: {err}");
        assert!(!dest.exists(), "{path}: dest was written");
        assert!(!outside.exists(), "{path}: wrote outside dest");
        assert!(
            !tmp.path().join("deep/x").exists(),
            "{path}: wrote outside dest"
        );
    }
    // Duplicate paths and bad digests inside a manifest.
    let dup = plant_blob(&root, &manifest(&[("a", &payload), ("a", &payload)]));
    let bad_digest = plant_blob(&root, &manifest(&[("a", "sha256:../../../etc/passwd")]));
    for digest in [dup, bad_digest] {
        let art = StoredArtifact {
            digest,
            size: 1,
            kind: ArtifactKind::Directory,
        };
        let err = store.get(&art, &tmp.path().join("d")).await.unwrap_err();
        assert_eq!(err.kind(), StoreErrorKind::InvalidManifest, "{err}");
    }
    // A plain file asked for as a directory.
    let err = store
        .get(
            &StoredArtifact {
                digest: payload,
                size: 1,
                kind: ArtifactKind::Directory,
            },
            &tmp.path().join("d"),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::InvalidManifest, "{err}");
    assert!(
        err.to_string().contains("not a directory manifest"),
        "{err}"
    );
}

#[tokio::test]
async fn symlinks_escaping_the_directory_are_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    let store = open(&tmp.path().join("store")).await;
    std::fs::write(tmp.path().join("secret"), b"do not upload").unwrap();
    let tree = tmp.path().join("tree");
    std::fs::create_dir_all(tree.join("sub")).unwrap();
    std::fs::write(tree.join("inside.txt"), b"inside").unwrap();
    std::os::unix::fs::symlink("../../secret", tree.join("sub/leak")).unwrap();
    let err = store.put(&tree).await.unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::InvalidInput, "{err}");
    assert!(err.to_string().contains("outside the directory"), "{err}");
    assert!(
        store
            .list()
            .await
            .unwrap()
            .iter()
            .all(|(d, _)| { *d != format!("sha256:{}", hex(b"do not upload")) })
    );

    // A symlink to a file inside the directory is stored as a copy of that file.
    std::fs::remove_file(tree.join("sub/leak")).unwrap();
    std::os::unix::fs::symlink("../inside.txt", tree.join("sub/link")).unwrap();
    let d = store.put(&tree).await.unwrap();
    let out = tmp.path().join("out");
    store.get(&d, &out).await.unwrap();
    let link = out.join("sub/link");
    assert!(!std::fs::symlink_metadata(&link).unwrap().is_symlink());
    assert_eq!(std::fs::read(&link).unwrap(), b"inside");
}

#[tokio::test]
async fn invalid_input_and_config_errors_are_clear() {
    let tmp = tempfile::tempdir().unwrap();
    let store = open(&tmp.path().join("store")).await;
    let err = store.put(&tmp.path().join("nope")).await.unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::Io, "{err}");
    assert!(err.to_string().contains("nope"), "{err}");

    let local = couler_ir::Storage::Local(couler_ir::LocalStorage {
        path: "/var/cache/x".into(),
    });
    assert_eq!(
        Location::from_ir(&local).unwrap(),
        Location::Local {
            root: "/var/cache/x".into()
        }
    );
    let s3: couler_ir::Storage = serde_json::from_str(
        r#"{"s3": {"bucket": "b", "key": "runs", "endpoint": "minio:9000", "insecure": true}}"#,
    )
    .unwrap();
    assert_eq!(
        Location::from_ir(&s3).unwrap(),
        Location::S3 {
            bucket: "b".into(),
            prefix: "runs".into(),
            endpoint: Some("http://minio:9000".into()),
            region: None,
            access_key_id: None,
            secret_access_key: None,
        }
    );
    let gcs: couler_ir::Storage =
        serde_json::from_str(r#"{"gcs": {"bucket": "g", "key": "/runs/"}}"#).unwrap();
    assert_eq!(
        Location::from_ir(&gcs).unwrap(),
        Location::Gcs {
            bucket: "g".into(),
            prefix: "runs".into(),
        }
    );
    let oss: couler_ir::Storage = serde_json::from_str(
        r#"{"oss": {"endpoint": "oss-cn-hangzhou.aliyuncs.com", "bucket": "o"}}"#,
    )
    .unwrap();
    assert_eq!(
        Location::from_ir(&oss).unwrap(),
        Location::Oss {
            bucket: "o".into(),
            prefix: String::new(),
            endpoint: Some("https://oss-cn-hangzhou.aliyuncs.com".into()),
        }
    );
    let hdfs: couler_ir::Storage =
        serde_json::from_str(r#"{"hdfs": {"addresses": ["nn:8020"]}}"#).unwrap();
    // HDFS is reached through WebHDFS, whose address `addresses` (RPC) do not give.
    match Location::from_ir(&hdfs) {
        Err(err) => {
            assert_eq!(err.kind(), StoreErrorKind::Config);
            assert!(
                err.to_string().contains("set COULER_WEBHDFS_ENDPOINT")
                    && err.to_string().contains("nn:8020"),
                "{err}"
            );
        }
        // Set in this environment: it is the endpoint.
        Ok(cfg) => assert!(
            matches!(cfg, Location::Hdfs { ref root, .. } if root == "/"),
            "{cfg:?}"
        ),
    }

    // An unwritable root says where and why.
    let ro = tmp.path().join("ro");
    std::fs::create_dir(&ro).unwrap();
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o500)).unwrap();
    if std::fs::write(ro.join("probe"), b"").is_err() {
        // Not root: permissions apply.
        let err = ArtifactStore::open(&Location::Local {
            root: ro.join("store"),
        })
        .await
        .unwrap_err();
        assert!(err.to_string().contains("ro/store"), "{err}");
    }
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o700)).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_files_round_trip_with_a_stable_digest() {
    let tmp = tempfile::tempdir().unwrap();
    let store = open(&tmp.path().join("store")).await;
    let tree = tmp.path().join("tree");
    for i in 0..300 {
        let dir = tree.join(format!("d{}", i % 7));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("f{i}.txt")), format!("file {i}\n")).unwrap();
    }
    let d = store.put(&tree).await.unwrap();
    // 300 files + 1 manifest.
    assert_eq!(store.list().await.unwrap().len(), 301);
    let out = tmp.path().join("out");
    store.get(&d, &out).await.unwrap();
    for i in 0..300 {
        let path = out.join(format!("d{}/f{i}.txt", i % 7));
        assert_eq!(
            std::fs::read_to_string(path).unwrap(),
            format!("file {i}\n")
        );
    }
    // Created in another order, the same tree has the same digest.
    let again = tmp.path().join("again");
    for i in (0..300).rev() {
        let dir = again.join(format!("d{}", i % 7));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("f{i}.txt")), format!("file {i}\n")).unwrap();
    }
    assert_eq!(store.put(&again).await.unwrap(), d);
}

/// Corrupts the blob of `a` in place: same size, one bit flipped.
fn flip_a_bit(root: &std::path::Path, a: &couler_store::StoredArtifact) -> std::path::PathBuf {
    let blob = blob_path(root, a.digest.trim_start_matches("sha256:"));
    let mut bytes = std::fs::read(&blob).unwrap();
    bytes[0] ^= 0x01;
    std::fs::write(&blob, &bytes).unwrap();
    blob
}

#[tokio::test]
async fn put_repairs_a_damaged_blob_instead_of_keeping_it() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("store");
    let store = open(&root).await;
    let file = tmp.path().join("f");
    std::fs::write(&file, b"precious bytes").unwrap();
    let a = store.put(&file).await.unwrap();

    // Same size, other content: only hashing tells; the local store hashes before it trusts.
    let blob = flip_a_bit(&root, &a);
    assert!(
        store.is_intact(&a).await.unwrap(),
        "a size check cannot see a flipped bit"
    );
    assert_eq!(store.put(&file).await.unwrap(), a);
    assert_eq!(std::fs::read(&blob).unwrap(), b"precious bytes");

    // Truncated: the cheap check sees it, and put rewrites it.
    std::fs::write(&blob, b"prec").unwrap();
    assert!(!store.is_intact(&a).await.unwrap());
    store.put(&file).await.unwrap();
    assert!(store.is_intact(&a).await.unwrap());
    let out = tmp.path().join("out");
    store.get(&a, &out).await.unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), b"precious bytes");
}

#[tokio::test]
async fn is_intact_checks_every_file_of_a_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("store");
    let store = open(&root).await;
    let tree = tmp.path().join("tree");
    common::make_tree(&tree);
    let d = store.put(&tree).await.unwrap();
    assert!(store.is_intact(&d).await.unwrap());
    std::fs::remove_file(blob_path(&root, &hex(b"beta\n"))).unwrap();
    assert!(!store.is_intact(&d).await.unwrap(), "a missing file blob");
    store.put(&tree).await.unwrap();
    assert!(store.is_intact(&d).await.unwrap(), "put restored it");
    // A damaged manifest makes the artifact not intact (and is not an error).
    let manifest = blob_path(&root, d.digest.trim_start_matches("sha256:"));
    std::fs::write(&manifest, b"{}").unwrap();
    assert!(!store.is_intact(&d).await.unwrap());
}

#[tokio::test]
async fn verify_all_finds_and_repairs_corrupt_blobs() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("store");
    let store = open(&root).await;
    let good = tmp.path().join("good");
    std::fs::write(&good, b"good bytes").unwrap();
    let bad = tmp.path().join("bad");
    std::fs::write(&bad, b"bad bytes").unwrap();
    store.put(&good).await.unwrap();
    let b = store.put(&bad).await.unwrap();
    let blob = flip_a_bit(&root, &b);

    let mut calls = Vec::new();
    let report = store
        .verify_all(false, |done, total| calls.push((done, total)))
        .await
        .unwrap();
    assert_eq!(report.checked, 2);
    assert_eq!(calls, vec![(1, 2), (2, 2)]);
    assert_eq!(report.corrupt.len(), 1, "{report:?}");
    assert_eq!(report.corrupt[0].0, b.digest);
    assert!(blob.exists(), "without repair nothing is removed");

    let report = store.verify_all(true, |_, _| {}).await.unwrap();
    assert_eq!(report.corrupt.len(), 1);
    assert!(!blob.exists(), "repair removes the corrupt blob");
    let report = store.verify_all(false, |_, _| {}).await.unwrap();
    assert_eq!((report.checked, report.corrupt.len()), (1, 0));
}
