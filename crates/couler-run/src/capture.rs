//! What a step's output text becomes: one rule for the local runtime and the in-task launcher,
//! and the rule Argo's executor applies (`CaptureScriptResult`, `SaveParameters`), so a value
//! compares, maps and passes the same on every engine (docs/spec.md §6).
//!
//! - An output parameter's value is its file (or standard output) with exactly one trailing
//!   `\n` removed; other whitespace (spaces, `\r`, a second newline) is kept.
//! - `result` is standard output with one trailing `\n` removed, then bounded to its last
//!   [`RESULT_LIMIT`] bytes, as Argo keeps it (the log keeps everything).

use couler_ir::{Reference, StepOutput};

/// The most of `result` kept: Argo's `maxAnnotationSize`, 256 KiB.
pub const RESULT_LIMIT: usize = 256 * 1024;

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
}
