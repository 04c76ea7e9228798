//! `couler._native`: the Rust core of Couler's Python SDK (`python/couler`).
//!
//! Every function takes the workflow as spec JSON text (what `json.dumps` makes of the recorded
//! dict) and answers in text or JSON text (`compile`: a dict and a list of strings);
//! `couler._engine` wraps them into the Python API (docs/python.md). Specs go through the same loader and checks as the CLI
//! ([`couler_ir::spec::load`]), compiling through the same backend calls ([`couler_backends`]),
//! runs through the same runtime ([`couler_run`]).
//!
//! Errors: [`InvalidSpec`] carries the diagnostics as JSON (`_engine` turns it into
//! `ValidationError`, mapping spec paths to the user's Python lines), [`InvalidArgument`] a bad
//! argument, [`CoulerError`] the rest. No Rust panic crosses into Python: [`guard`] turns one
//! into `CoulerError("internal error: …")`.

mod generate;
mod load;
mod lower;
mod run;
mod submit;

/// mimalloc for the extension's own allocations (Python's objects keep Python's allocator).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use std::panic::{AssertUnwindSafe, catch_unwind};

create_exception!(
    _native,
    CoulerError,
    PyException,
    "Base of every error Couler raises."
);
create_exception!(
    _native,
    InvalidSpec,
    CoulerError,
    "The spec is refused; the argument is its diagnostics as JSON."
);
create_exception!(
    _native,
    CompileError,
    CoulerError,
    "The engine cannot express the workflow (the message says why and what to do instead)."
);
create_exception!(
    _native,
    InvalidArgument,
    CoulerError,
    "An argument that is not the spec is wrong (an unknown target, an option for another one)."
);

/// Runs `f`, turning a panic into `CoulerError("internal error: …")`.
pub(crate) fn guard<T>(f: impl FnOnce() -> PyResult<T>) -> PyResult<T> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic without a message".to_string());
        Err(CoulerError::new_err(format!(
            "internal error: {what} (please report it)"
        )))
    })
}

/// The canonical spec YAML of a spec (what `couler fmt` writes); `InvalidSpec` if refused.
#[pyfunction]
fn spec_yaml(spec_json: &str) -> PyResult<String> {
    guard(|| load::load(spec_json).map(|(wf, _)| couler_ir::spec::to_yaml(&wf)))
}

/// The step zoo's entries (`couler zoo list --output json`): a JSON list of each entry's name,
/// version, category, description, typed parameters, inputs, outputs and step body.
#[pyfunction]
fn zoo_entries() -> PyResult<String> {
    guard(|| Ok(serde_json::to_string(couler_ir::zoo::entries()).unwrap_or_default()))
}

/// The warnings of a valid spec, as a JSON list of diagnostics; `InvalidSpec` if refused.
#[pyfunction]
fn validate(spec_json: &str) -> PyResult<String> {
    guard(|| {
        load::lowered(spec_json, &Default::default())
            .map(|(_, warnings)| load::diagnostics_json(&warnings))
    })
}

/// Compiles for `target` with `options` (a JSON object of `couler compile`'s flags, in
/// snake_case); `({name: text}, [warning])`.
#[pyfunction]
fn compile(spec_json: &str, target: &str, options_json: &str) -> PyResult<lower::Compiled> {
    guard(|| lower::compile(spec_json, target, options_json))
}

/// The next round of a tuned step's study as a JSON list: `couler tune propose`, for the
/// proposer steps of the Python SDK's local runs (`python -m couler._propose`), reading the same
/// environment variables.
#[pyfunction]
fn tune_propose() -> PyResult<String> {
    guard(|| {
        couler_tune::rounds::propose_step(|name| std::env::var(name).ok())
            .map_err(InvalidArgument::new_err)
    })
}

/// The Argo Workflow manifest (default options) as JSON.
#[pyfunction]
fn argo_workflow(spec_json: &str) -> PyResult<String> {
    guard(|| lower::argo_workflow(spec_json))
}

