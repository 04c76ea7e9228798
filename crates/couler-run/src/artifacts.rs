//! Artifacts of the local runtime, kept in the workspace's content-addressed store
//! (`couler-store`): by default its local backend under `STATE_DIR/artifacts`; else a directory
//! or an S3, GCS or OSS bucket chosen with `--artifact-store`, `COULER_ARTIFACT_STORE` or the workflow's
//! `artifactRepository` ([`Location`]).
//!
//! The store never shows a partial object (write beside, then rename) and verifies digests on
//! read, so a `kill -9` at any moment loses no stored artifact and never hands a step a corrupt
//! one. This module only adapts its errors to the runtime's.

use crate::Error;
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;

/// The store's futures, boxed as `Send` so executor tasks holding them can move across threads.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

pub use couler_store::{ArtifactKind, StoredArtifact as ArtifactRef};

/// The runtime's artifact store.
#[derive(Clone, Debug)]
pub struct Store {
    inner: couler_store::ArtifactStore,
}

fn store_err(e: couler_store::StoreError) -> Error {
    Error::Io(e.to_string())
}

/// Where a run keeps its artifacts, as recorded on the run in the state database (credentials
/// are never part of it: each cloud's come from its usual environment variables).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum Location {
    /// A directory (absolute).
    Local { root: PathBuf },
    /// An S3 bucket; `endpoint` and `region` `None` fall back to `AWS_ENDPOINT_URL` and
    /// `AWS_REGION`.
    S3 {
        bucket: String,
        prefix: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        endpoint: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        region: Option<String>,
    },
    /// A GCS bucket (`STORAGE_EMULATOR_HOST` selects an emulator).
    Gcs { bucket: String, prefix: String },
    /// An OSS bucket; `endpoint` `None` falls back to `OSS_ENDPOINT`.
    Oss {
        bucket: String,
        prefix: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        endpoint: Option<String>,
    },
    /// An HDFS directory through WebHDFS: `endpoint` is the NameNode's `http(s)://host:port`,
    /// `root` an absolute path; `user` `None` falls back to `HADOOP_USER_NAME`.
    Hdfs {
        endpoint: String,
        root: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        user: Option<String>,
    },
}

