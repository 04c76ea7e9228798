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
//! use couler_store::{ArtifactStore, StoreConfig};
//! let store = ArtifactStore::open(&StoreConfig::Local { root: "/tmp/couler-store".into() }).await?;
//! let artifact = store.put("model/".as_ref()).await?;
//! store.get(&artifact, "restored-model/".as_ref()).await?;
//! # Ok(())
//! # }
//! ```
//!
//! See `docs/artifacts.md` for the storage model and configuration.

mod error;
mod gc;
mod manifest;
mod reflink;
mod sparse;
mod verify;
mod webhdfs;

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Once};
use std::time::{Duration, SystemTime};

use futures_util::{StreamExt, TryStreamExt};
use opendal::Operator;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub use error::{StoreError, StoreErrorKind};
pub use gc::GcReport;
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
/// Where the local runtime finds the WebHDFS address of an `hdfs` storage (its `addresses`
/// are RPC addresses).
pub const WEBHDFS_ENDPOINT_VAR: &str = "COULER_WEBHDFS_ENDPOINT";
const BLOB_PREFIX: &str = "blobs/sha256/";
/// Files of one directory artifact stored or fetched at once.
const DIR_CONCURRENCY: usize = 8;

/// Where artifacts are stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreConfig {
    /// A directory on this machine.
    Local { root: PathBuf },
    /// An S3 bucket or any S3-compatible server (MinIO, Ceph, GCS/OSS interoperability ...).
    /// Credentials left `None` fall back to `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` (and
    /// `AWS_SESSION_TOKEN`); the region to `AWS_REGION`/`AWS_DEFAULT_REGION`, else `us-east-1`.
    S3 {
        bucket: String,
        prefix: String,
        endpoint: Option<String>,
        region: Option<String>,
        access_key_id: Option<String>,
        secret_access_key: Option<String>,
    },
    /// A Google Cloud Storage bucket. Credentials: the service-account (or `gcloud auth
    /// application-default login`) JSON file named by `GOOGLE_APPLICATION_CREDENTIALS`, else the
    /// gcloud well-known file. With `STORAGE_EMULATOR_HOST` set (Google's convention for its
    /// emulators), requests go unsigned to that emulator.
    Gcs { bucket: String, prefix: String },
    /// An Alibaba Cloud OSS bucket (or an OSS-compatible server). `endpoint` `None` falls back
    /// to `OSS_ENDPOINT`; credentials come from `OSS_ACCESS_KEY_ID`/`OSS_ACCESS_KEY_SECRET` (or
    /// `ALIBABA_CLOUD_ACCESS_KEY_ID`/`ALIBABA_CLOUD_ACCESS_KEY_SECRET`), plus
    /// `OSS_SESSION_TOKEN` for STS credentials. Buckets are addressed virtual-host style
    /// (`bucket.endpoint`) unless `OSS_ADDRESSING_STYLE=path` (for OSS-compatible servers).
    Oss {
        bucket: String,
        prefix: String,
        endpoint: Option<String>,
    },
    /// A directory in HDFS, reached through WebHDFS (the NameNode's REST API, on by default in
    /// every Hadoop release): `endpoint` is its HTTP address (`http://namenode:9870`), `root`
    /// an absolute directory. `user` `None` falls back to `HADOOP_USER_NAME` (Hadoop's simple
    /// authentication); Kerberos (SPNEGO) is not supported.
    Hdfs {
        endpoint: String,
        root: String,
        user: Option<String>,
    },
}

