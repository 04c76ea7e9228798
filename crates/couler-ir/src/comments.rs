//! Keeping a YAML spec's comments through its canonical form (`couler fmt`).
//!
//! The canonical printer knows nothing of comments, so they are carried over by position: each
//! block of whole-line comments moves with the node on the first line after it, and a comment
//! after a value stays at the end of that node's line. A node is named by its spec path (the
//! outermost node starting on the line), which is the same in the file and in its canonical
//! form, wherever the canonical order puts it. Lines inside multi-line scalars (a script's
//! `source: |` with `# …` lines) are content, not comments. Pure text in, text out.

use crate::spec::SpanIndex;
use saphyr_parser::{Event, Parser, ScalarStyle};
use std::collections::BTreeMap;

/// A comment of the original text and the spec path of the node it belongs to.
struct Comment {
    /// `None`: after the last node (the end of the file).
    path: Option<String>,
    /// The comment's lines, unindented (a whole-line block), or the text from `#` (trailing).
    lines: Vec<String>,
    trailing: bool,
    /// A blank line stood before the block.
    blank_before: bool,
}

/// `canonical` (the canonical YAML of `original`) with `original`'s comments placed in it.
pub fn keep_comments(original: &str, canonical: &str) -> String {
    let comments = find_comments(original);
    if comments.is_empty() {
        return canonical.to_string();
    }
    let index = SpanIndex::build(canonical);
    let out_lines: Vec<&str> = canonical.lines().collect();
    // Output line (0-based) → the blocks before it and the trailing comment after it.
    let mut before: BTreeMap<usize, Vec<&Comment>> = BTreeMap::new();
    let mut after: BTreeMap<usize, Vec<&Comment>> = BTreeMap::new();
    let mut at_end: Vec<&Comment> = Vec::new();
    for c in &comments {
        let line = c
            .path
            .as_deref()
            .and_then(|p| index.locate_key(p))
            .map(|l| {
                l.line
                    .saturating_sub(1)
                    .min(out_lines.len().saturating_sub(1))
            });
        match (line, c.trailing) {
            (Some(l), false) => before.entry(l).or_default().push(c),
            (Some(l), true) => after.entry(l).or_default().push(c),
            (None, _) => at_end.push(c),
        }
    }
    let mut out = String::with_capacity(canonical.len() + original.len() / 4);
    for (i, line) in out_lines.iter().enumerate() {
        let indent = &line[..line.len() - line.trim_start().len()];
        for c in before.get(&i).into_iter().flatten() {
            if c.blank_before && !out.is_empty() {
                out.push('\n');
            }
            for l in &c.lines {
                push_line(&mut out, indent, l);
            }
        }
        out.push_str(line);
        for c in after.get(&i).into_iter().flatten() {
            out.push_str("  ");
            out.push_str(&c.lines.join(" "));
        }
        out.push('\n');
    }
    for c in at_end {
        if c.blank_before {
            out.push('\n');
        }
        for l in &c.lines {
            push_line(&mut out, "", l);
        }
    }
    out
}

fn push_line(out: &mut String, indent: &str, line: &str) {
    if !line.is_empty() {
        out.push_str(indent);
        out.push_str(line);
    }
    out.push('\n');
}

/// What the parser says about each line of a text: where its last node ends (to find a comment
/// after it) and whether it lies inside a multi-line scalar.
#[derive(Clone, Copy, Default)]
struct LineFacts {
    /// Column (0-based, in chars) after the last node ending on this line.
    last_end: Option<usize>,
    in_scalar: bool,
}

fn line_facts(text: &str, lines: usize) -> Vec<LineFacts> {
    let mut facts = vec![LineFacts::default(); lines + 1];
    let mut parser = Parser::new_from_str(text);
    while let Some(Ok((event, span))) = parser.next_event() {
        let (start, end) = (span.start.line(), span.end.line());
        let block = matches!(
            event,
            Event::Scalar(_, ScalarStyle::Literal | ScalarStyle::Folded, ..)
        );
        if block {
            // A block scalar's span runs from its first content line to the next token.
            for f in &mut facts[start.min(lines)..end.min(lines + 1)] {
                f.in_scalar = true;
            }
        } else if let Event::Scalar(..) = event {
            // A multi-line quoted or plain scalar: the lines after its first.
            for f in &mut facts[(start + 1).min(lines + 1)..(end + 1).min(lines + 1)] {
                f.in_scalar = true;
            }
        }
        // Where the last node on a line ends: a scalar's end; a flow collection's end event
        // starts at its closing bracket (its span runs on over any comment after it).
        let ends_at = match event {
            Event::Scalar(..) | Event::Alias(..) if !block && span.end.col() > 0 => {
                Some((end, span.end.col()))
            }
            Event::SequenceEnd | Event::MappingEnd => Some((start, span.start.col())),
            _ => None,
        };
        if let Some((line, col)) = ends_at.filter(|(l, _)| *l <= lines) {
            let f = &mut facts[line];
            f.last_end = Some(f.last_end.map_or(col, |c| c.max(col)));
        }
    }
    facts
}

