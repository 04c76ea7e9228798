//! Lowering a step's `tune` block into plain steps every backend runs (docs/tuning.md, "Tuning
//! a step"): the step becomes rounds of trials, each `NAME-trials…` mapped over that round's
//! settings with the tuned input parameters bound to `{{item.P}}`, and `NAME` becomes a small
//! Python step that reads every trial's objective and publishes the best setting as `best_P`,
//! `best_objective` and `best_trial`. Readers of `steps.NAME.outputs.parameters.best_…` need no
//! change.
//!
//! Round 0's settings are computed here, at compile time, so they are part of the compiled
//! workflow (equal IR gives equal bytes); for `random` and `sobol` that is the whole study. The
//! methods that learn from results run more rounds (`crate::rounds`): round `R` is proposed by a
//! step `NAME-propose-R` running `couler tune propose`, which replays the study from its seed with
//! the objectives of the rounds before.

use crate::rounds::{
    ANSWERS_FILE, ANSWERS_OUTPUT, ROUND_ENV, Rounds, STUDY_ENV, answers_env, objectives_env,
};
use couler_ir::launch_protocol::COULER_IMAGE;
use couler_ir::tune::{BEST_OBJECTIVE, BEST_TRIAL, Goal, Tune};
use couler_ir::{
    Container, Diagnostic, Map, MapOver, OutputParameter, Reference, Script, Step, StepKind,
    StepOutput, Template, Workflow,
};
use serde_json::Value as Json;

/// The image of the selection step: any image with Python 3 and its standard library.
pub const SELECT_IMAGE: &str = "python:3.12-slim";

/// The suffix of the mapped trial steps' names.
pub const TRIALS_SUFFIX: &str = "-trials";

/// The suffix of the proposer steps' names (`NAME-propose-R`).
pub const PROPOSE_SUFFIX: &str = "-propose";

/// What a study's proposer steps run: by default `couler tune propose` in the couler image.
/// The Python SDK's local runtime, where no couler command may be installed, runs the same
/// proposal through its native module instead (`python -m couler._propose`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proposer {
    pub image: String,
    /// The program and its arguments.
    pub command: Vec<String>,
}

impl Default for Proposer {
    fn default() -> Self {
        Proposer {
            image: COULER_IMAGE.to_string(),
            command: ["couler", "tune", "propose"].map(String::from).to_vec(),
        }
    }
}

/// `wf`, read from the spec `text`, with its tuned steps lowered, and the result checked as a
/// spec of its own (a problem there is a lowering bug, reported as one); problems of a `tune`
/// block are placed in `text`. What the CLI and the server run of a spec with tuned steps.
pub fn lower(wf: Workflow, text: &str) -> Result<Workflow, Vec<Diagnostic>> {
    lower_with(wf, text, &Proposer::default())
}

/// [`lower`] with proposer steps that run `proposer`.
pub fn lower_with(
    wf: Workflow,
    text: &str,
    proposer: &Proposer,
) -> Result<Workflow, Vec<Diagnostic>> {
    if wf
        .steps
        .iter()
        .all(|s| s.tune.as_ref().is_none_or(|t| t.asynchronous()))
    {
        return Ok(wf);
    }
    let lowered = expand_with(&wf, proposer).map_err(|mut diags| {
        couler_ir::spec::place(text, &mut diags);
        diags
    })?;
    let errors: Vec<Diagnostic> = couler_ir::validate(&lowered)
        .into_iter()
        .filter(Diagnostic::is_error)
        .map(|d| {
            let message = format!("in the lowered tuning steps: {}", d.message);
            Diagnostic { message, ..d }
        })
        .collect();
    if errors.is_empty() {
        Ok(lowered)
    } else {
        Err(errors)
    }
}

/// The workflow with every tuned step lowered; unchanged when none is tuned. Problems carry the
/// path of the tuned step's `tune` block.
pub fn expand(wf: &Workflow) -> Result<Workflow, Vec<Diagnostic>> {
    expand_with(wf, &Proposer::default())
}

