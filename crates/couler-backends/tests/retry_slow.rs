//! `retry.slow` (self-healing from the run history, docs/history.md) is the local runtime's
//! alone: every engine backend refuses it, naming the step and who supports it.

use couler_backends::capability::Feature;
use couler_backends::{CompileError, Options, backends};

const SPEC: &str = r#"
apiVersion: couler.dev/v1alpha1
kind: Workflow
name: healing
steps:
  - name: train
    container: {image: alpine, command: [sleep, "1"]}
    retry: {limit: 2, slow: 3}
"#;

#[test]
fn engines_refuse_retry_slow_and_the_local_runtime_takes_it() {
    let wf = match couler_ir::spec::load(SPEC, couler_ir::Format::Yaml) {
        Ok((wf, _)) => wf,
        Err(d) => panic!("{d:?}"),
    };
    let all = backends();
    let mut refused = Vec::new();
    for b in &all {
        match b.compile(&wf, &Options::default()) {
            Err(e @ CompileError::Unsupported { .. }) => {
                let m = e.to_string();
                assert!(m.contains("retry.slow") && m.contains("`train`"), "{m}");
                assert!(m.contains("local"), "says who supports it: {m}");
                refused.push(b.name());
            }
            Ok(_) => assert!(
                b.support(Feature::RetrySlow).is_supported(),
                "{} compiled it without supporting it",
                b.name()
            ),
            Err(e) => panic!("{}: {e}", b.name()),
        }
    }
    assert_eq!(refused, ["argo", "airflow", "tekton"]);
}
