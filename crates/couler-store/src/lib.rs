//! Couler's artifact store: one content-addressed storage abstraction for every backend.
//!
//! The local runtime (and later the in-engine launcher) keeps step outputs here. An artifact is a
//! file or a directory; [`ArtifactStore::put`] stores it under its SHA-256 digest and
//! [`ArtifactStore::get`] materialises it again, so identical content is stored once and a digest
//! names the same bytes forever (the cache relies on this).
//!
//! # Layout
//!
//! Every backend goes through one [`opendal::Operator`]; objects live at
//! `<root or prefix>/blobs/sha256/<first 2 hex>/<64 hex>`. A directory artifact is stored as
//! one blob per file plus a JSON *manifest* blob (sorted relative paths with digest, size and
//! executable bit, plus the list of directories); the manifest's digest is the artifact's digest.
//!
//! # Guarantees
//!
//! - **No partial objects.** `put` hashes the source first, then uploads to the final key while
//!   hashing again: on the local filesystem through a temporary file (under `<root>/.tmp`) renamed
//!   into place when complete, on S3 through a (multipart) upload that only becomes visible when
//!   completed (GCS and OSS alike: one PUT, or a multipart upload completed at the end), on
//!   WebHDFS under `.tmp/` and then renamed (HDFS shows a file while it is written). If the
//!   second hash differs (the file changed meanwhile) the upload is aborted.
//! - **Verified reads.** `get` hashes what it reads and fails with [`StoreErrorKind::Corrupt`]
//!   when a blob does not match its digest; it writes beside `dest` and renames into place, so
//!   `dest` is either absent, the old content, or the complete new content.
//! - **Hostile manifests stay inside `dest`.** Absolute paths, `..`, and files used as
//!   directories are rejected before anything is written; `get` never creates symlinks. On `put`,
//!   a symlink inside a directory is stored as the file it points to, and only when that file is
//!   inside the directory.
//!
//! # Example
//!
//! ```no_run
//! # async fn demo() -> Result<(), couler_store::StoreError> {
//! use couler_store::{ArtifactStore, Location};
//! let store = ArtifactStore::open(&Location::Local { root: "/tmp/couler-store".into() }).await?;
//! let artifact = store.put("model/".as_ref()).await?;
//! store.get(&artifact, "restored-model/".as_ref()).await?;
//! # Ok(())
//! # }
//! ```
//!
//! See `docs/artifacts.md` for the storage model and configuration.

mod connect;
mod error;
mod files;
mod gc;
mod hash;
mod location;
mod manifest;
mod reflink;
mod sparse;
mod verify;
mod webhdfs;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{StreamExt, TryStreamExt};
use opendal::Operator;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

pub use error::{StoreError, StoreErrorKind};
pub use files::contained;
use files::{beside, parent_dir, remove_any, replace, walk};
pub use gc::GcReport;
use hash::{HashingReader, blob_hex_of_key, blob_key, digest_hex, hash_file, to_hex};
pub use location::{Location, WEBHDFS_ENDPOINT_VAR};
use manifest::{MANIFEST_FORMAT, MAX_MANIFEST_BYTES, Manifest, ManifestFile};
pub use sparse::HOLE_LIMIT;
use verify::BlobState;
pub use verify::VerifyReport;

/// Bytes read from a local file per step: hashing and uploading stream in pieces of this size.
const READ_CHUNK: usize = 1024 * 1024;
/// Part size for multipart uploads (S3 needs at least 5 MiB per part).
const UPLOAD_CHUNK: usize = 8 * 1024 * 1024;
/// Temporary files older than this in `<root>/.tmp` are left over from a crash; `open` removes them.
const STALE_TMP_AGE: Duration = Duration::from_secs(3600);
/// The directory under a local root where partial writes live until renamed into place.
const TMP_DIR: &str = ".tmp";
/// The same directory as a key prefix, on the stores that stage writes under it (WebHDFS).
const TMP_PREFIX: &str = ".tmp/";
const BLOB_PREFIX: &str = "blobs/sha256/";
/// Files of one directory artifact stored or fetched at once.
const DIR_CONCURRENCY: usize = 8;

