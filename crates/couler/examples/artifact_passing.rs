//! Passing a file from one step to the next (paper Code 2); the builder form of
//! `examples/artifact-passing.yaml`. Run with `cargo run -p couler --example artifact_passing`.
//!
//! `consumer` reads `producer`'s output artifact, and that alone orders it after `producer`.

use couler::{BuildError, Template, Workflow, WorkflowBuilder, concat, this};
use std::process::ExitCode;

pub fn workflow() -> Result<Workflow, BuildError> {
    let mut wf = WorkflowBuilder::new("artifact-passing");
    wf.description("A producer writes a file; a consumer reads it.");
    let producer = wf
        .run_container("producer", "alpine:3.19")
        .command([
            "sh".into(),
            "-c".into(),
            concat([
                "echo hello world > ".into(),
                this::output_artifact_path("message").into(),
            ]),
        ])
        .output_artifact("message", "message.txt")
        .add();
    wf.run_container("consumer", "alpine:3.19")
        .command([
            Template::from("cat"),
            this::input_artifact_path("message").into(),
        ])
        .input_artifact("message", "message.txt", producer.artifact("message"))
        .add();
    wf.build()
}

fn main() -> ExitCode {
    couler::print_spec(workflow())
}