impl Location {
    /// Parses `--artifact-store` / `COULER_ARTIFACT_STORE`: a directory path or
    /// `s3://`, `gs://` or `oss://BUCKET[/PREFIX]`. A relative path is made absolute against the
    /// current directory.
    pub fn parse(text: &str) -> Result<Location, Error> {
        let bad = |why: &str| {
            Error::Invalid(format!(
                "artifact store `{text}`: {why}; give a directory path, s3://BUCKET[/PREFIX], gs://BUCKET[/PREFIX], oss://BUCKET[/PREFIX] or webhdfs://NAMENODE:PORT/PATH"
            ))
        };
        let t = text.trim();
        if t.is_empty() {
            return Err(bad("it is empty"));
        }
        let Some((scheme, rest)) = t.split_once("://") else {
            return Location::local(Path::new(t));
        };
        let service = match scheme {
            "s3" => "S3",
            "gs" => "GCS",
            "oss" => "OSS",
            // Hadoop's own URI schemes for WebHDFS over HTTP and HTTPS.
            "webhdfs" | "swebhdfs" => {
                return Location::webhdfs(scheme, rest).map_err(|why| bad(&why));
            }
            "hdfs" => {
                return Err(bad(
                    "`hdfs://` names the NameNode's RPC address, and the local runtime speaks WebHDFS; \
                     give webhdfs://NAMENODE:HTTP_PORT/PATH (the HTTP port is 9870 by default)",
                ));
            }
            _ => {
                return Err(bad(&format!(
                    "the scheme `{scheme}://` is not supported (s3://, gs://, oss://, webhdfs:// and local directories are)"
                )));
            }
        };
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(bad("the bucket name is missing"));
        }
        // The rule all three share: lowercase DNS-style names (GCS also allows `_`).
        let marks = if scheme == "gs" { "-._" } else { "-." };
        let valid = bucket
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || marks.contains(c));
        if !valid || bucket.len() < 3 || bucket.len() > 63 {
            let marks: Vec<String> = marks.chars().map(|c| format!("`{c}`")).collect();
            return Err(bad(&format!(
                "`{bucket}` is not a valid {service} bucket name (3 to 63 lowercase letters, digits or {})",
                marks.join(", ")
            )));
        }
        let (bucket, prefix) = (bucket.to_string(), prefix.trim_matches('/').to_string());
        Ok(match scheme {
            "s3" => Location::S3 {
                bucket,
                prefix,
                endpoint: None,
                region: None,
            },
            "gs" => Location::Gcs { bucket, prefix },
            _ => Location::Oss {
                bucket,
                prefix,
                endpoint: None,
            },
        })
    }

    /// `webhdfs://host:port/path` (or `swebhdfs://`, over HTTPS) without its scheme.
    fn webhdfs(scheme: &str, rest: &str) -> Result<Location, String> {
        let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
        let port_ok = host
            .rsplit_once(':')
            .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok());
        if !port_ok {
            return Err(format!(
                "`{host}` is not NAMENODE:PORT (the NameNode's HTTP address, port 9870 by default)"
            ));
        }
        let http = if scheme == "swebhdfs" {
            "https"
        } else {
            "http"
        };
        Ok(Location::Hdfs {
            endpoint: format!("{http}://{host}"),
            root: format!("/{}", path.trim_matches('/')),
            user: None,
        })
    }

    /// A local directory, made absolute.
    pub fn local(path: &Path) -> Result<Location, Error> {
        let root = std::path::absolute(path).map_err(|e| {
            Error::Invalid(format!(
                "artifact store `{}`: cannot resolve the path: {e}",
                path.display()
            ))
        })?;
        Ok(Location::Local { root })
    }

    /// From a workflow's `artifactRepository`, when it is a kind the store supports.
    pub fn from_ir(storage: &couler_ir::Storage) -> Option<Location> {
        match couler_store::StoreConfig::from_ir(storage).ok()? {
            couler_store::StoreConfig::Local { root } => Location::local(&root).ok(),
            couler_store::StoreConfig::S3 {
                bucket,
                prefix,
                endpoint,
                region,
                ..
            } => Some(Location::S3 {
                bucket,
                prefix: prefix.trim_matches('/').to_string(),
                endpoint,
                region,
            }),
            couler_store::StoreConfig::Gcs { bucket, prefix } => Some(Location::Gcs {
                bucket,
                prefix: prefix.trim_matches('/').to_string(),
            }),
            couler_store::StoreConfig::Oss {
                bucket,
                prefix,
                endpoint,
            } => Some(Location::Oss {
                bucket,
                prefix: prefix.trim_matches('/').to_string(),
                endpoint,
            }),
            couler_store::StoreConfig::Hdfs {
                endpoint,
                root,
                user,
            } => Some(Location::Hdfs {
                endpoint,
                root,
                user,
            }),
        }
    }

    /// Whether both name the same objects (the same directory, or the same service, bucket and
    /// prefix).
    pub fn same_place(&self, other: &Location) -> bool {
        match (self, other) {
            (Location::Local { root: a }, Location::Local { root: b }) => a == b,
            _ => self.to_string() == other.to_string(),
        }
    }

    fn config(&self) -> couler_store::StoreConfig {
        match self {
            Location::Local { root } => couler_store::StoreConfig::Local { root: root.clone() },
            Location::S3 {
                bucket,
                prefix,
                endpoint,
                region,
            } => couler_store::StoreConfig::S3 {
                bucket: bucket.clone(),
                prefix: prefix.clone(),
                endpoint: endpoint.clone(),
                region: region.clone(),
                access_key_id: None,
                secret_access_key: None,
            },
            Location::Gcs { bucket, prefix } => couler_store::StoreConfig::Gcs {
                bucket: bucket.clone(),
                prefix: prefix.clone(),
            },
            Location::Oss {
                bucket,
                prefix,
                endpoint,
            } => couler_store::StoreConfig::Oss {
                bucket: bucket.clone(),
                prefix: prefix.clone(),
                endpoint: endpoint.clone(),
            },
            Location::Hdfs {
                endpoint,
                root,
                user,
            } => couler_store::StoreConfig::Hdfs {
                endpoint: endpoint.clone(),
                root: root.clone(),
                user: user.clone(),
            },
        }
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Local { root } => write!(f, "{}", root.display()),
            Location::S3 { bucket, prefix, .. } => url(f, "s3", bucket, prefix),
            Location::Gcs { bucket, prefix } => url(f, "gs", bucket, prefix),
            Location::Oss { bucket, prefix, .. } => url(f, "oss", bucket, prefix),
            Location::Hdfs { endpoint, root, .. } => match endpoint.strip_prefix("https://") {
                Some(host) => write!(f, "swebhdfs://{host}{root}"),
                None => write!(
                    f,
                    "webhdfs://{}{root}",
                    endpoint.strip_prefix("http://").unwrap_or(endpoint)
                ),
            },
        }
    }
}

