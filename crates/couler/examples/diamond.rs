//! A diamond-shaped DAG with explicit dependencies (paper Code 4); the builder form of
//! `examples/diamond.yaml`. Run with `cargo run -p couler --example diamond`.

use couler::{BuildError, Workflow, WorkflowBuilder};
use std::process::ExitCode;

pub fn workflow() -> Result<Workflow, BuildError> {
    let mut wf = WorkflowBuilder::new("diamond");
    wf.description("Four steps in a diamond, ordered with explicit dependsOn.")
        .default_image("alpine:3.19");
    for name in ["a", "b", "c", "d"] {
        wf.run_command(name, ["echo", name]).add();
    }
    // No step reads another's output, so the edges are given as paths:
    //       a
    //      / \
    //     b   c
    //      \ /
    //       d
    wf.dag(&[&["a", "b", "d"], &["a", "c", "d"]]);
    wf.build()
}

fn main() -> ExitCode {
    couler::print_spec(workflow())
}
