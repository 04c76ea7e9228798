//! [`PATTERNS`] as the Markdown table in docs/server.md ("Automatic retry"); the doc's copy is
//! checked against this by `tests/retry_doc.rs`.

use super::{Needle, PATTERNS, Policy};
use std::fmt::Write;
use std::time::Duration;

/// One row per pattern, in matching order: name, source, matches, policy, why.
pub fn markdown_table() -> String {
    let mut out = String::from(
        "| # | Pattern | From | Matches (case-insensitive) | Policy | Why |\n|---|---|---|---|---|---|\n",
    );
    for (i, p) in PATTERNS.iter().enumerate() {
        let matches: Vec<String> = p.matches.iter().map(|n| needle(*n)).collect();
        let _ = writeln!(
            out,
            "| {} | `{}` | {} | {} | {} | {} |",
            i + 1,
            p.name,
            cell(p.source),
            matches.join(", "),
            policy(p.policy),
            cell(p.why)
        );
    }
    out
}

fn needle(n: Needle) -> String {
    match n {
        Needle::Reason(r) => format!("reason {}", code(r)),
        Needle::Contains(s) => code(s),
        Needle::StartsWith(s) => format!("starts {}", code(s)),
    }
}

fn policy(p: Policy) -> String {
    match p {
        Policy::Never => "never".to_string(),
        Policy::Retry {
            base,
            cap,
            max_attempts,
        } => format!("retry ×{max_attempts}, {}..{}", seconds(base), seconds(cap)),
    }
}

fn seconds(d: Duration) -> String {
    format!("{}s", d.as_secs_f64())
}

/// Text in a table cell: a `|` would end the cell.
fn cell(s: &str) -> String {
    s.replace('|', "\\|")
}

/// A code span holding `s` verbatim (CommonMark): delimited by more backticks than any run
/// inside it, padded with a space where the span would otherwise strip or merge one; `|`
/// escaped for the table.
fn code(s: &str) -> String {
    let longest = s.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    let edge_tick = s.starts_with('`') || s.ends_with('`');
    let pad = if edge_tick || (s.starts_with(' ') && s.ends_with(' ')) {
        " "
    } else {
        ""
    };
    cell(&format!("{fence}{pad}{s}{pad}{fence}"))
}