/// Whether an artifact is a single file or a directory tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ArtifactKind {
    File,
    Directory,
}

/// A stored artifact: what `put` returns and `get` needs.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredArtifact {
    /// `sha256:<64 lowercase hex>`: of the file's bytes, or of the directory's manifest.
    pub digest: String,
    /// Content bytes: the file's size, or the sum of the directory's file sizes.
    pub size: u64,
    pub kind: ArtifactKind,
}

/// A handle on one store. Cheap to clone; clones share the backend's connection pool.
#[derive(Clone, Debug)]
pub struct ArtifactStore {
    op: Operator,
    /// What the store is, for error messages (`/var/cache/couler`, `s3://bucket/prefix`).
    location: String,
    /// Set where a write is visible before it ends (WebHDFS): blobs are written under
    /// `.tmp/` and renamed into place by this.
    renamer: Option<Arc<webhdfs::Renamer>>,
    /// The root of a `Local` store: its blobs are placed by reflink where the file system
    /// clones (`reflink`).
    local_root: Option<PathBuf>,
}

impl ArtifactStore {
    /// Where this store keeps its objects, for messages.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// Stores the file or directory at `path`, content-addressed: returns its digest. Identical
    /// content is stored once. Never leaves a partial object visible.
    pub async fn put(&self, path: &Path) -> Result<StoredArtifact, StoreError> {
        // Follows a symlink given as `path` itself: the caller named it.
        let meta = tokio::fs::metadata(path)
            .await
            .map_err(|e| StoreError::io("reading artifact", path, e))?;
        if meta.is_dir() {
            self.put_dir(path).await
        } else if meta.is_file() {
            let (digest, size) = self.put_file(path).await?;
            Ok(StoredArtifact {
                digest,
                size,
                kind: ArtifactKind::File,
            })
        } else {
            Err(StoreError::new(
                StoreErrorKind::InvalidInput,
                format!(
                    "cannot store {}: it is neither a file nor a directory; write the artifact as a regular file",
                    path.display()
                ),
            ))
        }
    }

    /// Materialises an artifact at `dest` (file or directory), atomically (write beside, then
    /// rename). Replaces whatever `dest` was. Fails with `Corrupt` when a blob does not match
    /// its digest, and `InvalidManifest` when a directory manifest would escape `dest`.
    pub async fn get(&self, artifact: &StoredArtifact, dest: &Path) -> Result<(), StoreError> {
        digest_hex(&artifact.digest)?;
        let parent = parent_dir(dest);
        tokio::fs::create_dir_all(&parent)
            .await
            .map_err(|e| StoreError::io("creating directory", &parent, e))?;
        let tmp = beside(dest);
        let result = match artifact.kind {
            ArtifactKind::File => self.fetch_blob(&artifact.digest, &tmp, false).await,
            ArtifactKind::Directory => self.fetch_dir(&artifact.digest, &tmp).await,
        };
        let result = match result {
            Ok(()) => replace(&tmp, dest).await,
            Err(e) => Err(e),
        };
        if result.is_err() {
            remove_any(&tmp).await;
        }
        result
    }

    /// Whether a blob with this digest is stored.
    pub async fn contains(&self, digest: &str) -> Result<bool, StoreError> {
        let key = blob_key(digest_hex(digest)?);
        self.op
            .exists(&key)
            .await
            .map_err(|e| self.backend_err("checking", &key, e))
    }

    /// Deletes a blob. Deleting a directory's manifest leaves its file blobs (they may be shared).
    /// Deleting a missing digest succeeds.
    pub async fn delete(&self, digest: &str) -> Result<(), StoreError> {
        let key = blob_key(digest_hex(digest)?);
        self.op
            .delete(&key)
            .await
            .map_err(|e| self.backend_err("deleting", &key, e))
    }

