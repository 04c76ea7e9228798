//! The instructions every generation prompt starts with: what a Couler spec is, in brief (the
//! reference is docs/spec.md; retrieval adds the parts a sub-task needs).

use couler_model::Message;

/// The system message of the generation, calibration and revision prompts.
pub const SPEC_SYSTEM: &str = "You write Couler workflow specs (YAML, apiVersion couler.dev/v1alpha1, kind Workflow). \
A spec has `name`, optional `params` (name, default) and `steps`. Each step has a `name` (lower-case letters, digits and `-`) \
and exactly one kind: `container` (image, command, args), `script` (image, source; `command` such as [python]), \
`resource`, `job`, `workflow` or `suspend`. Steps pass values through `outputs` (parameters with a `path`, or the step's standard output without one; artifacts \
with `path`) and `inputs` that reference them as `{{steps.STEP.outputs.parameters.NAME}}`; a reference or `dependsOn: [STEP]` \
makes an edge. `when: \"{{steps.S.outputs.result}} == heads\"` runs a step conditionally, `map` fans out over `items`, \
`range` or `from`, `repeat` loops while a condition holds. Answer with only what the request asks for, no prose: \
a whole spec as YAML in one ```yaml block, or a sub-task's steps as the JSON object it describes.";

/// The system message of a prompt.
pub fn system() -> Message {
    Message::system(SPEC_SYSTEM)
}
