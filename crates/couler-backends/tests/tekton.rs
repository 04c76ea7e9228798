//! The Tekton backend on every example and on one spec per IR feature: golden snapshots (insta)
//! of each output or of the documented error, the semantic lint, the CRDs' `openAPIV3Schema`
//! (from `../shared/schemas/tekton/`, skipped with a message when absent), `@ibm/tekton-lint`
//! (installed by `scripts/tekton-lint-deps`, or the executable named by `COULER_TEKTON_LINT`),
//! determinism, skip propagation, and hostile strings.

use couler_backends::tekton::{self, Tekton};
use couler_backends::{Backend, CompileError, Options};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

mod common;
use common::repo;

/// The shared specs (examples and per-feature specs) plus Tekton's own feature spec.
fn specs() -> Vec<PathBuf> {
    let mut all = common::specs();
    all.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tekton/supported.yaml"));
    all
}

fn load(path: &Path) -> couler_ir::Workflow {
    let text = std::fs::read_to_string(path).unwrap();
    match couler_ir::spec::load(&text, couler_ir::Format::Yaml) {
        Ok((wf, _)) => wf,
        Err(d) => panic!("{}: {d:?}", path.display()),
    }
}

fn load_str(text: &str) -> couler_ir::Workflow {
    match couler_ir::spec::load(text, couler_ir::Format::Yaml) {
        Ok((wf, _)) => wf,
        Err(d) => panic!("{d:?}\n{text}"),
    }
}

fn snapshot_name(path: &Path) -> String {
    let stem = path.file_stem().unwrap().to_string_lossy().to_string();
    if path.parent().is_some_and(|p| p.ends_with("tests/tekton")) {
        format!("tekton-{stem}")
    } else if path.parent().is_some_and(|p| p.ends_with("features")) {
        format!("feature-{stem}")
    } else if path.parent().is_some_and(|p| p.ends_with("cluster")) {
        format!("example-cluster-{stem}")
    } else {
        format!("example-{stem}")
    }
}

/// The documents of a multi-document YAML file.
fn documents(yaml: &str) -> Vec<Value> {
    use serde::Deserialize;
    serde_norway::Deserializer::from_str(yaml)
        .map(|d| Value::deserialize(d).unwrap())
        .collect()
}

/// The `v1` `openAPIV3Schema` of each Tekton CRD, by kind, when `../shared` has them.
type Schemas = Vec<(String, jsonschema::Validator, Value)>;

fn schemas() -> Option<&'static Schemas> {
    static V: OnceLock<Option<Schemas>> = OnceLock::new();
    V.get_or_init(|| {
        let dir = repo().join("../shared/schemas/tekton");
        let mut out = Vec::new();
        for (file, kind) in [
            ("300-task.yaml", "Task"),
            ("300-pipeline.yaml", "Pipeline"),
            ("300-pipelinerun.yaml", "PipelineRun"),
        ] {
            let path = dir.join(file);
            let Ok(text) = std::fs::read_to_string(&path) else {
                println!(
                    "skipping Tekton CRD schema checks: {} is absent",
                    path.display()
                );
                return None;
            };
            let crd: Value = serde_norway::from_str(&text).unwrap();
            let schema = crd["spec"]["versions"]
                .as_array()
                .unwrap()
                .iter()
                .find(|v| v["name"] == "v1")
                .unwrap_or_else(|| panic!("{}: no v1 version", path.display()))
                ["schema"]["openAPIV3Schema"]
                .clone();
            let v = jsonschema::validator_for(&schema)
                .unwrap_or_else(|e| panic!("{}: the schema does not compile: {e}", path.display()));
            out.push((kind.to_string(), v, schema));
        }
        Some(out)
    })
    .as_ref()
}

fn schema_errors(doc: &Value) -> Vec<String> {
    let Some(schemas) = schemas() else {
        return Vec::new();
    };
    let kind = doc["kind"].as_str().unwrap_or("");
    let (_, v, raw) = schemas
        .iter()
        .find(|(k, _, _)| k == kind)
        .unwrap_or_else(|| panic!("no schema for kind `{kind}`"));
    let mut errors: Vec<String> = v
        .iter_errors(doc)
        .map(|e| format!("{kind}: {e} at {}", e.instance_path()))
        .collect();
    pruned(raw, doc, kind.to_string(), &mut errors);
    errors
}

/// Fields the schema does not know: JSON Schema accepts them, but Kubernetes silently prunes
/// them from a structural CRD, so a misspelled field would vanish on `kubectl apply`.
fn pruned(schema: &Value, doc: &Value, at: String, out: &mut Vec<String>) {
    // `metadata` is ObjectMeta, which the API server checks itself (the CRD says `object`).
    let top_metadata = at.ends_with(".metadata") && at.matches('.').count() == 1;
    if schema["x-kubernetes-preserve-unknown-fields"] == true || top_metadata {
        return;
    }
    match doc {
        Value::Object(m) => {
            let props = schema["properties"].as_object();
            for (k, v) in m {
                let at = format!("{at}.{k}");
                match props.and_then(|p| p.get(k)) {
                    Some(sub) => pruned(sub, v, at, out),
                    None if schema["additionalProperties"].is_object() => {
                        pruned(&schema["additionalProperties"], v, at, out)
                    }
                    None => out.push(format!("{at}: not in the schema, Kubernetes would drop it")),
                }
            }
        }
        Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                pruned(&schema["items"], v, format!("{at}[{i}]"), out);
            }
        }
        _ => {}
    }
}

