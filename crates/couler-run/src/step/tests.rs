//! The step core's decisions, one test a fate, against a real artifact store on disk.

use super::*;
use crate::runner::AttemptFiles;
use std::cell::Cell;
use std::collections::BTreeMap;

/// Caching on, secrets from the host.
const ON: Caching<'static> = Caching {
    enabled: true,
    secrets_from: None,
};

fn workflow(steps: &str) -> Workflow {
    let text = format!(
        "apiVersion: couler.dev/v1alpha1\nkind: Workflow\nname: w\nparams:\n  - {{name: go, default: 'yes'}}\nsteps:\n{steps}"
    );
    match couler_ir::spec::load(&text, couler_ir::Format::Yaml) {
        Ok((wf, _)) => wf,
        Err(d) => panic!("invalid test workflow: {d:?}"),
    }
}

struct Fixture {
    wf: Workflow,
    params: BTreeMap<String, serde_json::Value>,
    seen: BTreeMap<String, Outcome>,
    _dir: tempfile::TempDir,
    root: std::path::PathBuf,
    store: Store,
}

impl Fixture {
    async fn new(steps: &str) -> Fixture {
        let wf = workflow(steps);
        let params = crate::resolve_params(&wf, &[]).unwrap_or_default();
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let root = dir.path().to_path_buf();
        let store = match Store::open(&root.join("store")).await {
            Ok(s) => s,
            Err(e) => panic!("{e}"),
        };
        Fixture {
            wf,
            params,
            seen: BTreeMap::new(),
            _dir: dir,
            root,
            store,
        }
    }

    fn ctx(&self) -> Context<'_> {
        Context {
            workflow_name: &self.wf.name,
            run_id: "r",
            workflow_status: None,
            params: &self.params,
            steps: &self.seen,
            item: None,
            input_params: BTreeMap::new(),
            input_artifact_paths: BTreeMap::new(),
            output_param_paths: BTreeMap::new(),
            output_artifact_paths: BTreeMap::new(),
        }
    }

    fn step(&self, name: &str) -> &Step {
        match self.wf.steps.iter().find(|s| s.name == name) {
            Some(s) => s,
            None => panic!("no step {name}"),
        }
    }

    /// `decide` for `name` with the cache on, the lookup answering `hit`; also how often the
    /// lookup was asked and with which probe.
    async fn decide(
        &self,
        name: &str,
        hit: Option<StepOutputs>,
    ) -> (Fate<'_>, u32, Option<Option<String>>) {
        let calls = Cell::new(0);
        let probed = Cell::new(None);
        let lookup = |probe: Probe<'_>| {
            calls.set(calls.get() + 1);
            probed.set(Some(probe.map(|(k, _)| k.to_string())));
            Ok(hit)
        };
        match decide(
            &self.wf,
            &self.ctx(),
            self.step(name),
            Some(&self.store),
            ON,
            lookup,
        )
        .await
        {
            Ok(fate) => (fate, calls.get(), probed.take()),
            Err(e) => panic!("{e}"),
        }
    }
}

fn ended(fate: &Fate<'_>) -> (StepStatus, String) {
    match fate {
        Fate::Ended(o) => (o.status, o.message.clone().unwrap_or_default()),
        other => panic!("not ended: {other:?}"),
    }
}

#[tokio::test]
async fn when_false_or_an_upstream_skip_skips_without_a_lookup() {
    let mut f = Fixture::new(
        "  - {name: up, container: {command: ['true']}}
  - {name: off, when: 'params.go == \"no\"', container: {command: ['true']}}
  - {name: reader, container: {command: [echo, '{{steps.up.outputs.result}}']}}
  - {name: status-reader, container: {command: [echo, '{{steps.up.status}}']}}
",
    )
    .await;
    f.seen
        .insert("up".into(), Outcome::new(StepStatus::Skipped, None));
    let (fate, calls, _) = f.decide("off", None).await;
    let (status, why) = ended(&fate);
    assert_eq!(status, StepStatus::Skipped);
    assert_eq!(why, "skipped: `when: params.go == \"no\"` is false");
    assert_eq!(
        calls, 0,
        "nothing is looked up (or recorded) for a skipped step"
    );
    let (fate, _, _) = f.decide("reader", None).await;
    let (status, why) = ended(&fate);
    assert_eq!(status, StepStatus::Skipped);
    assert!(
        why.starts_with("skipped: it reads `steps.up.outputs.result`"),
        "{why}"
    );
    // Reading a skipped step's status does not skip.
    assert!(matches!(
        f.decide("status-reader", None).await.0,
        Fate::Ready(_)
    ));
}

