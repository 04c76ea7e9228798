//! The one skip Airflow cannot pass on as `couler run` decides it.
//!
//! A mapped step whose `when` reads `item` ends `Succeeded` with empty lists when that `when`
//! skips every instance, but `Skipped` as a whole when it reads an output of a skipped step
//! (docs/runtime.md, `map`). On Airflow a skipped instance leaves no XCom either way, so a
//! reader's launcher gets one `null` per instance and cannot tell the two apart: it reads the
//! step as `Succeeded` (the first case, the likelier one). Where the second case can happen
//! (the step reads an output of a step that may be skipped) and another step reads the mapped
//! step, the workflow is refused with the reason.

use couler_ir::{Graph, Reference, Step, StepOutput, Workflow};
use std::collections::BTreeSet;

/// The first mapped step (main steps, in order) that could be skipped as a whole while its
/// readers would read it as `Succeeded` on Airflow, with the refusal's reason.
pub(super) fn unpassable_skip(wf: &Workflow) -> Option<(&Step, String)> {
    let order = Graph::new(wf).topological_order().ok()?;
    // Steps that may end Skipped: a `when`, or reading an output of one that may.
    let mut may_skip: BTreeSet<&str> = BTreeSet::new();
    for &i in &order {
        let s = &wf.steps[i];
        if s.when.is_some() || !skipped_reads(s, &may_skip).is_empty() {
            may_skip.insert(&s.name);
        }
    }
    for s in &wf.steps {
        if s.map.is_none() || !s.when_reads_item() {
            continue;
        }
        let Some(from) = skipped_reads(s, &may_skip).into_iter().next() else {
            continue;
        };
        let Some(reader) = wf
            .steps
            .iter()
            .chain(&wf.on_exit)
            .find(|r| reads(r, &s.name))
        else {
            continue;
        };
        return Some((
            s,
            format!(
                "its `when` reads `item`, and it reads an output of `{from}`, which may be skipped; then `{}` is skipped as a whole, but every instance of an Airflow mapped task leaves no XCom whether its `when` skipped it or the step was skipped, so `{}` (which reads `{}`) would read it as `Succeeded` with empty lists where `couler run` skips it; decide `{from}`'s condition inside its command instead of a `when`, or test `item` in `{}`'s command instead of its `when`",
                s.name, reader.name, s.name, s.name
            ),
        ));
    }
    None
}

/// The steps in `may_skip` whose outputs (not `status`) `s` reads: their skip skips it.
fn skipped_reads<'a>(s: &'a Step, may_skip: &BTreeSet<&str>) -> Vec<&'a str> {
    s.references()
        .into_iter()
        .filter_map(|(_, r)| match r {
            Reference::Step { step, output } if *output != StepOutput::Status => {
                Some(step.as_str())
            }
            _ => None,
        })
        .filter(|step| *step != s.name && may_skip.contains(step))
        .collect()
}

/// Whether `r` reads anything of step `name` (an output or its status).
fn reads(r: &Step, name: &str) -> bool {
    r.name != name
        && r.references()
            .iter()
            .any(|(_, x)| matches!(x, Reference::Step { step, .. } if step == name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(steps: &str) -> Workflow {
        let spec =
            format!("apiVersion: couler.dev/v1alpha1\nkind: Workflow\nname: w\nsteps:\n{steps}");
        couler_ir::spec::load(&spec, couler_ir::Format::Yaml)
            .unwrap_or_else(|d| panic!("{d:?}"))
            .0
    }

    const X: &str = "  - {name: x, when: \"1 > 2\", script: {command: [sh], source: 'printf x'}}\n";
    const READ: &str =
        "  - {name: r, env: {IN: '{{steps.fan.outputs.result}}'}, container: {command: [true]}}\n";

    #[test]
    fn a_mapped_item_when_step_reading_a_skippable_output_with_a_reader_is_refused() {
        let fan = "  - {name: fan, map: {items: [1, 2]}, when: item > 0, env: {IN: '{{steps.x.outputs.result}}'}, container: {command: [true]}}\n";
        let wf = load(&format!("{X}{fan}{READ}"));
        let (s, why) = unpassable_skip(&wf).expect("refused");
        assert_eq!(s.name, "fan");
        assert!(why.contains("`x`") && why.contains("`r`"), "{why}");
        let err = crate::Backend::compile(&super::super::Airflow, &wf, &Default::default())
            .expect_err("refused")
            .to_string();
        assert!(
            err.contains("(used by step `fan`)") && err.contains(&why),
            "{err}"
        );
    }

    #[test]
    fn the_same_without_a_reader_or_a_skippable_input_or_item_is_accepted() {
        let reads_x = "env: {IN: '{{steps.x.outputs.result}}'}";
        for (fan, read) in [
            // No reader.
            (format!("when: item > 0, {reads_x}"), ""),
            // Reads only the status of `x`.
            (
                "when: item > 0, env: {IN: '{{steps.x.status}}'}".to_string(),
                READ,
            ),
            // A `when` without `item` skips the whole step, which readers see as Skipped.
            (format!("when: \"1 > 0\", {reads_x}"), READ),
        ] {
            let fan = format!(
                "  - {{name: fan, map: {{items: [1, 2]}}, {fan}, container: {{command: [true]}}}}\n"
            );
            let wf = load(&format!("{X}{fan}{read}"));
            assert!(unpassable_skip(&wf).is_none(), "{fan}{read}");
        }
    }
}
