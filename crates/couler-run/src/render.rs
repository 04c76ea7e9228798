//! Resolving references, rendering `{{…}}` templates and evaluating conditions at run time.
//!
//! Semantics follow docs/spec.md §9–§11: every value is a string; a param or `item` that is not
//! a string goes in as its JSON text; comparisons are numeric when both sides read as numbers,
//! otherwise textual; a bare operand is true when its text is `true`.

pub use crate::outcome::Outcome;
use crate::outcome::StepStatus;
use couler_ir::{CmpOp, Expr, Reference, StepOutput, Template, WorkflowField};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Why a reference could not be resolved.
#[derive(Clone, Debug, PartialEq)]
pub enum Unresolved {
    /// It reads an output of a step that was skipped (or did not produce it): skip the reader.
    Skipped(String),
    /// Anything else: the reader errs with this message.
    Error(String),
}

/// Everything a step's templates can read.
#[derive(Clone)]
pub struct Context<'a> {
    pub workflow_name: &'a str,
    pub run_id: &'a str,
    pub workflow_status: Option<&'a str>,
    pub params: &'a BTreeMap<String, serde_json::Value>,
    pub steps: &'a BTreeMap<String, Outcome>,
    pub item: Option<&'a serde_json::Value>,
    pub input_params: BTreeMap<String, String>,
    pub input_artifact_paths: BTreeMap<String, PathBuf>,
    pub output_param_paths: BTreeMap<String, PathBuf>,
    pub output_artifact_paths: BTreeMap<String, PathBuf>,
}

/// A JSON value as template text: strings as they are, everything else as JSON.
pub fn json_text(v: &serde_json::Value) -> String {
    couler_ir::value_text(v)
}

/// The status name a reader sees for a step (`Cached` reads as `Succeeded`, as on a cluster).
fn visible_status(s: StepStatus) -> &'static str {
    match s {
        StepStatus::Cached => "Succeeded",
        other => other.as_str(),
    }
}

impl Context<'_> {
    pub fn resolve(&self, r: &Reference) -> Result<String, Unresolved> {
        match r {
            Reference::Param(n) => self
                .params
                .get(n)
                .map(json_text)
                .ok_or_else(|| Unresolved::Error(format!("workflow param `{n}` has no value"))),
            Reference::Step { step, output } => {
                let o = self
                    .steps
                    .get(step)
                    .ok_or_else(|| Unresolved::Error(format!("step `{step}` has not finished")))?;
                if let StepOutput::Status = output {
                    return Ok(visible_status(o.status).to_string());
                }
                if !matches!(
                    o.status,
                    StepStatus::Succeeded | StepStatus::Cached | StepStatus::Failed
                ) {
                    return Err(Unresolved::Skipped(format!(
                        "it reads `{r}` and `{step}` is {}",
                        o.status.as_str()
                    )));
                }
                // A failed (continueOnFailure) step's missing output skips its readers; a
                // successful step that did not produce an output is an error for them.
                let missing = || {
                    let why = format!("it reads `{r}`, which `{step}` did not produce");
                    if o.status == StepStatus::Failed {
                        Unresolved::Skipped(why)
                    } else {
                        Unresolved::Error(why)
                    }
                };
                match output {
                    StepOutput::Parameter(n) => {
                        o.outputs.parameters.get(n).cloned().ok_or_else(missing)
                    }
                    StepOutput::Result => o.outputs.result.clone().ok_or_else(missing),
                    // A daemon runs on this machine, beside the step reading its address.
                    StepOutput::Ip if o.status == StepStatus::Succeeded => {
                        Ok("127.0.0.1".to_string())
                    }
                    StepOutput::Ip => Err(missing()),
                    StepOutput::ExitCode => o
                        .outputs
                        .exit_code
                        .map(|c| c.to_string())
                        .ok_or_else(missing),
                    StepOutput::Artifact(n) => o
                        .outputs
                        .artifacts
                        .get(n)
                        .map(|a| a.digest.clone())
                        .ok_or_else(missing),
                    StepOutput::Status => Ok(visible_status(o.status).to_string()),
                }
            }
            Reference::InputParameter(n) => self
                .input_params
                .get(n)
                .cloned()
                .ok_or_else(|| Unresolved::Error(format!("input parameter `{n}` has no value"))),
            Reference::InputArtifactPath(n) => {
                path_of(&self.input_artifact_paths, n, "input artifact")
            }
            Reference::OutputPath { artifact, name } => {
                if *artifact {
                    path_of(&self.output_artifact_paths, name, "output artifact")
                } else {
                    path_of(&self.output_param_paths, name, "output parameter")
                }
            }
            Reference::Item(keys) => {
                let mut v = self
                    .item
                    .ok_or_else(|| Unresolved::Error("`item` outside a map".to_string()))?;
                for k in keys {
                    v = v.get(k).ok_or_else(|| {
                        Unresolved::Error(format!("the map item {v} has no field `{k}`"))
                    })?;
                }
                Ok(json_text(v))
            }
            Reference::Workflow(WorkflowField::Name) => Ok(self.workflow_name.to_string()),
            Reference::Workflow(WorkflowField::RunId) => Ok(self.run_id.to_string()),
            Reference::Workflow(WorkflowField::Status) => self
                .workflow_status
                .map(str::to_string)
                .ok_or_else(|| Unresolved::Error("`workflow.status` outside onExit".to_string())),
        }
    }

    pub fn render(&self, t: &Template) -> Result<String, Unresolved> {
        t.render(|r| self.resolve(r))
    }

    /// Evaluates a condition (iteratively deep expressions are bounded by the parser's limits).
    pub fn eval(&self, e: &Expr) -> Result<bool, Unresolved> {
        Ok(truthy(&self.value(e)?))
    }

    fn value(&self, e: &Expr) -> Result<String, Unresolved> {
        Ok(match e {
            Expr::Literal(l) => l.as_text(),
            Expr::Ref(r) => self.resolve(r)?,
            Expr::Compare { op, left, right } => {
                let l = self.value(left)?;
                let r = self.value(right)?;
                compare(*op, &l, &r).to_string()
            }
            Expr::And(a, b) => (self.eval(a)? && self.eval(b)?).to_string(),
            Expr::Or(a, b) => (self.eval(a)? || self.eval(b)?).to_string(),
            Expr::Not(a) => (!self.eval(a)?).to_string(),
        })
    }
}

