//! The spec format: reading YAML/JSON into the IR with located diagnostics, and printing it back.
//!
//! Reading goes in three passes: a header check (`apiVersion`, `kind`) so a file from another
//! version gets a version error rather than a pile of field errors; strict typed deserialisation
//! (unknown fields are errors with the nearest valid name); and semantic validation. Text that is
//! not well-formed gets its syntax error before any of them, and YAML nested absurdly deep is
//! turned away first of all. An index of every node's line and column, built from the YAML event
//! stream, places each diagnostic.

use crate::diag::{Diagnostic, Location, suggest};
use crate::model::{API_VERSION, Workflow};
use crate::validate::validate;
use crate::zoo::Renames;
use saphyr_parser::{Event, Parser};
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::path::Path;

mod fast_yaml;

/// The text formats of a spec.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// YAML (`.yaml`, `.yml`).
    Yaml,
    /// JSON (`.json`).
    Json,
}

impl Format {
    /// JSON for `.json` files, YAML otherwise.
    pub fn from_path(path: &Path) -> Format {
        match path.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("json") => Format::Json,
            _ => Format::Yaml,
        }
    }
}

/// Parses and validates a spec. On success, also returns the warnings.
pub fn load(text: &str, format: Format) -> Result<(Workflow, Vec<Diagnostic>), Vec<Diagnostic>> {
    let (wf, renames) = parse_renamed(text, format)?;
    let mut diags = validate(&wf);
    crate::zoo::rename(&mut diags, &renames);
    place(text, &mut diags);
    if diags.iter().any(Diagnostic::is_error) {
        return Err(diags);
    }
    Ok((wf, diags))
}

/// Gives each diagnostic without a location the line and column of its path in `text` (the
/// spec's start where the path is not found).
pub fn place(text: &str, diags: &mut [Diagnostic]) {
    let index = LazyIndex::new(text);
    for d in diags {
        if d.location.is_none() {
            d.location = d
                .path
                .as_deref()
                .and_then(|p| locate_nearest(&index, p))
                .or(Some(START));
        }
    }
}

/// The location of `path`, else of the nearest enclosing path the text has (a step expanded
/// from the zoo has fields its text does not: they are placed at the step).
fn locate_nearest(index: &LazyIndex, path: &str) -> Option<Location> {
    let mut path = path;
    loop {
        if let Some(loc) = index.locate(path) {
            return Some(loc);
        }
        path = &path[..path.rfind(['.', '['])?];
    }
}

/// `couler fmt`'s canonical text of a spec read from `text`: `to_string(wf)`, except that in
/// YAML each step written with `uses:` is printed in that form rather than expanded.
pub fn to_string_as_written(wf: &Workflow, text: &str, format: Format) -> String {
    let canonical = to_string(wf, format);
    if format != Format::Yaml || !text.contains("uses") {
        return canonical;
    }
    match serde_norway::from_str::<serde_norway::Value>(text).map(serde_json::to_value) {
        Ok(Ok(doc)) => crate::zoo::keep_uses(&doc, &canonical),
        _ => canonical,
    }
}

/// Parses a spec into the IR without semantic validation. Steps that `uses` a zoo entry are
/// expanded first ([`crate::zoo`]); problems in what they expand to are placed at the step.
pub fn parse(text: &str, format: Format) -> Result<Workflow, Vec<Diagnostic>> {
    parse_renamed(text, format).map(|(wf, _)| wf)
}

/// [`parse`], with where the zoo's `with:` values went in the expanded steps.
fn parse_renamed(text: &str, format: Format) -> Result<(Workflow, Renames), Vec<Diagnostic>> {
    read_expanded(text, format, parse_plain)
}

/// Reads `text` with `read`, after expanding its zoo steps (then as JSON, its diagnostics
/// placed in `text`).
fn read_expanded(
    text: &str,
    format: Format,
    read: fn(&str, Format) -> Result<Workflow, Vec<Diagnostic>>,
) -> Result<(Workflow, Renames), Vec<Diagnostic>> {
    let Some((expanded, renames)) = zoo_expanded(text, format)? else {
        return read(text, format).map(|wf| (wf, Renames::new()));
    };
    match read(&expanded, Format::Json) {
        Ok(wf) => Ok((wf, renames)),
        Err(mut diags) => {
            for d in &mut diags {
                d.location = None;
            }
            crate::zoo::rename(&mut diags, &renames);
            place(text, &mut diags);
            Err(diags)
        }
    }
}

