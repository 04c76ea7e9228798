//! The engines `couler compile`, `couler validate --target` and `couler split` lower to, and the
//! lowering flags they share.

use clap::{Args, ValueEnum};
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
}

impl LoweringArgs {
    /// The backend options these flags give, for documents of `kind`.
    pub fn options(&self, kind: Option<Kind>) -> Options {
        Options {
            kind,
            no_template_reuse: self.no_template_reuse,
            operator: match self.operator.unwrap_or(OperatorArg::Host) {
                OperatorArg::Host => Operator::Host,
                OperatorArg::Kubernetes => Operator::Kubernetes,
                OperatorArg::Docker => Operator::Docker,
            },
            launcher: self.launcher.clone(),
            launcher_image: self.launcher_image.clone(),
            artifact_store: self.artifact_store.clone(),
            no_recursion_limit: self.no_recursion_limit,
            ..Options::default()
        }
    }

    /// Refuses a flag given for another target than `target` (`local`: `couler split
    /// --target local`, which lowers nothing), naming the targets it is for.
    pub fn check_target(&self, target: &str) -> Result<(), String> {
        let given = [
            (
                "--no-template-reuse",
                self.no_template_reuse,
                &["argo", "tekton"][..],
            ),
            ("--operator", self.operator.is_some(), &["airflow"]),
            (
                "--launcher",
                self.launcher.is_some(),
                &["airflow", "tekton"],
            ),
            (
                "--launcher-image",
                self.launcher_image.is_some(),
                &["airflow", "tekton"],
            ),
            (
                "--artifact-store",
                self.artifact_store.is_some(),
                &["airflow", "tekton"],
            ),
            ("--no-recursion-limit", self.no_recursion_limit, &["argo"]),
        ];
        given
            .into_iter()
            .filter(|(_, set, _)| *set)
            .try_for_each(|(flag, _, targets)| flag_for(flag, targets, target))
    }
}

/// `Ok` when `flag` means something for `target`, else the error naming what it is for.
pub fn flag_for(flag: &str, targets: &[&str], target: &str) -> Result<(), String> {
    if targets.contains(&target) {
        return Ok(());
    }
    let list = targets
        .iter()
        .map(|t| format!("--target {t}"))
        .collect::<Vec<_>>()
        .join(" or ");
    Err(format!(
        "{flag} applies to {list} only, and means nothing for --target {target}; drop it (or compile for the target it is meant for)"
    ))
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
