//! The local runtime's row of the capability matrix (`couler run`, crate `couler-run`).
//!
//! The local runtime executes the IR itself, so its "compilation" is the canonical spec that
//! `couler run` reads; what matters here is [`Local::support`], which `couler run` checks before
//! it starts so a workflow it cannot run fails at once with the same error as a compile.

use crate::{Backend, CompileError, Feature, Options, Output, Support};
use couler_ir::Workflow;

/// The embedded local runtime.
pub struct Local;

impl Backend for Local {
    fn name(&self) -> &'static str {
        "local"
    }

    fn support(&self, feature: Feature) -> Support {
        use Feature::*;
        match feature {
            Resource | JobTensorflow | JobPytorch | JobMpi => Support::Unsupported,
            StorageGcs | StorageOss | StorageHdfs | StorageGit | StorageHttp => {
                Support::Unsupported
            }
            Container => Support::Lowered(
                "a host process by default (the image is not used); the container itself with --runtime docker|podman",
            ),
            Suspend => Support::Lowered(
                "a suspend with a duration waits that long; an untimed suspend is rejected (nothing can resume it)",
            ),
            Resources | Gpu => Support::Lowered(
                "measured (peak RSS, CPU time) but not enforced on the host; cpu and memory limits are passed to docker/podman",
            ),
            Secrets => Support::Lowered(
                "read from the environment variable of the same name in the environment of `couler run`",
            ),
            NodeSelector | Tolerations | ServiceAccount | ImagePullSecrets | Labels | Ttl
            | PodGc | VolumeClaims | Volumes => {
                Support::Lowered("accepted and ignored: there is no cluster to apply it to")
            }
            SubWorkflow => Support::Lowered(
                "a nested run `RUN.STEP` in the same state directory and artifact store; `ref` is a spec file relative to the parent's file (registered templates exist only on engines)",
            ),
            Schedule => Support::Lowered(
                "`couler run` runs the workflow once now; schedules apply on Argo and Airflow",
            ),
            _ => Support::Native,
        }
    }

    fn lower(&self, wf: &Workflow, _options: &Options) -> Result<Output, CompileError> {
        let text = couler_ir::spec::to_yaml(wf);
        Ok(Output {
            files: [(format!("{}.yaml", wf.name), text)].into(),
            warnings: Vec::new(),
        })
    }
}
