//! Splitting a workflow too big for an engine into parts (paper §IV.B, Algorithm 3).
//!
//! Two layers:
//! - [`partition`]: the engine-independent partitioner over a weighted DAG (bytes, steps, pods
//!   per step, a fixed overhead per part), the paper's DFS greedy and the default packing, the
//!   invariant checker and the figures of the report;
//! - this module: from a workflow and a partition, the child workflows (one per part) and the
//!   parent workflow whose sub-workflow steps run the children in dependency order.
//!
//! Values that cross a cut travel through storage by key (the *exchange*): the producing step's
//! output artifact gets `storage` at `EXCHANGE/STEP/ARTIFACT`, and the consuming step's input
//! artifact reads that location instead of `from: steps.…`. This needs no IR change and is
//! native on Argo (an S3 key in the artifact repository). Parameters, conditions and loops that
//! read a step in another part cannot travel this way; [`split_workflow`] rejects them with the
//! step and the reference (see `docs/splitting.md`).

mod cut;
pub mod partition;

pub use partition::{
    Budget, DIMENSIONS, Method, Partition, PartitionError, Problem, Size, Stats, lower_bound,
    partition,
};

use couler_ir::{
    LocalStorage, Reference, S3Storage, Step, StepKind, Storage, SubWorkflow, Template, Workflow,
};
use cut::{Crossings, Parts};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// The steps and pods a step counts for (its bytes depend on the target; the caller measures
/// them). A `map` counts once: its fan-out is known only at run time.
pub fn step_count_and_pods(step: &Step) -> (u64, u64) {
    let pods = match &step.kind {
        StepKind::Container(_) | StepKind::Script(_) => 1,
        StepKind::Job(j) => j.replicas.values().map(|&r| u64::from(r)).sum(),
        StepKind::Resource(_) | StepKind::Workflow(_) | StepKind::Suspend(_) => 0,
    };
    (1, pods)
}

/// Where values crossing a cut are kept.
#[derive(Clone, Debug, PartialEq)]
pub enum Exchange {
    /// A directory on the machine that runs the parts (the local runtime).
    Local(String),
    /// A prefix in an S3 bucket (Argo: the artifact repository).
    S3(S3Storage),
}

impl Exchange {
    /// Parses `s3://BUCKET[/PREFIX]` or a directory path.
    pub fn parse(text: &str) -> Result<Exchange, String> {
        if let Some(rest) = text.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(format!(
                    "`{text}` names no bucket; write s3://BUCKET[/PREFIX]"
                ));
            }
            return Ok(Exchange::S3(S3Storage {
                bucket: bucket.to_string(),
                key: prefix.trim_matches('/').to_string(),
                endpoint: None,
                region: None,
                insecure: false,
                access_key: None,
                secret_key: None,
            }));
        }
        if text.is_empty() || text.contains("://") {
            return Err(format!(
                "`{text}` is neither s3://BUCKET[/PREFIX] nor a directory path"
            ));
        }
        Ok(Exchange::Local(text.trim_end_matches('/').to_string()))
    }

    /// The exchange in the workflow's artifact repository, when that is S3.
    pub fn from_repository(wf: &Workflow) -> Option<Exchange> {
        match &wf.artifact_repository {
            Some(Storage::S3(s)) => {
                let mut s = s.clone();
                s.key = join(&s.key, &format!("{}-split", wf.name));
                Some(Exchange::S3(s))
            }
            _ => None,
        }
    }

    /// Where `step`'s output `artifact` is kept.
    pub fn location(&self, step: &str, artifact: &str) -> Storage {
        let tail = format!("{step}/{artifact}");
        match self {
            Exchange::Local(dir) => Storage::Local(LocalStorage {
                path: format!("{dir}/{tail}"),
            }),
            Exchange::S3(s) => {
                let mut s = s.clone();
                s.key = join(&s.key, &tail);
                Storage::S3(s)
            }
        }
    }
}

fn join(prefix: &str, tail: &str) -> String {
    if prefix.is_empty() {
        tail.to_string()
    } else {
        format!("{}/{tail}", prefix.trim_end_matches('/'))
    }
}

