//! # couler
//!
//! Write an ML workflow once, in Rust, and run it on any engine Couler supports. This crate is
//! the programming interface of the Couler paper (ICDE 2024, Table V) in Rust: it builds the
//! same engine-independent IR ([`ir`]) as a YAML/JSON spec file, so a builder program and a spec
//! are interchangeable — `ir::spec::to_yaml` prints one as the other.
//!
//! | Paper                    | Here                                                     |
//! |--------------------------|----------------------------------------------------------|
//! | `couler.run_script`      | [`WorkflowBuilder::run_script`]                          |
//! | `couler.run_container`   | [`WorkflowBuilder::run_container`]                       |
//! | `couler.run_job`         | [`WorkflowBuilder::run_job`]                             |
//! | `couler.when`            | [`WorkflowBuilder::when`] with [`equal`], [`bigger`], …  |
//! | `couler.map`             | [`WorkflowBuilder::map`]                                 |
//! | `couler.concurrent`      | [`WorkflowBuilder::concurrent`]                          |
//! | `couler.exec_while`      | [`WorkflowBuilder::exec_while`]                          |
//! | `couler.dag`             | [`WorkflowBuilder::dag`]                                 |
//! | `couler.set_dependencies`| [`WorkflowBuilder::set_dependencies`]                    |
//!
//! ## How it fits together
//!
//! - A step is started with `run_*`, described with chained setters and added with `.add()`,
//!   which returns a [`StepHandle`].
//! - A handle's accessors (`.result()`, `.parameter("n")`, `.artifact("a")`, `.exit_code()`,
//!   `.status()`) are typed [`Reference`]s. Reading one in another step — as an input artifact,
//!   in a string via [`concat`], or in a condition — makes that step run after this one: the
//!   implicit dependency of the paper's Code 2. Explicit ones come from `.depends_on` or
//!   [`WorkflowBuilder::dag`].
//! - Workflow parameters are declared with [`WorkflowBuilder::param`] (`wf.param("lr", 0.01)`;
//!   the default's Rust type is the parameter's type), which returns their [`Reference`].
//! - Strings are literal text. References go into them typed: a whole argument or env value can
//!   be a reference, and [`concat`] joins text and references (`--lr={{params.lr}}` in a spec).
//!   A step's own file paths come from [`this`], the current element of a map from [`Item`].
//! - Control flow takes a closure; the steps added inside get the condition, fan-out, group or
//!   loop.
//! - [`WorkflowBuilder::build`] validates with the IR's checks and returns every problem at once
//!   as a [`BuildError`]; building never panics on what the program asked for. A built workflow
//!   always prints (with `ir::spec::to_yaml`) as a spec that loads back to the same IR.
//!
//! The crate's `examples/` are the builder forms of the repository's example specs; e.g.
//! `cargo run -p couler --example coin_flip` prints `examples/coin-flip.yaml`'s workflow.
//!
//! ## Example: flip a coin, then report heads or tails
//!
//! ```
//! use couler::{WorkflowBuilder, equal, ir};
//!
//! let mut wf = WorkflowBuilder::new("coin-flip");
//! let flip = wf
//!     .run_script("flip-coin", "import random\nprint(random.choice(['heads', 'tails']))\n")
//!     .image("python:3.12-alpine")
//!     .add();
//! for side in ["heads", "tails"] {
//!     wf.when(equal(flip.result(), side), |wf| {
//!         wf.run_container(side, "alpine:3.19")
//!             .command(["sh", "-c"])
//!             .arg(format!("echo it was {side}"))
//!             .add();
//!     });
//! }
//! let workflow = wf.build()?;
//!
//! // The condition reads `flip-coin`'s result, so both branches run after it.
//! let graph = ir::Graph::new(&workflow);
//! assert_eq!(graph.predecessors(1), &[0]);
//! let yaml = ir::spec::to_yaml(&workflow);
//! assert!(yaml.contains("when: steps.flip-coin.outputs.result == \"heads\""));
//! // The printed spec loads back to the very same IR.
//! assert_eq!(ir::spec::load(&yaml, ir::Format::Yaml).map(|(w, _)| w), Ok(workflow));
//! # Ok::<(), couler::BuildError>(())
//! ```
//!
//! Steps can pass files and values, fan out, and report problems readably:
//!
//! ```
//! use couler::{Over, WorkflowBuilder, concat, this};
//!
//! let mut wf = WorkflowBuilder::new("train-eval");
//! let epochs = wf.param("epochs", 10);
//! let train = wf
//!     .run_container("train", "trainer:v1")
//!     .args([concat(["--epochs=".into(), epochs.into()])])
//!     .arg(concat(["--out=".into(), this::output_artifact_path("model").into()]))
//!     .output_artifact("model", "/tmp/model")
//!     .add();
//! wf.map(Over::items(["val", "test"]).parallelism(2), |wf, split| {
//!     wf.run_container("evaluate", "trainer:v1")
//!         .input_artifact("model", "/in/model", train.artifact("model"))
//!         .arg("--split")
//!         .arg(split)
//!         .add();
//! });
//! assert!(wf.build().is_ok());
//!
//! let mut wf = WorkflowBuilder::new("typo");
//! let a = wf.run_container("a", "alpine").add();
//! wf.run_container("b", "alpine").input_artifact("x", "/x", a.artifact("nope")).add();
//! let err = wf.build().unwrap_err();
//! assert!(err.to_string().contains("step `a` has no output artifact `nope`"), "{err}");
//! ```

mod cond;
mod error;
mod step;
mod text;
mod workflow;

pub use cond::{Operand, bigger, bigger_equal, equal, not_equal, smaller, smaller_equal};
pub use error::BuildError;
pub use step::{CommandKind, StepBuilder, StepHandle, StepRuns};
pub use text::{Item, Part, concat, run_id, this, workflow_name, workflow_status};
pub use workflow::{Over, Param, WorkflowBuilder};

/// The IR this crate builds: model types, spec format, validation and graph queries.
pub use couler_ir as ir;
pub use couler_ir::{
    Backoff, CachePolicy, CleanPodPolicy, Container, Diagnostic, DistributedJob, Expr, Framework,
    ParamType, PodGc, PodGcStrategy, Reference, ResourceAction, ResourceList, ResourceStep,
    Resources, Retry, RetryOn, Schedule, Script, Severity, Step, Storage, SubWorkflow, Suspend,
    Template, Toleration, Ttl, VolumeClaim, VolumeSource, Workflow, WorkflowParam,
};
/// Builds JSON values for object map items and `json` parameters.
pub use serde_json::json;

/// The `main` of a program that builds a workflow: prints it as a spec on stdout, or its
/// problems on stderr with a failing exit code.
pub fn print_spec(built: Result<Workflow, BuildError>) -> std::process::ExitCode {
    match built {
        Ok(wf) => {
            print!("{}", couler_ir::spec::to_yaml(&wf));
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprint!("{e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The IR keeps milliseconds; a longer-than-`u64` duration saturates.
fn ir_duration(d: std::time::Duration) -> couler_ir::Duration {
    couler_ir::Duration::from_millis(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests;