/// The spec with its zoo steps expanded, as JSON text; `None` when it uses none (or does not
/// read as one document without duplicate keys, which the plain reading then reports).
fn zoo_expanded(text: &str, format: Format) -> Result<Option<(String, Renames)>, Vec<Diagnostic>> {
    if !text.contains("uses") {
        return Ok(None);
    }
    let doc: Option<serde_json::Value> = match format {
        Format::Yaml => serde_norway::from_str::<serde_norway::Value>(text)
            .ok()
            .and_then(|v| serde_json::to_value(v).ok()),
        Format::Json => serde_json::from_str(text).ok(),
    };
    let Some(doc) = doc else { return Ok(None) };
    let expanded = crate::zoo::expand(&doc).map_err(|mut diags| {
        place(text, &mut diags);
        diags
    })?;
    Ok(expanded.map(|(d, renames)| (d.to_string(), renames)))
}

fn parse_plain(text: &str, format: Format) -> Result<Workflow, Vec<Diagnostic>> {
    match read_quickly(text, format) {
        Some(wf) => Ok(wf),
        None => read_exactly_plain(text, format),
    }
}

/// A spec that reads without a problem, read in one pass; `None` for anything else, which
/// [`read_exactly`] then reads again to report it. Both give the same IR wherever this one gives
/// any (`tests/quick_read.rs`).
fn read_quickly(text: &str, format: Format) -> Option<Workflow> {
    let wf: Workflow = match format {
        Format::Yaml => fast_yaml::read(text)?,
        Format::Json => serde_json::from_str(text).ok()?,
    };
    (wf.api_version == API_VERSION && wf.kind == "Workflow").then_some(wf)
}

/// Reads a spec in the passes that place every problem (the module's text), slower: the text
/// is parsed up to four times and serde_norway holds all of its events at once. Zoo steps are
/// expanded first, as [`parse`] does.
#[doc(hidden)]
pub fn read_exactly(text: &str, format: Format) -> Result<Workflow, Vec<Diagnostic>> {
    read_expanded(text, format, read_exactly_plain).map(|(wf, _)| wf)
}

fn read_exactly_plain(text: &str, format: Format) -> Result<Workflow, Vec<Diagnostic>> {
    if format == Format::Yaml {
        check_depth(text)?;
    }
    check_header(text, format)?;
    let result = match format {
        Format::Yaml => {
            let de = serde_norway::Deserializer::from_str(text);
            serde_path_to_error::deserialize::<_, Workflow>(de).map_err(|e| {
                let path = clean_path(&e.path().to_string());
                let inner = e.into_inner();
                let loc = inner.location().map(|l| Location {
                    line: l.line(),
                    column: l.column(),
                });
                (path, strip_yaml_decoration(&inner.to_string()), loc)
            })
        }
        Format::Json => {
            let mut de = serde_json::Deserializer::from_str(text);
            serde_path_to_error::deserialize::<_, Workflow>(&mut de).map_err(|e| {
                let path = clean_path(&e.path().to_string());
                let inner = e.into_inner();
                let loc = json_location(&inner);
                (path, strip_json_location(&inner.to_string()), loc)
            })
        }
    };
    let wf = result
        .map_err(|(path, message, loc)| vec![deserialize_diagnostic(text, path, message, loc)])?;
    // Checked again on what was read: a header the untyped pass could not read (a YAML tag,
    // `apiVersion: !x`, reads as an empty string here) must not pass as a valid one.
    let problems = header_problems(Some(&wf.api_version), Some(&wf.kind), &LazyIndex::new(text));
    if problems.is_empty() {
        Ok(wf)
    } else {
        Err(problems)
    }
}

/// Prints the IR as canonical YAML (fields in declaration order, defaults omitted).
pub fn to_yaml(wf: &Workflow) -> String {
    // Serialising plain data to a String cannot fail.
    serde_norway::to_string(wf).unwrap_or_default()
}

/// Prints the IR as canonical, pretty JSON with a trailing newline.
pub fn to_json(wf: &Workflow) -> String {
    let mut s = serde_json::to_string_pretty(wf).unwrap_or_default();
    s.push('\n');
    s
}

/// Prints the IR in `format`: canonical YAML or JSON; equal IR gives equal bytes.
pub fn to_string(wf: &Workflow, format: Format) -> String {
    match format {
        Format::Yaml => to_yaml(wf),
        Format::Json => to_json(wf),
    }
}

