//! The capability matrix: IR features, each backend's support for them, and detection of the
//! features one workflow uses.

use crate::{Backend, CompileError};
use couler_ir::{
    ArtifactSource, MapOver, Reference, Step, StepKind, StepOutput, Storage, Workflow,
};
use foldhash::HashSet;
use std::collections::BTreeSet;

/// How a backend supports a feature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Support {
    /// The engine has the feature itself.
    Native,
    /// Expressed with other engine features; the text says how.
    Lowered(&'static str),
    /// Not kept: a workflow using it compiles only when the user chooses to drop it (the text
    /// says how, and what the engine does instead); the backend refuses it otherwise.
    Dropped(&'static str),
    /// Not expressible: a workflow using it does not compile for this backend.
    Unsupported,
}

impl Support {
    pub fn is_supported(&self) -> bool {
        !matches!(self, Support::Unsupported)
    }
}

macro_rules! features {
    ($($variant:ident => $name:literal, $describe:literal;)*) => {
        /// An IR feature a backend may or may not support.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Feature { $($variant,)* }

        impl Feature {
            /// Every feature, in matrix order.
            pub const ALL: &'static [Feature] = &[$(Feature::$variant,)*];
            /// Short kebab-case name (matrix rows, error messages).
            pub fn name(self) -> &'static str {
                match self { $(Feature::$variant => $name,)* }
            }
            /// A phrase for messages.
            pub fn describe(self) -> &'static str {
                match self { $(Feature::$variant => $describe,)* }
            }
        }
    };
}

features! {
    Container => "container", "container steps";
    Script => "script", "script steps";
    Resource => "resource", "Kubernetes resource steps";
    JobTensorflow => "job-tensorflow", "TensorFlow distributed jobs (TFJob)";
    JobPytorch => "job-pytorch", "PyTorch distributed jobs (PyTorchJob)";
    JobMpi => "job-mpi", "MPI distributed jobs (MPIJob)";
    SubWorkflow => "sub-workflow", "sub-workflow steps";
    Suspend => "suspend", "suspend steps";
    Daemon => "daemon", "daemon steps (`daemon: true`: a service that runs beside the later steps)";
    Params => "params", "workflow parameters";
    ParameterPassing => "parameter-passing", "output parameters read by other steps";
    ArtifactPassing => "artifact-passing", "artifacts passed between steps";
    When => "when", "conditional steps (`when`)";
    MapItems => "map-items", "`map.items` fan-out";
    MapRange => "map-range", "`map.range` fan-out";
    MapFrom => "map-from", "`map.from` fan-out over a run-time list";
    MapParallelism => "map-parallelism", "`map.parallelism`";
    MappedOutputs => "mapped-outputs", "reading the collected outputs of a mapped step";
    Repeat => "repeat", "`repeat … while` loops";
    Groups => "groups", "concurrent groups";
    ExitHandler => "exit-handler", "the exit handler (`onExit`)";
    Retry => "retry", "retries";
    Backoff => "backoff", "retry backoff";
    RetrySlow => "retry-slow", "self-healing: `retry.slow` retries an attempt running far past its history";
    Timeout => "timeout", "step timeouts";
    Resources => "resources", "cpu/memory/storage requests and limits";
    Gpu => "gpu", "GPUs";
    NodeSelector => "node-selector", "node selectors";
    Tolerations => "tolerations", "tolerations";
    Secrets => "secrets", "secrets as environment variables";
    Volumes => "volumes", "workflow volumes";
    VolumeClaims => "volume-claims", "volume claims created per run";
    Cache => "cache", "cached (memoized) steps";
    ContinueOnFailure => "continue-on-failure", "`continueOnFailure`";
    Schedule => "schedule", "cron schedules";
    Ttl => "ttl", "TTL of finished runs";
    PodGc => "pod-gc", "deleting the pods of finished steps (`podGC`)";
    Parallelism => "parallelism", "workflow-wide parallelism";
    WorkflowTimeout => "workflow-timeout", "a deadline for the whole run (the workflow's `timeout`)";
    ServiceAccount => "service-account", "service accounts";
    ImagePullSecrets => "image-pull-secrets", "image pull secrets";
    Labels => "labels", "labels and annotations";
    ArtifactRepository => "artifact-repository", "a default artifact repository";
    StorageLocal => "storage-local", "local artifact storage";
    StorageS3 => "storage-s3", "S3 artifact storage";
    StorageGcs => "storage-gcs", "GCS artifact storage";
    StorageOss => "storage-oss", "OSS artifact storage";
    StorageHdfs => "storage-hdfs", "HDFS artifact storage";
    StorageGit => "storage-git", "Git artifact inputs";
    StorageHttp => "storage-http", "HTTP artifact inputs";
    StatusOf => "step-status", "reading `steps.S.status` / `exitCode`";
    TuneAsynchronous => "tune-asynchronous", "asynchronous studies (`tune.schedule: asynchronous`, method `asha`): a trial starts whenever a worker is free";
}

