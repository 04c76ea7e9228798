//! The `tune` block of a step: read, printed back, and checked with located diagnostics.

use couler_ir::spec::{self, Format};
use couler_ir::tune::{Goal, TuneMethod, TuneParamType};

/// A spec with one tuned step `train` (inputs C, k, kernel, epochs; output accuracy) whose
/// `tune` block is `tune`, indented under the step, and a reader step `report`.
fn spec_with(tune: &str, report: &str) -> String {
    format!(
        r#"apiVersion: couler.dev/v1alpha1
kind: Workflow
name: tuned
steps:
- name: train
  script:
    source: print(1)
  inputs:
    parameters:
    - name: C
    - name: k
    - name: kernel
    - name: epochs
  outputs:
    parameters:
    - name: accuracy
  tune:
{tune}
- name: report
  script:
    source: print("{report}")
"#
    )
}

const GOOD: &str = "    space:
    - name: C
      type: float
      low: 0.001
      high: 100
      log: true
    - name: k
      type: int
      low: 1
      high: 30
    - name: kernel
      type: categorical
      choices: [linear, rbf]
    objective:
      parameter: accuracy
      goal: maximize
    budget: 12
    parallelism: 3
    method: random
    seed: 5";

/// The errors of loading `text`, each as `line:col message`.
fn errors(text: &str) -> Vec<String> {
    match spec::load(text, Format::Yaml) {
        Ok(_) => Vec::new(),
        Err(diags) => diags
            .into_iter()
            .filter(|d| d.is_error())
            .map(|d| {
                let loc = d.location.expect("every tune problem is located");
                format!("{}:{} {}", loc.line, loc.column, d.message)
            })
            .collect(),
    }
}

#[test]
fn a_tune_block_reads_and_prints_back_exactly() {
    let text = spec_with(GOOD, "{{steps.train.outputs.parameters.best_C}}");
    let (wf, warnings) = spec::load(&text, Format::Yaml).expect("valid");
    assert!(warnings.is_empty(), "{warnings:?}");
    let tune = wf.steps[0].tune.as_ref().expect("tuned");
    assert_eq!(tune.space.len(), 3);
    assert_eq!(tune.space[0].kind, TuneParamType::Float);
    assert!(tune.space[0].log);
    assert_eq!(tune.space[2].choices, ["linear", "rbf"]);
    assert_eq!(tune.objective.goal, Goal::Maximize);
    assert_eq!((tune.budget, tune.parallelism, tune.seed), (12, Some(3), 5));
    assert_eq!(tune.method, TuneMethod::Random);
    let printed = spec::to_yaml(&wf);
    assert_eq!(spec::parse(&printed, Format::Yaml).expect("reads back"), wf);
    assert_eq!(
        spec::to_yaml(&spec::parse(&printed, Format::Yaml).unwrap()),
        printed
    );
}

#[test]
fn readers_see_the_best_outputs_and_not_the_trial_outputs() {
    let text = spec_with(GOOD, "{{steps.train.outputs.parameters.accuracy}}");
    let errs = errors(&text);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(errs[0].contains("accuracy"), "{errs:?}");
    for name in [
        "best_C",
        "best_k",
        "best_kernel",
        "best_objective",
        "best_trial",
    ] {
        let text = spec_with(
            GOOD,
            &format!("{{{{steps.train.outputs.parameters.{name}}}}}"),
        );
        assert_eq!(errors(&text), Vec::<String>::new(), "{name}");
    }
}

#[test]
fn each_problem_is_refused_where_it_stands() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "name: C\n",
            "name: CC\n",
            "`CC` is not an input parameter of step `train`",
        ),
        (
            "parameter: accuracy",
            "parameter: acc",
            "the objective `acc` is not an output",
        ),
        ("low: 0.001", "low: 0", "is searched on a log scale from 0"),
        (
            "low: 1\n",
            "low: 40\n",
            "`k` has bounds out of order (40 to 30)",
        ),
        ("high: 30", "high: 30.5", "int `k` has a fractional bound"),
        (
            "choices: [linear, rbf]",
            "choices: [rbf, rbf]",
            "`rbf` is listed twice",
        ),
        (
            "choices: [linear, rbf]",
            "choices: []",
            "categorical `kernel` lists no choices",
        ),
        ("budget: 12", "budget: 0", "a budget of 0 runs no trial"),
        (
            "method: random",
            "method: asha",
            "method `asha` varies a fidelity",
        ),
    ];
    for (from, to, expected) in cases {
        assert!(GOOD.contains(from), "{from}");
        let text = spec_with(&GOOD.replacen(from, to, 1), "x");
        let errs = errors(&text);
        assert!(
            errs.iter().any(|e| e.contains(expected)),
            "{to}: expected `{expected}` in {errs:?}"
        );
        // Located on the line that was changed (or the block's own line).
        let changed = text
            .lines()
            .position(|l| l.contains(to.trim()))
            .map(|i| i + 1);
        let line: usize = errs[0].split(':').next().unwrap().parse().unwrap();
        assert!(line > 10, "{errs:?} points before the tune block");
        if let Some(changed) = changed.filter(|_| !to.contains("asha")) {
            assert!(
                line.abs_diff(changed) <= 3,
                "{errs:?} far from line {changed}"
            );
        }
    }
}