/// Nesting deeper than this cannot be read: serde_norway stops at 128 levels. Checked up front
/// because its YAML scanner takes time quadratic in the depth to get there (a 200 kB line of
/// `[[[[…` took minutes), while this event stream is linear and stops at the limit.
const MAX_YAML_DEPTH: usize = 130;

fn check_depth(text: &str) -> Result<(), Vec<Diagnostic>> {
    // Each level opens with one of these (`[`, `{`, `- `, a key's `:` or `? `): text with fewer
    // cannot nest too deep, and is not scanned twice.
    let openers = text
        .bytes()
        .filter(|b| matches!(b, b'[' | b'{' | b'-' | b':' | b'?'))
        .count();
    if openers <= MAX_YAML_DEPTH {
        return Ok(());
    }
    let too_deep = |line: usize, col: usize| {
        Err(vec![
            Diagnostic::error(format!(
                "the document nests deeper than {MAX_YAML_DEPTH} levels"
            ))
            .help("a workflow needs a few levels; look for brackets that are opened but not closed")
            .at("")
            .located(Some(Location {
                line,
                column: col + 1,
            })),
        ])
    };
    let mut parser = Parser::new_from_str(text);
    let mut depth = 0usize;
    loop {
        match parser.next_event() {
            Some(Ok((event, span))) => match event {
                Event::MappingStart(..) | Event::SequenceStart(..) => {
                    depth += 1;
                    if depth > MAX_YAML_DEPTH {
                        return too_deep(span.start.line(), span.start.col());
                    }
                }
                Event::MappingEnd | Event::SequenceEnd => depth = depth.saturating_sub(1),
                Event::DocumentEnd => return Ok(()),
                _ => {}
            },
            // The scanner, reading ahead, can reach its own limit of flow levels first.
            Some(Err(e)) if e.info().contains("recursion limit") => {
                return too_deep(e.marker().line(), e.marker().col());
            }
            // Other syntax errors are reported by the passes that follow.
            _ => return Ok(()),
        }
    }
}

fn check_header(text: &str, format: Format) -> Result<(), Vec<Diagnostic>> {
    let value: Option<serde_json::Value> = match format {
        Format::Yaml => serde_norway::from_str(text).ok(),
        Format::Json => serde_json::from_str(text).ok(),
    };
    let Some(value) = value else {
        // Either not JSON-shaped data (the typed pass reports that, with its location), or not
        // well-formed at all: report a syntax error now, before the typed pass stumbles over the
        // truncated document a parser leaves and blames a field that is not wrong.
        return match syntax_error(text, format) {
            Some(d) => Err(vec![d]),
            None => Ok(()),
        };
    };
    let index = LazyIndex::new(text);
    let Some(obj) = value.as_object() else {
        return Err(vec![
            Diagnostic::error("a workflow spec must be a mapping at the top level")
                .help(format!(
                    "start the file with `apiVersion: {API_VERSION}` and `kind: Workflow`"
                ))
                .at("")
                .located(index.locate("")),
        ]);
    };
    let errors = header_problems(
        obj.get("apiVersion").and_then(|v| v.as_str()),
        obj.get("kind").and_then(|v| v.as_str()),
        &index,
    );
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// What is wrong with the header's `apiVersion` and `kind`, as read.
fn header_problems(
    api_version: Option<&str>,
    kind: Option<&str>,
    index: &LazyIndex,
) -> Vec<Diagnostic> {
    let mut errors = Vec::new();
    match api_version {
        Some(API_VERSION) => {}
        Some(other) => errors.push(
            Diagnostic::error(format!("unsupported apiVersion `{other}`"))
                .help(format!(
                    "this Couler reads `{API_VERSION}`; a file from a newer Couler needs a newer `couler`"
                ))
                .at("apiVersion")
                .located(index.locate("apiVersion")),
        ),
        None => errors.push(
            Diagnostic::error("missing `apiVersion`")
                .help(format!("add `apiVersion: {API_VERSION}` at the top of the file"))
                .at("")
                .located(Some(Location { line: 1, column: 1 })),
        ),
    }
    match kind {
        Some("Workflow") => {}
        Some(other) => errors.push(
            Diagnostic::error(format!("unsupported kind `{other}`"))
                .help("the only kind is `Workflow`")
                .at("kind")
                .located(index.locate("kind")),
        ),
        None => errors.push(
            Diagnostic::error("missing `kind`")
                .help("add `kind: Workflow` at the top of the file")
                .at("")
                .located(Some(Location { line: 1, column: 1 })),
        ),
    }
    errors
}

/// Builds the span index only when a diagnostic needs a location.
struct LazyIndex<'a> {
    text: &'a str,
    index: std::cell::OnceCell<SpanIndex>,
}

