//! One function per subcommand; each returns the process exit code.

use crate::exit::{FAILED, INVALID, OK};
use crate::input::{Source, load_or_report};
use crate::{GraphFormat, OutputFormat};
use couler_ir::{Diagnostic, Format, Graph, Workflow, spec};
use serde_json::json;
use std::fmt::Write as _;
use std::path::Path;

/// `couler validate`, with `engine` run on each valid workflow (`--target`; `None` without one):
/// whether it passes, and its report, added to the file's as `engine`.
pub fn validate_with(
    files: &[std::path::PathBuf],
    output: OutputFormat,
    mut engine: impl FnMut(&Workflow, &str) -> Option<(bool, serde_json::Value)>,
) -> u8 {
    let mut reports = Vec::new();
    let mut all_valid = true;
    for path in files {
        let (valid, report) = match Source::read(path) {
            Err(e) => (
                false,
                json!({"file": path.display().to_string(), "valid": false, "error": e}),
            ),
            Ok(source) => {
                let result = spec::load(&source.text, source.format);
                let (mut valid, diags, summary) = match &result {
                    Ok((wf, warnings)) => (true, warnings.as_slice(), Some(summary(wf))),
                    Err(errors) => (false, errors.as_slice(), None),
                };
                if output == OutputFormat::Text {
                    source.print(diags);
                    if let Some(s) = &summary {
                        println!("ok: {} ({s})", source.name);
                    }
                }
                let mut report = json!({
                    "file": source.name,
                    "valid": valid,
                    "diagnostics": diags.iter().map(couler_server::api::validate::diagnostic_json).collect::<Vec<_>>(),
                });
                if let Ok((wf, _)) = &result
                    && let Some((ok, r)) = engine(wf, &source.name)
                {
                    valid &= ok;
                    report["valid"] = json!(valid);
                    report["engine"] = r;
                }
                (valid, report)
            }
        };
        if output == OutputFormat::Text
            && let Some(e) = report.get("error").and_then(|e| e.as_str())
        {
            eprintln!("{e}");
        }
        all_valid &= valid;
        reports.push(report);
    }
    if output == OutputFormat::Json {
        println!(
            "{}",
            serde_json::to_string_pretty(&reports).unwrap_or_default()
        );
    } else if files.len() > 1 {
        let bad = reports.iter().filter(|r| r["valid"] != true).count();
        println!("{} of {} files valid", files.len() - bad, files.len());
    }
    if all_valid { OK } else { INVALID }
}

fn summary(wf: &Workflow) -> String {
    let g = Graph::new(wf);
    let depth = g
        .levels()
        .ok()
        .and_then(|l| l.into_iter().max())
        .map_or(0, |d| d + 1);
    format!(
        "workflow `{}`: {} steps, {} edges, depth {depth}",
        wf.name,
        wf.steps.len(),
        g.edge_count()
    )
}

pub fn graph(file: &Path, format: GraphFormat) -> u8 {
    let Some(wf) = load_or_report(file) else {
        return INVALID;
    };
    let g = Graph::new(&wf);
    let text = match format {
        GraphFormat::Text => graph_text(&wf, &g),
        GraphFormat::Dot => graph_dot(&wf, &g),
        GraphFormat::Mermaid => graph_mermaid(&wf, &g),
    };
    print!("{text}");
    OK
}

/// A short tag for how a step runs: its kind, plus `when`, `map` and `repeat` markers.
fn step_tags(step: &couler_ir::Step) -> String {
    let mut tags = vec![step.kind.key().to_string()];
    if step.when.is_some() {
        tags.push("when".into());
    }
    if step.map.is_some() {
        tags.push("map".into());
    }
    if step.repeat.is_some() {
        tags.push("repeat".into());
    }
    tags.join(", ")
}