/// Why a workflow cannot be split as partitioned.
#[derive(Clone, Debug, PartialEq)]
pub struct SplitError {
    /// The step the problem is in, when there is one.
    pub step: Option<String>,
    pub message: String,
}

impl fmt::Display for SplitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.step {
            Some(s) => write!(f, "step `{s}`: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for SplitError {}

/// A split workflow: the parent runs each child as a sub-workflow step in dependency order.
#[derive(Clone, Debug, PartialEq)]
pub struct Split {
    pub parent: Workflow,
    /// Child `k` holds part `k`.
    pub children: Vec<Workflow>,
    /// The file each child is written to (what the parent's `ref` names), relative to the
    /// parent's file.
    pub child_files: Vec<String>,
    /// The values that cross a cut: `(producer step, artifact)`.
    pub exchanged: Vec<(String, String)>,
}

/// The name of part `k` (0-based) of `wf`: `NAME-part-K`, the workflow's name shortened so the
/// whole stays a DNS-1123 label (63 characters).
pub fn part_name(wf: &Workflow, k: usize) -> String {
    let suffix = format!("-part-{}", k + 1);
    let room = 63usize.saturating_sub(suffix.len());
    let base: String = wf.name.chars().take(room).collect();
    format!("{}{suffix}", base.trim_end_matches('-'))
}

/// Builds the children and the parent of `wf` split by `p` (its steps numbered as in
/// `wf.steps`, i.e. as in [`couler_ir::Graph::new`]).
pub fn split_workflow(
    wf: &Workflow,
    p: &Partition,
    exchange: &Exchange,
) -> Result<Split, SplitError> {
    if p.part_of.len() != wf.steps.len() {
        return Err(SplitError {
            step: None,
            message: format!(
                "the partition covers {} steps, the workflow has {}",
                p.part_of.len(),
                wf.steps.len()
            ),
        });
    }
    // Which outputs cross a cut, and which parts depend on which.
    let parts = Parts::new(wf, p);
    let mut crossings = Crossings {
        exported: BTreeSet::new(),
        part_deps: vec![BTreeSet::new(); p.parts],
    };
    let mut steps: Vec<Step> = wf.steps.clone();
    for (i, step) in steps.iter_mut().enumerate() {
        parts.rewrite(&wf.steps[i], step, p.part_of[i], exchange, &mut crossings)?;
    }
    for step in &mut steps {
        for o in &mut step.outputs.artifacts {
            if crossings
                .exported
                .contains(&(step.name.clone(), o.name.clone()))
            {
                o.storage = Some(exchange.location(&step.name, &o.name));
            }
        }
    }

    let mut base = wf.clone();
    base.steps = Vec::new();
    let (children, child_files) = children(wf, p, &base, steps);
    let parent = parent(wf, base, &child_files, &crossings.part_deps);
    Ok(Split {
        parent,
        children,
        child_files,
        exchanged: crossings.exported.into_iter().collect(),
    })
}

/// The children and their files: the parent's settings (`base`), their own steps and groups,
/// no schedule or exit handler (those belong to the one logical run, the parent).
fn children(
    wf: &Workflow,
    p: &Partition,
    base: &Workflow,
    steps: Vec<Step>,
) -> (Vec<Workflow>, Vec<String>) {
    let mut members: Vec<Vec<Step>> = vec![Vec::new(); p.parts];
    for (i, s) in steps.into_iter().enumerate() {
        members[p.part_of[i]].push(s);
    }
    let mut children = Vec::with_capacity(p.parts);
    let mut child_files = Vec::with_capacity(p.parts);
    for (k, part_steps) in members.into_iter().enumerate() {
        let mut child = base.clone();
        child.name = part_name(wf, k);
        child.schedule = None;
        child.on_exit = Vec::new();
        let names: BTreeSet<&str> = part_steps.iter().map(|s| s.name.as_str()).collect();
        child.groups = wf
            .groups
            .iter()
            .filter(|g| g.steps.iter().all(|m| names.contains(m.as_str())))
            .cloned()
            .collect();
        child.steps = part_steps;
        child_files.push(format!("{}.yaml", child.name));
        children.push(child);
    }
    (children, child_files)
}

/// The parent: one sub-workflow step per part, in the parts' dependency order.
fn parent(
    wf: &Workflow,
    base: Workflow,
    child_files: &[String],
    part_deps: &[BTreeSet<usize>],
) -> Workflow {
    let mut parent = base;
    parent.groups = Vec::new();
    // The defaults are the parts' (a sub-workflow step has no image, and a retry or timeout
    // of a whole part is not the steps'); the exit steps staying here keep what they had.
    for h in &mut parent.on_exit {
        keep_defaults(&wf.defaults, h);
    }
    parent.defaults = Default::default();
    parent.steps = (0..child_files.len())
        .map(|k| {
            let params: BTreeMap<String, Template> = wf
                .params
                .iter()
                .map(|prm| {
                    (
                        prm.name.clone(),
                        Template::reference(Reference::Param(prm.name.clone())),
                    )
                })
                .collect();
            let mut s = Step::new(
                part_name(wf, k),
                StepKind::Workflow(SubWorkflow {
                    reference: child_files[k].clone(),
                    params,
                }),
            );
            s.depends_on = part_deps[k].iter().map(|&d| part_name(wf, d)).collect();
            s
        })
        .collect();
    parent
}

/// Writes the workflow defaults a step uses into the step itself.
fn keep_defaults(d: &couler_ir::StepDefaults, step: &mut Step) {
    let image = match &mut step.kind {
        StepKind::Container(c) => Some(&mut c.image),
        StepKind::Script(s) => Some(&mut s.image),
        _ => None,
    };
    if let Some(image) = image
        && image.is_none()
    {
        image.clone_from(&d.image);
    }
    if step.retry.is_none() {
        step.retry = d.retry.clone().map(Box::new);
    }
    if step.timeout.is_none() {
        step.timeout = d.timeout;
    }
    if step.resources.is_none() {
        step.resources = d.resources.clone().map(Box::new);
    }
    if step.cache.is_none() {
        step.cache = d.cache.clone().map(Box::new);
    }
}

/// The weights of `wf`'s steps in the steps and pods dimensions, with `bytes` per step from the
/// caller (measured on the target's emitted document).
pub fn weights(wf: &Workflow, bytes: &[u64]) -> Vec<Size> {
    wf.steps
        .iter()
        .zip(bytes)
        .map(|(s, &b)| {
            let (n, pods) = step_count_and_pods(s);
            [b, n, pods]
        })
        .collect()
}

/// What to split and under which budget, with the step sizes measured on the target's document.
#[derive(Clone, Debug)]
pub struct Request {
    pub budget: Budget,
    pub method: Method,
    pub exchange: Exchange,
    /// Each step's share of the emitted document, in `wf.steps` order.
    pub step_bytes: Vec<u64>,
    /// The rest of a document (header, entry template): every part pays it.
    pub fixed_bytes: u64,
}

/// A split that fits: the partition, its figures and the workflows.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub partition: Partition,
    /// Figures on the estimated weights (cut edges, depth, lower bound, steps and pods).
    pub stats: Stats,
    pub split: Split,
    /// The emitted size of each child's document, as measured by the caller.
    pub emitted: Vec<u64>,
    /// How many times the workflow was partitioned (more than 1 when an emitted part was over
    /// the budget and the packing budget was tightened).
    pub rounds: usize,
}

/// Most re-splits before giving up; each one tightens the packing budget by the overshoot.
const MAX_ROUNDS: usize = 8;

/// Partitions `wf`, builds the parts and has `emit` measure each child's emitted document;
/// while a part is over the byte budget, tightens the packing budget by the overshoot and
/// splits again. `emit` returns the size of every child's document, in part order.
pub fn split_to_fit<E: fmt::Display>(
    wf: &Workflow,
    req: &Request,
    mut emit: impl FnMut(&Split) -> Result<Vec<u64>, E>,
) -> Result<Outcome, SplitError> {
    let graph = couler_ir::Graph::new(wf);
    let problem = Problem {
        graph: &graph,
        weights: weights(wf, &req.step_bytes),
        overhead: [req.fixed_bytes, 0, 0],
    };
    let err = |message: String| SplitError {
        step: None,
        message,
    };
    let mut packing = req.budget;
    for round in 1..=MAX_ROUNDS {
        let p = partition(&problem, &packing, req.method).map_err(|e| match e {
            PartitionError::StepTooBig { step, size } => SplitError {
                step: wf.steps.get(step).map(|s| s.name.clone()),
                message: format!(
                    "alone it is over the budget ({}): {} bytes with the document's fixed {} bytes, {} steps, {} pods; raise the budget",
                    req.budget, size[0], req.fixed_bytes, size[1], size[2]
                ),
            },
            other => err(other.to_string()),
        })?;
        let split = split_workflow(wf, &p, &req.exchange)?;
        let emitted = emit(&split).map_err(|e| err(e.to_string()))?;
        let worst = emitted.iter().copied().max().unwrap_or(0);
        match req.budget.limits[0] {
            Some(limit) if worst > limit => {
                // Shrink the packing budget by the overshoot (and a little more), then re-split.
                let current = packing.limits[0].unwrap_or(limit);
                let tighter = (current as u128 * limit as u128 / worst as u128) as u64;
                packing.limits[0] = Some(tighter.saturating_sub(tighter / 100 + 1));
            }
            _ => {
                let stats = p.stats(&problem, &req.budget);
                return Ok(Outcome {
                    partition: p,
                    stats,
                    split,
                    emitted,
                    rounds: round,
                });
            }
        }
    }
    Err(err(format!(
        "after {MAX_ROUNDS} rounds a part's emitted document is still over {}; raise the budget",
        req.budget
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use couler_ir::{Container, InputParameter, StepOutput};

    fn step(name: &str) -> Step {
        Step::new(
            name,
            StepKind::Container(Container {
                image: Some("alpine:3.19".into()),
                command: vec![Template::text("true")],
                args: Vec::new(),
                working_dir: None,
                daemon: false,
            }),
        )
    }

    #[test]
    fn a_parameter_crossing_a_cut_is_refused_with_the_step_and_the_field() {
        let mut wf = Workflow::new("wf");
        wf.steps.push(step("a"));
        let mut b = step("b");
        b.inputs.parameters.push(InputParameter {
            name: "x".into(),
            value: Some(Template::reference(Reference::step(
                "a",
                StepOutput::Result,
            ))),
        });
        wf.steps.push(b);
        let cut = Partition {
            part_of: vec![0, 1],
            parts: 2,
        };
        let e = split_workflow(&wf, &cut, &Exchange::Local("/x".into())).unwrap_err();
        assert_eq!(e.step.as_deref(), Some("b"));
        assert!(e.message.contains("steps.a.outputs.result"), "{e}");
        assert!(e.message.contains("raise the budget"), "{e}");
        // In one part the same workflow splits.
        let whole = Partition {
            part_of: vec![0, 0],
            parts: 1,
        };
        let s = split_workflow(&wf, &whole, &Exchange::Local("/x".into())).unwrap();
        assert_eq!(s.children[0].steps.len(), 2);
        assert!(s.exchanged.is_empty());
    }

    #[test]
    fn exchanges_parse_and_place_artifacts_by_key() {
        let s3 = Exchange::parse("s3://bucket/a/b/").unwrap();
        match s3.location("step", "out") {
            Storage::S3(s) => assert_eq!(
                (s.bucket.as_str(), s.key.as_str()),
                ("bucket", "a/b/step/out")
            ),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            Exchange::parse("/tmp/x/").unwrap().location("s", "o"),
            Storage::Local(LocalStorage {
                path: "/tmp/x/s/o".into()
            })
        );
        assert!(Exchange::parse("s3://").unwrap_err().contains("no bucket"));
        assert!(Exchange::parse("gs://b").is_err());
    }

    #[test]
    fn part_names_stay_dns_labels() {
        let wf = Workflow::new("a".repeat(63));
        let name = part_name(&wf, 11);
        assert!(name.len() <= 63 && name.ends_with("-part-12"), "{name}");
    }
}
