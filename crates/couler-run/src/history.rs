//! The history hook (docs/history.md): at the end of every step that ran, the executor records
//! its features and outcome in `STATE_DIR/history.db` (`couler_history`). That is a file apart
//! from `state.db`, written after the step's end is committed there: a crash or a full disk
//! costs at most a history record, never the run's state, and a history that cannot be opened
//! or written is skipped without failing the run.

use crate::outcome::StepStatus;
use crate::render::{Context, json_text};
use crate::state::Finished;
use crate::step::{Input, template_key};
use couler_history::{Execution, History, StepFeatures};
use couler_ir::{Step, Workflow};
use std::path::Path;
use std::sync::Arc;

/// The history of `state_dir`, or `None` when it cannot be opened.
pub(crate) fn open(state_dir: &Path) -> Option<Arc<History>> {
    History::open(&state_dir.join(couler_history::store::FILE_NAME))
        .ok()
        .map(Arc::new)
}

/// A step that ran to its end, as the executor knows it.
pub(crate) struct Ended<'a> {
    pub wf: &'a Workflow,
    pub step: &'a Step,
    pub run_id: &'a str,
    pub ctx: &'a Context<'a>,
    pub inputs: &'a [Input],
    /// How many items its map has, when it is a map's instance.
    pub map_items: Option<u64>,
    pub status: StepStatus,
    pub fin: &'a Finished,
    pub seconds: f64,
    pub finished_at: f64,
}

/// Records `e` in `history`; a failure is dropped (the run does not depend on its history).
pub(crate) fn record(history: &History, e: &Ended<'_>) {
    let _ = history.record(&[execution(e)]);
}

fn execution(e: &Ended<'_>) -> Execution {
    let mut params: std::collections::BTreeMap<String, String> = e
        .step
        .inputs
        .parameters
        .iter()
        .filter_map(|p| Some((p.name.clone(), e.ctx.render(p.value.as_ref()?).ok()?)))
        .collect();
    if let Some(item) = e.ctx.item {
        params.insert("item".into(), json_text(item));
    }
    Execution {
        source: format!("run:{}", e.run_id),
        workflow: e.wf.name.clone(),
        features: StepFeatures {
            template: template_key(e.wf, e.step),
            step: e.step.name.clone(),
            image: e.wf.effective_image(e.step).map(str::to_string),
            input_bytes: e.inputs.iter().map(|(_, _, a)| a.size).sum(),
            params,
            map_items: e.map_items,
            machine: hostname(),
        },
        finished_at: e.finished_at,
        duration_s: e.seconds,
        peak_rss_bytes: e.fin.peak_rss_kb.map(|kb| kb.max(0) as u64 * 1024),
        cpu_seconds: e.fin.cpu_seconds,
        exit_reason: exit_reason(e.status, e.fin),
        succeeded: e.status == StepStatus::Succeeded,
    }
}

/// How the step ended: `succeeded`, `timeout`, `stopped`, `exit N` (a failed process's exit
/// code; 128 + N for a signal: 137 is a SIGKILL, often the out-of-memory killer), else its
/// status (`failed`, `error`).
fn exit_reason(status: StepStatus, fin: &Finished) -> String {
    let message = fin.message.as_deref().unwrap_or("");
    match (status, fin.exit_code) {
        (StepStatus::Succeeded, _) => "succeeded".into(),
        _ if message.starts_with("timed out") => "timeout".into(),
        _ if message == "stopped" => "stopped".into(),
        (StepStatus::Failed, Some(code)) => format!("exit {code}"),
        (s, _) => s.as_str().to_ascii_lowercase(),
    }
}

/// This machine's host name (empty when it cannot be read).
fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname writes at most that many bytes.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return String::new();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}