    /// The stored size in bytes of one blob (for a directory artifact: of its manifest).
    pub async fn size(&self, digest: &str) -> Result<u64, StoreError> {
        let key = blob_key(digest_hex(digest)?);
        self.op
            .stat(&key)
            .await
            .map(|m| m.content_length())
            .map_err(|e| self.missing_or_backend("reading the size of", digest, &key, e))
    }

    /// Every stored blob with its size, sorted by digest. Ignores anything that is not a blob
    /// (temporary files, foreign objects under the prefix).
    pub async fn list(&self) -> Result<Vec<(String, u64)>, StoreError> {
        let mut out = Vec::new();
        for (digest, key, meta) in self.blobs().await? {
            // Some backends (fs) list without sizes.
            let size = if meta.content_length() > 0 {
                meta.content_length()
            } else {
                self.op
                    .stat(&key)
                    .await
                    .map_err(|e| self.backend_err("reading the size of", &key, e))?
                    .content_length()
            };
            out.push((digest, size));
        }
        out.sort();
        Ok(out)
    }

    /// Every final blob under the blob prefix as (digest, key, listed metadata); temporary
    /// files, directories and foreign objects are skipped.
    async fn blobs(&self) -> Result<Vec<(String, String, opendal::Metadata)>, StoreError> {
        let mut lister = self
            .op
            .lister_with(BLOB_PREFIX)
            .recursive(true)
            .await
            .map_err(|e| self.backend_err("listing", BLOB_PREFIX, e))?;
        let mut out = Vec::new();
        while let Some(entry) = lister.next().await {
            let entry = entry.map_err(|e| self.backend_err("listing", BLOB_PREFIX, e))?;
            let Some(hex) = blob_hex_of_key(entry.path()).map(str::to_string) else {
                continue;
            };
            let (key, meta) = entry.into_parts();
            if meta.is_file() {
                out.push((format!("sha256:{hex}"), key, meta));
            }
        }
        Ok(out)
    }

    fn backend_err(&self, what: &str, key: &str, err: opendal::Error) -> StoreError {
        StoreError::backend(what, &format!("{}/{key}", self.location), err)
    }

    fn missing_or_backend(
        &self,
        what: &str,
        digest: &str,
        key: &str,
        err: opendal::Error,
    ) -> StoreError {
        if err.kind() == opendal::ErrorKind::NotFound {
            self.not_found(what, digest).with_source(err)
        } else {
            self.backend_err(what, key, err)
        }
    }

    fn not_found(&self, what: &str, digest: &str) -> StoreError {
        StoreError::new(
            StoreErrorKind::NotFound,
            format!(
                "{what} artifact {digest}: it is not in the store {} (it was never stored there, or was evicted); run the step that produces it again",
                self.location
            ),
        )
    }

    /// Stores one regular file; returns its digest and size.
    async fn put_file(&self, path: &Path) -> Result<(String, u64), StoreError> {
        sparse::refuse_sparse(path)?;
        let (hex, size) = hash_file(path).await?;
        let key = blob_key(&hex);
        let digest = format!("sha256:{hex}");
        if !self.make_room(&key, &hex, size).await? {
            return Ok((digest, size));
        }
        let target = self.staging_key(&key);
        let mut writer = self
            .op
            .writer_with(&target)
            .chunk(UPLOAD_CHUNK)
            .await
            .map_err(|e| self.backend_err("storing", &key, e))?;
        // Hash again while uploading: a file that changed since the first pass must not be
        // stored under the old digest.
        let uploaded = async {
            let mut reader = HashingReader::open(path).await?;
            while let Some(chunk) = reader.next_chunk().await? {
                writer
                    .write(chunk.to_vec())
                    .await
                    .map_err(|e| self.backend_err("storing", &key, e))?;
            }
            Ok::<_, StoreError>(reader.finish())
        }
        .await;
        match uploaded {
            Ok((again, _)) if again == hex => match writer.close().await {
                Ok(_) => {
                    self.publish(&target, &key).await?;
                    Ok((digest, size))
                }
                Err(e) => {
                    // A failed close (a full disk at the last flush) must not leave its
                    // temporary file holding the space.
                    let _ = writer.abort().await;
                    Err(self.backend_err("storing", &key, e))
                }
            },
            Ok(_) => {
                let _ = writer.abort().await;
                Err(StoreError::new(
                    StoreErrorKind::Changed,
                    format!(
                        "{} changed while it was being stored; store an artifact only after the step that writes it has finished",
                        path.display()
                    ),
                ))
            }
            Err(e) => {
                let _ = writer.abort().await;
                Err(e)
            }
        }
    }

