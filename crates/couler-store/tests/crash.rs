//! A writer killed with SIGKILL in the middle of `put` leaves no blob whose content differs from
//! its digest, and the store works afterwards. The writer is this test binary run again as a
//! child process (`crash_child`), so the kill hits real code at a real moment.

use std::io::{Seek, SeekFrom, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use couler_store::{ArtifactKind, ArtifactStore, Location, StoredArtifact};

const CHILD_ENV: &str = "COULER_STORE_CRASH_CHILD";
/// Big enough to be caught mid-write, with holes under `couler_store::HOLE_LIMIT` (a file
/// with more is refused as sparse before anything is written).
const SIZE: u64 = 60 * 1024 * 1024;

/// In the child: put the file named by the environment and report success. A no-op otherwise.
#[tokio::test]
async fn crash_child() {
    let Some(spec) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let spec = spec.to_string_lossy().into_owned();
    let (root, file) = spec.split_once('\n').unwrap();
    let store = ArtifactStore::open(&Location::Local { root: root.into() })
        .await
        .unwrap();
    store.put(Path::new(file)).await.unwrap();
    println!("child finished");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_writer_leaves_no_partial_blob() {
    if std::env::var_os(CHILD_ENV).is_some() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("store");
    let file = tmp.path().join("big.bin");
    let mut f = std::fs::File::create(&file).unwrap();
    f.set_len(SIZE).unwrap();
    for i in 0..16u64 {
        f.seek(SeekFrom::Start(i * (SIZE / 16))).unwrap();
        f.write_all(format!("block {i}").as_bytes()).unwrap();
    }
    drop(f);

    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "crash_child", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, format!("{}\n{}", root.display(), file.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill it as soon as a partial upload exists: a non-empty temporary file.
    let tmp_dir = root.join(".tmp");
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut killed_mid_write = false;
    while Instant::now() < deadline {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        let partial = std::fs::read_dir(&tmp_dir)
            .into_iter()
            .flatten()
            .flatten()
            .any(|e| e.metadata().is_ok_and(|m| m.len() > 0));
        if partial {
            child.kill().unwrap();
            killed_mid_write = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let _ = child.kill();
    child.wait().unwrap();
    assert!(
        killed_mid_write,
        "the child finished (or never started writing) before it could be killed mid-write"
    );

    // The partial write is not a blob.
    let store = ArtifactStore::open(&Location::Local { root: root.clone() })
        .await
        .unwrap();
    assert!(store.list().await.unwrap().is_empty());
    let leftovers = std::fs::read_dir(&tmp_dir).unwrap().count();
    assert!(
        leftovers >= 1,
        "the partial temporary file should still be there"
    );

    // The store works afterwards, and the artifact round-trips.
    let a = store.put(&file).await.unwrap();
    assert_eq!(a.size, SIZE);
    assert_eq!(store.list().await.unwrap(), vec![(a.digest.clone(), SIZE)]);
    let out = tmp.path().join("out.bin");
    store
        .get(
            &StoredArtifact {
                digest: a.digest.clone(),
                size: a.size,
                kind: ArtifactKind::File,
            },
            &out,
        )
        .await
        .unwrap();
    assert_eq!(std::fs::metadata(&out).unwrap().len(), SIZE);
}
