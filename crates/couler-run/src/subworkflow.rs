//! Sub-workflow steps (`workflow: {ref, params}`) on the local runtime. (Output artifacts
//! written to a local `storage` location, what a split workflow's parts exchange through, are
//! the step core's: `step::publish`.)
//!
//! A sub-workflow step runs its child as a *nested run* in the same state database, artifact
//! store, slots and stop signal as the parent: the child's run id is `PARENT_RUN.NODE` (so
//! `couler status PARENT_RUN.NODE` shows its steps), and the parent's step is `Running` while
//! the child runs and then ends with the child's outcome. Resuming the parent resumes an
//! unfinished child under the same id, so child steps that finished are kept; a child run that
//! succeeded is not run again.
//!
//! `ref` is resolved as a spec file relative to the directory of the spec that names it
//! ([`crate::RunOptions::spec_dir`] for the top-level workflow, recorded in the run directory so
//! that `resume` finds it without the file). Registered template names exist only on engines.

use crate::outcome::{StepOutputs, StepStatus};
use crate::render::Context;
use crate::state::{RunStatus, State};
use crate::{Error, artifacts};
use couler_ir::{Step, SubWorkflow, Workflow};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The deepest chain of nested sub-workflows a run may have.
pub const MAX_DEPTH: usize = 16;

/// The file recording a run's spec directory, under `runs/RUN/`.
const SPEC_DIR_FILE: &str = "spec-dir";

/// Where a run's workflow came from, for resolving its sub-workflows' `ref`s.
#[derive(Clone, Debug, Default)]
pub(crate) struct Nest {
    /// The directory `ref`s are relative to; `None` when the workflow did not come from a file.
    pub spec_dir: Option<PathBuf>,
    /// The spec files of the enclosing sub-workflow steps, outermost first.
    pub chain: Vec<PathBuf>,
}

/// The top-level run's nesting: `spec_dir` as given (and recorded in `run_dir`), else the one
/// recorded by the run's first start (`resume`).
pub(crate) fn top_level(run_dir: &Path, spec_dir: Option<&Path>) -> Nest {
    let record = run_dir.join(SPEC_DIR_FILE);
    let spec_dir = match spec_dir {
        Some(d) => {
            let d = std::path::absolute(d).unwrap_or_else(|_| d.to_path_buf());
            // Best effort: without it, `resume` cannot start children that never started.
            let _ = std::fs::create_dir_all(run_dir);
            let _ = std::fs::write(&record, d.as_os_str().as_encoded_bytes());
            Some(d)
        }
        None => std::fs::read_to_string(&record).ok().map(PathBuf::from),
    };
    Nest {
        spec_dir,
        chain: Vec::new(),
    }
}

/// The params a sub-workflow step passes its child, rendered in the step's context `ctx`, as
/// text (what `--param` and engines give a workflow).
pub(crate) fn render_params(
    step: &Step,
    sub: &SubWorkflow,
    ctx: &Context<'_>,
) -> Result<Vec<(String, String)>, String> {
    sub.params
        .iter()
        .map(|(k, t)| match ctx.render(t) {
            Ok(v) => Ok((k.clone(), v)),
            Err(
                crate::render::Unresolved::Skipped(why) | crate::render::Unresolved::Error(why),
            ) => Err(format!(
                "step `{}`: sub-workflow param `{k}`: {why}",
                step.name
            )),
        })
        .collect()
}

/// The run a sub-workflow step belongs to, as its child needs it.
pub(crate) struct Parent<'a> {
    pub run_id: &'a str,
    pub run_dir: &'a Path,
    pub state: &'a State,
    pub nest: &'a Nest,
}

/// A nested run to start: what its executor needs besides what it shares with the parent's
/// (state, store, slots, stop signal).
pub(crate) struct Child {
    pub wf: Workflow,
    pub run_id: String,
    pub run_dir: PathBuf,
    pub params: BTreeMap<String, serde_json::Value>,
    /// Rows `resume` keeps: node → status and outputs.
    pub kept: BTreeMap<String, (StepStatus, StepOutputs)>,
    pub nest: Nest,
}

