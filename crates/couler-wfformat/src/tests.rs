//! Unit tests over small inline traces.

use super::*;
use couler_ir::spec::{self, Format};
use couler_ir::{ArtifactSource, Graph, Reference, Step, StepKind, StepOutput};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// A WfFormat 1.5 task.
fn task(id: &str, parents: &[&str], inputs: &[&str], outputs: &[&str]) -> Value {
    json!({"id": id, "name": id, "parents": parents, "children": [],
           "inputFiles": inputs, "outputFiles": outputs})
}

/// A WfFormat 1.5 trace; `children` are filled in from `parents` unless a task set its own.
fn trace(tasks: Vec<Value>, files: &[(&str, f64)], runtimes: &[(&str, f64)]) -> String {
    let mut tasks = tasks;
    let links: Vec<(String, String)> = tasks
        .iter()
        .flat_map(|t| {
            let id = t["id"].as_str().unwrap_or_default().to_string();
            t["parents"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(move |p| (p.as_str().unwrap_or_default().to_string(), id.clone()))
        })
        .collect();
    for t in &mut tasks {
        let id = t["id"].as_str().unwrap_or_default().to_string();
        if t["children"].as_array().is_some_and(|c| c.is_empty()) {
            t["children"] = links
                .iter()
                .filter(|(p, _)| *p == id)
                .map(|(_, c)| c.clone())
                .collect();
        }
    }
    let files: Vec<Value> = files
        .iter()
        .map(|(id, size)| json!({"id": id, "sizeInBytes": size}))
        .collect();
    let exec: Vec<Value> = runtimes
        .iter()
        .map(|(id, rt)| json!({"id": id, "runtimeInSeconds": rt}))
        .collect();
    json!({
        "name": "unit-trace",
        "schemaVersion": "1.5",
        "workflow": {
            "specification": {"tasks": tasks, "files": files},
            "execution": {"makespanInSeconds": 42.0, "tasks": exec}
        }
    })
    .to_string()
}

fn import_ok(text: &str) -> Imported {
    import_ok_with(text, &ImportOptions::default())
}

fn import_ok_with(text: &str, options: &ImportOptions) -> Imported {
    let imported = import_detailed(text, options).unwrap_or_else(|e| panic!("{e}"));
    let errors: Vec<_> = couler_ir::validate(&imported.workflow)
        .into_iter()
        .filter(|d| d.is_error())
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let yaml = spec::to_yaml(&imported.workflow);
    let back = spec::parse(&yaml, Format::Yaml).unwrap_or_else(|e| panic!("{e:#?}\n{yaml}"));
    assert_eq!(back, imported.workflow, "YAML round trip\n{yaml}");
    imported
}

fn import_err(text: &str) -> ImportError {
    match import(text, &ImportOptions::default()) {
        Ok(wf) => panic!("expected an error, got {}", spec::to_yaml(&wf)),
        Err(e) => e,
    }
}

/// The DAG's edges as (parent task id, child task id).
fn edges(imported: &Imported) -> BTreeSet<(String, String)> {
    Graph::new(&imported.workflow)
        .edges()
        .map(|(a, b)| (imported.task_ids[a].clone(), imported.task_ids[b].clone()))
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    list.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

fn source(step: &Step) -> String {
    match &step.kind {
        StepKind::Script(s) => {
            assert_eq!(s.command, ["sh"]);
            s.source.as_literal().unwrap_or_default()
        }
        other => panic!("step {} is {:?}, not a script", step.name, other.key()),
    }
}

fn from_of(step: &Step, artifact: usize) -> Reference {
    match &step.inputs.artifacts[artifact].source {
        Some(ArtifactSource::From(r)) => r.clone(),
        other => panic!("input artifact has source {other:?}"),
    }
}

#[test]
fn chain_passes_files_as_artifacts() {
    let text = trace(
        vec![
            task("a", &[], &["raw.txt"], &["mid.txt"]),
            task("b", &["a"], &["mid.txt"], &["final.txt"]),
            task("c", &["b"], &["final.txt"], &[]),
        ],
        &[("raw.txt", 10.0), ("mid.txt", 20.0), ("final.txt", 30.0)],
        &[("a", 1.0), ("b", 2.5), ("c", 0.0)],
    );
    let imported = import_ok(&text);
    let wf = &imported.workflow;
    assert_eq!(wf.name, "unit-trace");
    let names: Vec<&str> = wf.steps.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["a", "b", "c"]);
    assert_eq!(edges(&imported), pairs(&[("a", "b"), ("b", "c")]));
    assert!(wf.steps.iter().all(|s| s.depends_on.is_empty()));

    assert_eq!(
        source(&wf.steps[0]),
        "set -eu\nmkdir -p in out\nhead -c 10 /dev/zero > 'in/raw.txt'\ncat 'in/raw.txt' > /dev/null\nsleep 1\nhead -c 20 /dev/zero > 'out/mid.txt'\n"
    );
    assert_eq!(
        source(&wf.steps[1]),
        "set -eu\nmkdir -p in out\ncat 'in/mid.txt' > /dev/null\nsleep 2.5\nhead -c 30 /dev/zero > 'out/final.txt'\n"
    );
    // Runtime 0: no sleep at all.
    assert_eq!(
        source(&wf.steps[2]),
        "set -eu\nmkdir -p in\ncat 'in/final.txt' > /dev/null\n"
    );
    let b = &wf.steps[1];
    assert_eq!(b.inputs.artifacts.len(), 1);
    assert_eq!(b.inputs.artifacts[0].name, "mid_txt");
    assert_eq!(b.inputs.artifacts[0].path, "in/mid.txt");
    assert_eq!(
        from_of(b, 0),
        Reference::step("a", StepOutput::Artifact("mid_txt".into()))
    );
    assert_eq!(wf.steps[0].outputs.artifacts[0].path, "out/mid.txt");
    assert_eq!(
        b.description.as_deref(),
        Some("Replays WfFormat task `b` (recorded runtime 2.5 s).")
    );
    assert_eq!(wf.annotations["wfformat/source-name"], "unit-trace");
    assert_eq!(wf.annotations["wfformat/schema-version"], "1.5");
    assert_eq!(wf.annotations["wfformat/makespan-seconds"], "42");
    assert_eq!(wf.annotations["wfformat/tasks"], "3");
    assert_eq!(wf.annotations["wfformat/edges"], "2");
    let s = &imported.summary;
    assert_eq!((s.tasks, s.edges, s.files, s.file_flows), (3, 2, 3, 2));
    assert_eq!(
        (s.artifact_edges, s.order_edges, s.generated_inputs),
        (2, 0, 1)
    );
    assert_eq!(s.total_runtime_secs, 3.5);
    assert_eq!(s.replay_critical_path_secs, 3.5);
    assert_eq!(s.bytes_written, 10 + 20 + 30);
}

#[test]
fn fork_join_reads_every_branch() {
    let text = trace(
        vec![
            task("split", &[], &[], &["p1", "p2", "p3"]),
            task("w1", &["split"], &["p1"], &["r1"]),
            task("w2", &["split"], &["p2"], &["r2"]),
            task("w3", &["split"], &["p3"], &["r3"]),
            task("join", &["w1", "w2", "w3"], &["r1", "r2", "r3"], &["out"]),
        ],
        &[],
        &[
            ("split", 1.0),
            ("w1", 5.0),
            ("w2", 7.0),
            ("w3", 6.0),
            ("join", 1.0),
        ],
    );
    let imported = import_ok(&text);
    assert_eq!(
        edges(&imported),
        pairs(&[
            ("split", "w1"),
            ("split", "w2"),
            ("split", "w3"),
            ("w1", "join"),
            ("w2", "join"),
            ("w3", "join"),
        ])
    );
    let join = &imported.workflow.steps[4];
    let sources: Vec<String> = (0..3).map(|i| from_of(join, i).to_string()).collect();
    assert_eq!(
        sources,
        [
            "steps.w1.outputs.artifacts.r1",
            "steps.w2.outputs.artifacts.r2",
            "steps.w3.outputs.artifacts.r3"
        ]
    );
    assert!(join.depends_on.is_empty());
    assert_eq!(imported.summary.replay_critical_path_secs, 9.0);
}

#[test]
fn external_inputs_are_generated_not_wired() {
    // `shared.dat` is written by `other`, which is not a parent of `reader`: wiring it would
    // invent an edge, so `reader` generates its own copy.
    let text = trace(
        vec![
            task("other", &[], &[], &["shared.dat"]),
            task("reader", &[], &["input.csv", "shared.dat"], &[]),
        ],
        &[("input.csv", 1234.4), ("shared.dat", 99.5)],
        &[],
    );
    let imported = import_ok(&text);
    assert!(edges(&imported).is_empty());
    let reader = &imported.workflow.steps[1];
    assert!(reader.inputs.artifacts.is_empty());
    assert!(reader.depends_on.is_empty());
    assert_eq!(
        source(reader),
        "set -eu\nmkdir -p in\nhead -c 1234 /dev/zero > 'in/input.csv'\nhead -c 100 /dev/zero > 'in/shared.dat'\ncat 'in/input.csv' > /dev/null\ncat 'in/shared.dat' > /dev/null\n"
    );
    assert_eq!(imported.summary.generated_inputs, 2);
    assert_eq!(imported.summary.tasks_without_runtime, 2);
}

#[test]
fn parent_without_file_flow_goes_to_depends_on() {
    let text = trace(
        vec![
            task("setup", &[], &[], &[]),
            task("make", &[], &[], &["data"]),
            task("use", &["setup", "make"], &["data"], &[]),
        ],
        &[],
        &[],
    );
    let imported = import_ok(&text);
    let used = &imported.workflow.steps[2];
    assert_eq!(used.depends_on, ["setup"]);
    assert_eq!(used.inputs.artifacts.len(), 1);
    assert_eq!(from_of(used, 0).step_name(), Some("make"));
    assert_eq!(
        edges(&imported),
        pairs(&[("setup", "use"), ("make", "use")])
    );
    assert_eq!(imported.summary.artifact_edges, 1);
    assert_eq!(imported.summary.order_edges, 1);
}

#[test]
fn first_listed_parent_supplies_a_shared_file() {
    let text = trace(
        vec![
            task("p1", &[], &[], &["same"]),
            task("p2", &[], &[], &["same"]),
            task("child", &["p2", "p1"], &["same"], &[]),
        ],
        &[],
        &[],
    );
    let imported = import_ok(&text);
    let child = &imported.workflow.steps[2];
    assert_eq!(from_of(child, 0).step_name(), Some("p2"));
    assert_eq!(child.depends_on, ["p1"]);
    assert_eq!(edges(&imported), pairs(&[("p1", "child"), ("p2", "child")]));
}

#[test]
fn children_only_edges_are_kept_and_duplicates_collapse() {
    let mut a = task("a", &[], &[], &[]);
    a["children"] = json!(["b", "b"]);
    let mut b = task("b", &["a"], &[], &[]);
    b["parents"] = json!(["a", "a"]);
    let mut c = task("c", &[], &[], &[]);
    c["children"] = json!(["b"]); // b does not list c as a parent
    let imported = import_ok(&trace(vec![a, b, c], &[], &[]));
    assert_eq!(edges(&imported), pairs(&[("a", "b"), ("c", "b")]));
    assert_eq!(imported.workflow.steps[1].depends_on, ["a", "c"]);
    assert_eq!(imported.summary.edges, 2);
}

#[test]
fn names_are_sanitised_and_deduplicated() {
    let long = "L".repeat(100);
    let mut tasks = vec![
        json!({"id": "t1", "name": "Task A", "parents": [], "children": []}),
        json!({"id": "t2", "name": "task_a", "parents": ["t1"], "children": []}),
        json!({"id": "t3", "name": "TASK-A", "parents": [], "children": []}),
        json!({"id": "t4", "name": "task-a-2", "parents": [], "children": []}),
        json!({"id": "t5", "name": long, "parents": [], "children": []}),
        json!({"id": "t6", "name": long, "parents": ["t5"], "children": []}),
        json!({"id": "___", "parents": [], "children": []}),
    ];
    tasks[0]["children"] = json!(["t2"]);
    let text =
        json!({"name": "My Workflow! (2024)", "workflow": {"specification": {"tasks": tasks}}})
            .to_string();
    let imported = import_ok(&text);
    let wf = &imported.workflow;
    let names: Vec<&str> = wf.steps.iter().map(|s| s.name.as_str()).collect();
    let l63 = "l".repeat(63);
    let l61 = format!("{}-2", "l".repeat(61));
    assert_eq!(
        names,
        [
            "task-a", "task-a-3", "task-a-4", "task-a-2", &l63, &l61, "step"
        ]
    );
    assert_eq!(wf.steps[1].depends_on, ["task-a"]);
    assert_eq!(wf.steps[5].depends_on, [l63.as_str()]);
    assert_eq!(wf.name, "my-workflow-2024");
    assert!(!wf.annotations.contains_key("wfformat/schema-version"));
    assert!(!wf.annotations.contains_key("wfformat/makespan-seconds"));

    let nameless = json!({"workflow": {"specification": {"tasks": [task("x", &[], &[], &[])]}}});
    assert_eq!(
        import_ok(&nameless.to_string()).workflow.name,
        "wfformat-replay"
    );

    let named = ImportOptions {
        name: Some("replay-1".into()),
        ..ImportOptions::default()
    };
    assert_eq!(import_ok_with(&text, &named).workflow.name, "replay-1");
    let bad = ImportOptions {
        name: Some("Replay_1".into()),
        ..ImportOptions::default()
    };
    let e = import(&text, &bad).unwrap_err();
    assert!(e.to_string().contains("try `replay-1`"), "{e}");
}

#[test]
fn artifact_names_and_paths_are_deduplicated_per_step() {
    // Ids that sanitise to the same artifact names, and (differently) to the same file names.
    let ids = ["a b", "x/a b", "a_b"];
    let text = trace(
        vec![task("w", &[], &[], &ids), task("r", &["w"], &ids, &[])],
        &[],
        &[],
    );
    let imported = import_ok(&text);
    let w = &imported.workflow.steps[0];
    let out: Vec<(&str, &str)> = w
        .outputs
        .artifacts
        .iter()
        .map(|a| (a.name.as_str(), a.path.as_str()))
        .collect();
    assert_eq!(
        out,
        [
            ("a_b", "out/a_b"),
            ("a_b_2", "out/x_a_b"),
            ("a_b_3", "out/a_b_2")
        ]
    );
    let r = &imported.workflow.steps[1];
    let wired: Vec<(&str, &str, String)> = r
        .inputs
        .artifacts
        .iter()
        .enumerate()
        .map(|(i, a)| (a.name.as_str(), a.path.as_str(), from_of(r, i).to_string()))
        .collect();
    assert_eq!(
        wired,
        [
            ("a_b", "in/a_b", "steps.w.outputs.artifacts.a_b".to_string()),
            (
                "a_b_2",
                "in/x_a_b",
                "steps.w.outputs.artifacts.a_b_2".into()
            ),
            (
                "a_b_3",
                "in/a_b_2",
                "steps.w.outputs.artifacts.a_b_3".into()
            ),
        ]
    );
}

#[test]
fn suffixes_never_take_another_files_plain_name() {
    // "a b" and "a_b" share the name a_b; the suffix must skip a_b_2, the plain name of a
    // third file in the same step.
    let ids = ["a b", "a_b", "a_b_2"];
    let text = trace(vec![task("w", &[], &[], &ids)], &[], &[]);
    let imported = import_ok(&text);
    let names: Vec<&str> = imported.workflow.steps[0]
        .outputs
        .artifacts
        .iter()
        .map(|a| a.name.as_str())
        .collect();
    assert_eq!(names, ["a_b", "a_b_3", "a_b_2"]);
}

#[test]
fn parents_may_come_after_children_in_the_task_list() {
    let text = trace(
        vec![
            task("late_child", &["early_parent"], &["x", "x"], &["x"]),
            task("early_parent", &[], &[], &["x", "x"]),
        ],
        &[("x", 5.0)],
        &[],
    );
    let imported = import_ok(&text);
    let child = &imported.workflow.steps[0];
    // Listed twice, read once; updated in place: read from the parent, written anew.
    assert_eq!(child.inputs.artifacts.len(), 1);
    assert_eq!(
        from_of(child, 0),
        Reference::step("early-parent", StepOutput::Artifact("x".into()))
    );
    assert_eq!(child.outputs.artifacts.len(), 1);
    assert_eq!(
        source(child),
        "set -eu\nmkdir -p in out\ncat 'in/x' > /dev/null\nhead -c 5 /dev/zero > 'out/x'\n"
    );
    assert_eq!(imported.workflow.steps[1].outputs.artifacts.len(), 1);
    assert_eq!(edges(&imported), pairs(&[("early_parent", "late_child")]));
}

/// File ids a malicious trace might carry.
const HOSTILE: [&str; 8] = [
    "x'; touch PWNED; echo '",
    "$(touch PWNED)",
    "`touch PWNED`",
    "../../escape",
    "..",
    "a\nb; touch PWNED",
    "{{params.x}}",
    "a\\\"b > PWNED",
];

fn hostile_trace() -> String {
    let mut producer = task("make; rm -rf /", &[], &[], &HOSTILE);
    producer["name"] = json!("$(reboot)\n{{steps.x.status}}");
    let consumer = task("use", &["make; rm -rf /"], &HOSTILE, &[]);
    let reader = task("ext", &[], &HOSTILE, &[]);
    let files: Vec<(&str, f64)> = HOSTILE.iter().map(|f| (*f, 3.0)).collect();
    trace(vec![producer, consumer, reader], &files, &[])
}

#[test]
fn hostile_file_names_cannot_inject_shell() {
    let imported = import_ok(&hostile_trace());
    let wf = &imported.workflow;
    assert_eq!(wf.steps[0].name, "reboot-steps-x-status");
    for step in &wf.steps {
        let src = source(step);
        for line in src.lines() {
            // Outside the single-quoted names, only the fixed replay commands appear…
            let quoted: Vec<&str> = line.split('\'').collect();
            assert!(quoted.len() == 1 || quoted.len() == 3, "{line:?}");
            if let [before, name, after] = quoted[..] {
                assert!(
                    ["cat ", "head -c 3 /dev/zero > "].contains(&before),
                    "{line:?}"
                );
                assert!(["", " > /dev/null"].contains(&after), "{line:?}");
                // …and the names inside hold no quote, no `/` beyond the directory, no `..`.
                let file = name
                    .strip_prefix("in/")
                    .or_else(|| name.strip_prefix("out/"))
                    .unwrap_or_else(|| panic!("{line:?}"));
                assert!(
                    file.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)),
                    "{line:?}"
                );
                assert!(file.bytes().any(|b| b != b'.'), "{line:?}");
            } else {
                assert!(
                    ["set -eu", "mkdir -p in", "mkdir -p out", "mkdir -p in out"].contains(&line),
                    "{line:?}"
                );
            }
        }
        assert!(!src.contains("{{"), "{src}");
    }
    // Every hostile file still flows from producer to consumer.
    assert_eq!(wf.steps[1].inputs.artifacts.len(), HOSTILE.len());
    assert_eq!(edges(&imported), pairs(&[("make; rm -rf /", "use")]));
    // The raw id survives only as description text.
    assert_eq!(
        wf.steps[0].description.as_deref(),
        Some("Replays WfFormat task `make; rm -rf /` (no recorded runtime).")
    );
}

