//! Checking stored blobs against their names, and repairing what does not verify.
//!
//! A blob's key is the SHA-256 of its content, so a blob verifies when its content hashes to its
//! key. Three places check, each as deeply as it can afford:
//! - a cache hit ([`ArtifactStore::is_intact`]): every blob the artifact needs is present with
//!   its recorded size (a directory's manifest is read and hashed: it is small). No file
//!   content is read, so a truncated or missing blob turns the hit into a miss at once;
//! - `put` of content whose blob exists already: the size always, the content too where reads
//!   are cheap (the local file system). A blob that does not verify is replaced, so running the
//!   producing step again repairs it;
//! - `get`, which hashes every byte it reads: a corrupt blob is removed from the store there and
//!   then, so the next run of the producing step stores it again;
//! - [`ArtifactStore::verify_all`] (`couler cache verify`), which hashes every blob.

use futures_util::StreamExt;
use sha2::{Digest, Sha256};

use crate::hash::{blob_key, digest_hex, to_hex};
use crate::{ArtifactKind, ArtifactStore, StoreError, StoreErrorKind, StoredArtifact};

/// What a blob under a key holds, as far as a check looked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BlobState {
    /// No object under the key.
    Absent,
    /// Present, with the expected size (and content, when hashed).
    Intact,
    /// Present, but its size or content is not what its key says.
    Damaged,
}

/// What [`ArtifactStore::verify_all`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// Blobs hashed.
    pub checked: usize,
    /// Bytes hashed.
    pub bytes: u64,
    /// Blobs whose content does not hash to their digest: (digest, what it hashes to).
    pub corrupt: Vec<(String, String)>,
    /// Whether the corrupt blobs were removed.
    pub repaired: bool,
}

impl ArtifactStore {
    /// Whether every blob `artifact` needs is in the store with its recorded size (for a
    /// directory: its manifest, hashed, and each file blob the manifest lists). Reads no file
    /// content: a cache hit checks this before it restores anything.
    pub async fn is_intact(&self, artifact: &StoredArtifact) -> Result<bool, StoreError> {
        let hex = digest_hex(&artifact.digest)?;
        match artifact.kind {
            ArtifactKind::File => {
                let key = blob_key(hex);
                let state = self.blob_state(&key, hex, artifact.size, false).await?;
                Ok(state == BlobState::Intact)
            }
            ArtifactKind::Directory => {
                let manifest = match self.load_manifest(&artifact.digest).await {
                    Ok(m) => m,
                    Err(e) if matches!(e.kind(), StoreErrorKind::Backend) => return Err(e),
                    Err(_) => return Ok(false),
                };
                for file in &manifest.files {
                    let hex = digest_hex(&file.digest)?;
                    let key = blob_key(hex);
                    if self.blob_state(&key, hex, file.size, false).await? != BlobState::Intact {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
        }
    }

    /// Looks at the blob under `key`, which should hold `size` bytes hashing to `hex`; hashes
    /// its content only when `deep`.
    pub(crate) async fn blob_state(
        &self,
        key: &str,
        hex: &str,
        size: u64,
        deep: bool,
    ) -> Result<BlobState, StoreError> {
        let meta = match self.op.stat(key).await {
            Ok(m) => m,
            Err(e) if e.kind() == opendal::ErrorKind::NotFound => return Ok(BlobState::Absent),
            Err(e) => return Err(self.backend_err("checking", key, e)),
        };
        if meta.content_length() != size {
            return Ok(BlobState::Damaged);
        }
        if deep && self.hash_blob(key).await? != hex {
            return Ok(BlobState::Damaged);
        }
        Ok(BlobState::Intact)
    }

    /// Whether reading a blob back costs about as little as hashing the file it came from: on
    /// the local file system, so `put` hashes an existing blob before trusting it. Elsewhere a
    /// read is a download, and `put` trusts a blob of the right size.
    pub(crate) fn reads_are_cheap(&self) -> bool {
        self.op.info().scheme() == opendal::services::FS_SCHEME
    }

    /// The SHA-256 (hex) of the blob under `key`, streamed.
    async fn hash_blob(&self, key: &str) -> Result<String, StoreError> {
        let reader = self
            .op
            .reader(key)
            .await
            .map_err(|e| self.backend_err("reading", key, e))?;
        let mut stream = reader
            .into_bytes_stream(..)
            .await
            .map_err(|e| self.backend_err("reading", key, e))?;
        let mut hasher = Sha256::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| {
                StoreError::new(
                    StoreErrorKind::Backend,
                    format!("reading object {}/{key}: {e}", self.location),
                )
            })?;
            hasher.update(&chunk);
        }
        Ok(to_hex(&hasher.finalize()))
    }

    /// Removes a blob found not to match its digest. Best effort: the caller reports the
    /// corruption whether or not the removal worked.
    pub(crate) async fn discard(&self, key: &str) {
        let _ = self.op.delete(key).await;
    }

    /// Hashes every blob in the store and reports those whose content does not match their
    /// digest; with `repair`, removes them, so the steps that produce them run again (their
    /// cache entries stop verifying). `progress` is called after each blob with (done, total).
    pub async fn verify_all(
        &self,
        repair: bool,
        mut progress: impl FnMut(usize, usize),
    ) -> Result<VerifyReport, StoreError> {
        let blobs = self.blobs().await?;
        let mut report = VerifyReport {
            repaired: repair,
            ..VerifyReport::default()
        };
        let total = blobs.len();
        for (i, (digest, key, meta)) in blobs.into_iter().enumerate() {
            let actual = self.hash_blob(&key).await?;
            report.checked += 1;
            report.bytes += meta.content_length();
            if digest.strip_prefix("sha256:") != Some(actual.as_str()) {
                if repair {
                    self.op
                        .delete(&key)
                        .await
                        .map_err(|e| self.backend_err("removing", &key, e))?;
                }
                report.corrupt.push((digest, format!("sha256:{actual}")));
            }
            progress(i + 1, total);
        }
        Ok(report)
    }
}
