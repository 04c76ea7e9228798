//! [`Location`]: where artifacts are stored. The one type for a store's place: what
//! [`crate::ArtifactStore::open`] opens, what `--artifact-store` and an `artifactRepository`
//! name, and what the local runtime records on a run (its JSON in `runs.artifact_store`).

use crate::error::{StoreError, StoreErrorKind};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::{Path, PathBuf};

/// Where the local runtime finds the WebHDFS address of an `hdfs` storage (its `addresses`
/// are RPC addresses).
pub const WEBHDFS_ENDPOINT_VAR: &str = "COULER_WEBHDFS_ENDPOINT";

/// Where artifacts are stored.
///
/// Serialised (as a run records it) with a `kind` tag and without credentials: those come
/// from each cloud's usual environment variables when the store is opened.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum Location {
    /// A directory on this machine.
    Local {
        /// The directory; absolute when made by [`Location::parse`], [`Location::local`] or
        /// [`Location::from_ir`].
        root: PathBuf,
    },
    /// An S3 bucket or any S3-compatible server (MinIO, Ceph, GCS/OSS interoperability ...).
    /// Credentials left `None` fall back to `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` (and
    /// `AWS_SESSION_TOKEN`); the endpoint to `AWS_ENDPOINT_URL`; the region to
    /// `AWS_REGION`/`AWS_DEFAULT_REGION`, else `us-east-1`.
    S3 {
        /// The bucket's name.
        bucket: String,
        /// The key prefix objects are kept under (`""`: the bucket's root).
        prefix: String,
        /// The server's URL; AWS's when `None`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        endpoint: Option<String>,
        /// The bucket's region.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        region: Option<String>,
        /// The access key id; never serialised.
        #[serde(skip)]
        access_key_id: Option<String>,
        /// The secret access key; never serialised.
        #[serde(skip)]
        secret_access_key: Option<String>,
    },
    /// A Google Cloud Storage bucket. Credentials: the service-account (or `gcloud auth
    /// application-default login`) JSON file named by `GOOGLE_APPLICATION_CREDENTIALS`, else the
    /// gcloud well-known file. With `STORAGE_EMULATOR_HOST` set (Google's convention for its
    /// emulators), requests go unsigned to that emulator.
    Gcs {
        /// The bucket's name.
        bucket: String,
        /// The object name prefix (`""`: the bucket's root).
        prefix: String,
    },
    /// An Alibaba Cloud OSS bucket (or an OSS-compatible server). `endpoint` `None` falls back
    /// to `OSS_ENDPOINT`; credentials come from `OSS_ACCESS_KEY_ID`/`OSS_ACCESS_KEY_SECRET` (or
    /// `ALIBABA_CLOUD_ACCESS_KEY_ID`/`ALIBABA_CLOUD_ACCESS_KEY_SECRET`), plus
    /// `OSS_SESSION_TOKEN` for STS credentials. Buckets are addressed virtual-host style
    /// (`bucket.endpoint`) unless `OSS_ADDRESSING_STYLE=path` (for OSS-compatible servers).
    Oss {
        /// The bucket's name.
        bucket: String,
        /// The object name prefix (`""`: the bucket's root).
        prefix: String,
        /// The service's URL.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        endpoint: Option<String>,
    },
    /// A directory in HDFS, reached through WebHDFS (the NameNode's REST API, on by default in
    /// every Hadoop release). `user` `None` falls back to `HADOOP_USER_NAME` (Hadoop's simple
    /// authentication); Kerberos (SPNEGO) is not supported.
    Hdfs {
        /// The NameNode's HTTP address, `http(s)://namenode:9870`.
        endpoint: String,
        /// An absolute directory.
        root: String,
        /// The HDFS user to act as.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        user: Option<String>,
    },
}

