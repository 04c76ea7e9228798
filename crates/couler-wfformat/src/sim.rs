//! A trace as the cache simulator's input: the front end builds [`SimInput`] and hands it down
//! to `couler_opt::cache`, which reads no front end.

use crate::TraceFacts;
use couler_opt::cache::{ModelError, SimFile, SimInput, SimTask};
use std::collections::HashMap;

/// From a WfCommons trace: a file passes from a task to a reader when the task wrote it
/// and is one of the reader's parents (the first such parent, as the importer wires it);
/// every other input is external and not cached.
pub fn sim_input(facts: &TraceFacts) -> Result<SimInput, ModelError> {
    let index: HashMap<&str, usize> = facts
        .tasks
        .iter()
        .enumerate()
        .map(|(i, t)| (t.id.as_str(), i))
        .collect();
    let mut parents: Vec<Vec<usize>> = vec![Vec::new(); facts.tasks.len()];
    for (i, t) in facts.tasks.iter().enumerate() {
        for p in &t.parents {
            let Some(&pi) = index.get(p.as_str()) else {
                return Err(ModelError(format!(
                    "task `{}` lists parent `{p}`, which no task has as id",
                    t.id
                )));
            };
            parents[i].push(pi);
        }
        for c in &t.children {
            let Some(&ci) = index.get(c.as_str()) else {
                return Err(ModelError(format!(
                    "task `{}` lists child `{c}`, which no task has as id",
                    t.id
                )));
            };
            parents[ci].push(i);
        }
    }
    for p in &mut parents {
        p.sort_unstable();
        p.dedup();
    }
    let mut writers: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, t) in facts.tasks.iter().enumerate() {
        for f in &t.outputs {
            writers.entry(f.as_str()).or_default().push(i);
        }
    }
    // (file id, producer) → file index, in first-seen order for determinism.
    let mut file_index: HashMap<(&str, usize), usize> = HashMap::new();
    let mut files: Vec<SimFile> = Vec::new();
    for (i, t) in facts.tasks.iter().enumerate() {
        for f in &t.inputs {
            let Some(ws) = writers.get(f.as_str()) else {
                continue;
            };
            let from_parent = facts.tasks[i]
                .parents
                .iter()
                .filter_map(|p| index.get(p.as_str()).copied())
                .chain(parents[i].iter().copied())
                .find(|p| ws.contains(p));
            let Some(p) = from_parent else { continue };
            let fi = *file_index.entry((f.as_str(), p)).or_insert_with(|| {
                files.push(SimFile {
                    name: f.clone(),
                    size: facts.file_sizes.get(f).copied().unwrap_or(0.0),
                    producer: p,
                    consumers: Vec::new(),
                });
                files.len() - 1
            });
            files[fi].consumers.push(i);
        }
    }
    let tasks = facts
        .tasks
        .iter()
        .zip(parents)
        .map(|(t, parents)| SimTask {
            name: t.id.clone(),
            runtime: t.runtime.unwrap_or(0.0),
            parents,
        })
        .collect();
    let name = if facts.name.is_empty() {
        "trace".to_string()
    } else {
        facts.name.clone()
    };
    SimInput::new(name, tasks, files)
}
