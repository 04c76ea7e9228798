//! Stage (c): one sub-task's steps, written by the model with the retrieved Code Lake entries in
//! the prompt and the steps earlier sub-tasks wrote named, so it can read their outputs. An
//! answer that is not a list of steps is asked again once, with the reason.

use crate::assemble::{self, Fragment};
use crate::lake;
use crate::pipeline::Asker;
use couler_model::{Message, Options};

/// What the model knows when it writes sub-task `index` (from 1) of `count`.
pub struct Request<'a> {
    pub description: &'a str,
    pub subtask: &'a str,
    pub index: u32,
    pub count: u32,
    pub examples: &'a [&'a lake::Entry],
    /// The steps earlier sub-tasks wrote (YAML), empty for the first.
    pub earlier: &'a str,
}

/// The sub-task's steps.
pub fn generate(asker: &mut Asker, request: &Request) -> Result<Fragment, String> {
    // The answer's shape as a JSON schema: a model that follows it (the local model's grammar)
    // writes only fields a step has.
    let options = Options {
        temperature: Some(0.0),
        json_schema: Some(crate::schema::fragment()),
        ..Options::default()
    };
    let mut messages = prompt(request);
    let first = asker.ask("generate", request.index, messages.clone(), &options)?;
    let why = match assemble::fragment(crate::answer::block(&first)) {
        Ok(fragment) => return Ok(fragment),
        Err(why) => why,
    };
    messages.push(Message::assistant(first));
    messages.push(Message::user(format!(
        "That answer was refused: {why}. Answer again with only {ANSWER_SHAPE}."
    )));
    let second = asker.ask("generate", request.index, messages, &options)?;
    assemble::fragment(crate::answer::block(&second))
        .map_err(|why| format!("sub-task {} (`{}`): {why}", request.index, request.subtask))
}

/// What the answer is, as the prompt says it (the schema holds it where the model follows one).
const ANSWER_SHAPE: &str = "one JSON object: {\"steps\": [...], \"params\": [...]} (`params` only if the steps read workflow params)";

fn prompt(r: &Request) -> Vec<Message> {
    let mut text = String::new();
    for e in r.examples {
        let shown = e.excerpt(lake::EXCERPT_CHARS);
        text.push_str(&format!("Reference `{}`:\n```\n{shown}```\n\n", e.id));
    }
    text.push_str(&format!("The whole workflow: {}\n\n", r.description));
    if r.count > 1 {
        text.push_str(&format!(
            "Write the steps of sub-task {} of {}: {}\n\n",
            r.index, r.count, r.subtask
        ));
    } else {
        text.push_str("Write its steps.\n\n");
    }
    if !r.earlier.is_empty() {
        text.push_str(&format!(
            "Earlier sub-tasks wrote these steps; reference their outputs where this sub-task needs them:\n```yaml\n{}```\n\n",
            r.earlier
        ));
    }
    text.push_str(&format!(
        "Answer with {ANSWER_SHAPE}, each step written as the references write theirs."
    ));
    vec![crate::prompts::system(), Message::user(text)]
}