impl Location {
    /// Parses `--artifact-store` / `COULER_ARTIFACT_STORE`: a directory path,
    /// `s3://`, `gs://` or `oss://BUCKET[/PREFIX]`, or `webhdfs://` / `swebhdfs://NAMENODE:PORT/PATH`.
    /// A relative path is made absolute against the current directory.
    pub fn parse(text: &str) -> Result<Location, StoreError> {
        let bad = |why: &str| {
            config(format!(
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
        check_bucket(scheme, service, bucket).map_err(|why| bad(&why))?;
        let (bucket, prefix) = (bucket.to_string(), prefix.trim_matches('/').to_string());
        Ok(match scheme {
            "s3" => Location::S3 {
                bucket,
                prefix,
                endpoint: None,
                region: None,
                access_key_id: None,
                secret_access_key: None,
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
            root: root_of(path),
            user: None,
        })
    }

    /// A local directory, made absolute.
    pub fn local(path: &Path) -> Result<Location, StoreError> {
        let root = std::path::absolute(path).map_err(|e| {
            config(format!(
                "artifact store `{}`: cannot resolve the path: {e}",
                path.display()
            ))
        })?;
        Ok(Location::Local { root })
    }

    /// Maps a storage location from the IR (an `artifactRepository` or an artifact's `storage`).
    ///
    /// `local`, `s3`, `gcs`, `oss` and `hdfs` (with [`WEBHDFS_ENDPOINT_VAR`]) are supported.
    /// Their keys (`accessKey`, `secretKey`, `serviceAccountKey`) are Kubernetes secret
    /// references, which the local runtime cannot read: it takes credentials from each cloud's
    /// usual environment variables instead.
    pub fn from_ir(storage: &couler_ir::Storage) -> Result<Location, StoreError> {
        let prefix = |key: &str| key.trim_matches('/').to_string();
        match storage {
            couler_ir::Storage::Local(local) => {
                if local.path.is_empty() {
                    return Err(config(
                        "local storage has an empty `path`; set it to a directory",
                    ));
                }
                Location::local(Path::new(&local.path))
            }
            couler_ir::Storage::S3(s3) => Ok(Location::S3 {
                bucket: s3.bucket.clone(),
                prefix: prefix(&s3.key),
                endpoint: s3.endpoint.as_ref().map(|e| with_scheme(e, s3.insecure)),
                region: s3.region.clone(),
                access_key_id: None,
                secret_access_key: None,
            }),
            couler_ir::Storage::Gcs(gcs) => Ok(Location::Gcs {
                bucket: gcs.bucket.clone(),
                prefix: prefix(&gcs.key),
            }),
            couler_ir::Storage::Oss(oss) => Ok(Location::Oss {
                bucket: oss.bucket.clone(),
                prefix: prefix(&oss.key),
                endpoint: Some(with_scheme(&oss.endpoint, false)),
            }),
            // `addresses` are the NameNode's RPC addresses (what Argo's executor dials); the
            // local runtime speaks WebHDFS, on the NameNode's HTTP port, which they do not give.
            couler_ir::Storage::Hdfs(hdfs) => {
                let Some(endpoint) = env_var(WEBHDFS_ENDPOINT_VAR) else {
                    return Err(config(format!(
                        "the local runtime reaches HDFS through WebHDFS, and `addresses` ({}) are RPC addresses; \
                         set {WEBHDFS_ENDPOINT_VAR} to the NameNode's HTTP address (for example http://namenode:9870)",
                        hdfs.addresses.join(", ")
                    )));
                };
                Ok(Location::Hdfs {
                    endpoint: with_scheme(&endpoint, true),
                    root: root_of(&hdfs.path),
                    user: hdfs.user.clone(),
                })
            }
            other => Err(config(format!(
                "storage kind `{}` is not supported by the local runtime; use `local`, `s3`, `gcs`, `oss` or `hdfs`",
                other.key()
            ))),
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
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
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

fn url(f: &mut fmt::Formatter<'_>, scheme: &str, bucket: &str, prefix: &str) -> fmt::Result {
    if prefix.is_empty() {
        write!(f, "{scheme}://{bucket}")
    } else {
        write!(f, "{scheme}://{bucket}/{prefix}")
    }
}

fn config(message: impl Into<String>) -> StoreError {
    StoreError::new(StoreErrorKind::Config, message)
}

/// The rule S3, GCS and OSS share: 3 to 63 lowercase DNS-style characters (GCS also allows `_`).
fn check_bucket(scheme: &str, service: &str, bucket: &str) -> Result<(), String> {
    if bucket.is_empty() {
        return Err("the bucket name is missing".to_string());
    }
    let marks = if scheme == "gs" { "-._" } else { "-." };
    let valid = bucket
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || marks.contains(c));
    if !valid || bucket.len() < 3 || bucket.len() > 63 {
        let marks: Vec<String> = marks.chars().map(|c| format!("`{c}`")).collect();
        return Err(format!(
            "`{bucket}` is not a valid {service} bucket name (3 to 63 lowercase letters, digits or {})",
            marks.join(", ")
        ));
    }
    Ok(())
}

/// An endpoint as a URL: `host[:port]` gets `https://` (`http://` when `insecure`).
pub(crate) fn with_scheme(endpoint: &str, insecure: bool) -> String {
    if endpoint.contains("://") {
        endpoint.to_string()
    } else if insecure {
        format!("http://{endpoint}")
    } else {
        format!("https://{endpoint}")
    }
}

/// An environment variable's value, when set and not empty.
pub(crate) fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// `/prefix` for a builder's `root`.
pub(crate) fn root_of(prefix: &str) -> String {
    format!("/{}", prefix.trim_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s3(bucket: &str, prefix: &str) -> Location {
        Location::S3 {
            bucket: bucket.into(),
            prefix: prefix.into(),
            endpoint: None,
            region: None,
            access_key_id: None,
            secret_access_key: None,
        }
    }

    #[test]
    fn locations_parse_display_and_round_trip() -> Result<(), StoreError> {
        let s3_loc = Location::parse("s3://my-bucket/team/runs/")?;
        assert_eq!(s3_loc, s3("my-bucket", "team/runs"));
        assert_eq!(s3_loc.to_string(), "s3://my-bucket/team/runs");
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
            let kind = Location::parse(bad).map_err(|e| e.kind());
            assert_eq!(kind, Err(StoreErrorKind::Config), "{bad:?} is refused");
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
                Err(e) => assert!(e.to_string().contains(says), "{bad}: {e}"),
                Ok(l) => panic!("{bad} is refused, not {l:?}"),
            }
        }
        for l in [s3_loc, local, gcs, oss, hdfs, secure] {
            let text = serde_json::to_string(&l).expect("encodes");
            let back: Location = serde_json::from_str(&text).expect("decodes");
            assert_eq!(back, l);
            assert!(back.same_place(&l));
        }
        Ok(())
    }

    #[test]
    fn credentials_are_never_serialised() {
        let mut l = s3("b-1", "p");
        if let Location::S3 {
            access_key_id,
            secret_access_key,
            ..
        } = &mut l
        {
            *access_key_id = Some("AKIA-visible".into());
            *secret_access_key = Some("very-secret".into());
        }
        let text = serde_json::to_string(&l).expect("encodes");
        assert_eq!(text, r#"{"kind":"s3","bucket":"b-1","prefix":"p"}"#);
        // Read back, the place is the same; the credentials come from the environment again.
        let back: Location = serde_json::from_str(&text).expect("decodes");
        assert!(back.same_place(&l));
        assert_eq!(back, s3("b-1", "p"));
    }
}