/// [`expand`] with proposer steps that run `proposer`.
pub fn expand_with(wf: &Workflow, proposer: &Proposer) -> Result<Workflow, Vec<Diagnostic>> {
    if wf
        .steps
        .iter()
        .all(|s| s.tune.as_ref().is_none_or(|t| t.asynchronous()))
    {
        return Ok(wf.clone());
    }
    let mut out = wf.clone();
    out.steps.clear();
    let mut diags = Vec::new();
    for (i, step) in wf.steps.iter().enumerate() {
        let Some(tune) = step.tune.as_ref().filter(|t| !t.asynchronous()) else {
            // An asynchronous study stays as it is: the local runtime drives it (crate::live),
            // and an engine's capability check refuses it with the reason.
            out.steps.push(step.clone());
            continue;
        };
        let study = match Rounds::new(tune) {
            Ok(study) => study,
            Err(message) => {
                diags.push(
                    Diagnostic::error(message)
                        .at(format!("steps[{i}].tune.method"))
                        .help("choose random, sobol, tpe, sh, hyperband or llm"),
                );
                continue;
            }
        };
        let lowered = Lowered::new(step, tune, study, proposer);
        let taken: Vec<String> = lowered
            .names()
            .into_iter()
            .filter(|n| wf.steps.iter().any(|s| &s.name == n))
            .collect();
        if let Some(name) = taken.first() {
            diags.push(
                Diagnostic::error(format!(
                    "the trials of tuned step `{}` need the name `{name}`, which another step has",
                    step.name
                ))
                .at(format!("steps[{i}].name"))
                .help(format!("rename step `{name}`")),
            );
            continue;
        }
        out.steps.extend(lowered.steps());
    }
    if diags.is_empty() {
        Ok(out)
    } else {
        Err(diags)
    }
}

/// One tuned step's lowering: its rounds of trials, their proposers, and the selection.
struct Lowered<'a> {
    step: &'a Step,
    tune: &'a Tune,
    proposer: &'a Proposer,
    plan: Vec<usize>,
    /// Round 0's settings where they are known at compile time (in a study without a model).
    first: Option<Vec<Json>>,
}

impl<'a> Lowered<'a> {
    fn new(step: &'a Step, tune: &'a Tune, study: Rounds, proposer: &'a Proposer) -> Self {
        let plan = study.plan();
        let first = study
            .fixed_first()
            .then(|| study.propose(&[]).expect("round 0 reads no results"));
        debug_assert!(
            first
                .as_ref()
                .is_none_or(|f| plan.first() == Some(&f.len()))
        );
        Lowered {
            step,
            tune,
            proposer,
            plan,
            first,
        }
    }

    /// The trials of round `r`: `NAME-trials` when there is one round, `NAME-trials-R` otherwise.
    fn trials(&self, r: usize) -> String {
        if self.plan.len() == 1 {
            format!("{}{TRIALS_SUFFIX}", self.step.name)
        } else {
            format!("{}{TRIALS_SUFFIX}-{r}", self.step.name)
        }
    }

    /// The proposer of round `r` (from 1, or from 0 in a study with a model): `NAME-propose-R`.
    fn proposer(&self, r: usize) -> String {
        format!("{}{PROPOSE_SUFFIX}-{r}", self.step.name)
    }

    /// Whether round `r` has a proposer step (its settings are not known at compile time).
    fn proposed(&self, r: usize) -> bool {
        r > 0 || self.first.is_none()
    }

    /// Every name the lowering adds beside the step's own.
    fn names(&self) -> Vec<String> {
        (0..self.plan.len())
            .flat_map(|r| {
                let proposer = self.proposed(r).then(|| self.proposer(r));
                proposer.into_iter().chain([self.trials(r)])
            })
            .collect()
    }