#[test]
fn a_fidelity_is_an_input_outside_the_space_and_a_tuned_step_is_not_mapped() {
    let fid = format!("{GOOD}\n    fidelity:\n      name: k\n      min: 1\n      max: 50");
    let errs = errors(&spec_with(&fid, "x"));
    assert!(
        errs.iter()
            .any(|e| e.contains("`k` is both tuned and the fidelity")),
        "{errs:?}"
    );
    let fid = format!("{GOOD}\n    fidelity:\n      name: epochs\n      min: 0\n      max: 50");
    let errs = errors(&spec_with(&fid, "x"));
    assert!(
        errs.iter()
            .any(|e| e.contains("the fidelity runs from 0 to 50")),
        "{errs:?}"
    );
    let fid = format!("{GOOD}\n    fidelity:\n      name: epochs\n      min: 1\n      max: 50");
    assert_eq!(errors(&spec_with(&fid, "x")), Vec::<String>::new());
    let mapped = spec_with(GOOD, "x").replace("  tune:\n", "  map:\n    items: [1, 2]\n  tune:\n");
    let errs = errors(&mapped);
    assert!(
        errs.iter()
            .any(|e| e.contains("a tuned step cannot be `map`")),
        "{errs:?}"
    );
}

/// [`GOOD`] with method `llm` and its block (model, candidates, both cards).
fn llm_block() -> String {
    GOOD.replacen("method: random", "method: llm", 1)
        + "
    llm:
      model: local
      candidates: 6
      dataCard:
        name: breast-cancer
        input_type: tabular
        labelSpace: 2 classes
        metrics: [accuracy]
      modelCard:
        name: SVM
        structure: kernel machine
        description: a support vector classifier
        hyperparameters: {gamma: scale}"
}

#[test]
fn an_llm_study_carries_its_model_and_cards_and_each_problem_is_located() {
    let text = spec_with(&llm_block(), "x");
    let (wf, _) = spec::load(&text, Format::Yaml).expect("valid");
    let llm = wf.steps[0]
        .tune
        .as_ref()
        .unwrap()
        .llm
        .as_ref()
        .expect("an llm block");
    assert_eq!((llm.model.as_str(), llm.candidates), ("local", Some(6)));
    assert_eq!(
        llm.data_card.input_type, "tabular",
        "snake_case is read too"
    );
    assert_eq!(llm.model_card.hyperparameters["gamma"], "scale");
    // Printed back in camelCase, and read back equal.
    let printed = spec::to_yaml(&wf);
    assert!(printed.contains("inputType: tabular"), "{printed}");
    assert_eq!(spec::parse(&printed, Format::Yaml).unwrap(), wf);

    let cases: &[(&str, &str, &str)] = &[
        ("model: local", "model: ''", "this is empty"),
        (
            "candidates: 6",
            "candidates: 0",
            "0 candidates leave the model",
        ),
        (
            "metrics: [accuracy]",
            "metrics: []",
            "the Data Card lists no metric",
        ),
        (
            "candidates: 6",
            "endpoint: localhost:8080",
            "endpoint `localhost:8080` is not an http(s) URL",
        ),
        ("name: SVM", "nme: SVM", "unknown field `nme`"),
    ];
    for (from, to, expected) in cases {
        let text = spec_with(&llm_block().replacen(from, to, 1), "x");
        let errs = errors(&text);
        assert!(
            errs.iter().any(|e| e.contains(expected)),
            "{to}: expected `{expected}` in {errs:?}"
        );
        let line: usize = errs[0].split(':').next().unwrap().parse().unwrap();
        assert!(line > 10, "{errs:?} points before the tune block");
    }
    // With another method, the block is a warm start.
    let text = spec_with(&llm_block().replacen("method: llm", "method: tpe", 1), "x");
    assert_eq!(errors(&text), Vec::<String>::new());
    // Method llm without a model names the block to add.
    let text = spec_with(&GOOD.replacen("method: random", "method: llm", 1), "x");
    let errs = errors(&text);
    assert!(
        errs.iter()
            .any(|e| e.contains("method `llm` asks a language model, and the study names none")),
        "{errs:?}"
    );
}
