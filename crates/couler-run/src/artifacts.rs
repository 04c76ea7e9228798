//! Artifacts of the local runtime, kept in the workspace's content-addressed store
//! (`couler-store`): by default its local backend under `STATE_DIR/artifacts`; else a directory
//! or an S3, GCS or OSS bucket chosen with `--artifact-store`, `COULER_ARTIFACT_STORE` or the workflow's
//! `artifactRepository` ([`Location`]).
//!
//! The store never shows a partial object (write beside, then rename) and verifies digests on
//! read, so a `kill -9` at any moment loses no stored artifact and never hands a step a corrupt
//! one. This module only adapts its errors to the runtime's.

use crate::Error;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;

/// The store's futures, boxed as `Send` so executor tasks holding them can move across threads.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Where a run keeps its artifacts (`couler_store`'s one location type), as recorded on the run
/// in the state database: its JSON, without credentials (each cloud's come from its usual
/// environment variables).
pub use couler_store::Location;
pub use couler_store::{ArtifactKind, StoredArtifact as ArtifactRef};

/// The runtime's artifact store.
#[derive(Clone, Debug)]
pub struct Store {
    inner: couler_store::ArtifactStore,
}

fn store_err(e: couler_store::StoreError) -> Error {
    Error::Io(e.to_string())
}

impl Store {
    /// The local store under `root` (the state directory's `artifacts/`).
    pub async fn open(root: &Path) -> Result<Store, Error> {
        let location = Location::Local {
            root: root.to_path_buf(),
        };
        let inner = couler_store::ArtifactStore::open(&location)
            .await
            .map_err(store_err)?;
        Ok(Store { inner })
    }

    /// The store at a chosen location. A location that cannot be opened (no credentials, a path
    /// that is not a directory) is invalid input.
    pub async fn open_at(location: &Location) -> Result<Store, Error> {
        let inner = couler_store::ArtifactStore::open(location)
            .await
            .map_err(|e| Error::Invalid(format!("artifact store {location}: {e}")))?;
        Ok(Store { inner })
    }

    /// Whether the store holds the artifact intact: every blob it needs present with its
    /// recorded size (`couler_store::ArtifactStore::is_intact`; no content is read). Errors read
    /// as absent: a cache hit that cannot be checked is a miss.
    pub fn contains<'a>(&'a self, a: &'a ArtifactRef) -> BoxFuture<'a, bool> {
        Box::pin(async move { self.inner.is_intact(a).await.unwrap_or(false) })
    }

    /// Hashes every blob of the store; with `repair`, removes those that do not verify.
    pub async fn verify_all(
        &self,
        repair: bool,
        progress: impl FnMut(usize, usize),
    ) -> Result<couler_store::VerifyReport, Error> {
        self.inner
            .verify_all(repair, progress)
            .await
            .map_err(store_err)
    }

    /// Stores the file or directory at `path`.
    pub fn put<'a>(&'a self, path: &'a Path) -> BoxFuture<'a, Result<ArtifactRef, Error>> {
        Box::pin(async move { self.inner.put(path).await.map_err(store_err) })
    }

    /// Places the artifact at `dest` (a file path, or a directory to create).
    ///
    /// `couler-store`'s `get` future is not `Send` for every lifetime (a higher-ranked closure in
    /// its directory fetch), so it cannot live inside a spawned executor task; it runs on a
    /// blocking thread of the same runtime instead.
    pub async fn get(&self, a: &ArtifactRef, dest: &Path) -> Result<(), Error> {
        let inner = self.inner.clone();
        let a = a.clone();
        let dest = dest.to_path_buf();
        let rt = tokio::runtime::Handle::current();
        tokio::task::spawn_blocking(move || rt.block_on(inner.get(&a, &dest)))
            .await
            .map_err(|e| Error::Internal(format!("artifact fetch task: {e}")))?
            .map_err(store_err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread")]
    async fn put_get_roundtrip_file_and_dir() -> Result<(), Error> {
        let dir = tempfile::tempdir().map_err(|e| Error::Io(e.to_string()))?;
        let store = Store::open(&dir.path().join("store")).await?;
        let f = dir.path().join("a.txt");
        std::fs::write(&f, b"hello").map_err(|e| Error::Io(e.to_string()))?;
        let a = store.put(&f).await?;
        assert_eq!(a.size, 5);
        assert!(store.contains(&a).await);
        let out = dir.path().join("out/b.txt");
        store.get(&a, &out).await?;
        assert_eq!(
            std::fs::read(&out).map_err(|e| Error::Io(e.to_string()))?,
            b"hello"
        );
        let d = dir.path().join("d");
        std::fs::create_dir_all(d.join("sub")).map_err(|e| Error::Io(e.to_string()))?;
        std::fs::write(d.join("sub/x"), b"x").map_err(|e| Error::Io(e.to_string()))?;
        let da = store.put(&d).await?;
        assert_eq!(da.kind, ArtifactKind::Directory);
        store.get(&da, &dir.path().join("d2")).await?;
        assert_eq!(
            std::fs::read(dir.path().join("d2/sub/x")).map_err(|e| Error::Io(e.to_string()))?,
            b"x"
        );
        Ok(())
    }
}
