//! A mapped step's items (`map.items`, `map.range`, `map.from`), and its status and collected
//! outputs from its instances' (docs/spec.md §12), shared by the executor and the launcher, and
//! the same on every engine:
//!
//! - A failed (or errored) instance makes the step Failed (Error); it then has no collected
//!   outputs, so readers of them are skipped.
//! - A step whose every instance was skipped, and whose `when` does not read `item`, was
//!   skipped as a whole (its `when` or an output it reads): Skipped.
//! - Otherwise it is Succeeded (Cached when every instance was), also when its list is empty
//!   or its `when` on `item` skipped every instance.
//! - `result` and each output parameter are a JSON list of the values of the instances that
//!   succeeded, in item order; skipped instances are left out. The entries are strings, except
//!   that when every value is a JSON object or array, the entries are those values (Argo 3.7
//!   and later aggregate this way).

use crate::outcome::{StepOutputs, StepStatus};
use crate::render::{Context, Unresolved};
use couler_ir::{MapOver, Step};
use serde_json::Value;

/// The items of `step`'s map `over`, resolved in `ctx` (`map.from` reads an upstream output: a
/// skipped producer skips the step, a value that is not a JSON list is an error).
pub(crate) fn map_items(
    step: &Step,
    over: &MapOver,
    ctx: &Context<'_>,
) -> Result<Vec<Value>, Unresolved> {
    match over {
        MapOver::Items(v) => Ok(v.clone()),
        MapOver::Range {
            start,
            stop,
            step: by,
        } => Ok(range_items(*start, *stop, *by)),
        MapOver::From(r) => {
            let text = ctx.resolve(r)?;
            crate::capture::map_items(r, &step.name, &text).map_err(Unresolved::Error)
        }
    }
}

/// The items of a `map` over a `range` (start inclusive, stop exclusive, by `step`).
fn range_items(start: i64, stop: i64, by: i64) -> Vec<Value> {
    couler_ir::range_values(start, stop, by)
        .map(Value::from)
        .collect()
}

/// The step's status and collected outputs, `ends` being its instances' in item order.
pub(crate) fn combine_map(
    step: &Step,
    ends: &[(StepStatus, &StepOutputs)],
) -> (StepStatus, StepOutputs) {
    let status = if let Some((bad, _)) = ends.iter().find(|(s, _)| s.is_failure()) {
        *bad
    } else if ends.iter().any(|(s, _)| *s == StepStatus::Omitted) {
        StepStatus::Omitted
    } else if !ends.is_empty()
        && ends.iter().all(|(s, _)| *s == StepStatus::Skipped)
        && !step.when_reads_item()
    {
        StepStatus::Skipped
    } else if !ends.is_empty() && ends.iter().all(|(s, _)| *s == StepStatus::Cached) {
        StepStatus::Cached
    } else {
        StepStatus::Succeeded
    };
    let mut outputs = StepOutputs::default();
    if !matches!(status, StepStatus::Succeeded | StepStatus::Cached) {
        return (status, outputs);
    }
    let ran: Vec<&StepOutputs> = ends
        .iter()
        .filter(|(s, _)| matches!(s, StepStatus::Succeeded | StepStatus::Cached))
        .map(|(_, o)| *o)
        .collect();
    for p in &step.outputs.parameters {
        let values = ran
            .iter()
            .filter_map(|o| o.parameters.get(&p.name).cloned());
        outputs
            .parameters
            .insert(p.name.clone(), collected(values.collect()));
    }
    outputs.result = Some(collected(
        ran.iter().filter_map(|o| o.result.clone()).collect(),
    ));
    (status, outputs)
}

/// The JSON list of `values`: strings, or the values themselves when every one is a JSON object
/// or array.
fn collected(values: Vec<String>) -> String {
    let parsed: Option<Vec<Value>> = values
        .iter()
        .map(|v| match serde_json::from_str::<Value>(v) {
            Ok(x @ (Value::Object(_) | Value::Array(_))) => Some(x),
            _ => None,
        })
        .collect();
    match parsed {
        Some(list) if !list.is_empty() => Value::Array(list).to_string(),
        _ => Value::Array(values.into_iter().map(Value::String).collect()).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use couler_ir::{Container, Expr, Map, MapOver, OutputParameter, StepKind};

    fn step(when: Option<&str>) -> Step {
        let mut s = Step::new("s", StepKind::Container(Container::default()));
        s.map = Some(Box::new(Map {
            over: MapOver::Items(vec![]),
            parallelism: None,
        }));
        s.when = when.map(|w| Expr::parse(w).unwrap());
        s.outputs.parameters.push(OutputParameter {
            name: "p".into(),
            path: Some("p.txt".into()),
            default: None,
        });
        s
    }

    fn out(v: &str) -> StepOutputs {
        let mut o = StepOutputs {
            result: Some(v.to_string()),
            ..StepOutputs::default()
        };
        o.parameters.insert("p".into(), v.to_string());
        o
    }

    #[test]
    fn skipped_instances_are_left_out_and_records_are_inlined() {
        let (a, b) = (out("{\"acc\": 0.9}"), out("[1, 2]"));
        let none = StepOutputs::default();
        let s = step(Some("item > 1"));
        let ends = [
            (StepStatus::Succeeded, &a),
            (StepStatus::Skipped, &none),
            (StepStatus::Cached, &b),
        ];
        let (status, o) = combine_map(&s, &ends);
        assert_eq!(status, StepStatus::Succeeded);
        assert_eq!(o.result.as_deref(), Some(r#"[{"acc":0.9},[1,2]]"#));
        assert_eq!(o.parameters["p"], r#"[{"acc":0.9},[1,2]]"#);
        // One plain value keeps every entry a string.
        let c = out("heads");
        let (_, o) = combine_map(
            &s,
            &[(StepStatus::Succeeded, &a), (StepStatus::Succeeded, &c)],
        );
        assert_eq!(o.result.as_deref(), Some(r#"["{\"acc\": 0.9}","heads"]"#));
    }

    #[test]
    fn no_instance_run_is_succeeded_unless_the_step_itself_was_skipped() {
        let none = StepOutputs::default();
        let (status, o) = combine_map(&step(None), &[]);
        assert_eq!(
            (status, o.result.as_deref()),
            (StepStatus::Succeeded, Some("[]"))
        );
        let skipped = [(StepStatus::Skipped, &none), (StepStatus::Skipped, &none)];
        let (status, o) = combine_map(&step(Some("item > 5")), &skipped);
        assert_eq!(
            (status, o.parameters["p"].as_str()),
            (StepStatus::Succeeded, "[]")
        );
        let (status, o) = combine_map(&step(Some("params.go")), &skipped);
        assert_eq!((status, o.result), (StepStatus::Skipped, None));
    }

    #[test]
    fn a_failed_instance_fails_the_step_and_leaves_no_outputs() {
        let a = out("1");
        let none = StepOutputs::default();
        let ends = [(StepStatus::Succeeded, &a), (StepStatus::Failed, &none)];
        let (status, o) = combine_map(&step(None), &ends);
        assert_eq!(status, StepStatus::Failed);
        assert!(o.result.is_none() && o.parameters.is_empty());
    }
}
