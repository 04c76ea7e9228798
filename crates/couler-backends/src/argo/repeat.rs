//! `repeat … while`: a recursive steps template around the step's own template.

use super::render::{self, Exposure};
use super::{
    Forwards, Lowerer, cond, forward_through, insert_arguments, insert_lists, push_input_param,
};
use crate::CompileError;
use couler_ir::{Reference, Step, StepKind, StepOutput};
use serde_json::{Map, Value, json};
use std::collections::BTreeSet;

impl<'a> Lowerer<'a> {
    /// `repeat`: a recursive steps template that runs the step, then itself again while the
    /// condition holds and fewer than `maxIterations` runs have happened.
    pub(super) fn repeat_template(
        &mut self,
        step: &'a Step,
        inner: &str,
        params: &mut Vec<Value>,
        artifacts: &mut [Value],
        rep: &couler_ir::Repeat,
    ) -> Result<String, CompileError> {
        const ITER: &str = "couler_iteration";
        let name = self.fresh(&format!("{}-loop", step.name));
        let (mut inputs, inner_params, inner_artifacts) = forward_through(params, artifacts);
        // Other steps' outputs read by the condition are passed in too.
        let mut cond_forwards = Forwards::default();
        let taken: BTreeSet<String> = inner_params
            .iter()
            .filter_map(|p| p["name"].as_str().map(String::from))
            .chain([ITER.to_string()])
            .collect();
        cond::check_names(self.wf, &step.name, &rep.condition)?;
        let cond = cond::condition(&rep.condition, &mut |r| match r {
            Reference::Step { step: s, output } if *s == step.name => {
                // The run just made; an output parameter without `path` is its stdout.
                let output = match output {
                    StepOutput::Parameter(n)
                        if step
                            .outputs
                            .parameters
                            .iter()
                            .any(|p| p.name == *n && p.path.is_none()) =>
                    {
                        &StepOutput::Result
                    }
                    o => o,
                };
                Ok(render::step_output("steps", "run", output, Exposure::Plain))
            }
            Reference::Step { .. } | Reference::Item(_) | Reference::InputParameter(_) => {
                let n = cond_forwards.name_for(r, &taken);
                Ok(render::input_param(&n))
            }
            other => self.dag_ref("steps", step, other),
        })?;
        for (n, r) in &cond_forwards.list {
            let v = self.dag_ref("tasks", step, r)?;
            params.push(json!({"name": n, "value": v}));
            push_input_param(&mut inputs, n);
        }
        push_input_param(&mut inputs, ITER);
        params.push(json!({"name": ITER, "value": "1"}));
        let when = format!(
            "({cond}) && ({} < {})",
            render::input_param(ITER),
            rep.max_iterations
        );
        let mut again_params: Vec<Value> = inner_params
            .iter()
            .map(|p| json!({"name": p["name"], "value": render::input_param(p["name"].as_str().unwrap_or_default())}))
            .collect();
        for (n, _) in &cond_forwards.list {
            again_params.push(json!({"name": n, "value": render::input_param(n)}));
        }
        again_params.push(
            json!({"name": ITER, "value": format!("{{{{=asInt(inputs.parameters.{ITER}) + 1}}}}")}),
        );
        let mut run = Map::new();
        run.insert("name".into(), json!("run"));
        run.insert("template".into(), json!(inner));
        insert_arguments(&mut run, inner_params, inner_artifacts.clone());
        let mut again = Map::new();
        again.insert("name".into(), json!("again"));
        again.insert("template".into(), json!(name));
        insert_arguments(&mut again, again_params, inner_artifacts);
        again.insert("when".into(), json!(when));
        let mut t = Map::new();
        t.insert("name".into(), json!(name));
        t.insert("inputs".into(), Value::Object(inputs));
        let (out_params, out_artifacts) = last_run_outputs(step);
        insert_lists(&mut t, "outputs", out_params, out_artifacts);
        t.insert("steps".into(), json!([[run], [again]]));
        self.templates.push(Value::Object(t));
        Ok(name)
    }
}

/// The loop's outputs: those of its last run (`again` is Skipped when the loop ends).
fn last_run_outputs(step: &Step) -> (Vec<Value>, Vec<Value>) {
    let pick = |what: &str| {
        format!("steps['again'].status == 'Skipped' ? steps['run'].{what} : steps['again'].{what}")
    };
    let mut out_params = Vec::new();
    if !matches!(
        step.kind,
        StepKind::Resource(_) | StepKind::Job(_) | StepKind::Workflow(_) | StepKind::Suspend(_)
    ) {
        out_params.push(json!({"name": "result", "valueFrom": {"expression": "steps['again'].status == 'Skipped' ? steps['run'].outputs.result : steps['again'].outputs.parameters.result"}}));
    }
    for p in step.outputs.parameters.iter().filter(|p| p.path.is_some()) {
        out_params.push(json!({"name": p.name, "valueFrom": {"expression": pick(&format!("outputs.parameters['{}']", p.name))}}));
    }
    let out_artifacts = step
        .outputs
        .artifacts
        .iter()
        .map(|a| json!({"name": a.name, "fromExpression": pick(&format!("outputs.artifacts['{}']", a.name))}))
        .collect();
    (out_params, out_artifacts)
}
