//! The `name:` of each sub-workflow spec file a workflow references, read for the backends:
//! the child compiled alone (`--kind workflow-template`, or its own DAG) is named after it, so
//! the parent must reference that name, not the file's stem (docs/argo.md, "Sub-workflows").

use crate::input::Source;
use couler_backends::Options;
use couler_ir::{StepKind, Workflow};
use std::collections::BTreeMap;
use std::path::Path;

/// `options` with [`names`] filled in; `None` (exit 2) after printing why a child does not load.
pub fn with_names(mut options: Options, wf: &Workflow, file: &Path) -> Option<Options> {
    match names(wf, file) {
        Ok(n) => {
            options.sub_workflow_names = n;
            Some(options)
        }
        Err(e) => {
            eprintln!("{e}");
            None
        }
    }
}

/// `ref` → the child's name, for every `ref` that is a file beside `file` (as `couler run`
/// resolves it). A `ref` that is no such file is a registered name, left to the backend. A
/// child that does not load is an error naming it.
pub fn names(wf: &Workflow, file: &Path) -> Result<BTreeMap<String, String>, String> {
    let dir = file.parent().unwrap_or(Path::new(""));
    let mut out = BTreeMap::new();
    for step in wf.steps.iter().chain(&wf.on_exit) {
        let StepKind::Workflow(sw) = &step.kind else {
            continue;
        };
        let path = dir.join(&sw.reference);
        if out.contains_key(&sw.reference) || !path.is_file() {
            continue;
        }
        let source = Source::read(&path)?;
        let child = source.load().map_err(|diags| {
            source.print(&diags);
            format!(
                "error: step `{}`: sub-workflow spec {} is not valid (see above)",
                step.name,
                path.display()
            )
        })?;
        out.insert(sw.reference.clone(), child.name);
    }
    Ok(out)
}
