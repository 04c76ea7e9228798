//! The entry template printed in pieces: each task is printed as soon as it is lowered and its
//! tree dropped, so that a large workflow never holds the tree of every task (see
//! `templates`). The tree version is `document`'s `entry_template`; both give the same bytes.

use super::document::group_task;
use super::document::object;
use super::template_size::{json_len, warning};
use super::{KEY_ORDER, Lowerer};
use crate::CompileError;
use crate::yaml::{self, Seq, Unprintable};
use serde_json::{Value, json};

/// The entry template printed in pieces: its tree with the tasks left out (`{name, dag: {tasks:
/// []}}` or `{name, steps: []}`), and their text.
pub(super) struct PrintedEntry {
    pub skeleton: Value,
    /// The items of `dag.tasks` or `steps`, their dashes at `items_indent`.
    pub items: String,
    pub items_indent: usize,
    /// The JSON bytes the items add to the skeleton's (for the size check).
    items_json: usize,
    /// A task could not be printed alone.
    pub failed: bool,
}

impl PrintedEntry {
    /// The sequence of the skeleton (`skeleton` as placed in the document) that the items
    /// continue.
    pub fn tasks_at(skeleton: &Value) -> Option<&Value> {
        match skeleton.get("dag") {
            Some(dag) => dag.get("tasks"),
            None => skeleton.get("steps"),
        }
    }

    /// The warning when the template is too big for a pod (`template_size`).
    pub fn size_warning(&self) -> Option<String> {
        let name = self.skeleton["name"].as_str().unwrap_or_default();
        warning(name, self.json_len())
    }

    /// The length of the template as compact JSON.
    pub fn json_len(&self) -> usize {
        json_len(&self.skeleton) + self.items_json
    }
}

/// Tasks printed one by one as the items of a sequence, with their JSON size.
struct Tasks {
    seq: Seq,
    json: usize,
    count: usize,
}

impl Tasks {
    fn new(indent: usize, inline: bool) -> Self {
        Tasks {
            seq: Seq::new(indent, inline),
            json: 0,
            count: 0,
        }
    }

    fn push(&mut self, task: &Value, indent: usize) -> Result<(), Unprintable> {
        let Value::Object(m) = task else {
            return Err(Unprintable);
        };
        self.seq.push(&yaml::mapping_item(m, &KEY_ORDER, indent)?);
        self.json += json_len(task) + usize::from(self.count > 0);
        self.count += 1;
        Ok(())
    }
}

impl Lowerer<'_> {
    /// The entry template (see `entry_template`), its tasks printed as they are lowered; the
    /// `templates` sequence's dashes are at `indent`.
    pub(super) fn printed_entry(
        &mut self,
        levels: Option<Vec<usize>>,
        indent: usize,
    ) -> Result<PrintedEntry, CompileError> {
        let wf = self.wf;
        // Task dashes: under `dag.tasks`, or in a group of `steps`; their entries two further.
        let task_indent = indent + 4;
        let mut failed = false;
        let (skeleton, items, items_indent, items_json) = match levels {
            Some(levels) => {
                let groups = levels.iter().max().map_or(0, |m| m + 1);
                let mut tasks: Vec<Tasks> =
                    (0..groups).map(|_| Tasks::new(task_indent, true)).collect();
                for (step, &level) in wf.steps.iter().zip(&levels) {
                    let mut task = self.task(step)?;
                    group_task(&mut task);
                    failed |= tasks[level].push(&task, task_indent).is_err();
                }
                let mut seq = Seq::new(indent + 2, false);
                let mut json = groups.saturating_sub(1);
                for group in tasks {
                    json += 2 + group.json;
                    seq.push(&group.seq.finish());
                }
                let skeleton = [("name", json!(wf.name)), ("steps", json!([]))];
                (skeleton, seq, indent + 2, json)
            }
            None => {
                let mut tasks = Tasks::new(task_indent, false);
                for step in &wf.steps {
                    let task = self.task(step)?;
                    failed |= tasks.push(&task, task_indent).is_err();
                }
                let skeleton = [("name", json!(wf.name)), ("dag", json!({"tasks": []}))];
                (skeleton, tasks.seq, task_indent, tasks.json)
            }
        };
        Ok(PrintedEntry {
            skeleton: object(skeleton),
            items: items.into_text(),
            items_indent,
            items_json,
            failed,
        })
    }
}

#[cfg(test)]
mod tests;
