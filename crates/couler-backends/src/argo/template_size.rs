//! Argo's limit on one template: the executor in a step's pod reads its template from one
//! environment variable, `ARGO_TEMPLATE` (the template as JSON, parameters resolved), which Linux
//! caps at 128 KiB ([`crate::ENV_STRING_LIMIT`]; beyond it the pod fails with "argument list too
//! long", argo-workflows issue 12190). From v3.6 the controller moves a template that big into a
//! ConfigMap (`feat: support long arguments`, PR 12325); before that, the pod cannot start.

use serde_json::Value;

/// A warning for each template of an Argo document over the limit, naming it and the limit.
pub fn warnings(doc: &Value) -> Vec<String> {
    let templates = doc["spec"]["templates"].as_array().into_iter().flatten();
    templates
        .filter_map(|t| warning(t["name"].as_str().unwrap_or_default(), json_len(t)))
        .collect()
}

/// The warning for template `name` when its JSON, `len` bytes, is over the limit.
pub fn warning(name: &str, len: usize) -> Option<String> {
    (!crate::fits_env_len("ARGO_TEMPLATE", len)).then(|| {
        format!(
            "template `{name}` is {len} bytes of JSON, over Linux's {}-byte limit on one environment string: Argo before v3.6 passes it to the pod in ARGO_TEMPLATE and the pod cannot start (v3.6 and later move it into a ConfigMap); give the step fewer inputs or a shorter script, or use Argo v3.6+",
            crate::ENV_STRING_LIMIT
        )
    })
}

/// The length of `value` as compact JSON, counted without making the text.
pub fn json_len<T: serde::Serialize + ?Sized>(value: &T) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    // Writing JSON to a sink that cannot fail cannot fail.
    let _ = serde_json::to_writer(&mut count, value);
    count.0
}

#[cfg(test)]
mod tests {
    use crate::Backend;

    /// A script step of 140 KB is flagged, by name; a small one is not.
    #[test]
    fn a_template_over_the_environment_limit_is_flagged() {
        let spec = |source_len: usize| {
            format!(
                "apiVersion: couler.dev/v1alpha1\nkind: Workflow\nname: big\nsteps:\n  - name: huge\n    script: {{image: alpine:3.19, command: [sh], source: '{}'}}\n",
                "x".repeat(source_len)
            )
        };
        let warnings = |len| {
            let (wf, _) = couler_ir::spec::load(&spec(len), couler_ir::Format::Yaml).unwrap();
            crate::argo::Argo
                .compile(&wf, &crate::Options::default())
                .unwrap()
                .warnings
        };
        let big = warnings(140_000);
        assert!(
            big.iter()
                .any(|w| w.contains("template `huge`") && w.contains("131072-byte limit")),
            "{big:?}"
        );
        assert!(warnings(1_000).iter().all(|w| !w.contains("ARGO_TEMPLATE")));
    }
}
