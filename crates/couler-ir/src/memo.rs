//! Which steps are memoized: the one caching rule that the local runtime, the launcher (Airflow,
//! Tekton) and the Argo backend all apply (docs/spec.md §14.8).
//!
//! - A step's own `cache`, else `defaults.cache`, decides when present: memoized unless
//!   `enabled: false`. This is how a step *asks* for memoization.
//! - Without either, a step is memoized when it declares `outputs` (parameters or artifacts):
//!   its result is data that a later run may reuse. A step without outputs is run for its effect
//!   (a deploy, a notification), so it runs every time.
//! - Never memoized: sub-workflow and suspend steps (their effect is the point: a nested run, a
//!   wait) and the exit handler's steps.

use crate::model::{CachePolicy, Step, StepKind, Workflow};
use crate::value::Duration;

/// How a memoized step is memoized.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Memo<'a> {
    /// The policy that asked for it (`cache` on the step or in `defaults`); `None` when the step
    /// is memoized by default, since it declares outputs.
    pub policy: Option<&'a CachePolicy>,
}

impl Memo<'_> {
    /// Whether `cache` (on the step or in `defaults`) asked for memoization.
    pub fn asked(&self) -> bool {
        self.policy.is_some()
    }
    /// `cache.version`: part of the key.
    pub fn version(&self) -> Option<&str> {
        self.policy.and_then(|p| p.version.as_deref())
    }
    /// `cache.maxAge`: older results are not reused.
    pub fn max_age(&self) -> Option<Duration> {
        self.policy.and_then(|p| p.max_age)
    }
}

impl Workflow {
    /// Whether `step` is memoized, and under which policy (`None`: it runs every time).
    pub fn memoized<'a>(&'a self, step: &'a Step) -> Option<Memo<'a>> {
        if matches!(step.kind, StepKind::Workflow(_) | StepKind::Suspend(_))
            || step.is_daemon()
            || self.on_exit.iter().any(|s| s.name == step.name)
        {
            return None;
        }
        match self.effective_cache(step) {
            Some(p) => p.enabled.then_some(Memo { policy: Some(p) }),
            None => (!step.outputs.is_empty()).then_some(Memo { policy: None }),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::spec;

    fn wf(text: &str) -> crate::Workflow {
        spec::parse(text, spec::Format::Yaml).expect("valid spec")
    }

    fn memoized(w: &crate::Workflow, name: &str) -> Option<(bool, Option<String>)> {
        let step = w
            .steps
            .iter()
            .chain(&w.on_exit)
            .find(|s| s.name == name)
            .expect("step");
        w.memoized(step)
            .map(|m| (m.asked(), m.version().map(str::to_string)))
    }

    const HEAD: &str = "apiVersion: couler.dev/v1alpha1\nkind: Workflow\nname: m\n";

    #[test]
    fn steps_with_outputs_are_memoized_by_default_and_side_effects_are_not() {
        let w = wf(&format!(
            "{HEAD}steps:
  - name: make
    container: {{image: a, command: [sh, -c, 'echo 1 > /tmp/o']}}
    outputs: {{parameters: [{{name: o, path: /tmp/o}}]}}
  - name: deploy
    container: {{image: a, command: [deploy]}}
  - name: wait
    suspend: {{duration: 1s}}
onExit:
  - name: bye
    container: {{image: a, command: [echo]}}
    outputs: {{parameters: [{{name: o, path: /tmp/o}}]}}
"
        ));
        assert_eq!(memoized(&w, "make"), Some((false, None)));
        assert_eq!(memoized(&w, "deploy"), None, "no outputs: runs every time");
        assert_eq!(memoized(&w, "wait"), None);
        assert_eq!(
            memoized(&w, "bye"),
            None,
            "the exit handler is never memoized"
        );
    }

    #[test]
    fn cache_asks_for_memoization_or_turns_it_off() {
        let w = wf(&format!(
            "{HEAD}defaults: {{cache: {{version: v2}}}}
steps:
  - name: deploy
    container: {{image: a, command: [deploy]}}
  - name: off
    container: {{image: a, command: [sh, -c, 'echo 1 > /tmp/o']}}
    outputs: {{parameters: [{{name: o, path: /tmp/o}}]}}
    cache: {{enabled: false}}
  - name: own
    container: {{image: a, command: [deploy]}}
    cache: {{version: v3}}
"
        ));
        assert_eq!(memoized(&w, "deploy"), Some((true, Some("v2".into()))));
        assert_eq!(memoized(&w, "off"), None);
        assert_eq!(memoized(&w, "own"), Some((true, Some("v3".into()))));
    }
}
