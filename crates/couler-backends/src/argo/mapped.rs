//! Mapped steps (`map`): every one is a DAG template (`S-map`) holding the loop, so that what
//! its readers see is the same on Argo as with `couler run` (docs/spec.md §12):
//!
//! - Its outputs are output parameters of `S-map`, each the simple aggregate tag
//!   `{{tasks.S.outputs.parameters.N}}`: a JSON list of the values of the instances that
//!   succeeded, in item order, and `[]` (the parameter's default) when none did, the list being
//!   empty or every instance skipped. `jsonpath` over `tasks.S.outputs.parameters` is never used:
//!   Argo's expression environment turns that value into a map.
//! - `result` is never aggregated by Argo itself (which parses each instance's standard output
//!   as JSON, so plain text makes its readers Error, and which older versions do for script
//!   templates only): when it is read, each instance runs in a DAG template (`S-each`) that
//!   re-exports its `result` as an output parameter, aggregated like the others.
//! - An empty list (a `from` that reads `[]`, or an empty `items`/`range`, which Argo would
//!   otherwise run once) leaves the loop task Skipped inside `S-map`, so the step is Succeeded
//!   with empty lists, as locally.
//! - A `when` that reads `item` filters instances inside `S-map`; any other `when` decides for the
//!   whole step on the task that calls `S-map`.

use super::render;
use super::{Forwards, Lowerer, cond, forward_through, insert_arguments, items, push_input_param};
use crate::CompileError;
use couler_ir::{Expr, Map as IrMap, MapOver, Reference, Step, StepOutput};
use serde_json::{Map, Value, json};
use std::collections::BTreeSet;

/// Output parameters of a mapped step that hold a file's content (`path`); the others are its
/// standard output, read as `result`.
fn path_params(step: &Step) -> impl Iterator<Item = &str> {
    step.outputs
        .parameters
        .iter()
        .filter(|p| p.path.is_some())
        .map(|p| p.name.as_str())
}

/// An output parameter that aggregates `{{tasks.TASK.outputs.parameters.NAME}}`.
fn aggregate(task: &str, name: &str) -> Value {
    json!({"name": name, "valueFrom": {"parameter": format!("{{{{tasks.{task}.outputs.parameters.{name}}}}}"), "default": "[]"}})
}

impl<'a> Lowerer<'a> {
    /// The `S-map` template of a mapped step; `params`/`artifacts` are the caller's arguments
    /// (a run-time list is added to them), `item_params` the instance's `item` values.
    pub(super) fn map_template(
        &mut self,
        step: &'a Step,
        map: &IrMap,
        inner: &str,
        params: &mut Vec<Value>,
        artifacts: &[Value],
        item_params: &[(String, Reference)],
    ) -> Result<String, CompileError> {
        let reads_result = self.result_read.contains(step.name.as_str());
        let instance = if reads_result {
            self.each_template(step, inner, params, artifacts, item_params)
        } else {
            inner.to_string()
        };
        let name = self.fresh(&format!("{}-map", step.name));
        let (mut inputs, mut inner_params, inner_artifacts) = forward_through(params, artifacts);
        for (n, r) in item_params {
            inner_params.push(json!({"name": n, "value": self.dag_ref("tasks", step, r)?}));
        }
        let mut loop_fields = self.loop_fields(step, &map.over, "tasks")?;
        if matches!(map.over, MapOver::From(_))
            && let Some(Value::String(src)) = loop_fields.get("withParam").cloned()
        {
            // A run-time list is passed in like any other value.
            params.push(json!({"name": "couler-items", "value": src}));
            push_input_param(&mut inputs, "couler-items");
            loop_fields.insert(
                "withParam".into(),
                json!(render::input_param("couler-items")),
            );
        }
        let mut task = Map::new();
        task.insert("name".into(), json!(step.name));
        task.insert("template".into(), json!(instance));
        if let Some(cond) = step.when.as_ref().filter(|_| step.when_reads_item()) {
            let when = self.inner_when(step, cond, params, &mut inputs)?;
            task.insert("when".into(), json!(when));
        }
        insert_arguments(&mut task, inner_params, inner_artifacts);
        task.extend(loop_fields);
        let mut outs: Vec<Value> = Vec::new();
        if reads_result {
            outs.push(aggregate(&step.name, "result"));
        }
        outs.extend(path_params(step).map(|n| aggregate(&step.name, n)));
        let mut t = Map::new();
        t.insert("name".into(), json!(name));
        if !inputs.is_empty() {
            t.insert("inputs".into(), Value::Object(inputs));
        }
        if !outs.is_empty() {
            t.insert("outputs".into(), json!({"parameters": outs}));
        }
        if let Some(p) = map.parallelism {
            t.insert("parallelism".into(), json!(p));
        }
        t.insert("dag".into(), json!({"tasks": [task]}));
        self.templates.push(Value::Object(t));
        Ok(name)
    }

