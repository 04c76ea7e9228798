//! `couler compile` and `couler backends`: lowering a workflow for an engine.

use crate::commands::write_atomically;
use crate::input::load_or_report;
use clap::{Args, ValueEnum};
use couler_backends::{Backend, Kind, Operator, Options, Output};
use std::path::{Path, PathBuf};

/// Arguments of `couler compile`.
#[derive(Args)]
pub struct CompileArgs {
    /// The workflow spec (YAML, or JSON with a .json extension)
    file: PathBuf,
    /// The engine to compile for
    #[arg(long, short, value_enum, default_value_t = Target::Argo)]
    target: Target,
    /// Write the files into this directory (created if missing); stdout if absent
    #[arg(long, short)]
    output: Option<PathBuf>,
    /// The document kind (default: cron-workflow when the spec has a schedule, else workflow)
    #[arg(long, value_enum)]
    kind: Option<DocKind>,
    /// How steps are lowered (shared with `couler split`)
    #[command(flatten)]
    lowering: LoweringArgs,
}

/// The lowering flags `couler compile` and `couler split` share.
#[derive(Args)]
pub struct LoweringArgs {
    /// Give every step its own template, even when definitions are identical
    #[arg(long)]
    no_template_reuse: bool,
    /// Airflow: how each task runs its step [default: host]
    #[arg(long, value_enum)]
    operator: Option<OperatorArg>,
    /// Airflow: the command that runs `couler launch` in a task (default: `couler` on PATH);
    /// Tekton: the path of `couler` inside the launcher image (default: /usr/local/bin/couler)
    #[arg(long)]
    launcher: Option<String>,
    /// Tekton, Airflow pods and containers: the image that carries the `couler` binary
    #[arg(long)]
    launcher_image: Option<String>,
    /// Airflow and Tekton: where tasks store artifacts (directory or s3://bucket/prefix);
    /// default: the workflow's artifactRepository
    #[arg(long)]
    artifact_store: Option<String>,
    /// Argo: the workflow controller runs with DISABLE_MAX_RECURSION=true, so a `repeat` may
    /// pass 90 iterations (refused otherwise: the loop would end with an Error near 100)
    #[arg(long)]
    no_recursion_limit: bool,
}

impl LoweringArgs {
    /// The backend options these flags give, for documents of `kind`.
    pub fn options(&self, kind: Option<Kind>) -> Options {
        Options {
            kind,
            no_template_reuse: self.no_template_reuse,
            operator: match self.operator.unwrap_or(OperatorArg::Host) {
                OperatorArg::Host => Operator::Host,
                OperatorArg::Kubernetes => Operator::Kubernetes,
                OperatorArg::Docker => Operator::Docker,
            },
            launcher: self.launcher.clone(),
            launcher_image: self.launcher_image.clone(),
            artifact_store: self.artifact_store.clone(),
            no_recursion_limit: self.no_recursion_limit,
            ..Options::default()
        }
    }

    /// Refuses a flag given for another target than `target` (`local`: `couler split
    /// --target local`, which lowers nothing), naming the targets it is for.
    pub fn check_target(&self, target: &str) -> Result<(), String> {
        let given = [
            (
                "--no-template-reuse",
                self.no_template_reuse,
                &["argo", "tekton"][..],
            ),
            ("--operator", self.operator.is_some(), &["airflow"]),
            (
                "--launcher",
                self.launcher.is_some(),
                &["airflow", "tekton"],
            ),
            (
                "--launcher-image",
                self.launcher_image.is_some(),
                &["airflow", "tekton"],
            ),
            (
                "--artifact-store",
                self.artifact_store.is_some(),
                &["airflow", "tekton"],
            ),
            ("--no-recursion-limit", self.no_recursion_limit, &["argo"]),
        ];
        given
            .into_iter()
            .filter(|(_, set, _)| *set)
            .try_for_each(|(flag, _, targets)| flag_for(flag, targets, target))
    }
}

