//! Skips, dependencies and mapped outputs mean the same on Argo as with `couler run` (issue #28;
//! the findings of the Argo audit H1, H2, H6, H9/B3, M7, M9, M10, M12, M16). Each test compiles a
//! spec with `couler compile --target argo` and asserts the YAML shape that gives the local
//! behaviour on Argo's controller (docs/argo.md, "Dependencies and skipping" and "Mapped
//! steps"), then runs the spec with `couler run` and asserts that behaviour.

use serde_json::{Value, json};
use std::process::Output;

#[path = "support/cli.rs"]
mod cli;
use cli::{couler_in, step as node, text};

const HEADER: &str = "apiVersion: couler.dev/v1alpha1\nkind: Workflow\nname: sem\n";

/// A spec's steps (YAML text under `steps:`, and after them anything else, e.g. `onExit:`).
fn spec(body: &str) -> String {
    format!("{HEADER}{body}")
}

/// `couler compile --target argo` of the spec, as JSON; panics with stderr when it fails.
fn compile(spec: &str) -> Value {
    let out = compile_out(spec);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    serde_norway::from_slice(&out.stdout).unwrap_or_else(|e| panic!("YAML: {e}"))
}

fn compile_out(spec: &str) -> Output {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("wf.yaml"), spec).unwrap();
    couler_in(dir.path(), &["compile", "wf.yaml", "--target", "argo"])
}

/// The template named `name`.
fn template<'v>(doc: &'v Value, name: &str) -> &'v Value {
    doc["spec"]["templates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("no template {name}: {doc:#}"))
}

/// The DAG task `task` of template `tmpl`.
fn task<'v>(doc: &'v Value, tmpl: &str, task: &str) -> &'v Value {
    template(doc, tmpl)["dag"]["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == task)
        .unwrap_or_else(|| panic!("no task {task} in {tmpl}: {doc:#}"))
}

/// The value of the argument parameter `name` of a task.
fn arg<'v>(task: &'v Value, name: &str) -> &'v Value {
    task["arguments"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .map(|p| &p["value"])
        .unwrap_or_else(|| panic!("no argument {name}: {task:#}"))
}

/// `couler run` of the spec: the exit code and `couler status -o json`.
fn run(spec: &str) -> (Option<i32>, Value) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("wf.yaml"), spec).unwrap();
    let out = couler_in(dir.path(), &["run", "wf.yaml", "-o", "json"]);
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}{}", text(&out.stdout), text(&out.stderr)));
    let id = report["runId"].as_str().unwrap().to_string();
    let status = couler_in(dir.path(), &["status", &id, "-o", "json"]);
    let status = serde_json::from_slice(&status.stdout).unwrap();
    (out.status.code(), status)
}

/// A `sh` script step body.
fn sh(source: &str) -> String {
    format!(
        "script: {{image: alpine, command: [sh], source: {}}}",
        json!(source)
    )
}

/// H1: a reader of a skipped step is Skipped (not Omitted) on Argo, so the steps after it run.
#[test]
fn a_reader_of_a_skipped_step_is_skipped_and_its_successors_run() {
    let s = spec(&format!(
        r#"params: [{{name: run_a, type: bool, default: false}}]
steps:
  - name: a
    when: params.run_a
    {}
  - name: b
    {}
  - name: c
    dependsOn: [b]
    {}
"#,
        sh("echo hello"),
        sh("echo got {{steps.a.outputs.result}}"),
        sh("echo b was {{steps.b.status}}"),
    ));
    let doc = compile(&s);
    let b = task(&doc, "sem", "b");
    // `a` may be Skipped: b waits for it to end, and its guard skips it.
    assert_eq!(b["dependencies"], json!(["a"]), "{b:#}");
    assert_eq!(b["when"], "'{{tasks.a.status}}' == 'Succeeded'", "{b:#}");
    let c = task(&doc, "sem", "c");
    assert_eq!(c["dependencies"], json!(["b"]), "{c:#}");
    assert!(c.get("when").is_none(), "{c:#}");

    let (code, status) = run(&s);
    assert_eq!(code, Some(0), "{status:#}");
    assert_eq!(node(&status, "a")["status"], "Skipped");
    assert_eq!(node(&status, "b")["status"], "Skipped");
    let c = node(&status, "c");
    assert_eq!(c["status"], "Succeeded", "{c:#}");
    assert_eq!(c["outputs"]["result"], "b was Skipped");
}

