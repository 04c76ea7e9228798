//! YAML printing of engine documents. Every backend that writes YAML builds its documents as
//! `serde_json::Value` trees (never text, so quoting and escaping are by construction) and
//! prints them here: mapping keys in the engine's conventional order first, the rest
//! alphabetically, so equal documents print equal bytes.
//!
//! The text is serde_norway's (libyaml's block style), byte for byte. The layout is written
//! here directly, which is several times faster than serde_norway's emitter on large
//! documents; the style of every string that is not plainly safe (quoted, literal block) is
//! still serde_norway's own, asked of that one scalar, so quoting stays libyaml's by
//! construction. A document with a mapping key libyaml would not print as a simple key (a long
//! or multi-line key), or with a string holding a line break other than `\n` (`\r`, U+0085,
//! U+2028, U+2029), is printed by serde_norway whole.

use crate::CompileError;
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;
use std::fmt::Write;

/// Prints `doc` as YAML, the keys of every mapping in the order of `first`, then the others
/// alphabetically; `what` names the document in the error (`the Argo document`).
pub fn print(doc: &Value, first: &[&str], what: &str) -> Result<String, CompileError> {
    let fail = |e: serde_norway::Error| CompileError::Invalid(format!("cannot print {what}: {e}"));
    let mut p = Printer {
        out: String::new(),
        first,
        splices: &[],
    };
    match p.root(doc) {
        Ok(()) => Ok(p.out),
        Err(Fallback::Whole) => {
            serde_norway::to_string(&Ordered { value: doc, first }).map_err(fail)
        }
        Err(Fallback::Error(e)) => Err(fail(e)),
    }
}

/// A document or template printed in pieces ([`print_spliced`], [`mapping_item`]) that the
/// direct printer cannot print (it would fall back to serde_norway, or a scalar is refused):
/// the caller prints the whole tree with [`print`] instead, which gives the same text or the
/// error.
#[derive(Debug)]
pub struct Unprintable;

impl From<Fallback> for Unprintable {
    fn from(_: Fallback) -> Self {
        Unprintable
    }
}

/// A sequence of a tree (found by address) that goes on with items printed beforehand: the
/// items of a [`Seq`] whose dashes are at `indent`, the indent the sequence has in the tree.
#[derive(Clone, Copy)]
pub struct Splice<'a> {
    pub at: &'a Value,
    pub indent: usize,
    pub items: &'a str,
}

/// Prints `doc` as [`print`] does, each sequence of `splices` followed by its printed items.
pub fn print_spliced(
    doc: &Value,
    first: &[&str],
    splices: &[Splice<'_>],
) -> Result<String, Unprintable> {
    let printed: usize = splices.iter().map(|s| s.items.len()).sum();
    let mut p = Printer {
        out: String::with_capacity(printed + (1 << 16)),
        first,
        splices,
    };
    p.root(doc)?;
    Ok(p.out)
}

/// The mapping `m` as an item of a sequence whose dashes are at `indent`: the text after its
/// `- ` (to go into a [`Seq`]), byte for byte what [`print`] writes there.
pub fn mapping_item(
    m: &serde_json::Map<String, Value>,
    first: &[&str],
    indent: usize,
) -> Result<String, Unprintable> {
    let mut p = Printer {
        out: String::new(),
        first,
        splices: &[],
    };
    if m.is_empty() {
        p.out.push_str("{}\n");
    } else {
        p.entries(m, indent + 2, true)?;
    }
    Ok(p.out)
}

/// A sequence written item by item, each item already printed (the text after its `- `, as
/// [`mapping_item`] makes it), with the layout [`print`] gives a sequence.
pub struct Seq {
    text: String,
    indent: usize,
    inline: bool,
}

impl Seq {
    /// Dashes at `indent`; `inline`: the first item goes on the line of the `- ` before it (a
    /// sequence that is itself an item).
    pub fn new(indent: usize, inline: bool) -> Self {
        Seq {
            text: String::new(),
            indent,
            inline,
        }
    }

    pub fn push(&mut self, item: &str) {
        if !self.text.is_empty() || !self.inline {
            self.text.extend(std::iter::repeat_n(' ', self.indent));
        }
        self.text.push_str("- ");
        self.text.push_str(item);
    }

    /// The text; an empty sequence is `[]`, as an item of another.
    pub fn finish(self) -> String {
        if self.text.is_empty() {
            "[]\n".to_string()
        } else {
            self.text
        }
    }

    /// The text, empty for an empty sequence (a [`Splice`]'s items).
    pub fn into_text(self) -> String {
        self.text
    }

    /// Appends the items of `other`, a sequence at the same indent that was not inline.
    pub fn append(&mut self, other: Seq) {
        self.text.push_str(&other.text);
    }
}

/// Why the direct printer stopped.
enum Fallback {
    /// A key that is no simple key, or a string with a line break other than `\n`:
    /// serde_norway prints the whole document.
    Whole,
    /// serde_norway refused a scalar.
    Error(serde_norway::Error),
}

impl From<serde_norway::Error> for Fallback {
    fn from(e: serde_norway::Error) -> Self {
        Fallback::Error(e)
    }
}

/// Longest key libyaml prints as a simple key (`key: value`); a longer one is a complex key.
const SIMPLE_KEY_MAX: usize = 128;

/// The direct printer: libyaml's block layout (two-space indent, sequences in mappings at
/// the key's indent, `[]` and `{}` for empty collections).
struct Printer<'a> {
    out: String,
    first: &'a [&'a str],
    splices: &'a [Splice<'a>],
}