impl StoreConfig {
    /// Maps a storage location from the IR (an `artifactRepository` or an artifact's `storage`).
    ///
    /// `local`, `s3`, `gcs` and `oss` are supported. Their keys (`accessKey`, `secretKey`,
    /// `serviceAccountKey`) are Kubernetes secret references, which the local runtime cannot
    /// read: it takes credentials from each cloud's usual environment variables instead.
    pub fn from_ir(storage: &couler_ir::Storage) -> Result<StoreConfig, StoreError> {
        match storage {
            couler_ir::Storage::Local(local) => {
                if local.path.is_empty() {
                    return Err(StoreError::new(
                        StoreErrorKind::Config,
                        "local storage has an empty `path`; set it to a directory",
                    ));
                }
                Ok(StoreConfig::Local {
                    root: PathBuf::from(&local.path),
                })
            }
            couler_ir::Storage::S3(s3) => {
                let endpoint = s3.endpoint.as_ref().map(|e| with_scheme(e, s3.insecure));
                Ok(StoreConfig::S3 {
                    bucket: s3.bucket.clone(),
                    prefix: s3.key.clone(),
                    endpoint,
                    region: s3.region.clone(),
                    access_key_id: None,
                    secret_access_key: None,
                })
            }
            couler_ir::Storage::Gcs(gcs) => Ok(StoreConfig::Gcs {
                bucket: gcs.bucket.clone(),
                prefix: gcs.key.clone(),
            }),
            couler_ir::Storage::Oss(oss) => Ok(StoreConfig::Oss {
                bucket: oss.bucket.clone(),
                prefix: oss.key.clone(),
                endpoint: Some(with_scheme(&oss.endpoint, false)),
            }),
            // `addresses` are the NameNode's RPC addresses (what Argo's executor dials); the
            // local runtime speaks WebHDFS, on the NameNode's HTTP port, which they do not give.
            couler_ir::Storage::Hdfs(hdfs) => {
                let Some(endpoint) = env_var(WEBHDFS_ENDPOINT_VAR) else {
                    return Err(StoreError::new(
                        StoreErrorKind::Config,
                        format!(
                            "the local runtime reaches HDFS through WebHDFS, and `addresses` ({}) are RPC addresses; \
                             set {WEBHDFS_ENDPOINT_VAR} to the NameNode's HTTP address (for example http://namenode:9870)",
                            hdfs.addresses.join(", ")
                        ),
                    ));
                };
                Ok(StoreConfig::Hdfs {
                    endpoint: with_scheme(&endpoint, true),
                    root: root_of(&hdfs.path),
                    user: hdfs.user.clone(),
                })
            }
            other => Err(StoreError::new(
                StoreErrorKind::Config,
                format!(
                    "storage kind `{}` is not supported by the local runtime; use `local`, `s3`, `gcs`, `oss` or `hdfs`",
                    other.key()
                ),
            )),
        }
    }
}

/// An endpoint as a URL: `host[:port]` gets `https://` (`http://` when `insecure`).
fn with_scheme(endpoint: &str, insecure: bool) -> String {
    if endpoint.contains("://") {
        endpoint.to_string()
    } else if insecure {
        format!("http://{endpoint}")
    } else {
        format!("https://{endpoint}")
    }
}

/// An environment variable's value, when set and not empty.
fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

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
    /// Opens (and for `Local`, creates) the store. For `Local`, removes temporary files left by a
    /// crash more than an hour ago.
    pub async fn open(config: &StoreConfig) -> Result<ArtifactStore, StoreError> {
        match config {
            StoreConfig::Local { root } => open_local(root).await,
            StoreConfig::S3 {
                bucket,
                prefix,
                endpoint,
                region,
                access_key_id,
                secret_access_key,
            } => open_s3(
                bucket,
                prefix,
                endpoint.as_deref(),
                region.as_deref(),
                access_key_id.as_deref(),
                secret_access_key.as_deref(),
            ),
            StoreConfig::Gcs { bucket, prefix } => open_gcs(bucket, prefix),
            StoreConfig::Oss {
                bucket,
                prefix,
                endpoint,
            } => open_oss(bucket, prefix, endpoint.as_deref()),
            StoreConfig::Hdfs {
                endpoint,
                root,
                user,
            } => open_webhdfs(endpoint, root, user.as_deref()).await,
        }
    }

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