fn url(
    f: &mut std::fmt::Formatter<'_>,
    scheme: &str,
    bucket: &str,
    prefix: &str,
) -> std::fmt::Result {
    if prefix.is_empty() {
        write!(f, "{scheme}://{bucket}")
    } else {
        write!(f, "{scheme}://{bucket}/{prefix}")
    }
}

impl Store {
    /// The local store under `root` (the state directory's `artifacts/`).
    pub async fn open(root: &Path) -> Result<Store, Error> {
        let cfg = couler_store::StoreConfig::Local {
            root: root.to_path_buf(),
        };
        let inner = couler_store::ArtifactStore::open(&cfg)
            .await
            .map_err(store_err)?;
        Ok(Store { inner })
    }

    /// The store at a chosen location. A location that cannot be opened (no credentials, a path
    /// that is not a directory) is invalid input.
    pub async fn open_at(location: &Location) -> Result<Store, Error> {
        let inner = couler_store::ArtifactStore::open(&location.config())
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

    #[test]
    fn locations_parse_display_and_round_trip() -> Result<(), Error> {
        let s3 = Location::parse("s3://my-bucket/team/runs/")?;
        assert_eq!(
            s3,
            Location::S3 {
                bucket: "my-bucket".into(),
                prefix: "team/runs".into(),
                endpoint: None,
                region: None,
            }
        );
        assert_eq!(s3.to_string(), "s3://my-bucket/team/runs");
        assert_eq!(
            Location::parse("s3://my-bucket")?.to_string(),
            "s3://my-bucket"
        );
        let local = Location::parse("some/dir")?;
        let Location::Local { root } = &local else {
            panic!("not local: {local:?}");
        };
        assert!(root.is_absolute() && root.ends_with("some/dir"));
        for bad in [
            "",
            "  ",
            "s3://",
            "s3:///x",
            "s3://UPPER",
            "s3://a",
            "hdfs://b/c",
            "gs://Bad",
            "oss://a_b",
        ] {
            assert!(
                matches!(Location::parse(bad), Err(Error::Invalid(_))),
                "{bad:?} is refused"
            );
        }
        let gcs = Location::parse("gs://my_bucket/runs/")?;
        assert_eq!(gcs.to_string(), "gs://my_bucket/runs");
        let oss = Location::parse("oss://my-bucket")?;
        assert_eq!(oss.to_string(), "oss://my-bucket");
        assert!(!oss.same_place(&Location::parse("s3://my-bucket")?));
        // WebHDFS, Hadoop's URI: the NameNode's HTTP address and an absolute directory.
        let hdfs = Location::parse("webhdfs://namenode:9870/data/couler/")?;
        assert_eq!(
            hdfs,
            Location::Hdfs {
                endpoint: "http://namenode:9870".into(),
                root: "/data/couler".into(),
                user: None,
            }
        );
        assert_eq!(hdfs.to_string(), "webhdfs://namenode:9870/data/couler");
        let secure = Location::parse("swebhdfs://namenode:9871")?;
        assert_eq!(secure.to_string(), "swebhdfs://namenode:9871/");
        for (bad, says) in [
            ("webhdfs://namenode/x", "is not NAMENODE:PORT"),
            ("webhdfs://:9870/x", "is not NAMENODE:PORT"),
            (
                "hdfs://namenode:8020/x",
                "webhdfs://NAMENODE:HTTP_PORT/PATH",
            ),
        ] {
            match Location::parse(bad) {
                Err(Error::Invalid(m)) => assert!(m.contains(says), "{bad}: {m}"),
                other => panic!("{bad} is refused, not {other:?}"),
            }
        }
        for l in [s3, local, gcs, oss, hdfs, secure] {
            let text = serde_json::to_string(&l).map_err(|e| Error::Internal(e.to_string()))?;
            let back: Location =
                serde_json::from_str(&text).map_err(|e| Error::Internal(e.to_string()))?;
            assert_eq!(back, l);
            assert!(back.same_place(&l));
        }
        Ok(())
    }

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
