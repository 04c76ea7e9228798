//! `compile`: the workflow lowered for an engine, with `couler compile`'s backend calls and
//! options (given as Python keyword arguments, checked by the same rule as the CLI's flags).

use crate::{CompileError, InvalidArgument, load};
use couler_backends::lowering::{Lowering, Spelling};
use couler_backends::{Kind, Operator, Output};
use couler_ir::diag::suggest;
use pyo3::PyResult;
use pyo3::exceptions::PyTypeError;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The engines `compile` lowers to (the CLI's `--target` values).
pub const TARGETS: [&str; 3] = ["argo", "airflow", "tekton"];

/// The keyword arguments `compile` takes besides the target, as `couler compile`'s flags.
const OPTIONS: [&str; 8] = [
    "kind",
    "no_template_reuse",
    "operator",
    "launcher",
    "launcher_image",
    "artifact_store",
    "no_recursion_limit",
    "ignore_parallelism",
];

/// Compiles the spec for `target`: file name → text, and the warnings.
pub fn compile(spec_json: &str, target: &str, options_json: &str) -> PyResult<Compiled> {
    let out = lower(spec_json, target, options_json)?;
    Ok((out.files, out.warnings))
}

/// What `compile` gives Python: a dict of file name → text and a list of warnings (strings
/// handed over as they are, not as JSON the caller parses again).
pub type Compiled = (BTreeMap<String, String>, Vec<String>);

/// The Argo Workflow manifest of the spec (default options), as JSON.
pub fn argo_workflow(spec_json: &str) -> PyResult<String> {
    let out = lower(spec_json, "argo", "{}")?;
    let text = match out.files.values().collect::<Vec<_>>()[..] {
        [only] => only,
        _ => {
            let names: Vec<&String> = out.files.keys().collect();
            return Err(CompileError::new_err(format!(
                "the Argo backend made {} documents ({names:?}), not one; use compile(spec, \"argo\") for all of them",
                names.len()
            )));
        }
    };
    let doc: Value = serde_norway::from_str(text).map_err(|e| {
        crate::CoulerError::new_err(format!("internal error: Argo YAML does not read back: {e}"))
    })?;
    Ok(doc.to_string())
}

/// The spec loaded and compiled for `target` with `options` (a JSON object).
pub fn lower(spec_json: &str, target: &str, options_json: &str) -> PyResult<Output> {
    let (wf, _) = load::lowered(spec_json, &Default::default())?;
    if !TARGETS.contains(&target) {
        let hint = suggest(target, TARGETS)
            .map(|s| format!("did you mean \"{s}\"? "))
            .unwrap_or_default();
        return Err(InvalidArgument::new_err(format!(
            "target=\"{target}\" is no engine Couler compiles for; {hint}use one of \"argo\", \"airflow\", \"tekton\" (run_local runs a workflow here)"
        )));
    }
    let lowering = lowering(options_json)?;
    lowering
        .check_target(target, Spelling::Python)
        .map_err(InvalidArgument::new_err)?;
    let backend = couler_backends::backend(target).ok_or_else(|| {
        crate::CoulerError::new_err(format!("internal error: no backend `{target}`"))
    })?;
    backend
        .compile(&wf, &lowering.options())
        .map_err(|e| CompileError::new_err(format!("workflow `{}`: {e}", wf.name)))
}

/// The options object (`None` values dropped by the caller) as [`Lowering`].
fn lowering(options_json: &str) -> PyResult<Lowering> {
    let options: Map<String, Value> = serde_json::from_str(options_json)
        .map_err(|e| PyTypeError::new_err(format!("compile options must be a JSON object: {e}")))?;
    let mut l = Lowering::default();
    for (name, value) in &options {
        match name.as_str() {
            "kind" => l.kind = Some(choice(name, value, &KINDS)?),
            "operator" => l.operator = Some(choice(name, value, &OPERATORS)?),
            "no_template_reuse" => l.no_template_reuse = flag(name, value)?,
            "no_recursion_limit" => l.no_recursion_limit = flag(name, value)?,
            "ignore_parallelism" => l.ignore_parallelism = flag(name, value)?,
            "launcher" => l.launcher = Some(text(name, value)?),
            "launcher_image" => l.launcher_image = Some(text(name, value)?),
            "artifact_store" => l.artifact_store = Some(text(name, value)?),
            _ => {
                let hint = suggest(name, OPTIONS)
                    .map(|s| format!("did you mean `{s}`? "))
                    .unwrap_or_default();
                return Err(PyTypeError::new_err(format!(
                    "compile() got an unexpected keyword argument `{name}`; {hint}it takes {}",
                    OPTIONS.join(", ")
                )));
            }
        }
    }
    Ok(l)
}

const KINDS: [(&str, Kind); 3] = [
    ("workflow", Kind::Workflow),
    ("workflow-template", Kind::WorkflowTemplate),
    ("cron-workflow", Kind::CronWorkflow),
];

const OPERATORS: [(&str, Operator); 3] = [
    ("host", Operator::Host),
    ("kubernetes", Operator::Kubernetes),
    ("docker", Operator::Docker),
];

fn choice<T: Copy>(name: &str, value: &Value, choices: &[(&str, T)]) -> PyResult<T> {
    let given = text(name, value)?;
    let names = || choices.iter().map(|(n, _)| *n);
    choices
        .iter()
        .find(|(n, _)| *n == given)
        .map(|(_, v)| *v)
        .ok_or_else(|| {
            let hint = suggest(&given, names())
                .map(|s| format!("did you mean \"{s}\"? "))
                .unwrap_or_default();
            let all = names().map(|n| format!("\"{n}\"")).collect::<Vec<_>>();
            InvalidArgument::new_err(format!(
                "{name}=\"{given}\" is not a choice; {hint}use one of {}",
                all.join(", ")
            ))
        })
}

fn flag(name: &str, value: &Value) -> PyResult<bool> {
    value
        .as_bool()
        .ok_or_else(|| PyTypeError::new_err(format!("{name}= must be a bool, got {value}")))
}

fn text(name: &str, value: &Value) -> PyResult<String> {
    value
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| PyTypeError::new_err(format!("{name}= must be a str, got {value}")))
}