async fn open_local(root: &Path) -> Result<ArtifactStore, StoreError> {
    let tmp = root.join(TMP_DIR);
    tokio::fs::create_dir_all(&tmp)
        .await
        .map_err(|e| StoreError::io("creating the artifact store at", root, e))?;
    let root = tokio::fs::canonicalize(root)
        .await
        .map_err(|e| StoreError::io("resolving the artifact store at", root, e))?;
    let tmp = root.join(TMP_DIR);
    clean_stale_tmp(&tmp).await;
    let (Some(root_str), Some(tmp_str)) = (root.to_str(), tmp.to_str()) else {
        return Err(StoreError::new(
            StoreErrorKind::Config,
            format!(
                "the artifact store path {} is not valid UTF-8; choose a UTF-8 path",
                root.display()
            ),
        ));
    };
    // atomic_write_dir: opendal writes to a temp file there, fsyncs, and renames into place.
    // It is under the root, so the rename never crosses filesystems.
    let builder = opendal::services::Fs::default()
        .root(root_str)
        .atomic_write_dir(tmp_str);
    let op = Operator::new(builder).map_err(|e| StoreError::backend("opening", root_str, e))?;
    Ok(ArtifactStore {
        op,
        location: root_str.to_string(),
        renamer: None,
        local_root: Some(root.clone()),
    })
}

/// Removes temporary files a crashed writer left behind. Young ones may belong to a live writer
/// in another process, so only files older than `STALE_TMP_AGE` go. Best effort.
async fn clean_stale_tmp(tmp: &Path) {
    let Ok(mut dir) = tokio::fs::read_dir(tmp).await else {
        return;
    };
    let now = SystemTime::now();
    while let Ok(Some(entry)) = dir.next_entry().await {
        let Ok(meta) = entry.metadata().await else {
            continue;
        };
        if meta.is_file() && is_stale(meta.modified().ok(), now) {
            let _ = tokio::fs::remove_file(entry.path()).await;
        }
    }
}

/// Deletes what crashed writers left under a store's `.tmp/` (WebHDFS), as [`clean_stale_tmp`]
/// does on the local filesystem. Best effort.
async fn clean_stale_staging(op: &Operator) {
    let Ok(entries) = op.list_with(TMP_PREFIX).recursive(true).await else {
        return;
    };
    let now = SystemTime::now();
    for entry in entries {
        let meta = entry.metadata();
        if meta.is_file() && is_stale(meta.last_modified().map(SystemTime::from), now) {
            let _ = op.delete(entry.path()).await;
        }
    }
}

/// Whether a temporary file last written at `modified` is older than `STALE_TMP_AGE`.
fn is_stale(modified: Option<SystemTime>, now: SystemTime) -> bool {
    modified
        .and_then(|m| now.duration_since(m).ok())
        .is_some_and(|age| age > STALE_TMP_AGE)
}

fn require_bucket(bucket: &str, service: &str) -> Result<(), StoreError> {
    if bucket.is_empty() {
        return Err(StoreError::new(
            StoreErrorKind::Config,
            format!("{service} storage has an empty `bucket`; set it"),
        ));
    }
    Ok(())
}

/// `/prefix` for a builder's `root`.
fn root_of(prefix: &str) -> String {
    format!("/{}", prefix.trim_matches('/'))
}

/// Remote services answer the odd request with a 5xx or a dropped connection; opendal marks
/// those temporary, and they are retried with backoff (as the clouds' own SDKs do) before a step
/// fails. Every request here is idempotent: a blob's key is its digest.
fn with_retries(op: Operator) -> Operator {
    op.layer(
        opendal::layers::RetryLayer::new()
            .with_min_delay(Duration::from_millis(100))
            .with_max_delay(Duration::from_secs(5))
            .with_max_times(4)
            .with_jitter(),
    )
}

/// The store behind a configured cloud builder, named `scheme://bucket/prefix` in messages.
fn cloud_store(
    builder: impl opendal::Builder,
    scheme: &str,
    bucket: &str,
    prefix: &str,
) -> Result<ArtifactStore, StoreError> {
    install_http_transport();
    let location = format!("{scheme}://{bucket}/{}", prefix.trim_matches('/'));
    let op =
        Operator::new(builder).map_err(|e| StoreError::backend("configuring", &location, e))?;
    Ok(ArtifactStore {
        op: with_retries(op),
        location,
        renamer: None,
        local_root: None,
    })
}

