//! `submit_manifest` and `delete`: a compiled Argo document (and the secrets it reads) created on
//! a cluster, or one deleted, through the Kubernetes API, as `couler submit` does
//! (`couler_submit`), the GIL released meanwhile.

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
    let created = detached(py, async {
        couler_submit::create_with_secrets(&cluster, manifest, &secrets)
            .await
            .map(|s| s.created)
    });
    let Created {
        kind,
        namespace,
        name,
        uid,
    } = created.map_err(CoulerError::new_err)?;
    Ok(json!({"kind": kind, "namespace": namespace, "name": name, "uid": uid}).to_string())
}

/// Deletes the Argo object `kind`/`name`; the namespace it was deleted from.
pub fn delete(py: Python<'_>, cluster: Cluster, kind: &str, name: &str) -> PyResult<String> {
    detached(py, couler_submit::delete(&cluster, kind, name)).map_err(CoulerError::new_err)
}

/// Runs `work` to its end on a runtime of its own, the GIL released meanwhile.
fn detached<T: Send>(
    py: Python<'_>,
    work: impl std::future::Future<Output = Result<T, String>> + Send,
) -> Result<T, String> {
    py.detach(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the async runtime: {e}"))?
            .block_on(work)
    })
}
