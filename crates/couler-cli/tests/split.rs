//! `couler split` as a real process: the report, the files it writes (Argo documents and IR
//! parts that read back and validate), budgets from flags, and clear errors for bad input and
//! for the targets whose split lowering is not built.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn couler(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_couler"))
        .args(args)
        .output()
        .expect("the couler binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A chain of `n` steps, each passing an artifact to the next.
fn chain(n: usize) -> String {
    let mut s =
        String::from("apiVersion: couler.dev/v1alpha1\nkind: Workflow\nname: chain\nsteps:\n");
    for i in 0..n {
        s.push_str(&format!(
            "  - name: s{i}\n    script:\n      image: alpine:3.19\n      command: [sh]\n      source: \"cat in 2>/dev/null > out; echo {i} >> out\"\n"
        ));
        if i > 0 {
            s.push_str(&format!(
                "    inputs:\n      artifacts:\n        - name: in\n          path: in\n          from: steps.s{}.outputs.artifacts.out\n",
                i - 1
            ));
        }
        s.push_str("    outputs:\n      artifacts:\n        - name: out\n          path: out\n");
    }
    s
}

fn field(report: &str, label: &str) -> usize {
    report
        .lines()
        .find_map(|l| l.strip_prefix(label))
        .unwrap_or_else(|| panic!("no `{label}` in:\n{report}"))
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn splits_a_chain_by_steps_and_writes_documents_and_ir_parts() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = tmp.path().join("chain.yaml");
    std::fs::write(&spec, chain(25)).unwrap();
    let out_dir = tmp.path().join("out");
    let out = couler(&[
        "split",
        spec.to_str().unwrap(),
        "--target",
        "argo",
        "--max-steps",
        "10",
        "--exchange",
        "s3://bucket/prefix",
        "-o",
        out_dir.to_str().unwrap(),
    ]);
    let report = text(&out.stdout);
    assert!(out.status.success(), "{}\n{report}", text(&out.stderr));
    assert!(report.contains("25 steps split into 3 parts"), "{report}");
    assert_eq!(field(&report, "edges cut: "), 2);
    assert_eq!(field(&report, "depth of the graph of parts: "), 3);
    assert_eq!(field(&report, "lower bound on parts: "), 3);
    assert_eq!(field(&report, "artifacts crossing a cut: "), 2);
    for k in 1..=3 {
        let name = format!("chain-part-{k}.yaml");
        let argo = std::fs::read_to_string(out_dir.join("argo").join(&name)).unwrap();
        assert!(argo.contains("kind: WorkflowTemplate"));
        let ir = std::fs::read_to_string(out_dir.join("ir").join(&name)).unwrap();
        let (wf, _) = couler_ir::spec::load(&ir, couler_ir::Format::Yaml)
            .unwrap_or_else(|d| panic!("{name}: {d:?}"));
        assert!(wf.steps.len() <= 10);
    }
    let parent = std::fs::read_to_string(out_dir.join("argo/chain.yaml")).unwrap();
    assert_eq!(parent.matches("action: create").count(), 3);
    let (parent_ir, _) = couler_ir::spec::load(
        &std::fs::read_to_string(out_dir.join("ir/chain.yaml")).unwrap(),
        couler_ir::Format::Yaml,
    )
    .unwrap();
    assert_eq!(
        parent_ir.steps[2].depends_on,
        vec!["chain-part-2".to_string()]
    );
}

#[test]
fn the_paper_method_and_a_byte_budget_are_flags() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = tmp.path().join("chain.yaml");
    std::fs::write(&spec, chain(40)).unwrap();
    let out = couler(&[
        "split",
        spec.to_str().unwrap(),
        "--max-bytes",
        "8Ki",
        "--method",
        "dfs-greedy",
        "--exchange",
        "s3://b",
        "-o",
        tmp.path().join("o").to_str().unwrap(),
    ]);
    let report = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(report.contains("method dfs-greedy"), "{report}");
    for entry in std::fs::read_dir(tmp.path().join("o/argo")).unwrap() {
        let len = entry.unwrap().metadata().unwrap().len();
        assert!(len <= 8 * 1024, "a document of {len} bytes");
    }
    assert!(field(&report, "lower bound on parts: ") >= 2);
}

