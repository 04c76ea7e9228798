//! Artifact locations as Argo writes them (`s3`, `gcs`, `oss`, `hdfs`, `git`, `http`).

use super::unsupported;
use crate::CompileError;
use crate::capability::Feature;
use couler_ir::Storage;
use serde_json::{Map, Value, json};

fn secret_ref(s: &couler_ir::SecretKeyRef) -> Value {
    json!({"name": s.name, "key": s.key})
}

/// An artifact location. `key` replaces the storage's own key (the artifact repository case).
pub(super) fn storage(
    s: &Storage,
    key: Option<&str>,
    step: &str,
) -> Result<(&'static str, Value), CompileError> {
    // The storage's own key, or `key` under it as a prefix.
    let keyed = |base: &str| {
        json!(match key {
            None => base.to_string(),
            Some(k) if base.is_empty() => k.to_string(),
            Some(k) => format!("{}/{k}", base.trim_end_matches('/')),
        })
    };
    Ok(match s {
        Storage::Local(_) => {
            return Err(unsupported(
                Feature::StorageLocal,
                step,
                "Argo pods cannot reach the compiling machine's disk; use s3, gcs, oss or hdfs",
            ));
        }
        Storage::S3(x) => {
            let mut m = Map::new();
            m.insert("bucket".into(), json!(x.bucket));
            m.insert("key".into(), keyed(&x.key));
            if let Some(e) = &x.endpoint {
                m.insert("endpoint".into(), json!(e));
            }
            if let Some(r) = &x.region {
                m.insert("region".into(), json!(r));
            }
            if x.insecure {
                m.insert("insecure".into(), json!(true));
            }
            if let Some(a) = &x.access_key {
                m.insert("accessKeySecret".into(), secret_ref(a));
            }
            if let Some(a) = &x.secret_key {
                m.insert("secretKeySecret".into(), secret_ref(a));
            }
            ("s3", Value::Object(m))
        }
        Storage::Gcs(x) => {
            let mut m = Map::new();
            m.insert("bucket".into(), json!(x.bucket));
            m.insert("key".into(), keyed(&x.key));
            if let Some(a) = &x.service_account_key {
                m.insert("serviceAccountKeySecret".into(), secret_ref(a));
            }
            ("gcs", Value::Object(m))
        }
        Storage::Oss(x) => {
            let mut m = Map::new();
            m.insert("endpoint".into(), json!(x.endpoint));
            m.insert("bucket".into(), json!(x.bucket));
            m.insert("key".into(), keyed(&x.key));
            if let Some(a) = &x.access_key {
                m.insert("accessKeySecret".into(), secret_ref(a));
            }
            if let Some(a) = &x.secret_key {
                m.insert("secretKeySecret".into(), secret_ref(a));
            }
            ("oss", Value::Object(m))
        }
        Storage::Hdfs(x) => {
            let mut m = Map::new();
            m.insert("addresses".into(), json!(x.addresses));
            m.insert("path".into(), keyed(&x.path));
            if let Some(u) = &x.user {
                m.insert("hdfsUser".into(), json!(u));
            }
            ("hdfs", Value::Object(m))
        }
        Storage::Git(x) => {
            let mut m = Map::new();
            m.insert("repo".into(), json!(x.repo));
            if let Some(r) = &x.revision {
                m.insert("revision".into(), json!(r));
            }
            if let Some(d) = x.depth {
                m.insert("depth".into(), json!(d));
            }
            ("git", Value::Object(m))
        }
        Storage::Http(x) => ("http", json!({"url": x.url})),
    })
}
