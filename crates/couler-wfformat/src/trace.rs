//! Reading a WfFormat document (already parsed as JSON) into one layout-independent shape.
//!
//! Two layouts are accepted:
//!
//! - WfFormat 1.5: `workflow.specification.tasks` (`id`, `name`, `parents`, `children`,
//!   `inputFiles`, `outputFiles`), `workflow.specification.files` (`id`, `sizeInBytes`) and
//!   `workflow.execution.tasks` (`id`, `runtimeInSeconds`), `workflow.execution.makespanInSeconds`;
//! - WfFormat 1.4 and earlier: `workflow.tasks`, each with `name` (the key parents refer to),
//!   `parents`, `children`, `runtimeInSeconds` (or `runtime`) and `files` entries
//!   `{name or id, sizeInBytes or size, link: input|output}`; `workflow.makespanInSeconds`
//!   (or `makespan`).
//!
//! The layout is recognised by its shape, not by `schemaVersion`.

use crate::error::ImportError;
use serde_json::{Map, Value};
use std::collections::HashMap;

/// One task as the importer needs it.
#[derive(Debug)]
pub(crate) struct Task<'a> {
    /// The key parents and children refer to.
    pub id: &'a str,
    /// The human name, when the trace has one apart from the id.
    pub name: Option<&'a str>,
    pub parents: Vec<&'a str>,
    pub children: Vec<&'a str>,
    pub inputs: Vec<&'a str>,
    pub outputs: Vec<&'a str>,
    /// Recorded runtime in seconds; `None` when the trace has no execution data for the task.
    pub runtime: Option<f64>,
    /// The rest of what the trace measured of the task.
    pub measured: Measured<'a>,
}

/// What a trace measured of a task beside its runtime (for the history, `couler history import`).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Measured<'a> {
    /// `command.program`.
    pub program: Option<&'a str>,
    /// Peak memory in bytes (`memoryInBytes`; WfFormat 1.4's `memory` is in KiB).
    pub memory: Option<f64>,
    /// Average CPU use in percent of one core (`avgCPU`).
    pub avg_cpu: Option<f64>,
    /// The first of `machines` (1.5) or `machine` (1.4).
    pub machine: Option<&'a str>,
}

/// Reads the measurements of the execution record (or 1.4 task) `t`.
fn measured<'a>(t: &'a Map<String, Value>, owner: Owner<'_>) -> Result<Measured<'a>, ImportError> {
    let memory = match number(t, &["memoryInBytes"]).map_err(|m| owner.err(m))? {
        Some(b) => Some(b),
        None => number(t, &["memory"])
            .map_err(|m| owner.err(m))?
            .map(|kib| kib * 1024.0),
    };
    let machine = match t.get("machines") {
        Some(Value::Array(m)) => m.first().and_then(Value::as_str),
        _ => string(t, "machine"),
    };
    Ok(Measured {
        program: t
            .get("command")
            .and_then(Value::as_object)
            .and_then(|c| string(c, "program")),
        memory,
        avg_cpu: number(t, &["avgCPU"]).map_err(|m| owner.err(m))?,
        machine,
    })
}

/// The facts of a trace the importer uses.
#[derive(Debug)]
pub(crate) struct Trace<'a> {
    pub name: Option<&'a str>,
    pub schema_version: Option<String>,
    pub makespan: Option<f64>,
    pub tasks: Vec<Task<'a>>,
    /// File id → recorded size in bytes.
    pub sizes: HashMap<&'a str, f64>,
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Where a task's fields are reported from: the task id once known, else its position.
#[derive(Clone, Copy)]
enum Owner<'a> {
    Task(&'a str),
    At(&'a str, usize),
}

impl Owner<'_> {
    fn err(self, message: impl std::fmt::Display) -> ImportError {
        match self {
            Owner::Task(id) => ImportError::task(id, message),
            Owner::At(list, i) => ImportError::new(format!("`{list}[{i}]` {message}")),
        }
    }
}

/// A list of strings; absent or `null` is the empty list.
fn str_list<'a>(
    obj: &'a Map<String, Value>,
    field: &str,
    owner: Owner<'_>,
) -> Result<Vec<&'a str>, ImportError> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, v)| {
                v.as_str().ok_or_else(|| {
                    owner.err(format_args!(
                        "has {} as item {i} of `{field}`; `{field}` must list ids as strings",
                        kind(v)
                    ))
                })
            })
            .collect(),
        Some(other) => Err(owner.err(format_args!(
            "has {} as `{field}`; `{field}` must be a list of ids (strings)",
            kind(other)
        ))),
    }
}