fn open_s3(
    bucket: &str,
    prefix: &str,
    endpoint: Option<&str>,
    region: Option<&str>,
    access_key_id: Option<&str>,
    secret_access_key: Option<&str>,
) -> Result<ArtifactStore, StoreError> {
    require_bucket(bucket, "S3")?;
    let region = region
        .map(str::to_string)
        .or_else(|| env_var("AWS_REGION"))
        .or_else(|| env_var("AWS_DEFAULT_REGION"))
        .unwrap_or_else(|| "us-east-1".to_string());
    let mut builder = opendal::services::S3::default()
        .bucket(bucket)
        .root(&root_of(prefix))
        .region(&region)
        // Only what is configured here or in the AWS env vars: no surprise profiles.
        .disable_config_load()
        .disable_ec2_metadata();
    if let Some(endpoint) = endpoint
        .map(str::to_string)
        .or_else(|| env_var("AWS_ENDPOINT_URL"))
    {
        builder = builder.endpoint(&endpoint);
    }
    let key = access_key_id
        .map(str::to_string)
        .or_else(|| env_var("AWS_ACCESS_KEY_ID"));
    let secret = secret_access_key
        .map(str::to_string)
        .or_else(|| env_var("AWS_SECRET_ACCESS_KEY"));
    match (key, secret) {
        (Some(key), Some(secret)) => {
            builder = builder.access_key_id(&key).secret_access_key(&secret);
            if access_key_id.is_none()
                && let Some(token) = env_var("AWS_SESSION_TOKEN")
            {
                builder = builder.session_token(&token);
            }
        }
        (None, None) => {
            return Err(StoreError::new(
                StoreErrorKind::Config,
                format!(
                    "no credentials for S3 bucket `{bucket}`; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
                ),
            ));
        }
        _ => {
            return Err(StoreError::new(
                StoreErrorKind::Config,
                format!(
                    "incomplete credentials for S3 bucket `{bucket}`: an access key id needs a secret access key; set both (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"
                ),
            ));
        }
    }
    cloud_store(builder, "s3", bucket, prefix)
}

fn open_gcs(bucket: &str, prefix: &str) -> Result<ArtifactStore, StoreError> {
    require_bucket(bucket, "GCS")?;
    let mut builder = opendal::services::Gcs::default()
        .bucket(bucket)
        .root(&root_of(prefix))
        // Only the credentials named below: no surprise calls to a VM metadata server.
        .disable_vm_metadata()
        .disable_config_load();
    if let Some(host) = env_var("STORAGE_EMULATOR_HOST") {
        // Emulators speak plain HTTP and take unsigned requests.
        builder = builder.endpoint(&with_scheme(&host, true)).skip_signature();
    } else {
        let well_known = std::env::var_os("HOME").map(|home| {
            PathBuf::from(home).join(".config/gcloud/application_default_credentials.json")
        });
        let credentials = env_var("GOOGLE_APPLICATION_CREDENTIALS")
            .map(PathBuf::from)
            .or_else(|| well_known.filter(|p| p.is_file()));
        let Some(credentials) = credentials else {
            return Err(StoreError::new(
                StoreErrorKind::Config,
                format!(
                    "no credentials for GCS bucket `{bucket}`; set GOOGLE_APPLICATION_CREDENTIALS to a service-account key file (or run `gcloud auth application-default login`)"
                ),
            ));
        };
        if !credentials.is_file() {
            return Err(StoreError::new(
                StoreErrorKind::Config,
                format!(
                    "GOOGLE_APPLICATION_CREDENTIALS names {}, which is not a file; point it at a service-account key file",
                    credentials.display()
                ),
            ));
        }
        builder = builder.credential_path(&credentials.to_string_lossy());
    }
    cloud_store(builder, "gs", bucket, prefix)
}

