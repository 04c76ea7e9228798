//! The JSON schemas of the model's answers: a sub-task's in the generation stage
//! (`{"steps": [...], "params": [...]}`, [`fragment`]) and a whole spec's in the calibration
//! stage ([`spec`]), each step an object with only the fields a spec's step has. A model whose
//! decoding follows the schema (the local model: llama.cpp turns it into a grammar) can then
//! only write steps the reader accepts field by field: no `steps:` nested in a step, no
//! invented keys. Values stay free where the spec's own types are rich (`when`, `map`,
//! `retry`, …): the checks and the calibration rounds judge those.
//!
//! The field names come from the IR's own readers ([`couler_ir::fields::field_names`]), so the
//! schema follows the spec as it changes.

use couler_ir::fields::{field_names, variant_names};
use couler_ir::{
    API_VERSION, Container, InputParameter, Inputs, OutputParameter, Outputs, ParamType, Script,
    Step, Workflow, WorkflowParam,
};
use serde_json::{Map, Value, json};

/// The schema of a generation answer.
pub fn fragment() -> Value {
    json!({
        "type": "object",
        "properties": {
            "steps": steps(),
            "params": params(),
        },
        "required": ["steps"],
        "additionalProperties": false,
    })
}

/// The schema of a calibration answer: a whole spec, with the header it must have, only a
/// workflow's fields, its steps and the exit handler's as in [`fragment`], and its params;
/// the rest of a workflow's fields (`defaults`, `volumes`, …) free.
pub fn spec() -> Value {
    object::<Workflow>(
        &[
            ("apiVersion", json!({"const": API_VERSION})),
            ("kind", json!({"const": "Workflow"})),
            ("name", json!({"type": "string"})),
            ("description", json!({"type": "string"})),
            ("params", params()),
            ("steps", steps()),
            ("onExit", json!({"type": "array", "items": step()})),
        ],
        &["apiVersion", "kind", "name", "steps"],
    )
}

fn steps() -> Value {
    json!({"type": "array", "minItems": 1, "items": step()})
}

fn params() -> Value {
    json!({"type": "array", "items": object::<WorkflowParam>(
        &[
            ("name", json!({"type": "string"})),
            ("type", json!({"enum": variant_names::<ParamType>()})),
        ],
        &["name"],
    )})
}

/// A step: its fields, `name` required, and an `image` for a container or a script (an engine
/// runs every step in one, and a fragment has no `defaults`).
fn step() -> Value {
    let strings = json!({"type": "array", "items": {"type": "string"}});
    let parameters = |item: Value| json!({"type": "array", "items": item});
    let inputs = object::<Inputs>(
        &[(
            "parameters",
            parameters(object::<InputParameter>(&[], &["name"])),
        )],
        &[],
    );
    let outputs = object::<Outputs>(
        &[(
            "parameters",
            parameters(object::<OutputParameter>(&[], &["name"])),
        )],
        &[],
    );
    let container = object::<Container>(
        &[
            ("image", json!({"type": "string"})),
            ("command", strings.clone()),
            ("args", strings.clone()),
        ],
        &["image"],
    );
    let script = object::<Script>(
        &[
            ("image", json!({"type": "string"})),
            ("source", json!({"type": "string"})),
        ],
        &["image", "source"],
    );
    let env = json!({"type": "object", "additionalProperties": {"type": "string"}});
    object::<Step>(
        &[
            ("name", json!({"type": "string"})),
            ("description", json!({"type": "string"})),
            ("container", container),
            ("script", script),
            ("inputs", inputs),
            ("outputs", outputs),
            ("env", env),
            ("dependsOn", strings),
            ("when", json!({"type": "string"})),
        ],
        &["name"],
    )
}

