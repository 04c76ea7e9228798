//! The templates a lowering emits, in order, and their reuse by body.
//!
//! [`super::lower`] keeps them as JSON trees: its caller gets the document as a `Value`.
//! Compiling ([`Templates::printed`]) prints each template as it comes and keeps its text only,
//! so a large workflow never holds the tree of its whole document (at 100,000 steps that tree
//! was about 250 MB, and building, dropping and paging it in most of the compile's time). The
//! text is the printer's own ([`crate::yaml::mapping_item`]), so both ways give the same bytes.

use super::KEY_ORDER;
use super::template_size;
use crate::yaml::{self, Seq, Unprintable};
use foldhash::{HashMap, HashMapExt};
use serde_json::Value;
use std::cell::Cell;

pub(super) struct Templates {
    mode: Mode,
    /// A template body's canonical JSON (keys sorted; without its name) → the name of the first
    /// template with that body. Equal bytes are equal bodies: no hash collision can merge two.
    by_body: HashMap<Box<[u8]>, String>,
}

enum Mode {
    Trees(Vec<Value>),
    Printed(Printed),
}

/// Templates printed as items of the document's `templates`.
pub(super) struct Printed {
    /// The items so far.
    pub seq: Seq,
    /// The indent of the `templates` sequence's dashes.
    pub indent: usize,
    /// Warnings about templates too big for a pod (`template_size`).
    pub warnings: Vec<String>,
    /// Set when a template could not be printed alone or a tree was asked for: the caller
    /// lowers again with trees.
    pub failed: Cell<bool>,
}

impl Templates {
    pub fn trees() -> Self {
        Templates {
            mode: Mode::Trees(Vec::new()),
            by_body: HashMap::new(),
        }
    }

    /// Templates printed as they come, as items of a sequence whose dashes are at `indent`.
    pub fn printed(indent: usize) -> Self {
        Templates {
            mode: Mode::Printed(Printed {
                seq: Seq::new(indent, false),
                indent,
                warnings: Vec::new(),
                failed: Cell::new(false),
            }),
            by_body: HashMap::new(),
        }
    }

    /// When templates are printed as they come: the indent of their dashes.
    pub fn printed_indent(&self) -> Option<usize> {
        match &self.mode {
            Mode::Trees(_) => None,
            Mode::Printed(p) => Some(p.indent),
        }
    }

    pub fn push(&mut self, t: Value) {
        let len = self.printed_indent().map(|_| template_size::json_len(&t));
        self.push_sized(t, len.unwrap_or_default());
    }

    /// [`Templates::push`] of a template whose compact JSON is `json_len` bytes long.
    pub fn push_sized(&mut self, t: Value, json_len: usize) {
        match &mut self.mode {
            Mode::Trees(trees) => trees.push(t),
            Mode::Printed(p) => {
                let Value::Object(m) = &t else {
                    p.failed.set(true);
                    return;
                };
                let name = m.get("name").and_then(Value::as_str).unwrap_or_default();
                p.warnings.extend(template_size::warning(name, json_len));
                match yaml::mapping_item(m, &KEY_ORDER, p.indent) {
                    Ok(text) => p.seq.push(&text),
                    Err(Unprintable) => p.failed.set(true),
                }
            }
        }
    }

    /// The template named `name`, as a tree. Printed templates have none: the lowering is
    /// marked to be done again with trees.
    pub fn find(&self, name: &str) -> Option<&Value> {
        match &self.mode {
            Mode::Trees(trees) => trees.iter().find(|t| t["name"] == name),
            Mode::Printed(p) => {
                p.failed.set(true);
                None
            }
        }
    }

    /// The name of the first template whose body's canonical JSON is `body`.
    pub fn with_body(&self, body: &[u8]) -> Option<&str> {
        self.by_body.get(body).map(String::as_str)
    }

    /// Records that template `name` has the body `body` (unless an earlier one had it).
    pub fn remember(&mut self, body: Vec<u8>, name: &str) {
        self.by_body
            .entry(body.into_boxed_slice())
            .or_insert_with(|| name.to_string());
    }

    /// The trees (in tree mode; none when printed).
    pub fn take_trees(&mut self) -> Vec<Value> {
        match &mut self.mode {
            Mode::Trees(trees) => std::mem::take(trees),
            Mode::Printed(_) => Vec::new(),
        }
    }

    /// What was printed (when printed).
    pub fn into_printed(self) -> Option<Printed> {
        match self.mode {
            Mode::Trees(_) => None,
            Mode::Printed(p) => Some(p),
        }
    }
}