/// `Ok` when `flag` means something for `target`, else the error naming what it is for.
fn flag_for(flag: &str, targets: &[&str], target: &str) -> Result<(), String> {
    if targets.contains(&target) {
        return Ok(());
    }
    let list = targets
        .iter()
        .map(|t| format!("--target {t}"))
        .collect::<Vec<_>>()
        .join(" or ");
    Err(format!(
        "{flag} applies to {list} only, and means nothing for --target {target}; drop it (or compile for the target it is meant for)"
    ))
}

/// An engine `couler compile` and `couler validate` target.
#[derive(Clone, Copy, ValueEnum)]
pub enum Target {
    Argo,
    Airflow,
    Tekton,
}

impl Target {
    /// The backend's name.
    pub fn name(self) -> &'static str {
        match self {
            Target::Argo => "argo",
            Target::Airflow => "airflow",
            Target::Tekton => "tekton",
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum OperatorArg {
    /// BashOperator: a host command on the Airflow worker
    Host,
    /// KubernetesPodOperator: a pod per task
    Kubernetes,
    /// DockerOperator: a container per task
    Docker,
}

#[derive(Clone, Copy, ValueEnum)]
enum DocKind {
    Workflow,
    WorkflowTemplate,
    CronWorkflow,
}

/// Runs `couler compile`; returns the exit code.
pub fn run(args: &CompileArgs) -> u8 {
    let Some(wf) = load_or_report(&args.file) else {
        return crate::commands::INVALID;
    };
    let backend_name = args.target.name();
    let Some(backend) = couler_backends::backend(backend_name) else {
        eprintln!("error: no backend `{backend_name}`");
        return crate::commands::INVALID;
    };
    let kind = match args.kind {
        Some(_) => flag_for("--kind", &["argo"], backend_name),
        None => Ok(()),
    };
    if let Err(e) = kind.and_then(|()| args.lowering.check_target(backend_name)) {
        eprintln!("error: {e}");
        return crate::commands::INVALID;
    }
    let options = args.lowering.options(args.kind.map(|k| match k {
        DocKind::Workflow => Kind::Workflow,
        DocKind::WorkflowTemplate => Kind::WorkflowTemplate,
        DocKind::CronWorkflow => Kind::CronWorkflow,
    }));
    let Some(options) = crate::subworkflows::with_names(options, &wf, &args.file) else {
        return crate::commands::INVALID;
    };
    let Some(out) = compile_or_report(backend.as_ref(), &wf, &options, &args.file) else {
        return crate::commands::INVALID;
    };
    // Too big for the engine: the split pass (docs/splitting.md) writes parts instead.
    let output = args.output.as_deref();
    if let Some(code) = crate::split::auto_split(
        backend.as_ref(),
        &wf,
        &args.file,
        output,
        &options,
        out.size(),
    ) {
        return code;
    }
    match &args.output {
        None => {
            for text in out.files.values() {
                print!("{text}");
            }
        }
        Some(dir) => {
            if let Err(e) = std::fs::create_dir_all(dir) {
                eprintln!("error: cannot create {}: {e}", dir.display());
                return crate::commands::INVALID;
            }
            for (name, text) in &out.files {
                let path = dir.join(name);
                if let Err(e) = write_atomically(&path, text) {
                    eprintln!("error: cannot write {}: {e}", path.display());
                    return crate::commands::INVALID;
                }
                eprintln!("wrote {} ({} bytes)", path.display(), text.len());
            }
        }
    }
    eprintln!(
        "{}: {} steps compiled for {backend_name}, {} bytes",
        wf.name,
        wf.steps.len(),
        out.size()
    );
    crate::commands::OK
}

/// Compiles, printing warnings, or the error naming `file`; `None` means exit 2.
pub fn compile_or_report(
    backend: &dyn Backend,
    wf: &couler_ir::Workflow,
    options: &Options,
    file: &Path,
) -> Option<Output> {
    match backend.compile(wf, options) {
        Ok(out) => {
            for w in &out.warnings {
                eprintln!("warning: {w}");
            }
            Some(out)
        }
        Err(e) => {
            eprintln!("error: {}: {e}", file.display());
            None
        }
    }
}

/// Prints the capability matrix of every backend.
pub fn backends(format: couler_backends::TableFormat) -> u8 {
    print!("{}", couler_backends::capability_table(format));
    crate::commands::OK
}
