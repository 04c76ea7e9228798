//! The entry template's tasks: one DAG task per step (or a steps template when the workflow
//! is a sequence of parallel groups), the exit handler, and how a reference reads in the
//! scope that calls a step.

use super::render::{self, Exposure};
use super::{Lowerer, cond, edges, insert_arguments, items, unsupported};
use crate::CompileError;
use crate::capability::Feature;
use couler_ir::{Reference, Step, StepKind, StepOutput, Workflow};
use foldhash::{HashMap, HashSet, HashSetExt};
use serde_json::{Map, Value, json};

impl<'a> Lowerer<'a> {
    /// The level of every step when the workflow is a sequence of parallel groups: no step reads
    /// another's outputs or status, none continues on failure, and every step of a level runs
    /// after exactly all steps of the level before. `None` otherwise (a DAG is emitted).
    pub(super) fn step_groups(&self) -> Option<Vec<usize>> {
        let wf = self.wf;
        let reads_steps = wf.steps.iter().any(|s| {
            s.continue_on_failure
                || s.references()
                    .iter()
                    .any(|(_, r)| matches!(r, Reference::Step { step, .. } if *step != s.name))
        });
        if reads_steps {
            return None;
        }
        let graph = &self.graph;
        let levels = graph.levels().ok()?;
        let mut by_level: Vec<Vec<usize>> = Vec::new();
        for (i, &l) in levels.iter().enumerate() {
            if by_level.len() <= l {
                by_level.resize(l + 1, Vec::new());
            }
            by_level[l].push(i);
        }
        for (i, &l) in levels.iter().enumerate() {
            let want: &[usize] = if l == 0 { &[] } else { &by_level[l - 1] };
            if graph.predecessors(i) != want {
                return None;
            }
        }
        Some(levels)
    }

    /// The template `onExit` names: the step's own template when the handler is one step
    /// without a condition, else a DAG with a task per exit step (their `when` and the
    /// dependencies among them).
    pub(super) fn exit_handler(&mut self, wf: &'a Workflow) -> Result<String, CompileError> {
        let exits = &wf.on_exit;
        for exit in exits {
            for (_, r) in exit.references() {
                if let Reference::Step { step, .. } = r
                    && !self.exit_edges.contains(step)
                {
                    return Err(unsupported(
                        Feature::ExitHandler,
                        &exit.name,
                        format!(
                            "Argo runs the exit handler as a template of its own, where the main \
                             step `{step}`'s outputs are out of scope; read `workflow.status`, or \
                             other exit steps' outputs"
                        ),
                    ));
                }
            }
        }
        if let [exit] = exits.as_slice()
            && exit.when.is_none()
            && !exit.continue_on_failure
        {
            return Ok(self.step_template(exit)?.template);
        }
        let mut tasks = Vec::with_capacity(exits.len());
        for exit in exits {
            let low = self.step_template(exit)?;
            let mut task = Map::new();
            task.insert("name".into(), json!(exit.name));
            task.insert("template".into(), json!(low.template));
            insert_arguments(&mut task, low.params, low.artifacts);
            let guard = self.exit_edges.wait(exit, &mut task);
            let when = match &exit.when {
                Some(cond) => {
                    cond::check_names(wf, &exit.name, cond)?;
                    Some(cond::boolean(cond, &mut |r| {
                        self.dag_ref("tasks", exit, r)
                    })?)
                }
                None => None,
            };
            if let Some(when) = edges::conjoin(guard, when) {
                task.insert("when".into(), json!(when));
            }
            if exit.continue_on_failure {
                task.insert("continueOn".into(), continue_on());
            }
            tasks.push(Value::Object(task));
        }
        let name = match exits.as_slice() {
            [one] => self.fresh(&format!("{}-handler", one.name)),
            _ => self.fresh("exit-handler"),
        };
        self.templates
            .push(json!({"name": name, "dag": {"tasks": tasks}}));
        Ok(name)
    }

