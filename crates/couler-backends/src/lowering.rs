//! The lowering choices `couler compile`, `couler split`, `couler validate --target` and the
//! Python SDK's `compile` share, and the rule of which targets each one means something for.

use crate::{Kind, Operator, Options};

/// How the user spelled the choices, so that an error names them as they were given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Spelling {
    /// Command-line flags: `--no-template-reuse`, `--target argo`.
    Cli,
    /// Python keyword arguments: `no_template_reuse=`, `target="argo"`.
    Python,
}

/// The lowering choices as given (`None` or `false`: not given).
#[derive(Clone, Debug, Default)]
pub struct Lowering {
    /// The document kind (Argo only).
    pub kind: Option<Kind>,
    /// One template per step even when definitions are identical (Argo, Tekton).
    pub no_template_reuse: bool,
    /// How each Airflow task runs its step (default [`Operator::Host`]).
    pub operator: Option<Operator>,
    /// The command (Airflow) or path (Tekton) of `couler` in a task.
    pub launcher: Option<String>,
    /// The image that carries the `couler` binary (Airflow, Tekton).
    pub launcher_image: Option<String>,
    /// Where tasks store artifacts (Airflow, Tekton).
    pub artifact_store: Option<String>,
    /// The Argo controller runs with `DISABLE_MAX_RECURSION=true`.
    pub no_recursion_limit: bool,
    /// Compile a workflow `parallelism` the engine cannot enforce, dropping it (Tekton).
    pub ignore_parallelism: bool,
}

impl Lowering {
    /// The backend options these choices give.
    pub fn options(&self) -> Options {
        Options {
            kind: self.kind,
            no_template_reuse: self.no_template_reuse,
            operator: self.operator.unwrap_or_default(),
            launcher: self.launcher.clone(),
            launcher_image: self.launcher_image.clone(),
            artifact_store: self.artifact_store.clone(),
            no_recursion_limit: self.no_recursion_limit,
            ignore_parallelism: self.ignore_parallelism,
            ..Options::default()
        }
    }

    /// Refuses a choice given for another target than `target` (`local`: `couler split
    /// --target local`, which lowers nothing), naming the targets it is for.
    pub fn check_target(&self, target: &str, spelling: Spelling) -> Result<(), String> {
        let given = [
            ("kind", self.kind.is_some(), &["argo"][..]),
            (
                "no_template_reuse",
                self.no_template_reuse,
                &["argo", "tekton"],
            ),
            ("operator", self.operator.is_some(), &["airflow"]),
            ("launcher", self.launcher.is_some(), &["airflow", "tekton"]),
            (
                "launcher_image",
                self.launcher_image.is_some(),
                &["airflow", "tekton"],
            ),
            (
                "artifact_store",
                self.artifact_store.is_some(),
                &["airflow", "tekton"],
            ),
            ("no_recursion_limit", self.no_recursion_limit, &["argo"]),
            ("ignore_parallelism", self.ignore_parallelism, &["tekton"]),
        ];
        given
            .into_iter()
            .filter(|(_, set, _)| *set)
            .try_for_each(|(name, _, targets)| flag_for(name, targets, target, spelling))
    }
}

/// `Ok` when the choice `name` (snake_case) means something for `target`, else the error
/// naming the targets it is for.
pub fn flag_for(
    name: &str,
    targets: &[&str],
    target: &str,
    spelling: Spelling,
) -> Result<(), String> {
    if targets.contains(&target) {
        return Ok(());
    }
    let (flag, target_of) = match spelling {
        Spelling::Cli => (format!("--{}", name.replace('_', "-")), "--target "),
        Spelling::Python => (format!("{name}="), "target="),
    };
    let quote = |t: &str| match spelling {
        Spelling::Cli => format!("{target_of}{t}"),
        Spelling::Python => format!("{target_of}\"{t}\""),
    };
    let list = targets
        .iter()
        .map(|t| quote(t))
        .collect::<Vec<_>>()
        .join(" or ");
    Err(format!(
        "{flag} applies to {list} only, and means nothing for {}; drop it (or compile for the target it is meant for)",
        quote(target)
    ))
}
