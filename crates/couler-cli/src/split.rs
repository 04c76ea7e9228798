//! `couler split`: splitting a workflow too big for an engine into parts that run as one logical
//! workflow (paper §IV.B, Algorithm 3). The partitioner and the IR split are in
//! `couler_opt::split`; the Argo documents in `couler_backends::argo::split`. `--target local`
//! writes only the IR parts, with a directory exchange, for `couler run`. See
//! `docs/splitting.md`.

use crate::commands::{INVALID, OK, write_atomically};
use crate::input::load_or_report;
use clap::{Args, ValueEnum};
use couler_backends::Options;
use couler_backends::argo::{self, split as argo_split};
use couler_ir::{Quantity, Workflow};
use couler_opt::split::{self, Budget, Exchange, Method, Outcome, Request};
use std::path::{Path, PathBuf};

/// Arguments of `couler split`.
#[derive(Args)]
pub struct SplitArgs {
    /// The workflow spec (YAML, or JSON with a .json extension)
    file: PathBuf,
    /// The engine the parts are for
    #[arg(long, short, value_enum, default_value_t = Target::Argo)]
    target: Target,
    /// Most bytes of one part's emitted document (`1Mi`, `2M`, `500000`); Argo default: 1Mi,
    /// what Argo stores in one etcd object; local: the part's IR spec YAML, default no limit
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
    /// Where artifacts crossing a cut are kept: s3://BUCKET[/PREFIX] (Argo) or a directory
    /// (`--target local`); default: the workflow's S3 artifactRepository (Argo), `OUTPUT/exchange`
    /// (local); a directory is made absolute
    #[arg(long, value_name = "LOCATION")]
    exchange: Option<String>,
    /// Write the parts here: `argo/` (the engine's documents; not for `local`) and `ir/` (specs
    /// `couler run` reads)
    #[arg(long, short)]
    output: PathBuf,
}

