//! The quickest read of a YAML spec: a line scanner for the block-and-flow subset in which
//! specs are written and generated (block mappings and sequences, indentless sequences under a
//! key, `- key: value` entries, one-line flow lists, plain and one-line quoted scalars, comments).
//! It hands out the events saphyr-parser would, borrowing every plain scalar from the text, and
//! refuses (`Err(Refused)`) anything else: block scalars, flow mappings, scalars over several
//! lines, anchors, aliases, tags, documents markers, keys or scalars it is not sure of. The
//! caller then reads the text with saphyr-parser, so a refusal costs time, never a meaning;
//! `tests::agrees_with_saphyr_parser` checks the events against saphyr-parser's on every example
//! and on thousands of mutations of them.

use super::{Refused, Result};
use saphyr_parser::ScalarStyle;
use std::borrow::Cow;
use std::collections::VecDeque;

/// One event, as the deserializer takes it.
#[derive(Debug, PartialEq)]
pub(super) enum Ev<'a> {
    Scalar(Cow<'a, str>, ScalarStyle),
    SeqStart,
    SeqEnd,
    MapStart,
    MapEnd,
}

/// A block collection being read: a mapping whose keys, or a sequence whose dashes, stand at
/// `indent`.
#[derive(Clone, Copy, Debug)]
struct Block {
    map: bool,
    indent: usize,
}

/// Flow lists nested deeper are left to saphyr-parser (its depth rules).
const FLOW_DEPTH: usize = 16;

pub(super) struct Lite<'a> {
    text: &'a str,
    /// Where the next line starts.
    pos: usize,
    stack: Vec<Block>,
    /// The mapping key or sequence dash whose value is on the lines below.
    pending: Option<Block>,
    /// After a value on its key's line: the next line may not be deeper than this (it would
    /// continue a scalar over several lines, or be an error).
    shallow: Option<usize>,
    started: bool,
    queue: VecDeque<Ev<'a>>,
}

impl<'a> Lite<'a> {
    pub(super) fn new(text: &'a str) -> Lite<'a> {
        Lite {
            text,
            pos: 0,
            stack: Vec::new(),
            pending: None,
            shallow: None,
            started: false,
            queue: VecDeque::new(),
        }
    }

    /// The next event; `None` at the end of the document.
    pub(super) fn next(&mut self) -> Result<Option<Ev<'a>>> {
        self.fill()?;
        Ok(self.queue.pop_front())
    }

