//! The Tekton backend: Tekton Pipelines v1 documents (YAML).

use crate::{Backend, CompileError, Feature, Options, Output, Support};
use couler_ir::Workflow;

/// Compiles the IR to Tekton Pipelines v1 documents (YAML).
pub struct Tekton;

impl Backend for Tekton {
    fn name(&self) -> &'static str {
        "tekton"
    }

    fn support(&self, _feature: Feature) -> Support {
        Support::Unsupported
    }

    fn compile(&self, _wf: &Workflow, _options: &Options) -> Result<Output, CompileError> {
        Err(CompileError::Invalid(
            "the tekton backend is not built yet (issue #5)".into(),
        ))
    }
}
