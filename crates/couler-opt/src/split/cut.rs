//! Rewriting the steps of a split workflow where their references cross a cut: artifacts read
//! from another part go through the exchange, `dependsOn` on another part becomes an order
//! between the parts, and anything else that crosses is refused.

use super::{Exchange, Partition, SplitError};
use couler_ir::{ArtifactSource, Reference, Step, StepOutput, Workflow};
use std::collections::{BTreeSet, HashMap};

/// Which part each step (by name) and each group (by name) of the workflow is in.
pub(super) struct Parts<'a> {
    index: HashMap<&'a str, usize>,
    groups: HashMap<&'a str, &'a Vec<String>>,
    part_of: &'a [usize],
}

/// What the rewriting gathers: the outputs that cross a cut, and which parts depend on which.
pub(super) struct Crossings {
    pub exported: BTreeSet<(String, String)>,
    pub part_deps: Vec<BTreeSet<usize>>,
}

impl<'a> Parts<'a> {
    pub fn new(wf: &'a Workflow, p: &'a Partition) -> Self {
        Parts {
            index: (wf.steps.iter().enumerate())
                .map(|(i, s)| (s.name.as_str(), i))
                .collect(),
            groups: (wf.groups.iter())
                .map(|g| (g.name.as_str(), &g.steps))
                .collect(),
            part_of: &p.part_of,
        }
    }

    fn of(&self, name: &str) -> Option<usize> {
        self.index.get(name).map(|&i| self.part_of[i])
    }

    /// Rewrites `step` (the copy of `original`, in part `here`) for its part.
    pub fn rewrite(
        &self,
        original: &Step,
        step: &mut Step,
        here: usize,
        exchange: &Exchange,
        crossings: &mut Crossings,
    ) -> Result<(), SplitError> {
        self.check_references(original, here, &mut crossings.part_deps[here])?;
        for a in &mut step.inputs.artifacts {
            if let Some(ArtifactSource::From(Reference::Step {
                step: from,
                output: StepOutput::Artifact(name),
            })) = &a.source
                && self.of(from).is_some_and(|there| there != here)
            {
                crossings.exported.insert((from.clone(), name.clone()));
                a.source = Some(ArtifactSource::Storage(exchange.location(from, name)));
            }
        }
        step.depends_on = self.depends_on(step, here, &mut crossings.part_deps[here]);
        Ok(())
    }

    /// Only artifact inputs may read a step in another part; each such part is a dependency.
    fn check_references(
        &self,
        step: &Step,
        here: usize,
        deps: &mut BTreeSet<usize>,
    ) -> Result<(), SplitError> {
        for (path, r) in step.references() {
            let Some(there) = r.step_name().and_then(|name| self.of(name)) else {
                continue;
            };
            if there == here {
                continue;
            }
            deps.insert(there);
            let is_artifact_input = path.starts_with("inputs.artifacts[")
                && matches!(
                    r,
                    Reference::Step {
                        output: StepOutput::Artifact(_),
                        ..
                    }
                );
            if !is_artifact_input {
                return Err(SplitError {
                    step: Some(step.name.clone()),
                    message: format!(
                        "`{path}` reads `{{{{{r}}}}}` from a step in another part; only artifacts can cross a cut (they travel through the exchange). Pass the value as an artifact, or raise the budget so both steps fit in one part"
                    ),
                });
            }
        }
        Ok(())
    }

    /// `dependsOn` on other parts becomes an order between children: the step keeps the
    /// entries (or the group members) in its own part.
    fn depends_on(&self, step: &Step, here: usize, deps: &mut BTreeSet<usize>) -> Vec<String> {
        let mut kept = Vec::new();
        for d in &step.depends_on {
            let members: Vec<&str> = match self.groups.get(d.as_str()) {
                Some(m) => m.iter().map(String::as_str).collect(),
                None => vec![d.as_str()],
            };
            let mut all_here = true;
            for m in &members {
                if let Some(there) = self.of(m)
                    && there != here
                {
                    deps.insert(there);
                    all_here = false;
                }
            }
            if all_here {
                kept.push(d.clone());
            } else {
                // Keep the members that stay in this part.
                kept.extend(
                    members
                        .iter()
                        .filter(|m| self.of(m) == Some(here))
                        .map(|m| m.to_string()),
                );
            }
        }
        kept.dedup();
        kept
    }
}