#[test]
fn bad_input_gets_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = tmp.path().join("chain.yaml");
    std::fs::write(&spec, chain(3)).unwrap();
    let o = tmp.path().join("o");
    let run = |extra: &[&str]| {
        let mut args = vec!["split", spec.to_str().unwrap(), "-o", o.to_str().unwrap()];
        args.extend_from_slice(extra);
        let out = couler(&args);
        assert_eq!(out.status.code(), Some(2));
        text(&out.stderr)
    };
    // Airflow's tasks run the launcher, which reads crossing artifacts from a directory.
    let e = run(&["--target", "airflow", "--exchange", "s3://b"]);
    assert!(
        e.contains("--exchange s3://b") && e.contains("directory") && e.contains("--target argo"),
        "{e}"
    );
    // Tekton's parts exchange through the run's artifact volume, mounted in every task.
    for bad in [
        "s3://b",
        "/tmp/exchange",
        "/workspace/couler-artifacts/../etc",
        "/workspace/couler-artifacts",
    ] {
        let e = run(&["--target", "tekton", "--exchange", bad]);
        assert!(
            e.contains(&format!("--exchange {bad}"))
                && e.contains("artifact volume")
                && e.contains("/workspace/couler-artifacts/couler-exchange"),
            "{e}"
        );
    }
    let e = run(&[]);
    assert!(e.contains("--exchange s3://"), "{e}");
    let e = run(&["--max-bytes", "lots", "--exchange", "s3://b"]);
    assert!(e.contains("--max-bytes") && e.contains("1Mi"), "{e}");
    let e = run(&["--max-bytes", "100", "--exchange", "s3://b"]);
    assert!(e.contains("raise the budget"), "{e}");
    // Argo cannot keep artifacts in a directory: the error names both ways out.
    let e = run(&["--target", "argo", "--exchange", "/tmp/exchange"]);
    assert!(
        e.contains("--exchange /tmp/exchange")
            && e.contains("s3://")
            && e.contains("--target local"),
        "{e}"
    );
    assert!(!o.exists(), "nothing is written on an error");
    // The local runtime's exchange is a directory.
    let e = run(&["--target", "local", "--exchange", "s3://b"]);
    assert!(
        e.contains("directory") && e.contains("--target argo"),
        "{e}"
    );
}

#[test]
fn local_target_writes_only_ir_parts_with_an_absolute_directory_exchange() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = tmp.path().join("chain.yaml");
    std::fs::write(&spec, chain(25)).unwrap();
    let out_dir = tmp.path().join("out");
    // A relative exchange is made absolute (against the working directory).
    let out = Command::new(env!("CARGO_BIN_EXE_couler"))
        .current_dir(tmp.path())
        .args([
            "split",
            "chain.yaml",
            "--target",
            "local",
            "--max-steps",
            "10",
        ])
        .args(["--exchange", "ex", "-o", "out"])
        .output()
        .unwrap();
    let report = text(&out.stdout);
    assert!(out.status.success(), "{}\n{report}", text(&out.stderr));
    assert!(
        report.contains("25 steps split into 3 parts for local (10 steps, method packed)"),
        "{report}"
    );
    assert_eq!(field(&report, "artifacts crossing a cut: "), 2);
    assert!(
        !out_dir.join("argo").exists(),
        "no Argo documents for local"
    );
    let exchange = std::fs::canonicalize(tmp.path()).unwrap().join("ex");
    let part = std::fs::read_to_string(out_dir.join("ir/chain-part-2.yaml")).unwrap();
    assert!(
        part.contains(&format!("{}/s9/out", exchange.display())),
        "{part}"
    );

    // A byte budget is measured on each part's IR spec as written; no byte limit by default.
    let o = tmp.path().join("bytes");
    let out = couler(&[
        "split",
        spec.to_str().unwrap(),
        "--target",
        "local",
        "--max-bytes",
        "4Ki",
        "-o",
        o.to_str().unwrap(),
    ]);
    let report = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(report.contains("for local (4096 bytes"), "{report}");
    assert!(field(&report, "lower bound on parts: ") >= 2);
    for entry in std::fs::read_dir(o.join("ir")).unwrap() {
        let entry = entry.unwrap();
        let len = entry.metadata().unwrap().len();
        assert!(len <= 4096, "{:?}: {len} bytes", entry.path());
    }
    // The default exchange is `OUTPUT/exchange`.
    let part = std::fs::read_to_string(o.join("ir/chain-part-2.yaml")).unwrap();
    assert!(
        part.contains(&format!("{}/", o.join("exchange").display())),
        "{part}"
    );
}

