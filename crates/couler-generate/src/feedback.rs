//! Stage (e): the user's feedback. The spec and its diagnostics are shown, the user's comment
//! read (an empty line or the end of input accepts), and the model revises the spec, which is
//! calibrated again.

use crate::pipeline::{self, Asker, Config, Outcome};
use couler_model::{Message, Options};
use std::io::{BufRead, Write};

/// Shows `outcome` on `out` and revises it with each comment read from `input` until the user
/// accepts.
pub fn interact(
    description: &str,
    mut outcome: Outcome,
    config: &Config,
    asker: &mut Asker,
    input: &mut dyn BufRead,
    out: &mut dyn Write,
) -> Result<Outcome, String> {
    let io = |e: std::io::Error| format!("interactive: {e}");
    for round in 1.. {
        write!(out, "---\n{}", outcome.spec).map_err(io)?;
        for d in outcome.check.errors.iter().chain(&outcome.check.warnings) {
            write!(out, "{d}").map_err(io)?;
        }
        write!(out, "Your comment (an empty line accepts): ").map_err(io)?;
        out.flush().map_err(io)?;
        let mut comment = String::new();
        input.read_line(&mut comment).map_err(io)?;
        let comment = comment.trim();
        if comment.is_empty() {
            break;
        }
        let messages = prompt(description, &outcome.spec, comment);
        let answer = asker.ask("revise", round, messages, &Options::default())?;
        let name = crate::assemble::workflow_name(description);
        let spec = crate::assemble::whole(crate::answer::block(&answer), &name);
        outcome = pipeline::calibrate_rounds(description, spec, config, asker);
    }
    Ok(outcome)
}

fn prompt(description: &str, spec: &str, comment: &str) -> Vec<Message> {
    vec![
        crate::prompts::system(),
        Message::user(format!(
            "The workflow: {description}\n\nThe spec:\n```yaml\n{spec}```\n\n\
             The user asks for this change: {comment}\n\n\
             Answer with the whole revised spec in one ```yaml block."
        )),
    ]
}