    /// Whether content hashing to `hex` must be written under `key`: not when an intact blob is
    /// there already (identical content is stored once). A blob there that does not verify is
    /// removed first, so storing the content again repairs it.
    async fn make_room(&self, key: &str, hex: &str, size: u64) -> Result<bool, StoreError> {
        match self
            .blob_state(key, hex, size, self.reads_are_cheap())
            .await?
        {
            BlobState::Intact => Ok(false),
            BlobState::Absent => Ok(true),
            BlobState::Damaged => {
                self.op
                    .delete(key)
                    .await
                    .map_err(|e| self.backend_err("replacing the damaged object", key, e))?;
                Ok(true)
            }
        }
    }

    /// Where a blob on its way to `key` is written: `key` itself, unless the backend shows a
    /// write in progress (WebHDFS).
    fn staging_key(&self, key: &str) -> String {
        match self.renamer {
            Some(_) => webhdfs::staging_key(key),
            None => key.to_string(),
        }
    }

    /// Makes a blob written at `staged` (by [`ArtifactStore::staging_key`]) visible as `key`.
    async fn publish(&self, staged: &str, key: &str) -> Result<(), StoreError> {
        let Some(renamer) = &self.renamer else {
            return Ok(());
        };
        if let Err(why) = renamer.publish(&self.op, staged, key).await {
            // Best effort: a staged blob left behind is collected by a later `open`.
            let _ = self.op.delete(staged).await;
            return Err(StoreError::new(
                StoreErrorKind::Backend,
                format!("storing {key} in {}: {why}", self.location),
            ));
        }
        Ok(())
    }

    /// Stores bytes held in memory (a manifest) as a blob; returns its digest.
    async fn put_bytes(&self, bytes: Vec<u8>) -> Result<String, StoreError> {
        let hex = to_hex(&Sha256::digest(&bytes));
        let key = blob_key(&hex);
        if self.make_room(&key, &hex, bytes.len() as u64).await? {
            // Atomic: temp + rename on fs, one PUT on the clouds, staged + RENAME on WebHDFS.
            let target = self.staging_key(&key);
            self.op
                .write(&target, bytes)
                .await
                .map_err(|e| self.backend_err("storing", &key, e))?;
            self.publish(&target, &key).await?;
        }
        Ok(format!("sha256:{hex}"))
    }

    async fn put_dir(&self, root: &Path) -> Result<StoredArtifact, StoreError> {
        let canonical_root = tokio::fs::canonicalize(root)
            .await
            .map_err(|e| StoreError::io("resolving", root, e))?;
        let (files, dirs) = walk(root, &canonical_root).await?;
        // Several files in flight: on S3 each is at least one round trip.
        let entries: Vec<ManifestFile> = futures_util::stream::iter(files)
            .map(|(rel, source, executable)| async move {
                let (digest, size) = self.put_file(&source).await?;
                Ok::<_, StoreError>(ManifestFile {
                    path: rel,
                    digest,
                    size,
                    executable,
                })
            })
            .buffered(DIR_CONCURRENCY)
            .try_collect()
            .await?;
        let total = entries.iter().map(|e| e.size).sum();
        let manifest = Manifest {
            format: MANIFEST_FORMAT.to_string(),
            files: entries,
            dirs,
        };
        let bytes = serde_json::to_vec(&manifest).map_err(|e| {
            StoreError::new(
                StoreErrorKind::Io,
                format!("encoding the manifest of {}: {e}", root.display()),
            )
        })?;
        let digest = self.put_bytes(bytes).await?;
        Ok(StoredArtifact {
            digest,
            size: total,
            kind: ArtifactKind::Directory,
        })
    }

