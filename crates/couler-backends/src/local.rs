//! The local runtime's row of the capability matrix (`couler run`, crate `couler-run`).
//!
//! The local runtime executes the IR itself, so its "compilation" is the canonical spec that
//! `couler run` reads; what matters here is [`Local::support`], which `couler run` checks before
//! it starts so a workflow it cannot run fails at once with the same error as a compile, and
//! which the runtime's step core reads ([`refusal`]) when a step it was handed anyway (a
//! sub-workflow's, a launcher task's) is of a kind it cannot run.

use crate::{Backend, CompileError, Feature, Options, Output, Support, kind_feature};
use couler_ir::{Step, StepKind, Workflow};

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
            Daemon => Support::Lowered(
                "a background process: the step succeeds once it has started, and its process group is stopped (SIGTERM, then SIGKILL) when the workflow's steps end",
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
            TuneAsynchronous => Support::Lowered(
                "the runtime drives the study itself: a trial `NAME-trials[K]` starts whenever one of its workers is free, the method told each result as it arrives; a journal beside the run lets `couler resume` replay it",
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

/// Why the local runtime cannot run `step`, read from its row: a kind it does not support (the
/// error a compile gives, naming the backends that do), or a suspend without a duration (what
/// the row's `suspend` entry says it rejects).
pub fn refusal(step: &Step) -> Option<String> {
    let feature = kind_feature(&step.kind);
    match Local.support(feature) {
        Support::Unsupported => Some(
            CompileError::Unsupported {
                feature,
                step: Some(step.name.clone()),
                backend: Local.name(),
                supported_by: crate::backends()
                    .iter()
                    .filter(|b| b.support(feature).is_supported())
                    .map(|b| b.name())
                    .collect(),
                detail: None,
            }
            .to_string(),
        ),
        Support::Lowered(how) => match &step.kind {
            StepKind::Suspend(s) if s.duration.is_none() => Some(format!(
                "step `{}` suspends until someone resumes it; on the local runtime {how}: give it a `duration`",
                step.name
            )),
            _ => None,
        },
        // No step kind is dropped by a flag.
        Support::Native | Support::Dropped(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(yaml: &str) -> Step {
        let spec = format!(
            "apiVersion: couler.dev/v1alpha1\nkind: Workflow\nname: w\nsteps:\n  - name: s\n{yaml}"
        );
        match couler_ir::spec::load(&spec, couler_ir::Format::Yaml) {
            Ok((wf, _)) => wf.steps[0].clone(),
            Err(d) => panic!("{d:?}"),
        }
    }

    /// The refusal is the row: each step kind is refused exactly when the row does not support
    /// it, and the text names the kind and who supports it.
    #[test]
    fn the_refusal_reads_the_row() {
        let job = step(
            "    job: {framework: pytorch, image: t:1, replicas: {master: 1}, command: [x]}\n",
        );
        let resource = step("    resource: {action: create, manifest: 'kind: ConfigMap'}\n");
        let sub = step("    workflow: {ref: child.yaml}\n");
        let untimed = step("    suspend: {}\n");
        let timed = step("    suspend: {duration: 1s}\n");
        let script = step("    script: {command: [sh], source: 'true'}\n");
        for s in [&job, &resource, &sub, &untimed, &timed, &script] {
            let refused = Local.support(kind_feature(&s.kind)) == Support::Unsupported;
            let untimed_suspend = matches!(&s.kind, StepKind::Suspend(p) if p.duration.is_none());
            assert_eq!(
                refusal(s).is_some(),
                refused || untimed_suspend,
                "{:?}",
                s.kind
            );
        }
        let m = refusal(&job).unwrap_or_default();
        assert!(
            m.starts_with(
                "local does not support PyTorch distributed jobs (PyTorchJob) (used by step `s`)"
            ) && m.contains("supported by: argo"),
            "{m}"
        );
        let m = refusal(&untimed).unwrap_or_default();
        assert!(m.contains("an untimed suspend is rejected"), "{m}");
        assert_eq!(
            refusal(&sub),
            None,
            "sub-workflows run locally as nested runs"
        );
    }
}