/// The spec path of the outermost node starting on each line (1-based).
fn paths_by_line(index: &SpanIndex) -> BTreeMap<usize, String> {
    let mut best: BTreeMap<usize, (usize, usize, String)> = BTreeMap::new();
    for (path, key, value) in index.entries() {
        // A node starts at its key (a mapping's value), else at its value (an item, the root).
        let loc = key.unwrap_or(value);
        let rank = (loc.column, path.len());
        let e = best
            .entry(loc.line)
            .or_insert((usize::MAX, usize::MAX, String::new()));
        if rank < (e.0, e.1) {
            *e = (rank.0, rank.1, path.to_string());
        }
    }
    best.into_iter().map(|(l, (_, _, p))| (l, p)).collect()
}

/// Every comment of `text`, with the node it belongs to.
fn find_comments(text: &str) -> Vec<Comment> {
    let lines: Vec<&str> = text.lines().collect();
    let facts = line_facts(text, lines.len());
    let paths = paths_by_line(&SpanIndex::build(text));
    let mut out = Vec::new();
    let mut block: Vec<String> = Vec::new();
    let mut blank_before = false;
    let mut blank_run = false;
    for (i, raw) in lines.iter().enumerate() {
        let n = i + 1;
        let t = raw.trim();
        let inside = facts[n].in_scalar;
        if !inside && t.starts_with('#') {
            if block.is_empty() {
                blank_before = blank_run;
            } else if blank_run {
                block.push(String::new());
            }
            block.push(t.to_string());
            blank_run = false;
            continue;
        }
        if !inside && t.is_empty() {
            blank_run = true;
            continue;
        }
        blank_run = false;
        if let Some(path) = paths.get(&n) {
            if !block.is_empty() {
                out.push(Comment {
                    path: Some(path.clone()),
                    lines: std::mem::take(&mut block),
                    trailing: false,
                    blank_before,
                });
            }
            if let Some(end) = facts[n].last_end {
                let rest: String = raw.chars().skip(end).collect();
                // After a flow collection's closing bracket, or a key whose value follows on
                // the next lines.
                let rest = rest.trim_start_matches(|c: char| {
                    matches!(c, ']' | '}' | ':') || c.is_whitespace()
                });
                if rest.starts_with('#') {
                    out.push(Comment {
                        path: Some(path.clone()),
                        lines: vec![rest.trim().to_string()],
                        trailing: true,
                        blank_before: false,
                    });
                }
            }
        }
    }
    if !block.is_empty() {
        out.push(Comment {
            path: None,
            lines: block,
            trailing: false,
            blank_before,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Format;

    fn fmt(text: &str) -> String {
        let wf = crate::spec::parse(text, Format::Yaml).unwrap_or_else(|d| panic!("{d:?}"));
        keep_comments(text, &crate::spec::to_yaml(&wf))
    }

    const SPEC: &str = "# Header.
apiVersion: couler.dev/v1alpha1
kind: Workflow
name: c

steps:
  # The first step.
  - name: a
    script:
      image: python:3.12
      source: |
        # not a comment: the script's own
        print(1)
  - container:
      command: [echo, b]   # trailing
    name: b     # after the name
# The end.
";

    #[test]
    fn comments_move_with_their_nodes_and_scripts_are_untouched() {
        let out = fmt(SPEC);
        assert!(out.starts_with("# Header.\napiVersion:"), "{out}");
        assert!(
            out.contains("\n  # The first step.\n- name: a\n")
                || out.contains("# The first step.\n- name: a\n"),
            "{out}"
        );
        assert_eq!(out.matches("# not a comment").count(), 1, "{out}");
        assert!(out.contains("name: b  # after the name\n"), "{out}");
        assert!(out.contains("command:  # trailing\n"), "{out}");
        assert!(out.ends_with("# The end.\n"), "{out}");
        // The result reads back to the same workflow, and formatting it again changes nothing.
        let again = crate::spec::parse(&out, Format::Yaml).unwrap_or_else(|d| panic!("{d:?}"));
        let first = crate::spec::parse(SPEC, Format::Yaml).unwrap_or_else(|d| panic!("{d:?}"));
        assert_eq!(again, first);
        assert_eq!(fmt(&out), out);
    }

    #[test]
    fn text_without_comments_is_the_canonical_text() {
        let plain = "apiVersion: couler.dev/v1alpha1\nkind: Workflow\nname: c\nsteps:\n- name: a\n  container:\n    command: [echo, '#x']\n";
        let wf = crate::spec::parse(plain, Format::Yaml).unwrap_or_else(|d| panic!("{d:?}"));
        assert_eq!(
            keep_comments(plain, &crate::spec::to_yaml(&wf)),
            crate::spec::to_yaml(&wf)
        );
    }
}
