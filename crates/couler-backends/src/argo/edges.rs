//! How a DAG task waits for the steps before it, and when it is skipped for them, so that Argo
//! decides as `couler run` does (docs/spec.md §11.3, docs/argo.md "Dependencies and skipping").
//!
//! Argo marks a task whose `depends` is false **Omitted**, and an Omitted task stops its
//! `dependsOn` successors too; `couler run` marks a reader of a skipped step's outputs
//! **Skipped**, and its successors run. So a task waits for a producer that may end without the
//! outputs it reads (it may be skipped, or it continues on failure) with a `depends` that also
//! accepts that end, and a `when` guard on the producer's status skips the task instead.
//! A task with a condition of its own tests the guard first inside the condition's expression
//! tag, so that expr never reads the outputs of a producer that ended without them.

use super::cond;
use couler_ir::{Graph, Reference, Step, StepOutput, Workflow};
use foldhash::HashMap;
use serde_json::{Map, Value, json};

/// What a task reads of one step before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Reads {
    /// Only its end (`dependsOn`, or its `status`).
    End,
    /// Its `result` or `exitCode`, which a failed run has too.
    Values,
    /// Its output parameters or artifacts, which only a successful run has.
    Outputs,
}

/// The steps of one DAG template (the main steps, or the exit handler's).
pub(super) struct Edges<'a> {
    wf: &'a Workflow,
    steps: &'a [Step],
    index: HashMap<&'a str, usize>,
    /// Whether the group names of `dependsOn` are resolved (main steps only).
    groups: bool,
    /// What each step (by position) reads of the steps before it, found once (positions as
    /// `u32`: a million dependencies take 8 MB, not 16).
    reads: Vec<Box<[(u32, Reads)]>>,
    /// Steps that may end without their outputs while their readers still get to decide:
    /// skipped (a `when` not on `item`, or reading a guarded step's outputs) or continuing on
    /// failure.
    guarded: Vec<bool>,
}

impl<'a> Edges<'a> {
    /// The main steps' DAG, `graph` being theirs.
    pub(super) fn main(wf: &'a Workflow, graph: &Graph) -> Self {
        Self::new(wf, &wf.steps, graph, true)
    }

    /// The exit handler's DAG.
    pub(super) fn exit(wf: &'a Workflow) -> Self {
        Self::new(wf, &wf.on_exit, &Graph::of_exit_handler(wf), false)
    }

    fn new(wf: &'a Workflow, steps: &'a [Step], graph: &Graph, groups: bool) -> Self {
        let index: HashMap<&str, usize> = steps
            .iter()
            .enumerate()
            .map(|(i, s)| (s.name.as_str(), i))
            .collect();
        let mut e = Edges {
            wf,
            steps,
            index,
            groups,
            reads: Vec::new(),
            guarded: vec![false; steps.len()],
        };
        e.reads = steps.iter().map(|s| e.find_reads(s)).collect();
        // A validated workflow has no cycle; with one, nothing is guarded (it is refused later).
        for i in graph.topological_order().unwrap_or_default() {
            let step = &steps[i];
            let reads_guarded = e.reads[i]
                .iter()
                .any(|&(p, r)| r > Reads::End && e.guarded[p as usize]);
            // A mapped step's `when` on `item` filters instances; it never skips the step.
            let skippable = step.when.is_some() && !step.when_reads_item();
            e.guarded[i] = step.continue_on_failure || skippable || reads_guarded;
        }
        e
    }

    /// Whether `name` is a step of this DAG.
    pub(super) fn contains(&self, name: &str) -> bool {
        self.index.contains_key(name)
    }

    /// Each step before `step` (by position, ascending) and what `step` reads of it.
    fn find_reads(&self, step: &Step) -> Box<[(u32, Reads)]> {
        // A workflow's steps are far fewer than 2^32 (each takes hundreds of bytes in memory).
        let mut out: Vec<(u32, Reads)> = Vec::with_capacity(step.depends_on.len());
        for (_, r) in step.references() {
            let Reference::Step { step: s, output } = r else {
                continue;
            };
            if *s == step.name {
                continue;
            }
            if let Some(&i) = self.index.get(s.as_str()) {
                out.push((
                    i as u32,
                    match output {
                        // A daemon's address exists once it is Daemoned, which its bare
                        // name in `depends` accepts (`wait`).
                        StepOutput::Status | StepOutput::Ip => Reads::End,
                        StepOutput::Result | StepOutput::ExitCode => Reads::Values,
                        StepOutput::Parameter(_) | StepOutput::Artifact(_) => Reads::Outputs,
                    },
                ));
            }
        }
        for d in &step.depends_on {
            if let Some(&i) = self.index.get(d.as_str()) {
                out.push((i as u32, Reads::End));
            } else if let Some(g) = self.wf.group(d).filter(|_| self.groups) {
                for m in &g.steps {
                    if let Some(&i) = self.index.get(m.as_str()) {
                        out.push((i as u32, Reads::End));
                    }
                }
            }
        }
        // By position, each once, with the most it reads of it.
        out.sort_unstable();
        out.dedup_by(|later, kept| {
            let same = later.0 == kept.0;
            if same {
                kept.1 = kept.1.max(later.1);
            }
            same
        });
        out.into_boxed_slice()
    }

