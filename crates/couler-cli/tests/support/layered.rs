//! The layered workflow the split tests run on every engine (`split_run.rs` has its own
//! generator of any size), and its outputs on the local runtime, to compare against.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

/// A layered workflow of 4 × 3 steps (each reads two artifacts of the layer before, writes a
/// file and a directory, and prints its size), with a typed param and an exit step.
pub fn spec() -> String {
    let mut s = String::from(
        "apiVersion: couler.dev/v1alpha1\nkind: Workflow\nname: layered\nparams:\n  - name: n\n    type: int\n    default: 3\nsteps:\n",
    );
    for l in 0..4 {
        for w in 0..3 {
            let name = format!("l{l}w{w}");
            s.push_str(&format!(
                "  - name: {name}\n    script:\n      command: [sh]\n      source: \"cat a b 2>/dev/null > out; echo {name} {{{{params.n}}}} >> out; mkdir -p o; cp out o/out; wc -c < out\"\n"
            ));
            if l > 0 {
                s.push_str("    inputs:\n      artifacts:\n");
                for (input, from) in [("a", w), ("b", (w + 1) % 3)] {
                    s.push_str(&format!(
                        "        - name: {input}\n          path: {input}\n          from: steps.l{}w{from}.outputs.artifacts.out\n",
                        l - 1
                    ));
                }
            }
            s.push_str("    outputs:\n      parameters:\n        - name: size\n      artifacts:\n        - name: out\n          path: out\n        - name: dir\n          path: o\n");
        }
    }
    s.push_str("onExit:\n  - name: report\n    script:\n      command: [sh]\n      source: \"echo workflow {{workflow.status}}\"\n");
    s
}

/// Output parameters and artifact digests of one step outcome.
pub fn parameters_and_digests(outputs: &serde_json::Value) -> serde_json::Value {
    let digests: BTreeMap<String, serde_json::Value> = outputs["artifacts"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v["digest"].clone()))
        .collect();
    serde_json::json!({"parameters": outputs["parameters"], "artifacts": digests})
}

/// `couler run SPEC --param PARAM` (state under `work/state`); each main step's
/// [`parameters_and_digests`], by name.
pub fn local_outputs(
    couler: &str,
    work: &Path,
    spec: &Path,
    param: &str,
) -> BTreeMap<String, serde_json::Value> {
    let state = work.join("state").display().to_string();
    let run = |args: &[&str]| {
        let out = Command::new(couler)
            .args(args)
            .args(["--state-dir", &state, "-o", "json"])
            .current_dir(work)
            .env_remove("COULER_STATE_DIR")
            .env_remove("COULER_ARTIFACT_STORE")
            .output()
            .unwrap_or_else(|e| panic!("the couler binary runs: {e}"));
        assert!(
            out.status.success(),
            "couler {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&out.stdout)
            .unwrap_or_else(|e| panic!("couler {args:?} -o json: {e}"))
    };
    let report = run(&["run", &spec.display().to_string(), "--param", param]);
    let run_id = report["runId"].as_str().unwrap_or_default().to_string();
    let status = run(&["status", &run_id]);
    let local: BTreeMap<String, serde_json::Value> = status["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["node"] != "report")
        .map(|s| {
            (
                s["node"].as_str().unwrap_or_default().to_string(),
                parameters_and_digests(&s["outputs"]),
            )
        })
        .collect();
    assert_eq!(local.len(), 12, "{status}");
    local
}