fn graph_text(wf: &Workflow, g: &Graph) -> String {
    let mut out = String::new();
    // A loaded workflow has passed validation, so it has no cycle.
    let levels = g.levels().unwrap_or_default();
    let (_, path) = g.critical_path(|_| 1.0).unwrap_or_default();
    let names = |ids: &[usize]| {
        ids.iter()
            .map(|&i| wf.steps[i].name.as_str())
            .collect::<Vec<_>>()
    };
    let depth = levels.iter().max().map_or(0, |d| d + 1);
    let _ = writeln!(
        out,
        "{}: {} steps, {} edges, depth {depth}",
        wf.name,
        wf.steps.len(),
        g.edge_count()
    );
    let _ = writeln!(out, "longest chain: {}", names(&path).join(" → "));
    for level in 0..depth {
        let _ = writeln!(out, "level {level}");
        for (i, step) in wf
            .steps
            .iter()
            .enumerate()
            .filter(|(i, _)| levels[*i] == level)
        {
            let preds = names(g.predecessors(i));
            let after = if preds.is_empty() {
                String::new()
            } else {
                format!("  ← {}", preds.join(", "))
            };
            let _ = writeln!(out, "  {} [{}]{after}", step.name, step_tags(step));
        }
    }
    for group in &wf.groups {
        let _ = writeln!(out, "group {}: {}", group.name, group.steps.join(", "));
    }
    let exit_graph = couler_ir::Graph::of_exit_handler(wf);
    for (i, exit) in wf.on_exit.iter().enumerate() {
        let preds: Vec<&str> = exit_graph
            .predecessors(i)
            .iter()
            .map(|&p| wf.on_exit[p].name.as_str())
            .collect();
        let after = if preds.is_empty() {
            String::new()
        } else {
            format!("  ← {}", preds.join(", "))
        };
        let _ = writeln!(out, "on exit: {} [{}]{after}", exit.name, step_tags(exit));
    }
    out
}

/// Quotes a DOT identifier or label.
fn dot_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn graph_dot(wf: &Workflow, g: &Graph) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "digraph {} {{", dot_quote(&wf.name));
    out.push_str("  rankdir=TB;\n  node [shape=box, style=rounded];\n");
    let node = |out: &mut String, indent: &str, step: &couler_ir::Step| {
        let style = if step.when.is_some() {
            ", style=\"rounded,dashed\""
        } else {
            ""
        };
        let label = format!("{}\n[{}]", step.name, step_tags(step));
        let _ = writeln!(
            out,
            "{indent}{} [label={}{style}];",
            dot_quote(&step.name),
            dot_quote(&label)
        );
    };
    let grouped: std::collections::HashSet<&str> = wf
        .groups
        .iter()
        .flat_map(|gr| gr.steps.iter().map(String::as_str))
        .collect();
    for (n, group) in wf.groups.iter().enumerate() {
        let _ = writeln!(
            out,
            "  subgraph cluster_{n} {{\n    label={};",
            dot_quote(&group.name)
        );
        for name in &group.steps {
            if let Some(step) = wf.step(name) {
                node(&mut out, "    ", step);
            }
        }
        out.push_str("  }\n");
    }
    for step in wf
        .steps
        .iter()
        .filter(|s| !grouped.contains(s.name.as_str()))
    {
        node(&mut out, "  ", step);
    }
    for (from, to) in g.edges() {
        let _ = writeln!(
            out,
            "  {} -> {};",
            dot_quote(&wf.steps[from].name),
            dot_quote(&wf.steps[to].name)
        );
    }
    out.push_str("}\n");
    out
}

/// Mermaid labels go in double quotes; `"` must be written as an entity.
fn mermaid_label(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "#quot;"))
}

