//! Loading the spec JSON the Python side records, with the CLI's loader and checks.

use crate::InvalidSpec;
use couler_ir::{Diagnostic, Format, Severity, Workflow};
use couler_tune::lower::Proposer;
use pyo3::PyResult;
use serde_json::{Value, json};

/// What the diagnostics name as their file: the spec exists only in memory, and `_engine`
/// adds the user's Python line after each.
const FILE: &str = "<recorded spec>";

/// Parses and validates; `InvalidSpec` (the diagnostics as JSON) when the spec is refused.
/// Tuned steps stay as written (the spec's own form).
pub fn load(spec_json: &str) -> PyResult<(Workflow, Vec<Diagnostic>)> {
    couler_ir::spec::load(spec_json, Format::Json)
        .map_err(|diags| InvalidSpec::new_err(diagnostics_json(&diags)))
}

/// [`load`], then its tuned steps lowered into trial steps whose proposers run `proposer`
/// (docs/tuning.md), as the CLI does before it compiles or runs.
pub fn lowered(spec_json: &str, proposer: &Proposer) -> PyResult<(Workflow, Vec<Diagnostic>)> {
    let (wf, warnings) = load(spec_json)?;
    let wf = couler_tune::lower::lower_with(wf, spec_json, proposer)
        .map_err(|diags| InvalidSpec::new_err(diagnostics_json(&diags)))?;
    Ok((wf, warnings))
}

/// The diagnostics as a JSON list of objects: severity, message, path, help, and `rendered`,
/// the CLI's rendering of it. Line and column are dropped: they point into JSON text the user
/// never saw; the path says where.
pub fn diagnostics_json(diags: &[Diagnostic]) -> String {
    let list: Vec<Value> = diags.iter().map(diagnostic_json).collect();
    Value::Array(list).to_string()
}

fn diagnostic_json(d: &Diagnostic) -> Value {
    let placed = Diagnostic {
        location: None,
        ..d.clone()
    };
    json!({
        "severity": match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        },
        "message": d.message,
        "path": d.path,
        "help": d.help,
        "rendered": placed.render(FILE, None),
    })
}
