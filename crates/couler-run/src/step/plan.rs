//! What one attempt runs, and the memoization key: the step rendered in its context (every
//! `{{…}}` template), once with the attempt's real paths to build its process, once with
//! symbolic paths and run id for the cache key, so that the key names the definition and its
//! inputs, never where a run keeps them.

use super::io::{Input, under};
use crate::StepEnvironment;
use crate::artifacts::Store;
use crate::render::{Context, Unresolved, json_text};
use crate::runner::{AttemptFiles, ProcessSpec};
use couler_ir::{Step, StepKind, Workflow};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Bump when the cache key's inputs change meaning, so old entries stop matching.
const CACHE_FORMAT: u32 = 1;

/// What [`AttemptPlan::new`] needs: the step, where its attempt runs, and how to say that a
/// secret is missing where the attempt runs.
pub(crate) struct PlanInputs<'a> {
    pub wf: &'a Workflow,
    pub step: &'a Step,
    /// Where input artifacts come from; `None` only when the step has none.
    pub store: Option<&'a Store>,
    /// (name, path, artifact) of every input artifact, resolved by the caller.
    pub inputs: &'a [Input],
    /// Where the attempt's working directory, logs and script go.
    pub files: &'a AttemptFiles,
    pub run_id: &'a str,
    pub node: &'a str,
    /// How to provide an inherited secret's variable here (the local runtime and the launcher
    /// differ).
    pub secret_hint: &'a str,
    /// Where the process's environment and secrets come from.
    pub environment: &'a StepEnvironment,
    /// A container's `workingDir` applies to the host process (not inside a container engine).
    pub work_dir_on_host: bool,
}

/// The process one attempt runs, built the same way by the executor and by the in-task
/// launcher: inputs placed in the working directory, paths bound in the template context, the
/// step rendered, a script written beside the working directory, secrets and `COULER_*`
/// variables in the env.
pub(crate) struct AttemptPlan {
    pub argv: Vec<String>,
    pub env: Vec<(String, String)>,
    /// What `env` is added to: `None` for the host's environment.
    pub base_env: Option<Vec<(String, String)>>,
    pub cwd: PathBuf,
    /// The script file, for a script step.
    pub script: Option<PathBuf>,
}

impl AttemptPlan {
    pub(crate) async fn new(i: &PlanInputs<'_>, ctx: &mut Context<'_>) -> Result<Self, String> {
        let (step, work) = (i.step, i.files.work());
        std::fs::create_dir_all(work)
            .map_err(|e| format!("cannot create the step directory {}: {e}", work.display()))?;
        crate::paths::make_output_dirs(step, work)?;
        if let Some(store) = i.store {
            for (name, path, r) in i.inputs {
                store
                    .get(r, &under(work, path))
                    .await
                    .map_err(|e| format!("cannot place input artifact `{name}`: {e}"))?;
            }
        }
        bind_paths(ctx, step, |_, _, path| path.map(|p| under(work, p)));
        let def = match render_step(i.wf, step, ctx) {
            Ok(d) => d,
            Err(Unresolved::Skipped(why) | Unresolved::Error(why)) => return Err(why),
        };
        let mut argv = def.command.clone();
        argv.extend(def.args.iter().cloned());
        let mut script = None;
        if let Some(src) = &def.source {
            let file = i.files.script();
            std::fs::write(&file, src)
                .map_err(|e| format!("cannot write the script {}: {e}", file.display()))?;
            argv.push(file.to_string_lossy().into_owned());
            script = Some(file);
        }
        let mut env = def.env.clone();
        for s in &step.secrets {
            env.push((s.env.clone(), i.environment.secret(s, i.secret_hint)?));
        }
        env.push(("COULER_RUN_ID".into(), i.run_id.to_string()));
        env.push(("COULER_STEP".into(), i.node.to_string()));
        let mut cwd = work.to_path_buf();
        if let StepKind::Container(c) = &step.kind
            && let Some(wd) = &c.working_dir
            && i.work_dir_on_host
        {
            cwd = work.join(wd);
            let _ = std::fs::create_dir_all(&cwd);
        }
        Ok(AttemptPlan {
            argv,
            env,
            base_env: i.environment.base().map(<[_]>::to_vec),
            cwd,
            script,
        })
    }
}

impl AttemptPlan {
    /// The attempt's process as planned, its logs in `files`, stopped after `timeout`; on the
    /// host (a driver running it in a container engine sets `argv` and `container`).
    pub(crate) fn process(self, files: &AttemptFiles, timeout: Option<Duration>) -> ProcessSpec {
        ProcessSpec {
            argv: self.argv,
            env: self.env,
            base_env: self.base_env,
            cwd: self.cwd,
            stdout: files.stdout(),
            stderr: files.stderr(),
            timeout,
            container: None,
        }
    }
}

/// A step's definition with every template rendered.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub(crate) struct Rendered {
    kind: &'static str,
    image: Option<String>,
    pub(crate) command: Vec<String>,
    pub(crate) args: Vec<String>,
    pub(crate) source: Option<String>,
    pub(crate) env: Vec<(String, String)>,
    inputs: Vec<(String, String)>,
}