    /// `{{steps.NAME-trials….outputs.parameters.OBJECTIVE}}` of round `r`.
    fn objectives(&self, r: usize) -> Template {
        let text = format!(
            "{{{{steps.{}.outputs.parameters.{}}}}}",
            self.trials(r),
            self.tune.objective.parameter
        );
        Template::parse(&text).expect("a step and an output name make a reference")
    }

    fn steps(&self) -> Vec<Step> {
        let mut steps = Vec::new();
        for r in 0..self.plan.len() {
            let over = match &self.first {
                Some(first) if r == 0 => MapOver::Items(first.clone()),
                _ => {
                    steps.push(self.propose_step(r));
                    MapOver::From(Reference::step(self.proposer(r), StepOutput::Result))
                }
            };
            steps.push(self.trial_step(r, over));
        }
        steps.push(self.select_step());
        steps
    }

    /// The step itself, mapped over round `r`'s settings: tuned inputs read `{{item.P}}`; the
    /// fidelity (if any) reads `{{item.F}}` for a multi-fidelity method, its full value
    /// otherwise.
    fn trial_step(&self, r: usize, over: MapOver) -> Step {
        let mut trials = trial_template(self.step, self.tune, self.trials(r));
        trials.map = Some(Box::new(Map {
            over,
            parallelism: self.tune.parallelism,
        }));
        trials
    }

    /// `NAME-propose-R`: the proposer (`couler tune propose` in the couler image), reading the
    /// study and the objectives of the rounds before; prints round `r`'s settings as a JSON
    /// list. In a study with a model (method `llm` or a warm start) they also read the model's
    /// answers of the rounds before (replayed, not asked again) and publish their own as the
    /// output `answers`.
    fn propose_step(&self, r: usize) -> Step {
        let mut words = self.proposer.command.iter().map(Template::text);
        let container = Container {
            image: Some(self.proposer.image.clone()),
            command: words.next().into_iter().collect(),
            args: words.collect(),
            working_dir: None,
            daemon: false,
        };
        let mut step = Step::new(self.proposer(r), StepKind::Container(container));
        step.description = Some(format!(
            "round {r} of the {} study of `{}`: its {} settings, from the results of the rounds before",
            self.tune.method.name(),
            self.step.name,
            self.plan[r]
        ));
        let study = serde_json::to_string(self.tune).expect("a tune block serialises");
        step.env.insert(STUDY_ENV.into(), Template::text(study));
        step.env
            .insert(ROUND_ENV.into(), Template::text(r.to_string()));
        for k in 0..r {
            step.env.insert(objectives_env(k), self.objectives(k));
        }
        if self.first.is_none() {
            for k in 0..r {
                let text = format!(
                    "{{{{steps.{}.outputs.parameters.{ANSWERS_OUTPUT}}}}}",
                    self.proposer(k)
                );
                let answers = Template::parse(&text).expect("a step name makes a reference");
                step.env.insert(answers_env(k), answers);
            }
            step.outputs.parameters.push(OutputParameter {
                name: ANSWERS_OUTPUT.into(),
                path: Some(ANSWERS_FILE.into()),
                default: None,
            });
        }
        step.continue_on_failure = self.step.continue_on_failure;
        step
    }

