//! `couler validate --target ENGINE`: besides the spec's own checks, the engine's, exactly as
//! `couler compile --target ENGINE` makes them (its backend lowers the workflow in memory):
//! features the engine cannot express, missing images, launcher inputs and documents over the
//! engine's size limits, conditions the engine would evaluate with another meaning. Nothing is
//! written; an error exits 2, as `couler compile` does.

use crate::OutputFormat;
use crate::lowering::{LoweringArgs, Target};
use couler_ir::Workflow;
use serde_json::{Value, json};

/// The engine checks of one valid workflow: whether it compiles, and a report (printed in text
/// mode; returned for `--output json`).
pub fn check(
    wf: &Workflow,
    file: &str,
    target: Target,
    lowering: &LoweringArgs,
    output: OutputFormat,
) -> (bool, Value) {
    let name = target.name();
    let Some(backend) = couler_backends::backend(name) else {
        return (false, json!({"engine": name, "error": "no such backend"}));
    };
    let text = output == OutputFormat::Text;
    // Tuned steps reach the engine lowered, as `couler compile` lowers them.
    let lowered;
    let wf = if wf.steps.iter().any(|s| s.tune.is_some()) {
        lowered = couler_tune::lower::expand(wf);
        match &lowered {
            Ok(lowered) => lowered,
            Err(diags) => {
                let e = diags
                    .iter()
                    .map(|d| d.message.as_str())
                    .collect::<Vec<_>>()
                    .join("; ");
                if text {
                    eprintln!("error: {file}: {e}");
                }
                return (false, json!({"engine": name, "error": e}));
            }
        }
    } else {
        wf
    };
    match backend.compile(wf, &lowering.options()) {
        Err(e) => {
            if text {
                eprintln!("error: {file}: {e}");
            }
            (false, json!({"engine": name, "error": e.to_string()}))
        }
        Ok(out) => {
            let size = out.size() as u64;
            let limit = backend.split_lowering().and_then(|l| l.default_max_bytes());
            let over = limit.filter(|l| size > *l);
            if text {
                for w in &out.warnings {
                    eprintln!("warning: {file}: {w}");
                }
                if let Some(l) = over {
                    eprintln!(
                        "note: {file}: the {name} document would be {size} bytes, over the engine's {l}-byte limit; `couler compile -o DIR` splits it into parts (docs/splitting.md)"
                    );
                }
                println!("ok: {file} compiles for {name} ({size} bytes)");
            }
            (
                true,
                json!({
                    "engine": name,
                    "bytes": size,
                    "limit": limit,
                    "split": over.is_some(),
                    "warnings": out.warnings,
                }),
            )
        }
    }
}