    pub(super) fn peek(&mut self) -> Result<Option<&Ev<'a>>> {
        self.fill()?;
        Ok(self.queue.front())
    }

    /// How many elements are left in the sequence being read, where its end is already queued
    /// (a flow list is queued whole as its line is read); `None` otherwise.
    pub(super) fn queued_elements(&self) -> Option<usize> {
        let (mut depth, mut n) = (0usize, 0);
        for ev in &self.queue {
            match ev {
                Ev::SeqEnd | Ev::MapEnd if depth == 0 => return Some(n),
                Ev::SeqEnd | Ev::MapEnd => depth -= 1,
                Ev::SeqStart | Ev::MapStart => {
                    n += usize::from(depth == 0);
                    depth += 1;
                }
                Ev::Scalar(..) => n += usize::from(depth == 0),
            }
        }
        None
    }

    /// Reads lines until an event is queued or the text ends.
    fn fill(&mut self) -> Result<()> {
        while self.queue.is_empty() {
            let Some(rest) = self.text.get(self.pos..).filter(|r| !r.is_empty()) else {
                return self.end();
            };
            // The text ends with a line break (`plain_text`).
            let len = rest.find('\n').ok_or(Refused)?;
            let line = &rest[..len];
            self.pos += len + 1;
            let content = line.trim_start_matches(' ');
            if !content.is_empty() {
                self.line(line.len() - content.len(), content)?;
            }
        }
        Ok(())
    }

    fn end(&mut self) -> Result<()> {
        if !self.started {
            return Err(Refused);
        }
        if self.pending.take().is_some() {
            self.queue.push_back(empty());
        }
        while !self.stack.is_empty() {
            self.close();
        }
        Ok(())
    }

    fn line(&mut self, indent: usize, c: &'a str) -> Result<()> {
        if c.starts_with('#') {
            return Ok(());
        }
        if indent == 0 && (c.starts_with("---") || c.starts_with("...") || c.starts_with('%')) {
            return Err(Refused);
        }
        if self.shallow.take().is_some_and(|limit| indent > limit) {
            return Err(Refused);
        }
        if let Some(owner) = self.pending.take() {
            if indent > owner.indent || (indent == owner.indent && owner.map && dash(c)) {
                return self.open(indent, c);
            }
            self.queue.push_back(empty());
        }
        if self.stack.is_empty() {
            if self.started {
                return Err(Refused);
            }
            self.started = true;
            return self.open(indent, c);
        }
        while let Some(&top) = self.stack.last() {
            let indentless_ends = top.indent == indent
                && !top.map
                && !dash(c)
                && self.stack.len() > 1
                && self.stack[self.stack.len() - 2].indent == indent;
            if top.indent <= indent && !indentless_ends {
                break;
            }
            self.close();
            if self.stack.is_empty() {
                return Err(Refused);
            }
        }
        match self.stack.last() {
            Some(top) if top.indent == indent && top.map => self.key_entry(indent, c),
            Some(top) if top.indent == indent && dash(c) => self.seq_entry(indent, c),
            _ => Err(Refused),
        }
    }

    /// A new block collection whose first line is `c`, at `indent`.
    fn open(&mut self, indent: usize, c: &'a str) -> Result<()> {
        let map = !dash(c);
        self.stack.push(Block { map, indent });
        if map {
            self.queue.push_back(Ev::MapStart);
            self.key_entry(indent, c)
        } else {
            self.queue.push_back(Ev::SeqStart);
            self.seq_entry(indent, c)
        }
    }

    fn close(&mut self) {
        if let Some(top) = self.stack.pop() {
            self.queue
                .push_back(if top.map { Ev::MapEnd } else { Ev::SeqEnd });
        }
    }

    /// `- …` of the sequence at `indent`.
    fn seq_entry(&mut self, indent: usize, c: &'a str) -> Result<()> {
        let after = &c[1..];
        let r = after.trim_start_matches(' ');
        let column = indent + 1 + after.len() - r.len();
        if r.is_empty() || r.starts_with('#') {
            self.pending = Some(Block { map: false, indent });
            return Ok(());
        }
        if r.starts_with('-') && (r.len() == 1 || r.as_bytes()[1] == b' ') {
            return Err(Refused);
        }
        if key(r)?.is_some() {
            self.stack.push(Block {
                map: true,
                indent: column,
            });
            self.queue.push_back(Ev::MapStart);
            return self.key_entry(column, r);
        }
        self.value(r, indent)
    }

    /// `key: …` of the mapping at `indent`.
    fn key_entry(&mut self, indent: usize, c: &'a str) -> Result<()> {
        let (k, rest) = key(c)?.ok_or(Refused)?;
        self.queue.push_back(k);
        let r = rest.trim_start_matches(' ');
        if r.is_empty() || (r.starts_with('#') && r.len() < rest.len()) {
            self.pending = Some(Block { map: true, indent });
            return Ok(());
        }
        self.value(r, indent)
    }

    /// A value written on its key's (or dash's) line; the collection owning it is at `owner`.
    fn value(&mut self, r: &'a str, owner: usize) -> Result<()> {
        let rest = match r.as_bytes()[0] {
            b'[' => self.flow_list(r, 0)?,
            b'\'' | b'"' => {
                let (s, rest) = quoted(r)?;
                self.queue.push_back(s);
                rest
            }
            _ => {
                let (s, rest) = plain(r)?;
                self.queue
                    .push_back(Ev::Scalar(Cow::Borrowed(s), ScalarStyle::Plain));
                rest
            }
        };
        line_ends(rest)?;
        self.shallow = Some(owner);
        Ok(())
    }

    /// `[a, 'b', [c]]` on one line: what follows its `]`.
    fn flow_list(&mut self, r: &'a str, depth: usize) -> Result<&'a str> {
        if depth >= FLOW_DEPTH {
            return Err(Refused);
        }
        self.queue.push_back(Ev::SeqStart);
        let mut r = r[1..].trim_start_matches(' ');
        if let Some(rest) = r.strip_prefix(']') {
            self.queue.push_back(Ev::SeqEnd);
            return Ok(rest);
        }
        loop {
            r = match r.as_bytes().first() {
                Some(b'[') => self.flow_list(r, depth + 1)?,
                Some(b'\'' | b'"') => {
                    let (s, rest) = quoted(r)?;
                    self.queue.push_back(s);
                    rest
                }
                Some(_) => {
                    let end = r.find([',', '[', ']', '{', '}']).ok_or(Refused)?;
                    let s = r[..end].trim_end_matches(' ');
                    if s.is_empty() || !plain_start(s) || s.contains([':', '#']) {
                        return Err(Refused);
                    }
                    self.queue
                        .push_back(Ev::Scalar(Cow::Borrowed(s), ScalarStyle::Plain));
                    &r[end..]
                }
                None => return Err(Refused),
            }
            .trim_start_matches(' ');
            match r.as_bytes().first() {
                Some(b']') => {
                    self.queue.push_back(Ev::SeqEnd);
                    return Ok(&r[1..]);
                }
                Some(b',') => {
                    r = r[1..].trim_start_matches(' ');
                    if r.is_empty() || r.starts_with([']', ',']) {
                        return Err(Refused);
                    }
                }
                _ => return Err(Refused),
            }
        }
    }
}

