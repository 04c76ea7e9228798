//! Stage (a): the description split into sub-tasks, a JSON list of strings (bare, or as
//! `{"subtasks": [...]}`, the object a JSON schema constrains since OpenAI's structured outputs
//! need an object at the root) parsed strictly, with one retry when the answer does not parse.

use crate::answer;
use crate::pipeline::Asker;
use couler_model::{Message, Options};
use serde_json::json;

/// The most sub-tasks a description is split into.
pub const MAX_SUBTASKS: usize = 12;

const SYSTEM: &str = "You split the description of a machine-learning workflow into the sub-tasks a workflow engine runs, \
in the order they run: data preparation, training, evaluation, publishing and so on, one short imperative sentence each. \
Answer with JSON only: {\"subtasks\": [\"download the dataset\", \"train a model\"]}.";

/// The sub-tasks of `description`.
pub fn decompose(asker: &mut Asker, description: &str) -> Result<Vec<String>, String> {
    let options = Options {
        temperature: Some(0.0),
        json_schema: Some(json!({
            "type": "object",
            "properties": {"subtasks": {"type": "array", "items": {"type": "string"}}},
            "required": ["subtasks"],
            "additionalProperties": false,
        })),
        ..Options::default()
    };
    let mut messages = vec![Message::system(SYSTEM), Message::user(description)];
    let first = asker.ask("decompose", 1, messages.clone(), &options)?;
    let why = match parse(&first) {
        Ok(tasks) => return Ok(tasks),
        Err(why) => why,
    };
    messages.push(Message::assistant(first));
    messages.push(Message::user(format!(
        "That answer was refused: {why}. Answer again with only a JSON array of 1 to {MAX_SUBTASKS} non-empty strings."
    )));
    let second = asker.ask("decompose", 2, messages, &options)?;
    parse(&second).map_err(|why| {
        format!("the model's sub-tasks did not parse twice: {why}; try --no-decompose")
    })
}

/// The answer's shapes: a bare list, or the schema's object (nothing else in it).
#[derive(serde::Deserialize)]
#[serde(untagged)]
enum Shape {
    List(Vec<String>),
    Object(Subtasks),
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Subtasks {
    subtasks: Vec<String>,
}

/// A JSON array of 1 to [`MAX_SUBTASKS`] non-empty strings, bare or as `{"subtasks": [...]}`
/// (in a fenced block or not).
pub fn parse(answer: &str) -> Result<Vec<String>, String> {
    let tasks = match serde_json::from_str(answer::block(answer)) {
        Ok(Shape::List(tasks) | Shape::Object(Subtasks { subtasks: tasks })) => tasks,
        Err(_) => {
            return Err("not a JSON array of strings, nor {\"subtasks\": [...]}".into());
        }
    };
    let tasks: Vec<String> = tasks.into_iter().map(|t| t.trim().to_string()).collect();
    if tasks.is_empty() || tasks.len() > MAX_SUBTASKS {
        return Err(format!(
            "{} sub-tasks, not 1 to {MAX_SUBTASKS}",
            tasks.len()
        ));
    }
    if tasks.iter().any(String::is_empty) {
        return Err("an empty sub-task".into());
    }
    Ok(tasks)
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn only_a_list_of_non_empty_strings_parses() {
        assert_eq!(parse("[\"a\", \" b \"]").unwrap(), ["a", "b"]);
        assert_eq!(parse("```json\n[\"a\"]\n```").unwrap(), ["a"]);
        assert!(
            parse("1. load\n2. train")
                .unwrap_err()
                .contains("not a JSON array")
        );
        assert!(parse("[]").unwrap_err().contains("0 sub-tasks"));
        assert!(parse("[\"a\", \"\"]").unwrap_err().contains("empty"));
        assert_eq!(parse("{\"subtasks\": [\"a\"]}").unwrap(), ["a"]);
        assert!(parse("{\"tasks\": [\"a\"]}").is_err());
        assert!(parse("{\"subtasks\": [\"a\"], \"x\": 1}").is_err());
    }
}
