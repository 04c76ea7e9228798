//! Argo memoize keys (docs/argo.md, Cache): every key covers every value its step reads, keeps
//! Argo's key syntax for any value, tells map instances, runs with other parameters and other
//! input artifacts apart, and no `repeat` iteration is memoized on its own. Keys are evaluated
//! as Argo evaluates them, by the Argo expression harness (`crates/couler-cli/tests/argo_expr`,
//! Debian's `expr` and `sprig`; `scripts/go-deps` builds it).

use couler_backends::argo::{self, Argo};
use couler_backends::{Backend, CompileError, Options};
use couler_ir::{Reference, Workflow};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::process::{Command, Stdio};

mod common;

fn load(text: &str) -> Workflow {
    match couler_ir::spec::load(text, couler_ir::Format::Yaml) {
        Ok((wf, _)) => wf,
        Err(d) => panic!("{d:?}"),
    }
}

fn lower(wf: &Workflow) -> Value {
    argo::lower(wf, &Options::default()).unwrap_or_else(|e| panic!("{}: {e}", wf.name))
}

/// The workflow spec (a CronWorkflow's `workflowSpec`).
fn spec(doc: &Value) -> &Value {
    match doc["spec"].get("workflowSpec") {
        Some(s) => s,
        None => &doc["spec"],
    }
}

fn template<'a>(doc: &'a Value, name: &str) -> &'a Value {
    spec(doc)["templates"]
        .as_array()
        .and_then(|ts| ts.iter().find(|t| t["name"] == name))
        .unwrap_or_else(|| panic!("no template `{name}`"))
}

/// The task (DAG task or step) named `step` in the entry template.
fn task<'a>(doc: &'a Value, step: &str) -> &'a Value {
    let entry = template(doc, spec(doc)["entrypoint"].as_str().unwrap());
    let tasks: Vec<&Value> = match entry["dag"]["tasks"].as_array() {
        Some(ts) => ts.iter().collect(),
        None => entry["steps"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|g| g.as_array().into_iter().flatten())
            .collect(),
    };
    tasks
        .into_iter()
        .find(|t| t["name"] == step)
        .unwrap_or_else(|| panic!("no task `{step}`"))
}

/// The task holding a mapped step's loop: its own, or the one inside its `map.parallelism`
/// wrapper.
fn loop_task<'a>(doc: &'a Value, step: &str) -> &'a Value {
    let t = task(doc, step);
    let wrapper = template(doc, t["template"].as_str().unwrap());
    match wrapper["dag"]["tasks"].as_array().map(Vec::as_slice) {
        Some([inner])
            if ["withItems", "withParam", "withSequence"]
                .iter()
                .all(|k| t.get(*k).is_none()) =>
        {
            inner
        }
        _ => t,
    }
}

/// The memoized template a step's task reaches (through a `map.parallelism` wrapper), if any.
fn memoized<'a>(doc: &'a Value, step: &str) -> Option<&'a Value> {
    let mut t = template(doc, task(doc, step)["template"].as_str()?);
    if t["memoize"].is_null()
        && let Some([inner]) = t["dag"]["tasks"].as_array().map(Vec::as_slice)
    {
        t = template(doc, inner["template"].as_str()?);
    }
    (!t["memoize"].is_null()).then_some(t)
}