impl<'a> Printer<'a> {
    fn root(&mut self, doc: &Value) -> Result<(), Fallback> {
        match doc {
            Value::Object(m) if !m.is_empty() => self.entries(m, 0, false),
            Value::Array(a) if !a.is_empty() => self.items(a, 0, false),
            scalar => {
                self.scalar(scalar, 0)?;
                self.out.push('\n');
                Ok(())
            }
        }
    }

    /// The printed items that follow the sequence `v`'s own, when there are some.
    fn splice_of(&self, v: &Value) -> Option<Splice<'a>> {
        let s = self.splices.iter().find(|s| std::ptr::eq(s.at, v))?;
        (!s.items.is_empty()).then_some(*s)
    }

    fn pad(&mut self, n: usize) {
        self.out.extend(std::iter::repeat_n(' ', n));
    }

    /// A mapping's entries at `indent`; `inline`: the first goes on the current line (after
    /// a sequence's `- `).
    fn entries(
        &mut self,
        m: &serde_json::Map<String, Value>,
        indent: usize,
        inline: bool,
    ) -> Result<(), Fallback> {
        let first = self.first;
        let mut entries: Vec<(usize, &String, &Value)> = m
            .iter()
            .map(|(k, v)| {
                let rank = first.iter().position(|x| *x == k).unwrap_or(first.len());
                (rank, k, v)
            })
            .collect();
        entries.sort_unstable_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(b.1)));
        for (i, (_, k, v)) in entries.into_iter().enumerate() {
            if i > 0 || !inline {
                self.pad(indent);
            }
            self.key(k)?;
            self.out.push(':');
            if let (Value::Array(a), Some(splice)) = (v, self.splice_of(v)) {
                if splice.indent != indent {
                    return Err(Fallback::Whole);
                }
                self.out.push('\n');
                self.items(a.as_slice(), indent, false)?;
                self.out.push_str(splice.items);
                continue;
            }
            match v {
                Value::Object(m) if !m.is_empty() => {
                    self.out.push('\n');
                    self.entries(m, indent + 2, false)?;
                }
                Value::Array(a) if !a.is_empty() => {
                    self.out.push('\n');
                    self.items(a, indent, false)?;
                }
                scalar => {
                    self.out.push(' ');
                    self.scalar(scalar, indent)?;
                    self.out.push('\n');
                }
            }
        }
        Ok(())
    }

    /// A sequence's items, their dashes at `indent`; `inline` as for [`Printer::entries`].
    fn items(&mut self, a: &[Value], indent: usize, inline: bool) -> Result<(), Fallback> {
        for (i, v) in a.iter().enumerate() {
            if i > 0 || !inline {
                self.pad(indent);
            }
            self.out.push_str("- ");
            match v {
                Value::Object(m) if !m.is_empty() => self.entries(m, indent + 2, true)?,
                Value::Array(a) if !a.is_empty() => self.items(a, indent + 2, true)?,
                scalar => {
                    self.scalar(scalar, indent)?;
                    self.out.push('\n');
                }
            }
        }
        Ok(())
    }

    fn key(&mut self, k: &str) -> Result<(), Fallback> {
        if k.len() > SIMPLE_KEY_MAX || k.contains('\n') {
            return Err(Fallback::Whole);
        }
        if plain_safe(k) {
            self.out.push_str(k);
            return Ok(());
        }
        if !k.bytes().all(|c| (0x20..0x7f).contains(&c)) {
            // libyaml counts more than `\n` as a line break (`\r`, U+0085, U+2028, …).
            return Err(Fallback::Whole);
        }
        let text = serde_norway::to_string(k)?;
        match text.strip_suffix('\n') {
            Some(one) if !one.contains('\n') => {
                self.out.push_str(one);
                Ok(())
            }
            _ => Err(Fallback::Whole),
        }
    }

    /// A scalar or an empty collection, in a node whose indent is `indent` (a literal block's
    /// lines go two further in).
    fn scalar(&mut self, v: &Value, indent: usize) -> Result<(), Fallback> {
        match v {
            Value::Null => self.out.push_str("null"),
            Value::Bool(b) => self.out.push_str(if *b { "true" } else { "false" }),
            Value::Number(n) if n.is_f64() => {
                let text = serde_norway::to_string(n)?;
                self.out.push_str(text.trim_end_matches('\n'));
            }
            Value::Number(n) => {
                let _ = write!(self.out, "{n}");
            }
            Value::String(s) if plain_safe(s) => self.out.push_str(s),
            // libyaml breaks a quoted scalar's line at these and indents what follows.
            Value::String(s) if s.contains(['\r', '\u{85}', '\u{2028}', '\u{2029}']) => {
                return Err(Fallback::Whole);
            }
            Value::String(s) => self.styled(&serde_norway::to_string(s)?, indent),
            Value::Array(_) => self.out.push_str("[]"),
            Value::Object(_) => self.out.push_str("{}"),
        }
        Ok(())
    }

    /// A string as serde_norway prints it alone (at indent 0): its first line here, a literal
    /// block's content lines (indented two at the root) moved in by `indent`; empty lines of
    /// a block stay empty, as libyaml writes them.
    fn styled(&mut self, alone: &str, indent: usize) {
        let mut lines = alone.trim_end_matches('\n').split('\n');
        self.out.push_str(lines.next().unwrap_or_default());
        for line in lines {
            self.out.push('\n');
            if !line.is_empty() {
                self.pad(indent);
                self.out.push_str(line);
            }
        }
        if alone.ends_with("\n\n") {
            // `|+` keeps its trailing empty lines: all but the last newline were trimmed above.
            let extra = alone.len() - alone.trim_end_matches('\n').len() - 1;
            self.out.extend(std::iter::repeat_n('\n', extra));
        }
    }
}

