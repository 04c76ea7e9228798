//! The checks of one reference: what it may read from where it stands.

use super::{Place, StepAt, Validator};
use crate::diag::suggest;
use crate::expr::{Reference, StepOutput, WorkflowField};
use crate::model::{Map, MapOver, Step, StepKind};

/// One reference under check: its path, where it stands, and the step that holds it.
#[derive(Clone, Copy)]
struct Site<'s> {
    path: &'s str,
    place: Place,
    at: StepAt<'s>,
}

/// The help for a reference its place cannot read at all (an artifact's `from`, `map.from`).
fn misplaced(place: Place, r: &Reference) -> Option<&'static str> {
    match (place, r) {
        (Place::ArtifactFrom, Reference::Step { .. }) => None,
        (Place::ArtifactFrom, _) => Some("write `steps.STEP.outputs.artifacts.NAME`"),
        (Place::MapFrom, Reference::Param(_) | Reference::Step { .. }) => None,
        (Place::MapFrom, _) => Some(
            "write `steps.STEP.outputs.parameters.NAME`, `steps.STEP.outputs.result` or `params.NAME`",
        ),
        _ => None,
    }
}

impl<'a> Validator<'a> {
    /// Checks reference `r`, written at `path` (a `place`) inside the step `at`.
    pub(super) fn reference(&mut self, at: StepAt, path: &str, place: Place, r: &Reference) {
        if let Some(help) = misplaced(place, r) {
            self.err(path, format!("`{r}` cannot be used here"), help);
            return;
        }
        let site = Site { path, place, at };
        match r {
            Reference::Param(name) => self.param_reference(path, name),
            Reference::Step {
                step: target,
                output,
            } => self.step_reference(site, target, output),
            Reference::InputParameter(name) => {
                let step = at.step;
                if !step.inputs.parameters.iter().any(|p| &p.name == name) {
                    self.err(path, format!("step `{}` has no input parameter `{name}`", step.name), format!("declare it under `inputs.parameters`, or use `params.{name}` for a workflow parameter"));
                }
            }
            Reference::InputArtifactPath(name) | Reference::OutputPath { name, .. } => {
                self.path_reference(site, r, name)
            }
            Reference::Item(keys) => self.item_reference(site, keys),
            Reference::Workflow(WorkflowField::Status) if !at.is_exit => {
                self.err(
                    path,
                    "`workflow.status` is only known to the exit handler",
                    "move this step to `onExit`, or use `steps.STEP.status`",
                );
            }
            // `map.from` and an artifact's `from` were refused by `misplaced` above.
            Reference::Workflow(_) => {}
        }
    }

    fn param_reference(&mut self, path: &str, name: &str) {
        let params = &self.wf.params;
        if !params.iter().any(|p| p.name == name) {
            let help = match suggest(name, params.iter().map(|p| p.name.as_str())) {
                Some(s) => format!("did you mean `params.{s}`?"),
                None => format!("declare `{name}` under the workflow's `params`"),
            };
            self.err(path, format!("unknown workflow parameter `{name}`"), help);
        }
    }

    /// A file path (`inputs.artifacts.X.path`, `outputs.….X.path`): only in strings, and declared.
    fn path_reference(&mut self, site: Site, r: &Reference, name: &str) {
        if site.place != Place::Template {
            self.err(
                site.path,
                format!("`{r}` is a file path; it can only be used inside strings"),
                "use it in `command`, `args`, `source` or `env`",
            );
            return;
        }
        let step = site.at.step;
        let (declared, list) = match r {
            Reference::InputArtifactPath(_) => (
                step.inputs.artifacts.iter().any(|a| a.name == name),
                "`inputs.artifacts`",
            ),
            Reference::OutputPath { artifact: true, .. } => (
                step.outputs.artifacts.iter().any(|a| a.name == name),
                "`outputs.artifacts`",
            ),
            _ => (
                step.outputs
                    .parameters
                    .iter()
                    .any(|p| p.name == name && p.path.is_some()),
                "`outputs.parameters` (with a `path`)",
            ),
        };
        if !declared {
            self.err(
                site.path,
                format!("step `{}` declares no `{name}` in {list}", step.name),
                format!("declare it in {list}"),
            );
        }
    }

