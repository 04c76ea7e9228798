//! The checks of one step, each concern in its own method, in the order they report.

use super::{Place, StepAt, Validator, env_name_problem};
use crate::diag::suggest;
use crate::model::Step;

impl Validator<'_> {
    /// Checks one step of `steps` (or, with `is_exit`, of `onExit`) found at `path`.
    pub(super) fn step(&mut self, path: &str, step: &Step, is_exit: bool) {
        let at = StepAt {
            path,
            step,
            is_exit,
        };
        self.kind(path, step);
        self.io(path, step);
        self.printable(path, step);
        self.check_daemon(at);
        self.check_env(at);
        self.check_depends_on(at);
        for (rel, r) in step.references() {
            self.reference(at, &at.at(&rel), Place::of(&rel), r);
        }
        self.check_map(at);
        self.check_repeat(at);
        self.check_tune(at);
        if let Some(r) = step.retry.as_deref() {
            self.retry(&at.at("retry"), r);
        }
        if let Some(r) = step.resources.as_deref() {
            self.resources(&at.at("resources"), r);
        }
        self.check_timeout(at);
        self.check_volume_mounts(at);
        // An exit step may have a `when`: e.g. `workflow.status != "Succeeded"` alerts only on
        // failure.
    }

    /// Names of `env` and of variables filled from secrets; a name set both ways.
    fn check_env(&mut self, at: StepAt) {
        for k in at.step.env.keys() {
            if let Some(why) = env_name_problem(k) {
                self.err(
                    at.at(&format!("env.{k}")),
                    format!("invalid environment variable `{k}`: {why}"),
                    "use letters, digits and `_`",
                );
            }
        }
        for (i, s) in at.step.secrets.iter().enumerate() {
            let path = at.at(&format!("secrets[{i}].env"));
            if let Some(why) = env_name_problem(&s.env) {
                self.err(
                    path.clone(),
                    format!("invalid environment variable `{}`: {why}", s.env),
                    "use letters, digits and `_`",
                );
            }
            if at.step.env.contains_key(&s.env) {
                self.err(
                    path,
                    format!("`{}` is set both in `env` and from a secret", s.env),
                    "keep one of them",
                );
            }
        }
    }

    /// Each `dependsOn` entry names another step (or group) of the same part of the workflow.
    fn check_depends_on(&mut self, at: StepAt) {
        for (i, d) in at.step.depends_on.iter().enumerate() {
            // Made only for a problem: a large workflow has millions of entries.
            let path = || at.at(&format!("dependsOn[{i}]"));
            if d == &at.step.name {
                let who = if at.is_exit { "exit step" } else { "step" };
                self.err(
                    path(),
                    format!("{who} `{d}` depends on itself"),
                    "remove it from its own `dependsOn`",
                );
            } else if at.is_exit {
                self.exit_dependency(at.step, path, d);
            } else {
                self.main_dependency(at.step, path, d);
            }
        }
    }

    /// An exit step depends only on other exit steps.
    fn exit_dependency(&mut self, step: &Step, path: impl FnOnce() -> String, d: &str) {
        if !self.exit_steps.contains_key(d) {
            // Declaration order, not the map's: ties must suggest the same name every run.
            let names = self.wf.on_exit.iter().map(|s| s.name.as_str());
            let help = match suggest(d, names) {
                Some(s) => format!("did you mean `{s}`?"),
                None => "the exit handler runs after every step anyway; depend only on other `onExit` steps".to_string(),
            };
            self.err(
                path(),
                format!(
                    "exit step `{}` depends on `{d}`, which is not an `onExit` step",
                    step.name
                ),
                help,
            );
        }
    }

    /// A main step depends on a known step or group, not a group it belongs to.
    fn main_dependency(&mut self, step: &Step, path: impl FnOnce() -> String, d: &str) {
        if !self.steps.contains_key(d) && !self.groups.contains_key(d) {
            let help = self.unknown_step_help(d);
            self.err(
                path(),
                format!("`dependsOn` names unknown step `{d}`"),
                help,
            );
        } else if self
            .groups
            .get(d)
            .is_some_and(|g| g.steps.contains(&step.name))
        {
            self.err(
                path(),
                format!("step `{}` depends on its own group `{d}`", step.name),
                "remove the group from `dependsOn`",
            );
        }
    }

    /// `map` is refused on the exit handler, then checked itself.
    fn check_map(&mut self, at: StepAt) {
        let Some(m) = &at.step.map else {
            return;
        };
        if at.is_exit {
            self.err(
                at.at("map"),
                "the exit handler cannot be mapped",
                "remove `map`",
            );
        }
        self.map(at.path, m);
    }

    /// `repeat` runs at least once, reads its own step's outputs, and excludes `map`.
    fn check_repeat(&mut self, at: StepAt) {
        let step = at.step;
        let Some(rep) = &step.repeat else {
            return;
        };
        if rep.max_iterations == 0 {
            self.err(
                at.at("repeat.maxIterations"),
                "`maxIterations` must be at least 1",
                "set how many runs the loop may take at most",
            );
        }
        if !rep
            .condition
            .refs()
            .iter()
            .any(|r| r.step_name() == Some(step.name.as_str()))
        {
            self.warn(at.at("repeat.while"), format!("the loop condition does not read step `{}`'s own outputs, so every run sees the same value", step.name), format!("compare `steps.{}.outputs.result` or one of its output parameters", step.name));
        }
        if step.map.is_some() {
            self.err(
                at.at("repeat"),
                "a step cannot both `map` and `repeat`",
                "put the loop in a sub-workflow, or split the step",
            );
        }
    }

    fn check_timeout(&mut self, at: StepAt) {
        if at.step.timeout == Some(crate::value::Duration::from_millis(0)) {
            self.err(
                at.at("timeout"),
                "a timeout of 0 stops the step at once",
                "remove the timeout or make it longer",
            );
        }
    }

    /// Each mount names a declared volume or claim and an absolute path.
    fn check_volume_mounts(&mut self, at: StepAt) {
        for (i, m) in at.step.volume_mounts.iter().enumerate() {
            let wf = self.wf;
            let known = wf.volumes.iter().any(|v| v.name == m.name)
                || wf.volume_claims.iter().any(|v| v.name == m.name);
            if !known {
                let names = wf
                    .volumes
                    .iter()
                    .map(|v| v.name.as_str())
                    .chain(wf.volume_claims.iter().map(|v| v.name.as_str()));
                let help = match suggest(&m.name, names) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => "declare it under the workflow's `volumes` or `volumeClaims`".into(),
                };
                self.err(
                    at.at(&format!("volumeMounts[{i}].name")),
                    format!("unknown volume `{}`", m.name),
                    help,
                );
            }
            if !m.mount_path.starts_with('/') {
                self.err(
                    at.at(&format!("volumeMounts[{i}].mountPath")),
                    format!("mount path `{}` is not absolute", m.mount_path),
                    "start it with `/`",
                );
            }
        }
    }

    /// A daemon step (`daemon` of a container or script) is a service that later steps use
    /// while it runs: Succeeded once started, stopped when the workflow's steps end. So it has
    /// nothing that exists only once a step has ended (outputs, a cache entry, a loop
    /// condition), and no place where nothing runs beside it or after it (the exit handler, a
    /// map's instances).
    fn check_daemon(&mut self, at: StepAt) {
        let step = at.step;
        if !step.is_daemon() {
            return;
        }
        let path = at.at(&format!("{}.daemon", step.kind.key()));
        let refusals = [
            (
                at.is_exit,
                "the exit handler cannot hold a daemon step: it would be stopped as soon as it started",
                "start the service as a daemon among the workflow's `steps`",
            ),
            (
                step.map.is_some(),
                "a daemon step cannot be mapped",
                "declare one daemon step per service",
            ),
            (
                step.repeat.is_some(),
                "a daemon step cannot `repeat`: it is still running when its loop condition would be read",
                "remove `repeat`",
            ),
            (
                !step.outputs.is_empty(),
                "a daemon step has no outputs: the steps after it run while it is still running",
                "remove `outputs`; have a step that ends write what later steps read",
            ),
            (
                step.cache.as_ref().is_some_and(|c| c.enabled),
                "a daemon step cannot be cached: it never ends with outputs to reuse",
                "remove `cache`",
            ),
        ];
        for (refused, message, help) in refusals {
            if refused {
                self.err(path.clone(), message, help);
            }
        }
    }
}
