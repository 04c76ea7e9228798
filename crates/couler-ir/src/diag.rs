//! Diagnostics: what is wrong, where (spec path and line/column), and how to fix it.

use std::fmt::Write as _;

/// How serious a [`Diagnostic`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// The spec is refused: nothing is compiled or run.
    Error,
    /// Worth fixing, but the spec is accepted.
    Warning,
}

/// A 1-based line and column in a spec file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Location {
    /// The line, from 1.
    pub line: usize,
    /// The column, from 1.
    pub column: usize,
}

/// One problem found in a spec or an IR value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// Whether the problem refuses the spec.
    pub severity: Severity,
    /// What is wrong, in one sentence.
    pub message: String,
    /// Where in the spec, e.g. `steps[2].when`.
    pub path: Option<String>,
    /// The line and column of `path` in the spec file, once a `SpanIndex` resolved it.
    pub location: Option<Location>,
    /// How to fix it.
    pub help: Option<String>,
}

impl Diagnostic {
    /// An error with this message, not yet placed.
    pub fn error(message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            message: message.into(),
            path: None,
            location: None,
            help: None,
        }
    }
    /// A warning with this message, not yet placed.
    pub fn warning(message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(message)
        }
    }
    /// Places the diagnostic at a spec path such as `steps[2].when`.
    pub fn at(mut self, path: impl Into<String>) -> Self {
        self.path = Some(path.into());
        self
    }
    /// Adds how to fix it.
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
    /// Whether it refuses the spec.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// Renders like a compiler: `error: …`, ` --> file:line:col`, the source line with a caret, help.
    pub fn render(&self, file: &str, source: Option<&str>) -> String {
        let mut out = String::new();
        let label = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let _ = writeln!(out, "{label}: {}", self.message);
        match (self.location, &self.path) {
            (Some(loc), path) => {
                let _ = write!(out, "  --> {file}:{}:{}", loc.line, loc.column);
                if let Some(p) = path.as_deref().filter(|p| !p.is_empty()) {
                    let _ = write!(out, " (at `{p}`)");
                }
                out.push('\n');
                if let Some(line) = source.and_then(|s| s.lines().nth(loc.line.saturating_sub(1))) {
                    let num = loc.line.to_string();
                    let pad = " ".repeat(num.len());
                    let shown: String = line.chars().take(200).collect();
                    let caret = " ".repeat(loc.column.saturating_sub(1).min(200));
                    let _ = writeln!(out, "{pad} |\n{num} | {shown}\n{pad} | {caret}^");
                }
            }
            (None, Some(p)) if !p.is_empty() => {
                let _ = writeln!(out, "  --> {file} (at `{p}`)");
            }
            _ => {
                let _ = writeln!(out, "  --> {file}");
            }
        }
        if let Some(help) = &self.help {
            let _ = writeln!(out, "  = help: {help}");
        }
        out
    }
}

/// The candidate nearest to `word`, if it is close enough to be a likely typo.
pub fn suggest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(2);
    candidates
        .into_iter()
        .map(|c| {
            (
                strsim::damerau_levenshtein(&word.to_lowercase(), &c.to_lowercase()),
                c,
            )
        })
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_with_caret_and_help() {
        let mut d = Diagnostic::error("unknown field `imge`")
            .at("steps[0].container.imge")
            .help("did you mean `image`?");
        d.location = Some(Location { line: 2, column: 5 });
        let text = d.render("wf.yaml", Some("a: 1\nb:  imge: x\n"));
        assert!(text.contains("--> wf.yaml:2:5"), "{text}");
        assert!(text.contains("2 | b:  imge: x"), "{text}");
        assert!(text.contains("  |     ^"), "{text}");
        assert!(text.contains("help: did you mean `image`?"), "{text}");
    }

    #[test]
    fn suggests_only_close_names() {
        assert_eq!(suggest("imge", ["image", "command"]), Some("image"));
        assert_eq!(
            suggest("dependson", ["dependsOn", "depends"]),
            Some("dependsOn")
        );
        assert_eq!(suggest("zzzzzz", ["image", "command"]), None);
    }
}