fn graph_mermaid(wf: &Workflow, g: &Graph) -> String {
    let mut out = String::from("flowchart TD\n");
    let node = |out: &mut String, indent: &str, i: usize| {
        let step = &wf.steps[i];
        let label = mermaid_label(&format!("{}<br/>[{}]", step.name, step_tags(step)));
        let _ = writeln!(out, "{indent}s{i}[{label}]");
    };
    let mut grouped = vec![false; wf.steps.len()];
    for (n, group) in wf.groups.iter().enumerate() {
        let _ = writeln!(out, "  subgraph g{n}[{}]", mermaid_label(&group.name));
        for i in group.steps.iter().filter_map(|m| wf.step_index(m)) {
            grouped[i] = true;
            node(&mut out, "    ", i);
        }
        out.push_str("  end\n");
    }
    for i in (0..wf.steps.len()).filter(|&i| !grouped[i]) {
        node(&mut out, "  ", i);
    }
    for (from, to) in g.edges() {
        let arrow = if wf.steps[to].when.is_some() {
            "-.->"
        } else {
            "-->"
        };
        let _ = writeln!(out, "  s{from} {arrow} s{to}");
    }
    out
}

pub fn fmt(files: &[std::path::PathBuf], check: bool, stdout: bool, drop_comments: bool) -> u8 {
    let mut code = OK;
    for path in files {
        let source = match Source::read(path) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("{e}");
                code = INVALID;
                continue;
            }
        };
        // Formatting an invalid spec would hide its problems; report them instead.
        let wf = match source.load() {
            Ok(wf) => wf,
            Err(diags) => {
                source.print(&diags);
                code = INVALID;
                continue;
            }
        };
        let mut canonical = spec::to_string_as_written(&wf, &source.text, source.format);
        if source.format == Format::Yaml && !drop_comments {
            canonical = couler_ir::comments::keep_comments(&source.text, &canonical);
        }
        if stdout {
            print!("{canonical}");
        } else if canonical == source.text {
            if !check {
                println!("unchanged: {}", source.name);
            }
        } else if check {
            println!(
                "not canonical: {} (run `couler fmt {}`)",
                source.name, source.name
            );
            code = code.max(FAILED);
        } else {
            match write_atomically(path, &canonical) {
                Ok(()) => println!("formatted: {}", source.name),
                Err(e) => {
                    eprintln!("error: cannot write {}: {e}", source.name);
                    code = INVALID;
                }
            }
        }
    }
    code
}

/// Writes via a temporary file and a rename, so a crash never leaves half a spec behind.
pub fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("spec");
    let tmp = dir.join(format!(".{name}.couler-tmp"));
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

pub fn import_wfformat(
    trace: &Path,
    output: Option<&Path>,
    time_scale: f64,
    size_scale: f64,
    name: Option<String>,
) -> u8 {
    for (flag, v) in [("--time-scale", time_scale), ("--size-scale", size_scale)] {
        if !v.is_finite() || v < 0.0 {
            eprintln!("error: {flag} must be a non-negative number, got {v}");
            return INVALID;
        }
    }
    let text = match std::fs::read_to_string(trace) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", trace.display());
            return INVALID;
        }
    };
    let options = couler_wfformat::ImportOptions {
        time_scale,
        size_scale,
        name,
    };
    let wf = match couler_wfformat::import(&text, &options) {
        Ok(wf) => wf,
        Err(e) => {
            eprintln!("error: {}: {e}", trace.display());
            return INVALID;
        }
    };
    let errors: Vec<Diagnostic> = couler_ir::validate(&wf)
        .into_iter()
        .filter(Diagnostic::is_error)
        .collect();
    if !errors.is_empty() {
        for d in &errors {
            eprint!("{}", d.render(&trace.display().to_string(), None));
        }
        return INVALID;
    }
    let format = output.map_or(Format::Yaml, Format::from_path);
    let text = spec::to_string(&wf, format);
    match output {
        None => print!("{text}"),
        Some(path) => {
            if let Err(e) = write_atomically(path, &text) {
                eprintln!("error: cannot write {}: {e}", path.display());
                return INVALID;
            }
            eprintln!(
                "imported {} → {} ({})",
                trace.display(),
                path.display(),
                summary(&wf)
            );
        }
    }
    OK
}