/// A nested run in progress, boxed behind a declared type: a child may hold sub-workflow
/// steps in turn, and the declared type breaks the cycle of the recursive async call.
pub(crate) type RunFuture =
    std::pin::Pin<Box<dyn Future<Output = Result<(RunStatus, Option<String>), Error>> + Send>>;

/// Runs sub-workflow step `step` (unit `node`) of `parent` as a nested run that `start`
/// starts (the executor's driver); returns the step's status and message. `ctx` is the
/// parent's context for the step, in which `params` are rendered.
pub(crate) async fn run_step(
    parent: &Parent<'_>,
    step: &Step,
    sub: &SubWorkflow,
    node: &str,
    ctx: &Context<'_>,
    start: impl FnOnce(Child) -> RunFuture,
) -> Result<(StepStatus, String), Error> {
    let fail = |why: String| Ok((StepStatus::Error, why));
    let file = match resolve(parent.nest, step, sub) {
        Ok(f) => f,
        Err(why) => return fail(why),
    };
    let wf = match load(&file) {
        Ok(wf) => wf,
        Err(why) => return fail(format!("step `{}`: {why}", step.name)),
    };
    let given = match render_params(step, sub, ctx) {
        Ok(g) => g,
        Err(why) => return fail(why),
    };
    let params = match crate::resolve_params(&wf, &given) {
        Ok(p) => p,
        Err(e) => {
            return fail(format!(
                "step `{}`: sub-workflow {}: {}",
                step.name,
                file.display(),
                e.to_string().replace("--param ", "param ")
            ));
        }
    };
    let child_id = format!("{}.{node}", parent.run_id);
    let state = parent.state;
    let mut kept = BTreeMap::new();
    match state.run(&child_id)? {
        // The parent is being resumed and this child already succeeded: keep it.
        Some(rec) if rec.status == RunStatus::Succeeded.as_str() => {
            return Ok((
                StepStatus::Succeeded,
                format!("sub-workflow run `{child_id}` succeeded (kept)"),
            ));
        }
        Some(_) => {
            crate::stop_orphans(state, &child_id).await?;
            kept = state.kept_steps(&child_id)?;
            for h in &wf.on_exit {
                kept.remove(&h.name);
            }
            state.reopen_run(&child_id)?;
        }
        None => {
            let spec = couler_ir::spec::to_json(&wf);
            let params_text = serde_json::to_string(&params).unwrap_or_default();
            state.create_run(&child_id, &wf.name, &spec, &params_text)?;
            if let Some(rec) = state.run(parent.run_id)?
                && let Some(t) = &rec.artifact_store_json
                && let Ok(l) = serde_json::from_str::<artifacts::Location>(t)
            {
                state.set_run_store(&child_id, &l)?;
            }
        }
    }
    let run_dir = parent
        .run_dir
        .parent()
        .map(|d| d.join(&child_id))
        .unwrap_or_else(|| parent.run_dir.join(&child_id));
    // Recorded like a top-level run's, so `couler resume PARENT_RUN.NODE` resolves its `ref`s.
    let mut nest = top_level(&run_dir, file.parent());
    nest.chain = parent.nest.chain.clone();
    nest.chain.push(file.clone());
    let result = start(Child {
        wf,
        run_id: child_id.clone(),
        run_dir,
        params,
        kept,
        nest,
    })
    .await;
    let (status, message) = match &result {
        Ok((s, m)) => (*s, m.clone()),
        Err(e) => (RunStatus::Error, Some(e.to_string())),
    };
    state.finish_run(&child_id, status, message.as_deref())?;
    result?;
    let step_status = match status {
        RunStatus::Succeeded => StepStatus::Succeeded,
        RunStatus::Failed => StepStatus::Failed,
        _ => StepStatus::Error,
    };
    let text = ended_text(state, &child_id, &file, status, message)?;
    Ok((step_status, text))
}

