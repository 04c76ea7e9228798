//! The launcher protocol: how an engine's task hands one step to the in-task launcher
//! (`couler launch`) and learns its outcome. Its document is `docs/launcher.md`; this module is
//! its one home in code, shared by the writers (the Airflow and Tekton backends, crate
//! `couler-backends`) and the reader (`couler_run::launch`), and a test
//! (`crates/couler-backends/tests/launcher_doc.rs`) keeps the document equal to it.
//!
//! What lives here: the task ([`Task`], the JSON object a task hands over) and the forms its
//! text travels in ([`TaskForm`]: `@PATH`, `b64:BASE64` or the JSON itself), the environment
//! variables engines set, and the exit codes. Pure: reading a task's file or decoding its
//! base64 is the launcher's (no I/O here).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The couler image of this version: the launcher is copied from it (Tekton, when
/// `--launcher-image` is not given), and couler's own steps run in it (a tuned step's proposers,
/// docs/tuning.md).
pub const COULER_IMAGE: &str = concat!("ghcr.io/couler-dev/couler:", env!("CARGO_PKG_VERSION"));

/// The environment variable carrying the task when `--task` is not given.
pub const TASK_ENV: &str = "COULER_TASK";
/// A task written `@PATH` is read from the file `PATH`.
pub const TASK_FILE_PREFIX: &str = "@";
/// A task written `b64:BASE64` is the standard base64 (with padding) of its JSON text.
pub const TASK_BASE64_PREFIX: &str = "b64:";

/// `COULER_PARAMS`: a JSON object of workflow param values, merged over the task's `params`.
pub const PARAMS_ENV: &str = "COULER_PARAMS";
/// The prefix of `COULER_PARAM_<name>` ([`param_env`]): one param's value as raw text.
pub const PARAM_ENV_PREFIX: &str = "COULER_PARAM_";
/// The prefix of `COULER_UPSTREAM_<STEP>` ([`upstream_env`]): one upstream step's outcome.
pub const UPSTREAM_ENV_PREFIX: &str = "COULER_UPSTREAM_";
/// `COULER_ITEM`: the map item, as JSON.
pub const ITEM_ENV: &str = "COULER_ITEM";
/// `COULER_ITEM_INDEX`: the index of a static map's item (decimal).
pub const ITEM_INDEX_ENV: &str = "COULER_ITEM_INDEX";
/// `COULER_RUN_ID`: the run id.
pub const RUN_ID_ENV: &str = "COULER_RUN_ID";
/// `COULER_WORKFLOW_STATUS`: the workflow's status, for the exit handler.
pub const WORKFLOW_STATUS_ENV: &str = "COULER_WORKFLOW_STATUS";
/// `COULER_ARTIFACT_STORE`: the artifact store, when `--store` is not given.
pub const ARTIFACT_STORE_ENV: &str = "COULER_ARTIFACT_STORE";
/// `COULER_CHILD_RUN` (mode `pipelinerun`): a part's PipelineRun as compiled.
pub const CHILD_RUN_ENV: &str = "COULER_CHILD_RUN";
/// `COULER_POLL_INTERVAL` (mode `pipelinerun`): seconds between reads of the part's run.
pub const POLL_INTERVAL_ENV: &str = "COULER_POLL_INTERVAL";

/// Exit code: `Succeeded` or `Cached` (`when` mode: evaluated, whatever the value).
pub const EXIT_OK: i32 = 0;
/// Exit code: `Failed`, the command exited non-zero or timed out.
pub const EXIT_FAILED: i32 = 1;
/// Exit code: `Error`, the step could not run.
pub const EXIT_ERROR: i32 = 2;
/// Exit code: bad launcher input (unreadable task, unknown step, invalid JSON).
pub const EXIT_USAGE: i32 = 3;
/// Exit code: `Skipped` (Airflow's `BashOperator` marks a task skipped on it).
pub const EXIT_SKIPPED: i32 = 99;
/// Every exit code, in the order of docs/launcher.md's table, with the status it reports (or,
/// for [`EXIT_USAGE`], what it means).
pub const EXIT_CODES: [(i32, &str); 5] = [
    (EXIT_OK, "Succeeded"),
    (EXIT_SKIPPED, "Skipped"),
    (EXIT_FAILED, "Failed"),
    (EXIT_ERROR, "Error"),
    (EXIT_USAGE, "bad launcher input"),
];