    /// `S-each`: one instance of a mapped step whose `result` is read, re-exporting `result`
    /// (and the file parameters) as output parameters.
    fn each_template(
        &mut self,
        step: &Step,
        inner: &str,
        params: &[Value],
        artifacts: &[Value],
        item_params: &[(String, Reference)],
    ) -> String {
        let name = self.fresh(&format!("{}-each", step.name));
        let mut all: Vec<Value> = params.to_vec();
        all.extend(item_params.iter().map(|(n, _)| json!({"name": n})));
        let (inputs, run_params, run_artifacts) = forward_through(&all, artifacts);
        let mut run = Map::new();
        run.insert("name".into(), json!("run"));
        run.insert("template".into(), json!(inner));
        insert_arguments(&mut run, run_params, run_artifacts);
        let mut outs = vec![
            json!({"name": "result", "valueFrom": {"parameter": render::step_output("tasks", "run", &StepOutput::Result, render::Exposure::Plain)}}),
        ];
        outs.extend(path_params(step).map(|n| {
            json!({"name": n, "valueFrom": {"parameter": format!("{{{{tasks.run.outputs.parameters.{n}}}}}")}})
        }));
        let mut t = Map::new();
        t.insert("name".into(), json!(name));
        if !inputs.is_empty() {
            t.insert("inputs".into(), Value::Object(inputs));
        }
        t.insert("outputs".into(), json!({"parameters": outs}));
        t.insert("dag".into(), json!({"tasks": [run]}));
        self.templates.push(Value::Object(t));
        name
    }
}

/// The loop itself: what the instances iterate over, and the filter of a `when` on `item`.
impl Lowerer<'_> {
    /// The loop fields of a mapped step's task: `withItems`, `withSequence` or `withParam`.
    fn loop_fields(
        &self,
        step: &Step,
        over: &MapOver,
        prefix: &str,
    ) -> Result<Map<String, Value>, CompileError> {
        let mut m = Map::new();
        match over {
            MapOver::Items(items) => {
                m.insert("withItems".into(), json!(items::with_items(step, items)));
            }
            MapOver::Range {
                start,
                stop,
                step: by,
            } => {
                let (start, stop, by) = (*start, *stop, *by);
                if by == 1 && stop > start {
                    m.insert(
                        "withSequence".into(),
                        json!({"start": start.to_string(), "end": (stop - 1).to_string()}),
                    );
                } else if by == -1 && stop < start {
                    m.insert(
                        "withSequence".into(),
                        json!({"start": start.to_string(), "end": (stop + 1).to_string()}),
                    );
                } else {
                    let items: Vec<i64> = couler_ir::range_values(start, stop, by).collect();
                    m.insert("withItems".into(), json!(items));
                }
            }
            MapOver::From(r) => {
                items::check_run_time(step)?;
                m.insert("withParam".into(), json!(self.dag_ref(prefix, step, r)?));
            }
        }
        // Argo drops an empty `withItems` and runs the step once; an empty `withParam` list
        // expands to no instance.
        if m.get("withItems").is_some_and(|v| v == &json!([])) {
            m.remove("withItems");
            m.insert("withParam".into(), json!("[]"));
        }
        Ok(m)
    }

    /// A `when` that reads `item`, rendered inside a mapped step's `S-map`: the item as the loop has
    /// it, other steps' outputs passed in through the wrapper (`params`, `inputs`).
    fn inner_when(
        &self,
        step: &Step,
        cond: &Expr,
        params: &mut Vec<Value>,
        inputs: &mut Map<String, Value>,
    ) -> Result<String, CompileError> {
        let taken: BTreeSet<String> = (inputs.get("parameters").and_then(Value::as_array))
            .into_iter()
            .flatten()
            .filter_map(|p| p["name"].as_str().map(String::from))
            .collect();
        let mut fw = Forwards::default();
        cond::check_names(self.wf, &step.name, cond)?;
        let when = cond::condition(cond, &mut |r| match r {
            Reference::Step { .. } | Reference::InputParameter(_) => {
                Ok(render::input_param(&fw.name_for(r, &taken)))
            }
            other => self.dag_ref("tasks", step, other),
        })?;
        for (n, r) in &fw.list {
            params.push(json!({"name": n, "value": self.dag_ref("tasks", step, r)?}));
            push_input_param(inputs, n);
        }
        Ok(when)
    }
}