/// H9 + B3 + M7: mapped outputs are lists of the instances that succeeded, in item order;
/// entries are strings unless every value is a JSON object or array. On Argo they come from
/// output parameters of `S-map` (never Argo's own `result` aggregation, nor `jsonpath`).
#[test]
fn mapped_outputs_list_the_instances_that_ran_the_same_way_on_both() {
    let s = spec(&format!(
        r#"steps:
  - name: rec
    map: {{items: [1, 2, 3]}}
    when: item > 1
    {}
    outputs: {{parameters: [{{name: n, path: n.txt}}]}}
  - name: txt
    map: {{items: [1, 2, 3], parallelism: 2}}
    when: item != 2
    {}
  - name: show
    {}
"#,
        sh(r#"echo "{\"n\": {{item}}}"; echo {{item}} > n.txt"#),
        sh("echo v{{item}}"),
        sh(
            "echo {{steps.rec.outputs.result}}; echo {{steps.rec.outputs.parameters.n}}; echo {{steps.txt.outputs.result}}"
        ),
    ));
    let doc = compile(&s);
    let yaml = text(&compile_out(&s).stdout);
    assert!(!yaml.contains("jsonpath"), "{yaml}");
    assert!(!yaml.contains("tasks.rec.outputs.result"), "{yaml}");
    let show = task(&doc, "sem", "show");
    assert_eq!(
        arg(show, "rec-result"),
        "{{tasks.rec.outputs.parameters.result}}"
    );
    assert_eq!(arg(show, "rec-n"), "{{tasks.rec.outputs.parameters.n}}");
    // The per-item `when` filters instances inside `rec-map`; the step itself has none.
    assert!(task(&doc, "sem", "rec").get("when").is_none());
    let inner = task(&doc, "rec-map", "rec")["when"]
        .as_str()
        .unwrap_or_default();
    assert!(
        inner.starts_with("{{=") && inner.contains("item"),
        "{inner}"
    );
    assert_eq!(
        template(&doc, "rec-map")["outputs"]["parameters"],
        json!([
            {"name": "result", "valueFrom": {"parameter": "{{tasks.rec.outputs.parameters.result}}", "default": "[]"}},
            {"name": "n", "valueFrom": {"parameter": "{{tasks.rec.outputs.parameters.n}}", "default": "[]"}},
        ])
    );
    // Each instance re-exports its standard output as a parameter.
    assert_eq!(task(&doc, "rec-map", "rec")["template"], "rec-each");
    assert_eq!(
        template(&doc, "rec-each")["outputs"]["parameters"][0],
        json!({"name": "result", "valueFrom": {"parameter": "{{tasks.run.outputs.result}}"}})
    );
    assert_eq!(template(&doc, "txt-map")["parallelism"], 2);

    let (code, status) = run(&s);
    assert_eq!(code, Some(0), "{status:#}");
    let rec = node(&status, "rec");
    assert_eq!(rec["outputs"]["result"], r#"[{"n":2},{"n":3}]"#, "{rec:#}");
    assert_eq!(rec["outputs"]["parameters"]["n"], r#"["2","3"]"#);
    assert_eq!(node(&status, "txt")["outputs"]["result"], r#"["v1","v3"]"#);
}

/// H2 + M16: a mapped step that runs no instance (an empty run-time list, an empty static list,
/// every instance filtered out) is Succeeded with `[]`, and its readers run; a `when` that does
/// not read `item` skips the whole step, and its readers are skipped.
#[test]
fn a_mapped_step_without_instances_is_succeeded_with_an_empty_list() {
    let s = spec(&format!(
        r#"params: [{{name: go, type: bool, default: false}}]
steps:
  - name: list
    {}
  - name: from-empty
    map: {{from: steps.list.outputs.result}}
    {}
  - name: none
    map: {{items: []}}
    {}
  - name: filtered
    map: {{items: [1, 2]}}
    when: item > 5
    {}
  - name: off
    map: {{items: [1, 2]}}
    when: params.go
    {}
  - name: summary
    {}
  - name: off-reader
    {}
  - name: after
    dependsOn: [from-empty, off]
    {}
"#,
        sh("echo '[]'"),
        sh("echo item {{item}}"),
        sh("echo item {{item}}"),
        sh("echo item {{item}}"),
        sh("echo item {{item}}"),
        sh(
            "echo {{steps.from-empty.outputs.result}} {{steps.none.outputs.result}} {{steps.filtered.outputs.result}}"
        ),
        sh("echo {{steps.off.outputs.result}}"),
        sh("echo {{steps.from-empty.status}} {{steps.off.status}}"),
    ));
    let doc = compile(&s);
    // An empty list leaves the loop Skipped inside `S-map`, which is Succeeded with `[]`.
    let none = task(&doc, "none-map", "none");
    assert_eq!(none["withParam"], "[]", "{none:#}");
    assert!(none.get("withItems").is_none());
    for m in ["from-empty-map", "none-map", "filtered-map"] {
        assert_eq!(
            template(&doc, m)["outputs"]["parameters"][0]["valueFrom"]["default"],
            "[]"
        );
    }
    assert_eq!(
        task(&doc, "sem", "summary")["depends"],
        "from-empty.Succeeded && none.Succeeded && filtered.Succeeded"
    );
    // The step-level `when` is on the task calling `off-map`; its reader is guarded.
    let off = task(&doc, "sem", "off")["when"]
        .as_str()
        .unwrap_or_default();
    assert!(off.contains("workflow.parameters['go']"), "{off}");
    assert_eq!(
        task(&doc, "sem", "off-reader")["when"],
        "'{{tasks.off.status}}' == 'Succeeded'"
    );

    let (code, status) = run(&s);
    assert_eq!(code, Some(0), "{status:#}");
    for n in ["from-empty", "none", "filtered"] {
        assert_eq!(node(&status, n)["status"], "Succeeded", "{n}");
    }
    assert_eq!(node(&status, "summary")["outputs"]["result"], "[] [] []");
    assert_eq!(node(&status, "off")["status"], "Skipped");
    assert_eq!(node(&status, "off-reader")["status"], "Skipped");
    assert_eq!(
        node(&status, "after")["outputs"]["result"],
        "Succeeded Skipped"
    );
}

/// H6 + M9: a failed `continueOnFailure` step's output parameters skip their readers (Argo
/// would pass the failed pod's partial outputs); its `result` and `exitCode` are read. An
/// Error counts as a failure for `continueOnFailure`, in the exit handler too.
#[test]
fn a_failed_step_that_continues_skips_readers_of_its_outputs() {
    let s = spec(&format!(
        r#"steps:
  - name: p
    continueOnFailure: true
    {}
    outputs: {{parameters: [{{name: x, path: x.txt}}]}}
  - name: reader
    {}
  - name: code-reader
    {}
  - name: err
    continueOnFailure: true
    {}
    outputs: {{parameters: [{{name: y, path: never.txt}}]}}
  - name: next
    dependsOn: [err]
    {}
onExit:
  - name: notify
    continueOnFailure: true
    {}
  - name: cleanup
    dependsOn: [notify]
    {}
"#,
        sh("echo partial > x.txt; echo out; exit 1"),
        sh("echo x={{steps.p.outputs.parameters.x}}"),
        sh("echo code={{steps.p.exitCode}} out={{steps.p.outputs.result}}"),
        sh("true"),
        sh("echo err was {{steps.err.status}}"),
        sh("exit 1"),
        sh("echo cleanup"),
    ));
    let doc = compile(&s);
    let reader = task(&doc, "sem", "reader");
    assert_eq!(
        reader["depends"],
        "(p.Succeeded || p.Skipped || p.Failed || p.Errored)"
    );
    assert_eq!(reader["when"], "'{{tasks.p.status}}' == 'Succeeded'");
    assert_eq!(
        task(&doc, "sem", "code-reader")["when"],
        "('{{tasks.p.status}}' == 'Succeeded' || '{{tasks.p.status}}' == 'Failed')"
    );
    for t in ["p", "err"] {
        assert_eq!(
            task(&doc, "sem", t)["continueOn"],
            json!({"failed": true, "error": true})
        );
    }
    assert_eq!(doc["spec"]["onExit"], "exit-handler");
    assert_eq!(
        task(&doc, "exit-handler", "notify")["continueOn"],
        json!({"failed": true, "error": true})
    );
    assert_eq!(
        task(&doc, "exit-handler", "cleanup")["depends"],
        "(notify.Succeeded || notify.Skipped || notify.Failed || notify.Errored)"
    );

    let (code, status) = run(&s);
    assert_eq!(code, Some(0), "{status:#}");
    assert_eq!(node(&status, "p")["status"], "Failed");
    assert_eq!(node(&status, "reader")["status"], "Skipped");
    let cr = node(&status, "code-reader");
    assert_eq!(cr["outputs"]["result"], "code=1 out=out", "{cr:#}");
    assert_eq!(node(&status, "err")["status"], "Error");
    assert_eq!(node(&status, "next")["outputs"]["result"], "err was Error");
    assert_eq!(node(&status, "notify")["status"], "Failed");
    assert_eq!(node(&status, "cleanup")["status"], "Succeeded");
}

/// M10: an optional input artifact whose producer did not write it: the task's argument is
/// optional too, so Argo runs the reader without it instead of failing to resolve it.
#[test]
fn an_optional_input_artifact_is_optional_in_the_task_argument() {
    let s = spec(&format!(
        r#"steps:
  - name: maybe
    {}
    outputs: {{artifacts: [{{name: extra, path: extra.txt, optional: true}}]}}
  - name: use
    {}
    inputs: {{artifacts: [{{name: extra, path: in.txt, from: steps.maybe.outputs.artifacts.extra, optional: true}}]}}
"#,
        sh("echo no file"),
        sh("test -e in.txt && echo got || echo none"),
    ));
    let doc = compile(&s);
    let use_ = task(&doc, "sem", "use");
    assert_eq!(
        use_["arguments"]["artifacts"],
        json!([{"name": "extra", "from": "{{tasks.maybe.outputs.artifacts.extra}}", "optional": true}])
    );
    let (code, status) = run(&s);
    assert_eq!(code, Some(0), "{status:#}");
    assert_eq!(node(&status, "use")["outputs"]["result"], "none");
}

/// M12: exit steps read each other's outputs on Argo (tasks of the exit handler's DAG); reading
/// a main step's outputs there is refused with the reason.
#[test]
fn exit_steps_read_each_others_outputs() {
    let s = spec(&format!(
        r#"steps:
  - name: work
    {}
onExit:
  - name: summarize
    {}
  - name: post
    {}
"#,
        sh("echo ok"),
        sh("echo summary of {{workflow.status}}"),
        sh("echo posting {{steps.summarize.outputs.result}}"),
    ));
    let doc = compile(&s);
    let post = task(&doc, "exit-handler", "post");
    assert_eq!(post["depends"], "summarize.Succeeded");
    assert_eq!(
        arg(post, "summarize-result"),
        "{{tasks.summarize.outputs.result}}"
    );
    let (code, status) = run(&s);
    assert_eq!(code, Some(0), "{status:#}");
    assert_eq!(
        node(&status, "post")["outputs"]["result"],
        "posting summary of Succeeded"
    );

    let main = s.replace(
        "{{steps.summarize.outputs.result}}",
        "{{steps.work.outputs.result}}",
    );
    let out = compile_out(&main);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("post") && err.contains("`work`"), "{err}");
}