/// A number field; absent or `null` is `None`. Which of `fields` is present first wins. The
/// error is the end of a sentence whose subject is the object that holds the field.
fn number(obj: &Map<String, Value>, fields: &[&str]) -> Result<Option<f64>, String> {
    for field in fields {
        match obj.get(*field) {
            None | Some(Value::Null) => continue,
            Some(Value::Number(n)) => return Ok(n.as_f64()),
            Some(other) => {
                return Err(format!(
                    "has {} as `{field}`; write it as a JSON number",
                    kind(other)
                ));
            }
        }
    }
    Ok(None)
}

fn string<'a>(obj: &'a Map<String, Value>, field: &str) -> Option<&'a str> {
    obj.get(field).and_then(Value::as_str)
}

/// A required list of objects at `path`, or a message saying what is there instead.
fn object_list<'a>(
    v: Option<&'a Value>,
    path: &str,
) -> Result<Option<Vec<&'a Map<String, Value>>>, ImportError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                item.as_object().ok_or_else(|| {
                    ImportError::new(format!(
                        "`{path}[{i}]` is {}, not an object; each entry of `{path}` must be a JSON object",
                        kind(item)
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(other) => Err(ImportError::new(format!(
            "`{path}` is {}, not a list",
            kind(other)
        ))),
    }
}

/// Reads a parsed document in either layout.
pub(crate) fn read(root: &Value) -> Result<Trace<'_>, ImportError> {
    let Some(top) = root.as_object() else {
        return Err(ImportError::new(format!(
            "the trace is {}, but a WfFormat trace is a JSON object with `name`, `schemaVersion` and `workflow`",
            kind(root)
        )));
    };
    let Some(workflow) = top.get("workflow").and_then(Value::as_object) else {
        return Err(ImportError::new(
            "the trace has no `workflow` object; is this a WfCommons WfFormat trace? (expected `workflow.specification.tasks` in 1.5, or `workflow.tasks` in 1.4)",
        ));
    };
    let schema_version = match top.get("schemaVersion") {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    let mut trace = Trace {
        name: string(top, "name"),
        schema_version,
        makespan: None,
        tasks: Vec::new(),
        sizes: HashMap::new(),
    };
    if let Some(spec) = workflow.get("specification") {
        read_v15(workflow, spec, &mut trace)?;
    } else if workflow.contains_key("tasks") {
        read_legacy(workflow, &mut trace)?;
    } else {
        return Err(ImportError::new(
            "`workflow` has neither `specification` (WfFormat 1.5) nor `tasks` (WfFormat 1.4); the trace lists no tasks",
        ));
    }
    Ok(trace)
}

fn read_v15<'a>(
    workflow: &'a Map<String, Value>,
    spec: &'a Value,
    trace: &mut Trace<'a>,
) -> Result<(), ImportError> {
    let Some(spec) = spec.as_object() else {
        return Err(ImportError::new(format!(
            "`workflow.specification` is {}, not an object",
            kind(spec)
        )));
    };
    let path = "workflow.specification.tasks";
    let Some(tasks) = object_list(spec.get("tasks"), path)? else {
        return Err(ImportError::new(format!(
            "`{path}` is missing; a WfFormat 1.5 trace lists its tasks there"
        )));
    };
    let files_path = "workflow.specification.files";
    for (i, f) in object_list(spec.get("files"), files_path)?
        .unwrap_or_default()
        .into_iter()
        .enumerate()
    {
        let Some(id) = string(f, "id") else {
            return Err(ImportError::new(format!(
                "`{files_path}[{i}]` has no string `id`; give every file an id that tasks' `inputFiles`/`outputFiles` refer to"
            )));
        };
        let size = number(f, &["sizeInBytes"]).map_err(|m| Owner::At(files_path, i).err(m))?;
        // The first entry of a file id wins, as for duplicate execution records.
        trace.sizes.entry(id).or_insert(size.unwrap_or(0.0));
    }

    let mut runtimes: HashMap<&str, f64> = HashMap::new();
    let mut measures: HashMap<&str, Measured<'a>> = HashMap::new();
    if let Some(exec) = workflow.get("execution") {
        let Some(exec) = exec.as_object() else {
            return Err(ImportError::new(format!(
                "`workflow.execution` is {}, not an object",
                kind(exec)
            )));
        };
        trace.makespan = number(exec, &["makespanInSeconds"])
            .map_err(|m| ImportError::new(format!("`workflow.execution` {m}")))?;
        let epath = "workflow.execution.tasks";
        for (i, t) in object_list(exec.get("tasks"), epath)?
            .unwrap_or_default()
            .into_iter()
            .enumerate()
        {
            let Some(id) = string(t, "id") else {
                return Err(ImportError::new(format!(
                    "`{epath}[{i}]` has no string `id`; each execution record names the task it measured"
                )));
            };
            let rt = number(t, &["runtimeInSeconds"]).map_err(|m| Owner::Task(id).err(m))?;
            if let Some(rt) = rt {
                runtimes.entry(id).or_insert(rt);
            }
            if !measures.contains_key(id) {
                measures.insert(id, measured(t, Owner::Task(id))?);
            }
        }
    }

    trace.tasks.reserve(tasks.len());
    for (i, t) in tasks.into_iter().enumerate() {
        // The schema requires `id`; a task with only a `name` is still usable.
        let Some(id) = string(t, "id").or_else(|| string(t, "name")) else {
            return Err(ImportError::new(format!(
                "`{path}[{i}]` has no string `id`; give every task a unique id (parents and children refer to it)"
            )));
        };
        let owner = Owner::Task(id);
        trace.tasks.push(Task {
            id,
            name: string(t, "name"),
            parents: str_list(t, "parents", owner)?,
            children: str_list(t, "children", owner)?,
            inputs: str_list(t, "inputFiles", owner)?,
            outputs: str_list(t, "outputFiles", owner)?,
            runtime: runtimes.get(id).copied(),
            measured: measures.get(id).copied().unwrap_or_default(),
        });
    }
    Ok(())
}