fn path_of(m: &BTreeMap<String, PathBuf>, n: &str, what: &str) -> Result<String, Unresolved> {
    m.get(n)
        .map(|p| p.to_string_lossy().into_owned())
        .ok_or_else(|| Unresolved::Error(format!("{what} `{n}` is not declared")))
}

fn truthy(s: &str) -> bool {
    s.trim() == "true"
}

/// Numeric when both sides read as numbers, else by text.
pub fn compare(op: CmpOp, l: &str, r: &str) -> bool {
    use std::cmp::Ordering;
    let ord = match (l.trim().parse::<f64>(), r.trim().parse::<f64>()) {
        (Ok(a), Ok(b)) => a.partial_cmp(&b),
        _ => Some(l.cmp(r)),
    };
    let Some(ord) = ord else {
        return op == CmpOp::Ne;
    };
    match op {
        CmpOp::Eq => ord == Ordering::Equal,
        CmpOp::Ne => ord != Ordering::Equal,
        CmpOp::Lt => ord == Ordering::Less,
        CmpOp::Le => ord != Ordering::Greater,
        CmpOp::Gt => ord == Ordering::Greater,
        CmpOp::Ge => ord != Ordering::Less,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::StepOutputs;

    fn ctx<'a>(
        params: &'a BTreeMap<String, serde_json::Value>,
        steps: &'a BTreeMap<String, Outcome>,
    ) -> Context<'a> {
        Context {
            workflow_name: "wf",
            run_id: "r1",
            workflow_status: None,
            params,
            steps,
            item: None,
            input_params: BTreeMap::new(),
            input_artifact_paths: BTreeMap::new(),
            output_param_paths: BTreeMap::new(),
            output_artifact_paths: BTreeMap::new(),
        }
    }

    #[test]
    fn comparisons_are_numeric_when_both_sides_are_numbers() {
        assert!(compare(CmpOp::Gt, "10", "9"));
        assert!(compare(CmpOp::Ge, "0.91", "0.9"));
        assert!(compare(CmpOp::Eq, "1", "1.0"));
        assert!(compare(CmpOp::Gt, "b", "a"));
        assert!(!compare(CmpOp::Eq, "heads", "tails"));
    }

    #[test]
    fn conditions_and_skips() -> Result<(), String> {
        let mut params = BTreeMap::new();
        params.insert("t".to_string(), serde_json::json!(0.8));
        params.insert("deploy".to_string(), serde_json::json!(true));
        let mut steps = BTreeMap::new();
        let mut out = StepOutputs::default();
        out.parameters.insert("acc".into(), "0.85".into());
        steps.insert(
            "eval".to_string(),
            Outcome::with_outputs(StepStatus::Succeeded, out),
        );
        steps.insert(
            "skipped".to_string(),
            Outcome::new(StepStatus::Skipped, None),
        );
        let c = ctx(&params, &steps);
        let e = Expr::parse("steps.eval.outputs.parameters.acc >= params.t && params.deploy")?;
        assert_eq!(c.eval(&e), Ok(true));
        let e = Expr::parse("steps.skipped.status == \"Skipped\"")?;
        assert_eq!(c.eval(&e), Ok(true));
        let e = Expr::parse("steps.skipped.outputs.result == \"x\"")?;
        assert!(matches!(c.eval(&e), Err(Unresolved::Skipped(_))));
        let t = Template::parse("acc={{steps.eval.outputs.parameters.acc}} t={{params.t}}")?;
        assert_eq!(c.render(&t), Ok("acc=0.85 t=0.8".to_string()));
        Ok(())
    }
}