    /// `item` (or `item.KEY`) inside a mapped step whose items have that key.
    fn item_reference(&mut self, site: Site, keys: &[String]) {
        let path = site.path;
        match site.at.step.map.as_deref() {
            None => self.err(
                path,
                "`item` is only defined in a step with `map`",
                "add a `map` to the step, or remove the reference",
            ),
            Some(Map {
                over: MapOver::Items(items),
                ..
            }) if !keys.is_empty() => {
                let key = &keys[0];
                if items.iter().any(|it| it.get(key).is_none()) {
                    self.err(
                        path,
                        format!("not every item of the `map` has a `{key}` field"),
                        "give every item that field, or use `{{item}}` for the whole item",
                    );
                }
            }
            Some(Map {
                over: MapOver::Range { .. },
                ..
            }) if !keys.is_empty() => {
                self.err(
                    path,
                    "range items are numbers; they have no fields",
                    "use `{{item}}`",
                );
            }
            Some(_) => {}
        }
    }

    /// `steps.TARGET.outputs.…`: a step this one may read, and an output it has.
    fn step_reference(&mut self, site: Site, target: &str, output: &StepOutput) {
        if self.own_output_problem(site, target, output) {
            return;
        }
        let Some(source) = self.source_step(site, target) else {
            return;
        };
        match output {
            StepOutput::Parameter(name) => {
                // A tuned step publishes its best trial, not its own outputs.
                let published = source.tune.as_deref().map(crate::tune::Tune::outputs);
                let declared: Vec<&str> = match &published {
                    Some(names) => names.iter().map(String::as_str).collect(),
                    None => source
                        .outputs
                        .parameters
                        .iter()
                        .map(|p| p.name.as_str())
                        .collect(),
                };
                self.declared_output(site.path, target, "parameter", name, declared.into_iter())
            }
            StepOutput::Artifact(name) => self.output_artifact(site, target, source, name),
            StepOutput::Result => self.process_output(
                site.path,
                target,
                source,
                "standard output",
                "read `status` instead, or an output of a container or script step",
            ),
            StepOutput::ExitCode => self.process_output(
                site.path,
                target,
                source,
                "exit code",
                "read `status` instead",
            ),
            StepOutput::Status => {}
            StepOutput::Ip => self.daemon_address(site, target, source),
        }
        self.source_shape(site, target, output);
    }

    /// A step reads its own outputs only in `repeat.while`, and a loop condition only values;
    /// true when that was reported.
    fn own_output_problem(&mut self, site: Site, target: &str, output: &StepOutput) -> bool {
        let self_ref = target == site.at.step.name;
        let loop_condition = site.place == Place::RepeatWhile;
        if self_ref && !loop_condition {
            self.err(site.path, format!("step `{target}` reads its own output"), "a step can only read the outputs of steps before it (its own only in `repeat.while`)");
            return true;
        }
        let value = matches!(
            output,
            StepOutput::Parameter(_)
                | StepOutput::Result
                | StepOutput::ExitCode
                | StepOutput::Status
        );
        if loop_condition && !self_ref && !value {
            self.err(
                site.path,
                "a loop condition can only compare values",
                "compare an output parameter or the result",
            );
            return true;
        }
        false
    }

