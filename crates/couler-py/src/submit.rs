//! `submit_manifest`: a compiled Argo document (and the secrets it reads) created on a cluster
//! through the Kubernetes API, as `couler submit` does (`couler_submit`), the GIL released
//! meanwhile.

use crate::{CoulerError, InvalidArgument};
use couler_submit::{Cluster, Created, Secret};
use pyo3::prelude::*;
use serde_json::json;

/// Creates `secrets_json` (a JSON list of Kubernetes Secrets) and then the Argo document
/// `manifest` (YAML or JSON) on the cluster; JSON of what was created.
pub fn submit_manifest(
    py: Python<'_>,
    manifest: &str,
    cluster: Cluster,
    secrets_json: &str,
) -> PyResult<String> {
    let secrets: Vec<Secret> = serde_json::from_str(secrets_json).map_err(|e| {
        InvalidArgument::new_err(format!("secrets must be a list of Kubernetes Secrets: {e}"))
    })?;
    let created = py.detach(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the async runtime: {e}"))?;
        runtime.block_on(async {
            couler_submit::create_with_secrets(&cluster, manifest, &secrets)
                .await
                .map(|s| s.created)
        })
    });
    let Created {
        kind,
        namespace,
        name,
        uid,
    } = created.map_err(CoulerError::new_err)?;
    Ok(json!({"kind": kind, "namespace": namespace, "name": name, "uid": uid}).to_string())
}