/// An object of `T`'s fields, `known` ones with their schema and the rest free, nothing else
/// allowed; where `T`'s fields cannot be read, any object.
fn object<'de, T: serde::Deserialize<'de>>(known: &[(&str, Value)], required: &[&str]) -> Value {
    let Some(fields) = field_names::<T>() else {
        return json!({"type": "object"});
    };
    let properties: Map<String, Value> = fields
        .iter()
        .map(|f| {
            let schema = known
                .iter()
                .find(|(k, _)| k == f)
                .map_or_else(|| json!({}), |(_, s)| s.clone());
            (f.to_string(), schema)
        })
        .collect();
    debug_assert!(known.iter().all(|(k, _)| properties.contains_key(*k)));
    let mut schema = json!({
        "type": "object",
        "properties": properties,
        "additionalProperties": false,
    });
    if !required.is_empty() {
        schema["required"] = json!(required);
    }
    schema
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_may_have_only_a_step_s_fields_and_each_known_one_its_shape() {
        let schema = fragment();
        let step = &schema["properties"]["steps"]["items"];
        assert_eq!(step["additionalProperties"], false);
        assert_eq!(step["required"], json!(["name"]));
        let fields = step["properties"].as_object().unwrap();
        for f in [
            "name",
            "container",
            "script",
            "dependsOn",
            "when",
            "map",
            "retry",
        ] {
            assert!(fields.contains_key(f), "{f}");
        }
        assert!(!fields.contains_key("steps"), "no steps in a step");
        assert_eq!(
            fields["container"]["properties"]["command"]["items"]["type"],
            "string"
        );
        assert_eq!(fields["container"]["additionalProperties"], false);
        assert_eq!(fields["container"]["required"], json!(["image"]));
        assert_eq!(fields["script"]["required"], json!(["image", "source"]));
        assert_eq!(
            fields["inputs"]["properties"]["parameters"]["items"]["required"],
            json!(["name"])
        );
        // A free field takes any value.
        assert_eq!(fields["map"], json!({}));
        // A workflow param has a workflow param's fields.
        let param = &schema["properties"]["params"]["items"];
        assert_eq!(param["additionalProperties"], false);
        assert!(param["properties"].get("default").is_some());
        assert!(param["properties"].get("value").is_none());
        assert_eq!(
            param["properties"]["type"]["enum"],
            json!(["string", "int", "float", "bool", "json"])
        );
    }

    #[test]
    fn a_whole_spec_has_its_header_and_only_a_workflow_s_fields() {
        let schema = spec();
        assert_eq!(schema["additionalProperties"], false);
        assert_eq!(
            schema["required"],
            json!(["apiVersion", "kind", "name", "steps"])
        );
        let fields = schema["properties"].as_object().unwrap();
        assert_eq!(fields["apiVersion"]["const"], API_VERSION);
        assert_eq!(fields["kind"]["const"], "Workflow");
        // The steps and the exit handler's are steps as a fragment has them.
        assert_eq!(
            fields["steps"]["items"],
            fragment()["properties"]["steps"]["items"]
        );
        assert_eq!(fields["onExit"]["items"], fields["steps"]["items"]);
        assert_eq!(fields["params"], fragment()["properties"]["params"]);
        // The workflow's other fields are there, free; a step's are not.
        for f in ["defaults", "parallelism", "volumes", "groups"] {
            assert_eq!(fields[f], json!({}), "{f}");
        }
        assert!(!fields.contains_key("container"));
        // What the schema admits is read as a spec.
        let answer = json!({
            "apiVersion": API_VERSION,
            "kind": "Workflow",
            "name": "fixed",
            "params": [{"name": "n", "type": "int", "default": 3}],
            "steps": [{"name": "a", "container": {"image": "alpine:3.19", "command": ["echo"]}}],
            "onExit": [{"name": "z", "container": {"image": "alpine:3.19"}}],
        });
        let wf = couler_ir::spec::parse(&answer.to_string(), couler_ir::spec::Format::Json)
            .expect("a spec");
        assert_eq!((wf.steps.len(), wf.on_exit.len()), (1, 1));
    }

    #[test]
    fn every_known_field_is_one_the_spec_reader_accepts() {
        // What the schema admits parses as a step: a step using every constrained field.
        let answer = json!({"steps": [{
            "name": "train",
            "description": "fit",
            "container": {"image": "python:3.12", "command": ["python"], "args": ["-c", "1"]},
            "inputs": {"parameters": [{"name": "k", "value": "3"}]},
            "outputs": {"parameters": [{"name": "acc", "path": "/tmp/acc"}]},
            "env": {"K": "{{inputs.parameters.k}}"},
            "dependsOn": [],
            "when": "1 == 1",
        }]});
        let step: Step = serde_json::from_value(answer["steps"][0].clone()).expect("a step");
        assert_eq!(step.name, "train");
    }
}
