//! Lowering a step's `tune` block into plain steps every backend runs (docs/tuning.md, "Tuning
//! a step"): the step becomes `NAME-trials`, mapped over the study's proposals with the tuned
//! input parameters bound to `{{item.P}}`, and `NAME` becomes a small Python step that reads the
//! trials' objectives and publishes the best setting as `best_P`, `best_objective` and
//! `best_trial`. Readers of `steps.NAME.outputs.parameters.best_…` need no change.
//!
//! The proposals are computed here, at compile time, so they are part of the compiled workflow
//! (equal IR gives equal bytes). That suits the methods that do not learn from results (random,
//! sobol); the adaptive ones are refused with the reason until their rounds are lowered.

use crate::space::{Domain, Param, Space, Value};
use couler_ir::tune::{BEST_OBJECTIVE, BEST_TRIAL, Goal, Tune, TuneMethod, TuneParamType};
use couler_ir::{
    Diagnostic, Map, MapOver, OutputParameter, Script, Step, StepKind, Template, Workflow,
};
use serde_json::{Map as JsonMap, Value as Json};

/// The image of the selection step: any image with Python 3 and its standard library.
pub const SELECT_IMAGE: &str = "python:3.12-slim";

/// The suffix of the mapped trial step's name.
pub const TRIALS_SUFFIX: &str = "-trials";

