//! A split workflow on Tekton: chained PipelineRuns. No Kubernetes API server or Tekton
//! controller can run on this machine, so the documents `couler split --target tekton` writes
//! run on the test stand-ins: `support/tekton_standin.rs` interprets Tasks, Pipelines and
//! PipelineRuns (the real `couler launch` in every TaskRun), and `support/fake_api.rs` serves
//! the `pipelineruns` the parent's tasks create through the real kube client, running each on
//! the Tekton stand-in as the controller would. What is checked: the parts' runs are created in
//! dependency order, owned by the parent, with its params and bound to its claims; every step's
//! outputs equal `couler run` on the unsplit spec; a failed part stops the later ones and the
//! exit handler sees it; and the launcher's retry, foreign-run and cancel paths.

#[path = "support/cli.rs"]
mod cli;
#[path = "support/fake_api.rs"]
mod fake_api;
#[path = "support/layered.rs"]
#[allow(dead_code)] // shared with airflow.rs
mod layered;
#[path = "support/tekton_standin.rs"]
#[allow(dead_code)] // shared with tekton_run.rs
mod tekton_standin;

use cli::couler_in as couler;
use fake_api::{Log, Request, status};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tekton_standin::{Documents, PipelineRun, Standin, State};

const PIPELINERUNS: &str = "/apis/tekton.dev/v1/namespaces/default/pipelineruns";

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"))
}

/// What the "controller" does with a created run: given the collection, it reports the run's
/// end with [`Runs::finish`].
type Start = Box<dyn Fn(&Arc<Runs>, String, Value) + Send + Sync>;

/// An in-memory `pipelineruns` collection; `start` is called with each created run.
struct Runs {
    runs: Mutex<BTreeMap<String, Value>>,
    start: Start,
}

