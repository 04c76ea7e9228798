//! The corpus of invalid specs in `tests/invalid/`: each file says, in its leading comments,
//! which error it must produce first, where, and (optionally) with what help:
//!
//! ```yaml
//! # expect: 7:11 unknown step `prepair`
//! # help: did you mean `prepare`?
//! ```
//!
//! `LINE:COL` is 1-based in the file itself. JSON has no comments, so the leading `#` lines of a
//! `.json` file are blanked before loading (keeping line numbers as they are in the file).

use couler_ir::Diagnostic;
use couler_ir::spec::{self, Format};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Cases the corpus must hold (by file stem), so that deleting one is noticed.
const REQUIRED: &[&str] = &[
    "duplicate-step-name",
    "depends-on-unknown-step",
    "artifact-from-unknown-step",
    "undeclared-output-parameter",
    "artifact-in-when",
    "map-from-artifact",
    "cycle-of-three",
    "step-name-uppercase",
    "step-name-underscore",
    "invalid-workflow-name",
    "unknown-field-imge",
    "unknown-field-dependson",
    "unknown-top-level-field",
    "wrong-type-retry-limit",
    "when-unterminated-string",
    "when-unquoted-word",
    "bad-duration",
    "bad-quantity",
    "step-without-name",
    "no-steps",
    "two-kinds",
    "no-kind",
    "newer-api-version",
    "workflow-status-outside-on-exit",
    "item-without-map",
    "input-artifact-without-source",
    "unknown-param-reference",
    "param-default-type-mismatch",
    "requests-above-limits",
    "bad-cron",
    "unknown-volume-mount",
    "unknown-field.json",
    "daemon-with-outputs",
    "daemon-in-exit-handler",
    "daemon-result-read",
    "ip-of-non-daemon",
    "retry-slow-not-above-one",
];

struct Expectation {
    line: usize,
    column: usize,
    message: String,
    help: Option<String>,
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/invalid")
}

fn corpus() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .expect("tests/invalid exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("yaml" | "json")
            )
        })
        .collect();
    files.sort();
    files
}

/// The name a case goes by: the stem for YAML, the file name for JSON.
fn case_name(path: &Path) -> String {
    let name = path.file_name().unwrap().to_string_lossy().to_string();
    name.strip_suffix(".yaml")
        .map_or(name.clone(), str::to_string)
}

fn expectation(text: &str) -> Result<Expectation, String> {
    let mut expect = None;
    let mut help = None;
    for line in text.lines().take_while(|l| l.starts_with('#')) {
        let line = line.trim_start_matches('#').trim();
        if let Some(rest) = line.strip_prefix("expect:") {
            let rest = rest.trim();
            let (at, message) = rest
                .split_once(' ')
                .ok_or_else(|| format!("`expect: {rest}` needs `LINE:COL message`"))?;
            let (l, c) = at.split_once(':').ok_or("expect: LINE:COL")?;
            let parse = |n: &str| n.parse::<usize>().map_err(|e| format!("`{at}`: {e}"));
            expect = Some((parse(l)?, parse(c)?, message.trim().to_string()));
        } else if let Some(rest) = line.strip_prefix("help:") {
            help = Some(rest.trim().to_string());
        }
    }
    let (line, column, message) = expect.ok_or("no `# expect:` comment")?;
    Ok(Expectation {
        line,
        column,
        message,
        help,
    })
}

/// The text to load: for JSON, the comment lines blanked.
fn loadable(path: &Path, text: &str) -> (String, Format) {
    let format = Format::from_path(path);
    if format == Format::Yaml {
        return (text.to_string(), format);
    }
    let mut in_header = true;
    let lines: Vec<&str> = text
        .split('\n')
        .map(|l| {
            in_header &= l.starts_with('#');
            if in_header { "" } else { l }
        })
        .collect();
    (lines.join("\n"), format)
}

fn describe(d: &Diagnostic) -> String {
    let at = d
        .location
        .map_or("?:?".to_string(), |l| format!("{}:{}", l.line, l.column));
    format!(
        "{at} {}\n      path: {:?}\n      help: {:?}",
        d.message, d.path, d.help
    )
}

fn check_case(path: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let want = expectation(&text)?;
    let (input, format) = loadable(path, &text);
    let errors = match spec::load(&input, format) {
        Ok((_, warnings)) => return Err(format!("loaded without error (warnings: {warnings:?})")),
        Err(errors) => errors,
    };
    let first = errors
        .iter()
        .find(|d| d.is_error())
        .ok_or_else(|| format!("Err holds no error: {errors:?}"))?;
    let mut problems = Vec::new();
    if !first.message.contains(&want.message) {
        problems.push(format!("message does not contain {:?}", want.message));
    }
    let at = first.location.map(|l| (l.line, l.column));
    if at != Some((want.line, want.column)) {
        problems.push(format!("location is not {}:{}", want.line, want.column));
    }
    if let Some(help) = &want.help
        && !first
            .help
            .as_deref()
            .is_some_and(|h| h.contains(help.as_str()))
    {
        problems.push(format!("help does not contain {help:?}"));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{}\n    first error: {}",
            problems.join("; "),
            describe(first)
        ))
    }
}

#[test]
fn every_invalid_spec_reports_its_error_first_and_in_place() {
    let files = corpus();
    let failures: Vec<String> = files
        .iter()
        .filter_map(|p| {
            check_case(p)
                .err()
                .map(|e| format!("{}: {e}", case_name(p)))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} invalid specs do not report what they expect:\n  {}",
        failures.len(),
        files.len(),
        failures.join("\n  ")
    );
}

#[test]
fn corpus_holds_every_required_case() {
    let have: BTreeSet<String> = corpus().iter().map(|p| case_name(p)).collect();
    let missing: Vec<&&str> = REQUIRED.iter().filter(|r| !have.contains(**r)).collect();
    assert!(
        missing.is_empty(),
        "missing from tests/invalid: {missing:?}"
    );
}

#[test]
fn errors_render_with_the_offending_line() {
    // One rendering end to end: the caret sits under the reported column of the reported line.
    let path = corpus_dir().join("unknown-field-imge.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let errors = spec::load(&text, Format::Yaml).unwrap_err();
    let loc = errors[0].location.unwrap();
    let shown = errors[0].render("unknown-field-imge.yaml", Some(&text));
    let line = text.lines().nth(loc.line - 1).unwrap();
    assert!(shown.contains(line), "{shown}");
    let caret = format!("| {}^", " ".repeat(loc.column - 1));
    assert!(shown.contains(&caret), "{shown}");
}
