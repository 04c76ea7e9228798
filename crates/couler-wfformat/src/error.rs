//! The one error type of the importer.

use std::fmt;

/// Why a trace could not be imported.
///
/// The message says what is wrong, where (line and column for JSON syntax errors, the task id
/// for structural ones) and how to fix it. It does not start with `error:`, so a caller can
/// prefix the file name: `error: trace.json: task `b` lists unknown parent `x`; …`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportError {
    message: String,
    task: Option<String>,
    location: Option<(usize, usize)>,
}

impl ImportError {
    /// A problem with the trace as a whole, or with the options.
    pub(crate) fn new(message: impl Into<String>) -> Self {
        ImportError {
            message: message.into(),
            task: None,
            location: None,
        }
    }

    /// A problem with one task; the message is prefixed with the task id.
    pub(crate) fn task(task: &str, message: impl fmt::Display) -> Self {
        ImportError {
            message: format!("task `{task}` {message}"),
            task: Some(task.to_string()),
            location: None,
        }
    }

    /// A JSON syntax (or encoding) error, located by line and column.
    pub(crate) fn json(e: &serde_json::Error) -> Self {
        let full = e.to_string();
        // serde_json appends " at line L column C"; we say it first, in words.
        let what = full
            .rfind(" at line ")
            .map_or(full.as_str(), |i| &full[..i]);
        let (line, column) = (e.line(), e.column());
        ImportError {
            message: format!(
                "the trace is not valid JSON: {what} at line {line}, column {column}; fix the JSON syntax there (a WfFormat trace is one JSON object)"
            ),
            task: None,
            location: Some((line, column)),
        }
    }

    /// The whole message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The id of the task the problem is in, if it is in one.
    pub fn task_id(&self) -> Option<&str> {
        self.task.as_deref()
    }

    /// 1-based line and column of a JSON syntax error.
    pub fn location(&self) -> Option<(usize, usize)> {
        self.location
    }
}

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ImportError {}