#[tokio::test]
async fn a_when_that_cannot_be_read_errs() {
    let f = Fixture::new(
        "  - {name: a, container: {command: ['true']}}
  - {name: b, dependsOn: [a], when: 'steps.a.outputs.result == \"x\"', container: {command: ['true']}}
",
    )
    .await;
    // `a` has no outcome: its result cannot be read.
    let (status, why) = ended(&f.decide("b", None).await.0);
    assert_eq!(status, StepStatus::Error);
    assert!(why.contains("`a` has not finished"), "{why}");
}

#[tokio::test]
async fn kinds_the_local_row_does_not_support_err_with_its_text() {
    let f = Fixture::new(
        "  - name: job
    job: {framework: mpi, image: t:1, replicas: {launcher: 1}, command: [x]}
  - name: wait
    suspend: {}
  - name: nap
    suspend: {duration: 2s}
  - name: sub
    workflow: {ref: child.yaml}
",
    )
    .await;
    let (status, why) = ended(&f.decide("job", None).await.0);
    assert_eq!(status, StepStatus::Error);
    assert!(
        why.starts_with(
            "local does not support MPI distributed jobs (MPIJob) (used by step `job`)"
        ) && why.contains("supported by: argo"),
        "{why}"
    );
    let (status, why) = ended(&f.decide("wait", None).await.0);
    assert_eq!(status, StepStatus::Error);
    assert!(why.contains("an untimed suspend is rejected"), "{why}");
    assert!(matches!(f.decide("nap", None).await.0, Fate::Wait(d) if d == Duration::from_secs(2)));
    // Sub-workflows run locally (as nested runs): the driver's.
    assert!(
        matches!(f.decide("sub", None).await.0, Fate::SubWorkflow(s) if s.reference == "child.yaml")
    );
}

#[tokio::test]
async fn input_artifacts_must_be_given_and_stored() {
    let mut f = Fixture::new(
        "  - name: make
    container: {command: ['true']}
    outputs: {artifacts: [{name: out, path: out.txt}]}
  - name: use
    container: {command: ['true']}
    inputs: {artifacts: [{name: in, path: in.txt, from: steps.make.outputs.artifacts.out}]}
  - name: maybe
    container: {command: ['true']}
    inputs: {artifacts: [{name: in, path: in.txt, from: steps.make.outputs.artifacts.out, optional: true}]}
",
    )
    .await;
    f.seen
        .insert("make".into(), Outcome::new(StepStatus::Succeeded, None));
    let (status, why) = ended(&f.decide("use", None).await.0);
    assert_eq!(status, StepStatus::Error);
    assert_eq!(
        why,
        "missing input artifact `in`: `make` produced no artifact `out`"
    );
    assert!(matches!(f.decide("maybe", None).await.0, Fate::Ready(r) if r.inputs.is_empty()));
    // Recorded, but its blob is gone from the store.
    let mut out = StepOutputs::default();
    let gone = absent();
    out.artifacts.insert("out".into(), gone.clone());
    f.seen.insert(
        "make".into(),
        Outcome::with_outputs(StepStatus::Succeeded, out),
    );
    let (status, why) = ended(&f.decide("use", None).await.0);
    assert_eq!(status, StepStatus::Error);
    assert!(
        why.contains(&format!(
            "({}) is missing from the artifact store",
            gone.digest
        )),
        "{why}"
    );
    // Without any store, a step with artifacts cannot run.
    let lookup = |_: Probe<'_>| Ok(None);
    let fate = decide(&f.wf, &f.ctx(), f.step("make"), None, ON, lookup).await;
    let (status, why) = ended(&fate.unwrap_or_else(|e| panic!("{e}")));
    assert_eq!(status, StepStatus::Error);
    assert!(why.contains("no artifact store is configured"), "{why}");
}

/// An artifact reference whose blob is not in any store.
fn absent() -> crate::artifacts::ArtifactRef {
    crate::artifacts::ArtifactRef {
        digest: format!("sha256:{}", "0".repeat(64)),
        size: 3,
        kind: crate::artifacts::ArtifactKind::File,
    }
}