/// Whether libyaml prints `s` plain and serde_norway lets it (it reads back as that string,
/// not a number, boolean or null): a conservative test, printable ASCII starting with a
/// letter, `_` or `/`, none of the sequences that end a plain scalar (`: `, ` #`, a final `:`
/// or space). Anything else gets serde_norway's own choice.
fn plain_safe(s: &str) -> bool {
    let b = s.as_bytes();
    let (Some(&first), Some(&last)) = (b.first(), b.last()) else {
        return false;
    };
    (first.is_ascii_alphabetic() || first == b'_' || first == b'/')
        && last != b' '
        && last != b':'
        && b.iter().all(|c| (0x20..0x7f).contains(c))
        && !b.windows(2).any(|w| w == b": " || w == b" #")
        && !matches!(
            s,
            "null" | "Null" | "NULL" | "true" | "True" | "TRUE" | "false" | "False" | "FALSE"
        )
}

/// The document serialized by serde_norway with its mapping keys in order, straight from the
/// JSON tree (no second tree).
struct Ordered<'a> {
    value: &'a Value,
    first: &'a [&'a str],
}

impl Serialize for Ordered<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let first = self.first;
        match self.value {
            Value::Array(a) => s.collect_seq(a.iter().map(|value| Ordered { value, first })),
            Value::Object(m) => {
                let mut entries: Vec<(&String, &Value)> = m.iter().collect();
                let rank = |k: &str| first.iter().position(|x| *x == k).unwrap_or(first.len());
                entries.sort_by(|(a, _), (b, _)| rank(a).cmp(&rank(b)).then_with(|| a.cmp(b)));
                let mut map = s.serialize_map(Some(entries.len()))?;
                for (k, value) in entries {
                    map.serialize_entry(k, &Ordered { value, first })?;
                }
                map.end()
            }
            scalar => scalar.serialize(s),
        }
    }
}

#[cfg(test)]
mod tests;
