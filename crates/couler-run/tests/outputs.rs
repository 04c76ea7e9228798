//! What a step's outputs become, the same way as on Argo: one trailing newline trimmed,
//! `result` bounded to its last 256 KiB, and declared paths that belong to the step alone.

mod common;

use common::*;
use couler_run::RunStatus;

#[tokio::test(flavor = "multi_thread")]
async fn exactly_one_trailing_newline_is_trimmed_as_on_argo() {
    let d = tmp();
    let wf = load(
        r#"
apiVersion: couler.dev/v1alpha1
kind: Workflow
name: trim
steps:
  - name: a
    container:
      command: [sh, -c, "printf 'done\n\n'; printf ' 42\n' > v.txt"]
    outputs:
      parameters: [{name: v, path: v.txt}]
  - name: equal
    when: steps.a.outputs.result == "done"
    container: {command: ['true']}
  - name: kept
    when: steps.a.outputs.result == "done\n"
    container: {command: ['true']}
"#,
    );
    let r = run(&wf, &d.path().join("state")).await;
    assert_eq!(r.status, RunStatus::Succeeded);
    // Argo's executor strips one `\n` from `result`: `done\n` is not `done`.
    assert_eq!(status(&r, "equal"), "Skipped");
    assert_eq!(status(&r, "kept"), "Succeeded");
    assert_eq!(param(&r, "a", "v"), " 42");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_result_over_256_kib_keeps_its_tail_and_map_from_says_why() {
    let d = tmp();
    let wf = load(
        r#"
apiVersion: couler.dev/v1alpha1
kind: Workflow
name: big
steps:
  - name: list
    script:
      command: [python3]
      source: |
        import json
        print(json.dumps(["item-%06d" % i for i in range(30000)]))
  - name: each
    map: {from: steps.list.outputs.result}
    container: {command: [echo, "{{item}}"]}
"#,
    );
    let r = run(&wf, &d.path().join("state")).await;
    assert_eq!(r.status, RunStatus::Error);
    // The log keeps everything; `result` only the last 256 KiB, as Argo's annotation.
    let out = stdout(&r, "list");
    assert!(out.len() > 300_000, "{}", out.len());
    let result = step(&r, "list")
        .outputs
        .as_ref()
        .and_then(|o| o.result.clone())
        .unwrap_or_default();
    assert_eq!(result.len(), 256 * 1024);
    assert!(out.trim_end().ends_with(&result));
    let each = step(&r, "each");
    assert_eq!(each.status, "Error");
    let why = each.message.clone().unwrap_or_default();
    assert!(why.contains("is not a JSON list"), "{why}");
    assert!(why.contains("last 256 KiB"), "{why}");
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_instances_each_own_their_absolute_output_path() {
    let d = tmp();
    // Spec §12's pattern: every instance declares the same absolute path. As on Argo, where
    // each pod has its own /tmp, each instance's value is its own.
    let wf = load(
        r#"
apiVersion: couler.dev/v1alpha1
kind: Workflow
name: abspath
steps:
  - name: train
    map: {items: [a, b, c, d], parallelism: 4}
    container:
      command: [sh, -c, "echo {{item}} > {{outputs.parameters.model.path}}; sleep 0.3; cp {{outputs.parameters.model.path}} {{outputs.artifacts.copy.path}}"]
    outputs:
      parameters: [{name: model, path: /tmp/couler-h7-model.json}]
      artifacts: [{name: copy, path: /tmp/couler-h7-copy/model.json}]
  - name: one
    container:
      command: [sh, -c, "echo one > {{outputs.artifacts.m.path}}"]
    outputs:
      artifacts: [{name: m, path: /tmp/couler-h7-m.txt}]
  - name: read
    container: {command: [cat, "{{inputs.artifacts.m.path}}"]}
    inputs:
      artifacts: [{name: m, path: /data/couler-h7/m.txt, from: steps.one.outputs.artifacts.m}]
"#,
    );
    let r = run(&wf, &d.path().join("state")).await;
    assert_eq!(r.status, RunStatus::Succeeded, "{:#?}", r.steps);
    assert_eq!(param(&r, "train", "model"), r#"["a","b","c","d"]"#);
    assert!(!std::path::Path::new("/tmp/couler-h7-model.json").exists());
    assert!(!std::path::Path::new("/data/couler-h7").exists());
    assert_eq!(stdout(&r, "read"), "one\n");
}

#[tokio::test(flavor = "multi_thread")]
async fn writing_the_literal_absolute_path_is_an_error_that_says_how_to_fix_it() {
    let d = tmp();
    let host = d.path().join("shared.txt");
    let wf = load(&format!(
        r#"
apiVersion: couler.dev/v1alpha1
kind: Workflow
name: literal
steps:
  - name: a
    container: {{command: [sh, -c, "echo x > {0}"]}}
    outputs:
      parameters: [{{name: v, path: {0}}}]
"#,
        host.display()
    ));
    let r = run(&wf, &d.path().join("state")).await;
    assert_eq!(r.status, RunStatus::Error);
    let a = step(&r, "a");
    assert_eq!(a.status, "Error");
    let why = a.message.clone().unwrap_or_default();
    assert!(why.contains("did not write"), "{why}");
    assert!(why.contains("placeholder"), "{why}");
}
