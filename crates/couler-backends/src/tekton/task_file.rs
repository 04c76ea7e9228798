//! A Task's launcher input in a file, where one environment variable cannot hold it.
//!
//! `COULER_TASK` is one environment string of the Task's step, which Linux caps at 128 KiB
//! ([`crate::ENV_STRING_LIMIT`]: the pod's container would fail to start with E2BIG). A step that
//! reads hundreds of inputs, or a Task shared by many steps (its input holds all of them), can
//! pass that. Such a Task's input goes into a `ConfigMap` of the Task's name, one key per step
//! the Task runs (`STEP.json`: that step's task, its own slice of the workflow), mounted read-only
//! at [`TASK_DIR`]; `COULER_TASK` names the file, `@/couler/task/$(params.couler-step).json`,
//! which the launcher reads (docs/launcher.md). Argo does the same for its own template
//! (`ARGO_TEMPLATE`, offloaded to a ConfigMap from v3.6). A ConfigMap holds at most 1 MiB.

use crate::{CompileError, LauncherSlices};
use couler_ir::launch_protocol::{TASK_ENV, Task, TaskForm};
use serde_json::{Map, Value, json};

/// Where a Task's steps see the ConfigMap of their launcher inputs.
pub const TASK_DIR: &str = "/couler/task";
/// The pod volume of that ConfigMap.
const TASK_VOLUME: &str = "couler-task";
/// Kubernetes' limit on a ConfigMap's data (`MaxSecretSize`, which ConfigMaps share: 1 MiB).
pub const CONFIG_MAP_LIMIT: usize = 1024 * 1024;

/// `COULER_TASK` of a Task whose inputs are in its ConfigMap.
pub fn task_env_value() -> String {
    TaskForm::File(&format!("{TASK_DIR}/$(params.couler-step).json")).text()
}

/// The ConfigMap `name` holding each member step's task, or an error naming the steps and the
/// limit when they do not fit one.
pub fn config_map(
    name: &str,
    members: &[&str],
    slices: &LauncherSlices<'_>,
) -> Result<Value, CompileError> {
    let mut data = Map::new();
    let mut total = 0;
    let mut largest = ("", 0);
    for m in members {
        let encode = |e: serde_json::Error| {
            CompileError::Invalid(format!("cannot serialise the workflow: {e}"))
        };
        let workflow = serde_json::to_value(slices.of(&[m])).map_err(encode)?;
        let text = serde_json::to_string(&Task::new(*m, workflow)).map_err(encode)?;
        let key = format!("{m}.json");
        total += key.len() + text.len();
        if text.len() > largest.1 {
            largest = (m, text.len());
        }
        data.insert(key, Value::String(text));
    }
    if total > CONFIG_MAP_LIMIT {
        let (step, size) = largest;
        let advice = if members.len() > 1 {
            format!(
                "the Task `{name}` runs {} steps, whose inputs total {total} bytes: compile with `--no-template-reuse` (one Task a step), or ",
                members.len()
            )
        } else {
            String::new()
        };
        return Err(CompileError::Invalid(format!(
            "step `{step}`: its launcher input is {size} bytes, too big for one environment variable ({} bytes), so it travels in a ConfigMap, which holds at most {CONFIG_MAP_LIMIT} bytes; {advice}give the step fewer inputs (split it, or pass a directory artifact instead of many files)",
            crate::ENV_STRING_LIMIT
        )));
    }
    Ok(json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name},
        "data": data,
    }))
}

/// Mounts the ConfigMap `name` into every step of a Task document that reads `COULER_TASK`.
pub fn mount(task: &mut Value, name: &str) {
    let Some(spec) = task.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    let volume = json!({"name": TASK_VOLUME, "configMap": {"name": name}});
    match spec.get_mut("volumes").and_then(Value::as_array_mut) {
        Some(v) => v.push(volume),
        None => {
            spec.insert("volumes".into(), json!([volume]));
        }
    }
    let steps = spec.get_mut("steps").and_then(Value::as_array_mut);
    for step in steps.into_iter().flatten() {
        let reads = step["env"]
            .as_array()
            .is_some_and(|env| env.iter().any(|e| e["name"] == TASK_ENV));
        if !reads {
            continue;
        }
        let m = json!({"name": TASK_VOLUME, "mountPath": TASK_DIR, "readOnly": true});
        match step.get_mut("volumeMounts").and_then(Value::as_array_mut) {
            Some(v) => v.push(m),
            None => {
                if let Some(o) = step.as_object_mut() {
                    o.insert("volumeMounts".into(), json!([m]));
                }
            }
        }
    }
}