    /// The step `target` names, as seen from the reading step: exit steps read main steps and
    /// each other; main steps never read exit steps. Reports an unknown name.
    fn source_step(&mut self, site: Site, target: &str) -> Option<&'a Step> {
        let exit_source = if self.exit_steps.contains_key(site.at.step.name.as_str()) {
            self.exit_steps.get(target).copied()
        } else {
            None
        };
        let source = self.steps.get(target).copied().or(exit_source);
        if source.is_none() {
            let help = self.unknown_step_help(target);
            self.err(site.path, format!("unknown step `{target}`"), help);
        }
        source
    }

    /// `name` is among the outputs `declared` (each a `what`: `parameter` or `artifact`) of
    /// step `target`; else says so, with the nearest name or where to declare it.
    fn declared_output<'n>(
        &mut self,
        path: &str,
        target: &str,
        what: &str,
        name: &str,
        declared: impl Iterator<Item = &'n str> + Clone,
    ) {
        if declared.clone().any(|n| n == name) {
            return;
        }
        let help = match suggest(name, declared) {
            Some(s) => format!("did you mean `{s}`?"),
            None => format!("declare `{name}` under step `{target}`'s `outputs.{what}s`"),
        };
        self.err(
            path,
            format!("step `{target}` has no output {what} `{name}`"),
            help,
        );
    }

    /// An output artifact: only an input artifact's `from` reads one, and it must exist.
    fn output_artifact(&mut self, site: Site, target: &str, source: &Step, name: &str) {
        if site.place != Place::ArtifactFrom {
            let (here, help) = artifact_misread(site.place, target, name);
            self.err(
                site.path,
                format!(
                    "`steps.{target}.outputs.artifacts.{name}` is an artifact; {here} cannot read it"
                ),
                help,
            );
            return;
        }
        let declared = source.outputs.artifacts.iter().map(|a| a.name.as_str());
        self.declared_output(site.path, target, "artifact", name, declared);
    }

    /// `result` and `exitCode` exist only for steps that run a process, and end before the
    /// steps after them start (not for a daemon).
    fn process_output(&mut self, path: &str, target: &str, source: &Step, what: &str, help: &str) {
        if source.is_daemon() {
            let why = format!(
                "step `{target}` is a daemon, still running when later steps start, and has no {what}"
            );
            self.err(path, why, help);
            return;
        }
        match source.kind {
            StepKind::Container(_) | StepKind::Script(_) | StepKind::Job(_) => {}
            _ => self.err(
                path,
                format!(
                    "step `{target}` is a `{}` step and has no {what}",
                    source.kind.key()
                ),
                help,
            ),
        }
    }

    /// `ip`: only a daemon has an address, and only a string reads it.
    fn daemon_address(&mut self, site: Site, target: &str, source: &Step) {
        if !source.is_daemon() {
            self.err(
                site.path,
                format!("step `{target}` is not a daemon and has no address"),
                format!("set `daemon: true` on step `{target}`'s container to run it as a service"),
            );
        } else if site.place != Place::Template {
            self.err(
                site.path,
                "a daemon's address can only be read in a string",
                format!("pass `{{{{steps.{target}.ip}}}}` in the step's command, args or env"),
            );
        }
    }

    /// An artifact's `from` names an output artifact; `map.from` names a JSON list.
    fn source_shape(&mut self, site: Site, target: &str, output: &StepOutput) {
        if site.place == Place::ArtifactFrom && !matches!(output, StepOutput::Artifact(_)) {
            self.err(
                site.path,
                "`from` of an input artifact must name an output artifact",
                format!("write `steps.{target}.outputs.artifacts.NAME`"),
            );
        }
        if site.place == Place::MapFrom
            && !matches!(output, StepOutput::Parameter(_) | StepOutput::Result)
        {
            self.err(site.path, "`map.from` must name a JSON list: an output parameter or a result", format!("write `steps.{target}.outputs.parameters.NAME` or `steps.{target}.outputs.result`"));
        }
    }
}

/// Where an artifact was read outside an input artifact's `from`, and what to do instead.
fn artifact_misread(place: Place, target: &str, name: &str) -> (&'static str, String) {
    match place {
        Place::Template => (
            "a string",
            format!(
                "declare an input artifact with `from: steps.{target}.outputs.artifacts.{name}` and use `{{{{inputs.artifacts.NAME.path}}}}`"
            ),
        ),
        Place::MapFrom => (
            "`map.from`",
            format!(
                "artifacts are files; have step `{target}` write the JSON list to an output parameter and map `from: steps.{target}.outputs.parameters.NAME`"
            ),
        ),
        _ => (
            "a condition",
            format!(
                "artifacts are files; have step `{target}` write the value to an output parameter and compare `steps.{target}.outputs.parameters.NAME`"
            ),
        ),
    }
}
