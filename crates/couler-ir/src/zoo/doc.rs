//! The zoo in words: each entry's reference section (`couler zoo show`, `docs/zoo.md`) and a
//! usage example, both generated from the entries.

use super::{Entry, entries};
use crate::model::ParamType;
use std::fmt::Write as _;

/// A `uses:` step for `entry`, setting its required parameters and binding its inputs.
pub fn example(entry: &Entry) -> String {
    let mut out = format!("- name: {}\n  uses: {}\n", entry.name, entry.reference());
    let mut with = String::new();
    for p in entry.params.iter().filter(|p| p.default.is_none()) {
        let value = match p.ty {
            ParamType::Json => "[]",
            ParamType::Int => "1",
            _ => "'…'",
        };
        let _ = writeln!(with, "    {}: {value}", p.name);
    }
    for i in &entry.inputs {
        let r = "steps.STEP.outputs.artifacts.NAME";
        let value = if i.list {
            format!("[{r}, …]")
        } else {
            r.to_string()
        };
        let _ = writeln!(with, "    {}: {value}", i.name);
    }
    if !with.is_empty() {
        out.push_str("  with:\n");
        out.push_str(&with);
    }
    out
}

/// The Markdown section of one entry.
pub fn section(entry: &Entry) -> String {
    let mut out = format!(
        "### `{}`\n\n{} Category: {}.\n\n",
        entry.reference(),
        entry.description,
        serde_json::to_value(entry.category)
            .unwrap_or_default()
            .as_str()
            .unwrap_or_default()
    );
    if !entry.params.is_empty() {
        out.push_str("| Parameter | Type | Default | Meaning |\n|---|---|---|---|\n");
        for p in &entry.params {
            let ty = serde_json::to_value(p.ty).unwrap_or_default();
            let default = p
                .default
                .as_ref()
                .map_or("required".to_string(), |d| format!("`{d}`"));
            let _ = writeln!(
                out,
                "| `{}` | {} | {default} | {} |",
                p.name,
                ty.as_str().unwrap_or_default(),
                p.description.replace('|', "\\|")
            );
        }
        out.push('\n');
    }
    let rows: Vec<String> = entry
        .inputs
        .iter()
        .map(|i| {
            format!(
                "| input artifact{} | `{}` | {} |",
                if i.list { "s (a list)" } else { "" },
                i.name,
                i.description
            )
        })
        .chain(
            entry
                .outputs
                .parameters
                .iter()
                .map(|o| format!("| output parameter | `{}` | {} |", o.name, o.description)),
        )
        .chain(
            entry
                .outputs
                .artifacts
                .iter()
                .map(|o| format!("| output artifact | `{}` | {} |", o.name, o.description)),
        )
        .collect();
    if !rows.is_empty() {
        out.push_str("| Kind | Name | Meaning |\n|---|---|---|\n");
        out.push_str(&rows.join("\n"));
        out.push_str("\n\n");
    }
    let _ = write!(out, "```yaml\n{}```\n", example(entry));
    out
}

/// `docs/zoo.md`.
pub fn markdown() -> String {
    let mut out = String::from(
        "# The step zoo\n\n<!-- Generated from zoo/*.yaml by `COULER_BLESS=1 cargo test -p couler-ir --lib zoo`; do not edit. -->\n\n\
Reusable step templates shipped inside `couler`: a step names one with `uses: zoo/NAME@VERSION`\n\
and sets its parameters and inputs under `with:` ([spec §5.7](spec.md#57-uses-a-step-from-the-zoo)).\n\
A parameter `n_estimators` reaches the step's code as the environment variable `N_ESTIMATORS`,\n\
an input artifact `train` as `IN_TRAIN` (its path), an output `score` as `OUT_SCORE` (the path\n\
to write). `couler zoo list` lists the entries, `couler zoo show NAME` shows one.\n\n## Entries\n\n",
    );
    for entry in entries() {
        out.push_str(&section(entry));
        out.push('\n');
    }
    out
}

/// `python/couler/zoo.pyi`: a typed function per entry (its latest version), for editors and
/// type checkers; `couler.zoo` makes them from the entries at run time.
pub fn python_stub() -> String {
    let mut out = String::from(
        "# Type stubs of couler.zoo (docs/zoo.md). Generated from zoo/*.yaml by\n\
# `COULER_BLESS=1 cargo test -p couler-ir --lib zoo`; do not edit.\n\
from typing import Any, Dict, List, Optional, Union\n\n\
from couler.dsl import ArtifactRef, Ref, Task\n\n\
def entries() -> List[Dict[str, Any]]: ...\n\
def use(entry: str, name: Optional[str] = None, version: Optional[int] = None, **arguments: Any) -> Task: ...\n",
    );
    let latest = entries().iter().filter(|e| {
        !entries()
            .iter()
            .any(|o| o.name == e.name && o.version > e.version)
    });
    for e in latest {
        let mut args = vec![
            "name: Optional[str] = None".to_string(),
            "version: Optional[int] = None".to_string(),
        ];
        for i in &e.inputs {
            let ty = if i.list {
                "List[ArtifactRef]"
            } else {
                "ArtifactRef"
            };
            args.push(format!("{}: {ty}", i.name));
        }
        for p in &e.params {
            let ty = match p.ty {
                ParamType::String => "Union[str, Ref]",
                ParamType::Int => "Union[int, Ref]",
                ParamType::Float => "Union[float, Ref]",
                ParamType::Bool => "Union[bool, Ref]",
                ParamType::Json => "Any",
            };
            let default = if p.default.is_some() { " = ..." } else { "" };
            args.push(format!("{}: {ty}{default}", p.name));
        }
        let _ = write!(
            out,
            "\ndef {}(*, {}) -> Task:\n    \"\"\"{} (`{}`)\"\"\"\n",
            e.name.replace('-', "_"),
            args.join(", "),
            e.description,
            e.reference()
        );
    }
    out
}
