//! Python source by construction: every value a user wrote reaches the generated file only
//! through [`literal`], which prints a JSON value as a Python literal with every character
//! outside printable ASCII (and the quote and backslash) escaped, so no user string can end a
//! literal, start a statement or smuggle a line break; identifiers come from [`ident`], which
//! accepts only names the IR already validated.

use serde_json::Value;
use std::fmt::Write as _;

/// A Python string literal for `s`: double-quoted, every non-printable or non-ASCII
/// character as an escape.
pub fn string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            ' '..='~' => out.push(c),
            c if (c as u32) <= 0xff => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if (c as u32) <= 0xffff => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => {
                let _ = write!(out, "\\U{:08x}", c as u32);
            }
        }
    }
    out.push('"');
    out
}

/// A JSON value as a Python literal (`None`, `True`, numbers, strings, lists, dicts).
pub fn literal(v: &Value) -> String {
    match v {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        // JSON numbers print as valid Python numbers (serde_json never prints NaN/inf).
        Value::Number(n) => n.to_string(),
        Value::String(s) => string(s),
        Value::Array(a) => {
            let items: Vec<String> = a.iter().map(literal).collect();
            format!("[{}]", items.join(", "))
        }
        Value::Object(m) => {
            let items: Vec<String> = m
                .iter()
                .map(|(k, v)| format!("{}: {}", string(k), literal(v)))
                .collect();
            format!("{{{}}}", items.join(", "))
        }
    }
}

/// A Python identifier from an IR name (a DNS-1123 label or an identifier, already validated):
/// `-` becomes `_`, and a prefix keeps it from starting with a digit or clashing with
/// generated names. Anything else is refused, so a name that skipped validation cannot
/// inject code.
pub fn ident(prefix: &str, name: &str) -> Option<String> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return None;
    }
    Some(format!("{prefix}{}", name.replace('-', "_")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_escape_everything_that_could_end_a_literal() {
        assert_eq!(string("a\"b\\c\nd"), r#""a\"b\\c\nd""#);
        assert_eq!(string("'''\"\"\""), r#""'''\"\"\"""#);
        assert_eq!(string("é☃😀\u{0}"), r#""\xe9\u2603\U0001f600\x00""#);
        assert_eq!(
            literal(&serde_json::json!({"k": [1, 2.5, true, null]})),
            r#"{"k": [1, 2.5, True, None]}"#
        );
        assert_eq!(ident("t_", "train-model").as_deref(), Some("t_train_model"));
        assert_eq!(ident("t_", "a\"); import os"), None);
    }
}