    /// Downloads a blob to `dest` (a fresh path), verifying its digest as it streams.
    async fn fetch_blob(
        &self,
        digest: &str,
        dest: impl AsRef<Path>,
        executable: bool,
    ) -> Result<(), StoreError> {
        let dest = dest.as_ref();
        let hex = digest_hex(digest)?;
        let key = blob_key(hex);
        if self.clone_blob(&key, dest, executable).await {
            // Verified as a copy would be (reading costs no space).
            let (actual, _) = hash_file(dest).await?;
            if actual != hex {
                return Err(self.corrupt(digest, &key, &actual).await);
            }
            return Ok(());
        }
        let reader = self
            .op
            .reader(&key)
            .await
            .map_err(|e| self.missing_or_backend("reading", digest, &key, e))?;
        let mut stream = reader
            .into_bytes_stream(..)
            .await
            .map_err(|e| self.missing_or_backend("reading", digest, &key, e))?;
        let mut file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(if executable { 0o755 } else { 0o644 })
            .open(dest)
            .await
            .map_err(|e| StoreError::io("creating", dest, e))?;
        let mut hasher = Sha256::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| {
                // Some backends (fs) open lazily: a missing blob shows up on the first read.
                if e.kind() == std::io::ErrorKind::NotFound {
                    return self.not_found("reading", digest);
                }
                StoreError::new(
                    StoreErrorKind::Backend,
                    format!(
                        "reading object {}/{key}: {e}; check that the store is reachable",
                        self.location
                    ),
                )
                .with_source(e)
            })?;
            hasher.update(&chunk);
            file.write_all(&chunk)
                .await
                .map_err(|e| StoreError::io("writing", dest, e))?;
        }
        file.flush()
            .await
            .map_err(|e| StoreError::io("writing", dest, e))?;
        let actual = to_hex(&hasher.finalize());
        if actual != hex {
            return Err(self.corrupt(digest, &key, &actual).await);
        }
        Ok(())
    }

    /// Places a local store's blob `key` at `dest` by reflink; `false` where it cannot (not a
    /// local store, a file system that does not clone, or any error, which the copy that
    /// follows then reports as it always has), with nothing left at `dest`.
    async fn clone_blob(&self, key: &str, dest: &Path, executable: bool) -> bool {
        let Some(root) = &self.local_root else {
            return false;
        };
        let (src, to) = (root.join(key), dest.to_path_buf());
        let mode = if executable { 0o755 } else { 0o644 };
        matches!(
            tokio::task::spawn_blocking(move || reflink::clone_file(&src, &to, mode)).await,
            Ok(Ok(true))
        )
    }

    /// Removes a blob whose content does not match its digest, and says so: the next run of
    /// the step that produces it misses the cache and stores it again.
    async fn corrupt(&self, digest: &str, key: &str, actual: &str) -> StoreError {
        self.discard(key).await;
        StoreError::new(
            StoreErrorKind::Corrupt,
            format!(
                "stored object {}/{key} was corrupt (its content hashes to sha256:{actual}, not {digest}) and has been removed; run the workflow again with `couler run`: the step that produces it runs again instead of hitting the cache (`couler cache verify` checks the whole store)",
                self.location
            ),
        )
    }

    /// Reads, verifies and validates a directory artifact's manifest.
    async fn load_manifest(&self, digest: &str) -> Result<Manifest, StoreError> {
        let hex = digest_hex(digest)?;
        let key = blob_key(hex);
        let meta = self
            .op
            .stat(&key)
            .await
            .map_err(|e| self.missing_or_backend("reading", digest, &key, e))?;
        if meta.content_length() > MAX_MANIFEST_BYTES {
            return Err(StoreError::new(
                StoreErrorKind::InvalidManifest,
                format!(
                    "directory manifest {digest} is {} bytes, more than the {MAX_MANIFEST_BYTES} allowed; it is not a Couler manifest (was a file stored under this digest?)",
                    meta.content_length()
                ),
            ));
        }
        let bytes = self
            .op
            .read(&key)
            .await
            .map_err(|e| self.missing_or_backend("reading", digest, &key, e))?
            .to_vec();
        let actual = to_hex(&Sha256::digest(&bytes));
        if actual != hex {
            return Err(self.corrupt(digest, &key, &actual).await);
        }
        let manifest: Manifest = serde_json::from_slice(&bytes).map_err(|e| {
            StoreError::new(
                StoreErrorKind::InvalidManifest,
                format!(
                    "artifact {digest} is not a directory manifest ({e}); it was stored as a file: get it with kind `file`"
                ),
            )
        })?;
        manifest.validate(digest)?;
        Ok(manifest)
    }

    /// Rebuilds a directory artifact at `dest` (a fresh path).
    async fn fetch_dir(&self, digest: &str, dest: &Path) -> Result<(), StoreError> {
        let manifest = self.load_manifest(digest).await?;
        tokio::fs::create_dir(dest)
            .await
            .map_err(|e| StoreError::io("creating directory", dest, e))?;
        // Validated paths are relative with no `..`, and `dest` is a fresh directory in which
        // nothing creates symlinks, so every join below stays inside `dest`.
        let mut made = BTreeSet::new();
        for dir in &manifest.dirs {
            let path = dest.join(dir);
            tokio::fs::create_dir_all(&path)
                .await
                .map_err(|e| StoreError::io("creating directory", &path, e))?;
            made.insert(dir.clone());
        }
        for file in &manifest.files {
            if let Some((parent, _)) = file.path.rsplit_once('/')
                && made.insert(parent.to_string())
            {
                let path = dest.join(parent);
                tokio::fs::create_dir_all(&path)
                    .await
                    .map_err(|e| StoreError::io("creating directory", &path, e))?;
            }
        }
        futures_util::stream::iter(&manifest.files)
            .map(|file| self.fetch_blob(&file.digest, dest.join(&file.path), file.executable))
            .buffer_unordered(DIR_CONCURRENCY)
            .try_collect::<()>()
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_checked() {
        let good = format!("sha256:{}", "ab".repeat(32));
        assert!(digest_hex(&good).is_ok());
        for bad in [
            "",
            "sha256:",
            "md5:00",
            &format!("sha256:{}", "AB".repeat(32)),
            &format!("sha256:{}/..", "ab".repeat(31)),
        ] {
            let err = digest_hex(bad).unwrap_err();
            assert_eq!(err.kind(), StoreErrorKind::InvalidDigest);
        }
    }

    #[test]
    fn blob_keys_round_trip() {
        let hex = "cd".repeat(32);
        let key = blob_key(&hex);
        assert_eq!(key, format!("blobs/sha256/cd/{hex}"));
        assert_eq!(blob_hex_of_key(&key), Some(hex.as_str()));
        assert_eq!(blob_hex_of_key("blobs/sha256/cd/"), None);
        assert_eq!(blob_hex_of_key(&format!("blobs/sha256/ab/{hex}")), None);
    }

    #[test]
    fn unsupported_ir_storage_is_a_clear_error() {
        let git = couler_ir::Storage::Git(couler_ir::GitStorage {
            repo: "https://example.com/r.git".into(),
            revision: None,
            depth: None,
        });
        let err = Location::from_ir(&git).unwrap_err().to_string();
        assert!(
            err.contains("`git` is not supported by the local runtime")
                && err.contains("`local`, `s3`, `gcs`, `oss` or `hdfs`"),
            "{err}"
        );
    }
}