/// A fresh, empty directory under the system temp dir.
fn scratch(tag: &str) -> PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "couler-wfformat-{}-{tag}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs every step's script with `sh` in its own directory, in topological order, copying each
/// input artifact from the producing step's directory first: a miniature local runtime.
/// Returns the step directories, or `None` when the machine has no `sh`.
fn run_replay(wf: &couler_ir::Workflow, root: &Path) -> Option<Vec<PathBuf>> {
    let order = Graph::new(wf).topological_order().unwrap();
    let dirs: Vec<PathBuf> = (0..wf.steps.len())
        .map(|i| root.join(format!("step{i}")))
        .collect();
    for i in order {
        let step = &wf.steps[i];
        std::fs::create_dir_all(dirs[i].join("in")).unwrap();
        for input in &step.inputs.artifacts {
            let Some(ArtifactSource::From(Reference::Step { step: from, output })) = &input.source
            else {
                panic!("unexpected source {:?}", input.source)
            };
            let StepOutput::Artifact(name) = output else {
                panic!("{output:?}")
            };
            let p = wf.step_index(from).unwrap();
            let out = wf.steps[p]
                .outputs
                .artifacts
                .iter()
                .find(|a| &a.name == name)
                .unwrap();
            std::fs::copy(dirs[p].join(&out.path), dirs[i].join(&input.path)).unwrap();
        }
        let script = dirs[i].join("replay.sh");
        std::fs::write(&script, source(step)).unwrap();
        let status = match std::process::Command::new("sh")
            .arg("replay.sh")
            .current_dir(&dirs[i])
            .status()
        {
            Ok(status) => status,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(e) => panic!("{e}"),
        };
        assert!(status.success(), "step {} failed: {status}", step.name);
    }
    Some(dirs)
}

