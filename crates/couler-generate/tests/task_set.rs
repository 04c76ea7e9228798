//! The shipped task set of `couler generate --eval` (tasks/ml-workflows.yaml): big enough, every
//! difficulty represented, every reference a valid spec that meets its checker, and no checker
//! vacuous (a one-step workflow fails every one).

use couler_generate::eval::{self, Difficulty, Task};
use couler_ir::spec::{self, Format};
use std::path::Path;

fn task_set() -> Vec<Task> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tasks/ml-workflows.yaml");
    let text = std::fs::read_to_string(&path).expect("the task set is in the repository");
    eval::read_tasks(&path.display().to_string(), &text).unwrap_or_else(|e| panic!("{e}"))
}

const ONE_STEP: &str = "apiVersion: couler.dev/v1alpha1\nkind: Workflow\nname: one\nsteps:\n- name: run\n  container:\n    image: python:3.12-slim\n    command: [python, main.py]\n";

#[test]
fn the_task_set_is_large_and_graded() {
    let tasks = task_set();
    assert!(tasks.len() >= 40, "{} tasks", tasks.len());
    for d in Difficulty::ALL {
        let n = tasks.iter().filter(|t| t.difficulty == Some(d)).count();
        assert!(n >= 10, "{} {} tasks", n, d.name());
    }
    for (i, t) in tasks.iter().enumerate() {
        assert!(t.difficulty.is_some(), "task {} has no difficulty", i + 1);
        assert!(
            t.description.split_whitespace().count() >= 8,
            "task {}: a description a user would write",
            i + 1
        );
    }
    let mut seen = std::collections::HashSet::new();
    for t in &tasks {
        assert!(seen.insert(&t.description), "twice: {}", t.description);
    }
}

#[test]
fn every_reference_is_valid_and_meets_its_checker() {
    for (i, t) in task_set().iter().enumerate() {
        let n = i + 1;
        let reference = t
            .reference
            .as_deref()
            .unwrap_or_else(|| panic!("task {n} has no reference"));
        let (wf, _) = spec::load(reference, Format::Yaml)
            .unwrap_or_else(|d| panic!("task {n}'s reference does not load: {d:?}"));
        let misses = eval::misses(&wf, &t.expect);
        assert!(misses.is_empty(), "task {n}'s reference misses {misses:?}");
    }
}

#[test]
fn no_checker_is_vacuous() {
    let (one, _) = spec::load(ONE_STEP, Format::Yaml).unwrap();
    for (i, t) in task_set().iter().enumerate() {
        assert!(
            !eval::misses(&one, &t.expect).is_empty(),
            "task {}'s checker passes a one-step workflow",
            i + 1
        );
    }
    // Harder tasks ask for more: every hard checker asks for control flow or an exit handler.
    for t in task_set()
        .iter()
        .filter(|t| t.difficulty == Some(Difficulty::Hard))
    {
        let e = &t.expect;
        let features = [e.condition, e.map, e.repeat, e.exit_handler, e.retry]
            .iter()
            .filter(|&&f| f)
            .count()
            + usize::from(e.kinds.iter().any(|k| k == "suspend"));
        assert!(features >= 1, "{}", t.description);
        assert!(e.min_steps.unwrap_or(0) >= 3, "{}", t.description);
    }
}