    /// Whether a reader of `name`'s outputs must be guarded (`name` may end without them).
    pub(super) fn is_guarded(&self, name: &str) -> bool {
        self.index.get(name).is_some_and(|&i| self.guarded[i])
    }

    /// Sets the task's `dependencies` or `depends`; returns the `when` guard its reads need.
    pub(super) fn wait(&self, step: &Step, task: &mut Map<String, Value>) -> Option<Guard> {
        let reads = &self.reads[*self.index.get(step.name.as_str())?];
        if reads.is_empty() {
            return None;
        }
        let mut terms = Vec::with_capacity(reads.len());
        let mut guards = Vec::new();
        for &(i, r) in reads {
            let i = i as usize;
            let p = &self.steps[i];
            let n = &p.name;
            terms.push(if p.continue_on_failure {
                // A daemon stays Daemoned (running) until the DAG ends: never wait for its end.
                let daemoned = if p.is_daemon() {
                    format!(" || {n}.Daemoned")
                } else {
                    String::new()
                };
                format!("({n}.Succeeded || {n}.Skipped || {n}.Failed || {n}.Errored{daemoned})")
            } else if r == Reads::End || self.guarded[i] || p.is_daemon() {
                // Succeeded, Skipped or Daemoned: a Failed or Omitted step stops the task.
                n.clone()
            } else {
                format!("{n}.Succeeded")
            });
            if r > Reads::End && self.guarded[i] {
                guards.push(guard(p, r));
            }
        }
        // Bare names say it as `dependencies`; any other term has a `.` (a step's name is a
        // DNS-1123 label, which has none).
        if terms.iter().all(|t| !t.contains('.')) {
            task.insert("dependencies".into(), Value::from(terms));
        } else {
            task.insert("depends".into(), json!(terms.join(" && ")));
        }
        (!guards.is_empty()).then_some(Guard(guards))
    }
}

/// A task's `when` guard: for each guarded producer it reads, the statuses in which the producer
/// has what the task reads; the task runs when every producer is in one of them.
pub(super) struct Guard(Vec<(String, &'static [&'static str])>);

impl Guard {
    /// The guard with each producer's status written by `status` (`'{{tasks.P.status}}'` for
    /// govaluate, `tasks['P'].status` for expr; status literals read alike in both).
    fn render(&self, status: impl Fn(&str) -> String) -> String {
        let terms: Vec<String> = self
            .0
            .iter()
            .map(|(p, ok)| {
                let s = status(p);
                let any: Vec<String> = ok.iter().map(|o| format!("{s} == '{o}'")).collect();
                match any.as_slice() {
                    [one] => one.clone(),
                    _ => format!("({})", any.join(" || ")),
                }
            })
            .collect();
        terms.join(" && ")
    }
}

/// The guard of a reader of `p`: the statuses in which `p` has what the reader reads. A failed
/// run of a plain step still has its `result` and `exitCode`; a mapped or looping step's
/// collected values exist only when it succeeded.
fn guard(p: &Step, r: Reads) -> (String, &'static [&'static str]) {
    let wrapped = p.map.is_some() || p.repeat.is_some();
    let ok: &'static [&'static str] = if r == Reads::Values && p.continue_on_failure && !wrapped {
        &["Succeeded", "Failed"]
    } else {
        &["Succeeded"]
    };
    (p.name.clone(), ok)
}

/// A task's `when` from its guard and its own condition (an expr expression, [`cond::boolean`]).
/// The guard alone is govaluate; with a condition it is one expression tag whose `&&` tests the
/// guard first: a skipped producer has no outputs, and a tag that reads them would be left
/// unresolved, so the task would Error instead of being skipped.
pub(super) fn conjoin(guard: Option<Guard>, when: Option<String>) -> Option<String> {
    match (guard, when) {
        (Some(g), Some(w)) => {
            let status = |p: &str| format!("tasks[{}].status", cond::literal(p));
            Some(cond::tag(&format!("{} && ({w})", g.render(status))))
        }
        (Some(g), None) => Some(g.render(|p| format!("'{{{{tasks.{p}.status}}}}'"))),
        (None, w) => w.map(|w| cond::tag(&w)),
    }
}
