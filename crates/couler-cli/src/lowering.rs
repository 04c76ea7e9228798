//! The engines `couler compile`, `couler validate --target` and `couler split` lower to, and the
//! lowering flags they share.

use clap::{Args, ValueEnum};
use couler_backends::lowering::{Lowering, Spelling};
use couler_backends::{Kind, Operator, Options};

/// The lowering flags `couler compile` and `couler split` share.
#[derive(Args)]
pub struct LoweringArgs {
    /// Give every step its own template, even when definitions are identical
    #[arg(long)]
    no_template_reuse: bool,
    /// Airflow: how each task runs its step [default: host]
    #[arg(long, value_enum)]
    operator: Option<OperatorArg>,
    /// Airflow: the command that runs `couler launch` in a task (default: `couler` on PATH);
    /// Tekton: the path of `couler` inside the launcher image (default: /usr/local/bin/couler)
    #[arg(long)]
    launcher: Option<String>,
    /// Tekton, Airflow pods and containers: the image that carries the `couler` binary
    #[arg(long)]
    launcher_image: Option<String>,
    /// Airflow and Tekton: where tasks store artifacts (directory or s3://bucket/prefix);
    /// default: the workflow's artifactRepository
    #[arg(long)]
    artifact_store: Option<String>,
    /// Argo: the workflow controller runs with DISABLE_MAX_RECURSION=true, so a `repeat` may
    /// pass 90 iterations (refused otherwise: the loop would end with an Error near 100)
    #[arg(long)]
    no_recursion_limit: bool,
    /// Tekton: compile a workflow `parallelism` anyway, dropping it (Tekton has no pipeline-wide
    /// concurrency limit, so every ready task runs at once; refused otherwise)
    #[arg(long)]
    ignore_parallelism: bool,
}

impl LoweringArgs {
    /// The choices these flags make, for documents of `kind`.
    pub fn lowering(&self, kind: Option<Kind>) -> Lowering {
        Lowering {
            kind,
            no_template_reuse: self.no_template_reuse,
            operator: self.operator.map(|o| match o {
                OperatorArg::Host => Operator::Host,
                OperatorArg::Kubernetes => Operator::Kubernetes,
                OperatorArg::Docker => Operator::Docker,
            }),
            launcher: self.launcher.clone(),
            launcher_image: self.launcher_image.clone(),
            artifact_store: self.artifact_store.clone(),
            no_recursion_limit: self.no_recursion_limit,
            ignore_parallelism: self.ignore_parallelism,
        }
    }

    /// The backend options these flags give (documents of the default kind).
    pub fn options(&self) -> Options {
        self.lowering(None).options()
    }

    /// Refuses a flag given for another target than `target` (see [`Lowering::check_target`]).
    pub fn check_target(&self, target: &str) -> Result<(), String> {
        self.lowering(None).check_target(target, Spelling::Cli)
    }
}

/// An engine `couler compile` and `couler validate` target.
#[derive(Clone, Copy, ValueEnum)]
pub enum Target {
    Argo,
    Airflow,
    Tekton,
}

impl Target {
    /// The backend's name.
    pub fn name(self) -> &'static str {
        match self {
            Target::Argo => "argo",
            Target::Airflow => "airflow",
            Target::Tekton => "tekton",
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum OperatorArg {
    /// BashOperator: a host command on the Airflow worker
    Host,
    /// KubernetesPodOperator: a pod per task
    Kubernetes,
    /// DockerOperator: a container per task
    Docker,
}
