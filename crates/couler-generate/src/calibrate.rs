//! Stage (d): self-calibration. A spec is checked as `couler validate --target` checks it
//! (parse and validate with couler-ir, then the target backend's compile with `couler
//! compile`'s default lowering); the errors, rendered as the CLI renders them (file:line:col,
//! the line with a caret, the fix), go back to the model, which answers the whole spec again,
//! as JSON under [`crate::schema::spec`] (the local model's grammar: only a workflow's
//! fields, and a step's in each step).

use couler_backends::lowering::Lowering;
use couler_ir::spec::{self, Format};
use couler_model::Message;

/// The engines a generated spec is checked for.
pub const TARGETS: [&str; 4] = ["argo", "airflow", "tekton", "local"];

/// What checking a spec found: its errors (each rendered), and its warnings.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Check {
    pub errors: Vec<String>,
    pub warnings: Vec<String>,
}

impl Check {
    pub fn is_valid(&self) -> bool {
        self.errors.is_empty()
    }
}

/// Checks `text` (YAML) as the spec `file` for `target` (one of [`TARGETS`]).
pub fn check(text: &str, file: &str, target: &str) -> Check {
    let render = |d: &couler_ir::Diagnostic| d.render(file, Some(text));
    let (wf, warnings) = match spec::load(text, Format::Yaml) {
        Ok(loaded) => loaded,
        Err(diags) => {
            return Check {
                errors: diags.iter().filter(|d| d.is_error()).map(render).collect(),
                warnings: diags.iter().filter(|d| !d.is_error()).map(render).collect(),
            };
        }
    };
    let mut check = Check {
        errors: Vec::new(),
        warnings: warnings.iter().map(render).collect(),
    };
    let Some(backend) = couler_backends::backend(target) else {
        check.errors.push(format!(
            "error: no backend `{target}`; give one of {TARGETS:?}\n"
        ));
        return check;
    };
    match backend.compile(&wf, &Lowering::default().options()) {
        Ok(out) => check.warnings.extend(
            out.warnings
                .iter()
                .map(|w| format!("warning: {file}: {w}\n")),
        ),
        Err(e) => check.errors.push(format!("error: {file}: {e}\n")),
    }
    check
}

/// The prompt that asks the model to fix `text` given `errors`.
pub fn prompt(
    description: &str,
    text: &str,
    file: &str,
    target: &str,
    errors: &[String],
) -> Vec<Message> {
    vec![
        crate::prompts::system(),
        Message::user(format!(
            "The workflow: {description}\n\nThe spec {file}:\n```yaml\n{text}```\n\n\
             Checking it for {target} reports:\n\n{}\n\
             Answer with the whole corrected spec as one JSON object (its fields as in the \
             spec above: `apiVersion`, `kind`, `name`, `steps`, …).",
            errors.join("\n")
        )),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = "apiVersion: couler.dev/v1alpha1\nkind: Workflow\nname: w\nsteps:\n- name: a\n  container:\n    image: alpine:3.19\n    command: [echo, hi]\n";

    #[test]
    fn an_unknown_step_reference_is_reported_with_its_line_and_column() {
        let bad = format!("{VALID}  dependsOn: [nope]\n");
        let check = check(&bad, "w.yaml", "argo");
        assert_eq!(check.errors.len(), 1, "{check:?}");
        assert!(check.errors[0].contains("w.yaml:9:"), "{}", check.errors[0]);
        assert!(check.errors[0].contains("nope"), "{}", check.errors[0]);
        assert!(super::check(VALID, "w.yaml", "argo").is_valid());
    }

    #[test]
    fn the_target_compiler_is_asked_too() {
        // A container without an image: valid for the local runtime, refused by Argo.
        let no_image = "apiVersion: couler.dev/v1alpha1\nkind: Workflow\nname: w\nsteps:\n- name: a\n  container:\n    command: [echo, hi]\n";
        let local = check(no_image, "w.yaml", "local");
        let argo = check(no_image, "w.yaml", "argo");
        assert!(local.is_valid(), "{local:?}");
        assert!(
            !argo.is_valid() && argo.errors[0].contains("image"),
            "{argo:?}"
        );
        assert!(!check(VALID, "w.yaml", "nomad").is_valid());
    }
}
