//! # couler-wfformat
//!
//! A Couler front end for [WfCommons](https://wfcommons.org) execution traces: it reads a
//! WfFormat JSON document (a record of a real scientific-workflow run: tasks, their
//! dependencies, the files they read and wrote, and how long each ran) and produces a runnable
//! **replay** [`couler_ir::Workflow`]. Each step of the replay sleeps for the task's recorded
//! runtime and reads and writes dummy files of the recorded sizes, so the replay loads an
//! engine (scheduling, pod start-up, artifact passing) the way the original workflow did,
//! without its software or data. Both knobs scale: `time_scale` for runtimes and `size_scale`
//! for file sizes.
//!
//! ## Input
//!
//! WfFormat 1.5 (`workflow.specification.tasks` with `id`, `name`, `parents`, `children`,
//! `inputFiles`, `outputFiles`; `workflow.specification.files` with `id`, `sizeInBytes`;
//! `workflow.execution.tasks` with `id`, `runtimeInSeconds`) and the older 1.4 layout
//! (`workflow.tasks` whose `files` entries carry `link: input|output`, with `runtimeInSeconds`
//! or `runtime`; there, `parents` refer to task `name`s). The layout is recognised by shape.
//!
//! ## Lowering rules
//!
//! - **Workflow**: named [`ImportOptions::name`], else the trace's `name` made a DNS-1123 label
//!   with [`couler_ir::validate::to_dns1123`] (`wfformat-replay` if it has none). Trace facts go
//!   to `annotations` (`wfformat/source-name`, `wfformat/schema-version`,
//!   `wfformat/makespan-seconds`, `wfformat/tasks`, `wfformat/edges`, `wfformat/files`,
//!   `wfformat/total-runtime-seconds`, `wfformat/time-scale`, `wfformat/size-scale`) and a
//!   `description`. `defaults.image` is `busybox:1.36`, so container engines can run the
//!   scripts; the local runtime runs them with the host's `sh`.
//! - **Steps**: one per task, in trace order, named `to_dns1123(name or id)`; tasks sharing a
//!   name get `-2`, `-3`, … (within 63 characters; a name only one task has is never changed).
//!   The step `description` keeps the original task id and recorded runtime.
//! - **Scripts**: each step is `script` with `command: [sh]` and a POSIX `sh` source that, in
//!   order: creates `in`/`out` as needed; generates every *external* input (one no parent
//!   produces) at its recorded size × `size_scale` (`head -c N /dev/zero > 'in/F'`); reads every
//!   input (`cat 'in/F' > /dev/null`); sleeps runtime × `time_scale` seconds (printed with at
//!   most 3 decimals, left out when that is 0); writes every output at size × `size_scale` bytes
//!   (`head -c N /dev/zero > 'out/F'`). Sizes are rounded to whole bytes. Fractional `sleep` is
//!   not in POSIX but every `sh` environment Couler targets (GNU, BSD, busybox) accepts it.
//! - **Artifacts**: each output file is an output artifact with `path: out/F`. An input file
//!   produced by one of the task's parents is an input artifact with `path: in/F` and
//!   `from: steps.PARENT.outputs.artifacts.A`; when several parents produce it, the first in the
//!   task's `parents` list supplies it. Artifact names are the file id's last `/`-separated
//!   part with every character outside `[A-Za-z0-9_-]` replaced by `_` (prefixed `f_` unless it
//!   starts with a letter or `_`, the tail kept when longer than 63), deduplicated within the
//!   step with `_2`, `_3`, ….
//!   File names `F` keep only `[A-Za-z0-9._-]` (anything else becomes `_`; an all-dots name
//!   starts with `_`; at most 200 characters, the tail kept) and are single-quoted as well,
//!   so no file id can inject shell code or escape the step's directory.
//! - **Dependencies**: the imported DAG has exactly the trace's edges: the union of every
//!   task's `parents` and every task's `children` (normally mirror images). A parent that
//!   supplies at least one file is reached through the artifact reference; every other parent
//!   goes into `dependsOn`. A file produced by a task that is *not* a parent is treated as an
//!   external input (generated locally), because wiring it would add an edge the trace does not
//!   have.
//! - **Missing or odd measurements**: a task without execution data has runtime 0, a file
//!   without `sizeInBytes` has size 0, and a negative, NaN or infinite runtime or size counts
//!   as 0. Duplicate file or execution entries: the first wins.
//! - **Errors** ([`ImportError`]): JSON syntax (with line and column), a missing `workflow` or
//!   task list, a task without an id, a wrongly typed field, duplicate task ids, a parent or
//!   child id no task has, a self-dependency, a cycle, no tasks at all, bad options.
//!
//! The result validates with no errors ([`couler_ir::validate()`]), and the same input always
//! prints the same bytes ([`couler_ir::spec::to_yaml`]).
//!
//! ## Example
//!
//! ```
//! use couler_wfformat::{ImportOptions, import};
//!
//! let trace = r#"{
//!   "name": "Tiny Chain", "schemaVersion": "1.5",
//!   "workflow": {
//!     "specification": {
//!       "tasks": [
//!         {"id": "split_1", "name": "split", "parents": [], "children": ["count_2"],
//!          "inputFiles": ["data.txt"], "outputFiles": ["part.txt"]},
//!         {"id": "count_2", "name": "count", "parents": ["split_1"], "children": [],
//!          "inputFiles": ["part.txt"], "outputFiles": []}
//!       ],
//!       "files": [{"id": "data.txt", "sizeInBytes": 2048}, {"id": "part.txt", "sizeInBytes": 1000}]
//!     },
//!     "execution": {
//!       "makespanInSeconds": 12.5,
//!       "tasks": [{"id": "split_1", "runtimeInSeconds": 2.25}, {"id": "count_2", "runtimeInSeconds": 10}]
//!     }
//!   }
//! }"#;
//! let options = ImportOptions { time_scale: 0.5, ..ImportOptions::default() };
//! let wf = import(trace, &options)?;
//! assert_eq!(wf.name, "tiny-chain");
//! assert!(couler_ir::validate(&wf).iter().all(|d| !d.is_error()));
//! let yaml = couler_ir::spec::to_yaml(&wf);
//! assert!(yaml.contains("head -c 2048 /dev/zero > 'in/data.txt'"));
//! assert!(yaml.contains("sleep 1.125"));
//! assert!(yaml.contains("from: steps.split.outputs.artifacts.part_txt"));
//! # Ok::<(), couler_wfformat::ImportError>(())
//! ```