/// What the sub-workflow step says of its nested run `child_id` (of spec `file`), ended with
/// `status` and `message`: on failure, also the first failed child step's own message.
fn ended_text(
    state: &crate::State,
    child_id: &str,
    file: &std::path::Path,
    status: RunStatus,
    message: Option<String>,
) -> Result<String, Error> {
    let mut text = format!(
        "sub-workflow run `{child_id}` ({}) {}",
        file.display(),
        status.as_str()
    );
    if let Some(m) = message.filter(|_| status != RunStatus::Succeeded) {
        text.push_str(": ");
        text.push_str(&m);
        // Say why: the first failed child step's own message (nested children's included).
        let why = state.steps(child_id)?.into_iter().find_map(|s| {
            StepStatus::parse(&s.status)
                .filter(|st| st.is_failure())
                .and(s.message)
        });
        if let Some(why) = why {
            text.push_str(": ");
            text.push_str(&why);
        }
    }
    Ok(text)
}

/// The spec file `ref` names, checked against the nesting depth and the enclosing specs.
fn resolve(nest: &Nest, step: &Step, sub: &SubWorkflow) -> Result<PathBuf, String> {
    let Some(dir) = &nest.spec_dir else {
        return Err(format!(
            "step `{}` runs the sub-workflow `{}`, but the workflow was not read from a file, so there is no directory to resolve it against; run the workflow with `couler run FILE` (or set `RunOptions::spec_dir`)",
            step.name, sub.reference
        ));
    };
    let path = dir.join(&sub.reference);
    if !path.is_file() {
        let looks_like_file = sub.reference.contains('/')
            || [".yaml", ".yml", ".json"]
                .iter()
                .any(|e| sub.reference.ends_with(e));
        return Err(if looks_like_file {
            format!(
                "step `{}`: sub-workflow spec {} does not exist (`ref` is resolved relative to {}); fix the path",
                step.name,
                path.display(),
                dir.display()
            )
        } else {
            format!(
                "step `{}`: sub-workflow `{}` is not a file in {}; the local runtime resolves `ref` only as a spec file path (registered workflow templates exist only on engines): write `ref: FILE.yaml`",
                step.name,
                sub.reference,
                dir.display()
            )
        });
    }
    let canonical = std::fs::canonicalize(&path).unwrap_or(path);
    if nest.chain.contains(&canonical) {
        let mut names: Vec<String> = nest.chain.iter().map(|p| p.display().to_string()).collect();
        names.push(canonical.display().to_string());
        return Err(format!(
            "step `{}`: sub-workflow {} includes itself ({}); a workflow cannot run itself as a sub-workflow",
            step.name,
            canonical.display(),
            names.join(" → ")
        ));
    }
    if nest.chain.len() >= MAX_DEPTH {
        return Err(format!(
            "step `{}`: sub-workflow {} would be nested {} deep; the local runtime allows at most {MAX_DEPTH} levels",
            step.name,
            canonical.display(),
            nest.chain.len() + 1
        ));
    }
    Ok(canonical)
}

/// Reads and validates a child spec; on failure, the diagnostics rendered against the file.
fn load(file: &Path) -> Result<couler_ir::Workflow, String> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| format!("cannot read sub-workflow spec {}: {e}", file.display()))?;
    let name = file.display().to_string();
    match couler_ir::spec::load(&text, couler_ir::Format::from_path(file)) {
        Ok((wf, _warnings)) => Ok(wf),
        Err(diags) => {
            let rendered: Vec<String> = diags
                .iter()
                .filter(|d| d.is_error())
                .map(|d| d.render(&name, Some(&text)))
                .collect();
            Err(format!(
                "sub-workflow spec {name} is not valid:\n{}",
                rendered.join("\n")
            ))
        }
    }
}