impl Runs {
    fn new(start: impl Fn(&Arc<Runs>, String, Value) + Send + Sync + 'static) -> Arc<Runs> {
        Arc::new(Runs {
            runs: Mutex::default(),
            start: Box::new(start),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Value>> {
        self.runs.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn finish(&self, name: &str, ok: bool, message: &str) {
        if let Some(r) = self.lock().get_mut(name) {
            r["status"]["conditions"] = json!([{
                "type": "Succeeded",
                "status": if ok { "True" } else { "False" },
                "reason": if ok { "Succeeded" } else { "Failed" },
                "message": message,
            }]);
        }
    }

    fn handle(self: &Arc<Self>, r: &Request) -> (u16, Value) {
        let Some(rest) = r.path.strip_prefix(PIPELINERUNS) else {
            return status(404, "NotFound", &format!("no such resource: {}", r.path));
        };
        let name = rest.trim_start_matches('/').to_string();
        match (r.method.as_str(), name.is_empty()) {
            ("POST", true) => {
                let name = r.body["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                let mut runs = self.lock();
                if runs.contains_key(&name) {
                    return status(
                        409,
                        "AlreadyExists",
                        &format!("pipelineruns \"{name}\" already exists"),
                    );
                }
                let mut run = r.body.clone();
                run["metadata"]["uid"] = json!(format!("uid-{name}"));
                run["status"] = json!({"conditions": [{"type": "Succeeded", "status": "Unknown", "reason": "Running"}]});
                runs.insert(name.clone(), run.clone());
                drop(runs);
                (self.start)(self, name, run.clone());
                (201, run)
            }
            ("GET", false) => match self.lock().get(&name) {
                Some(run) => (200, run.clone()),
                None => status(
                    404,
                    "NotFound",
                    &format!("pipelineruns \"{name}\" not found"),
                ),
            },
            ("DELETE", false) => match self.lock().remove(&name) {
                Some(_) => status(200, "", "deleted"),
                None => status(
                    404,
                    "NotFound",
                    &format!("pipelineruns \"{name}\" not found"),
                ),
            },
            ("PATCH", false) => match self.lock().get_mut(&name) {
                Some(run) => {
                    if let Some(s) = r.body["spec"]["status"].as_str() {
                        run["spec"]["status"] = json!(s);
                    }
                    (200, run.clone())
                }
                None => status(
                    404,
                    "NotFound",
                    &format!("pipelineruns \"{name}\" not found"),
                ),
            },
            _ => status(405, "MethodNotAllowed", &format!("{} {}", r.method, r.path)),
        }
    }
}

fn serve(runs: &Arc<Runs>) -> (String, Log) {
    let runs = runs.clone();
    fake_api::serve(Arc::new(move |r: &Request| runs.handle(r)))
}

/// The Tekton stand-in for every PipelineRun of one logical run: one claims root, and pods
/// that reach the API stand-in through `kubeconfig`.
fn standin(claims: &Path, kubeconfig: &Path) -> Standin {
    Standin {
        launcher: PathBuf::from(env!("CARGO_BIN_EXE_couler")),
        compiled_launcher: "/usr/local/bin/couler".into(),
        claims: Some(claims.to_path_buf()),
        pod_env: vec![
            ("KUBECONFIG".into(), kubeconfig.display().to_string()),
            ("COULER_POLL_INTERVAL".into(), "0.1".into()),
        ],
    }
}

/// What a split run left: the parent's PipelineRun, each part's, and the API log.
struct Split {
    parent: PipelineRun,
    parts: BTreeMap<String, PipelineRun>,
    log: Log,
    claims: PathBuf,
    report: String,
}

/// Splits `spec` for Tekton into parts of 4 steps, applies the parts' Tasks and Pipelines to
/// the stand-in cluster, and runs the parent's PipelineRun with param `n`.
fn split_and_run(work: &Path, spec: &str, n: &str) -> Split {
    let file = work.join("layered.yaml");
    std::fs::write(&file, spec).unwrap_or_else(|e| panic!("{e}"));
    let out_dir = work.join("split");
    let out = couler(
        work,
        &[
            "split",
            &file.display().to_string(),
            "--target",
            "tekton",
            "--max-steps",
            "4",
            "-o",
            &out_dir.display().to_string(),
        ],
    );
    assert!(out.status.success(), "couler split: {}", text(&out.stderr));
    let report = text(&out.stdout);
    assert!(
        report.contains("12 steps split into 3 parts for tekton"),
        "{report}"
    );
    let dir = out_dir.join("tekton");
    // `kubectl apply` of the parts: their Tasks and Pipelines.
    let (mut tasks, mut pipelines) = (BTreeMap::new(), BTreeMap::new());
    for k in 1..=3 {
        let file = dir.join(format!("layered-part-{k}.yaml"));
        for d in tekton_standin::read_documents(&file).unwrap_or_else(|e| panic!("{e}")) {
            let name = d["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            match d["kind"].as_str() {
                Some("Task") => tasks.insert(name, d),
                Some("Pipeline") => pipelines.insert(name, d),
                other => panic!("{}: a part holds a {other:?}", file.display()),
            };
        }
    }
    let claims = work.join("claims");
    let kubeconfig_dir = work.join("kube");
    std::fs::create_dir_all(&kubeconfig_dir).unwrap_or_else(|e| panic!("{e}"));
    let finished: Arc<Mutex<BTreeMap<String, PipelineRun>>> = Arc::default();
    // The controller: a created part's run runs on the stand-in, in its own thread.
    let done = finished.clone();
    let (claims_c, kube_c, work_c) = (
        claims.clone(),
        kubeconfig_dir.join("kubeconfig"),
        work.to_path_buf(),
    );
    let runs = Runs::new(move |runs, name, run| {
        let Some(pipeline) = run["spec"]["pipelineRef"]["name"]
            .as_str()
            .and_then(|p| pipelines.get(p))
            .cloned()
        else {
            panic!("{name}: no such Pipeline applied: {run}");
        };
        let docs = Documents {
            tasks: tasks.clone(),
            config_maps: Default::default(),
            pipeline,
            pipeline_run: run,
        };
        let (runs, done) = (runs.clone(), done.clone());
        let s = standin(&claims_c, &kube_c);
        let run_dir = work_c.join("runs").join(&name);
        std::thread::spawn(move || match s.run(&docs, &run_dir) {
            Ok(r) => {
                let failed = r
                    .tasks
                    .values()
                    .any(|t| matches!(t.state, State::Failed(_)));
                runs.finish(&name, !failed, &format!("tasks: {}", r.tasks_status));
                done.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(name, r);
            }
            Err(e) => runs.finish(&name, false, &e),
        });
    });
    let (url, log) = serve(&runs);
    let kubeconfig = fake_api::kubeconfig(&kubeconfig_dir, &url);

    let mut docs =
        tekton_standin::parse(&dir.join("layered.yaml")).unwrap_or_else(|e| panic!("{e}"));
    docs.pipeline_run["spec"]["params"] = json!([{"name": "n", "value": n}]);
    let parent = standin(&claims, &kubeconfig)
        .run(&docs, &work.join("parent"))
        .unwrap_or_else(|e| panic!("the parent run: {e}"));
    // The parent's tasks wait for their parts, so every part that started has finished.
    let parts = std::mem::take(&mut *finished.lock().unwrap_or_else(|e| e.into_inner()));
    Split {
        parent,
        parts,
        log,
        claims,
        report,
    }
}

fn posts(log: &Log) -> Vec<Value> {
    log.lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .filter(|r| r.method == "POST")
        .map(|r| r.body.clone())
        .collect()
}

fn with_image(spec: String) -> String {
    spec.replacen("steps:\n", "defaults:\n  image: alpine:3.19\nsteps:\n", 1)
}

#[test]
fn a_split_workflow_runs_as_chained_pipelineruns_like_couler_run() {
    let work = tmp();
    let spec = with_image(layered::spec());
    let file = work.path().join("unsplit.yaml");
    std::fs::write(&file, &spec).unwrap_or_else(|e| panic!("{e}"));
    let local = layered::local_outputs(env!("CARGO_BIN_EXE_couler"), work.path(), &file, "n=7");

    let s = split_and_run(work.path(), &spec, "7");
    for (task, end) in &s.parent.tasks {
        assert_eq!(
            end.state,
            State::Succeeded,
            "parent task {task}: {:#?}",
            end.runs
        );
    }
    assert_eq!(s.parent.tasks_status, "Succeeded");
    assert!(
        s.parent.tasks.contains_key("report"),
        "the exit handler ran"
    );

    // One run per part, created in dependency order, owned by the parent, with its param and
    // bound to its artifact claim.
    let created = posts(&s.log);
    let names: Vec<&str> = created
        .iter()
        .map(|b| b["metadata"]["name"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        names,
        [
            "layered-run-layered-part-1",
            "layered-run-layered-part-2",
            "layered-run-layered-part-3"
        ]
    );
    let claim = &s.parent.claims["couler-artifacts"];
    for b in &created {
        assert_eq!(
            b["metadata"]["ownerReferences"][0]["uid"],
            json!(s.parent.uid),
            "{b}"
        );
        assert_eq!(
            b["metadata"]["labels"]["couler.dev/parent-uid"],
            json!(s.parent.uid)
        );
        assert_eq!(
            b["spec"]["params"],
            json!([{"name": "n", "value": "7"}]),
            "{b}"
        );
        assert_eq!(
            b["spec"]["workspaces"],
            json!([{"name": "couler-artifacts", "persistentVolumeClaim": {"claimName": claim}}])
        );
    }

    // Every step's outputs, read from its part's TaskRun results, equal the unsplit run's.
    let mut tekton = BTreeMap::new();
    for (name, part) in &s.parts {
        for (task, end) in &part.tasks {
            assert_eq!(
                end.state,
                State::Succeeded,
                "{name}/{task}: {:#?}",
                end.runs
            );
            let outcome: Value = serde_json::from_str(&end.runs[0].results["outcome"])
                .unwrap_or_else(|e| panic!("{name}/{task}: {e}"));
            assert_eq!(outcome["status"], "Succeeded", "{outcome}");
            tekton.insert(
                task.clone(),
                layered::parameters_and_digests(&outcome["outputs"]),
            );
        }
    }
    assert_eq!(tekton, local, "split on Tekton against couler run unsplit");

    // Artifacts crossing a cut went through the exchange in the parent's claim.
    let crossing: usize = s
        .report
        .lines()
        .find_map(|l| l.strip_prefix("artifacts crossing a cut: "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("{}", s.report));
    let exchange = s.claims.join(claim).join("couler-exchange");
    let stored: usize = std::fs::read_dir(&exchange)
        .unwrap_or_else(|e| panic!("{}: {e}", exchange.display()))
        .flatten()
        .map(|step| std::fs::read_dir(step.path()).map_or(0, |d| d.count()))
        .sum();
    assert!(crossing > 0);
    assert_eq!(stored, crossing, "{}", exchange.display());
}

#[test]
fn a_failed_part_stops_the_later_parts_and_the_exit_handler_sees_it() {
    let work = tmp();
    // l1w1 (in part 2) fails when n is 13.
    let spec = with_image(layered::spec()).replacen(
        "source: \"cat a b 2>/dev/null > out; echo l1w1",
        "source: \"test {{params.n}} != 13 || exit 3; cat a b 2>/dev/null > out; echo l1w1",
        1,
    );
    let s = split_and_run(work.path(), &spec, "13");
    let names: Vec<Value> = posts(&s.log)
        .iter()
        .map(|b| b["metadata"]["name"].clone())
        .collect();
    assert_eq!(
        names,
        [
            json!("layered-run-layered-part-1"),
            json!("layered-run-layered-part-2")
        ],
        "part 3 is never created"
    );
    let part2 = &s.parts["layered-run-layered-part-2"];
    assert!(
        matches!(part2.tasks["l1w1"].state, State::Failed(_)),
        "{:?}",
        part2.tasks["l1w1"].state
    );
    assert!(matches!(
        s.parent.tasks["layered-part-2"].state,
        State::Failed(_)
    ));
    let outcome: Value =
        serde_json::from_str(&s.parent.tasks["layered-part-2"].runs[0].results["outcome"])
            .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(outcome["status"], "Failed", "{outcome}");
    assert!(
        outcome["message"]
            .as_str()
            .is_some_and(|m| m.contains("layered-run-layered-part-2 failed")),
        "{outcome}"
    );
    assert!(matches!(
        s.parent.tasks["layered-part-3"].state,
        State::Skipped(_)
    ));
    assert_eq!(s.parent.tasks_status, "Failed");
    assert_eq!(
        s.parent.tasks["report"].state,
        State::Succeeded,
        "the exit handler runs"
    );
}

// ---- the launcher against a scripted API -----------------------------------------------------

const CHILD: &str = r#"{"apiVersion":"tekton.dev/v1","kind":"PipelineRun","metadata":{"name":"p-part-1-run"},"spec":{"pipelineRef":{"name":"p-part-1"},"params":[{"name":"n","value":"3"}],"workspaces":[{"name":"couler-artifacts","volumeClaimTemplate":{"spec":{}}}]}}"#;

/// `couler launch pipelinerun` for step `p-part-1` of parent run `p-run` (uid `u-1`).
fn launcher(work: &Path, kubeconfig: &Path) -> Command {
    let task = json!({"step": "p-part-1", "workflow": {
        "apiVersion": "couler.dev/v1alpha1", "kind": "Workflow", "name": "p",
        "params": [{"name": "n", "type": "int", "default": 3}],
        "steps": [{"name": "p-part-1", "workflow": {"ref": "p-part-1.yaml", "params": {"n": "{{params.n}}"}}}],
    }});
    let mut c = Command::new(env!("CARGO_BIN_EXE_couler"));
    c.args([
        "launch",
        "pipelinerun",
        "--parent-run",
        "p-run",
        "--namespace",
        "default",
        "--claim",
        "couler-artifacts=pvc-9",
        "--poll-interval",
        "0.05",
        "--results-dir",
    ])
    .arg(work.join("results"))
    .env("COULER_TASK", task.to_string())
    .env("COULER_CHILD_RUN", CHILD)
    .env("COULER_RUN_ID", "u-1")
    .env("COULER_PARAM_n", "5")
    .env("KUBECONFIG", kubeconfig)
    .current_dir(work);
    c
}

fn existing(uid: &str, ok: bool) -> Value {
    json!({"apiVersion": "tekton.dev/v1", "kind": "PipelineRun",
           "metadata": {"name": "p-run-p-part-1", "labels": {"couler.dev/parent-uid": uid}},
           "status": {"conditions": [{"type": "Succeeded", "status": if ok { "True" } else { "False" },
                                      "reason": "Failed", "message": "a task failed"}]}})
}

fn methods(log: &Log) -> Vec<String> {
    log.lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .map(|r| r.method.clone())
        .collect()
}

#[test]
fn a_retried_task_deletes_its_failed_part_run_and_runs_it_again() {
    let work = tmp();
    let runs = Runs::new(|runs, name, _| {
        let runs = runs.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            runs.finish(&name, true, "all tasks succeeded");
        });
    });
    runs.lock()
        .insert("p-run-p-part-1".into(), existing("u-1", false));
    let (url, log) = serve(&runs);
    let kubeconfig = fake_api::kubeconfig(work.path(), &url);
    let out = launcher(work.path(), &kubeconfig)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let m = methods(&log);
    assert_eq!(&m[..5], ["POST", "GET", "DELETE", "GET", "POST"], "{m:?}");
    let created = &posts(&log)[1];
    assert_eq!(
        created["spec"]["params"],
        json!([{"name": "n", "value": "5"}])
    );
    assert_eq!(
        created["spec"]["workspaces"][0]["persistentVolumeClaim"]["claimName"],
        "pvc-9"
    );
    let status = std::fs::read_to_string(work.path().join("results/status")).unwrap_or_default();
    assert_eq!(status, "Succeeded");
    assert!(
        text(&out.stderr).contains("earlier attempt failed"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_run_of_that_name_from_another_parent_is_an_error_and_is_left_alone() {
    let work = tmp();
    let runs = Runs::new(|_, _, _| {});
    runs.lock()
        .insert("p-run-p-part-1".into(), existing("someone-else", true));
    let (url, log) = serve(&runs);
    let kubeconfig = fake_api::kubeconfig(work.path(), &url);
    let out = launcher(work.path(), &kubeconfig)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains("belongs to another run") && err.contains("someone-else"),
        "{err}"
    );
    assert_eq!(methods(&log), ["POST", "GET"], "nothing deleted");
}

#[test]
fn sigterm_cancels_the_parts_run() {
    let work = tmp();
    let runs = Runs::new(|_, _, _| {}); // never finishes
    let (url, log) = serve(&runs);
    let kubeconfig = fake_api::kubeconfig(work.path(), &url);
    let mut child = launcher(work.path(), &kubeconfig)
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let started = Instant::now();
    while methods(&log).iter().filter(|m| *m == "GET").count() < 2 {
        assert!(
            started.elapsed().as_secs() < 60,
            "the launcher never polled: {:?}",
            methods(&log)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // SAFETY: a plain signal to the child this test started.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let code = child.wait().unwrap_or_else(|e| panic!("{e}")).code();
    assert_eq!(code, Some(1));
    assert_eq!(
        runs.lock()["p-run-p-part-1"]["spec"]["status"],
        "Cancelled",
        "{:?}",
        methods(&log)
    );
    let status = std::fs::read_to_string(work.path().join("results/status")).unwrap_or_default();
    assert_eq!(status, "Failed");
}
