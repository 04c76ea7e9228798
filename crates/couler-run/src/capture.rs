//! What a step's output text becomes: one rule for the local runtime and the in-task launcher,
//! and the rule Argo's executor applies (`CaptureScriptResult`, `SaveParameters`), so a value
//! compares, maps and passes the same on every engine (docs/spec.md §6).
//!
//! - An output parameter's value is its file (or standard output) with exactly one trailing
//!   `\n` removed; other whitespace (spaces, `\r`, a second newline) is kept.
//! - `result` is standard output with one trailing `\n` removed, then bounded to its last
//!   [`RESULT_LIMIT`] bytes, as Argo keeps it (the log keeps everything). It is read from the
//!   end of the standard output log, so a step's memory cost does not grow with its output; an
//!   output parameter without `path` is `result` (Argo reads it so).
//! - An output parameter file may hold at most [`PARAMETER_LIMIT`] bytes: a value is kept in
//!   the state database (on Argo, in the Workflow object); a bigger one is an artifact.

use crate::logfile;
use couler_ir::{Reference, StepOutput};
use std::io::Read;
use std::path::Path;

/// The most of `result` kept: Argo's `maxAnnotationSize`, 256 KiB.
pub const RESULT_LIMIT: usize = 256 * 1024;

/// The most of an output parameter file read: 1 MiB (an Argo Workflow object, which holds
/// every output parameter, is limited to about 1 MiB by etcd).
pub const PARAMETER_LIMIT: u64 = 1024 * 1024;

/// A step's `result`, read from the end of its standard output log.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Captured {
    pub result: String,
    /// The log's size.
    pub stdout_size: u64,
    /// Whether `result` lost the head of the output to [`RESULT_LIMIT`].
    pub cut: bool,
}

impl Captured {
    /// Reads `result` from the standard output log at `log` (missing: empty), reading no more
    /// than its last [`RESULT_LIMIT`] + 1 bytes.
    pub fn from_log(log: &Path) -> std::io::Result<Captured> {
        // One byte more than the limit: a trailing newline that goes, and the limit kept.
        let t = logfile::tail(log, RESULT_LIMIT as u64 + 1)?;
        let mut bytes = t.bytes.as_slice();
        if t.cut() {
            // Read from mid-file: the bytes of a character whose start was not read go.
            let partial = bytes.iter().take(3).take_while(|b| *b & 0xC0 == 0x80);
            bytes = &bytes[partial.count()..];
        }
        let text = String::from_utf8_lossy(bytes);
        let result = result(&text);
        let cut = t.cut() || result.len() < output_value(&text).len();
        Ok(Captured {
            result,
            stdout_size: t.size,
            cut,
        })
    }

    /// The note a step whose `result` was cut carries (its message), naming the log.
    pub fn notice(&self, log: &Path) -> Option<String> {
        self.cut.then(|| {
            format!(
                "`result` keeps the last {} KiB of {} bytes of standard output, as on Argo; all of it is in {}",
                RESULT_LIMIT / 1024,
                self.stdout_size,
                log.display()
            )
        })
    }
}

/// An output parameter file's value ([`output_value`]): `Ok(None)` when it cannot be read as
/// text (missing, a directory, not UTF-8: the parameter's `default` applies), `Err(size)` when
/// it holds more than [`PARAMETER_LIMIT`] bytes. Never reads more than the limit.
pub fn parameter_file(path: &Path) -> Result<Option<String>, u64> {
    let Ok(f) = std::fs::File::open(path) else {
        return Ok(None);
    };
    let size = f.metadata().map(|m| m.len()).unwrap_or(0);
    if size > PARAMETER_LIMIT {
        return Err(size);
    }
    let mut text = String::new();
    match f.take(PARAMETER_LIMIT + 1).read_to_string(&mut text) {
        Ok(n) if n as u64 > PARAMETER_LIMIT => Err(n as u64),
        Ok(_) => Ok(Some(output_value(&text).to_string())),
        Err(_) => Ok(None),
    }
}

/// A failed attempt's message: its exit code and the last lines of its standard error (read
/// from the log's end; each line shortened to its end), joined by ` | `.
pub fn failure_message(code: i32, stderr: &Path) -> String {
    let (tail, _) = logfile::last_lines(stderr, 5).unwrap_or_default();
    if tail.is_empty() {
        format!("exited with code {code}")
    } else {
        format!("exited with code {code}: {}", tail.join(" | "))
    }
}

/// An output value: `text` without one trailing newline.
pub fn output_value(text: &str) -> &str {
    text.strip_suffix('\n').unwrap_or(text)
}

/// A step's `result` from its standard output: [`output_value`], then its last
/// [`RESULT_LIMIT`] bytes (from the first whole character in them).
pub fn result(stdout: &str) -> String {
    let v = output_value(stdout);
    let mut cut = v.len().saturating_sub(RESULT_LIMIT);
    while !v.is_char_boundary(cut) {
        cut += 1;
    }
    v[cut..].to_string()
}

/// Whether a `result` of this length may have lost its head to [`RESULT_LIMIT`] (a cut
/// lands up to three bytes short of the limit, at a character boundary).
fn maybe_cut(value: &str) -> bool {
    value.len() + 3 >= RESULT_LIMIT
}