fn all_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            all_files(&p, out);
        } else {
            out.push(p);
        }
    }
}

#[test]
fn hostile_replay_runs_under_sh_and_stays_in_its_directory() {
    let imported = import_ok(&hostile_trace());
    let root = scratch("hostile");
    let dirs = run_replay(&imported.workflow, &root).expect("`sh` runs the replay scripts");
    let mut files = Vec::new();
    all_files(&root, &mut files);
    // An injected `touch PWNED` or `> PWNED` would leave a file of exactly that name.
    assert!(
        files
            .iter()
            .all(|f| f.file_name().is_some_and(|n| n != "PWNED")),
        "{files:#?}"
    );
    assert_eq!(files.len(), 3 + 3 * HOSTILE.len(), "{files:#?}");
    assert!(!root.join("escape").exists() && !root.parent().unwrap().join("escape").exists());
    // The producer wrote 8 outputs of 3 bytes; the consumer received all of them.
    let outs = std::fs::read_dir(dirs[0].join("out")).unwrap().count();
    assert_eq!(outs, HOSTILE.len());
    for a in &imported.workflow.steps[1].inputs.artifacts {
        assert_eq!(std::fs::metadata(dirs[1].join(&a.path)).unwrap().len(), 3);
    }
    // The reader generated its own copies in `in/`.
    assert_eq!(
        std::fs::read_dir(dirs[2].join("in")).unwrap().count(),
        HOSTILE.len()
    );
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn chain_replay_runs_and_writes_recorded_sizes() {
    let text = trace(
        vec![
            task("a", &[], &["seed"], &["x.bin"]),
            task("b", &["a"], &["x.bin"], &["y.bin"]),
        ],
        &[("seed", 7.0), ("x.bin", 1000.0), ("y.bin", 2500.0)],
        &[("a", 0.2), ("b", 0.1)],
    );
    let options = ImportOptions {
        time_scale: 0.1,
        size_scale: 0.5,
        name: None,
    };
    let imported = import_ok_with(&text, &options);
    let root = scratch("chain");
    let dirs = run_replay(&imported.workflow, &root).expect("`sh` runs the replay scripts");
    let size = |p: PathBuf| std::fs::metadata(p).unwrap().len();
    assert_eq!(size(dirs[0].join("in/seed")), 4); // 3.5 rounds to 4
    assert_eq!(size(dirs[0].join("out/x.bin")), 500);
    assert_eq!(size(dirs[1].join("in/x.bin")), 500);
    assert_eq!(size(dirs[1].join("out/y.bin")), 1250);
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn scaling_rounds_sleep_and_sizes() {
    let text = trace(
        vec![
            task("a", &[], &[], &["f"]),
            task("b", &[], &[], &[]),
            task("c", &[], &[], &[]),
            task("d", &[], &[], &[]),
        ],
        &[("f", 3.0)],
        &[("a", 2.25), ("b", 0.0008), ("c", 0.0012), ("d", 1e-9)],
    );
    let half = ImportOptions {
        time_scale: 0.5,
        size_scale: 0.5,
        name: None,
    };
    let wf = import_ok_with(&text, &half).workflow;
    assert_eq!(
        source(&wf.steps[0]),
        "set -eu\nmkdir -p out\nsleep 1.125\nhead -c 2 /dev/zero > 'out/f'\n"
    );
    // 0.0004 s prints as 0: no sleep line; 0.0006 s rounds up to 1 ms.
    assert_eq!(source(&wf.steps[1]), "set -eu\n");
    assert_eq!(source(&wf.steps[2]), "set -eu\nsleep 0.001\n");
    assert_eq!(source(&wf.steps[3]), "set -eu\n");
    assert_eq!(wf.annotations["wfformat/time-scale"], "0.5");

    let frozen = ImportOptions {
        time_scale: 0.0,
        size_scale: 0.0,
        name: None,
    };
    let wf = import_ok_with(&text, &frozen).workflow;
    assert_eq!(
        source(&wf.steps[0]),
        "set -eu\nmkdir -p out\nhead -c 0 /dev/zero > 'out/f'\n"
    );

    let big = ImportOptions {
        time_scale: 1000.0,
        size_scale: 1e300,
        name: None,
    };
    let wf = import_ok_with(&text, &big).workflow;
    assert!(source(&wf.steps[0]).contains("sleep 2250\n"));
    assert!(source(&wf.steps[0]).contains(&format!("head -c {} ", u64::MAX)));

    for bad in [f64::NAN, -1.0, f64::INFINITY] {
        let options = ImportOptions {
            time_scale: bad,
            ..ImportOptions::default()
        };
        let e = import(&text, &options).unwrap_err();
        assert!(e.to_string().contains("time_scale"), "{e}");
        let options = ImportOptions {
            size_scale: bad,
            ..ImportOptions::default()
        };
        assert!(import(&text, &options).is_err());
    }
}

#[test]
fn odd_measurements_count_as_zero() {
    let text = trace(
        vec![
            task("neg", &[], &["unlisted"], &["negative"]),
            task("none", &["neg"], &["negative"], &[]),
        ],
        &[("negative", -50.0)],
        &[("neg", -3.0)],
    );
    let imported = import_ok(&text);
    let wf = &imported.workflow;
    assert_eq!(
        source(&wf.steps[0]),
        "set -eu\nmkdir -p in out\nhead -c 0 /dev/zero > 'in/unlisted'\ncat 'in/unlisted' > /dev/null\nhead -c 0 /dev/zero > 'out/negative'\n"
    );
    assert_eq!(
        wf.steps[0].description.as_deref(),
        Some("Replays WfFormat task `neg` (recorded runtime 0 s).")
    );
    assert_eq!(
        wf.steps[1].description.as_deref(),
        Some("Replays WfFormat task `none` (no recorded runtime).")
    );
    assert_eq!(imported.summary.tasks_without_runtime, 1);
    assert_eq!(imported.summary.total_runtime_secs, 0.0);
}

#[test]
fn bad_json_says_line_and_column() {
    let e = import_err("{\n  \"name\": \"x\",\n  \"workflow\": {,}\n}");
    assert_eq!(e.location(), Some((3, 16)));
    assert!(e.to_string().contains("line 3, column 16"), "{e}");
    assert!(
        e.to_string().starts_with("the trace is not valid JSON"),
        "{e}"
    );
    let e = import_err("{\"name\": ");
    assert!(e.location().is_some(), "{e}");
    let e = import_err("");
    assert!(e.to_string().contains("line 1"), "{e}");
}

#[test]
fn structural_errors_name_the_task_and_the_fix() {
    let unknown = trace(
        vec![task("a", &[], &[], &[]), task("b", &["zz"], &[], &[])],
        &[],
        &[],
    );
    let e = import_err(&unknown);
    assert_eq!(e.task_id(), Some("b"));
    assert!(e.to_string().contains("unknown parent `zz`"), "{e}");
    assert!(e.to_string().contains("fix the `parents` of `b`"), "{e}");

    let mut a = task("a", &[], &[], &[]);
    a["children"] = json!(["ghost"]);
    let e = import_err(&trace(vec![a], &[], &[]));
    assert_eq!(e.task_id(), Some("a"));
    assert!(e.to_string().contains("unknown child `ghost`"), "{e}");

    let dup = trace(
        vec![task("a", &[], &[], &[]), task("a", &[], &[], &[])],
        &[],
        &[],
    );
    let e = import_err(&dup);
    assert_eq!(e.task_id(), Some("a"));
    assert!(e.to_string().contains("more than once"), "{e}");

    let selfish = trace(vec![task("a", &["a"], &[], &[])], &[], &[]);
    assert!(import_err(&selfish).to_string().contains("itself"));

    let cyclic = trace(
        vec![
            task("a", &["c"], &[], &[]),
            task("b", &["a"], &[], &[]),
            task("c", &["b"], &[], &[]),
        ],
        &[],
        &[],
    );
    let e = import_err(&cyclic);
    assert!(e.to_string().contains("cycle"), "{e}");
    assert!(e.to_string().contains("a → b → c → a"), "{e}");

    let mut typed = task("t", &[], &[], &[]);
    typed["parents"] = json!("a");
    let e = import_err(&trace(vec![typed], &[], &[]));
    assert_eq!(e.task_id(), Some("t"));
    assert!(e.to_string().contains("must be a list"), "{e}");

    let mut typed = task("t", &[], &[], &[]);
    typed["inputFiles"] = json!([1]);
    assert!(
        import_err(&trace(vec![typed], &[], &[]))
            .to_string()
            .contains("item 0 of `inputFiles`")
    );

    let slow = trace(vec![task("t", &[], &[], &[])], &[], &[]).replace(
        "\"tasks\":[]",
        "\"tasks\":[{\"id\":\"t\",\"runtimeInSeconds\":\"fast\"}]",
    );
    let e = import_err(&slow);
    assert!(e.to_string().contains("`runtimeInSeconds`"), "{e}");

    let e =
        import_err(&json!({"workflow": {"specification": {"tasks": [{"name": 3}]}}}).to_string());
    assert!(
        e.to_string().contains("tasks[0]` has no string `id`"),
        "{e}"
    );
    let e = import_err(&json!({"workflow": {"specification": {"tasks": []}}}).to_string());
    assert!(e.to_string().contains("no tasks"), "{e}");
    let e = import_err("[1, 2]");
    assert!(e.to_string().contains("is a list"), "{e}");
    let e = import_err(&json!({"name": "x"}).to_string());
    assert!(e.to_string().contains("no `workflow`"), "{e}");
    let e = import_err(&json!({"workflow": {"specification": {"tasks": 5}}}).to_string());
    assert!(e.to_string().contains("is a number, not a list"), "{e}");
}

#[test]
fn legacy_layout_imports() {
    // WfFormat 1.4: files inside tasks with `link`; parents refer to `name`.
    let text = json!({
        "name": "legacy",
        "schemaVersion": "1.4",
        "workflow": {
            "makespanInSeconds": 9,
            "executedAt": "2020-01-01T00:00:00Z",
            "tasks": [
                {"name": "gen_ID1", "id": "ID1", "type": "compute", "parents": [],
                 "runtimeInSeconds": 3.5,
                 "files": [{"name": "in.dat", "sizeInBytes": 10, "link": "input"},
                           {"name": "mid.dat", "sizeInBytes": 20, "link": "output"}]},
                {"name": "use_ID2", "id": "ID2", "type": "compute", "parents": ["gen_ID1"],
                 "runtime": 2,
                 "files": [{"name": "mid.dat", "size": 999, "link": "input"}]},
                {"name": "tail_ID3", "type": "auxiliary", "parents": ["use_ID2"]}
            ]
        }
    })
    .to_string();
    let imported = import_ok(&text);
    let wf = &imported.workflow;
    assert_eq!(imported.task_ids, ["gen_ID1", "use_ID2", "tail_ID3"]);
    assert_eq!(
        edges(&imported),
        pairs(&[("gen_ID1", "use_ID2"), ("use_ID2", "tail_ID3")])
    );
    assert_eq!(wf.annotations["wfformat/schema-version"], "1.4");
    assert_eq!(wf.annotations["wfformat/makespan-seconds"], "9");
    // The producer's recorded size wins over the reader's.
    assert!(source(&wf.steps[0]).contains("head -c 20 /dev/zero > 'out/mid.dat'"));
    assert!(source(&wf.steps[1]).contains("sleep 2\n"));
    assert_eq!(from_of(&wf.steps[1], 0).step_name(), Some("gen-id1"));
    assert_eq!(wf.steps[2].depends_on, ["use-id2"]);

    let bad_link = text.replace("\"link\":\"input\"", "\"link\":\"sideways\"");
    let e = import_err(&bad_link);
    assert_eq!(e.task_id(), Some("gen_ID1"));
    assert!(
        e.to_string().contains("`link: input` or `link: output`"),
        "{e}"
    );
}

#[test]
fn import_is_deterministic() {
    let text = hostile_trace();
    let a = spec::to_yaml(&import(&text, &ImportOptions::default()).unwrap());
    for _ in 0..5 {
        let b = spec::to_yaml(&import(&text, &ImportOptions::default()).unwrap());
        assert_eq!(a, b);
    }
}

#[test]
fn summary_displays_in_one_line() {
    let text = trace(
        vec![task("a", &[], &[], &["f"])],
        &[("f", 5.0)],
        &[("a", 1.5)],
    );
    let line = import_ok(&text).summary.to_string();
    assert_eq!(
        line,
        "1 tasks, 0 edges (0 with files), 1 files, 1.5 s recorded runtime, replay critical path 1.5 s, 5 bytes written"
    );
}
