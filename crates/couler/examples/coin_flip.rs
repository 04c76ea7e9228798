//! Conditional steps (paper Code 3); the builder form of `examples/coin-flip.yaml`.
//! Run with `cargo run -p couler --example coin_flip`.

use couler::{BuildError, Workflow, WorkflowBuilder, equal};
use std::process::ExitCode;

const FLIP: &str = r#"import random

print("heads" if random.randint(0, 1) == 0 else "tails")
"#;

pub fn workflow() -> Result<Workflow, BuildError> {
    let mut wf = WorkflowBuilder::new("coin-flip");
    wf.description("Flip a coin and branch on the result.");
    let flip = wf
        .run_script("flip-coin", FLIP)
        .image("python:3.12-slim")
        .add();
    // Reading flip-coin's result in the condition also orders both branches after it.
    for side in ["heads", "tails"] {
        wf.when(equal(flip.result(), side), |wf| {
            wf.run_container(side, "alpine:3.19")
                .command(["echo".to_string(), format!("it was {side}")])
                .add();
        });
    }
    wf.build()
}

fn main() -> ExitCode {
    couler::print_spec(workflow())
}