impl<'a> LazyIndex<'a> {
    fn new(text: &'a str) -> Self {
        LazyIndex {
            text,
            index: std::cell::OnceCell::new(),
        }
    }
    fn locate(&self, path: &str) -> Option<Location> {
        self.index
            .get_or_init(|| SpanIndex::build(self.text))
            .locate(path)
    }
}

/// The first syntax error of `text`, if it is not well-formed YAML (or JSON).
fn syntax_error(text: &str, format: Format) -> Option<Diagnostic> {
    let (message, location, help) = match format {
        Format::Yaml => {
            let e = serde_norway::from_str::<serde::de::IgnoredAny>(text).err()?;
            let mut message = strip_first_location(&e.to_string());
            let mut location = e.location().map(|l| Location {
                line: l.line(),
                column: l.column().max(1),
            });
            // The reader reports bad characters by byte offset, and a location of 1:1.
            if let Some((head, offset)) = message.rsplit_once(" at position ")
                && let Ok(offset) = offset.parse::<usize>()
            {
                location = Some(offset_location(text, offset));
                message = head.to_string();
            }
            let help = if message.contains("more than one document") {
                location = second_document(text).or(location);
                message = "the file holds more than one YAML document".to_string();
                "a spec file holds one workflow; remove the `---` line and what follows it, or put it in its own file"
            } else {
                "fix the YAML here: indent with spaces (not tabs), quote text that contains `: ` or starts with one of `{[&*!|>'\"%@`, and close every bracket and quote"
            };
            (message, location, help)
        }
        Format::Json => {
            // Parsed into a Value, serde_json names more mistakes ("trailing comma").
            let e = serde_json::from_str::<serde_json::Value>(text).err()?;
            (
                strip_json_location(&e.to_string()),
                json_location(&e),
                "fix the JSON here: strings and keys in double quotes, commas between items but not after the last, every bracket closed",
            )
        }
    };
    Some(
        Diagnostic::error(message)
            .help(help)
            .at("")
            .located(location),
    )
}

/// The line and column of a byte offset.
fn offset_location(text: &str, offset: usize) -> Location {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    Location {
        line: before.matches('\n').count() + 1,
        column: before[line_start..].chars().count() + 1,
    }
}

/// Where the second document of a YAML stream starts.
fn second_document(text: &str) -> Option<Location> {
    let mut parser = Parser::new_from_str(text);
    let mut documents = 0;
    while let Some(Ok((event, span))) = parser.next_event() {
        if matches!(event, Event::DocumentStart(_)) {
            documents += 1;
            if documents == 2 {
                return Some(Location {
                    line: span.start.line(),
                    column: span.start.col() + 1,
                });
            }
        }
    }
    None
}

/// serde_json counts columns from 0 at the start of a line (an error before its first character).
fn json_location(e: &serde_json::Error) -> Option<Location> {
    (e.line() > 0).then(|| Location {
        line: e.line(),
        column: e.column().max(1),
    })
}

/// serde_json suffixes the location, which is reported separately.
fn strip_json_location(msg: &str) -> String {
    msg.rfind(" at line ")
        .map_or(msg, |i| &msg[..i])
        .to_string()
}

/// Drops the first ` at line L column C` (the location, reported separately) and keeps the rest:
/// `found unexpected end of stream, while scanning a quoted scalar at line 1 column 4`.
fn strip_first_location(msg: &str) -> String {
    let Some(start) = msg.find(" at line ") else {
        return msg.to_string();
    };
    let after = &msg[start + " at line ".len()..];
    let mut end = after
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(after.len());
    if let Some(col) = after[end..].strip_prefix(" column ") {
        let digits = col.find(|c: char| !c.is_ascii_digit()).unwrap_or(col.len());
        end += " column ".len() + digits;
    }
    format!("{}{}", &msg[..start], &after[end..])
}