/// One use of a feature: by a step, or by the workflow itself.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Use {
    pub feature: Feature,
    pub step: Option<String>,
}

fn storage_feature(s: &Storage) -> Feature {
    match s {
        Storage::Local(_) => Feature::StorageLocal,
        Storage::S3(_) => Feature::StorageS3,
        Storage::Gcs(_) => Feature::StorageGcs,
        Storage::Oss(_) => Feature::StorageOss,
        Storage::Hdfs(_) => Feature::StorageHdfs,
        Storage::Git(_) => Feature::StorageGit,
        Storage::Http(_) => Feature::StorageHttp,
    }
}

/// The feature a step of this kind is.
pub fn kind_feature(kind: &StepKind) -> Feature {
    match kind {
        StepKind::Container(_) => Feature::Container,
        StepKind::Script(_) => Feature::Script,
        StepKind::Resource(_) => Feature::Resource,
        StepKind::Job(j) => match j.framework {
            couler_ir::Framework::Tensorflow => Feature::JobTensorflow,
            couler_ir::Framework::Pytorch => Feature::JobPytorch,
            couler_ir::Framework::Mpi => Feature::JobMpi,
        },
        StepKind::Workflow(_) => Feature::SubWorkflow,
        StepKind::Suspend(_) => Feature::Suspend,
    }
}

fn step_features(wf: &Workflow, mapped: &HashSet<&str>, step: &Step, out: &mut BTreeSet<Use>) {
    let mut add = |f: Feature| {
        out.insert(Use {
            feature: f,
            step: Some(step.name.clone()),
        });
    };
    add(kind_feature(&step.kind));
    if step.is_daemon() {
        add(Feature::Daemon);
    }
    if step.when.is_some() {
        add(Feature::When);
    }
    if let Some(m) = step.map.as_deref() {
        add(match m.over {
            MapOver::Items(_) => Feature::MapItems,
            MapOver::Range { .. } => Feature::MapRange,
            MapOver::From(_) => Feature::MapFrom,
        });
        if m.parallelism.is_some() {
            add(Feature::MapParallelism);
        }
    }
    if step.repeat.is_some() {
        add(Feature::Repeat);
    }
    if step.tune.as_ref().is_some_and(|t| t.asynchronous()) {
        add(Feature::TuneAsynchronous);
    }
    if let Some(r) = wf.effective_retry(step) {
        add(Feature::Retry);
        if r.backoff.is_some() {
            add(Feature::Backoff);
        }
        if r.slow.is_some() {
            add(Feature::RetrySlow);
        }
    }
    if wf.effective_timeout(step).is_some() {
        add(Feature::Timeout);
    }
    if let Some(r) = wf.effective_resources(step) {
        add(Feature::Resources);
        if r.requests.gpu.is_some() || r.limits.gpu.is_some() {
            add(Feature::Gpu);
        }
    }
    if !step.node_selector.is_empty() {
        add(Feature::NodeSelector);
    }
    if !step.tolerations.is_empty() {
        add(Feature::Tolerations);
    }
    if !step.secrets.is_empty() {
        add(Feature::Secrets);
    }
    if wf.memoized(step).is_some() {
        add(Feature::Cache);
    }
    if step.continue_on_failure {
        add(Feature::ContinueOnFailure);
    }
    for a in &step.inputs.artifacts {
        match &a.source {
            Some(ArtifactSource::Storage(s)) => add(storage_feature(s)),
            Some(ArtifactSource::From(_)) => add(Feature::ArtifactPassing),
            None => {}
        }
    }
    for a in &step.outputs.artifacts {
        if let Some(s) = &a.storage {
            add(storage_feature(s));
        }
    }
    for (_, r) in step.references() {
        if let Reference::Step {
            step: other,
            output,
        } = r
        {
            match output {
                StepOutput::Parameter(_) | StepOutput::Result => add(Feature::ParameterPassing),
                StepOutput::Artifact(_) => add(Feature::ArtifactPassing),
                StepOutput::ExitCode | StepOutput::Status => add(Feature::StatusOf),
                StepOutput::Ip => add(Feature::Daemon),
            }
            if *other != step.name
                && mapped.contains(other.as_str())
                && !matches!(output, StepOutput::Status)
            {
                add(Feature::MappedOutputs);
            }
        }
    }
}