mod error;
mod history;
mod lower;
mod names;
mod sim;
mod trace;

pub use error::ImportError;
pub use history::executions;
pub use sim::sim_input;

use couler_ir::Workflow;
use std::fmt;

/// How to import a trace.
#[derive(Clone, Debug, PartialEq)]
pub struct ImportOptions {
    /// Each step sleeps its recorded runtime × this (1 = as recorded, 0 = no sleeping).
    pub time_scale: f64,
    /// Each file is written at its recorded size × this, rounded to whole bytes.
    pub size_scale: f64,
    /// The workflow's name; by default the trace's name as a DNS-1123 label.
    pub name: Option<String>,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            time_scale: 1.0,
            size_scale: 1.0,
            name: None,
        }
    }
}

/// Facts about an imported trace, for progress and summary lines.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TraceSummary {
    /// The trace's own `name` (empty when it has none).
    pub name: String,
    pub schema_version: Option<String>,
    pub tasks: usize,
    /// Parent → child edges (= edges of the imported DAG).
    pub edges: usize,
    /// Edges that carry at least one file (an artifact reference).
    pub artifact_edges: usize,
    /// Edges that carry no file (`dependsOn`).
    pub order_edges: usize,
    /// Distinct file ids the tasks read or write.
    pub files: usize,
    /// Input artifacts: files passed from a parent to a child.
    pub file_flows: usize,
    /// Inputs no parent produces, which the reading step generates itself.
    pub generated_inputs: usize,
    /// Tasks without execution data (replayed with runtime 0).
    pub tasks_without_runtime: usize,
    /// Sum of the recorded runtimes (unscaled).
    pub total_runtime_secs: f64,
    /// The recorded makespan, if the trace has one.
    pub makespan_secs: Option<f64>,
    /// Longest path of scaled runtimes: the replay's makespan with unlimited parallelism.
    pub replay_critical_path_secs: f64,
    /// Bytes the replay writes (outputs and generated inputs, scaled).
    pub bytes_written: u64,
}

