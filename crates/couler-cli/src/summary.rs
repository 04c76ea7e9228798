//! The rows of a run's end summary (`couler run`, `resume`, `submit --watch`): every step, and
//! every instance of a map of at most [`INSTANCES_SHOWN`] items. A wider map's instances are
//! one line of counts by status, followed by those that did not succeed (at most
//! [`INSTANCES_SHOWN`]): 100,000 lines of `Succeeded` hide the two that failed. `couler status
//! RUN` lists every instance. Rows come one at a time (`couler run` reads them from the state
//! as it prints them), with the counts known beforehand.

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
        by_status: BTreeMap<String, usize>,
    },
}

/// Whether `r` is an instance of a mapped step (`STEP[K]`), as `State::instance_counts` counts.
fn is_instance(r: &StepRecord) -> bool {
    r.node
        .strip_prefix(r.step.as_str())
        .is_some_and(|rest| rest.starts_with('['))
}

/// The summary's state between rows: the wide maps' counts, each taken when its first instance
/// comes, and how many instances of each are listed.
pub struct Summary {
    wide: BTreeMap<String, BTreeMap<String, usize>>,
    listed: BTreeMap<String, usize>,
}

impl Summary {
    /// From the instances' `(step, status, count)`.
    pub fn new(counts: impl IntoIterator<Item = (String, String, usize)>) -> Summary {
        let mut wide: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
        for (step, status, n) in counts {
            *wide.entry(step).or_default().entry(status).or_default() += n;
        }
        wide.retain(|_, by| by.values().sum::<usize>() > INSTANCES_SHOWN);
        Summary {
            wide,
            listed: BTreeMap::new(),
        }
    }

    /// From the rows themselves.
    pub fn of(steps: &[StepRecord]) -> Summary {
        Summary::new(
            steps
                .iter()
                .filter(|r| is_instance(r))
                .map(|r| (r.step.clone(), r.status.clone(), 1)),
        )
    }

    /// The lines row `r` (the next in order) adds.
    pub fn lines<'a>(&mut self, r: &'a StepRecord, mut out: impl FnMut(Line<'a>)) {
        let by_status = if is_instance(r) {
            self.wide.get_mut(&r.step)
        } else {
            None
        };
        let Some(by_status) = by_status else {
            return out(Line::Row(r));
        };
        if !by_status.is_empty() {
            out(Line::Instances {
                step: &r.step,
                count: by_status.values().sum(),
                by_status: std::mem::take(by_status),
            });
        }
        let shown = self.listed.entry(r.step.clone()).or_default();
        if !matches!(r.status.as_str(), "Succeeded" | "Cached" | "Skipped")
            && *shown < INSTANCES_SHOWN
        {
            *shown += 1;
            out(Line::Row(r));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(node: &str, step: &str, status: &str) -> StepRecord {
        StepRecord::new(node, step, status)
    }

    /// The summary's lines for `steps`, rows as their nodes and counts as `STEP: N`.
    fn shown(steps: &[StepRecord]) -> Vec<String> {
        let mut summary = Summary::of(steps);
        let mut out = Vec::new();
        for r in steps {
            summary.lines(r, |l| {
                out.push(match l {
                    Line::Row(r) => r.node.clone(),
                    Line::Instances {
                        step,
                        count,
                        by_status,
                    } => format!("{step}: {count} {by_status:?}"),
                })
            });
        }
        out
    }

    #[test]
    fn a_narrow_map_is_listed_and_a_wide_one_counted_with_its_failures() {
        let mut steps = vec![rec("start", "start", "Succeeded")];
        steps.extend((0..3).map(|k| rec(&format!("few[{k}]"), "few", "Succeeded")));
        for k in 0..100 {
            let status = if k % 10 == 3 { "Failed" } else { "Succeeded" };
            steps.push(rec(&format!("wide[{k}]"), "wide", status));
        }
        // A step whose name only begins like an instance's is a step.
        steps.push(rec("wide-end", "wide-end", "Omitted"));
        steps.push(rec("wide", "wide", "Failed"));
        let mut want = ["start", "few[0]", "few[1]", "few[2]"].join(" ");
        want += r#" wide: 100 {"Failed": 10, "Succeeded": 90}"#;
        for i in 0..10 {
            want += &format!(" wide[{}]", i * 10 + 3);
        }
        want += " wide-end wide";
        assert_eq!(shown(&steps).join(" "), want);
    }

    #[test]
    fn at_most_twenty_failed_instances_are_listed() {
        let steps: Vec<StepRecord> = (0..50)
            .map(|k| rec(&format!("m[{k}]"), "m", "Failed"))
            .collect();
        let lines = shown(&steps);
        assert_eq!(lines.len(), 1 + INSTANCES_SHOWN);
        assert_eq!(lines[0], r#"m: 50 {"Failed": 50}"#);
    }
}