#[tokio::test]
async fn the_cache_is_probed_only_for_memoized_steps_and_a_hit_needs_its_blobs() {
    let f = Fixture::new(
        "  - name: make
    container: {command: ['true']}
    outputs: {artifacts: [{name: out, path: out.txt}]}
  - name: deploy
    container: {command: ['true']}
",
    )
    .await;
    // No outputs declared: not memoized, the lookup gets no key (the driver records the start).
    let (fate, calls, probe) = f.decide("deploy", None).await;
    assert!(matches!(&fate, Fate::Ready(r) if !r.caching));
    assert_eq!((calls, probe), (1, Some(None)));
    // Memoized: the lookup gets the key the fate carries.
    let (fate, _, probe) = f.decide("make", None).await;
    let Fate::Ready(ready) = fate else {
        panic!("not ready: {fate:?}")
    };
    assert!(ready.caching && ready.key.starts_with("sha256:"));
    assert_eq!(probe, Some(Some(ready.key.clone())));
    // A hit whose blob is in the store restores the step.
    let file = f.root.join("blob.txt");
    std::fs::write(&file, "made").unwrap_or_else(|e| panic!("{e}"));
    let stored = f.store.put(&file).await.unwrap_or_else(|e| panic!("{e}"));
    let mut hit = StepOutputs::default();
    hit.artifacts.insert("out".into(), stored);
    match f.decide("make", Some(hit.clone())).await.0 {
        Fate::Cached { key, outcome } => {
            assert_eq!(key, ready.key);
            assert_eq!(outcome.status, StepStatus::Cached);
            assert_eq!(outcome.outputs, hit);
        }
        other => panic!("not cached: {other:?}"),
    }
    // A hit whose blob was deleted from the store runs the step again.
    hit.artifacts.insert("out".into(), absent());
    assert!(matches!(
        f.decide("make", Some(hit)).await.0,
        Fate::Ready(_)
    ));
}

#[tokio::test]
async fn the_cache_key_follows_the_definition_and_item_not_the_run() {
    let f = Fixture::new(
        "  - name: a
    container: {command: [echo, '{{workflow.runId}}']}
    outputs: {parameters: [{name: p}]}
",
    )
    .await;
    let key = |fate: Fate<'_>| match fate {
        Fate::Ready(r) => r.key,
        other => panic!("not ready: {other:?}"),
    };
    let first = key(f.decide("a", None).await.0);
    let mut other_run = f.ctx();
    other_run.run_id = "another-run";
    let lookup = |_: Probe<'_>| Ok(None);
    let fate = decide(&f.wf, &other_run, f.step("a"), Some(&f.store), ON, lookup).await;
    assert_eq!(key(fate.unwrap_or_else(|e| panic!("{e}"))), first);
    let item = serde_json::json!(1);
    let mut with_item = f.ctx();
    with_item.item = Some(&item);
    let lookup = |_: Probe<'_>| Ok(None);
    let fate = decide(&f.wf, &with_item, f.step("a"), Some(&f.store), ON, lookup).await;
    assert_ne!(key(fate.unwrap_or_else(|e| panic!("{e}"))), first);
}

fn ran(outputs: &str) -> Outcome {
    let mut o = StepOutputs::default();
    o.parameters.insert("n".into(), outputs.into());
    Outcome::with_outputs(StepStatus::Succeeded, o)
}

#[tokio::test]
async fn the_repeat_loop_goes_on_while_the_condition_holds_up_to_its_cap() {
    let f = Fixture::new(
        "  - name: grow
    container: {command: ['true']}
    outputs: {parameters: [{name: n}]}
    repeat: {while: steps.grow.outputs.parameters.n < 3, maxIterations: 5}
  - name: once
    container: {command: ['true']}
",
    )
    .await;
    let mut l = Loop::new(f.step("grow"), f.ctx());
    assert!(matches!(l.after(ran("1")), Turn::Again(_)));
    assert!(matches!(l.after(ran("2")), Turn::Again(_)));
    match l.after(ran("3")) {
        Turn::End(o) => {
            assert_eq!(o.status, StepStatus::Succeeded);
            assert_eq!(o.outputs.iterations, Some(3));
            assert_eq!(o.outputs.parameters["n"], "3");
        }
        other => panic!("{other:?}"),
    }
    // The cap ends it even while the condition holds.
    let mut l = Loop::new(f.step("grow"), f.ctx());
    for _ in 0..4 {
        assert!(matches!(l.after(ran("0")), Turn::Again(_)));
    }
    assert!(matches!(l.after(ran("0")), Turn::End(o) if o.outputs.iterations == Some(5)));
    // A failure ends it; a condition that cannot be read is an Error.
    let mut l = Loop::new(f.step("grow"), f.ctx());
    let failed = Outcome::new(StepStatus::Failed, "exited with code 1".to_string());
    assert!(
        matches!(l.after(failed), Turn::End(o) if o.status == StepStatus::Failed && o.outputs.iterations == Some(1))
    );
    let mut l = Loop::new(f.step("grow"), f.ctx());
    match l.after(Outcome::new(StepStatus::Succeeded, None)) {
        Turn::End(o) => {
            assert_eq!(o.status, StepStatus::Error);
            let m = o.message.unwrap_or_default();
            assert!(m.starts_with("cannot evaluate `repeat.while`"), "{m}");
        }
        other => panic!("{other:?}"),
    }
    // Without `repeat`: one iteration, no count.
    let mut l = Loop::new(f.step("once"), f.ctx());
    assert!(matches!(l.after(ran("9")), Turn::End(o) if o.outputs.iterations.is_none()));
}

