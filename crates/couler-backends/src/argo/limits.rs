//! Limits of Argo's controller that a valid workflow can reach, refused when compiling unless
//! the user says the controller is configured past them (docs/argo.md, "Known limits").

use crate::{CompileError, Options};
use couler_ir::Workflow;

/// The most `repeat` iterations that stay clear of Argo's recursion limit: the loop nests one
/// template per iteration, and the controller stops at a stack depth of 100
/// (`maxAllowedStackDepth`) with an Error unless it runs with `DISABLE_MAX_RECURSION=true`.
pub const MAX_REPEAT: u32 = 90;

/// Refuses a step whose `repeat` may pass [`MAX_REPEAT`] iterations: on a default controller
/// the loop would end with an Error partway, where `couler run` goes on. With
/// [`Options::no_recursion_limit`] (the controller runs with `DISABLE_MAX_RECURSION=true`) any
/// count compiles.
pub fn check(wf: &Workflow, options: &Options) -> Result<(), CompileError> {
    if options.no_recursion_limit {
        return Ok(());
    }
    let deep = wf
        .steps
        .iter()
        .chain(&wf.on_exit)
        .filter_map(|s| Some((s, s.repeat.as_ref()?)))
        .find(|(_, r)| r.max_iterations > MAX_REPEAT);
    match deep {
        None => Ok(()),
        Some((s, r)) => Err(CompileError::Invalid(format!(
            "step `{}`: `repeat` allows {} iterations, but Argo nests one template per iteration and its controller ends the loop with an Error near 100 (maxAllowedStackDepth), where `couler run` would go on; set `maxIterations` to at most {MAX_REPEAT}, or, if your workflow controller runs with DISABLE_MAX_RECURSION=true, compile with --no-recursion-limit",
            s.name, r.max_iterations
        ))),
    }
}
