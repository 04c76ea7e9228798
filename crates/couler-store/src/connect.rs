//! Opening a store: the local directory (created, stale temporaries cleaned) and the cloud
//! connections (S3, GCS, OSS, WebHDFS) through opendal, with retries and the HTTP transport.

use crate::location::{env_var, root_of, with_scheme};
use crate::{
    ArtifactStore, Location, STALE_TMP_AGE, StoreError, StoreErrorKind, TMP_DIR, TMP_PREFIX,
    webhdfs,
};
use opendal::Operator;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Once};
use std::time::{Duration, SystemTime};

impl ArtifactStore {
    /// Opens (and for `Local`, creates) the store. For `Local`, removes temporary files left by a
    /// crash more than an hour ago.
    pub async fn open(location: &Location) -> Result<ArtifactStore, StoreError> {
        match location {
            Location::Local { root } => open_local(root).await,
            Location::S3 {
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
            Location::Gcs { bucket, prefix } => open_gcs(bucket, prefix),
            Location::Oss {
                bucket,
                prefix,
                endpoint,
            } => open_oss(bucket, prefix, endpoint.as_deref()),
            Location::Hdfs {
                endpoint,
                root,
                user,
            } => open_webhdfs(endpoint, root, user.as_deref()).await,
        }
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