#[test]
fn montage_splits_under_one_mib_from_the_command_line() {
    let trace = repo().join("../shared/traces/wfinstances/montage-chameleon-dss-15d-001.json");
    if !trace.exists() {
        println!("skipping: {} is absent", trace.display());
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let spec = tmp.path().join("montage.yaml");
    let out = couler(&[
        "import",
        "wfformat",
        trace.to_str().unwrap(),
        "-o",
        spec.to_str().unwrap(),
        "--time-scale",
        "0",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let dir = tmp.path().join("split");
    let out = couler(&[
        "split",
        spec.to_str().unwrap(),
        "--target",
        "argo",
        "--exchange",
        "s3://couler/montage",
        "-o",
        dir.to_str().unwrap(),
    ]);
    let report = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let parts = field(&report, "montage-0: 2122 steps split into ");
    assert!(parts >= field(&report, "lower bound on parts: "));
    let docs: Vec<_> = std::fs::read_dir(dir.join("argo")).unwrap().collect();
    assert_eq!(docs.len(), parts + 1);
    for d in docs {
        assert!(d.unwrap().metadata().unwrap().len() <= 1024 * 1024);
    }
}

#[test]
fn compile_splits_a_document_over_one_mib_when_it_can() {
    let tmp = tempfile::tempdir().unwrap();
    let big = chain(2500);
    let with_repo = big.replacen(
        "steps:\n",
        "artifactRepository:\n  s3:\n    bucket: couler\nsteps:\n",
        1,
    );
    let spec = tmp.path().join("chain.yaml");
    std::fs::write(&spec, &with_repo).unwrap();
    let dir = tmp.path().join("out");
    let out = couler(&[
        "compile",
        spec.to_str().unwrap(),
        "-t",
        "argo",
        "-o",
        dir.to_str().unwrap(),
    ]);
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("splitting it into parts"), "{err}");
    let docs: Vec<_> = std::fs::read_dir(dir.join("argo")).unwrap().collect();
    assert!(docs.len() >= 3, "{err}");
    for d in docs {
        assert!(d.unwrap().metadata().unwrap().len() <= 1024 * 1024);
    }
    // Without an S3 repository there is nowhere for cut artifacts to go: the whole document is
    // written, with a note saying how to split.
    let plain = tmp.path().join("plain.yaml");
    std::fs::write(&plain, &big).unwrap();
    let dir = tmp.path().join("whole");
    let out = couler(&[
        "compile",
        plain.to_str().unwrap(),
        "-o",
        dir.to_str().unwrap(),
    ]);
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("couler split") && err.contains("--exchange"),
        "{err}"
    );
    assert!(dir.join("chain.yaml").metadata().unwrap().len() > 1024 * 1024);
}

#[test]
fn compile_splits_a_tekton_file_over_one_mib_into_chained_pipelineruns() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = tmp.path().join("chain.yaml");
    std::fs::write(&spec, chain(1500)).unwrap();
    let dir = tmp.path().join("out");
    let out = couler(&[
        "compile",
        spec.to_str().unwrap(),
        "-t",
        "tekton",
        "-o",
        dir.to_str().unwrap(),
    ]);
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("splitting it into parts"), "{err}");
    let parts = field(&err, "chain: 1500 steps split into ");
    assert!(parts >= 2, "{err}");
    let tekton = dir.join("tekton");
    for k in 1..=parts {
        let file = tekton.join(format!("chain-part-{k}.yaml"));
        let len = file
            .metadata()
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()))
            .len();
        assert!(len <= 1024 * 1024, "{}: {len} bytes", file.display());
    }
    // The parent, its launcher's account, and the parts' exchange in the artifact volume.
    let parent = std::fs::read_to_string(tekton.join("chain.yaml")).unwrap();
    assert_eq!(
        parent.matches("- pipelinerun\n").count(),
        parts,
        "one part task each"
    );
    assert!(tekton.join("chain-rbac.yaml").exists());
    let part2 = std::fs::read_to_string(dir.join("ir/chain-part-2.yaml")).unwrap();
    assert!(
        part2.contains("/workspace/couler-artifacts/couler-exchange/"),
        "{part2}"
    );
}

/// The hint after a split names a command that works: `couler run DIR/ir/…` where the parts
/// exchange artifacts through a directory (here Airflow's; the run is checked), and not where
/// they go through S3 (Argo), which only the engine's parts read.
#[test]
fn the_run_hint_is_one_that_works() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = tmp.path().join("chain.yaml");
    std::fs::write(&spec, chain(4)).unwrap();
    let split = |target: &str, extra: &[&str]| {
        let out_dir = tmp.path().join(target);
        let mut args = vec![
            "split",
            spec.to_str().unwrap(),
            "--target",
            target,
            "--max-steps",
            "2",
            "-o",
            out_dir.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let out = couler(&args);
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stderr)
    };
    let argo = split("argo", &["--exchange", "s3://bucket/prefix"]);
    assert!(
        !argo.contains("couler run /"),
        "no `couler run` of the parts: {argo}"
    );
    assert!(
        argo.contains("s3://bucket/prefix") && argo.contains("--target local"),
        "{argo}"
    );

    let airflow = split("airflow", &[]);
    let parent = tmp.path().join("airflow/ir/chain.yaml");
    assert!(
        airflow.contains(&format!("couler run {}", parent.display())),
        "{airflow}"
    );
    let state = tmp.path().join("state");
    let out = couler(&[
        "run",
        parent.to_str().unwrap(),
        "--state-dir",
        state.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}
