//! The caching default every engine shares (docs/spec.md §14.8, `Workflow::memoized`): a step
//! that declares outputs is memoized, a step without outputs runs for its effect every time
//! unless `cache` asks for memoization.

mod common;

use common::*;
use couler_run::RunStatus;

const SPEC: &str = r#"
apiVersion: couler.dev/v1alpha1
kind: Workflow
name: deploy
steps:
  - name: build
    container:
      command: [sh, -c, 'echo build >> SIDE/ran; echo model > out.txt']
    outputs:
      artifacts:
        - {name: model, path: out.txt}
  - name: deploy
    inputs:
      artifacts:
        - {name: model, path: in.txt, from: steps.build.outputs.artifacts.model}
    container:
      command: [sh, -c, 'echo deploy >> SIDE/ran; cp in.txt SIDE/deployed']
"#;

fn ran(side: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(side.join("ran"))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_step_without_outputs_runs_again_after_its_effect_was_undone() {
    let d = tempfile::tempdir().unwrap();
    let side = d.path();
    let wf = load(&SPEC.replace("SIDE", &side.to_string_lossy()));
    let state = side.join("state");
    let first = run(&wf, &state).await;
    assert_eq!(first.status, RunStatus::Succeeded);
    assert!(side.join("deployed").exists());

    // Someone undoes the deploy; the next run must deploy again, and reuse the build.
    std::fs::remove_file(side.join("deployed")).unwrap();
    let second = run(&wf, &state).await;
    assert_eq!(second.status, RunStatus::Succeeded);
    assert_eq!(status(&second, "build"), "Cached");
    assert_eq!(status(&second, "deploy"), "Succeeded");
    assert!(
        side.join("deployed").exists(),
        "the deploy did not run again"
    );
    assert_eq!(ran(side), ["build", "deploy", "deploy"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn cache_asks_for_memoization_of_a_step_without_outputs() {
    let d = tempfile::tempdir().unwrap();
    let side = d.path();
    let text = SPEC.replace("SIDE", &side.to_string_lossy());
    // `cache` on the deploy step (the last one).
    let wf = load(&format!("{text}    cache: {{version: \"1\"}}\n"));
    let state = side.join("state");
    assert_eq!(run(&wf, &state).await.status, RunStatus::Succeeded);
    let second = run(&wf, &state).await;
    assert_eq!(status(&second, "deploy"), "Cached");
    assert_eq!(ran(side), ["build", "deploy"]);
}
