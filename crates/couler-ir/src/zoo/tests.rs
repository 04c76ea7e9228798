use super::*;
use crate::spec::{Format, load};

/// A spec whose steps use every entry, as the churn example does, with `extra` appended.
fn spec(steps: &str) -> String {
    format!("apiVersion: couler.dev/v1alpha1\nkind: Workflow\nname: z\nsteps:\n{steps}")
}

fn errors(text: &str) -> Vec<String> {
    let diags = load(text, Format::Yaml).expect_err("refused");
    diags
        .iter()
        .map(|d| {
            let loc = d.location.unwrap();
            format!(
                "{}:{}: {} ({})",
                loc.line,
                loc.column,
                d.message,
                d.help.clone().unwrap_or_default()
            )
        })
        .collect()
}

/// Some error holds `needle`.
fn has(errs: &[String], needle: &str) {
    assert!(
        errs.iter().any(|e| e.contains(needle)),
        "{needle:?} in {errs:?}"
    );
}

/// Some error starts with `prefix` (its `line:column: message`).
fn starts(errs: &[String], prefix: &str) {
    assert!(
        errs.iter().any(|e| e.starts_with(prefix)),
        "{prefix:?} in {errs:?}"
    );
}

const TRAIN: &str = "- name: data\n  uses: zoo/script@1\n  with:\n    source: open(__import__('os').environ['OUT'], 'w').write('x,label\\n1,0\\n')\n  outputs:\n    artifacts:\n    - name: data\n      path: d.csv\n  env:\n    OUT: '{{outputs.artifacts.data.path}}'\n- name: rf\n  uses: zoo/train-random-forest@1\n  with:\n";

#[test]
fn every_entry_reads_and_is_named_after_its_file() {
    assert_eq!(entries().len(), SOURCES.len());
    for (entry, (file, _)) in entries().iter().zip(SOURCES) {
        assert_eq!(&entry.name, file);
        for p in &entry.params {
            assert!(
                p.name.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                "{}",
                p.name
            );
            // The Python SDK's `zoo.use(entry, name=…, version=…)` keeps these two for itself.
            assert!(
                !["name", "version"].contains(&p.name.as_str()),
                "{}: {}",
                entry.name,
                p.name
            );
        }
    }
}

#[test]
fn no_entry_pastes_a_value_into_its_source() {
    for entry in entries() {
        let source = entry.step["script"]["source"].as_str().unwrap_or("");
        assert!(
            !source.contains("{{") || source == "{{with.source}}",
            "{} pastes a value",
            entry.name
        );
    }
}

#[test]
fn a_uses_step_expands_to_an_ordinary_step_with_its_values_in_env() {
    let text = spec(&format!(
        "{TRAIN}    n_estimators: 7\n    train: steps.data.outputs.artifacts.data\n"
    ));
    let (wf, _) = load(&text, Format::Yaml).unwrap_or_else(|d| panic!("{d:?}"));
    let rf = &wf.steps[1];
    assert_eq!(rf.env["N_ESTIMATORS"].to_string(), "7");
    assert_eq!(rf.env["MAX_DEPTH"].to_string(), "0");
    assert_eq!(
        rf.env["IN_TRAIN"].to_string(),
        "{{inputs.artifacts.train.path}}"
    );
    assert_eq!(
        rf.env["OUT_MODEL"].to_string(),
        "{{outputs.artifacts.model.path}}"
    );
    assert_eq!(rf.inputs.artifacts[0].name, "train");
    assert_eq!(rf.outputs.artifacts[0].name, "model");
    assert!(
        !wf.steps[0].env.contains_key("SOURCE"),
        "a substituted parameter is not in env too"
    );
    // The expanded spec prints and reads back as itself, with no `uses` left.
    let printed = crate::spec::to_yaml(&wf);
    assert!(!printed.contains("uses:"));
    assert_eq!(load(&printed, Format::Yaml).unwrap().0, wf);
}

#[test]
fn a_wrong_type_is_placed_at_the_value() {
    let text = spec(&format!(
        "{TRAIN}    n_estimators: many\n    train: steps.data.outputs.artifacts.data\n"
    ));
    let errs = errors(&text);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0].starts_with("18:19: parameter `n_estimators` of zoo/train-random-forest@1 expects an integer, got the string `many`"),
        "{errs:?}"
    );
}