fn open_oss(
    bucket: &str,
    prefix: &str,
    endpoint: Option<&str>,
) -> Result<ArtifactStore, StoreError> {
    require_bucket(bucket, "OSS")?;
    let Some(endpoint) = endpoint
        .map(str::to_string)
        .or_else(|| env_var("OSS_ENDPOINT").map(|e| with_scheme(&e, false)))
    else {
        return Err(StoreError::new(
            StoreErrorKind::Config,
            format!(
                "no endpoint for OSS bucket `{bucket}`; set OSS_ENDPOINT (for example https://oss-cn-hangzhou.aliyuncs.com)"
            ),
        ));
    };
    let style = env_var("OSS_ADDRESSING_STYLE").unwrap_or_else(|| "virtual".to_string());
    if !matches!(style.as_str(), "virtual" | "path" | "cname") {
        return Err(StoreError::new(
            StoreErrorKind::Config,
            format!(
                "OSS_ADDRESSING_STYLE is `{style}`; set it to `virtual` (the default), `path` or `cname`"
            ),
        ));
    }
    let key = env_var("OSS_ACCESS_KEY_ID").or_else(|| env_var("ALIBABA_CLOUD_ACCESS_KEY_ID"));
    let secret =
        env_var("OSS_ACCESS_KEY_SECRET").or_else(|| env_var("ALIBABA_CLOUD_ACCESS_KEY_SECRET"));
    let (Some(key), Some(secret)) = (key, secret) else {
        return Err(StoreError::new(
            StoreErrorKind::Config,
            format!(
                "no credentials for OSS bucket `{bucket}`; set OSS_ACCESS_KEY_ID and OSS_ACCESS_KEY_SECRET"
            ),
        ));
    };
    let mut builder = opendal::services::Oss::default()
        .bucket(bucket)
        .root(&root_of(prefix))
        .endpoint(&endpoint)
        .addressing_style(&style)
        .access_key_id(&key)
        .access_key_secret(&secret);
    if let Some(token) = env_var("OSS_SESSION_TOKEN") {
        builder = builder.security_token(&token);
    }
    cloud_store(builder, "oss", bucket, prefix)
}

async fn open_webhdfs(
    endpoint: &str,
    root: &str,
    user: Option<&str>,
) -> Result<ArtifactStore, StoreError> {
    let Some((scheme, host)) = endpoint
        .split_once("://")
        .filter(|(scheme, host)| matches!(*scheme, "http" | "https") && !host.is_empty())
    else {
        return Err(StoreError::new(
            StoreErrorKind::Config,
            format!(
                "the WebHDFS endpoint `{endpoint}` is not an http:// or https:// URL; give the NameNode's HTTP address (for example http://namenode:9870)"
            ),
        ));
    };
    let host = host.trim_end_matches('/');
    let root = root_of(root);
    let user = user
        .map(str::to_string)
        .or_else(|| env_var("HADOOP_USER_NAME"));
    install_http_transport();
    let hdfs_scheme = if scheme == "https" {
        "swebhdfs"
    } else {
        "webhdfs"
    };
    let location = format!("{hdfs_scheme}://{host}{root}");
    let endpoint = format!("{scheme}://{host}");
    let mut builder = opendal::services::Webhdfs::default()
        .endpoint(&endpoint)
        .root(&root)
        // Lets opendal upload a large blob in blocks (then CONCAT); it writes one that fits a
        // block in place, which is why the blob itself is staged under `.tmp/` too.
        .atomic_write_dir(webhdfs::BLOCK_DIR);
    if let Some(user) = &user {
        builder = builder.user_name(user);
    }
    let op =
        Operator::new(builder).map_err(|e| StoreError::backend("configuring", &location, e))?;
    let renamer = webhdfs::Renamer::new(&endpoint, &root, user.as_deref()).map_err(|e| {
        StoreError::new(
            StoreErrorKind::Config,
            format!("cannot set up an HTTP client for {location}: {e}"),
        )
    })?;
    let op = with_retries(op);
    clean_stale_staging(&op).await;
    Ok(ArtifactStore {
        op,
        location,
        renamer: Some(Arc::new(renamer)),
        local_root: None,
    })
}

/// Installs the HTTP transport opendal uses for the cloud stores (reqwest + rustls with ring),
/// once.
fn install_http_transport() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Fails only when another provider is already installed, which serves as well.
        let _ = rustls::crypto::ring::default_provider().install_default();
        opendal::HttpTransporter::install_default(
            opendal_http_transport_reqwest::ReqwestTransport::default(),
        );
    });
}

/// The hex part of a `sha256:<64 lowercase hex>` digest.
pub(crate) fn digest_hex(digest: &str) -> Result<&str, StoreError> {
    match digest.strip_prefix("sha256:") {
        Some(hex)
            if hex.len() == 64
                && hex
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) =>
        {
            Ok(hex)
        }
        _ => Err(StoreError::new(
            StoreErrorKind::InvalidDigest,
            format!(
                "`{digest}` is not an artifact digest; expected `sha256:` followed by 64 lowercase hex digits"
            ),
        )),
    }
}

