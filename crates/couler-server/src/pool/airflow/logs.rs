//! The logs of an Airflow run's step, read from Airflow's REST API (`GET …/taskInstances/TASK/
//! logs/TRY`, its latest try): the task's output as Airflow logged it, i.e. what the step's
//! command wrote (stdout and stderr, merged by the host operator) and the launcher's outcome
//! line, one line per log event; a task logged otherwise (pods, containers) gives every event.

use super::api::Api;
use reqwest::Method;
use serde_json::Value;

/// Where a task's output starts and ends in the host operator's (`SubprocessHook`) log.
const OUTPUT_STARTS: &str = "Output:";
const OUTPUT_ENDS: &str = "Command exited with return code";

/// The logs of step `node` (`task` or `task[i]`) of the DAG run at `run`; `Ok(None)`: no such
/// step, or it has not started.
pub async fn read(api: &Api, run: &str, node: &str) -> Result<Option<String>, String> {
    let Some((task, map_index)) = split(node) else {
        return Ok(None);
    };
    let ti_path = match map_index {
        Some(i) => format!("{run}/taskInstances/{task}/{i}"),
        None => format!("{run}/taskInstances/{task}"),
    };
    let Some(ti) = api.call(Method::GET, &ti_path, None).await? else {
        return Ok(None);
    };
    let tries = ti["try_number"].as_i64().unwrap_or(0);
    if tries < 1 {
        return Ok(None);
    }
    let path = format!(
        "{run}/taskInstances/{task}/logs/{tries}?full_content=true&map_index={}",
        map_index.unwrap_or(-1)
    );
    let log = api
        .call(Method::GET, &path, None)
        .await?
        .unwrap_or(Value::Null);
    Ok(Some(text_of(&log)))
}

/// A node's task id and map index, if it names a task (a DNS-1123 label, `[i]` for an
/// instance): nothing else goes into a URL path.
fn split(node: &str) -> Option<(&str, Option<i64>)> {
    let (task, index) = match node.strip_suffix(']').and_then(|n| n.split_once('[')) {
        Some((task, i)) => (task, Some(i.parse::<i64>().ok().filter(|i| *i >= 0)?)),
        None => (node, None),
    };
    let label = !task.is_empty()
        && task.len() <= 63
        && task
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    label.then_some((task, index))
}

/// The lines of the task's output section, or of every event when there is none.
fn text_of(log: &Value) -> String {
    let events: Vec<&str> = log["content"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["event"].as_str())
        .collect();
    let output = events
        .iter()
        .position(|e| *e == OUTPUT_STARTS)
        .map(|start| {
            let rest = &events[start + 1..];
            let end = rest
                .iter()
                .position(|e| e.starts_with(OUTPUT_ENDS))
                .unwrap_or(rest.len());
            &rest[..end]
        });
    let mut text = String::new();
    for line in output.unwrap_or(&events) {
        text.push_str(line);
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nodes_are_task_ids_or_instances_and_nothing_else() {
        assert_eq!(split("train"), Some(("train", None)));
        assert_eq!(split("train[3]"), Some(("train", Some(3))));
        for bad in ["", "a/b", "../x", "a[-1]", "a[x]", "A", "a?b=1", "a%2F"] {
            assert_eq!(split(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_output_section_is_the_steps_text() {
        let log = json!({"content": [
            {"event": "::group::Pre Execute"},
            {"event": "Running command: ['bash', '-c', 'x']"},
            {"event": "Output:"},
            {"event": "it's \"q\" $HOME"},
            {"event": "line2"},
            {"event": "Command exited with return code 0"},
            {"event": "Pushing xcom"},
        ]});
        assert_eq!(text_of(&log), "it's \"q\" $HOME\nline2\n");
        let pod = json!({"content": [{"event": "pod started"}, {"event": "done"}]});
        assert_eq!(text_of(&pod), "pod started\ndone\n");
    }
}
