//! `couler history` (list the recorded step executions, `import` WfCommons traces into them)
//! and `couler predict eval` (train on some traces, test on others): docs/history.md.

use crate::say::say;
use crate::state_dir::{Output, StateArg};
use clap::{Args, Subcommand, ValueEnum};
use couler_history::eval::{Report, Sizing, evaluate};
use couler_history::store::{FILE_NAME, Filter};
use couler_history::{Execution, History};
use couler_wfformat::ImportOptions;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// `--history FILE`, by default the state directory's.
#[derive(Args)]
pub struct HistoryArg {
    /// The history database [default: STATE_DIR/history.db]
    #[arg(long, value_name = "FILE")]
    history: Option<PathBuf>,
    #[command(flatten)]
    state: StateArg,
}

impl HistoryArg {
    pub(crate) fn path(&self) -> PathBuf {
        self.history
            .clone()
            .unwrap_or_else(|| self.state.dir().join(FILE_NAME))
    }
}

/// Arguments of `couler history`.
#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct HistoryArgs {
    #[command(subcommand)]
    command: Option<HistoryCommand>,
    #[command(flatten)]
    list: ListArgs,
}

#[derive(Subcommand)]
enum HistoryCommand {
    /// Record the tasks of WfCommons traces (WfFormat 1.4 or 1.5) as executions of their
    /// replay (`couler import wfformat` with the same scales), so runs of that replay find them
    Import {
        /// The traces
        #[arg(required = true)]
        traces: Vec<PathBuf>,
        /// The replay's time scale (as `couler import wfformat --time-scale`): durations are
        /// recorded × this
        #[arg(long, default_value_t = 1.0)]
        time_scale: f64,
        /// The replay's size scale (as `couler import wfformat --size-scale`)
        #[arg(long, default_value_t = 1.0)]
        size_scale: f64,
        #[command(flatten)]
        history: HistoryArg,
    },
}

#[derive(Args)]
struct ListArgs {
    /// Only this template (its key, or the key's first characters)
    #[arg(long)]
    template: Option<String>,
    /// Only this step
    #[arg(long)]
    step: Option<String>,
    #[arg(long, value_enum, default_value_t = Output::Text)]
    output: Output,
    #[command(flatten)]
    history: HistoryArg,
}

/// Runs `couler history`.
pub fn run(args: HistoryArgs) -> u8 {
    match args.command {
        Some(HistoryCommand::Import {
            traces,
            time_scale,
            size_scale,
            history,
        }) => {
            let options = couler_wfformat::ImportOptions {
                time_scale,
                size_scale,
                name: None,
            };
            import(&traces, &options, &history.path())
        }
        None => list(&args.list),
    }
}

/// A trace's executions as executions of its replay under `options`: each under its replay
/// step's name and the runtime's template key of that step (`couler_run::template_key`, what
/// a run of the replay records and predicts by), its duration and CPU time × the time scale.
fn as_replay(
    path: &Path,
    mut xs: Vec<Execution>,
    options: &ImportOptions,
) -> Result<Vec<Execution>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    let replay = couler_wfformat::import_detailed(&text, options)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let wf = &replay.workflow;
    let steps: HashMap<&str, &couler_ir::Step> = (replay.task_ids.iter().map(String::as_str))
        .zip(&wf.steps)
        .collect();
    for x in &mut xs {
        let Some(step) = steps.get(x.features.step.as_str()) else {
            continue;
        };
        x.workflow = wf.name.clone();
        x.features.template = couler_run::template_key(wf, step);
        x.features.step = step.name.clone();
        x.duration_s *= options.time_scale;
        x.cpu_seconds = x.cpu_seconds.map(|c| c * options.time_scale);
    }
    Ok(xs)
}

/// The executions of each trace, named by its file name; the error names the file.
pub(crate) fn read_traces(paths: &[PathBuf]) -> Result<Vec<(String, Vec<Execution>)>, String> {
    let at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    paths
        .iter()
        .map(|p| {
            let text = std::fs::read_to_string(p)
                .map_err(|e| format!("{}: cannot read: {e}", p.display()))?;
            let name = p
                .file_name()
                .map_or_else(|| p.display().to_string(), |n| n.to_string_lossy().into());
            couler_wfformat::executions(&text, &name, at)
                .map(|xs| (name, xs))
                .map_err(|e| format!("{}: {e}", p.display()))
        })
        .collect()
}

fn import(traces: &[PathBuf], options: &ImportOptions, path: &Path) -> u8 {
    let read = match read_traces(traces).and_then(|read| {
        (traces.iter().zip(read))
            .map(|(p, (name, xs))| Ok((name, as_replay(p, xs, options)?)))
            .collect::<Result<Vec<_>, String>>()
    }) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return crate::exit::INVALID;
        }
    };
    // A new state directory is made, as `couler run` makes one.
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && let Err(e) = std::fs::create_dir_all(dir)
    {
        eprintln!(
            "error: cannot create the state directory {}: {e}",
            dir.display()
        );
        return crate::exit::FAILED;
    }
    let history = match History::open(path) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("error: {e}");
            return crate::exit::FAILED;
        }
    };
    for (name, xs) in &read {
        if let Err(e) = history.record(xs) {
            eprintln!("error: {e}");
            return crate::exit::FAILED;
        }
        say!(
            "{name}: {} executions recorded in {}",
            xs.len(),
            path.display()
        );
    }
    crate::exit::OK
}

