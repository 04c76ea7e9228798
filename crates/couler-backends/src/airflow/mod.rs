//! The Airflow backend: Apache Airflow 3 DAG files (Python).

use crate::{Backend, CompileError, Feature, Options, Output, Support};
use couler_ir::Workflow;

/// Compiles the IR to Apache Airflow 3 DAG files (Python).
pub struct Airflow;

impl Backend for Airflow {
    fn name(&self) -> &'static str {
        "airflow"
    }

    fn support(&self, _feature: Feature) -> Support {
        Support::Unsupported
    }

    fn compile(&self, _wf: &Workflow, _options: &Options) -> Result<Output, CompileError> {
        Err(CompileError::Invalid(
            "the airflow backend is not built yet (issue #5)".into(),
        ))
    }
}
