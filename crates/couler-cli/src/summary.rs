//! The rows of a run's end summary (`couler run`, `resume`, `submit --watch`): every step, and
//! every instance of a map of at most [`INSTANCES_SHOWN`] items. A wider map's instances are
//! one line of counts by status, followed by those that did not succeed (at most
//! [`INSTANCES_SHOWN`]): 100,000 lines of `Succeeded` hide the two that failed. `couler status
//! RUN` lists every instance.

use couler_run::StepRecord;
use std::collections::BTreeMap;

/// The most instances of one map the summary lists.
pub const INSTANCES_SHOWN: usize = 20;

/// One line of the summary.
#[derive(Debug)]
pub enum Line<'a> {
    Row(&'a StepRecord),
    /// A wide map's instances: the step, their number, and how many ended in each status.
    Instances {
        step: &'a str,
        count: usize,
        by_status: BTreeMap<&'a str, usize>,
    },
}

/// Whether `r` is an instance of a mapped step (`STEP[K]`).
fn is_instance(r: &StepRecord) -> bool {
    r.node.len() > r.step.len()
        && r.node.starts_with(&r.step)
        && r.node.ends_with(']')
        && r.node.as_bytes()[r.step.len()] == b'['
}

/// The lines for `steps` (in their order; a wide map's counts where its first instance was).
pub fn lines(steps: &[StepRecord]) -> Vec<Line<'_>> {
    let mut wide: BTreeMap<&str, BTreeMap<&str, usize>> = BTreeMap::new();
    for r in steps.iter().filter(|r| is_instance(r)) {
        *wide
            .entry(r.step.as_str())
            .or_default()
            .entry(r.status.as_str())
            .or_default() += 1;
    }
    wide.retain(|_, by| by.values().sum::<usize>() > INSTANCES_SHOWN);
    let mut out = Vec::new();
    let mut listed: BTreeMap<&str, usize> = BTreeMap::new();
    for r in steps {
        let Some(by_status) = is_instance(r)
            .then(|| wide.get_mut(r.step.as_str()))
            .flatten()
        else {
            out.push(Line::Row(r));
            continue;
        };
        if !by_status.is_empty() {
            out.push(Line::Instances {
                step: &r.step,
                count: by_status.values().sum(),
                by_status: std::mem::take(by_status),
            });
        }
        let shown = listed.entry(&r.step).or_default();
        if !matches!(r.status.as_str(), "Succeeded" | "Cached" | "Skipped")
            && *shown < INSTANCES_SHOWN
        {
            *shown += 1;
            out.push(Line::Row(r));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(node: &str, step: &str, status: &str) -> StepRecord {
        StepRecord::new(node, step, status)
    }

    #[test]
    fn a_narrow_map_is_listed_and_a_wide_one_counted_with_its_failures() {
        let mut steps = vec![rec("start", "start", "Succeeded")];
        steps.extend((0..3).map(|k| rec(&format!("few[{k}]"), "few", "Succeeded")));
        for k in 0..100 {
            let status = if k % 10 == 3 { "Failed" } else { "Succeeded" };
            steps.push(rec(&format!("wide[{k}]"), "wide", status));
        }
        // A step whose name only looks like an instance's prefix is a step.
        steps.push(rec("wide-end", "wide-end", "Omitted"));
        steps.push(rec("wide", "wide", "Failed"));
        let lines = lines(&steps);
        let rows: Vec<&str> = lines
            .iter()
            .filter_map(|l| match l {
                Line::Row(r) => Some(r.node.as_str()),
                Line::Instances { .. } => None,
            })
            .collect();
        let failed: Vec<String> = (0..10).map(|i| format!("wide[{}]", i * 10 + 3)).collect();
        let mut want = vec!["start", "few[0]", "few[1]", "few[2]"];
        want.extend(failed.iter().map(String::as_str));
        want.extend(["wide-end", "wide"]);
        assert_eq!(rows, want);
        let Line::Instances {
            step,
            count,
            by_status,
        } = &lines[4]
        else {
            panic!("{:?}", lines[4]);
        };
        let want: BTreeMap<&str, usize> = [("Failed", 10), ("Succeeded", 90)].into();
        assert_eq!((*step, *count, by_status), ("wide", 100, &want));
    }

    #[test]
    fn at_most_twenty_failed_instances_are_listed() {
        let steps: Vec<StepRecord> = (0..50)
            .map(|k| rec(&format!("m[{k}]"), "m", "Failed"))
            .collect();
        let rows = lines(&steps)
            .iter()
            .filter(|l| matches!(l, Line::Row(_)))
            .count();
        assert_eq!(rows, INSTANCES_SHOWN);
    }
}