#[test]
fn an_unknown_entry_gets_the_nearest_name_and_an_unknown_version_the_available_ones() {
    let errs = errors(&spec("- name: a\n  uses: zoo/train-random-forrest@1\n"));
    assert!(
        errs[0].starts_with(
            "6:9: unknown zoo entry `train-random-forrest` (did you mean `zoo/train-random-forest`?"
        ),
        "{errs:?}"
    );
    let errs = errors(&spec("- name: a\n  uses: zoo/split@9\n"));
    assert!(
        errs[0].contains("zoo entry `split` has no version `9` (available: zoo/split@1)"),
        "{errs:?}"
    );
    let errs = errors(&spec("- name: a\n  uses: split\n"));
    assert!(errs[0].contains("is not a zoo reference"), "{errs:?}");
}

#[test]
fn missing_inputs_unknown_keys_and_a_second_body_are_refused() {
    let errs = errors(&spec(
        "- name: a\n  uses: zoo/split@1\n  with:\n    seeed: 3\n  script:\n    source: x\n",
    ));
    starts(
        &errs,
        "10:5: a step that `uses` zoo/split@1 cannot set `script` too",
    );
    has(
        &errs,
        "has no parameter or input `seeed` (did you mean `seed`?",
    );
    has(&errs, "needs the input artifact `data`");
}

#[test]
fn a_list_input_becomes_numbered_artifacts_and_a_json_list_of_paths() {
    let text = spec(&format!(
        "{TRAIN}    train: steps.data.outputs.artifacts.data\n- name: pick\n  uses: zoo/select-best@1\n  with:\n    models: [steps.rf.outputs.artifacts.model, steps.rf.outputs.artifacts.model]\n    scores: ['0.5', '0.7']\n"
    ));
    let (wf, _) = load(&text, Format::Yaml).unwrap_or_else(|d| panic!("{d:?}"));
    let pick = &wf.steps[2];
    let names: Vec<_> = pick
        .inputs
        .artifacts
        .iter()
        .map(|a| a.name.as_str())
        .collect();
    assert_eq!(names, ["models-1", "models-2"]);
    assert_eq!(
        pick.env["IN_MODELS"].to_string(),
        r#"["{{inputs.artifacts.models-1.path}}","{{inputs.artifacts.models-2.path}}"]"#
    );
    assert_eq!(pick.env["SCORES"].to_string(), r#"["0.5","0.7"]"#);
}

#[test]
fn docs_zoo_md_is_generated_from_the_entries() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/zoo.md");
    let want = doc::markdown();
    if std::env::var_os("COULER_BLESS").is_some() {
        std::fs::write(path, &want).unwrap();
    }
    let have = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        have == want,
        "docs/zoo.md is stale: run `COULER_BLESS=1 cargo test -p couler-ir --lib zoo`"
    );
}

#[test]
fn every_example_expands_once_its_placeholders_are_filled() {
    for entry in entries() {
        let step = doc::example(entry)
            .replace(
                "steps.STEP.outputs.artifacts.NAME",
                "steps.data.outputs.artifacts.data",
            )
            .replace(", …", "")
            .replace("'…'", "x");
        let text = spec(&format!(
            "{}{step}",
            &TRAIN[..TRAIN.find("- name: rf").unwrap()]
        ));
        load(&text, Format::Yaml).unwrap_or_else(|d| panic!("{}: {d:?}", entry.name));
    }
}

#[test]
fn a_problem_in_what_with_set_is_placed_at_the_with_key() {
    let errs = errors(&spec(
        "- name: a\n  uses: zoo/split@1\n  with:\n    data: steps.b.outputs.artifacts.c\n    seed: '{{params.nope}}'\n",
    ));
    starts(&errs, "8:11: unknown step `b`");
    starts(&errs, "9:11: unknown workflow parameter `nope`");
}

#[test]
fn a_duplicate_key_beside_uses_is_still_reported() {
    let text = "apiVersion: couler.dev/v1alpha1\nkind: Workflow\nname: z\nname: y\nsteps:\n- name: a\n  uses: zoo/split@1\n";
    let errs = errors(text);
    assert!(errs[0].contains("duplicate"), "{errs:?}");
}

#[test]
fn the_python_stub_is_generated_from_the_entries() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../python/couler/zoo.pyi");
    let want = doc::python_stub();
    if std::env::var_os("COULER_BLESS").is_some() {
        std::fs::write(path, &want).unwrap();
    }
    let have = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        have == want,
        "python/couler/zoo.pyi is stale: run `COULER_BLESS=1 cargo test -p couler-ir --lib zoo`"
    );
}