/// Binds the step's artifact and output-parameter paths in `ctx`: `place(kind, name, path)` gives
/// where each lives (`kind` is `inputs.artifacts`, `outputs.artifacts` or `outputs.parameters`;
/// `path` is `None` for an output parameter read from stdout), `None` leaves it unbound.
fn bind_paths(
    ctx: &mut Context<'_>,
    step: &Step,
    place: impl Fn(&str, &str, Option<&str>) -> Option<PathBuf>,
) {
    let bind = |kind: &str, items: Vec<(&String, Option<&str>)>| {
        items
            .into_iter()
            .filter_map(|(name, path)| place(kind, name, path).map(|p| (name.clone(), p)))
            .collect()
    };
    ctx.input_artifact_paths = bind(
        "inputs.artifacts",
        step.inputs
            .artifacts
            .iter()
            .map(|a| (&a.name, Some(a.path.as_str())))
            .collect(),
    );
    ctx.output_artifact_paths = bind(
        "outputs.artifacts",
        step.outputs
            .artifacts
            .iter()
            .map(|a| (&a.name, Some(a.path.as_str())))
            .collect(),
    );
    ctx.output_param_paths = bind(
        "outputs.parameters",
        step.outputs
            .parameters
            .iter()
            .map(|p| (&p.name, p.path.as_deref()))
            .collect(),
    );
}

/// The step rendered for its cache key: paths are symbolic (`{{inputs.artifacts.a.path}}`),
/// so the key does not change with the run's directories, and the run id is a placeholder.
/// The run id is run metadata, not an input: a step that differs from an earlier run's only by
/// `{{workflow.runId}}` reuses that run's result (disable its cache to opt out).
pub(crate) fn render_for_cache_key(
    wf: &Workflow,
    step: &Step,
    ctx: &mut Context<'_>,
) -> Result<Rendered, Unresolved> {
    bind_paths(ctx, step, |kind, name, _| Some(symbolic(kind, name)));
    ctx.run_id = "<workflow.runId>";
    render_step(wf, step, ctx)
}

pub(crate) fn render_step(
    wf: &Workflow,
    step: &Step,
    ctx: &mut Context<'_>,
) -> Result<Rendered, Unresolved> {
    let mut input_params = BTreeMap::new();
    for p in &step.inputs.parameters {
        let v = match &p.value {
            Some(t) => ctx.render(t)?,
            None => String::new(),
        };
        input_params.insert(p.name.clone(), v);
    }
    ctx.input_params = input_params.clone();
    let mut r = Rendered {
        kind: step.kind.key(),
        image: wf.effective_image(step).map(str::to_string),
        inputs: input_params.into_iter().collect(),
        ..Rendered::default()
    };
    match &step.kind {
        StepKind::Container(c) => {
            for t in &c.command {
                r.command.push(ctx.render(t)?);
            }
            for t in &c.args {
                r.args.push(ctx.render(t)?);
            }
        }
        StepKind::Script(s) => {
            r.command = s.command.clone();
            r.source = Some(ctx.render(&s.source)?);
        }
        _ => {}
    }
    for (k, t) in &step.env {
        r.env.push((k.clone(), ctx.render(t)?));
    }
    Ok(r)
}

/// The memoization key: the rendered definition, input values, input artifact digests, the
/// declared outputs, the loop, the cache version. Secrets contribute their names only, and,
/// read from a directory (`secrets_from`, a sealed environment's), that directory.
pub(crate) fn cache_key(
    wf: &Workflow,
    step: &Step,
    def: &Rendered,
    inputs: &[Input],
    item: Option<&serde_json::Value>,
    secrets_from: Option<&Path>,
) -> String {
    let secrets: BTreeSet<(&str, &str, &str)> = step
        .secrets
        .iter()
        .map(|s| (s.env.as_str(), s.secret.as_str(), s.key.as_str()))
        .collect();
    let mut key = serde_json::json!({
        "format": CACHE_FORMAT,
        "def": def,
        "secrets": secrets,
        "inputArtifacts": inputs.iter().map(|(n, p, r)| (n, p, &r.digest)).collect::<Vec<_>>(),
        "outputs": serde_json::to_value(&step.outputs).unwrap_or_default(),
        "repeat": step.repeat.as_ref().map(|r| (r.condition.to_string(), r.max_iterations)),
        "version": wf.effective_cache(step).and_then(|c| c.version.clone()),
        "item": item.map(json_text),
        "workingDir": match &step.kind { StepKind::Container(c) => c.working_dir.clone(), _ => None },
    });
    // Only where it applies, so that every other key stays as it was.
    if let Some(dir) = secrets_from.filter(|_| !step.secrets.is_empty()) {
        key["secretsFrom"] = serde_json::Value::String(dir.to_string_lossy().into_owned());
    }
    digest(&key)
}

/// The key's hash: what the cache key and [`template_key`] share.
fn digest(key: &serde_json::Value) -> String {
    format!("sha256:{:x}", Sha256::digest(key.to_string().as_bytes()))
}

/// A step's template for the history (`couler-history`): the hash of what it runs as written,
/// before rendering (its kind with command, args or source, the image in force, its env), with
/// the cache key's format and hash. Its name, inputs' values, dependencies and policies
/// (`resources` above all, which `couler optimize --rightsize` rewrites) are not part of it, so
/// every run of a definition, with any parameters, adds to one history.
pub fn template_key(wf: &Workflow, step: &Step) -> String {
    let mut what = Step::new("", step.kind.clone());
    what.env = step.env.clone();
    digest(&serde_json::json!({
        "format": CACHE_FORMAT,
        "template": serde_json::to_value(&what).unwrap_or_default(),
        "image": wf.effective_image(step),
    }))
}
/// The stand-in for a path in the cache key, which must not change with the run's directories.
pub(crate) fn symbolic(kind: &str, n: &str) -> PathBuf {
    PathBuf::from(format!("<{kind}.{n}.path>"))
}