impl fmt::Display for TraceSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} tasks, {} edges ({} with files), {} files, {} s recorded runtime, replay critical path {} s, {} bytes written",
            self.tasks,
            self.edges,
            self.artifact_edges,
            self.files,
            lower::decimal3(self.total_runtime_secs),
            lower::decimal3(self.replay_critical_path_secs),
            self.bytes_written
        )
    }
}

/// A workflow with what the import learned on the way.
#[derive(Clone, Debug, PartialEq)]
pub struct Imported {
    pub workflow: Workflow,
    pub summary: TraceSummary,
    /// `task_ids[i]` is the trace id of the task `workflow.steps[i]` replays.
    pub task_ids: Vec<String>,
}

/// Imports a WfFormat trace as a replay workflow (see the crate documentation for the rules).
pub fn import(json_text: &str, options: &ImportOptions) -> Result<Workflow, ImportError> {
    import_detailed(json_text, options).map(|i| i.workflow)
}

/// Like [`import`], and also returns a [`TraceSummary`] and the step → task id mapping.
pub fn import_detailed(json_text: &str, options: &ImportOptions) -> Result<Imported, ImportError> {
    let root: serde_json::Value =
        serde_json::from_str(json_text).map_err(|e| ImportError::json(&e))?;
    let trace = trace::read(&root)?;
    lower::lower(&trace, options)
}

/// One task of a trace as recorded, for tools that analyse traces rather than replay them.
#[derive(Clone, Debug, PartialEq)]
pub struct TraceTask {
    /// The key parents and children refer to.
    pub id: String,
    /// The human name, when the trace has one apart from the id.
    pub name: Option<String>,
    pub parents: Vec<String>,
    pub children: Vec<String>,
    /// File ids the task read.
    pub inputs: Vec<String>,
    /// File ids the task wrote.
    pub outputs: Vec<String>,
    /// Recorded runtime in seconds, as written (may be missing, negative or NaN).
    pub runtime: Option<f64>,
}

/// The facts of a trace as recorded: tasks in trace order and file sizes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TraceFacts {
    /// The trace's own `name` (empty when it has none).
    pub name: String,
    pub tasks: Vec<TraceTask>,
    /// File id → recorded size in bytes (first entry wins, missing size is 0).
    pub file_sizes: std::collections::BTreeMap<String, f64>,
}

/// Reads a WfFormat trace (either layout) without lowering it: for simulators and analyses.
/// Structural checks (unknown parents, cycles) are left to the caller.
///
/// ```
/// let facts = couler_wfformat::read_trace(r#"{"name": "t", "workflow": {"specification": {
///   "tasks": [{"id": "a", "outputFiles": ["f"]}, {"id": "b", "parents": ["a"], "inputFiles": ["f"]}],
///   "files": [{"id": "f", "sizeInBytes": 42}]},
///   "execution": {"tasks": [{"id": "a", "runtimeInSeconds": 3.5}]}}}"#)?;
/// assert_eq!(facts.tasks[1].parents, ["a"]);
/// assert_eq!(facts.tasks[0].runtime, Some(3.5));
/// assert_eq!(facts.tasks[1].runtime, None);
/// assert_eq!(facts.file_sizes["f"], 42.0);
/// assert!(couler_wfformat::read_trace("[]").unwrap_err().to_string().contains("JSON object"));
/// # Ok::<(), couler_wfformat::ImportError>(())
/// ```
pub fn read_trace(json_text: &str) -> Result<TraceFacts, ImportError> {
    let root: serde_json::Value =
        serde_json::from_str(json_text).map_err(|e| ImportError::json(&e))?;
    let trace = trace::read(&root)?;
    let owned = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    Ok(TraceFacts {
        name: trace.name.unwrap_or_default().to_string(),
        tasks: trace
            .tasks
            .iter()
            .map(|t| TraceTask {
                id: t.id.to_string(),
                name: t.name.map(str::to_string),
                parents: owned(&t.parents),
                children: owned(&t.children),
                inputs: owned(&t.inputs),
                outputs: owned(&t.outputs),
                runtime: t.runtime,
            })
            .collect(),
        file_sizes: trace
            .sizes
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect(),
    })
}

#[cfg(test)]
mod tests;
