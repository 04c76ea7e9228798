//! Garbage collection: removes the blobs no kept artifact references.
//!
//! Safe beside a concurrent writer: only final blob keys are considered (partial writes live
//! under `.tmp` or in an uncompleted upload until renamed or completed), and a blob modified at
//! or after the collection started is left alone, since a writer may have just stored it for an
//! artifact the caller's `keep` list could not know about yet.

use std::collections::HashSet;
use std::time::SystemTime;

use crate::{ArtifactKind, ArtifactStore, StoreError, StoredArtifact};

/// What [`ArtifactStore::gc`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GcReport {
    /// Deleted blobs with their sizes, sorted by digest.
    pub removed: Vec<(String, u64)>,
    /// Blobs left because they are referenced.
    pub kept: usize,
    /// Unreferenced blobs left because they are newer than the collection's start.
    pub too_new: usize,
}

impl GcReport {
    /// Bytes freed.
    pub fn freed_bytes(&self) -> u64 {
        self.removed.iter().map(|(_, n)| n).sum()
    }
}

impl ArtifactStore {
    /// Deletes every blob that is neither one of `keep` nor (for a directory artifact in
    /// `keep`) its manifest's files. A directory whose manifest cannot be read keeps nothing
    /// more than its manifest's digest.
    pub async fn gc(&self, keep: &[StoredArtifact]) -> Result<GcReport, StoreError> {
        let started = SystemTime::now();
        let mut keep_digests: HashSet<String> = HashSet::new();
        for a in keep {
            if keep_digests.insert(a.digest.clone())
                && a.kind == ArtifactKind::Directory
                && let Ok(m) = self.load_manifest(&a.digest).await
            {
                keep_digests.extend(m.files.into_iter().map(|f| f.digest));
            }
        }
        let mut report = GcReport::default();
        for (digest, key, _) in self.blobs().await? {
            if keep_digests.contains(&digest) {
                report.kept += 1;
                continue;
            }
            let meta = self
                .op
                .stat(&key)
                .await
                .map_err(|e| self.backend_err("reading the metadata of", &key, e))?;
            // No modification time: cannot prove it predates the collection, so keep it.
            let old = meta
                .last_modified()
                .is_some_and(|t| SystemTime::from(t) < started);
            if !old {
                report.too_new += 1;
                continue;
            }
            self.delete(&digest).await?;
            report.removed.push((digest, meta.content_length()));
        }
        report.removed.sort();
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use crate::{ArtifactStore, Location};

    #[tokio::test]
    async fn gc_removes_only_unreferenced_blobs_and_keeps_directory_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = ArtifactStore::open(&Location::Local {
            root: dir.path().join("store"),
        })
        .await
        .expect("open");
        let src = dir.path().join("src");
        std::fs::create_dir_all(src.join("tree")).expect("mkdir");
        std::fs::write(src.join("kept.txt"), b"kept").expect("write");
        std::fs::write(src.join("dropped.txt"), b"dropped").expect("write");
        std::fs::write(src.join("tree/inner.txt"), b"inner").expect("write");
        let kept = store.put(&src.join("kept.txt")).await.expect("put");
        let dropped = store.put(&src.join("dropped.txt")).await.expect("put");
        let tree = store.put(&src.join("tree")).await.expect("put");
        // Blobs written in the same second as the collection start are "too new" on
        // filesystems with coarse times; wait past it.
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        let report = store.gc(&[kept.clone(), tree.clone()]).await.expect("gc");
        assert_eq!(report.removed, vec![(dropped.digest.clone(), 7)]);
        // kept.txt, the manifest and inner.txt.
        assert_eq!(report.kept, 3);
        assert!(!store.contains(&dropped.digest).await.expect("contains"));
        assert!(store.contains(&kept.digest).await.expect("contains"));
        let out = dir.path().join("out");
        store
            .get(&tree, &out)
            .await
            .expect("directory still complete");
        assert_eq!(
            std::fs::read(out.join("inner.txt")).expect("read"),
            b"inner"
        );
    }

    #[tokio::test]
    async fn gc_skips_blobs_newer_than_its_start() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = ArtifactStore::open(&Location::Local {
            root: dir.path().join("store"),
        })
        .await
        .expect("open");
        let f = dir.path().join("f");
        std::fs::write(&f, b"fresh").expect("write");
        let fresh = store.put(&f).await.expect("put");
        // Pretend a writer stores it after the collection started: set its time ahead.
        let hex = fresh.digest.trim_start_matches("sha256:");
        let path = dir
            .path()
            .join("store/blobs/sha256")
            .join(&hex[..2])
            .join(hex);
        let file = std::fs::File::options()
            .write(true)
            .open(&path)
            .expect("open blob");
        file.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(60))
            .expect("set mtime");
        let report = store.gc(&[]).await.expect("gc");
        assert!(report.removed.is_empty(), "{report:?}");
        assert_eq!(report.too_new, 1);
        assert!(store.contains(&fresh.digest).await.expect("contains"));
    }
}
