//! The smallest workflow; the builder form of `examples/hello.yaml`.
//! Run with `cargo run -p couler --example hello`.

use couler::{BuildError, Template, Workflow, WorkflowBuilder, concat};
use std::process::ExitCode;

pub fn workflow() -> Result<Workflow, BuildError> {
    let mut wf = WorkflowBuilder::new("hello");
    let who = wf.param("who", "world");
    wf.run_container("say-hello", "alpine:3.19")
        .command([
            Template::from("echo"),
            concat(["hello ".into(), who.into()]),
        ])
        .add();
    wf.build()
}

fn main() -> ExitCode {
    couler::print_spec(workflow())
}