fn read_legacy<'a>(
    workflow: &'a Map<String, Value>,
    trace: &mut Trace<'a>,
) -> Result<(), ImportError> {
    let path = "workflow.tasks";
    let tasks = object_list(workflow.get("tasks"), path)?.unwrap_or_default();
    trace.makespan = number(workflow, &["makespanInSeconds", "makespan"])
        .map_err(|m| ImportError::new(format!("`workflow` {m}")))?;
    // Sizes recorded on outputs win over those recorded on inputs: the producer measured it.
    let mut input_sizes: Vec<(&str, f64)> = Vec::new();
    trace.tasks.reserve(tasks.len());
    for (i, t) in tasks.into_iter().enumerate() {
        // In WfFormat ≤ 1.4, `parents` refer to `name`; `id` is optional.
        let Some(id) = string(t, "name").or_else(|| string(t, "id")) else {
            return Err(ImportError::new(format!(
                "`{path}[{i}]` has no string `name`; in WfFormat 1.4 every task needs a unique `name` (parents refer to it)"
            )));
        };
        let owner = Owner::Task(id);
        let mut inputs = Vec::new();
        let mut outputs = Vec::new();
        let files = match t.get("files") {
            None | Some(Value::Null) => &[][..],
            Some(Value::Array(files)) => files.as_slice(),
            Some(other) => {
                return Err(owner.err(format_args!(
                    "has {} as `files`; `files` must be a list of {{name, sizeInBytes, link}} objects",
                    kind(other)
                )));
            }
        };
        for (j, f) in files.iter().enumerate() {
            let Some(f) = f.as_object() else {
                return Err(owner.err(format_args!(
                    "has {} as `files[{j}]`; each file is an object {{name, sizeInBytes, link}}",
                    kind(f)
                )));
            };
            let Some(file_id) = string(f, "name").or_else(|| string(f, "id")) else {
                return Err(owner.err(format_args!(
                    "has no string `name` in `files[{j}]`; name every file"
                )));
            };
            let size = number(f, &["sizeInBytes", "size"])
                .map_err(|m| owner.err(format_args!("in `files[{j}]` {m}")))?
                .unwrap_or(0.0);
            match string(f, "link") {
                Some("input") => {
                    inputs.push(file_id);
                    input_sizes.push((file_id, size));
                }
                Some("output") => {
                    outputs.push(file_id);
                    trace.sizes.entry(file_id).or_insert(size);
                }
                _ => {
                    return Err(owner.err(format_args!(
                        "has file `{file_id}` without `link: input` or `link: output`; say which way the file goes"
                    )));
                }
            }
        }
        trace.tasks.push(Task {
            id,
            name: None,
            parents: str_list(t, "parents", owner)?,
            children: str_list(t, "children", owner)?,
            inputs,
            outputs,
            runtime: number(t, &["runtimeInSeconds", "runtime"]).map_err(|m| owner.err(m))?,
            measured: measured(t, owner)?,
        });
    }
    for (file_id, size) in input_sizes {
        trace.sizes.entry(file_id).or_insert(size);
    }
    Ok(())
}