/// The features `wf` uses, each with the step that uses it (`None`: the workflow itself), sorted
/// by feature, then step.
pub fn features_used(wf: &Workflow) -> Vec<Use> {
    let mut out = BTreeSet::new();
    let mut wf_feature = |f: Feature| {
        out.insert(Use {
            feature: f,
            step: None,
        });
    };
    if !wf.params.is_empty() {
        wf_feature(Feature::Params);
    }
    if !wf.groups.is_empty() {
        wf_feature(Feature::Groups);
    }
    if wf.schedule.is_some() {
        wf_feature(Feature::Schedule);
    }
    if wf.ttl.is_some() {
        wf_feature(Feature::Ttl);
    }
    if wf.pod_gc.is_some() {
        wf_feature(Feature::PodGc);
    }
    if wf.parallelism.is_some() {
        wf_feature(Feature::Parallelism);
    }
    if wf.timeout.is_some() {
        wf_feature(Feature::WorkflowTimeout);
    }
    if wf.service_account.is_some() {
        wf_feature(Feature::ServiceAccount);
    }
    if !wf.image_pull_secrets.is_empty() {
        wf_feature(Feature::ImagePullSecrets);
    }
    if !wf.labels.is_empty() || !wf.annotations.is_empty() {
        wf_feature(Feature::Labels);
    }
    if !wf.volumes.is_empty() {
        wf_feature(Feature::Volumes);
    }
    if !wf.volume_claims.is_empty() {
        wf_feature(Feature::VolumeClaims);
    }
    if let Some(s) = &wf.artifact_repository {
        wf_feature(Feature::ArtifactRepository);
        wf_feature(storage_feature(s));
    }
    if !wf.on_exit.is_empty() {
        wf_feature(Feature::ExitHandler);
    }
    let mapped: HashSet<&str> = wf
        .steps
        .iter()
        .filter(|s| s.map.is_some())
        .map(|s| s.name.as_str())
        .collect();
    for s in wf.steps.iter().chain(&wf.on_exit) {
        step_features(wf, &mapped, s, &mut out);
    }
    out.into_iter().collect()
}

/// Checks every used feature against `backend`'s matrix; the first unsupported one is an error.
/// [`Backend::compile`] and [`crate::SplitLowering`] call it: engines never do.
pub fn check_support<B: Backend + ?Sized>(backend: &B, wf: &Workflow) -> Result<(), CompileError> {
    // A study is lowered into plain steps above this crate (couler-tune); one left in is a
    // caller's mistake, not a feature any engine has.
    // caller's mistake, not a feature any engine has. An asynchronous study is not lowered: it
    // is a feature of the matrix (the local runtime drives it).
    let in_rounds = |s: &&Step| s.tune.as_ref().is_some_and(|t| !t.asynchronous());
    if let Some(s) = wf.steps.iter().find(in_rounds) {
        return Err(CompileError::Invalid(format!(
            "step `{}` has a `tune` block, which backends do not compile: lower it first with `couler_tune::lower::expand` (the couler CLI does)",
            s.name
        )));
    }
    for u in features_used(wf) {
        if !backend.support(u.feature).is_supported() {
            return Err(CompileError::Unsupported {
                feature: u.feature,
                step: u.step,
                backend: backend.name(),
                supported_by: crate::backends()
                    .iter()
                    .filter(|b| b.support(u.feature).is_supported())
                    .map(|b| b.name())
                    .collect(),
                detail: unsupported_detail(u.feature),
            });
        }
    }
    Ok(())
}

/// Why an engine lacks a feature and what to do instead, where one reason holds for every
/// backend that lacks it.
fn unsupported_detail(feature: Feature) -> Option<String> {
    match feature {
        Feature::Daemon => Some(
            "each task of this engine ends before the tasks after it start, so nothing keeps a service running beside them; run the service outside the workflow (a Kubernetes Service, a host process) and pass its address as a param, or compile for argo".to_string(),
        ),
        Feature::TuneAsynchronous => Some(
            "an engine runs the steps it was given, so a study's trials are planned before it runs: set `tune.schedule: rounds` (method `asha` has none: choose `hyperband` or `sh`), or run it with `couler run`, whose runtime starts a trial whenever a worker is free".to_string(),
        ),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use crate::{Feature, Options};

    #[test]
    fn engines_without_daemons_refuse_them_saying_why_and_what_to_do() {
        let text = "apiVersion: couler.dev/v1alpha1\nkind: Workflow\nname: d\nsteps:\n  - name: db\n    container: {image: redis, daemon: true}\n  - name: use\n    container: {image: redis, command: [redis-cli, -h, '{{steps.db.ip}}', ping]}\n";
        let wf = couler_ir::spec::load(text, couler_ir::Format::Yaml)
            .unwrap()
            .0;
        let used = super::features_used(&wf);
        assert!(
            used.iter()
                .any(|u| u.feature == Feature::Daemon && u.step.as_deref() == Some("db")),
            "{used:?}"
        );
        for b in crate::backends() {
            let r = b.compile(&wf, &Options::default());
            if b.name() == "argo" || b.name() == "local" {
                assert!(r.is_ok(), "{}: {r:?}", b.name());
                continue;
            }
            let e = r.unwrap_err().to_string();
            for part in [
                "does not support daemon steps",
                "step `db`",
                "ends before the tasks after it start",
                "run the service outside the workflow",
                "supported by: argo, local",
            ] {
                assert!(e.contains(part), "{}: {e}", b.name());
            }
        }
    }
}