fn blob_key(hex: &str) -> String {
    format!("{BLOB_PREFIX}{}/{hex}", &hex[..2])
}

/// The hex of a listed key when it is exactly a blob's key.
fn blob_hex_of_key(key: &str) -> Option<&str> {
    let rest = key.trim_start_matches('/').strip_prefix(BLOB_PREFIX)?;
    let (shard, hex) = rest.split_once('/')?;
    let valid = hex.len() == 64
        && hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        && shard == &hex[..2];
    valid.then_some(hex)
}

fn to_hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Streams a file through SHA-256; returns the hex digest and the byte count.
async fn hash_file(path: &Path) -> Result<(String, u64), StoreError> {
    let mut reader = HashingReader::open(path).await?;
    while reader.next_chunk().await?.is_some() {}
    Ok(reader.finish())
}

/// Reads a file chunk by chunk, hashing what it hands out.
struct HashingReader<'p> {
    path: &'p Path,
    file: tokio::fs::File,
    hasher: Sha256,
    buf: Vec<u8>,
    size: u64,
}

impl<'p> HashingReader<'p> {
    async fn open(path: &'p Path) -> Result<Self, StoreError> {
        let file = tokio::fs::File::open(path)
            .await
            .map_err(|e| StoreError::io("reading", path, e))?;
        Ok(HashingReader {
            path,
            file,
            hasher: Sha256::new(),
            buf: vec![0u8; READ_CHUNK],
            size: 0,
        })
    }

    /// The next chunk, already hashed; `None` at the end of the file.
    async fn next_chunk(&mut self) -> Result<Option<&[u8]>, StoreError> {
        let n = self
            .file
            .read(&mut self.buf)
            .await
            .map_err(|e| StoreError::io("reading", self.path, e))?;
        if n == 0 {
            return Ok(None);
        }
        self.hasher.update(&self.buf[..n]);
        self.size += n as u64;
        Ok(Some(&self.buf[..n]))
    }

    /// The hex digest and byte count of everything read.
    fn finish(self) -> (String, u64) {
        (to_hex(&self.hasher.finalize()), self.size)
    }
}

type WalkedFile = (String, PathBuf, bool);

/// What `path` resolves to (through every symlink on the way), when that stays inside the
/// directory `root`: the rule for a symlink inside a stored directory, and for a file or
/// directory a step declares in its working directory (an output artifact or parameter that is
/// a symlink to `/etc/hostname` is refused, not stored).
pub fn contained(path: &Path, root: &Path) -> Result<PathBuf, StoreError> {
    let canonical_root =
        std::fs::canonicalize(root).map_err(|e| StoreError::io("resolving", root, e))?;
    inside(path, &canonical_root, root)
}

fn inside(path: &Path, canonical_root: &Path, root: &Path) -> Result<PathBuf, StoreError> {
    let target = std::fs::canonicalize(path)
        .map_err(|e| StoreError::io("resolving symlink (is it dangling?)", path, e))?;
    if !target.starts_with(canonical_root) {
        return Err(StoreError::new(
            StoreErrorKind::InvalidInput,
            format!(
                "cannot store {}: it is a symlink to {}, outside the directory {}; copy the file into the directory instead",
                path.display(),
                target.display(),
                root.display()
            ),
        ));
    }
    Ok(target)
}

