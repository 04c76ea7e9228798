//! A loop (paper Code 5, `exec_while`); the builder form of `examples/flip-until-tails.yaml`.
//! Run with `cargo run -p couler --example flip_until_tails`.

use couler::{BuildError, Template, Workflow, WorkflowBuilder, concat, equal};
use std::process::ExitCode;

const FLIP: &str = r#"import random

print("heads" if random.randint(0, 1) == 0 else "tails")
"#;

pub fn workflow() -> Result<Workflow, BuildError> {
    let mut wf = WorkflowBuilder::new("flip-until-tails");
    wf.description("Repeat a step while a condition on its own output holds.");
    // The chance of 20 heads in a row is below one in a million.
    let flip = wf.exec_while(
        |flip| equal(flip.result(), "heads"),
        20,
        |wf| {
            wf.run_script("flip-coin", FLIP)
                .image("python:3.12-slim")
                .add()
        },
    );
    wf.run_container("report", "alpine:3.19")
        .command([
            Template::from("echo"),
            concat(["the coin finally landed ".into(), flip.result().into()]),
        ])
        .add();
    wf.build()
}

fn main() -> ExitCode {
    couler::print_spec(workflow())
}