/// Where a diagnostic points when its place cannot be found: the span index reads the text with
/// another YAML parser than serde_norway, and the two disagree on a few malformed inputs (a byte
/// order mark inside a document, say).
const START: Location = Location { line: 1, column: 1 };

impl Diagnostic {
    fn located(mut self, loc: Option<Location>) -> Self {
        self.location = loc.or(Some(START));
        self
    }
}

/// serde_path_to_error prints the root as `.`.
fn clean_path(path: &str) -> String {
    if path == "." {
        String::new()
    } else {
        path.to_string()
    }
}

/// serde_norway prefixes the path and suffixes the location; both are reported separately.
fn strip_yaml_decoration(msg: &str) -> String {
    let msg = msg.rfind(" at line ").map_or(msg, |i| &msg[..i]);
    let is_path = |head: &str| {
        !head.is_empty()
            && head
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "[]._-".contains(c))
    };
    match msg.split_once(": ") {
        Some((head, tail)) if is_path(head) => tail.to_string(),
        _ => msg.to_string(),
    }
}

fn deserialize_diagnostic(
    text: &str,
    path: String,
    message: String,
    loc: Option<Location>,
) -> Diagnostic {
    let index = SpanIndex::build(text);
    // "unknown field `x`, expected one of `a`, `b`" and "unknown variant …": point at the key, suggest.
    for what in ["field", "variant"] {
        let prefix = format!("unknown {what} `");
        if let Some(rest) = message.strip_prefix(&prefix) {
            let word = rest.split('`').next().unwrap_or("");
            let expected: Vec<&str> = rest.split('`').skip(2).step_by(2).collect();
            let field_path = if what == "field" && !path.ends_with(word) {
                join(&path, word)
            } else {
                path.clone()
            };
            let help = match suggest(word, expected.iter().copied()) {
                Some(s) => format!("did you mean `{s}`?"),
                None if expected.is_empty() => format!("remove `{word}`"),
                None => format!("valid names here: `{}`", expected.join("`, `")),
            };
            // An unknown field is its key; an unknown variant is the value.
            let location = match what {
                "field" => index.locate_key(&field_path),
                _ => index.locate(&field_path),
            };
            let location = location.or(loc);
            return Diagnostic::error(format!("unknown {what} `{word}`"))
                .help(help)
                .at(field_path)
                .located(location);
        }
    }
    // "duplicate field `x`": point at the second `x`, not at the mapping that holds both.
    if let Some(rest) = message.strip_prefix("duplicate field `") {
        let word = rest.split('`').next().unwrap_or("");
        let field_path = join(&path, word);
        let location = index
            .duplicate_key(&field_path)
            .or_else(|| index.locate(&path))
            .or(loc);
        return Diagnostic::error(format!("duplicate field `{word}`"))
            .help(format!(
                "a mapping holds each key once; remove one of the `{word}` entries"
            ))
            .at(field_path)
            .located(location);
    }
    let help = if let Some(rest) = message.strip_prefix("missing field `") {
        let word = rest.split('`').next().unwrap_or("");
        Some(format!(
            "add `{word}` here; docs/spec.md lists every field with an example"
        ))
    } else if message.starts_with("invalid type") || message.starts_with("invalid value") {
        Some("see docs/spec.md for the type of this field".to_string())
    } else {
        None
    };
    let location = index.locate(&path).or(loc);
    let mut d = Diagnostic::error(humanize_types(&message))
        .at(path)
        .located(location);
    d.help = help;
    d
}

/// Rewrites serde's `invalid type: sequence, expected struct StepRepr` in the spec's own words:
/// `invalid type: a list, expected a mapping`; Rust type names mean nothing to a spec's author.
fn humanize_types(message: &str) -> String {
    let Some((kind, rest)) = ["invalid type: ", "invalid value: "]
        .iter()
        .find_map(|p| message.strip_prefix(p).map(|r| (*p, r)))
    else {
        return message.to_string();
    };
    let Some((found, expected)) = rest.rsplit_once(", expected ") else {
        return message.to_string();
    };
    let found = match found {
        "sequence" => "a list",
        "map" => "a mapping",
        "unit value" => "null",
        other => other,
    };
    let expected = match expected {
        "u8" | "u16" | "u32" | "u64" | "usize" => "a whole number, 0 or more",
        "i8" | "i16" | "i32" | "i64" | "isize" => "a whole number",
        "f32" | "f64" => "a number",
        "a sequence" => "a list",
        "a map" => "a mapping",
        e if e.starts_with("struct ") => "a mapping",
        other => other,
    };
    format!("{kind}{found}, expected {expected}")
}

fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

/// Longest spec path the index records. Deeper or longer-keyed nodes are located at their nearest
/// recorded ancestor; the cap keeps indexing linear (each path copies its parent's) on hostile
/// input such as `[[[[…` ten thousand deep.
const MAX_INDEXED_PATH: usize = 1024;

/// Line and column of every node of a YAML (or JSON) document, by spec path.
#[derive(Debug, Default)]
pub struct SpanIndex {
    /// path → (location of the key, location of the value)
    nodes: HashMap<String, (Option<Location>, Location)>,
    /// path → location of the second key of that path in its mapping.
    duplicates: HashMap<String, Location>,
}

enum Frame {
    Map {
        path: String,
        key: Option<String>,
    },
    Seq {
        path: String,
        next: usize,
    },
    /// A mapping used as a key, or anything else we do not index into.
    Opaque,
}

impl SpanIndex {
    /// Indexes `text`; on a syntax error, keeps what was read before it.
    pub fn build(text: &str) -> SpanIndex {
        let mut nodes: HashMap<String, (Option<Location>, Location)> = HashMap::new();
        let mut duplicates: HashMap<String, Location> = HashMap::new();
        let mut stack: Vec<Frame> = Vec::new();
        let mut pending_key: Option<(String, Location)> = None;
        let mut parser = Parser::new_from_str(text);
        while let Some(Ok((event, span))) = parser.next_event() {
            let here = Location {
                line: span.start.line(),
                column: span.start.col() + 1,
            };
            let is_node = matches!(
                event,
                Event::Scalar(..)
                    | Event::MappingStart(..)
                    | Event::SequenceStart(..)
                    | Event::Alias(..)
            );
            if is_node {
                // Work out this node's path from its parent.
                let path = match stack.last_mut() {
                    None => Some(String::new()),
                    Some(Frame::Opaque) => None,
                    Some(Frame::Seq { path, next }) => {
                        *next += 1;
                        Some(format!("{path}[{}]", *next - 1))
                    }
                    Some(Frame::Map { path, key }) => match key.take() {
                        Some(k) => Some(join(path, &k)),
                        None => {
                            // This node is a key.
                            if let Event::Scalar(value, ..) = &event {
                                *key = Some(value.to_string());
                                pending_key = Some((join(path, value), here));
                                continue;
                            }
                            *key = Some(String::new());
                            None
                        }
                    },
                };
                if let Some(p) = &path {
                    let key_loc = pending_key.take().filter(|(kp, _)| kp == p).map(|(_, l)| l);
                    match nodes.entry(p.clone()) {
                        Entry::Vacant(v) => {
                            v.insert((key_loc, here));
                        }
                        Entry::Occupied(_) => {
                            if let Some(k) = key_loc {
                                duplicates.entry(p.clone()).or_insert(k);
                            }
                        }
                    }
                }
                let path = path.filter(|p| p.len() <= MAX_INDEXED_PATH);
                match event {
                    Event::MappingStart(..) => stack.push(match path {
                        Some(path) => Frame::Map { path, key: None },
                        None => Frame::Opaque,
                    }),
                    Event::SequenceStart(..) => stack.push(match path {
                        Some(path) => Frame::Seq { path, next: 0 },
                        None => Frame::Opaque,
                    }),
                    _ => {}
                }
            } else if matches!(event, Event::MappingEnd | Event::SequenceEnd) {
                stack.pop();
            } else if matches!(event, Event::DocumentEnd) {
                break;
            }
        }
        SpanIndex { nodes, duplicates }
    }

    /// Every indexed node: its path, its key's location (mapping values) and its value's.
    pub(crate) fn entries(&self) -> impl Iterator<Item = (&str, Option<Location>, Location)> {
        self.nodes.iter().map(|(p, (k, v))| (p.as_str(), *k, *v))
    }

    /// Where a key that repeats `path`'s own key in the same mapping stands, if one does.
    pub fn duplicate_key(&self, path: &str) -> Option<Location> {
        self.duplicates.get(path).copied()
    }

    /// Where the value at `path` starts, or its nearest ancestor's.
    pub fn locate(&self, path: &str) -> Option<Location> {
        self.find(path).map(|(_, v)| v)
    }

