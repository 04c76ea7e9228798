//! Generated workflows for the splitting tests and benchmark: layers of `width` `sh` script
//! steps, each reading the output artifact of up to two steps of the layer before and writing
//! its own (`out`, a checksum of the inputs and its index) and an output parameter (`n`, the
//! checksum).
//! Every value a step produces depends on all its ancestors, so a wrong exchange across a cut
//! changes the outputs.

#![allow(dead_code)]

use couler_ir::{
    ArtifactSource, InputArtifact, OutputArtifact, OutputParameter, Reference, Script, Step,
    StepKind, StepOutput, Template, Workflow,
};

/// The name of step `i`.
pub fn name(i: usize) -> String {
    format!("s{i}")
}

/// A layered workflow of `n` steps, `width` steps a layer.
pub fn layered(n: usize, width: usize) -> Workflow {
    let mut wf = Workflow::new(format!("gen-{n}"));
    for i in 0..n {
        let mut preds = Vec::new();
        if i >= width {
            preds.push(i - width);
            let other = i - width - (i % width != 0) as usize;
            if !preds.contains(&other) {
                preds.push(other);
            }
        }
        // A checksum of the inputs keeps every output small however deep the workflow.
        let mut source = String::from("set -e\n{ ");
        for (k, _) in preds.iter().enumerate() {
            source.push_str(&format!("cat in{k}; "));
        }
        source.push_str(&format!(
            "echo {i}; }} | cksum > out\ncut -d ' ' -f 1 out > n\n"
        ));
        let mut s = Step::new(
            name(i),
            StepKind::Script(Script {
                image: Some("alpine:3.19".into()),
                command: vec!["sh".into()],
                source: Template::text(source),
                daemon: false,
            }),
        );
        for (k, &p) in preds.iter().enumerate() {
            s.inputs.artifacts.push(InputArtifact {
                name: format!("in{k}"),
                path: format!("in{k}"),
                source: Some(ArtifactSource::From(Reference::step(
                    name(p),
                    StepOutput::Artifact("out".into()),
                ))),
                optional: false,
            });
        }
        s.outputs.artifacts.push(OutputArtifact {
            name: "out".into(),
            path: "out".into(),
            storage: None,
            optional: false,
        });
        s.outputs.parameters.push(OutputParameter {
            name: "n".into(),
            path: Some("n".into()),
            default: None,
        });
        wf.steps.push(s);
    }
    wf
}
