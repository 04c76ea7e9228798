//! `submit_argo`: the workflow compiled for Argo and created on a cluster through the
//! Kubernetes API, as `couler submit` does (`couler_submit`), the GIL released meanwhile.

use crate::{CoulerError, lower};
use couler_submit::{Cluster, Created};
use pyo3::prelude::*;
use serde_json::json;

/// Submits the spec; JSON `{"kind", "namespace", "name", "uid"}` of the created object.
pub fn submit_argo(py: Python<'_>, spec_json: &str, cluster: Cluster) -> PyResult<String> {
    let out = lower::lower(spec_json, "argo", "{}")?;
    let Some(yaml) = out.files.into_values().next() else {
        return Err(CoulerError::new_err(
            "internal error: the Argo backend made no document",
        ));
    };
    let created = py.detach(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the async runtime: {e}"))?;
        runtime.block_on(async {
            couler_submit::create(&cluster, &yaml)
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
