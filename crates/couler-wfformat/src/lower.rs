//! Lowering a [`Trace`] to a replay [`Workflow`]; the rules are in the crate documentation.
//!
//! Work is linear in tasks + edges + file references: every distinct file id is looked up and
//! sanitised once, and per-task deduplication uses stamp arrays rather than hash sets.

use crate::error::ImportError;
use crate::names::{self, MAX_FILE_NAME_LEN};
use crate::trace::{Task, Trace};
use crate::{ImportOptions, Imported, TraceSummary};
use couler_ir::validate::{MAX_NAME_LEN, dns1123_problem, to_dns1123};
use couler_ir::{
    ArtifactSource, Graph, InputArtifact, OutputArtifact, Reference, Script, Step, StepKind,
    StepOutput, Template, Workflow,
};
use std::collections::{HashMap, HashSet};

/// Image the replay steps run in on container engines: it has `sh`, `head -c`, fractional
/// `sleep`, `cat` and `mkdir -p`, which is all a replay script uses.
pub(crate) const REPLAY_IMAGE: &str = "busybox:1.36";

/// Seconds (or any quantity) with at most three decimals and no trailing zeros: `53.6`, `0.054`.
pub(crate) fn decimal3(x: f64) -> String {
    let s = format!("{x:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s.is_empty() || s == "-0" {
        "0".to_string()
    } else {
        s.to_string()
    }
}

/// Negative, NaN and infinite measurements mean nothing to replay: they count as 0.
fn clean(x: f64) -> f64 {
    if x.is_finite() && x > 0.0 { x } else { 0.0 }
}

/// Bytes to write: the recorded size scaled and rounded to a whole byte (saturating).
fn bytes(size: f64, scale: f64) -> u64 {
    // `as` saturates at u64::MAX and maps NaN to 0.
    clean(size * scale).round() as u64
}

fn check_options(options: &ImportOptions) -> Result<(), ImportError> {
    for (what, v) in [
        ("time_scale", options.time_scale),
        ("size_scale", options.size_scale),
    ] {
        if !v.is_finite() || v < 0.0 {
            return Err(ImportError::new(format!(
                "{what} is {v}; use a finite number ≥ 0 (1 replays the trace as recorded, 0 skips it)"
            )));
        }
    }
    if let Some(name) = &options.name
        && let Some(why) = dns1123_problem(name)
    {
        return Err(ImportError::new(format!(
            "the workflow name `{name}` is not a DNS-1123 label: {why}; try `{}`",
            to_dns1123(name)
        )));
    }
    Ok(())
}

/// Task id → index, refusing duplicates.
fn index_tasks<'a>(tasks: &[Task<'a>]) -> Result<HashMap<&'a str, usize>, ImportError> {
    let mut index = HashMap::with_capacity(tasks.len());
    for (i, t) in tasks.iter().enumerate() {
        if index.insert(t.id, i).is_some() {
            return Err(ImportError::task(
                t.id,
                "appears more than once; task ids must be unique (rename or remove the duplicate)",
            ));
        }
    }
    Ok(index)
}