/// `wf`, read from the spec `text`, with its tuned steps lowered, and the result checked as a
/// spec of its own (a problem there is a lowering bug, reported as one); problems of a `tune`
/// block are placed in `text`. What the CLI and the server run of a spec with tuned steps.
pub fn lower(wf: Workflow, text: &str) -> Result<Workflow, Vec<Diagnostic>> {
    if wf.steps.iter().all(|s| s.tune.is_none()) {
        return Ok(wf);
    }
    let lowered = expand(&wf).map_err(|mut diags| {
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
    if wf.steps.iter().all(|s| s.tune.is_none()) {
        return Ok(wf.clone());
    }
    let mut out = wf.clone();
    out.steps.clear();
    let mut diags = Vec::new();
    for (i, step) in wf.steps.iter().enumerate() {
        let Some(tune) = &step.tune else {
            out.steps.push(step.clone());
            continue;
        };
        let trials_name = format!("{}{TRIALS_SUFFIX}", step.name);
        if wf.steps.iter().any(|s| s.name == trials_name) {
            diags.push(
                Diagnostic::error(format!("the trials of tuned step `{}` need the name `{trials_name}`, which another step has", step.name))
                    .at(format!("steps[{i}].name"))
                    .help(format!("rename step `{trials_name}`")),
            );
            continue;
        }
        match proposals(tune) {
            Ok(items) => {
                out.steps.push(trial_step(step, tune, &trials_name, &items));
                out.steps.push(select_step(step, tune, &trials_name, &items));
            }
            Err(message) => diags.push(
                Diagnostic::error(message)
                    .at(format!("steps[{i}].tune.method"))
                    .help("use `method: sobol` or `method: random`, or run the study with `couler tune` in-process"),
            ),
        }
    }
    if diags.is_empty() {
        Ok(out)
    } else {
        Err(diags)
    }
}

/// The study's search space in `couler-tune`'s terms (the fidelity is not searched).
pub fn space(tune: &Tune) -> Space {
    let params = tune
        .space
        .iter()
        .map(|p| {
            let (low, high) = (p.low.unwrap_or(0.0), p.high.unwrap_or(0.0));
            let domain = match p.kind {
                TuneParamType::Float => Domain::Float {
                    low,
                    high,
                    log: p.log,
                },
                TuneParamType::Int => Domain::Int {
                    low: low as i64,
                    high: high as i64,
                    log: p.log,
                },
                TuneParamType::Categorical => Domain::Categorical(p.choices.clone()),
            };
            Param {
                name: p.name.clone(),
                domain,
            }
        })
        .collect();
    Space {
        params,
        fidelity: None,
    }
}

/// The `budget` settings the study runs, each a JSON object of parameter values, in order.
pub fn proposals(tune: &Tune) -> Result<Vec<Json>, String> {
    if !matches!(tune.method, TuneMethod::Random | TuneMethod::Sobol) {
        return Err(format!(
            "method `{}` learns from earlier trials, and lowering it into rounds of trial steps is not built yet",
            tune.method.name()
        ));
    }
    let space = space(tune);
    space.check().map_err(|e| e.to_string())?;
    let mut method = crate::by_name(tune.method.name(), &space, tune.seed)?;
    let trials = method.ask(tune.budget as usize);
    Ok(trials
        .iter()
        .map(|t| {
            let values = space.decode(&t.unit);
            let obj: JsonMap<String, Json> = space
                .params
                .iter()
                .zip(values)
                .map(|(p, v)| (p.name.clone(), json_value(v)))
                .collect();
            Json::Object(obj)
        })
        .collect())
}

fn json_value(v: Value) -> Json {
    match v {
        Value::Float(x) => serde_json::Number::from_f64(x).map_or(Json::Null, Json::Number),
        Value::Int(x) => Json::from(x),
        Value::Choice(s) => Json::String(s),
    }
}

/// The step itself, mapped over the proposals: tuned inputs read `{{item.P}}`, the fidelity (if
/// any) its full value.
fn trial_step(step: &Step, tune: &Tune, name: &str, items: &[Json]) -> Step {
    let mut trials = step.clone();
    trials.name = name.to_string();
    trials.tune = None;
    trials.map = Some(Map {
        over: MapOver::Items(items.to_vec()),
        parallelism: tune.parallelism,
    });
    for input in &mut trials.inputs.parameters {
        if tune.space.iter().any(|p| p.name == input.name) {
            let item = format!("{{{{item.{}}}}}", input.name);
            input.value = Some(Template::parse(&item).expect("a tuned name is an identifier"));
        } else if let Some(f) = tune.fidelity.as_ref().filter(|f| f.name == input.name) {
            input.value = Some(Template::text(number_text(f.max)));
        }
    }
    trials
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

trials = json.loads(os.environ["TRIALS"])
scores = json.loads(os.environ["OBJECTIVES"])
if len(scores) != len(trials):
    raise SystemExit(f"{len(trials)} trials and {len(scores)} objective values: every trial must succeed")
maximize = os.environ["GOAL"] == "maximize"

def score(text):
    try:
        x = float(text)
    except (TypeError, ValueError):
        raise SystemExit(f"objective value {text!r} is not a number")
    return x if math.isfinite(x) else (-math.inf if maximize else math.inf)

values = [score(s) for s in scores]
best = max(range(len(values)), key=lambda i: (values[i], -i)) if maximize else min(range(len(values)), key=lambda i: (values[i], i))
for name, value in trials[best].items():
    with open("best_" + name, "w") as f:
        f.write(value if isinstance(value, str) else json.dumps(value))
with open("best_objective", "w") as f:
    f.write(str(scores[best]).strip())
with open("best_trial", "w") as f:
    f.write(str(best))
print(json.dumps([dict(t, objective=v) for t, v in zip(trials, values)]))
"#;

/// The step named as the tuned one: picks the best trial and publishes it.
fn select_step(step: &Step, tune: &Tune, trials_name: &str, items: &[Json]) -> Step {
    let script = Script {
        image: Some(SELECT_IMAGE.to_string()),
        command: couler_ir::model::default_interpreter(),
        source: Template::text(SELECT_SOURCE),
        daemon: false,
    };
    let mut select = Step::new(step.name.clone(), StepKind::Script(script));
    select.description = Some(format!(
        "the best of {} trials of `{trials_name}` by `{}` ({})",
        items.len(),
        tune.objective.parameter,
        goal_name(tune.objective.goal)
    ));
    let objectives = format!(
        "{{{{steps.{trials_name}.outputs.parameters.{}}}}}",
        tune.objective.parameter
    );
    select.env.insert(
        "TRIALS".into(),
        Template::text(Json::Array(items.to_vec()).to_string()),
    );
    select.env.insert(
        "OBJECTIVES".into(),
        Template::parse(&objectives).expect("a step and an output name make a reference"),
    );
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
        select
            .outputs
            .parameters
            .iter()
            .any(|p| p.name == BEST_OBJECTIVE)
    );
    debug_assert!(
        select
            .outputs
            .parameters
            .iter()
            .any(|p| p.name == BEST_TRIAL)
    );
    select.continue_on_failure = step.continue_on_failure;
    select
}

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
        }) = &trials.map
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
            select.env["OBJECTIVES"].to_string(),
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
        }) = &wf.steps[0].map
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
    fn adaptive_methods_are_refused_at_the_method_with_the_reason() {
        let err = expand(&tuned("tpe", 6)).unwrap_err();
        assert_eq!(err[0].path.as_deref(), Some("steps[0].tune.method"));
        assert!(
            err[0].message.contains("`tpe` learns from earlier trials"),
            "{err:?}"
        );
        assert!(err[0].help.as_deref().unwrap().contains("sobol"));
    }

    #[test]
    fn a_step_already_named_like_the_trials_is_refused() {
        let mut wf = tuned("random", 3);
        wf.steps[1].name = "fit-trials".into();
        let err = expand(&wf).unwrap_err();
        assert!(err[0].message.contains("`fit-trials`"), "{err:?}");
    }
}