/// `COULER_UPSTREAM_<STEP>`, the variable carrying step `step`'s outcome: the name upper-cased
/// with `-` as `_` (step names are DNS-1123 labels, so this is one-to-one).
pub fn upstream_env(step: &str) -> String {
    format!(
        "{UPSTREAM_ENV_PREFIX}{}",
        step.to_uppercase().replace('-', "_")
    )
}

/// `COULER_PARAM_<name>`, the variable carrying workflow param `name`'s value (the name as
/// declared).
pub fn param_env(name: &str) -> String {
    format!("{PARAM_ENV_PREFIX}{name}")
}

/// The task an engine hands the launcher (docs/launcher.md, "The task"): only `workflow` and
/// `step` are required. Written with its fields in this order, the empty ones left out.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Task {
    /// The name of the step to run (a main step or an exit step of `workflow`).
    pub step: String,
    /// The IR workflow as JSON (the spec format), possibly a slice of it: the task's steps
    /// whole, a stub of each step they read.
    pub workflow: serde_json::Value,
    /// Workflow param values (a string is typed by the param's declared type).
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub params: serde_json::Map<String, serde_json::Value>,
    /// Step name → that step's outcome, for the steps this step reads or depends on.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub upstream: BTreeMap<String, serde_json::Value>,
    /// The map item of this instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<serde_json::Value>,
    /// With a static map, the index of this instance's item in the step's own `map`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_index: Option<usize>,
    /// `{{workflow.runId}}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    /// `{{workflow.status}}` for the exit handler.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow_status: Option<String>,
}

impl Task {
    /// The task of `step` in `workflow`, every other field left to the environment.
    pub fn new(step: impl Into<String>, workflow: serde_json::Value) -> Task {
        Task {
            step: step.into(),
            workflow,
            params: serde_json::Map::new(),
            upstream: BTreeMap::new(),
            item: None,
            item_index: None,
            run_id: None,
            workflow_status: None,
        }
    }
}

/// The form a task's text travels in (`--task TEXT` or [`TASK_ENV`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskForm<'a> {
    /// `@PATH`: the JSON text is in the file `PATH`.
    File(&'a str),
    /// `b64:BASE64`: standard base64, with padding, of the JSON text.
    Base64(&'a str),
    /// Anything else: the JSON text itself.
    Json(&'a str),
}

impl<'a> TaskForm<'a> {
    /// Which form `text` is in.
    pub fn of(text: &'a str) -> TaskForm<'a> {
        if let Some(path) = text.strip_prefix(TASK_FILE_PREFIX) {
            TaskForm::File(path)
        } else if let Some(b) = text.strip_prefix(TASK_BASE64_PREFIX) {
            TaskForm::Base64(b)
        } else {
            TaskForm::Json(text)
        }
    }

    /// The text of this form: the inverse of [`TaskForm::of`].
    pub fn text(&self) -> String {
        match self {
            TaskForm::File(path) => format!("{TASK_FILE_PREFIX}{path}"),
            TaskForm::Base64(b) => format!("{TASK_BASE64_PREFIX}{b}"),
            TaskForm::Json(json) => json.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_round_trip() {
        for text in ["@/couler/task/a.json", "b64:e30=", "{\"step\":\"a\"}"] {
            assert_eq!(TaskForm::of(text).text(), text);
        }
        assert_eq!(TaskForm::of("@x"), TaskForm::File("x"));
        assert_eq!(TaskForm::of("b64:e30="), TaskForm::Base64("e30="));
        assert_eq!(TaskForm::of(" @x"), TaskForm::Json(" @x"));
    }

    #[test]
    fn a_task_is_written_as_it_is_read() {
        let t = Task::new("train", serde_json::json!({"name": "w"}));
        let text = serde_json::to_string(&t).unwrap();
        assert_eq!(text, r#"{"step":"train","workflow":{"name":"w"}}"#);
        assert_eq!(serde_json::from_str::<Task>(&text).unwrap(), t);
        assert!(serde_json::from_str::<Task>(r#"{"step":"a"}"#).is_err());
        assert!(serde_json::from_str::<Task>(r#"{"workflow":{}}"#).is_err());
        assert!(serde_json::from_str::<Task>(r#"{"step":"a","workflow":{},"stepp":1}"#).is_err());
    }

    #[test]
    fn variable_names() {
        assert_eq!(upstream_env("train-model"), "COULER_UPSTREAM_TRAIN_MODEL");
        assert_eq!(param_env("lr"), "COULER_PARAM_lr");
    }
}