/// Each task's parents: the union of every `parents` and `children` list (normally mirror
/// images), in trace order — the task's own `parents` first, then edges known only from another
/// task's `children`. That order decides which parent supplies a file several parents write.
fn parents_of(
    tasks: &[Task<'_>],
    index: &HashMap<&str, usize>,
) -> Result<Vec<Vec<usize>>, ImportError> {
    let n = tasks.len();
    let mut preds: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut edges: HashSet<(usize, usize)> = HashSet::new();
    for (t, task) in tasks.iter().enumerate() {
        for p in &task.parents {
            let Some(&pi) = index.get(p) else {
                return Err(ImportError::task(
                    task.id,
                    format_args!(
                        "lists unknown parent `{p}`: no task has that id; fix the `parents` of `{}` or add the missing task",
                        task.id
                    ),
                ));
            };
            if pi == t {
                return Err(ImportError::task(
                    task.id,
                    "lists itself as a parent; remove it from its own `parents`",
                ));
            }
            if edges.insert((pi, t)) {
                preds[t].push(pi);
            }
        }
    }
    for (t, task) in tasks.iter().enumerate() {
        for c in &task.children {
            let Some(&ci) = index.get(c) else {
                return Err(ImportError::task(
                    task.id,
                    format_args!(
                        "lists unknown child `{c}`: no task has that id; fix the `children` of `{}` or add the missing task",
                        task.id
                    ),
                ));
            };
            if ci == t {
                return Err(ImportError::task(
                    task.id,
                    "lists itself as a child; remove it from its own `children`",
                ));
            }
            if edges.insert((t, ci)) {
                preds[ci].push(t);
            }
        }
    }
    Ok(preds)
}

/// The dependency graph, or an error naming the tasks of a cycle.
fn acyclic_graph(tasks: &[Task<'_>], preds: &[Vec<usize>]) -> Result<Graph, ImportError> {
    let sorted = preds
        .iter()
        .map(|ps| {
            let mut ps = ps.clone();
            ps.sort_unstable();
            ps
        })
        .collect();
    let graph = Graph::from_predecessors(sorted);
    let Err(cycle) = graph.topological_order() else {
        return Ok(graph);
    };
    // Start the report at the cycle's earliest task, so it reads in trace order.
    let mut steps = cycle.steps;
    if let Some(start) = (0..steps.len()).min_by_key(|&k| steps[k]) {
        steps.rotate_left(start);
    }
    let mut ids: Vec<&str> = steps.iter().map(|&i| tasks[i].id).collect();
    let first = ids.first().copied().unwrap_or("?");
    ids.push(first);
    Err(ImportError::task(
        first,
        format_args!(
            "is on a dependency cycle ({}); a trace of a run is acyclic, so remove one of these `parents`/`children` entries",
            ids.join(" → ")
        ),
    ))
}

/// A distinct file id of the trace, with its names before per-step deduplication.
struct File {
    artifact: String,
    path: String,
    /// Another file id has the same artifact name / file name, so steps must deduplicate it.
    artifact_shared: bool,
    path_shared: bool,
    size: f64,
    /// (task, index into that task's output artifacts) of every task that writes it.
    producers: Vec<(usize, usize)>,
}

/// The distinct files, and each task's inputs and outputs as file indices without repeats.
struct Files {
    files: Vec<File>,
    inputs: Vec<Vec<usize>>,
    outputs: Vec<Vec<usize>>,
    /// Every artifact name and file name before deduplication: a suffixed name must be none
    /// of them, or it could clash with a file that keeps its plain name.
    artifact_bases: HashSet<String>,
    path_bases: HashSet<String>,
}

/// File id → index while the files are being collected.
struct FileTable<'a> {
    index: HashMap<&'a str, usize>,
    files: Vec<File>,
    /// stamp[f] == key while one list is being read: drops a file the list names twice.
    stamp: Vec<usize>,
}

impl<'a> FileTable<'a> {
    /// The files of one list, as indices without repeats; `key` is unique to the list.
    fn list(&mut self, key: usize, ids: &[&'a str], sizes: &HashMap<&str, f64>) -> Vec<usize> {
        let mut out = Vec::with_capacity(ids.len());
        for &id in ids {
            let f = match self.index.get(id) {
                Some(&f) => f,
                None => {
                    self.files.push(File {
                        artifact: names::artifact_name(id),
                        path: names::file_name(id),
                        artifact_shared: false,
                        path_shared: false,
                        size: sizes.get(id).copied().unwrap_or(0.0),
                        producers: Vec::new(),
                    });
                    self.stamp.push(usize::MAX);
                    self.index.insert(id, self.files.len() - 1);
                    self.files.len() - 1
                }
            };
            if self.stamp[f] != key {
                self.stamp[f] = key;
                out.push(f);
            }
        }
        out
    }
}

fn index_files(trace: &Trace<'_>) -> Files {
    let mut table = FileTable {
        index: HashMap::new(),
        files: Vec::new(),
        stamp: Vec::new(),
    };
    let mut inputs = Vec::with_capacity(trace.tasks.len());
    let mut outputs = Vec::with_capacity(trace.tasks.len());
    for (t, task) in trace.tasks.iter().enumerate() {
        // Inputs and outputs are deduplicated separately: a task may update a file in place.
        outputs.push(table.list(2 * t, &task.outputs, &trace.sizes));
        inputs.push(table.list(2 * t + 1, &task.inputs, &trace.sizes));
    }
    let mut files = table.files;
    let mut artifact_bases = HashSet::with_capacity(files.len());
    let mut path_bases = HashSet::with_capacity(files.len());
    let mut artifact_clash = HashSet::new();
    let mut path_clash = HashSet::new();
    for f in &files {
        if !artifact_bases.insert(f.artifact.clone()) {
            artifact_clash.insert(f.artifact.clone());
        }
        if !path_bases.insert(f.path.clone()) {
            path_clash.insert(f.path.clone());
        }
    }
    for f in &mut files {
        f.artifact_shared = artifact_clash.contains(&f.artifact);
        f.path_shared = path_clash.contains(&f.path);
    }
    Files {
        files,
        inputs,
        outputs,
        artifact_bases,
        path_bases,
    }
}

/// Names used so far in one step, for the few files whose plain name another file shares.
#[derive(Default)]
struct StepNames {
    artifacts: HashSet<String>,
    paths: HashSet<String>,
}

impl StepNames {
    /// The file's artifact name in this step: its plain name unless already taken here.
    fn artifact(&mut self, file: &File, bases: &HashSet<String>) -> String {
        Self::pick(
            &file.artifact,
            file.artifact_shared,
            &mut self.artifacts,
            bases,
            MAX_NAME_LEN,
        )
    }

    fn path(&mut self, file: &File, bases: &HashSet<String>) -> String {
        Self::pick(
            &file.path,
            file.path_shared,
            &mut self.paths,
            bases,
            MAX_FILE_NAME_LEN,
        )
    }

    fn pick(
        base: &str,
        shared: bool,
        used: &mut HashSet<String>,
        bases: &HashSet<String>,
        max: usize,
    ) -> String {
        // A plain name no other file id has cannot clash: files are deduplicated per task, and
        // suffixed names avoid every plain name.
        if !shared || used.insert(base.to_string()) {
            return base.to_string();
        }
        let name = names::suffixed(base, max, '_', |c| used.contains(c) || bases.contains(c));
        used.insert(name.clone());
        name
    }
}

pub(crate) fn lower(trace: &Trace<'_>, options: &ImportOptions) -> Result<Imported, ImportError> {
    check_options(options)?;
    let tasks = &trace.tasks;
    let n = tasks.len();
    if n == 0 {
        return Err(ImportError::new(
            "the trace has no tasks, so there is nothing to replay; check that it is a complete WfFormat trace",
        ));
    }
    let index = index_tasks(tasks)?;
    let preds = parents_of(tasks, &index)?;
    let graph = acyclic_graph(tasks, &preds)?;
    let files = index_files(trace);
    let summary = TraceSummary {
        name: trace.name.unwrap_or("").to_string(),
        schema_version: trace.schema_version.clone(),
        tasks: n,
        edges: preds.iter().map(Vec::len).sum(),
        files: files.files.len(),
        makespan_secs: trace.makespan.map(clean),
        ..TraceSummary::default()
    };
    let mut replay = Replay {
        step_names: names::step_names(tasks.iter().map(|t| t.name.unwrap_or(t.id))),
        files,
        options,
        summary,
        bytes_written: 0,
    };
    let (out_artifacts, out_lines) = replay.outputs();
    let mut steps = replay.steps(tasks, &preds, &out_artifacts, &out_lines);
    // Outputs move in last: inputs above read their producers' artifact names.
    for (step, artifacts) in steps.iter_mut().zip(out_artifacts) {
        step.outputs.artifacts = artifacts;
    }
    let mut summary = replay.summary;
    summary.bytes_written = u64::try_from(replay.bytes_written).unwrap_or(u64::MAX);
    let scaled: Vec<f64> = tasks
        .iter()
        .map(|t| t.runtime.map_or(0.0, clean) * options.time_scale)
        .collect();
    summary.replay_critical_path_secs = graph
        .critical_path(|i| scaled[i])
        .map(|(len, _)| len)
        .unwrap_or(0.0);

    let wf = workflow(trace, options, &summary, steps);
    Ok(Imported {
        workflow: wf,
        summary,
        task_ids: tasks.iter().map(|t| t.id.to_string()).collect(),
    })
}

/// What lowering the tasks to steps reads, and what it tallies on the way.
struct Replay<'o> {
    files: Files,
    options: &'o ImportOptions,
    step_names: Vec<String>,
    summary: TraceSummary,
    bytes_written: u128,
}

/// One step's input artifacts, and the script lines that create and read its input files.
struct StepInputs {
    artifacts: Vec<InputArtifact>,
    generate: String,
    read: String,
    /// supplies[k]: the step's k-th parent supplies one of its input files.
    supplies: Vec<bool>,
}

/// Each parent's position among the current task's parents: position[p] is valid while
/// stamp[p] == the current task.
struct ParentIndex {
    position: Vec<usize>,
    stamp: Vec<usize>,
}

impl ParentIndex {
    fn new(n: usize) -> Self {
        ParentIndex {
            position: vec![0; n],
            stamp: vec![usize::MAX; n],
        }
    }

    fn set(&mut self, t: usize, parents: &[usize]) {
        for (k, &p) in parents.iter().enumerate() {
            self.position[p] = k;
            self.stamp[p] = t;
        }
    }
}

impl Replay<'_> {
    /// One artifact per distinct output file of each task, and each task's `head -c` lines.
    fn outputs(&mut self) -> (Vec<Vec<OutputArtifact>>, Vec<String>) {
        let Files {
            files,
            outputs,
            artifact_bases,
            path_bases,
            ..
        } = &mut self.files;
        let mut out_artifacts: Vec<Vec<OutputArtifact>> = Vec::with_capacity(outputs.len());
        let mut out_lines: Vec<String> = Vec::with_capacity(outputs.len());
        for (t, outs) in outputs.iter().enumerate() {
            let mut names = StepNames::default();
            let mut artifacts = Vec::with_capacity(outs.len());
            let mut lines = String::new();
            for &f in outs {
                let file = &files[f];
                let name = names.artifact(file, artifact_bases);
                let path = names.path(file, path_bases);
                let size = bytes(file.size, self.options.size_scale);
                self.bytes_written += u128::from(size);
                lines.push_str(&format!("head -c {size} /dev/zero > 'out/{path}'\n"));
                files[f].producers.push((t, artifacts.len()));
                artifacts.push(OutputArtifact {
                    name,
                    path: format!("out/{path}"),
                    storage: None,
                    optional: false,
                });
            }
            out_artifacts.push(artifacts);
            out_lines.push(lines);
        }
        (out_artifacts, out_lines)
    }

    /// Every task's step, with its inputs, dependencies and script (outputs still empty).
    fn steps(
        &mut self,
        tasks: &[Task<'_>],
        preds: &[Vec<usize>],
        out_artifacts: &[Vec<OutputArtifact>],
        out_lines: &[String],
    ) -> Vec<Step> {
        let mut parents = ParentIndex::new(tasks.len());
        let mut steps: Vec<Step> = Vec::with_capacity(tasks.len());
        for (t, task) in tasks.iter().enumerate() {
            parents.set(t, &preds[t]);
            let inputs = self.inputs(t, preds[t].len(), &parents, out_artifacts);
            let depends_on = self.depends_on(&preds[t], &inputs.supplies);
            steps.push(self.step(t, task, inputs, depends_on, &out_lines[t]));
        }
        steps
    }

    /// Task `t`'s input files: an artifact from the parent that writes it, else generated.
    fn inputs(
        &mut self,
        t: usize,
        parent_count: usize,
        parents: &ParentIndex,
        out_artifacts: &[Vec<OutputArtifact>],
    ) -> StepInputs {
        let mut inputs = StepInputs {
            artifacts: Vec::new(),
            generate: String::new(),
            read: String::new(),
            supplies: vec![false; parent_count],
        };
        let mut names = StepNames::default();
        for &f in &self.files.inputs[t] {
            let file = &self.files.files[f];
            let path = names.path(file, &self.files.path_bases);
            // The earliest-listed parent that writes the file supplies it; a writer that is not
            // a parent would add an edge the trace does not have, so it is ignored.
            let supplier = file
                .producers
                .iter()
                .filter(|(p, _)| parents.stamp[*p] == t)
                .min_by_key(|(p, _)| parents.position[*p]);
            if let Some(&(p, slot)) = supplier {
                inputs.supplies[parents.position[p]] = true;
                let from = Reference::step(
                    self.step_names[p].clone(),
                    StepOutput::Artifact(out_artifacts[p][slot].name.clone()),
                );
                inputs.artifacts.push(InputArtifact {
                    name: names.artifact(file, &self.files.artifact_bases),
                    path: format!("in/{path}"),
                    source: Some(ArtifactSource::From(from)),
                    optional: false,
                });
            } else {
                let size = bytes(file.size, self.options.size_scale);
                self.bytes_written += u128::from(size);
                self.summary.generated_inputs += 1;
                inputs
                    .generate
                    .push_str(&format!("head -c {size} /dev/zero > 'in/{path}'\n"));
            }
            inputs
                .read
                .push_str(&format!("cat 'in/{path}' > /dev/null\n"));
        }
        self.summary.file_flows += inputs.artifacts.len();
        inputs
    }

    /// The parents that supply no input file: the step waits for them by name.
    fn depends_on(&mut self, parents: &[usize], supplies: &[bool]) -> Vec<String> {
        let mut depends_on = Vec::new();
        for (k, &p) in parents.iter().enumerate() {
            if supplies[k] {
                self.summary.artifact_edges += 1;
            } else {
                depends_on.push(self.step_names[p].clone());
            }
        }
        self.summary.order_edges += depends_on.len();
        depends_on
    }

    /// Task `t`'s step: its script creates and reads its files and sleeps its scaled runtime.
    fn step(
        &mut self,
        t: usize,
        task: &Task<'_>,
        inputs: StepInputs,
        depends_on: Vec<String>,
        out_lines: &str,
    ) -> Step {
        let recorded = task.runtime.map(clean);
        if recorded.is_none() {
            self.summary.tasks_without_runtime += 1;
        }
        let runtime = recorded.unwrap_or(0.0);
        self.summary.total_runtime_secs += runtime;
        let sleep = decimal3(runtime * self.options.time_scale);

        let mut source = String::from("set -eu\n");
        let has_inputs = !self.files.inputs[t].is_empty();
        let has_outputs = !self.files.outputs[t].is_empty();
        source.push_str(match (has_inputs, has_outputs) {
            (false, false) => "",
            (true, false) => "mkdir -p in\n",
            (false, true) => "mkdir -p out\n",
            (true, true) => "mkdir -p in out\n",
        });
        source.push_str(&inputs.generate);
        source.push_str(&inputs.read);
        if sleep != "0" {
            source.push_str(&format!("sleep {sleep}\n"));
        }
        source.push_str(out_lines);

        let mut step = Step::new(
            self.step_names[t].clone(),
            StepKind::Script(Script {
                image: None,
                command: vec!["sh".to_string()],
                source: Template::text(source),
                daemon: false,
            }),
        );
        step.description = Some(match recorded {
            Some(rt) => format!(
                "Replays WfFormat task `{}` (recorded runtime {} s).",
                task.id,
                decimal3(rt)
            ),
            None => format!("Replays WfFormat task `{}` (no recorded runtime).", task.id),
        });
        step.inputs.artifacts = inputs.artifacts;
        step.depends_on = depends_on;
        step
    }
}

/// The workflow around the steps: name, description, annotations, default image.
fn workflow(
    trace: &Trace<'_>,
    options: &ImportOptions,
    summary: &TraceSummary,
    steps: Vec<Step>,
) -> Workflow {
    let name = match (&options.name, trace.name) {
        (Some(name), _) => name.clone(),
        (None, Some(source)) if source.chars().any(|c| c.is_ascii_alphanumeric()) => {
            to_dns1123(source)
        }
        (None, _) => "wfformat-replay".to_string(),
    };
    let mut wf = Workflow::new(name);
    wf.description = Some(format!(
        "Replay of the WfCommons trace `{}`: {} tasks, {} dependencies. Each step sleeps its recorded runtime × {} and writes its files at their recorded size × {}.",
        trace.name.unwrap_or("(unnamed)"),
        summary.tasks,
        summary.edges,
        options.time_scale,
        options.size_scale
    ));
    let a = &mut wf.annotations;
    if let Some(source) = trace.name {
        a.insert("wfformat/source-name".into(), source.to_string());
    }
    if let Some(v) = &trace.schema_version {
        a.insert("wfformat/schema-version".into(), v.clone());
    }
    if let Some(m) = summary.makespan_secs {
        a.insert("wfformat/makespan-seconds".into(), decimal3(m));
    }
    a.insert("wfformat/tasks".into(), summary.tasks.to_string());
    a.insert("wfformat/edges".into(), summary.edges.to_string());
    a.insert("wfformat/files".into(), summary.files.to_string());
    a.insert(
        "wfformat/total-runtime-seconds".into(),
        decimal3(summary.total_runtime_secs),
    );
    // Display of f64 is the shortest text that reads back as the same number.
    a.insert("wfformat/time-scale".into(), options.time_scale.to_string());
    a.insert("wfformat/size-scale".into(), options.size_scale.to_string());
    wf.defaults.image = Some(REPLAY_IMAGE.to_string());
    wf.steps = steps;
    wf
}
