//! Where a workflow parameter's value becomes code: substituted into a script's source, or into
//! the program text an interpreter is given on its command line (`sh -c TEXT`, `python -c TEXT`,
//! `node -e TEXT`). A value substituted there is run, so a parameter that comes from someone
//! else (a submission to `couler server`) can run anything. Passed as an environment variable
//! or as an argument of its own, the same value is data.
//!
//! Not part of [`super::validate`]: a parameter given on one's own command line is trusted, and
//! substituting it into a script is a common, harmless idiom there. The server runs this on
//! every submission and answers its warnings.

use crate::diag::Diagnostic;
use crate::expr::{Reference, Template};
use crate::model::{Map, MapOver, Step, StepKind, Workflow};

/// Interpreters that take program text after a flag: the flag, by the program's file name.
const INLINE_PROGRAM: [(&str, &str); 14] = [
    ("sh", "-c"),
    ("bash", "-c"),
    ("dash", "-c"),
    ("zsh", "-c"),
    ("ksh", "-c"),
    ("ash", "-c"),
    ("python", "-c"),
    ("python3", "-c"),
    ("pwsh", "-c"),
    ("perl", "-e"),
    ("ruby", "-e"),
    ("node", "-e"),
    ("Rscript", "-e"),
    ("julia", "-e"),
];

/// A warning for each place a workflow parameter is substituted into code, in steps and the
/// exit handler, at the place's path (`steps[1].script.source`).
pub fn params_in_code(wf: &Workflow) -> Vec<Diagnostic> {
    let exit = wf.on_exit.iter().enumerate().map(|(i, s)| {
        let path = if wf.on_exit.len() == 1 {
            "onExit".to_string()
        } else {
            format!("onExit[{i}]")
        };
        (path, s)
    });
    let steps = wf
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| (format!("steps[{i}]"), s));
    let mut out = Vec::new();
    for (path, step) in steps.chain(exit) {
        for (at, template) in code_templates(step) {
            if let Some(param) = template.refs().find_map(|r| param_read(step, r)) {
                out.push(
                    Diagnostic::warning(format!(
                        "parameter `{param}` is substituted into {}, where its value becomes code: a value from someone else can run anything",
                        at.what
                    ))
                    .at(format!("{path}.{}", at.rel))
                    .help(format!(
                        "pass it as data: an environment variable (`env: {{PARAM: \"{{{{params.{param}}}}}\"}}`, read as $PARAM / os.environ) or an argument of its own, and read it from there"
                    )),
                );
            }
        }
    }
    out
}

/// A template that is code, with its place in the step and how to name it.
struct CodeAt {
    rel: String,
    what: &'static str,
}

/// The templates of `step` that an interpreter runs as code.
fn code_templates(step: &Step) -> Vec<(CodeAt, &Template)> {
    match &step.kind {
        StepKind::Script(s) => vec![(
            CodeAt {
                rel: "script.source".into(),
                what: "the script's source",
            },
            &s.source,
        )],
        StepKind::Container(c) => inline_program(&c.command, &c.args, "container"),
        StepKind::Job(j) => inline_program(&j.command, &j.args, "job"),
        _ => Vec::new(),
    }
}

/// The program text after an interpreter's inline-program flag, in `command` then `args`
/// (`command: [sh, -c]`, `args: [TEXT]` is the usual split).
fn inline_program<'t>(
    command: &'t [Template],
    args: &'t [Template],
    kind: &str,
) -> Vec<(CodeAt, &'t Template)> {
    let Some(program) = command.first().and_then(Template::as_literal) else {
        return Vec::new();
    };
    let name = program.rsplit('/').next().unwrap_or(&program);
    let Some(&(_, flag)) = INLINE_PROGRAM.iter().find(|(p, _)| *p == name) else {
        return Vec::new();
    };
    let words = command
        .iter()
        .enumerate()
        .map(|(i, t)| (format!("{kind}.command[{i}]"), t))
        .chain(
            args.iter()
                .enumerate()
                .map(|(i, t)| (format!("{kind}.args[{i}]"), t)),
        )
        .collect::<Vec<_>>();
    let flag_at = words
        .iter()
        .position(|(_, t)| t.as_literal().as_deref() == Some(flag));
    match flag_at.and_then(|i| words.get(i + 1)) {
        Some((rel, t)) => vec![(
            CodeAt {
                rel: rel.clone(),
                what: "the program text of the step's interpreter",
            },
            *t,
        )],
        None => Vec::new(),
    }
}

/// The workflow parameter `r` reads in `step`: directly, through one of the step's input
/// parameters bound to it, or as the item of a map over it.
fn param_read<'s>(step: &'s Step, r: &'s Reference) -> Option<&'s str> {
    match r {
        Reference::Param(name) => Some(name),
        Reference::InputParameter(input) => step
            .inputs
            .parameters
            .iter()
            .find(|p| &p.name == input)
            .and_then(|p| p.value.as_ref())
            .and_then(|v| {
                v.refs().find_map(|r| match r {
                    Reference::Param(name) => Some(name.as_str()),
                    _ => None,
                })
            }),
        Reference::Item(_) => match step.map.as_deref() {
            Some(Map {
                over: MapOver::From(Reference::Param(name)),
                ..
            }) => Some(name),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::params_in_code;
    use crate::{Format, spec};

    fn warnings(yaml: &str) -> Vec<(String, String)> {
        let (wf, _) = spec::load(yaml, Format::Yaml).unwrap_or_else(|d| panic!("{d:?}"));
        params_in_code(&wf)
            .into_iter()
            .map(|d| {
                let at = d.path.clone().unwrap_or_default();
                (at, d.message)
            })
            .collect()
    }

    const HEAD: &str = "apiVersion: couler.dev/v1alpha1\nkind: Workflow\nname: w\nparams:\n  - name: lr\n    default: \"0.1\"\n  - name: files\n    type: json\n    default: [a]\n";

    #[test]
    fn a_parameter_in_a_script_source_or_inline_program_is_named() {
        let w = warnings(&format!(
            "{HEAD}steps:\n  - name: s\n    script:\n      source: print({{{{params.lr}}}})\n  - name: c\n    container:\n      command: [/bin/sh, -c]\n      args: [\"echo {{{{inputs.parameters.x}}}}\"]\n    inputs:\n      parameters:\n        - name: x\n          value: \"{{{{params.lr}}}}\"\n  - name: m\n    map:\n      from: params.files\n    container:\n      command: [python3, -c, \"open('{{{{item}}}}')\"]\n"
        ));
        let places: Vec<&str> = w.iter().map(|(at, _)| at.as_str()).collect();
        assert_eq!(
            places,
            [
                "steps[0].script.source",
                "steps[1].container.args[0]",
                "steps[2].container.command[2]"
            ],
            "{w:?}"
        );
        assert!(w[0].1.contains("parameter `lr`"), "{w:?}");
        assert!(w[2].1.contains("parameter `files`"), "{w:?}");
    }

    #[test]
    fn a_parameter_passed_as_data_is_not_named() {
        let w = warnings(&format!(
            "{HEAD}steps:\n  - name: e\n    env:\n      LR: \"{{{{params.lr}}}}\"\n    script:\n      source: import os; print(os.environ['LR'])\n  - name: a\n    container:\n      command: [python3, train.py, \"--lr={{{{params.lr}}}}\"]\n  - name: t\n    container:\n      command: [tar, -c, \"{{{{params.lr}}}}\"]\n  - name: o\n    script:\n      source: print('{{{{steps.e.outputs.result}}}}')\n"
        ));
        assert!(w.is_empty(), "{w:?}");
    }
}