fn input_names(t: &Value) -> Vec<&str> {
    t["inputs"]["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["name"].as_str())
        .collect()
}

/// The workflow parameters a memoized template reads: `{{workflow.parameters.N}}` tags in it and
/// in the templates it calls (a `repeat` wrapper calls the loop, which calls the step's).
fn params_read(doc: &Value, t: &Value) -> BTreeSet<String> {
    let mut text = String::new();
    let mut todo = vec![t];
    let mut seen = BTreeSet::new();
    while let Some(t) = todo.pop() {
        if !seen.insert(t["name"].to_string()) {
            continue;
        }
        text.push_str(&t.to_string());
        let calls = t["steps"].as_array().into_iter().flatten().flat_map(|g| {
            g.as_array()
                .into_iter()
                .flatten()
                .filter_map(|c| c["template"].as_str())
        });
        todo.extend(calls.map(|n| template(doc, n)));
    }
    let open = "{{workflow.parameters.";
    text.split(open)
        .skip(1)
        .filter_map(|rest| rest.split_once("}}").map(|(n, _)| n.to_string()))
        .collect()
}

/// Substitutes each `(text, values)` as Argo does, with the Argo expression harness
/// (`crates/couler-cli/tests/argo_expr`, built by `scripts/go-deps`); `None` when it is absent
/// and `COULER_SKIP_ARGO_HARNESS=1` opts out.
fn argo_substitute(jobs: &[(String, BTreeMap<String, String>)]) -> Option<Vec<String>> {
    let path = std::env::var_os("COULER_ARGO_EXPR_HARNESS").map(std::path::PathBuf::from);
    let Some(path) = path.filter(|p| p.is_file()) else {
        if std::env::var("COULER_SKIP_ARGO_HARNESS").as_deref() == Ok("1") {
            println!("skipping: COULER_SKIP_ARGO_HARNESS=1 and no harness");
            return None;
        }
        panic!(
            "COULER_ARGO_EXPR_HARNESS does not name the Argo expression harness: run \
             `export COULER_ARGO_EXPR_HARNESS=$(bash scripts/go-deps)`, or set \
             COULER_SKIP_ARGO_HARNESS=1 to skip"
        );
    };
    let input: String = jobs
        .iter()
        .map(|(t, v)| format!("{}\n", json!({"kind": "text", "text": t, "values": v})))
        .collect();
    let mut child = Command::new(&path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(input.as_bytes()).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    let texts = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|line| {
            let r: Value = serde_json::from_str(line).unwrap();
            match r["text"].as_str() {
                Some(s) if r["ok"] == true => s.to_string(),
                _ => panic!("Argo could not substitute: {r}"),
            }
        })
        .collect::<Vec<_>>();
    assert_eq!(texts.len(), jobs.len(), "the harness answered {texts:?}");
    Some(texts)
}

/// Argo's `cache.go` key pattern, `^[a-zA-Z0-9][-a-zA-Z0-9]*$`.
fn argo_key_ok(k: &str) -> bool {
    let mut chars = k.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-')
        && k.len() <= 253
}

/// A key's values: every input parameter of the memoized template and every workflow parameter
/// (`overrides` by flat name, else a sample value full of characters Argo's keys refuse).
fn values_for(t: &Value, wf: &Workflow, overrides: &[(&str, &str)]) -> BTreeMap<String, String> {
    let mut v: BTreeMap<String, String> = input_names(t)
        .into_iter()
        .map(|n| {
            (
                format!("inputs.parameters.{n}"),
                format!("{n} = 0.93 / \"x\""),
            )
        })
        .collect();
    for p in &wf.params {
        v.insert(
            format!("workflow.parameters.{}", p.name),
            "s3://b/my data".into(),
        );
    }
    for (k, val) in overrides {
        v.insert(k.to_string(), val.to_string());
    }
    v
}

fn key(t: &Value) -> String {
    t["memoize"]["key"].as_str().unwrap().to_string()
}

#[test]
fn every_key_covers_what_its_step_reads() {
    let mut checked = 0;
    let files = common::specs().into_iter().map(|p| {
        let text = std::fs::read_to_string(&p).unwrap();
        (p.display().to_string(), text)
    });
    for (path, text) in files.chain([("KEYS".to_string(), KEYS.to_string())]) {
        let wf = load(&text);
        let doc = lower(&wf);
        let warnings = Argo.compile(&wf, &Options::default()).unwrap().warnings;
        for step in &wf.steps {
            let Some(t) = memoized(&doc, &step.name) else {
                // Memoized elsewhere, not on Argo: only with a warning saying why.
                let warned = warnings.iter().any(|w| {
                    w.starts_with(&format!("step `{}` is memoized by default", step.name))
                });
                assert!(
                    wf.memoized(step).is_none() || warned,
                    "{path}: step `{}` is memoized but its template is not: {warnings:?}",
                    step.name
                );
                continue;
            };
            let k = key(t);
            let inputs = input_names(t);
            for n in &inputs {
                assert!(k.contains(&format!("inputs.parameters['{n}']")), "{k}: {n}");
            }
            for n in params_read(&doc, t) {
                assert!(
                    k.contains(&format!("workflow.parameters['{n}']")),
                    "{k}: {n}"
                );
            }
            if step.map.is_some() {
                let args = loop_task(&doc, &step.name)["arguments"]["parameters"].to_string();
                assert!(args.contains("{{item"), "{}: {args}", step.name);
            }
            for a in &step.inputs.artifacts {
                if let Some(couler_ir::ArtifactSource::From(Reference::Step { step: p, .. })) =
                    &a.source
                {
                    assert!(inputs.contains(&format!("{p}-couler-pod").as_str()));
                }
            }
            let cm = &t["memoize"]["cache"]["configMap"]["name"];
            assert_eq!(cm, &json!(format!("couler-cache-{}", wf.name)));
            checked += 1;
        }
    }
    assert!(checked >= 20, "only {checked} memoized steps checked");
}

const KEYS: &str = r#"
apiVersion: couler.dev/v1alpha1
kind: Workflow
name: keys
params:
  - {name: seed, type: int, default: 42}
  - {name: url, default: "s3://bucket/my data/x.csv"}
steps:
  - name: gen
    script: {image: python:3.12, source: "print({{params.seed}})"}
    outputs: {artifacts: [{name: data, path: /tmp/d}]}
    cache: {version: "v1.2 beta/ü"}
  - name: use
    inputs:
      parameters: [{name: u, value: "{{params.url}}"}]
      artifacts: [{name: d, path: /tmp/d, from: steps.gen.outputs.artifacts.data}]
    container: {image: alpine, command: [cat, "{{inputs.parameters.u}}"]}
    outputs: {parameters: [{name: o, path: /tmp/o}]}
  - name: sim
    map: {range: {stop: 4}}
    script: {image: python:3.12, source: "import random\nprint(random.random())"}
    outputs: {parameters: [{name: o, path: /tmp/o}]}
  - name: objs
    map: {items: [{lr: 0.1, bs: 32}, {lr: 0.01, bs: 64}], parallelism: 1}
    container: {image: alpine, command: [train]}
    outputs: {parameters: [{name: o, path: /tmp/o}]}
  - name: flip
    script: {image: python:3.12, source: "import random\nprint('heads' if random.random() < 0.5 else 'tails')"}
    outputs: {parameters: [{name: side, path: /tmp/side}]}
    repeat: {while: steps.flip.outputs.result == "heads", maxIterations: 10}
"#;

#[test]
fn keys_are_argo_keys_and_tell_runs_apart() {
    let wf = load(KEYS);
    let doc = lower(&wf);
    let t = |s: &str| memoized(&doc, s).unwrap_or_else(|| panic!("`{s}` is not memoized"));
    let (gen_t, use_t, sim_t, objs_t) = (t("gen"), t("use"), t("sim"), t("objs"));
    let flip_t = template(&doc, task(&doc, "flip")["template"].as_str().unwrap());
    let mut jobs = Vec::new();
    let mut job = |t: &Value, o: &[(&str, &str)]| {
        jobs.push((key(t), values_for(t, &wf, o)));
        jobs.len() - 1
    };
    let seed7 = job(gen_t, &[("workflow.parameters.seed", "7")]);
    let seed42 = job(gen_t, &[("workflow.parameters.seed", "42")]);
    let pod1 = job(
        use_t,
        &[("inputs.parameters.gen-couler-pod", "keys-x7k2p-1")],
    );
    let pod2 = job(
        use_t,
        &[("inputs.parameters.gen-couler-pod", "keys-x7k2p-2")],
    );
    let url = job(use_t, &[("inputs.parameters.u", "s3://bucket/other.csv")]);
    let item0 = job(sim_t, &[("inputs.parameters.item", "0")]);
    let item1 = job(sim_t, &[("inputs.parameters.item", "1")]);
    let obj0 = job(
        objs_t,
        &[
            ("inputs.parameters.item-bs", "32"),
            ("inputs.parameters.item-lr", "0.1"),
        ],
    );
    let obj1 = job(
        objs_t,
        &[
            ("inputs.parameters.item-bs", "64"),
            ("inputs.parameters.item-lr", "0.01"),
        ],
    );
    job(flip_t, &[]); // the whole loop's key, checked against Argo's pattern below
    let Some(keys) = argo_substitute(&jobs) else {
        return;
    };
    for k in &keys {
        assert!(argo_key_ok(k), "not an Argo cache key: {k:?}");
    }
    assert_ne!(
        keys[seed7], keys[seed42],
        "-p seed=7 must not reuse seed=42"
    );
    assert_ne!(keys[pod1], keys[pod2], "a new input artifact must miss");
    assert_ne!(keys[pod1], keys[url]);
    assert_ne!(keys[item0], keys[item1], "map instances share a key");
    assert_ne!(keys[obj0], keys[obj1], "map instances share a key");
    // The map item reaches the instances: `{{item}}` / `{{item.KEY}}` where the loop is.
    let args = |s: &str| task(&doc, s)["arguments"]["parameters"].to_string();
    let sim_args = loop_task(&doc, "sim")["arguments"].to_string();
    assert!(sim_args.contains("{{item}}"), "{sim_args}");
    let inner_args = loop_task(&doc, "objs")["arguments"].to_string();
    assert!(inner_args.contains("{{item.bs}}") && inner_args.contains("{{item.lr}}"));
    // The producer tells its consumers which pod wrote the artifact.
    let gen_outputs = gen_t["outputs"]["parameters"].to_string();
    assert!(
        gen_outputs.contains(r#""value":"{{pod.name}}""#),
        "{gen_outputs}"
    );
    assert!(args("use").contains("{{tasks.gen.outputs.parameters.couler-pod}}"));
}

#[test]
fn a_repeat_loop_is_memoized_as_a_whole_and_no_iteration_is() {
    let doc = lower(&load(KEYS));
    let wrapper = template(&doc, task(&doc, "flip")["template"].as_str().unwrap());
    assert!(!wrapper["memoize"].is_null(), "{wrapper}");
    let looped = template(&doc, wrapper["steps"][0][0]["template"].as_str().unwrap());
    assert!(
        looped["memoize"].is_null(),
        "the recursive loop is memoized: {looped}"
    );
    let run = template(&doc, looped["steps"][0][0]["template"].as_str().unwrap());
    assert!(run["memoize"].is_null(), "an iteration is memoized: {run}");
    // The wrapper hands on the loop's outputs, so readers see the last iteration's.
    let outs = wrapper["outputs"]["parameters"].to_string();
    assert!(
        outs.contains("{{steps.loop.outputs.parameters.result}}"),
        "{outs}"
    );
    assert!(
        outs.contains("{{steps.loop.outputs.parameters.side}}"),
        "{outs}"
    );
    // The documents stay valid for Argo's lint.
    assert_eq!(argo::lint::lint(&doc), Vec::<String>::new());
}

#[test]
fn each_workflow_has_its_own_config_map_and_a_safe_version() {
    let doc = lower(&load(KEYS));
    let gen_t = memoized(&doc, "gen").unwrap();
    assert_eq!(
        gen_t["memoize"]["cache"]["configMap"]["name"],
        "couler-cache-keys"
    );
    let k = key(gen_t);
    assert!(!k.contains("v1.2") && !k.contains(' '), "{k}");
    let bumped = load(&KEYS.replace("v1.2 beta/ü", "v1.3"));
    assert_ne!(key(memoized(&lower(&bumped), "gen").unwrap()), k);
}

const FIXED: &str = r#"
apiVersion: couler.dev/v1alpha1
kind: Workflow
name: fixed
steps:
  - name: read
    inputs:
      artifacts:
        - {name: raw, path: /tmp/raw, storage: {s3: {bucket: b, key: data/raw.csv}}}
    container: {image: alpine, command: [wc, /tmp/raw]}
    outputs: {parameters: [{name: n, path: /tmp/n}]}
"#;

#[test]
fn a_key_argo_cannot_complete_is_refused_when_asked_and_warned_otherwise() {
    let asked = load(&FIXED.replace("    outputs:", "    cache: {}\n    outputs:"));
    match Argo.compile(&asked, &Options::default()) {
        Err(e @ CompileError::Unsupported { .. }) => {
            let m = e.to_string();
            assert!(
                m.contains("read") && m.contains("fixed `s3` storage"),
                "{m}"
            );
            assert!(m.contains("enabled: false"), "{m}");
        }
        other => panic!("expected a refusal: {other:?}"),
    }
    let by_default = load(FIXED);
    let out = Argo.compile(&by_default, &Options::default()).unwrap();
    assert!(
        out.warnings
            .iter()
            .any(|w| w.contains("`read` is memoized by default, but not on Argo")),
        "{:?}",
        out.warnings
    );
    assert!(memoized(&lower(&by_default), "read").is_none());
    let objects = r#"
apiVersion: couler.dev/v1alpha1
kind: Workflow
name: objects
steps:
  - name: each
    map: {items: [{a: 1}, {a: "1"}]}
    container: {image: alpine, command: [echo, "{{item.a}}"]}
    cache: {}
"#;
    let e = Argo
        .compile(&load(objects), &Options::default())
        .unwrap_err();
    assert!(e.to_string().contains("differ only in JSON type"), "{e}");
}

/// A split workflow's part reads what another part left in the exchange, a fixed S3 key that
/// every run overwrites: Argo cannot key it, so that step runs every time even where `cache`
/// asks (the whole workflow, keyable, was lowered before it was split).
#[test]
fn a_split_part_reading_the_exchange_is_not_memoized() {
    use couler_backends::SplitLowering;
    let part = |name: &str, steps: &str| {
        load(&format!(
            "apiVersion: couler.dev/v1alpha1\nkind: Workflow\nname: {name}\ndefaults: {{cache: {{}}}}\nsteps:\n{steps}"
        ))
    };
    let exchange = "storage: {s3: {bucket: b, key: wf-split/a/o}}";
    let a = part(
        "wf-part-1",
        &format!(
            "  - name: a\n    container: {{image: alpine, command: [sh, -c, 'echo 1 > /tmp/o']}}\n    outputs: {{artifacts: [{{name: o, path: /tmp/o, {exchange}}}]}}\n"
        ),
    );
    let b = part(
        "wf-part-2",
        &format!(
            "  - name: b\n    container: {{image: alpine, command: [cat, /tmp/i]}}\n    inputs: {{artifacts: [{{name: i, path: /tmp/i, {exchange}}}]}}\n    outputs: {{parameters: [{{name: n, path: /tmp/n}}]}}\n"
        ),
    );
    let parent = load(
        "apiVersion: couler.dev/v1alpha1\nkind: Workflow\nname: wf\nsteps:\n  - name: wf-part-1\n    workflow: {ref: wf-part-1.yaml}\n  - name: wf-part-2\n    dependsOn: [wf-part-1]\n    workflow: {ref: wf-part-2.yaml}\n",
    );
    assert!(
        Argo.compile(&b, &Options::default()).is_err(),
        "refused alone"
    );
    let files = Argo
        .compile_split(
            &parent,
            &[("wf-part-1.yaml".into(), a), ("wf-part-2.yaml".into(), b)],
            &Options::default(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let doc = |f: &str| -> Value { serde_norway::from_str(&files[f]).unwrap() };
    assert!(memoized(&doc("wf-part-1.yaml"), "a").is_some());
    assert!(memoized(&doc("wf-part-2.yaml"), "b").is_none());
}
