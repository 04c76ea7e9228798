//! [`BuildError`]: why `build()` refused a workflow.

use couler_ir::{Diagnostic, Severity, Workflow};
use std::fmt;

/// The problems that stopped [`build`](crate::WorkflowBuilder::build): every error, and any
/// warnings found with them, each with where it is and how to fix it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuildError {
    workflow: String,
    diagnostics: Vec<Diagnostic>,
    /// Step names by index, so `steps[3]` can be shown with the name the program gave it.
    step_names: Vec<String>,
}

impl BuildError {
    pub(crate) fn new(wf: &Workflow, diagnostics: Vec<Diagnostic>) -> Self {
        BuildError {
            workflow: wf.name.clone(),
            diagnostics,
            step_names: wf.steps.iter().map(|s| s.name.clone()).collect(),
        }
    }

    /// Every diagnostic, errors and warnings, with spec paths such as `steps[2].when`.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        &self.diagnostics
    }

    /// Only the errors.
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| d.is_error())
    }

    /// `steps[3].when` → `steps[3].when (step `train`)`.
    fn describe_path(&self, path: &str) -> String {
        let step = path
            .strip_prefix("steps[")
            .and_then(|rest| rest.split(']').next())
            .and_then(|i| i.parse::<usize>().ok())
            .and_then(|i| self.step_names.get(i));
        match step {
            Some(name) => format!("{path} (step `{name}`)"),
            None => path.to_string(),
        }
    }
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let errors = self.errors().count();
        let plural = if errors == 1 { "" } else { "s" };
        writeln!(
            f,
            "workflow `{}` has {errors} error{plural}:",
            self.workflow
        )?;
        for d in &self.diagnostics {
            let label = match d.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            };
            writeln!(f, "{label}: {}", d.message)?;
            if let Some(path) = d.path.as_deref().filter(|p| !p.is_empty()) {
                writeln!(f, "  --> {}", self.describe_path(path))?;
            }
            if let Some(help) = &d.help {
                writeln!(f, "  = help: {help}")?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for BuildError {}