#[derive(Clone, Copy, ValueEnum)]
enum Target {
    Argo,
    /// The local runtime (`couler run`): only the IR parts, with a directory exchange
    Local,
    Airflow,
    Tekton,
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
    match args.target {
        Target::Argo | Target::Local => {}
        Target::Airflow | Target::Tekton => {
            let name = if matches!(args.target, Target::Airflow) {
                "Airflow"
            } else {
                "Tekton"
            };
            return Err(format!(
                "{file}: splitting for {name} is not built yet: its lowering (one DAG per part chained by triggers / pipelines in pipelines) comes after the {name} backend; split for `--target argo` (or `--target local`), or compile the whole workflow for {name} with `couler compile`"
            ));
        }
    }
    let max_bytes = match &args.max_bytes {
        Some(text) => Some(parse_size(text).map_err(|e| format!("--max-bytes: {e}"))?),
        // Argo keeps a workflow in one etcd object; the local runtime has no such limit.
        None if matches!(args.target, Target::Argo) => Some(argo::STORED_LIMIT as u64),
        None => None,
    };
    let exchange = match (args.target, &args.exchange) {
        (Target::Local, text) => Some(local_exchange(text.as_deref(), &args.output)?),
        (_, Some(text)) => {
            let exchange = Exchange::parse(text).map_err(|e| format!("--exchange: {e}"))?;
            if let Exchange::Local(dir) = &exchange {
                return Err(format!(
                    "--exchange {dir}: Argo cannot keep artifacts crossing a cut in a directory; use an s3:// exchange for Argo (`--exchange s3://BUCKET/PREFIX`), or `--target local` to run the split form locally with `couler run`"
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
    let report = match args.target {
        Target::Local => split_for_local(&wf, &args.file, budget, method, exchange, &args.output)?,
        _ => split_for_argo(
            &wf,
            &args.file,
            budget,
            method,
            exchange,
            &Options::default(),
            &args.output,
        )?,
    };
    print!("{report}");
    Ok(())
}

/// The exchange of `--target local`: the directory given, or `OUTPUT/exchange`, made absolute
/// (the parts are run from `OUTPUT/ir/`, wherever `couler run` is started).
fn local_exchange(text: Option<&str>, output: &Path) -> Result<Exchange, String> {
    let dir = match text {
        Some(text) => match Exchange::parse(text).map_err(|e| format!("--exchange: {e}"))? {
            Exchange::Local(dir) => PathBuf::from(dir),
            Exchange::S3(_) => {
                return Err(format!(
                    "--exchange {text}: the local runtime passes artifacts crossing a cut through a directory; give a directory (default: OUTPUT/exchange), or split with `--target argo` for an s3:// exchange"
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

/// Splits `wf` for Argo, writes the documents and IR parts under `output`; returns the report.
fn split_for_argo(
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
    let (step_bytes, fixed_bytes) =
        argo_split::step_bytes(wf, options).map_err(|e| format!("{file}: {e}"))?;
    let req = Request {
        budget,
        method,
        exchange,
        step_bytes,
        fixed_bytes,
    };
    // The Argo documents of the last round, kept so they are written as measured.
    let mut documents = Default::default();
    let outcome = split::split_to_fit(wf, &req, |s| {
        let children: Vec<(String, Workflow)> = s
            .child_files
            .iter()
            .cloned()
            .zip(s.children.iter().cloned())
            .collect();
        let files = argo_split::compile_split(&s.parent, &children, options)?;
        let sizes = s
            .child_files
            .iter()
            .map(|f| files.get(f).map_or(0, |t| t.len() as u64))
            .collect();
        documents = files;
        Ok::<_, couler_backends::CompileError>(sizes)
    })
    .map_err(|e| format!("{file}: {e}"))?;
    let parent_file = format!("{}.yaml", outcome.split.parent.name);
    let parent_bytes = documents.get(&parent_file).map_or(0, String::len) as u64;
    if parent_bytes > max_bytes {
        return Err(format!(
            "{file}: the parent document is {parent_bytes} bytes, over --max-bytes {max_bytes}: too many parts for one parent; raise the budget"
        ));
    }

    let ir_dir = output.join("ir");
    let argo_dir = output.join("argo");
    for dir in [&ir_dir, &argo_dir] {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    for (name, text) in &documents {
        write(&argo_dir.join(name), text)?;
    }
    let s = &outcome.split;
    write(
        &ir_dir.join(&parent_file),
        &couler_ir::spec::to_yaml(&s.parent),
    )?;
    for (name, child) in s.child_files.iter().zip(&s.children) {
        write(&ir_dir.join(name), &couler_ir::spec::to_yaml(child))?;
    }
    eprintln!(
        "wrote {} Argo documents to {} and the IR parts to {} (run with `couler run {}`)",
        documents.len(),
        argo_dir.display(),
        ir_dir.display(),
        ir_dir.join(&parent_file).display()
    );
    Ok(report("argo", wf, &req, &outcome, parent_bytes))
}

/// The automatic pass of `couler compile`: when the Argo document (`size` bytes) is over what
/// Argo stores in one object, splits it with the default budget into `output`. Returns the exit
/// code when it split; `None` (after saying why) when it does not apply, and the whole
/// document is written as compiled.
pub fn auto_split(
    target: &str,
    wf: &Workflow,
    path: &Path,
    output: Option<&Path>,
    options: &Options,
    size: usize,
) -> Option<u8> {
    if target != "argo" || size <= argo::STORED_LIMIT {
        return None;
    }
    let Some(output) = output else {
        eprintln!(
            "note: with `-o DIR`, `couler compile` splits a workflow over {} bytes into parts (see `couler split`)",
            argo::STORED_LIMIT
        );
        return None;
    };
    let Some(exchange) = Exchange::from_repository(wf) else {
        eprintln!(
            "note: not splitting automatically: artifacts crossing a cut need the workflow's S3 `artifactRepository`; run `couler split {} --exchange s3://BUCKET/PREFIX -o DIR`",
            path.display()
        );
        return None;
    };
    eprintln!(
        "the Argo document is {size} bytes, over {} bytes: splitting it into parts",
        argo::STORED_LIMIT
    );
    let budget = Budget::new(Some(argo::STORED_LIMIT as u64), None, None);
    match split_for_argo(
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