fn empty<'a>() -> Ev<'a> {
    Ev::Scalar(Cow::Borrowed(""), ScalarStyle::Plain)
}

fn dash(c: &str) -> bool {
    c == "-" || c.starts_with("- ")
}

/// Nothing but spaces and a comment may follow a value.
fn line_ends(rest: &str) -> Result<()> {
    let r = rest.trim_start_matches(' ');
    if r.is_empty() || (r.starts_with('#') && r.len() < rest.len()) {
        Ok(())
    } else {
        Err(Refused)
    }
}

/// The key at the start of `c` (a quoted scalar or a plain name of letters, digits and `_-./`),
/// and what follows its `:`; `None` if `c` does not start with one.
fn key(c: &str) -> Result<Option<(Ev<'_>, &str)>> {
    let (k, rest) = match c.as_bytes()[0] {
        b'\'' | b'"' => match quoted(c) {
            Ok(q) => q,
            Err(_) => return Ok(None),
        },
        _ => {
            let end = c
                .find(|ch: char| {
                    !(ch.is_ascii_alphanumeric() || matches!(ch, '_' | '-' | '.' | '/'))
                })
                .unwrap_or(c.len());
            let name = &c[..end];
            if name.is_empty() || !plain_start(name) {
                return Ok(None);
            }
            (
                Ev::Scalar(Cow::Borrowed(name), ScalarStyle::Plain),
                &c[end..],
            )
        }
    };
    match rest.strip_prefix(':') {
        Some(after) if after.is_empty() || after.starts_with(' ') => Ok(Some((k, after))),
        _ => Ok(None),
    }
}

/// Whether a plain scalar may start as `s` does (no indicator; `-?:` only before a letter-like
/// character).
fn plain_start(s: &str) -> bool {
    let b = s.as_bytes();
    match b[0] {
        b'-' | b'?' | b':' => {
            b.len() > 1 && !matches!(b[1], b' ' | b',' | b'[' | b']' | b'{' | b'}')
        }
        b',' | b'[' | b']' | b'{' | b'}' | b'#' | b'&' | b'*' | b'!' | b'|' | b'>' | b'\''
        | b'"' | b'%' | b'@' | b'`' => false,
        _ => true,
    }
}

/// A plain scalar of a block value, up to a comment or the end of the line.
fn plain(r: &str) -> Result<(&str, &str)> {
    if !plain_start(r) {
        return Err(Refused);
    }
    let end = r.find(" #").unwrap_or(r.len());
    let s = r[..end].trim_end_matches(' ');
    if s.contains(": ") || s.ends_with(':') {
        return Err(Refused);
    }
    Ok((s, &r[end..]))
}

/// A quoted scalar closed on its line, and what follows it. Double quotes take the escapes
/// `\\ \" \/ \n \t`; any other is left to saphyr-parser.
fn quoted(r: &str) -> Result<(Ev<'_>, &str)> {
    let q = r.as_bytes()[0];
    let body = &r[1..];
    let mut owned: Option<String> = None;
    let mut from = 0;
    let bytes = body.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == q && q == b'\'' && bytes.get(i + 1) == Some(&b'\'') {
            owned
                .get_or_insert_with(String::new)
                .push_str(&body[from..=i]);
            i += 2;
            from = i;
            continue;
        }
        if b == q {
            let text = match owned {
                Some(mut s) => {
                    s.push_str(&body[from..i]);
                    Cow::Owned(s)
                }
                None => Cow::Borrowed(&body[..i]),
            };
            let style = if q == b'\'' {
                ScalarStyle::SingleQuoted
            } else {
                ScalarStyle::DoubleQuoted
            };
            return Ok((Ev::Scalar(text, style), &body[i + 1..]));
        }
        if b == b'\\' && q == b'"' {
            let unescaped = match bytes.get(i + 1) {
                Some(b'\\') => '\\',
                Some(b'"') => '"',
                Some(b'/') => '/',
                Some(b'n') => '\n',
                Some(b't') => '\t',
                _ => return Err(Refused),
            };
            let s = owned.get_or_insert_with(String::new);
            s.push_str(&body[from..i]);
            s.push(unescaped);
            i += 2;
            from = i;
            continue;
        }
        i += 1;
    }
    Err(Refused)
}

#[cfg(test)]
mod tests;