/// Lint + schema checks of one emitted file.
fn check_file(name: &str, yaml: &str) -> Vec<Value> {
    let docs = documents(yaml);
    let problems = tekton::lint::lint(&docs);
    assert!(problems.is_empty(), "{name}: lint: {problems:#?}\n{yaml}");
    for d in &docs {
        let errors = schema_errors(d);
        assert!(errors.is_empty(), "{name}: schema: {errors:#?}\n{yaml}");
    }
    docs
}

/// Every pipeline task's launcher input, as Tekton would hand it over (the step's name put in):
/// it loads as a valid workflow (as `couler launch` loads it) holding the step exactly as
/// compiled, apart from `dependsOn`, which the Pipeline's `runAfter` carries.
fn check_launcher_tasks(wf: &couler_ir::Workflow, docs: &[Value]) {
    let p = docs.iter().find(|d| d["kind"] == "Pipeline").unwrap();
    let all = p["spec"]["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .chain(p["spec"]["finally"].as_array().into_iter().flatten());
    for pt in all {
        let step_name = pt["params"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["name"] == "couler-step")
            .unwrap()["value"]
            .as_str()
            .unwrap();
        let task = docs
            .iter()
            .find(|d| d["kind"] == "Task" && d["metadata"]["name"] == pt["taskRef"]["name"])
            .unwrap();
        let env = task["spec"]["steps"].as_array().unwrap().last().unwrap()["env"]
            .as_array()
            .unwrap();
        let text = env.iter().find(|e| e["name"] == "COULER_TASK").unwrap()["value"]
            .as_str()
            .unwrap();
        assert_eq!(
            text.matches('$').count(),
            1,
            "only Tekton's step-name variable"
        );
        let given: Value =
            serde_json::from_str(&text.replace("$(params.couler-step)", step_name)).unwrap();
        assert_eq!(given["step"], step_name);
        let (cut, _) =
            couler_ir::spec::load(&given["workflow"].to_string(), couler_ir::Format::Json)
                .unwrap_or_else(|d| {
                    panic!("{}: the launcher's workflow is invalid: {d:?}", wf.name)
                });
        let mut want = wf
            .steps
            .iter()
            .chain(&wf.on_exit)
            .find(|s| s.name == step_name)
            .unwrap()
            .clone();
        want.depends_on.clear();
        let got = cut
            .steps
            .iter()
            .chain(&cut.on_exit)
            .find(|s| s.name == step_name)
            .unwrap();
        assert_eq!(
            *got, want,
            "{}: step `{step_name}` changed on its way",
            wf.name
        );
        assert_eq!(cut.params, wf.params);
        assert_eq!(cut.defaults, wf.defaults);
    }
}

/// Compiles with `ignore_parallelism` (`ml-pipeline`'s `parallelism` cannot be enforced; the
/// refusal without it has its own test).
fn compile(wf: &couler_ir::Workflow) -> Result<String, CompileError> {
    let options = Options {
        ignore_parallelism: true,
        ..Options::default()
    };
    let out = Tekton.compile(wf, &options)?;
    assert_eq!(out.files.len(), 1);
    assert_eq!(
        out.files.keys().next().unwrap(),
        &format!("{}.yaml", wf.name)
    );
    Ok(out.files.into_values().next().unwrap())
}

/// Every spec either compiles to documents that pass every check, or fails with the documented
/// error: an unsupported feature that the workflow uses and Tekton's matrix row marks `-`.
/// Returns the files that compiled.
fn compile_all() -> Vec<(PathBuf, String)> {
    let mut ok = Vec::new();
    for path in specs() {
        let wf = load(&path);
        match compile(&wf) {
            Ok(yaml) => {
                let docs = check_file(&path.display().to_string(), &yaml);
                check_launcher_tasks(&wf, &docs);
                ok.push((path, yaml));
            }
            Err(e) => {
                let CompileError::Unsupported { feature, step, .. } = &e else {
                    panic!("{}: {e}", path.display());
                };
                assert!(
                    !Tekton.support(*feature).is_supported()
                        || matches!(
                            &e,
                            CompileError::Unsupported {
                                detail: Some(_),
                                ..
                            }
                        ),
                    "{}: {e}",
                    path.display()
                );
                let used = couler_backends::features_used(&wf);
                assert!(
                    used.iter()
                        .any(|u| u.feature == *feature && (step.is_none() || u.step == *step)),
                    "{}: the error names a feature the workflow does not use: {e}",
                    path.display()
                );
            }
        }
    }
    ok
}

#[test]
fn every_spec_compiles_to_checked_documents_or_fails_with_the_documented_error() {
    let ok = compile_all();
    // The examples this backend is built for must be among those that compile.
    for must in [
        "hello",
        "diamond",
        "coin-flip",
        "artifact-passing",
        "automl",
        "flip-until-tails",
        "model-search",
        "ml-pipeline",
        "supported",
    ] {
        assert!(
            ok.iter()
                .any(|(p, _)| p.file_stem().unwrap().to_string_lossy() == must),
            "example `{must}` did not compile"
        );
    }
}

#[test]
fn golden_output_or_error_for_every_spec() {
    for path in specs() {
        let wf = load(&path);
        let text = match compile(&wf) {
            Ok(yaml) => yaml,
            Err(e) => format!("error: {e}\n"),
        };
        insta::assert_snapshot!(snapshot_name(&path), text);
    }
}

#[test]
fn output_is_deterministic() {
    for path in specs() {
        let wf = load(&path);
        assert_eq!(compile(&wf).ok(), compile(&wf).ok(), "{}", path.display());
    }
}

#[test]
fn the_crd_schemas_reject_a_broken_document() {
    if schemas().is_none() {
        return;
    }
    let yaml = compile(&load(&repo().join("examples/hello.yaml"))).unwrap();
    let docs = documents(&yaml);
    let mut pipeline = docs
        .iter()
        .find(|d| d["kind"] == "Pipeline")
        .unwrap()
        .clone();
    pipeline["spec"]["tasks"] = Value::String("not a list".into());
    assert!(
        !schema_errors(&pipeline).is_empty(),
        "the Pipeline schema accepted tasks: string"
    );
    let mut misspelled = docs.iter().find(|d| d["kind"] == "Task").unwrap().clone();
    misspelled["spec"]["steps"][1]["imagee"] = Value::String("x".into());
    assert!(
        schema_errors(&misspelled)
            .iter()
            .any(|e| e.contains("imagee") && e.contains("drop")),
        "a field Kubernetes would prune went unnoticed"
    );
    let run = docs.iter().find(|d| d["kind"] == "PipelineRun").unwrap();
    assert!(schema_errors(run).is_empty());
    let mut bad_timeout = run.clone();
    bad_timeout["spec"]["timeouts"] = serde_json::json!({"pipeline": 5});
    assert!(
        !schema_errors(&bad_timeout).is_empty(),
        "the PipelineRun schema accepted a numeric timeout"
    );
    let mut nameless = run.clone();
    nameless["spec"]["params"] = serde_json::json!([{"value": "x"}]);
    assert!(
        !schema_errors(&nameless).is_empty(),
        "the PipelineRun schema accepted a param without a name"
    );
}

/// `COULER_TEKTON_LINT`, else the executable `scripts/tekton-lint-deps` installs.
fn tekton_lint() -> String {
    common::installed_tool(
        "COULER_TEKTON_LINT",
        "tekton-lint-deps",
        "@ibm/tekton-lint@1.1.0 with npm (Node.js 18+)",
    )
}

/// Runs tekton-lint on `files` in a fresh directory (with its own config); returns (success,
/// output).
fn run_tekton_lint(files: &[(String, String)]) -> (bool, String) {
    run_tekton_lint_with(files, "")
}

/// [`run_tekton_lint`] with `rules` (YAML lines) added to the config.
fn run_tekton_lint_with(files: &[(String, String)], rules: &str) -> (bool, String) {
    let exe = tekton_lint();
    let dir = std::env::temp_dir().join(format!(
        "couler-tekton-lint-{}-{}",
        std::process::id(),
        files.len()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // Every rule at its default level; no external tasks, nothing fetched.
    std::fs::write(
        dir.join(".tektonlintrc.yaml"),
        format!("---\nglobs: []\n{rules}"),
    )
    .unwrap();
    let mut args = vec![
        "--color=false".to_string(),
        "--max-warnings=0".to_string(),
        "--config".to_string(),
        dir.display().to_string(),
    ];
    for (name, text) in files {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        args.push(p.display().to_string());
    }
    let out = Command::new(&exe)
        .args(&args)
        .current_dir(&dir)
        .env("HOME", &dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {exe}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
    (out.status.success(), text)
}

#[test]
fn every_document_passes_tekton_lint_which_catches_a_broken_one() {
    let ok = compile_all();
    for (path, yaml) in &ok {
        // Workflow params keep the user's names (`n_samples`: Tekton accepts `_`, and a run
        // sets them by those names); tekton-lint's style rule prefers kebab-case for them, so
        // that one rule is off for a workflow that names one so, every other rule stays.
        let snake = load(path).params.iter().any(|p| p.name.contains('_'));
        let rules = if snake {
            "rules:\n  prefer-kebab-case: off\n"
        } else {
            ""
        };
        let (success, text) = run_tekton_lint_with(&[("out.yaml".into(), yaml.clone())], rules);
        assert!(success, "{}: tekton-lint:\n{text}\n{yaml}", path.display());
    }
    // A Pipeline whose task passes an undeclared param and references a missing result.
    let hello = &ok
        .iter()
        .find(|(p, _)| p.ends_with("hello.yaml"))
        .unwrap()
        .1;
    let broken = hello.replace("name: couler-step\n", "name: couler-stp\n");
    assert_ne!(&broken, hello);
    let (success, text) = run_tekton_lint(&[("broken.yaml".into(), broken)]);
    assert!(!success, "tekton-lint accepted a broken document:\n{text}");
}

// ---- semantics --------------------------------------------------------------------------------

fn pipeline_of(yaml: &str) -> Value {
    documents(yaml)
        .into_iter()
        .find(|d| d["kind"] == "Pipeline")
        .unwrap()
}

fn task_of<'a>(pipeline: &'a Value, name: &str) -> &'a Value {
    pipeline["spec"]["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .chain(pipeline["spec"]["finally"].as_array().into_iter().flatten())
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("no pipeline task `{name}`"))
}

fn param_values(task: &Value) -> Vec<String> {
    task["params"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["value"].as_str().unwrap_or("").to_string())
        .collect()
}

#[test]
fn skips_propagate_to_readers_of_outputs_as_in_the_local_runtime() {
    let yaml = compile(&load_str(
        r#"apiVersion: couler.dev/v1alpha1
kind: Workflow
name: skips
params: [{name: mode, default: fast}]
steps:
  - name: a
    when: params.mode == "slow"
    container: {image: alpine:3.19, command: [sh, -c, "echo hi > /tmp/o"]}
    outputs: {parameters: [{name: o, path: /tmp/o}], artifacts: [{name: f, path: /tmp/o}]}
  - name: reads-param
    container: {image: alpine:3.19, command: [echo, "{{steps.a.outputs.parameters.o}}"]}
  - name: reads-artifact
    container: {image: alpine:3.19, command: [cat, /tmp/in]}
    inputs: {artifacts: [{name: f, path: /tmp/in, from: steps.a.outputs.artifacts.f}]}
    outputs: {artifacts: [{name: g, path: /tmp/in}]}
  - name: transitively
    inputs: {artifacts: [{name: f, path: /tmp/in, from: steps.reads-artifact.outputs.artifacts.g}]}
    container: {image: alpine:3.19, command: [cat, /tmp/in]}
  - name: only-ordered
    dependsOn: [a]
    container: {image: alpine:3.19, command: [echo, after]}
"#,
    ))
    .unwrap();
    check_file("skips", &yaml);
    let p = pipeline_of(&yaml);
    // No task is skipped by Tekton: no `when` expressions, no condition tasks. Each step's
    // launcher evaluates its own `when` and reports `Skipped` with exit 0 and its results.
    for t in p["spec"]["tasks"].as_array().unwrap() {
        assert!(t["when"].is_null(), "{t}");
        assert!(!t["name"].as_str().unwrap().ends_with("-when"), "{t}");
    }
    for t in documents(&yaml).iter().filter(|d| d["kind"] == "Task") {
        let cmd = &t["spec"]["steps"][1]["command"];
        assert_eq!(
            cmd[cmd.as_array().unwrap().len() - 2],
            "--skipped-exit-code"
        );
        assert_eq!(cmd[cmd.as_array().unwrap().len() - 1], "0");
    }
    // Every reader of an output consumes its producer's outcome result (which says `Skipped`
    // when the producer was), so its launcher skips it, transitively, as `couler run` does.
    for (reader, producer) in [
        ("reads-param", "a"),
        ("reads-artifact", "a"),
        ("transitively", "reads-artifact"),
    ] {
        let want = format!("$(tasks.{producer}.results.outcome)");
        assert!(
            param_values(task_of(&p, reader)).contains(&want),
            "`{reader}` does not consume `{producer}`'s outcome"
        );
    }
    // dependsOn a skipped step does not skip, in `couler run` as here: no result consumed, and
    // the skipped step's TaskRun succeeded, so Tekton runs it.
    let ordered = task_of(&p, "only-ordered");
    assert!(ordered["when"].is_null());
    assert!(!param_values(ordered).iter().any(|v| v.contains("$(tasks.")));
    assert_eq!(ordered["runAfter"], serde_json::json!(["a"]));
}

#[test]
fn other_conditions_are_evaluated_by_the_launcher_and_exit_handler_limits_are_clear_errors() {
    let base = "apiVersion: couler.dev/v1alpha1\nkind: Workflow\nname: cond\nparams: [{name: n, type: float, default: 1}]\nsteps:\n  - name: up\n    script: {image: python:3.12-slim, source: print(3)}\n  - name: s\n    container: {image: alpine:3.19, command: [echo]}\n";
    for cond in [
        "params.n > 0.5",
        "params.n == 3",
        "steps.up.outputs.result == \"3\"",
        "params.n == \"a\" || steps.up.outputs.result >= 2",
    ] {
        let yaml = compile(&load_str(&format!("{base}    when: '{cond}'\n"))).unwrap();
        check_file(cond, &yaml);
        let p = pipeline_of(&yaml);
        // No condition task and no Tekton `when`: the step's launcher evaluates the condition
        // on the values it is given (the reader of `up` consumes `up`'s outcome, after it).
        assert!(
            p["spec"]["tasks"]
                .as_array()
                .unwrap()
                .iter()
                .all(|t| t["when"].is_null() && t["name"] != "s-when"),
            "{cond}"
        );
        let s = task_of(&p, "s");
        let reads_up = cond.contains("steps.up");
        assert_eq!(
            param_values(s).contains(&"$(tasks.up.results.outcome)".to_string()),
            reads_up,
            "{cond}"
        );
        assert_eq!(
            s["runAfter"] == serde_json::json!(["up"]),
            reads_up,
            "{cond}"
        );
        assert!(param_values(s).contains(&"$(params.n)".to_string()) || !cond.contains("params.n"));
    }
    // A `when` on `item` is each instance's: the launcher runs the instances (no matrix).
    let per_item = load_str(&format!(
        "{base}    map: {{items: [a, b]}}\n    when: 'item == \"a\"'\n"
    ));
    let yaml = compile(&per_item).unwrap();
    check_file("per-item", &yaml);
    assert!(
        task_of(&pipeline_of(&yaml), "s")["matrix"].is_null(),
        "{yaml}"
    );
    let exit = |extra: &str| {
        load_str(&format!(
            "{base}onExit:\n  name: bye\n  container: {{image: alpine:3.19, command: [echo, '{extra}']}}\n"
        ))
    };
    let e = compile(&exit("{{steps.up.outputs.result}}"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("bye") && e.contains("workflow.status"), "{e}");
    let yaml = compile(&exit("{{workflow.status}}")).unwrap();
    check_file("exit", &yaml);
    let p = pipeline_of(&yaml);
    assert!(param_values(task_of(&p, "bye")).contains(&"$(tasks.status)".to_string()));
}

#[test]
fn repeat_loops_in_the_launcher_and_schedule_is_a_clear_error() {
    let base = "apiVersion: couler.dev/v1alpha1\nkind: Workflow\nname: bad\nsteps:\n  - name: s\n    container: {image: alpine:3.19, command: [echo]}\n";
    // The launcher loops inside the one TaskRun, so the step's timeout is each run's (the
    // launcher's), not a Tekton task timeout over the whole loop; the loop reads its own
    // outcome, not a result of its own task.
    let wf = load_str(&format!(
        "{base}    timeout: 30s\n    repeat: {{while: steps.s.outputs.result == \"again\", maxIterations: 3}}\n"
    ));
    let yaml = compile(&wf).unwrap();
    check_file("repeat", &yaml);
    let s = task_of(&pipeline_of(&yaml), "s").clone();
    assert!(
        s["timeout"].is_null() && s["params"].to_string().find("tasks.s.").is_none(),
        "{s}"
    );
    let cron = load_str(&format!("{base}schedule: {{cron: \"0 2 * * *\"}}\n"));
    let e = compile(&cron).unwrap_err().to_string();
    assert!(
        e.starts_with("tekton does not support cron schedules") && e.contains("supported by: argo"),
        "{e}"
    );
}

#[test]
fn workflow_parallelism_is_refused_naming_the_field_and_the_flag_that_drops_it() {
    let wf = load(&repo().join("examples/ml-pipeline.yaml"));
    let e = Tekton
        .compile(&wf, &Options::default())
        .unwrap_err()
        .to_string();
    for part in [
        "workflow `ml-pipeline`",
        "`parallelism: 4`",
        "top-level field `parallelism`",
        "no concurrency limit",
        "--ignore-parallelism",
        "ignore_parallelism=True",
        "argo, airflow, local",
    ] {
        assert!(e.contains(part), "`{part}` in: {e}");
    }
    let options = Options {
        ignore_parallelism: true,
        ..Options::default()
    };
    let out = Tekton.compile(&wf, &options).unwrap();
    assert!(
        out.warnings
            .iter()
            .any(|w| w.contains("`parallelism: 4` is dropped")),
        "{:?}",
        out.warnings
    );
}

/// A map whose collected outputs are read, that maps a run-time list, or that has its own
/// `parallelism` runs in its launcher (one TaskRun, no index param); another is a `matrix`.
#[test]
fn maps_the_launcher_must_run_have_no_matrix_and_others_keep_it() {
    let yaml = compile(&load(&repo().join("examples/model-search.yaml"))).unwrap();
    let p = pipeline_of(&yaml);
    for step in ["train", "evaluate"] {
        let t = task_of(&p, step);
        assert!(t["matrix"].is_null(), "{step}: {t}");
        assert!(
            !t["params"].to_string().contains("couler-item-index"),
            "{step}: {t}"
        );
    }
    assert!(
        param_values(task_of(&p, "evaluate"))
            .contains(&"$(tasks.train.results.outcome)".to_string())
    );
    let plain = load_str(
        "apiVersion: couler.dev/v1alpha1\nkind: Workflow\nname: plain\nsteps:\n  - name: s\n    map: {items: [a, b]}\n    container: {image: alpine:3.19, command: [echo, '{{item}}']}\n",
    );
    let yaml = compile(&plain).unwrap();
    assert!(
        task_of(&pipeline_of(&yaml), "s")["matrix"].is_object(),
        "{yaml}"
    );
}

#[test]
fn identical_steps_share_one_task() {
    let mut spec =
        String::from("apiVersion: couler.dev/v1alpha1\nkind: Workflow\nname: many\nsteps:\n");
    for i in 0..20 {
        spec.push_str(&format!(
            "  - name: s{i}\n    container: {{image: alpine:3.19, command: [echo, same]}}\n"
        ));
    }
    let yaml = compile(&load_str(&spec)).unwrap();
    let docs = check_file("many", &yaml);
    assert_eq!(docs.iter().filter(|d| d["kind"] == "Task").count(), 1);
    let apart = Tekton
        .compile(
            &load_str(&spec),
            &Options {
                no_template_reuse: true,
                ..Options::default()
            },
        )
        .unwrap();
    let docs = documents(apart.files.values().next().unwrap());
    assert_eq!(docs.iter().filter(|d| d["kind"] == "Task").count(), 20);
}

// ---- hostile strings --------------------------------------------------------------------------

const HOSTILE: [&str; 8] = [
    "it's \"quoted\"",
    "line one\nline two\r\n",
    "'''triple''' \"\"\"quotes\"\"\"",
    "{{ .Values.x }} {{",
    "$(params.secret) $(context.pipelineRun.name) $(tasks.status) $(",
    "back\\slash \\n \\$(x) `whoami`; rm -rf / #",
    "non-ASCII: é 日本 🚀 \u{200b}",
    "${HOME} $HOME $((1+1))",
];

#[test]
fn hostile_strings_arrive_unchanged_and_never_where_tekton_substitutes() {
    let mut spec = couler_ir::Workflow::new("hostile");
    spec.params.push(couler_ir::WorkflowParam {
        name: "p".into(),
        ty: couler_ir::ParamType::String,
        default: Some(Value::String(HOSTILE.join("|"))),
        description: Some(HOSTILE[4].into()),
        allowed: Vec::new(),
    });
    let text = |s: &str| couler_ir::Template::text(s);
    let mut container = couler_ir::Step::new(
        "run-it",
        couler_ir::StepKind::Container(couler_ir::Container {
            image: Some("alpine:3.19".into()),
            command: HOSTILE.iter().map(|s| text(s)).collect(),
            args: vec![couler_ir::Template::parse("{{params.p}} and $(params.p)").unwrap()],
            working_dir: None,
            daemon: false,
        }),
    );
    for (i, h) in HOSTILE.iter().enumerate() {
        container.env.insert(format!("E{i}"), text(h));
    }
    container.inputs.parameters.push(couler_ir::InputParameter {
        name: "x".into(),
        value: Some(text(HOSTILE[4])),
    });
    let script = couler_ir::Step::new(
        "script",
        couler_ir::StepKind::Script(couler_ir::Script {
            image: Some("python:3.12-slim".into()),
            command: vec!["python3".into()],
            source: text(&HOSTILE.join("\n")),
            daemon: false,
        }),
    );
    let mut mapped = couler_ir::Step::new(
        "mapped",
        couler_ir::StepKind::Container(couler_ir::Container {
            image: Some("alpine:3.19".into()),
            command: vec![couler_ir::Template::parse("{{item}}").unwrap()],
            args: Vec::new(),
            working_dir: None,
            daemon: false,
        }),
    );
    mapped.map = Some(Box::new(couler_ir::Map {
        over: couler_ir::MapOver::Items(
            HOSTILE
                .iter()
                .map(|s| Value::String(s.to_string()))
                .collect(),
        ),
        parallelism: None,
    }));
    spec.steps = vec![container.clone(), script.clone(), mapped];
    let spec_text = couler_ir::spec::to_yaml(&spec);
    let wf = load_str(&spec_text);
    assert_eq!(wf, spec, "the IR round-trips");
    let yaml = compile(&wf).unwrap();
    // The YAML parses back, and passes the lint, whose variable check fails on any `$(…)` that
    // did not come from the compiler.
    let docs = check_file("hostile", &yaml);
    // No user string stands anywhere Tekton substitutes: no `$(params.secret)`, `$(tasks.status)`
    // … in the Tasks or the Pipeline.
    for d in docs.iter().filter(|d| d["kind"] != "PipelineRun") {
        let text = serde_json::to_string(d).unwrap();
        for bad in [
            "$(params.secret",
            "$(context.pipelineRun.name)",
            "$(tasks.status",
            "${HOME",
            "$((",
            "$(",
        ] {
            let ours = text.matches("$(").count()
                - text.matches("$(params.").count()
                - text.matches("$(context.pipelineRun.uid)").count()
                - text.matches("$(tasks.").count();
            assert_eq!(ours, 0, "{} has an unexpected variable", d["kind"]);
            if bad != "$(" {
                assert!(!text.contains(bad), "{} carries {bad:?}", d["kind"]);
            }
        }
    }
    // Every value arrives unchanged: what each Task hands the launcher decodes, once Tekton has
    // put the step's name in, to a workflow holding exactly the compiled step.
    check_launcher_tasks(&wf, &docs);
    for t in docs.iter().filter(|d| d["kind"] == "Task") {
        let run = &t["spec"]["steps"][1];
        assert_eq!(
            run["command"],
            serde_json::json!([
                "/couler/bin/couler",
                "launch",
                "step",
                "--results-dir",
                "/tekton/results",
                "--skipped-exit-code",
                "0"
            ])
        );
        assert!(run["args"].is_null(), "no user string in args");
    }
    // Matrix instances get indices only: item values never pass through Tekton.
    let p = pipeline_of(&yaml);
    let items = &task_of(&p, "mapped")["matrix"]["params"][0]["value"];
    assert_eq!(
        *items,
        serde_json::json!(["0", "1", "2", "3", "4", "5", "6", "7"])
    );
    // The PipelineRun carries the param's value exactly (PipelineRun values are not substituted).
    let run = docs.iter().find(|d| d["kind"] == "PipelineRun").unwrap();
    assert_eq!(run["spec"]["params"][0]["value"], HOSTILE.join("|"));
    // A user literal that would have to stand in a substituted field is refused, not changed.
    let mut bad = spec.clone();
    if let couler_ir::StepKind::Container(c) = &mut bad.steps[0].kind {
        c.image = Some("alpine:$(params.p)".into());
    }
    let e = compile(&bad).unwrap_err().to_string();
    assert!(
        e.contains("run-it") && e.contains("image") && e.contains("$("),
        "{e}"
    );
}

#[test]
fn documents_grow_linearly_with_the_workflow() {
    // A chain where each step reads the one before: every Task is distinct, so a Task carrying
    // the whole workflow would make the output quadratic.
    let size = |n: usize| {
        let mut spec =
            String::from("apiVersion: couler.dev/v1alpha1\nkind: Workflow\nname: chain\nsteps:\n");
        for i in 0..n {
            let arg = if i == 0 {
                "start".to_string()
            } else {
                format!("{{{{steps.s{}.outputs.result}}}}", i - 1)
            };
            spec.push_str(&format!(
                "  - name: s{i}\n    container: {{image: alpine:3.19, command: [echo, \"{arg}\"]}}\n"
            ));
        }
        compile(&load_str(&spec)).unwrap().len()
    };
    let (small, large) = (size(100), size(400));
    let ratio = large as f64 / small as f64;
    assert!(
        ratio < 4.5,
        "4x the steps gave {ratio:.2}x the bytes ({small} → {large})"
    );
}

// ---- split workflows ---------------------------------------------------------------------------

/// Two parts and a parent as `couler split` builds them: the part's artifact crosses the cut
/// through a directory in the run's artifact volume, the parent passes its param to both.
fn split_fixture() -> (couler_ir::Workflow, Vec<(String, couler_ir::Workflow)>) {
    let head = "apiVersion: couler.dev/v1alpha1\nkind: Workflow\nparams:\n  - name: n\n    type: int\n    default: 3\nvolumeClaims:\n  - name: data\n    size: 2Gi\n    accessModes: [ReadWriteMany]\n";
    let part1 = format!(
        "{head}name: wf-part-1\nsteps:\n  - name: a\n    container:\n      image: alpine:3.19\n      command: [sh, -c, 'echo {{{{params.n}}}} > /tmp/o']\n    nodeSelector: {{gpu: a100}}\n    outputs:\n      artifacts:\n        - name: o\n          path: /tmp/o\n          storage: {{local: {{path: /workspace/couler-artifacts/couler-exchange/a/o}}}}\n"
    );
    let part2 = format!(
        "{head}name: wf-part-2\nsteps:\n  - name: b\n    container:\n      image: alpine:3.19\n      command: [sh, -c, 'cat /tmp/i; echo {{{{params.n}}}}']\n    inputs:\n      artifacts:\n        - name: i\n          path: /tmp/i\n          storage: {{local: {{path: /workspace/couler-artifacts/couler-exchange/a/o}}}}\n"
    );
    let parent = format!(
        "{head}name: wf\nsteps:\n  - name: wf-part-1\n    workflow: {{ref: wf-part-1.yaml, params: {{n: '{{{{params.n}}}}'}}}}\n  - name: wf-part-2\n    dependsOn: [wf-part-1]\n    workflow: {{ref: wf-part-2.yaml, params: {{n: '{{{{params.n}}}}'}}}}\nonExit:\n  - name: report\n    container:\n      image: alpine:3.19\n      command: [echo, '{{{{workflow.status}}}}']\n"
    );
    (
        load_str(&parent),
        vec![
            ("wf-part-1.yaml".into(), load_str(&part1)),
            ("wf-part-2.yaml".into(), load_str(&part2)),
        ],
    )
}

#[test]
fn a_split_workflow_compiles_to_valid_chained_pipelineruns() {
    use couler_backends::SplitLowering;
    let (parent, children) = split_fixture();
    let files = Tekton
        .compile_split(&parent, &children, &Options::default())
        .unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = files.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "wf-part-1.yaml",
            "wf-part-2.yaml",
            "wf-rbac.yaml",
            "wf.yaml"
        ]
    );
    // Parts: Tasks and a Pipeline, no PipelineRun (applying them must start nothing).
    for part in ["wf-part-1.yaml", "wf-part-2.yaml"] {
        let docs = check_file(part, &files[part]);
        assert!(docs.iter().all(|d| d["kind"] != "PipelineRun"), "{part}");
    }
    let docs = check_file("wf.yaml", &files["wf.yaml"]);
    let pipeline = docs.iter().find(|d| d["kind"] == "Pipeline").unwrap();
    let tasks = pipeline["spec"]["tasks"].as_array().unwrap();
    assert_eq!(tasks[1]["runAfter"], serde_json::json!(["wf-part-1"]));
    // Each part's task binds every volume of the run and passes the parent's identity.
    for t in tasks {
        let bound: Vec<&str> = t["workspaces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w["name"].as_str().unwrap())
            .collect();
        assert_eq!(bound, ["couler-artifacts", "data"], "{t}");
        let param = |n: &str| {
            t["params"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["name"] == n)
                .map(|p| p["value"].clone())
        };
        assert_eq!(
            param("couler-parent-run"),
            Some("$(context.pipelineRun.name)".into())
        );
        assert_eq!(
            param("couler-namespace"),
            Some("$(context.pipelineRun.namespace)".into())
        );
    }
    // The task's child run is part 1's PipelineRun as compiled, node selector included.
    let task1 = docs
        .iter()
        .find(|d| d["kind"] == "Task" && d["metadata"]["name"] == tasks[0]["taskRef"]["name"])
        .unwrap();
    let env = task1["spec"]["steps"][0]["env"].as_array().unwrap();
    let child: Value = serde_json::from_str(
        env.iter()
            .find(|e| e["name"] == "COULER_CHILD_RUN")
            .unwrap()["value"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    let alone = Tekton.compile(&children[0].1, &Options::default()).unwrap();
    let alone = documents(&alone.files["wf-part-1.yaml"]);
    assert_eq!(&child, alone.last().unwrap());
    assert_eq!(
        child["spec"]["taskRunSpecs"][0]["podTemplate"]["nodeSelector"]["gpu"],
        "a100"
    );
    // The parent's run: the artifact volume shared with the parts' pods, the launcher account.
    let run = docs.iter().find(|d| d["kind"] == "PipelineRun").unwrap();
    assert_eq!(
        run["spec"]["workspaces"][0]["volumeClaimTemplate"]["spec"]["accessModes"],
        serde_json::json!(["ReadWriteMany"])
    );
    assert_eq!(
        run["spec"]["taskRunSpecs"][0]["serviceAccountName"],
        "wf-couler-launcher"
    );
    let rbac = documents(&files["wf-rbac.yaml"]);
    let kinds: Vec<&str> = rbac.iter().map(|d| d["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["ServiceAccount", "Role", "RoleBinding"]);
    assert_eq!(
        rbac[1]["rules"][0]["resources"],
        serde_json::json!(["pipelineruns"])
    );
    // And tekton-lint accepts every file applied together.
    let all: Vec<(String, String)> = files.clone().into_iter().collect();
    let (success, text) = run_tekton_lint(&all);
    assert!(success, "tekton-lint:\n{text}");
}

#[test]
fn a_sub_workflow_compiled_without_its_part_or_with_a_local_path_outside_volumes_is_refused() {
    let (parent, children) = split_fixture();
    let e = Tekton
        .compile(&parent, &Options::default())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("only as a part of a split workflow")
            && e.contains("couler split --target tekton"),
        "{e}"
    );
    let mut child = children[0].1.clone();
    let o = &mut child.steps[0].outputs.artifacts[0];
    o.storage = Some(couler_ir::Storage::Local(couler_ir::LocalStorage {
        path: "/data/out".into(),
    }));
    let e = Tekton
        .compile(&child, &Options::default())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("step `a`")
            && e.contains("/data/out")
            && e.contains("/workspace/couler-artifacts"),
        "{e}"
    );
}

#[test]
fn a_parts_run_is_its_template_placed_owned_and_bound_to_the_parents_claims() {
    use couler_backends::tekton::split::{ChildRun, child_run, child_run_name};
    let (_, children) = split_fixture();
    let out = Tekton.compile(&children[0].1, &Options::default()).unwrap();
    let template = documents(&out.files["wf-part-1.yaml"]).pop().unwrap();
    let claims = [
        ("couler-artifacts".to_string(), "pvc-1".to_string()),
        ("data".to_string(), "pvc-2".to_string()),
    ]
    .into();
    let name = child_run_name("wf-run", "wf-part-1");
    let run = child_run(
        &template,
        &ChildRun {
            name: &name,
            namespace: "ml",
            parent: "wf-run",
            parent_uid: "u-1",
            params: &[("n".into(), "7".into())],
            claims: &claims,
        },
    )
    .unwrap();
    assert_eq!(run["metadata"]["name"], "wf-run-wf-part-1");
    assert_eq!(run["metadata"]["namespace"], "ml");
    assert_eq!(run["metadata"]["ownerReferences"][0]["uid"], "u-1");
    assert_eq!(run["metadata"]["labels"]["couler.dev/parent-uid"], "u-1");
    assert_eq!(
        run["spec"]["params"],
        serde_json::json!([{"name": "n", "value": "7"}])
    );
    assert_eq!(
        run["spec"]["workspaces"],
        serde_json::json!([
            {"name": "couler-artifacts", "persistentVolumeClaim": {"claimName": "pvc-1"}},
            {"name": "data", "persistentVolumeClaim": {"claimName": "pvc-2"}},
        ])
    );
    assert!(schema_errors(&run).is_empty(), "{:?}", schema_errors(&run));
    // A name past 63 characters is cut with a hash; a workspace without a claim is an error.
    assert!(child_run_name(&"p".repeat(60), "wf-part-1").len() <= 63);
    let one = [("couler-artifacts".to_string(), "pvc-1".to_string())].into();
    let e = child_run(
        &template,
        &ChildRun {
            name: &name,
            namespace: "ml",
            parent: "wf-run",
            parent_uid: "u-1",
            params: &[],
            claims: &one,
        },
    )
    .unwrap_err();
    assert!(
        e.contains("workspace `data`") && e.contains("--claim data=CLAIM"),
        "{e}"
    );
}

/// The workflow's `timeout` is the PipelineRun's `timeouts.pipeline`; with an exit handler it
/// is `timeouts.tasks` under an unlimited `pipeline`, so Tekton still runs the exit handler after
/// it (with no `timeouts.finally`: Tekton refuses `tasks + finally` above a `pipeline` of 0).
#[test]
fn the_workflow_timeout_bounds_the_tasks_and_leaves_the_exit_handler_to_run() {
    let run_timeouts = |spec: &str| {
        let yaml = compile(&load_str(spec)).unwrap_or_else(|e| panic!("{e}"));
        let run = documents(&yaml)
            .into_iter()
            .find(|d| d["kind"] == "PipelineRun")
            .unwrap_or_else(|| panic!("no PipelineRun"));
        run["spec"]["timeouts"].clone()
    };
    let head = "apiVersion: couler.dev/v1alpha1\nkind: Workflow\nname: w\n";
    let step = "steps:\n  - name: a\n    container: {image: alpine, command: [sleep, '9']}\n";
    let exit = "onExit:\n  name: e\n  container: {image: alpine, command: [echo]}\n";
    assert_eq!(
        run_timeouts(&format!("{head}{step}")),
        serde_json::json!({"pipeline": "0s"})
    );
    assert_eq!(
        run_timeouts(&format!("{head}timeout: 90s\n{step}")),
        serde_json::json!({"pipeline": "90s"})
    );
    assert_eq!(
        run_timeouts(&format!("{head}timeout: 1500ms\n{step}{exit}")),
        serde_json::json!({"pipeline": "0s", "tasks": "2s"})
    );
}