#[tokio::test]
async fn an_attempt_outcome_reads_how_its_process_ended() {
    let f = Fixture::new(
        "  - name: a
    container: {command: ['true']}
    outputs: {parameters: [{name: p, path: p.txt}]}
",
    )
    .await;
    let files = AttemptFiles::at(f.root.join("work"));
    std::fs::create_dir_all(files.work()).unwrap_or_else(|e| panic!("{e}"));
    let ran = Ran {
        step: f.step("a"),
        files: &files,
        store: Some(&f.store),
        timeout: Some(Duration::from_millis(1500)),
    };
    let timed_out = ProcessEnd::TimedOut {
        peak_rss_kb: 0,
        cpu_seconds: 0.0,
    };
    let o = attempt_outcome(&timed_out, &ran).await;
    assert_eq!(
        (o.status, o.message.as_deref()),
        (
            StepStatus::Failed,
            Some("timed out after 1.5s and was stopped")
        )
    );
    let o = attempt_outcome(&ProcessEnd::Stopped, &ran).await;
    assert_eq!(o.status, StepStatus::Error);
    let exited = |code| ProcessEnd::Exited {
        code,
        peak_rss_kb: 0,
        cpu_seconds: 0.0,
    };
    std::fs::write(files.stdout(), "out\n").unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(files.stderr(), "1\n2\n3\n4\n5\n6\n").unwrap_or_else(|e| panic!("{e}"));
    let o = attempt_outcome(&exited(2), &ran).await;
    assert_eq!(o.status, StepStatus::Failed);
    assert_eq!(
        o.message.as_deref(),
        Some("exited with code 2: 2 | 3 | 4 | 5 | 6")
    );
    assert_eq!(
        (o.outputs.exit_code, o.outputs.result.as_deref()),
        (Some(2), Some("out"))
    );
    // A zero exit without its declared output errs; with it, succeeds with the value.
    let o = attempt_outcome(&exited(0), &ran).await;
    assert_eq!(o.status, StepStatus::Error);
    assert!(
        o.message
            .unwrap_or_default()
            .contains("output parameter `p`")
    );
    std::fs::write(files.work().join("p.txt"), "v\n").unwrap_or_else(|e| panic!("{e}"));
    let o = attempt_outcome(&exited(0), &ran).await;
    assert_eq!(o.status, StepStatus::Succeeded);
    assert_eq!(o.outputs.parameters["p"], "v");
}

#[test]
fn a_step_reading_secrets_is_keyed_apart_for_each_secrets_directory() {
    let wf = workflow(
        "- name: s\n  container:\n    command: [env]\n  secrets:\n  - env: PASS\n    secret: db\n    key: password\n- name: plain\n  container:\n    command: [env]\n",
    );
    let def = plan::Rendered::default();
    let key = |name: &str, from: Option<&str>| {
        let step = wf
            .steps
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("{name}"));
        plan::cache_key(&wf, step, &def, &[], None, from.map(std::path::Path::new))
    };
    assert_ne!(
        key("s", Some("/secrets/team-a")),
        key("s", Some("/secrets/team-b"))
    );
    assert_ne!(key("s", Some("/secrets/team-a")), key("s", None));
    // A step without secrets keeps the key it had.
    assert_eq!(key("plain", Some("/secrets/team-a")), key("plain", None));
}