    /// The reference as seen from the scope that calls `step` (`prefix` is `tasks` or `steps`).
    pub(super) fn dag_ref(
        &self,
        prefix: &str,
        step: &Step,
        r: &Reference,
    ) -> Result<String, CompileError> {
        Ok(match r {
            Reference::Param(n) => render::workflow_param(n),
            Reference::Workflow(f) => render::workflow_field(*f, &self.wf.name),
            Reference::Item(keys) => items::placeholder(step, keys),
            Reference::Step { step: s, output } => {
                let exposure = self
                    .exposure
                    .get(s.as_str())
                    .copied()
                    .unwrap_or(Exposure::Plain);
                // An output parameter without `path` is the step's standard output.
                let output = match output {
                    StepOutput::Parameter(n)
                        if self.step(s).is_some_and(|st| {
                            st.outputs
                                .parameters
                                .iter()
                                .any(|p| p.name == *n && p.path.is_none())
                        }) =>
                    {
                        &StepOutput::Result
                    }
                    o => o,
                };
                if let Some(target) = self.step(s) {
                    let no_stdout = matches!(
                        target.kind,
                        StepKind::Resource(_)
                            | StepKind::Job(_)
                            | StepKind::Workflow(_)
                            | StepKind::Suspend(_)
                    );
                    if no_stdout && matches!(output, StepOutput::Result | StepOutput::ExitCode) {
                        return Err(unsupported(
                            Feature::ParameterPassing,
                            &step.name,
                            format!(
                                "step `{s}` is a {} step, which has no standard output or exit code on Argo",
                                target.kind.key()
                            ),
                        ));
                    }
                }
                render::step_output(prefix, s, output, exposure)
            }
            Reference::InputParameter(n) => {
                let value = step
                    .inputs
                    .parameters
                    .iter()
                    .find(|p| p.name == *n)
                    .and_then(|p| p.value.as_ref());
                match value {
                    Some(t) => render::template(t, |r| self.dag_ref(prefix, step, r))?,
                    None => String::new(),
                }
            }
            Reference::InputArtifactPath(_) | Reference::OutputPath { .. } => {
                return Err(CompileError::Invalid(format!(
                    "step `{}`: a path reference cannot be used outside the step",
                    step.name
                )));
            }
        })
    }

    /// The DAG task of a step.
    pub(super) fn task(&mut self, step: &'a Step) -> Result<Value, CompileError> {
        let low = self.step_template(step)?;
        let mut task = Map::new();
        task.insert("name".into(), json!(step.name));
        let mut params = low.params;
        let mut artifacts = low.artifacts;
        let template = if let Some(rep) = step.repeat.as_deref() {
            let looped =
                self.repeat_template(step, &low.template, &mut params, &mut artifacts, rep)?;
            self.memoized_loop(step, &low.template, looped, &params, &artifacts)?
        } else if let Some(m) = step.map.as_deref() {
            self.map_template(
                step,
                m,
                &low.template,
                &mut params,
                &artifacts,
                &low.item_params,
            )?
        } else {
            low.template
        };
        task.insert("template".into(), json!(template));
        insert_arguments(&mut task, params, artifacts);
        let guard = self.edges.wait(step, &mut task);
        // A mapped step's `when` that reads `item` filters its instances (`S-map`).
        let when = match step.when.as_ref().filter(|_| !step.when_reads_item()) {
            Some(cond) => {
                cond::check_names(self.wf, &step.name, cond)?;
                Some(cond::boolean(cond, &mut |r| {
                    self.dag_ref("tasks", step, r)
                })?)
            }
            None => None,
        };
        if let Some(when) = edges::conjoin(guard, when) {
            task.insert("when".into(), json!(when));
        }
        if step.continue_on_failure {
            task.insert("continueOn".into(), continue_on());
        }
        Ok(Value::Object(task))
    }
}

/// `continueOn` of a `continueOnFailure` step: a failure and an error alike (pod deleted, an
/// output that cannot be saved), as `couler run` goes on after both.
fn continue_on() -> Value {
    json!({"failed": true, "error": true})
}

/// Mapped steps whose `result` (or an output parameter read from standard output) a main step
/// reads.
pub(super) fn result_read(wf: &Workflow) -> HashSet<&str> {
    let mapped: HashMap<&str, &Step> = wf
        .steps
        .iter()
        .filter(|s| s.map.is_some())
        .map(|s| (s.name.as_str(), s))
        .collect();
    let mut out = HashSet::new();
    for s in &wf.steps {
        for (_, r) in s.references() {
            let Reference::Step { step, output } = r else {
                continue;
            };
            let Some((&name, p)) = mapped.get_key_value(step.as_str()) else {
                continue;
            };
            let stdout = match output {
                StepOutput::Result => true,
                StepOutput::Parameter(n) => p
                    .outputs
                    .parameters
                    .iter()
                    .any(|o| o.name == *n && o.path.is_none()),
                _ => false,
            };
            if stdout {
                out.insert(name);
            }
        }
    }
    out
}
