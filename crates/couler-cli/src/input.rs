//! Reading spec files and reporting their diagnostics.

use couler_ir::{Diagnostic, Format, Workflow, spec};
use std::io::Read;
use std::path::Path;

/// A spec file's text and how to read it.
pub struct Source {
    pub name: String,
    pub text: String,
    pub format: Format,
}

impl Source {
    /// Reads `path` (`-` is stdin, read as YAML).
    pub fn read(path: &Path) -> Result<Source, String> {
        let name = path.display().to_string();
        let text = if name == "-" {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .map_err(|e| format!("error: cannot read stdin: {e}"))?;
            s
        } else {
            std::fs::read_to_string(path).map_err(|e| match e.kind() {
                std::io::ErrorKind::InvalidData => {
                    format!("error: {name} is not UTF-8 text; a spec must be YAML or JSON")
                }
                _ => format!("error: cannot read {name}: {e}"),
            })?
        };
        Ok(Source {
            format: Format::from_path(path),
            name,
            text,
        })
    }

    /// Parses and validates; prints warnings, and errors on failure.
    pub fn load(&self) -> Result<Workflow, Vec<Diagnostic>> {
        spec::load(&self.text, self.format).map(|(wf, warnings)| {
            self.print(&warnings);
            wf
        })
    }

    /// Lowers the tuned steps of a loaded spec into trial steps (docs/tuning.md).
    pub fn lower_tuning(&self, wf: Workflow) -> Result<Workflow, Vec<Diagnostic>> {
        couler_tune::lower::lower(wf, &self.text)
    }

    pub fn print(&self, diags: &[Diagnostic]) {
        for d in diags {
            crate::say::err_raw(&d.render(&self.name, Some(&self.text)));
        }
    }
}

/// Reads and loads a spec, printing every problem; `None` means exit 2.
pub fn load_or_report(path: &Path) -> Option<Workflow> {
    let source = match Source::read(path) {
        Ok(s) => s,
        Err(e) => {
            crate::say::tell!("{e}");
            return None;
        }
    };
    match source.load().and_then(|wf| source.lower_tuning(wf)) {
        Ok(wf) => Some(wf),
        Err(diags) => {
            source.print(&diags);
            None
        }
    }
}