/// Lists a directory tree: files as (relative path, path to read, executable) and all
/// directories, both sorted. Symlinks are followed only to files inside `canonical_root`.
async fn walk(
    root: &Path,
    canonical_root: &Path,
) -> Result<(Vec<WalkedFile>, Vec<String>), StoreError> {
    let mut files = Vec::new();
    let mut dirs = Vec::new();
    let mut stack = vec![(root.to_path_buf(), String::new())];
    while let Some((dir, rel_dir)) = stack.pop() {
        let mut read = tokio::fs::read_dir(&dir)
            .await
            .map_err(|e| StoreError::io("listing", &dir, e))?;
        while let Some(entry) = read
            .next_entry()
            .await
            .map_err(|e| StoreError::io("listing", &dir, e))?
        {
            let path = entry.path();
            let name = entry.file_name();
            let Some(name) = name.to_str() else {
                return Err(StoreError::new(
                    StoreErrorKind::InvalidInput,
                    format!(
                        "cannot store {}: its name is not valid UTF-8; rename it",
                        path.display()
                    ),
                ));
            };
            if name.contains('\\') {
                return Err(StoreError::new(
                    StoreErrorKind::InvalidInput,
                    format!(
                        "cannot store {}: its name contains a backslash, which is not portable; rename it",
                        path.display()
                    ),
                ));
            }
            let rel = if rel_dir.is_empty() {
                name.to_string()
            } else {
                format!("{rel_dir}/{name}")
            };
            let meta = tokio::fs::symlink_metadata(&path)
                .await
                .map_err(|e| StoreError::io("reading", &path, e))?;
            let file_type = meta.file_type();
            if file_type.is_dir() {
                dirs.push(rel.clone());
                stack.push((path, rel));
            } else if file_type.is_file() {
                files.push((rel, path, meta.permissions().mode() & 0o111 != 0));
            } else if file_type.is_symlink() {
                let target = inside(&path, canonical_root, root)?;
                let target_meta = tokio::fs::metadata(&target)
                    .await
                    .map_err(|e| StoreError::io("reading", &target, e))?;
                if !target_meta.is_file() {
                    return Err(StoreError::new(
                        StoreErrorKind::InvalidInput,
                        format!(
                            "cannot store {}: it is a symlink to a directory; only symlinks to files are stored (as copies)",
                            path.display()
                        ),
                    ));
                }
                files.push((rel, target, target_meta.permissions().mode() & 0o111 != 0));
            } else {
                return Err(StoreError::new(
                    StoreErrorKind::InvalidInput,
                    format!(
                        "cannot store {}: it is neither a file, a directory nor a symlink (a socket or FIFO?); remove it from the artifact",
                        path.display()
                    ),
                ));
            }
        }
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    dirs.sort();
    Ok((files, dirs))
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// `PID-RANDOM`: unique to one write among every process writing the same name.
fn unique_suffix() -> String {
    use std::hash::{BuildHasher, RandomState};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let random = RandomState::new().hash_one(COUNTER.fetch_add(1, Ordering::Relaxed));
    format!("{}-{random:016x}", std::process::id())
}

/// A fresh sibling path of `dest` for writing before the rename.
fn beside(dest: &Path) -> PathBuf {
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "artifact".to_string());
    parent_dir(dest).join(format!(".{name}.couler-tmp-{}", unique_suffix()))
}

/// Moves `tmp` to `dest`, replacing what was there. A file replaces atomically; a directory
/// cannot be renamed over a non-empty one, so the old one is moved aside first.
async fn replace(tmp: &Path, dest: &Path) -> Result<(), StoreError> {
    match tokio::fs::symlink_metadata(dest).await {
        Ok(meta) if meta.is_dir() => {
            let old = beside(dest);
            tokio::fs::rename(dest, &old)
                .await
                .map_err(|e| StoreError::io("replacing", dest, e))?;
            tokio::fs::rename(tmp, dest)
                .await
                .map_err(|e| StoreError::io("replacing", dest, e))?;
            remove_any(&old).await;
            Ok(())
        }
        Ok(meta) if meta.is_file() && tokio::fs::metadata(tmp).await.is_ok_and(|m| m.is_dir()) => {
            // rename() cannot put a directory over a file.
            tokio::fs::remove_file(dest)
                .await
                .map_err(|e| StoreError::io("replacing", dest, e))?;
            tokio::fs::rename(tmp, dest)
                .await
                .map_err(|e| StoreError::io("replacing", dest, e))
        }
        _ => tokio::fs::rename(tmp, dest)
            .await
            .map_err(|e| StoreError::io("writing", dest, e)),
    }
}

async fn remove_any(path: &Path) {
    match tokio::fs::symlink_metadata(path).await {
        Ok(meta) if meta.is_dir() => {
            let _ = tokio::fs::remove_dir_all(path).await;
        }
        Ok(_) => {
            let _ = tokio::fs::remove_file(path).await;
        }
        Err(_) => {}
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
        let err = StoreConfig::from_ir(&git).unwrap_err().to_string();
        assert!(
            err.contains("`git` is not supported by the local runtime")
                && err.contains("`local`, `s3`, `gcs`, `oss` or `hdfs`"),
            "{err}"
        );
    }
}