fn list(args: &ListArgs) -> u8 {
    let path = args.history.path();
    let got = History::open_existing(&path).and_then(|h| {
        h.list(&Filter {
            template: args.template.clone(),
            step: args.step.clone(),
        })
    });
    let xs = match got {
        Ok(xs) => xs,
        Err(e) => {
            eprintln!("error: {e}");
            return crate::exit::INVALID;
        }
    };
    if args.output == Output::Json {
        say!("{}", serde_json::to_string_pretty(&xs).unwrap_or_default());
        return crate::exit::OK;
    }
    say!(
        "{:<20} {:<24} {:<28} {:>10} {:>10} {:>9} {:>10}  exit",
        "template",
        "step",
        "source",
        "duration",
        "peak RSS",
        "cpu",
        "input"
    );
    for x in &xs {
        let f = &x.features;
        say!(
            "{:<20} {:<24} {:<28} {:>10} {:>10} {:>9} {:>10}  {}",
            short(&f.template, 20),
            short(&f.step, 24),
            short(&x.source, 28),
            format!("{:.2}s", x.duration_s),
            x.peak_rss_bytes.map_or("-".into(), mib),
            x.cpu_seconds.map_or("-".into(), |c| format!("{c:.2}s")),
            mib(f.input_bytes),
            x.exit_reason
        );
    }
    crate::exit::OK
}

fn mib(bytes: u64) -> String {
    format!("{:.1}MiB", bytes as f64 / 1_048_576.0)
}

/// At most `n` characters of `s`, the cut marked with `…`.
fn short(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        return s.to_string();
    }
    let mut t: String = s.chars().take(n - 1).collect();
    t.push('…');
    t
}

/// `--percentile` and `--margin`: how requests are made from predictions.
#[derive(Args, Clone, Copy)]
pub struct SizingArgs {
    /// The percentile of the history requested
    #[arg(long, default_value_t = 95.0, value_parser = percentile)]
    pub percentile: f64,
    /// The margin added on top of it, a percentage: 15% (or 15)
    #[arg(long, default_value = "15%", value_parser = margin)]
    pub margin: f64,
}

impl SizingArgs {
    pub(crate) fn sizing(self) -> Sizing {
        Sizing {
            percentile: self.percentile,
            margin: self.margin,
        }
    }
}

fn percentile(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(p) if p > 0.0 && p <= 100.0 => Ok(p),
        _ => Err(format!(
            "`{s}` is not a percentile; write a number above 0 and at most 100, e.g. 95"
        )),
    }
}

fn margin(s: &str) -> Result<f64, String> {
    match s.strip_suffix('%').unwrap_or(s).parse::<f64>() {
        Ok(m) if (0.0..=1000.0).contains(&m) => Ok(m / 100.0),
        _ => Err(format!(
            "`{s}` is not a margin; write a percentage from 0% to 1000%, e.g. 15%"
        )),
    }
}

/// Arguments of `couler predict`.
#[derive(Args)]
pub struct PredictArgs {
    #[command(subcommand)]
    command: PredictCommand,
}

#[derive(Subcommand)]
enum PredictCommand {
    /// Train the predictors on some WfCommons traces, test them on others: runtime and memory
    /// errors against the per-template baseline, and right-sizing's slack
    Eval {
        /// Traces to train on
        #[arg(long, num_args = 1.., required = true)]
        train: Vec<PathBuf>,
        /// Traces to test on (each reported apart)
        #[arg(long, num_args = 1.., required = true)]
        test: Vec<PathBuf>,
        #[command(flatten)]
        sizing: SizingArgs,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    Table,
    Json,
}

/// Runs `couler predict`.
pub fn predict(args: PredictArgs) -> u8 {
    let PredictCommand::Eval {
        train,
        test,
        sizing,
        format,
    } = args.command;
    let (train, test) = match (read_traces(&train), read_traces(&test)) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("error: {e}");
            return crate::exit::INVALID;
        }
    };
    let train: Vec<Execution> = train.into_iter().flat_map(|(_, xs)| xs).collect();
    let report = evaluate(&train, &test, sizing.sizing());
    match format {
        Format::Json => say!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        ),
        Format::Table => print_report(&report),
    }
    crate::exit::OK
}

fn pct(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{:.1}%", v * 100.0))
}

fn print_report(r: &Report) {
    say!(
        "trained on {} executions; requests at p{} + {:.0}%",
        r.train_executions,
        r.sizing.percentile,
        r.sizing.margin * 100.0
    );
    say!(
        "{:<44} {:>6} {:>17} {:>17} {:>17} {:>24}",
        "test trace",
        "tasks",
        "runtime median",
        "runtime p90",
        "memory median",
        "slack manual→learned"
    );
    for t in &r.tests {
        let pair = |l, b| format!("{} / {}", pct(l), pct(b));
        let memory = t.memory.as_ref().map_or("-".into(), |m| {
            pair(m.median_rel_error, m.baseline_median_rel_error)
        });
        let slack = t.rightsizing.as_ref().map_or("-".into(), |s| {
            format!(
                "{}: {}→{} ({} under)",
                s.resource,
                pct(Some(s.manual.slack)),
                pct(Some(s.learned.slack)),
                pct(Some(s.learned.under_provisioned))
            )
        });
        say!(
            "{:<44} {:>6} {:>17} {:>17} {:>17} {:>24}",
            short(&t.trace, 44),
            t.tasks,
            pair(
                t.runtime.median_rel_error,
                t.runtime.baseline_median_rel_error
            ),
            pair(t.runtime.p90_rel_error, t.runtime.baseline_p90_rel_error),
            memory,
            slack
        );
    }
    say!("(errors: learned / per-template baseline; --format json for every figure)");
}