/// Runs the workflow on the local runtime; the report as JSON (see [`run::run_local`]).
#[pyfunction]
#[pyo3(signature = (spec_json, params, state_dir, parallelism, use_cache, runtime, spec_dir, propose))]
#[allow(clippy::too_many_arguments)]
fn run_local(
    py: Python<'_>,
    spec_json: &str,
    params: Vec<(String, String)>,
    state_dir: Option<std::path::PathBuf>,
    parallelism: Option<usize>,
    use_cache: bool,
    runtime: String,
    spec_dir: Option<std::path::PathBuf>,
    propose: Vec<String>,
) -> PyResult<String> {
    let run = run::Run {
        params,
        state_dir,
        parallelism,
        use_cache,
        runtime,
        spec_dir,
        // Empty: the default, `couler tune propose` in the couler image.
        proposer: if propose.is_empty() {
            Default::default()
        } else {
            couler_tune::lower::Proposer {
                command: propose,
                ..Default::default()
            }
        },
    };
    guard(|| run::run_local(py, spec_json, run))
}

/// Creates an already compiled Argo document (after the secrets it reads) on a cluster; JSON
/// of what was created.
#[pyfunction]
#[pyo3(signature = (manifest_json, namespace, kubeconfig, context, server, secrets_json))]
fn submit_manifest(
    py: Python<'_>,
    manifest_json: &str,
    namespace: Option<String>,
    kubeconfig: Option<std::path::PathBuf>,
    context: Option<String>,
    server: Option<String>,
    secrets_json: &str,
) -> PyResult<String> {
    let cluster = cluster(namespace, kubeconfig, context, server);
    guard(|| submit::submit_manifest(py, manifest_json, cluster, secrets_json))
}

/// Deletes the Argo object `kind`/`name` from a cluster; the namespace it was deleted from.
#[pyfunction]
#[pyo3(signature = (kind, name, namespace, kubeconfig, context, server))]
fn delete(
    py: Python<'_>,
    kind: &str,
    name: &str,
    namespace: Option<String>,
    kubeconfig: Option<std::path::PathBuf>,
    context: Option<String>,
    server: Option<String>,
) -> PyResult<String> {
    let cluster = cluster(namespace, kubeconfig, context, server);
    guard(|| submit::delete(py, cluster, kind, name))
}

/// Where to submit, as the Python side names it.
fn cluster(
    namespace: Option<String>,
    kubeconfig: Option<std::path::PathBuf>,
    context: Option<String>,
    server: Option<String>,
) -> couler_submit::Cluster {
    couler_submit::Cluster {
        namespace,
        server,
        kubeconfig,
        context,
        ..couler_submit::Cluster::default()
    }
}

/// `couler.generate`: a spec from a description (the request and answer as JSON, see
/// generate.rs); `CoulerError` when the model fails, `InvalidArgument` for a bad request.
#[pyfunction]
fn generate_spec(py: Python<'_>, request_json: &str) -> PyResult<String> {
    guard(|| {
        let request: generate::Request = serde_json::from_str(request_json)
            .map_err(|e| InvalidArgument::new_err(format!("the generation request: {e}")))?;
        py.detach(move || generate::generate(request))
            .map_err(CoulerError::new_err)
    })
}

/// A test hook: panics, to show that no panic crosses into Python.
#[pyfunction]
fn _panic_for_test() -> PyResult<()> {
    guard(|| panic!("a panic raised on purpose"))
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("CoulerError", py.get_type::<CoulerError>())?;
    m.add("InvalidSpec", py.get_type::<InvalidSpec>())?;
    m.add("InvalidArgument", py.get_type::<InvalidArgument>())?;
    m.add("CompileError", py.get_type::<CompileError>())?;
    m.add_function(wrap_pyfunction!(spec_yaml, m)?)?;
    m.add_function(wrap_pyfunction!(validate, m)?)?;
    m.add_function(wrap_pyfunction!(zoo_entries, m)?)?;
    m.add_function(wrap_pyfunction!(compile, m)?)?;
    m.add_function(wrap_pyfunction!(argo_workflow, m)?)?;
    m.add_function(wrap_pyfunction!(run_local, m)?)?;
    m.add_function(wrap_pyfunction!(tune_propose, m)?)?;
    m.add_function(wrap_pyfunction!(generate_spec, m)?)?;
    m.add_function(wrap_pyfunction!(submit_manifest, m)?)?;
    m.add_function(wrap_pyfunction!(delete, m)?)?;
    m.add_function(wrap_pyfunction!(_panic_for_test, m)?)?;
    Ok(())
}
