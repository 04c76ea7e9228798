//! `couler compile` and `couler backends`: lowering a workflow for an engine.

use crate::commands::write_atomically;
use crate::input::load_or_report;
use crate::lowering::{LoweringArgs, Target};
use clap::{Args, ValueEnum};
use couler_backends::lowering::Spelling;
use couler_backends::{Backend, Kind, Options, Output};
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

#[derive(Clone, Copy, ValueEnum)]
enum DocKind {
    Workflow,
    WorkflowTemplate,
    CronWorkflow,
}

/// Runs `couler compile`; returns the exit code.
pub fn run(args: &CompileArgs) -> u8 {
    let Some(wf) = load_or_report(&args.file) else {
        return crate::exit::INVALID;
    };
    let backend_name = args.target.name();
    let Some(backend) = couler_backends::backend(backend_name) else {
        eprintln!("error: no backend `{backend_name}`");
        return crate::exit::INVALID;
    };
    let lowering = args.lowering.lowering(args.kind.map(|k| match k {
        DocKind::Workflow => Kind::Workflow,
        DocKind::WorkflowTemplate => Kind::WorkflowTemplate,
        DocKind::CronWorkflow => Kind::CronWorkflow,
    }));
    if let Err(e) = lowering.check_target(backend_name, Spelling::Cli) {
        eprintln!("error: {e}");
        return crate::exit::INVALID;
    }
    let options = lowering.options();
    let Some(options) = crate::subworkflows::with_names(options, &wf, &args.file) else {
        return crate::exit::INVALID;
    };
    let Some(out) = compile_or_report(backend.as_ref(), &wf, &options, &args.file) else {
        return crate::exit::INVALID;
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
                return crate::exit::INVALID;
            }
            for (name, text) in &out.files {
                let path = dir.join(name);
                if let Err(e) = write_atomically(&path, text) {
                    eprintln!("error: cannot write {}: {e}", path.display());
                    return crate::exit::INVALID;
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
    crate::exit::OK
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
    crate::exit::OK
}
