//! A high fan-in workflow: `producers` steps, each writing `ARTIFACTS` files as artifacts with
//! long names, and one step `gather` reading all of them (hundreds of input artifacts): its
//! launcher input is over Linux's 128 KiB limit on one environment string, so an engine must
//! hand it over another way (docs/launcher.md, "The task"). `gather`'s result is the number of
//! lines it read: `producers × ARTIFACTS`.

/// Artifacts each producer writes.
pub const ARTIFACTS: usize = 4;

/// The spec, named `name`.
pub fn spec(name: &str, producers: usize) -> String {
    let long = "with-a-rather-long-descriptive-name-for-its-many-readers";
    let artifact = |k: usize| format!("out_{}_{k}", long.replace('-', "_"));
    let producer = |i: usize| format!("producer-{i:03}");
    let mut s = format!(
        "apiVersion: couler.dev/v1alpha1\nkind: Workflow\nname: {name}\ndefaults: {{image: alpine:3.19}}\nsteps:\n"
    );
    for i in 0..producers {
        s += &format!(
            "  - name: {}\n    container:\n      command: [sh, -c, 'mkdir -p o && for k in {}; do echo {i}-$k > o/$k; done']\n    outputs:\n      artifacts:\n",
            producer(i),
            (0..ARTIFACTS)
                .map(|k| k.to_string())
                .collect::<Vec<_>>()
                .join(" ")
        );
        for k in 0..ARTIFACTS {
            s += &format!("        - {{name: {}, path: o/{k}}}\n", artifact(k));
        }
    }
    s += "  - name: gather\n    container:\n      command: [sh, -c, 'cat in/*/* | wc -l']\n    inputs:\n      artifacts:\n";
    for i in 0..producers {
        for k in 0..ARTIFACTS {
            s += &format!(
                "        - {{name: a{i}_{k}, from: steps.{}.outputs.artifacts.{}, path: in/{long}-{i}/{k}}}\n",
                producer(i),
                artifact(k)
            );
        }
    }
    s
}
