//! `couler split`: splitting a workflow too big for an engine into parts that run as one logical
//! workflow (paper §IV.B, Algorithm 3). The partitioner and the IR split are in
//! `couler_opt::split`; each engine's documents come from its backend's
//! [`SplitLowering`](couler_backends::SplitLowering). `--target local` writes only the IR parts,
//! with a directory exchange, for `couler run`. See `docs/splitting.md`.

use crate::commands::write_atomically;
use crate::exit::{INVALID, OK};
use crate::input::load_or_report;
use crate::lowering::LoweringArgs;
use clap::{Args, ValueEnum};
use couler_backends::{Backend, ExchangeKinds, Options, SplitLowering};
use couler_ir::{Quantity, Workflow};
use couler_opt::split::{self, Budget, Exchange, Method, Outcome, Request, Split, SplitError};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Arguments of `couler split`.
#[derive(Args)]
pub struct SplitArgs {
    /// The workflow spec (YAML, or JSON with a .json extension)
    file: PathBuf,
    /// The engine the parts are for
    #[arg(long, short, value_enum, default_value_t = Target::Argo)]
    target: Target,
    /// Most bytes of one part's emitted document (`1Mi`, `2M`, `500000`); default: the engine's
    /// object limit (Argo: 1Mi, what Argo stores in one etcd object); local: the part's IR spec
    /// YAML, default no limit
    #[arg(long, value_name = "SIZE")]
    max_bytes: Option<String>,
    /// Most steps in one part (the paper's budget: 200); default: no limit
    #[arg(long, value_name = "N")]
    max_steps: Option<u64>,
    /// Most pods in one part (containers and scripts 1, jobs their replicas); default: no limit
    #[arg(long, value_name = "N")]
    max_pods: Option<u64>,
    /// The partitioner: `packed` (default) or the paper's `dfs-greedy`
    #[arg(long, value_enum, default_value_t = MethodArg::Packed)]
    method: MethodArg,
    /// Where artifacts crossing a cut are kept: s3://BUCKET[/PREFIX], or a directory where the
    /// engine allows one (`--target local`); default: the workflow's S3 artifactRepository,
    /// `OUTPUT/exchange` for local; a directory is made absolute
    #[arg(long, value_name = "LOCATION")]
    exchange: Option<String>,
    /// Write the parts here: `TARGET/` (the engine's documents, e.g. `argo/`; not for `local`)
    /// and `ir/` (specs `couler run` reads)
    #[arg(long, short)]
    output: PathBuf,
    /// How steps are lowered for the engine (as in `couler compile`)
    #[command(flatten)]
    lowering: LoweringArgs,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Target {
    Argo,
    /// The local runtime (`couler run`): only the IR parts, with a directory exchange
    Local,
    Airflow,
    Tekton,
}

impl Target {
    fn backend_name(self) -> &'static str {
        match self {
            Target::Argo => "argo",
            Target::Local => "local",
            Target::Airflow => "airflow",
            Target::Tekton => "tekton",
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum MethodArg {
    Packed,
    DfsGreedy,
}

/// Runs `couler split`; returns the exit code.
pub fn run(args: SplitArgs) -> u8 {
    match split_command(&args) {
        Ok(()) => OK,
        Err(message) => {
            eprintln!("error: {message}");
            INVALID
        }
    }
}

fn split_command(args: &SplitArgs) -> Result<(), String> {
    let file = args.file.display();
    let name = args.target.backend_name();
    args.lowering.check_target(name)?;
    let backend = couler_backends::backend(name).ok_or_else(|| format!("no backend `{name}`"))?;
    // The engine's lowering; the local runtime runs the IR parts themselves.
    let lowering = match args.target {
        Target::Local => None,
        _ => Some(backend.split_lowering().ok_or_else(|| {
            format!(
                "{file}: {name} has no lowering of a split workflow yet; split for `--target argo` (or `--target local`), or compile the whole workflow for {name} with `couler compile`"
            )
        })?),
    };
    let max_bytes = match &args.max_bytes {
        Some(text) => Some(parse_size(text).map_err(|e| format!("--max-bytes: {e}"))?),
        None => lowering.and_then(|l| l.default_max_bytes()),
    };
    let kinds = lowering.map_or(ExchangeKinds::Directory, |l| l.exchange_kinds());
    let exchange = match (kinds, &args.exchange) {
        (ExchangeKinds::Directory, text) => {
            Some(directory_exchange(name, text.as_deref(), &args.output)?)
        }
        (ExchangeKinds::Volume(root), text) => Some(volume_exchange(name, root, text.as_deref())?),
        (_, Some(text)) => {
            let exchange = Exchange::parse(text).map_err(|e| format!("--exchange: {e}"))?;
            if let Exchange::Local(dir) = &exchange
                && kinds == ExchangeKinds::ObjectStore
            {
                return Err(format!(
                    "--exchange {dir}: {name} cannot keep artifacts crossing a cut in a directory (its tasks share no file system); use an s3:// exchange (`--exchange s3://BUCKET/PREFIX`), or `--target local` to run the split form locally with `couler run`"
                ));
            }
            Some(exchange)
        }
        (_, None) => None,
    };
    let Some(wf) = load_or_report(&args.file) else {
        return Err(format!("{file} is not a valid workflow (see above)"));
    };
    let exchange = match exchange {
        Some(e) => e,
        None => Exchange::from_repository(&wf).ok_or_else(|| {
            format!(
                "{file}: artifacts that cross a cut need a place to travel through, and the workflow has no S3 `artifactRepository`; pass `--exchange s3://BUCKET/PREFIX` (or split with `--target local` for the local runtime)"
            )
        })?,
    };
    let budget = Budget::new(max_bytes, args.max_steps, args.max_pods);
    let method = match args.method {
        MethodArg::Packed => Method::Packed,
        MethodArg::DfsGreedy => Method::DfsGreedy,
    };
    let report = match lowering {
        None => split_for_local(&wf, &args.file, budget, method, exchange, &args.output)?,
        Some(lowering) => split_for_engine(
            backend.as_ref(),
            lowering,
            &wf,
            &args.file,
            budget,
            method,
            exchange,
            &args.lowering.options(),
            &args.output,
        )?,
    };
    print!("{report}");
    Ok(())
}

/// The exchange of a target that passes artifacts through a directory (`local`, `airflow`):
/// the directory given, or `OUTPUT/exchange`, made absolute (the parts run from elsewhere).
fn directory_exchange(target: &str, text: Option<&str>, output: &Path) -> Result<Exchange, String> {
    let dir = match text {
        Some(text) => match Exchange::parse(text).map_err(|e| format!("--exchange: {e}"))? {
            Exchange::Local(dir) => PathBuf::from(dir),
            Exchange::S3(_) => {
                return Err(format!(
                    "--exchange {text}: {target} passes artifacts crossing a cut through a directory its tasks share; give a directory (default: OUTPUT/exchange), or split with `--target argo` for an s3:// exchange"
                ));
            }
        },
        None => output.join("exchange"),
    };
    let dir = std::path::absolute(&dir)
        .map_err(|e| format!("--exchange {}: cannot make it absolute: {e}", dir.display()))?;
    let text = dir
        .to_str()
        .ok_or_else(|| format!("--exchange {}: not a UTF-8 path", dir.display()))?;
    Exchange::parse(text).map_err(|e| format!("--exchange: {e}"))
}

/// The exchange of a target whose tasks mount a shared volume at `root` (Tekton): a directory
/// under it, by default `ROOT/couler-exchange`.
fn volume_exchange(target: &str, root: &str, text: Option<&str>) -> Result<Exchange, String> {
    let dir = text.map_or_else(|| format!("{root}/couler-exchange"), str::to_string);
    let path = Path::new(&dir);
    let inside = path.is_absolute()
        && path.starts_with(root)
        && path != Path::new(root)
        && path
            .components()
            .all(|c| !matches!(c, std::path::Component::ParentDir));
    if !inside {
        return Err(format!(
            "--exchange {dir}: {target} passes artifacts crossing a cut through the run's artifact volume, which every part's tasks mount at {root}; give a directory under it (default {root}/couler-exchange)"
        ));
    }
    Exchange::parse(&dir).map_err(|e| format!("--exchange: {e}"))
}

/// Splits `wf` for the local runtime: writes only the IR parts (`output/ir/`), with bytes
/// measured on each part's IR spec YAML as written; returns the report.
fn split_for_local(
    wf: &Workflow,
    path: &Path,
    budget: Budget,
    method: Method,
    exchange: Exchange,
    output: &Path,
) -> Result<String, String> {
    let file = path.display();
    let (step_bytes, fixed_bytes) = ir_step_bytes(wf);
    let req = Request {
        budget,
        method,
        exchange,
        step_bytes,
        fixed_bytes,
    };
    let outcome = split::split_to_fit(wf, &req, |s| {
        let sizes = s
            .children
            .iter()
            .map(|c| couler_ir::spec::to_yaml(c).len() as u64)
            .collect();
        Ok::<_, String>(sizes)
    })
    .map_err(|e| format!("{file}: {e}"))?;
    let s = &outcome.split;
    let parent_file = format!("{}.yaml", s.parent.name);
    let parent_text = couler_ir::spec::to_yaml(&s.parent);
    let parent_bytes = parent_text.len() as u64;
    if let Some(max_bytes) = budget.limits[0]
        && parent_bytes > max_bytes
    {
        return Err(format!(
            "{file}: the parent spec is {parent_bytes} bytes, over --max-bytes {max_bytes}: too many parts for one parent; raise the budget"
        ));
    }
    let ir_dir = output.join("ir");
    std::fs::create_dir_all(&ir_dir)
        .map_err(|e| format!("cannot create {}: {e}", ir_dir.display()))?;
    write(&ir_dir.join(&parent_file), &parent_text)?;
    for (name, child) in s.child_files.iter().zip(&s.children) {
        write(&ir_dir.join(name), &couler_ir::spec::to_yaml(child))?;
    }
    let exchange = match &req.exchange {
        Exchange::Local(dir) => dir.clone(),
        Exchange::S3(s3) => format!("s3://{}/{}", s3.bucket, s3.key),
    };
    eprintln!(
        "wrote the IR parts to {} (artifacts crossing a cut go through {exchange}; run with `couler run {}`)",
        ir_dir.display(),
        ir_dir.join(&parent_file).display()
    );
    Ok(report("local", wf, &req, &outcome, parent_bytes))
}

/// Each step's share of the workflow's IR spec YAML, and the rest (the workflow without its
/// steps): what a part's spec is, up to the few bytes that cut artifacts add.
fn ir_step_bytes(wf: &Workflow) -> (Vec<u64>, u64) {
    let mut base = wf.clone();
    base.steps = Vec::new();
    let fixed = couler_ir::spec::to_yaml(&base).len() as u64;
    let bytes = wf
        .steps
        .iter()
        .map(|step| {
            base.steps = vec![step.clone()];
            (couler_ir::spec::to_yaml(&base).len() as u64).saturating_sub(fixed)
        })
        .collect();
    (bytes, fixed)
}

/// Splits `wf` for an engine, writes its documents (`output/NAME/`) and the IR parts
/// (`output/ir/`); returns the report.
#[allow(clippy::too_many_arguments)]
fn split_for_engine(
    backend: &dyn Backend,
    lowering: &dyn SplitLowering,
    wf: &Workflow,
    path: &Path,
    budget: Budget,
    method: Method,
    exchange: Exchange,
    options: &Options,
    output: &Path,
) -> Result<String, String> {
    let file = path.display();
    let max_bytes = budget.limits[0].unwrap_or(u64::MAX);
    let (step_bytes, fixed_bytes) = lowering
        .step_bytes(wf, options)
        .map_err(|e| format!("{file}: {e}"))?;
    let req = Request {
        budget,
        method,
        exchange,
        step_bytes,
        fixed_bytes,
    };
    let (outcome, documents) =
        split_and_lower(lowering, wf, &req, options).map_err(|e| format!("{file}: {e}"))?;
    let parent_bytes = parent_bytes(lowering, &outcome.split, &documents);
    if parent_bytes > max_bytes {
        return Err(format!(
            "{file}: the parent document is {parent_bytes} bytes, over --max-bytes {max_bytes}: too many parts for one parent; raise the budget"
        ));
    }
    write_parts(backend, &outcome.split, &documents, &req.exchange, output)?;
    Ok(report(backend.name(), wf, &req, &outcome, parent_bytes))
}

/// The engine's documents, by file name.
type Documents = BTreeMap<String, String>;

/// Splits `wf` to fit, measuring each round's parts as the engine emits them; returns the
/// outcome and the engine's documents of the last round (written as measured).
fn split_and_lower(
    lowering: &dyn SplitLowering,
    wf: &Workflow,
    req: &Request,
    options: &Options,
) -> Result<(Outcome, Documents), SplitError> {
    let mut documents = Documents::new();
    let outcome = split::split_to_fit(wf, req, |s| {
        let children: Vec<(String, Workflow)> = s
            .child_files
            .iter()
            .cloned()
            .zip(s.children.iter().cloned())
            .collect();
        let files = lowering.compile_split(&s.parent, &children, options)?;
        let sizes = s
            .child_files
            .iter()
            .map(|f| {
                files
                    .get(&lowering.child_file(f))
                    .map_or(0, |t| t.len() as u64)
            })
            .collect();
        documents = files;
        Ok::<_, couler_backends::CompileError>(sizes)
    })?;
    Ok((outcome, documents))
}

/// The bytes of the parent's files: every document that is not a child's.
fn parent_bytes(lowering: &dyn SplitLowering, s: &Split, documents: &Documents) -> u64 {
    let child_files: Vec<String> = s
        .child_files
        .iter()
        .map(|f| lowering.child_file(f))
        .collect();
    documents
        .iter()
        .filter(|(name, _)| !child_files.contains(name))
        .map(|(_, text)| text.len() as u64)
        .sum()
}

/// Writes the engine's documents to `output/ENGINE/` and the IR parts to `output/ir/`, and
/// says where.
fn write_parts(
    backend: &dyn Backend,
    s: &Split,
    documents: &Documents,
    exchange: &Exchange,
    output: &Path,
) -> Result<(), String> {
    let ir_dir = output.join("ir");
    let engine_dir = output.join(backend.name());
    for dir in [&ir_dir, &engine_dir] {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    for (name, text) in documents {
        write(&engine_dir.join(name), text)?;
    }
    let parent_file = format!("{}.yaml", s.parent.name);
    write(
        &ir_dir.join(&parent_file),
        &couler_ir::spec::to_yaml(&s.parent),
    )?;
    for (name, child) in s.child_files.iter().zip(&s.children) {
        write(&ir_dir.join(name), &couler_ir::spec::to_yaml(child))?;
    }
    let ir_note = ir_parts_note(backend, exchange, &ir_dir.join(&parent_file));
    eprintln!(
        "wrote {} {} files to {} and the IR parts to {} ({ir_note})",
        documents.len(),
        backend.name(),
        engine_dir.display(),
        ir_dir.display(),
    );
    Ok(())
}

/// Whether and how the IR parts (parent at `parent`) run locally: only when the exchange is a
/// directory, since the local runtime writes `storage: local` outputs, not an engine's
/// object-store keys (docs/splitting.md).
fn ir_parts_note(backend: &dyn Backend, exchange: &Exchange, parent: &Path) -> String {
    match exchange {
        Exchange::Local(_) => format!("run them with `couler run {}`", parent.display()),
        Exchange::S3(s3) => format!(
            "they exchange artifacts through s3://{}/{} as the {} parts do, which `couler run` does not; to run the split form locally, split with `--target local`",
            s3.bucket,
            s3.key,
            backend.name()
        ),
    }
}

/// The automatic pass of `couler compile`: when the engine's document (`size` bytes) is over
/// what the engine keeps in one object, splits it with the default budget into `output`.
/// Returns the exit code when it split; `None` (after saying why) when it does not apply, and
/// the whole document is written as compiled.
pub fn auto_split(
    backend: &dyn Backend,
    wf: &Workflow,
    path: &Path,
    output: Option<&Path>,
    options: &Options,
    size: usize,
) -> Option<u8> {
    let lowering = backend.split_lowering()?;
    let limit = lowering.default_max_bytes()?;
    if size as u64 <= limit {
        return None;
    }
    let Some(output) = output else {
        eprintln!(
            "note: with `-o DIR`, `couler compile` splits a workflow over {limit} bytes into parts (see `couler split`)"
        );
        return None;
    };
    let exchange = match lowering.exchange_kinds() {
        ExchangeKinds::Directory => directory_exchange(backend.name(), None, output).map(Some),
        ExchangeKinds::Volume(root) => volume_exchange(backend.name(), root, None).map(Some),
        _ => Ok(Exchange::from_repository(wf)),
    };
    let exchange = match exchange {
        Ok(e) => e,
        Err(e) => {
            eprintln!("error: {e}");
            return Some(INVALID);
        }
    };
    let Some(exchange) = exchange else {
        eprintln!(
            "note: not splitting automatically: artifacts crossing a cut need the workflow's S3 `artifactRepository`; run `couler split {} --target {} --exchange s3://BUCKET/PREFIX -o DIR`",
            path.display(),
            backend.name()
        );
        return None;
    };
    eprintln!(
        "the {} document is {size} bytes, over {limit} bytes: splitting it into parts",
        backend.name()
    );
    let budget = Budget::new(Some(limit), None, None);
    match split_for_engine(
        backend,
        lowering,
        wf,
        path,
        budget,
        Method::default(),
        exchange,
        options,
        output,
    ) {
        Ok(report) => {
            eprint!("{report}");
            Some(OK)
        }
        Err(e) => {
            eprintln!("error: {e}");
            Some(INVALID)
        }
    }
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    write_atomically(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// `1Mi`, `2M`, `500000`: a Kubernetes quantity, in bytes.
fn parse_size(text: &str) -> Result<u64, String> {
    let q: Quantity = text
        .parse()
        .map_err(|e| format!("`{text}` is not a size ({e}); write e.g. 1Mi, 2M or 500000"))?;
    let v = q.value();
    if !(v >= 1.0 && v.is_finite()) {
        return Err(format!("`{text}` is not a positive number of bytes"));
    }
    Ok(v as u64)
}

/// The report: one row per part, then the figures of the whole split.
fn report(target: &str, wf: &Workflow, req: &Request, o: &Outcome, parent_bytes: u64) -> String {
    let mut out = format!(
        "{}: {} steps split into {} parts for {target} ({}, method {})\n",
        wf.name,
        wf.steps.len(),
        o.partition.parts,
        req.budget,
        req.method.name()
    );
    out.push_str("part                              bytes    steps   pods  after\n");
    for (k, child) in o.split.children.iter().enumerate() {
        let after: Vec<String> = o
            .stats
            .part_edges
            .iter()
            .filter(|(_, to)| *to == k)
            .map(|(from, _)| (from + 1).to_string())
            .collect();
        out.push_str(&format!(
            "{:<30} {:>9} {:>8} {:>6}  {}\n",
            child.name,
            o.emitted[k],
            o.stats.sizes[k][1],
            o.stats.sizes[k][2],
            if after.is_empty() {
                "-".to_string()
            } else {
                after.join(",")
            }
        ));
    }
    out.push_str(&format!(
        "parent {}: {} bytes\nedges cut: {}\ndepth of the graph of parts: {}\nlower bound on parts: {} (ceil(total / budget) per dimension, with each part's fixed {} bytes)\nartifacts crossing a cut: {}\nrounds: {}\n",
        o.split.parent.name,
        parent_bytes,
        o.stats.edges_cut,
        o.stats.depth,
        o.stats.lower_bound,
        req.fixed_bytes,
        o.split.exchanged.len(),
        o.rounds
    ));
    out
}
