//! Comparing a run's outcome with `couler run`'s, shared by the engine tests (airflow.rs,
//! tekton_run.rs): per node, the status (`Cached` reads as `Succeeded`), output parameters,
//! `result`, exit code and artifact contents fetched from the run's store by digest, with the
//! run id read as `<run-id>`.

use std::collections::BTreeMap;
use std::path::Path;

/// Where a run's values live, to compare what is run-specific by meaning: its run id (which
/// reads as `<run-id>`) and its artifact store (file artifacts compare by content, with the
/// run id replaced; equal digests are equal contents).
pub struct RunView<'a> {
    pub run_id: &'a str,
    pub store: &'a Path,
    pub iterations: bool,
}

impl RunView<'_> {
    fn text(&self, v: &serde_json::Value) -> serde_json::Value {
        match v.as_str() {
            Some(s) => serde_json::Value::String(s.replace(self.run_id, "<run-id>")),
            None => v.clone(),
        }
    }

    pub fn blob(&self, digest: &str) -> Option<String> {
        let hex = digest.trim_start_matches("sha256:");
        if hex.len() != 64 {
            return None;
        }
        let blob = self.store.join("blobs/sha256").join(&hex[..2]).join(hex);
        std::fs::read(blob)
            .ok()
            .map(|b| String::from_utf8_lossy(&b).replace(self.run_id, "<run-id>"))
    }

    /// A file artifact as its content; a directory as its files' contents (from its manifest).
    fn artifact(&self, a: &serde_json::Value) -> serde_json::Value {
        let digest = a["digest"].as_str().unwrap_or_default();
        let content = match a["kind"].as_str() {
            Some("file") => self.blob(digest).map(serde_json::Value::String),
            Some("directory") => self.blob(digest).and_then(|m| {
                let m: serde_json::Value = serde_json::from_str(&m).ok()?;
                let files: Option<BTreeMap<String, String>> = m["files"]
                    .as_array()?
                    .iter()
                    .map(|f| {
                        Some((
                            f["path"].as_str()?.to_string(),
                            self.blob(f["digest"].as_str()?)?,
                        ))
                    })
                    .collect();
                Some(serde_json::json!(files?))
            }),
            _ => None,
        };
        content.unwrap_or_else(|| serde_json::Value::String(format!("missing blob {digest}")))
    }

    /// What is compared per node: status, output parameters, result, exit code, artifacts;
    /// `iterations` only when the example is deterministic.
    pub fn comparable(&self, status: &str, outputs: &serde_json::Value) -> serde_json::Value {
        // A failed step's partial outputs are not compared: Airflow keeps none of them.
        let ran = matches!(status, "Succeeded" | "Cached");
        let status = if status == "Cached" {
            "Succeeded"
        } else {
            status
        };
        let mut v = serde_json::json!({ "status": status });
        if ran {
            let params: BTreeMap<String, serde_json::Value> = outputs["parameters"]
                .as_object()
                .map(|m| m.iter().map(|(k, x)| (k.clone(), self.text(x))).collect())
                .unwrap_or_default();
            v["parameters"] = serde_json::json!(params);
            v["result"] = self.text(&outputs["result"]);
            v["exit_code"] = outputs["exit_code"].clone();
            let arts: BTreeMap<String, serde_json::Value> = outputs["artifacts"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, a)| (k.clone(), self.artifact(a)))
                        .collect()
                })
                .unwrap_or_default();
            v["artifacts"] = serde_json::json!(arts);
            if self.iterations {
                v["iterations"] = outputs["iterations"].clone();
            }
        }
        v
    }
}

/// `couler run -o json`'s nodes, less the aggregate node of each step in `mapped`.
pub fn local_nodes(
    report: &serde_json::Value,
    mapped: &[String],
    view: &RunView<'_>,
) -> BTreeMap<String, serde_json::Value> {
    let mut out = BTreeMap::new();
    for s in report["steps"].as_array().into_iter().flatten() {
        let node = s["node"].as_str().unwrap_or_default().to_string();
        // A mapped step's aggregate node has no Airflow task of its own (its instances do).
        if mapped.contains(&node) {
            continue;
        }
        let status = s["status"].as_str().unwrap_or_default();
        out.insert(node, view.comparable(status, &s["outputs"]));
    }
    out
}

/// The nodes on which `a` and `b` differ, one line each, for an assertion message.
pub fn differences(
    a_name: &str,
    a: &BTreeMap<String, serde_json::Value>,
    b: &BTreeMap<String, serde_json::Value>,
) -> Vec<String> {
    a.keys()
        .chain(b.keys())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| format!("{k}:\n  {a_name}: {:?}\n  local: {:?}", a.get(k), b.get(k)))
        .collect()
}

/// `couler run FILE -o json` in a fresh directory, as comparable nodes (see [`local_nodes`]).
/// A workflow with random choices (`random`) is run up to 12 times until its nodes equal
/// `engine`'s, so both took the same branch; otherwise once. `label` names the spec in errors.
/// And the run's status (`Succeeded`, `Failed`, …) as `couler run` reports it.
pub fn local_run(
    spec: &Path,
    label: &str,
    mapped: &[String],
    random: bool,
    iterations: bool,
    engine: &BTreeMap<String, serde_json::Value>,
) -> (BTreeMap<String, serde_json::Value>, String) {
    let mut local = BTreeMap::new();
    let mut status = String::new();
    for _ in 0..if random { 12 } else { 1 } {
        let d = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_couler"))
            .args(["run", &spec.display().to_string(), "-o", "json"])
            .current_dir(d.path())
            .env_remove("COULER_STATE_DIR")
            .env_remove("COULER_ARTIFACT_STORE")
            .output()
            .unwrap_or_else(|e| panic!("the couler binary runs: {e}"));
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "{label}: couler run -o json ({e}): {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
        let store = d.path().join(".couler/artifacts");
        let view = RunView {
            run_id: report["runId"].as_str().unwrap_or("?"),
            store: &store,
            iterations,
        };
        local = local_nodes(&report, mapped, &view);
        status = report["status"].as_str().unwrap_or("?").to_string();
        if &local == engine {
            break;
        }
    }
    (local, status)
}