    /// The step named as the tuned one: picks the best trial and publishes it.
    fn select_step(&self) -> Step {
        let (step, tune) = (self.step, self.tune);
        let script = Script {
            image: Some(SELECT_IMAGE.to_string()),
            command: couler_ir::model::default_interpreter(),
            source: Template::text(SELECT_SOURCE),
            daemon: false,
        };
        let mut select = Step::new(step.name.clone(), StepKind::Script(script));
        let total: usize = self.plan.iter().sum();
        select.description = Some(format!(
            "the best of {total} trials in {} round(s) by `{}` ({})",
            self.plan.len(),
            tune.objective.parameter,
            goal_name(tune.objective.goal)
        ));
        select
            .env
            .insert("ROUNDS".into(), Template::text(self.plan.len().to_string()));
        for r in 0..self.plan.len() {
            let trials = if let (Some(first), 0) = (&self.first, r) {
                Template::text(Json::Array(first.clone()).to_string())
            } else {
                let text = format!("{{{{steps.{}.outputs.result}}}}", self.proposer(r));
                Template::parse(&text).expect("a step name makes a reference")
            };
            select.env.insert(format!("TRIALS_{r}"), trials);
            select.env.insert(objectives_env(r), self.objectives(r));
        }
        if let Some(f) = tune
            .fidelity
            .as_ref()
            .filter(|_| tune.method.multi_fidelity())
        {
            select
                .env
                .insert("FIDELITY".into(), Template::text(f.name.clone()));
        }
        select.env.insert(
            "GOAL".into(),
            Template::text(goal_name(tune.objective.goal)),
        );
        select.outputs.parameters = tune
            .outputs()
            .into_iter()
            .map(|name| OutputParameter {
                path: Some(name.clone()),
                name,
                default: None,
            })
            .collect();
        debug_assert!(
            [BEST_OBJECTIVE, BEST_TRIAL].iter().all(|n| select
                .outputs
                .parameters
                .iter()
                .any(|p| p.name == *n))
        );
        select.continue_on_failure = step.continue_on_failure;
        select
    }
}

/// The tuned `step` as one trial named `name`, without its `tune` block: tuned inputs read
/// `{{item.P}}`; the fidelity (if any) reads `{{item.F}}` for a multi-fidelity method, its full
/// value otherwise. Each round of a lowered study maps it over the round's settings; an
/// asynchronous study runs it once a setting (`crate::live`).
pub fn trial_template(step: &Step, tune: &Tune, name: String) -> Step {
    let mut trial = step.clone();
    trial.name = name;
    trial.tune = None;
    let item = |name: &str| {
        Template::parse(&format!("{{{{item.{name}}}}}")).expect("a tuned name is an identifier")
    };
    for input in &mut trial.inputs.parameters {
        if tune.space.iter().any(|p| p.name == input.name) {
            input.value = Some(item(&input.name));
        } else if let Some(f) = tune.fidelity.as_ref().filter(|f| f.name == input.name) {
            input.value = Some(if tune.method.multi_fidelity() {
                item(&input.name)
            } else {
                Template::text(number_text(f.max))
            });
        }
    }
    trial
}

