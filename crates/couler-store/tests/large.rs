//! A large file streams through put and get: memory does not grow with the file size.
//! Its own test binary, so no other test disturbs the process's peak memory.

use std::io::{Seek, SeekFrom, Write};

use couler_store::{ArtifactStore, Location};

const SIZE: u64 = 64 * 1024 * 1024;

fn rss_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_file_is_streamed() {
    let tmp = tempfile::tempdir().unwrap();
    let store = ArtifactStore::open(&Location::Local {
        root: tmp.path().join("store"),
    })
    .await
    .unwrap();
    // Sparse-ish: holes, with data written every 8 MiB so the hash covers real content.
    let path = tmp.path().join("big.bin");
    let mut f = std::fs::File::create(&path).unwrap();
    f.set_len(SIZE).unwrap();
    for i in 0..8u64 {
        f.seek(SeekFrom::Start(i * 8 * 1024 * 1024)).unwrap();
        f.write_all(format!("chunk {i}").as_bytes()).unwrap();
    }
    drop(f);

    let before = rss_kib("VmRSS:");
    let a = store.put(&path).await.unwrap();
    assert_eq!(a.size, SIZE);
    let out = tmp.path().join("restored.bin");
    store.get(&a, &out).await.unwrap();
    let peak = rss_kib("VmHWM:");
    assert_eq!(std::fs::metadata(&out).unwrap().len(), SIZE);
    let (h1, h2) = (sha256_file(&path), sha256_file(&out));
    assert_eq!(h1, h2);
    assert_eq!(a.digest, format!("sha256:{h1}"));
    // Streaming keeps a few MiB of buffers; reading the file whole would add 64 MiB.
    if before > 0 {
        let grown = peak.saturating_sub(before);
        assert!(
            grown < 48 * 1024,
            "peak memory grew by {grown} KiB for a 64 MiB file"
        );
    }
}

fn sha256_file(path: &std::path::Path) -> String {
    use sha2::{Digest, Sha256};
    use std::io::Read;
    let mut f = std::fs::File::open(path).unwrap();
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}