    /// Where the key of `path` stands (the value's location for list items), or its nearest ancestor's.
    pub fn locate_key(&self, path: &str) -> Option<Location> {
        self.find(path).map(|(k, v)| k.unwrap_or(v))
    }

    fn find(&self, path: &str) -> Option<(Option<Location>, Location)> {
        let mut p = path;
        loop {
            if let Some(found) = self.nodes.get(p) {
                return Some(*found);
            }
            if p.is_empty() {
                return None;
            }
            let cut = p.rfind(['.', '[']).unwrap_or(0);
            p = &p[..cut];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: &str = "apiVersion: couler.dev/v1alpha1
kind: Workflow
name: hello
steps:
  - name: say
    container:
      image: alpine:3.19
      command: [echo, hi]
  - name: after
    dependsOn: [say]
    script:
      source: |
        print('done')
";

    #[test]
    fn index_locates_keys_and_values() {
        let idx = SpanIndex::build(SPEC);
        assert_eq!(
            idx.locate("steps[1]"),
            Some(Location { line: 9, column: 5 })
        );
        assert_eq!(
            idx.locate_key("steps[0].container.image"),
            Some(Location { line: 7, column: 7 })
        );
        assert_eq!(
            idx.locate("steps[0].container.image"),
            Some(Location {
                line: 7,
                column: 14
            })
        );
        assert_eq!(
            idx.locate("steps[0].container.command[1]"),
            Some(Location {
                line: 8,
                column: 23
            })
        );
        // A path that does not exist falls back to its nearest ancestor.
        assert_eq!(
            idx.locate("steps[1].dependsOn[0].x"),
            Some(Location {
                line: 10,
                column: 17
            })
        );
    }

    #[test]
    fn loads_and_round_trips() {
        let (wf, warnings) = load(SPEC, Format::Yaml).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(wf.steps.len(), 2);
        let yaml = to_yaml(&wf);
        assert_eq!(parse(&yaml, Format::Yaml).unwrap(), wf);
        assert_eq!(to_yaml(&parse(&yaml, Format::Yaml).unwrap()), yaml);
        let json = to_json(&wf);
        assert_eq!(parse(&json, Format::Json).unwrap(), wf);
    }

    #[test]
    fn unknown_field_points_at_key_with_suggestion() {
        let bad = SPEC.replace("      image:", "      imge:");
        let errs = parse(&bad, Format::Yaml).unwrap_err();
        let e = &errs[0];
        assert_eq!(e.message, "unknown field `imge`");
        assert_eq!(e.help.as_deref(), Some("did you mean `image`?"));
        assert_eq!(e.location, Some(Location { line: 7, column: 7 }));
        assert_eq!(e.path.as_deref(), Some("steps[0].container.imge"));
    }

    #[test]
    fn json_unknown_field_is_located_too() {
        let json = r#"{"apiVersion": "couler.dev/v1alpha1", "kind": "Workflow", "name": "x",
  "steps": [{"name": "a", "script": {"sorce": "print(1)"}}]}"#;
        let e = &parse(json, Format::Json).unwrap_err()[0];
        assert_eq!(e.message, "unknown field `sorce`");
        assert_eq!(e.help.as_deref(), Some("did you mean `source`?"));
        assert_eq!(
            e.location,
            Some(Location {
                line: 2,
                column: 38
            })
        );
    }

    #[test]
    fn header_errors_come_first() {
        let e = &parse(&SPEC.replace("v1alpha1", "v9"), Format::Yaml).unwrap_err()[0];
        assert!(e.message.contains("unsupported apiVersion"), "{e:?}");
        assert_eq!(
            e.location,
            Some(Location {
                line: 1,
                column: 13
            })
        );
        let e = &parse("- a\n- b\n", Format::Yaml).unwrap_err()[0];
        assert!(e.message.contains("mapping at the top level"));
    }

    #[test]
    fn a_tagged_header_is_refused_as_the_empty_text_it_reads_as() {
        // Found by never_panics: `!x` made the untyped header check give up, the typed pass
        // read "", and what parsed printed as `apiVersion: ''`, which does not read back.
        let text = SPEC.replacen("couler.dev/v1alpha1", "!x", 1);
        let e = &parse(&text, Format::Yaml).unwrap_err()[0];
        assert_eq!(e.message, "unsupported apiVersion ``");
        assert_eq!(e.path.as_deref(), Some("apiVersion"));
        assert_eq!(e.location.map(|l| l.line), Some(1));
    }
}