/// `50` for a whole number, `0.5` otherwise.
fn number_text(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

/// The Python source of the selection step: reads the proposals and the trials' objectives
/// from the environment, writes the best, prints every trial as JSON.
const SELECT_SOURCE: &str = r#"import json, math, os

trials, scores = [], []
for r in range(int(os.environ["ROUNDS"])):
    t = json.loads(os.environ[f"TRIALS_{r}"])
    s = json.loads(os.environ[f"OBJECTIVES_{r}"])
    if len(s) != len(t):
        raise SystemExit(f"round {r}: {len(t)} trials and {len(s)} objective values: every trial must succeed")
    trials += t
    scores += s
maximize = os.environ["GOAL"] == "maximize"

def score(text):
    try:
        x = float(text)
    except (TypeError, ValueError):
        raise SystemExit(f"objective value {text!r} is not a number")
    return x if math.isfinite(x) else (-math.inf if maximize else math.inf)

values = [score(s) for s in scores]
# A multi-fidelity study recommends among the trials at the highest fidelity any reached.
fidelity = os.environ.get("FIDELITY")
top = max((t[fidelity] for t in trials), default=None) if fidelity else None
ids = [i for i, t in enumerate(trials) if not fidelity or t[fidelity] == top]
best = max(ids, key=lambda i: (values[i], -i)) if maximize else min(ids, key=lambda i: (values[i], i))
for name, value in trials[best].items():
    if name == fidelity:
        continue
    with open("best_" + name, "w") as f:
        f.write(value if isinstance(value, str) else json.dumps(value))
with open("best_objective", "w") as f:
    f.write(str(scores[best]).strip())
with open("best_trial", "w") as f:
    f.write(str(best))
print(json.dumps([dict(t, objective=v) for t, v in zip(trials, values)]))
"#;

fn goal_name(goal: Goal) -> &'static str {
    match goal {
        Goal::Minimize => "minimize",
        Goal::Maximize => "maximize",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use couler_ir::spec::{self, Format};

    fn tuned(method: &str, budget: u32) -> Workflow {
        let text = format!(
            r#"apiVersion: couler.dev/v1alpha1
kind: Workflow
name: w
steps:
- name: fit
  script:
    source: print(-(float("{{{{inputs.parameters.x}}}}") - 3) ** 2)
  inputs:
    parameters:
    - name: x
    - name: kind
    - name: epochs
  outputs:
    parameters:
    - name: score
  tune:
    space:
    - name: x
      type: float
      low: 0
      high: 10
    - name: kind
      type: categorical
      choices: [a, b]
    objective:
      parameter: score
      goal: maximize
    fidelity:
      name: epochs
      min: 1
      max: 20
    budget: {budget}
    parallelism: 2
    method: {method}
- name: report
  script:
    source: print("{{{{steps.fit.outputs.parameters.best_x}}}}")
"#
        );
        spec::load(&text, Format::Yaml).expect("valid").0
    }

    #[test]
    fn a_tuned_step_becomes_a_map_of_trials_and_a_selection_under_its_name() {
        let wf = expand(&tuned("sobol", 6)).expect("lowers");
        let names: Vec<&str> = wf.steps.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["fit-trials", "fit", "report"]);
        let trials = &wf.steps[0];
        let Some(Map {
            over: MapOver::Items(items),
            parallelism,
        }) = trials.map.as_deref()
        else {
            panic!("trials are mapped: {:?}", trials.map);
        };
        assert_eq!((items.len(), *parallelism), (6, Some(2)));
        for item in items {
            let x = item["x"].as_f64().expect("x is a number");
            assert!((0.0..=10.0).contains(&x), "{item}");
            assert!(
                ["a", "b"].contains(&item["kind"].as_str().unwrap()),
                "{item}"
            );
        }
        let value = |name: &str| {
            let p = trials
                .inputs
                .parameters
                .iter()
                .find(|p| p.name == name)
                .unwrap();
            p.value.as_ref().unwrap().to_string()
        };
        assert_eq!(value("x"), "{{item.x}}");
        assert_eq!(value("epochs"), "20", "the fidelity runs at its full value");
        let select = &wf.steps[1];
        let outputs: Vec<&str> = select
            .outputs
            .parameters
            .iter()
            .map(|p| p.name.as_str())
            .collect();
        assert_eq!(
            outputs,
            ["best_x", "best_kind", "best_objective", "best_trial"]
        );
        assert_eq!(
            select.env["OBJECTIVES_0"].to_string(),
            "{{steps.fit-trials.outputs.parameters.score}}"
        );
        assert!(couler_ir::validate(&wf).iter().all(|d| !d.is_error()));
    }

    #[test]
    fn equal_studies_lower_to_equal_bytes_and_seeds_or_methods_change_the_proposals() {
        let a = spec::to_yaml(&expand(&tuned("sobol", 8)).unwrap());
        assert_eq!(a, spec::to_yaml(&expand(&tuned("sobol", 8)).unwrap()));
        assert_ne!(a, spec::to_yaml(&expand(&tuned("random", 8)).unwrap()));
        let mut reseeded = tuned("sobol", 8);
        reseeded.steps[0].tune.as_mut().unwrap().seed = 9;
        assert_ne!(a, spec::to_yaml(&expand(&reseeded).unwrap()));
        // The lowered spec reads back as itself.
        assert_eq!(spec::to_yaml(&spec::parse(&a, Format::Yaml).unwrap()), a);
    }

    #[test]
    fn sobol_proposals_cover_the_range_evenly() {
        let wf = expand(&tuned("sobol", 16)).unwrap();
        let Some(Map {
            over: MapOver::Items(items),
            ..
        }) = wf.steps[0].map.as_deref()
        else {
            panic!()
        };
        // One proposal in each eighth of [0, 10], two apiece: Sobol' stratifies every 2^k prefix.
        let mut per_cell = [0; 8];
        for item in items {
            per_cell[((item["x"].as_f64().unwrap() / 10.0 * 8.0) as usize).min(7)] += 1;
        }
        assert_eq!(per_cell, [2; 8], "{items:?}");
    }

    #[test]
    fn a_learning_method_lowers_into_rounds_each_proposed_from_the_results_before() {
        let wf = expand(&tuned("hyperband", 12)).expect("lowers");
        let names: Vec<&str> = wf.steps.iter().map(|s| s.name.as_str()).collect();
        let rounds = names
            .iter()
            .filter(|n| n.starts_with("fit-trials-"))
            .count();
        assert!(rounds > 1, "{names:?}");
        assert_eq!(names[0], "fit-trials-0");
        assert_eq!(names[names.len() - 2..], ["fit", "report"]);
        for r in 1..rounds {
            let propose = wf.step(&format!("fit-propose-{r}")).expect("a proposer");
            let StepKind::Container(c) = &propose.kind else {
                panic!("{propose:?}")
            };
            assert_eq!(c.image.as_deref(), Some(COULER_IMAGE));
            let command: Vec<String> = c
                .command
                .iter()
                .chain(&c.args)
                .map(|t| t.to_string())
                .collect();
            assert_eq!(command, ["couler", "tune", "propose"]);
            assert_eq!(propose.env[ROUND_ENV].to_string(), r.to_string());
            assert_eq!(
                propose.env[&objectives_env(r - 1)].to_string(),
                format!(
                    "{{{{steps.fit-trials-{}.outputs.parameters.score}}}}",
                    r - 1
                )
            );
            let trials = wf.step(&format!("fit-trials-{r}")).unwrap();
            let Some(Map {
                over: MapOver::From(from),
                parallelism,
            }) = trials.map.as_deref()
            else {
                panic!("{:?}", trials.map)
            };
            assert_eq!(
                from.to_string(),
                format!("steps.fit-propose-{r}.outputs.result")
            );
            assert_eq!(*parallelism, Some(2));
            let epochs = trials
                .inputs
                .parameters
                .iter()
                .find(|p| p.name == "epochs")
                .unwrap();
            assert_eq!(
                epochs.value.as_ref().unwrap().to_string(),
                "{{item.epochs}}"
            );
        }
        let select = wf.step("fit").unwrap();
        assert_eq!(select.env["ROUNDS"].to_string(), rounds.to_string());
        assert_eq!(select.env["FIDELITY"].to_string(), "epochs");
        assert!(couler_ir::validate(&wf).iter().all(|d| !d.is_error()));
    }

    #[test]
    fn an_asynchronous_study_is_left_for_the_local_runtime() {
        let asha = tuned("asha", 6);
        assert_eq!(expand(&asha).unwrap(), asha);
        let mut tpe = tuned("tpe", 6);
        tpe.steps[0].tune.as_mut().unwrap().schedule =
            Some(couler_ir::tune::TuneSchedule::Asynchronous);
        assert_eq!(expand(&tpe).unwrap(), tpe);
        // Beside a study in rounds, which lowers.
        let mut both = tpe.clone();
        let mut rounds = tuned("sobol", 4).steps[0].clone();
        rounds.name = "fit2".into();
        both.steps.insert(1, rounds);
        let names: Vec<String> = expand(&both)
            .unwrap()
            .steps
            .into_iter()
            .map(|s| s.name)
            .collect();
        assert_eq!(names, ["fit", "fit2-trials", "fit2", "report"]);
    }

    #[test]
    fn a_step_already_named_like_the_trials_is_refused() {
        let mut wf = tuned("random", 3);
        wf.steps[1].name = "fit-trials".into();
        let err = expand(&wf).unwrap_err();
        assert!(err[0].message.contains("`fit-trials`"), "{err:?}");
    }
}