/// The items of `map.from: r`, whose value is `text`; not a JSON list is an error naming the
/// step, with the likely reason when the value is a `result` bounded by [`RESULT_LIMIT`].
pub fn map_items(r: &Reference, step: &str, text: &str) -> Result<Vec<serde_json::Value>, String> {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Array(v)) => Ok(v),
        _ => {
            let cut = matches!(
                r,
                Reference::Step {
                    output: StepOutput::Result,
                    ..
                }
            ) && maybe_cut(text);
            let why = if cut {
                format!(
                    " (a step's `result` keeps only its last {} KiB, as on Argo, so a longer list loses its head: write the list to an output parameter file and map over that)",
                    RESULT_LIMIT / 1024
                )
            } else {
                String::new()
            };
            Err(format!(
                "`map.from: {r}` of step `{step}` is not a JSON list: {}{why}",
                text.chars().take(200).collect::<String>()
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logfile::tests::file as log;

    #[test]
    fn one_trailing_newline_goes_and_nothing_else() {
        assert_eq!(output_value("done\n"), "done");
        assert_eq!(output_value("done\n\n"), "done\n");
        assert_eq!(output_value(" 42"), " 42");
        assert_eq!(output_value("x\r\n"), "x\r");
        assert_eq!(output_value(""), "");
        assert_eq!(result("a\nb\n"), "a\nb");
    }

    #[test]
    fn result_keeps_the_last_256_kib() {
        let head = "h".repeat(10);
        let tail = "t".repeat(RESULT_LIMIT);
        let r = result(&format!("{head}{tail}\n"));
        assert_eq!(r.len(), RESULT_LIMIT);
        assert!(r.chars().all(|c| c == 't'));
        // A cut inside a character moves to the next whole one.
        let r = result(&format!("é{}", "t".repeat(RESULT_LIMIT - 1)));
        assert_eq!(r.len(), RESULT_LIMIT - 1);
        assert!(maybe_cut(&r));
        let short = "s".repeat(100);
        assert_eq!(result(&short), short);
    }

    #[test]
    fn a_cut_list_says_why_it_is_not_json() {
        let r = Reference::parse("steps.list.outputs.result").unwrap();
        let items: Vec<String> = (0..40_000).map(|i| format!("\"item-{i}\"")).collect();
        let text = result(&format!("[{}]\n", items.join(",")));
        let err = map_items(&r, "each", &text).unwrap_err();
        assert!(err.contains("not a JSON list"), "{err}");
        assert!(err.contains("last 256 KiB"), "{err}");
        let ok = map_items(&r, "each", "[1, 2]").unwrap();
        assert_eq!(ok.len(), 2);
        let err = map_items(&r, "each", "nope").unwrap_err();
        assert!(!err.contains("KiB"), "{err}");
    }

    #[test]
    fn result_from_the_log_end_equals_result_of_the_whole() {
        // Two-byte characters, so the read starts mid-character; with and without a newline.
        for end in ["\n", "", "\n\n"] {
            let text = format!("{}{end}", "é".repeat(RESULT_LIMIT));
            let (_d, p) = log(text.as_bytes());
            let c = Captured::from_log(&p).unwrap_or_default();
            assert_eq!(c.result, result(&text), "ending {end:?}");
            assert!(c.cut);
            assert_eq!(c.stdout_size, text.len() as u64);
            let note = c.notice(&p).unwrap_or_default();
            assert!(
                note.contains("last 256 KiB") && note.contains("x.stdout.log"),
                "{note}"
            );
        }
        let (d, p) = log(b"short\n");
        let c = Captured::from_log(&p).unwrap_or_default();
        assert_eq!((c.result.as_str(), c.cut), ("short", false));
        assert_eq!(c.notice(&p), None);
        let none = Captured::from_log(&d.path().join("missing")).unwrap_or_default();
        assert_eq!(none, Captured::default());
    }

    #[test]
    fn a_parameter_file_is_read_up_to_its_limit() {
        let (d, p) = log(b"0.93\n");
        assert_eq!(parameter_file(&p), Ok(Some("0.93".to_string())));
        assert_eq!(parameter_file(&d.path().join("missing")), Ok(None));
        let big = vec![b'1'; PARAMETER_LIMIT as usize + 1];
        let (_d, p) = log(&big);
        assert_eq!(parameter_file(&p), Err(PARAMETER_LIMIT + 1));
        let (_d, p) = log(&big[1..]);
        assert!(matches!(parameter_file(&p), Ok(Some(v)) if v.len() == PARAMETER_LIMIT as usize));
    }

    #[test]
    fn a_failure_message_keeps_the_last_lines_shortened() {
        let mut err = "early\n".repeat(100);
        err.push_str(&"z".repeat(10_000));
        let (d, p) = log(err.as_bytes());
        let m = failure_message(2, &p);
        assert!(m.starts_with("exited with code 2: early | early"), "{m}");
        assert!(m.ends_with(&format!("| …{}", "z".repeat(300))), "{m}");
        assert_eq!(
            failure_message(1, &d.path().join("none")),
            "exited with code 1"
        );
    }
}
