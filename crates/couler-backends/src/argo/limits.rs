//! Limits of Argo's controller that a valid workflow can reach, reported when compiling
//! (docs/argo.md, "Known limits").

use couler_ir::Workflow;

/// The most `repeat` iterations that stay clear of Argo's recursion limit: the loop nests one
/// template per iteration, and the controller stops at a stack depth of 100
/// (`maxAllowedStackDepth`) with an Error unless it runs with `DISABLE_MAX_RECURSION=true`.
pub const MAX_REPEAT: u32 = 90;

/// A warning per step whose `repeat` may pass [`MAX_REPEAT`] iterations.
pub fn warnings(wf: &Workflow) -> Vec<String> {
    wf.steps
        .iter()
        .chain(&wf.on_exit)
        .filter_map(|s| Some((s, s.repeat.as_ref()?)))
        .filter(|(_, r)| r.max_iterations > MAX_REPEAT)
        .map(|(s, r)| {
            format!(
                "step `{}`: `repeat` allows {} iterations, but Argo nests one template per iteration and its controller ends the loop with an Error near 100 (maxAllowedStackDepth) unless it runs with DISABLE_MAX_RECURSION=true; set `maxIterations` to at most {MAX_REPEAT}, or set that variable on the workflow controller",
                s.name, r.max_iterations
            )
        })
        .collect()
}
