//! Robustness: reading any text as a spec never panics, never hangs on hostile input, and every
//! error it reports says something and says where.
//!
//! Inputs are valid specs (the repository's `examples/` plus a few inlined here) mutated at the
//! byte level and at the structure level, plus a list of pathological documents. Whatever parses
//! is also validated and put through the graph queries, and `spec::parse` (which reads valid
//! YAML in one quick pass) must give exactly what the exact passes give (`spec::read_exactly`).

mod common;
use common::config;
use couler_ir::graph::Graph;
use couler_ir::spec::{self, Format};
use couler_ir::{Diagnostic, Expr, validate};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

// ---- seeds --------------------------------------------------------------------------------------

const SMALL: &str = r#"apiVersion: couler.dev/v1alpha1
kind: Workflow
name: small
params:
  - name: who
    default: world
  - name: sizes
    type: json
    default: [1, 2]
steps:
  - name: flip
    script:
      source: |
        print("heads")
    outputs:
      parameters:
        - name: n
          path: /tmp/n
  - name: heads
    when: steps.flip.outputs.result == "heads" && !(params.who == 'x')
    container:
      image: alpine
      command: [echo, "hello {{params.who}}", "{{steps.flip.outputs.parameters.n}}"]
    map:
      from: params.sizes
    retry: {limit: 2, backoff: {duration: 5s, max: 1m}}
  - name: tails
    dependsOn: [flip]
    container: {image: alpine, args: ["{{item}}"]}
    map: {range: {start: 0, stop: 3}}
onExit:
  name: bye
  container: {image: alpine, command: [echo, "{{workflow.status}}"]}
"#;

const CLUSTER: &str = r#"apiVersion: couler.dev/v1alpha1
kind: Workflow
name: cluster
labels: {team: ml}
schedule: {cron: "0 2 * * *", timezone: UTC}
volumes:
  - name: data
    source: {claim: {name: pvc}}
volumeClaims:
  - {name: work, size: 1Gi}
artifactRepository: {s3: {bucket: b}}
groups:
  - {name: both, steps: [train, prep]}
steps:
  - name: prep
    container: {image: a}
    outputs:
      artifacts:
        - {name: data, path: /d, storage: {gcs: {bucket: g}}}
  - name: train
    job:
      framework: pytorch
      image: trainer
      replicas: {master: 1, worker: 2}
    inputs:
      artifacts:
        - {name: data, path: /d, from: steps.prep.outputs.artifacts.data}
    resources:
      requests: {cpu: 500m, memory: 1Gi, gpu: 1}
      limits: {cpu: 2, memory: 2Gi, gpu: 1}
    tolerations: [{key: gpu, operator: Exists, effect: NoSchedule}]
    volumeMounts: [{name: data, mountPath: /data}]
  - name: gate
    dependsOn: [both]
    suspend: {duration: 1h}
  - name: apply
    dependsOn: [gate]
    resource:
      action: apply
      manifest: "kind: ConfigMap\nmetadata: {name: x}\n"
      successCondition: status.ok
"#;

const JSON: &str = r#"{
  "apiVersion": "couler.dev/v1alpha1",
  "kind": "Workflow",
  "name": "json",
  "params": [{"name": "n", "type": "int", "default": 3}],
  "steps": [
    {"name": "a", "container": {"image": "alpine", "command": ["echo", "{{params.n}}"]},
     "outputs": {"parameters": [{"name": "out", "path": "/tmp/o"}]}},
    {"name": "b", "script": {"source": "print(1)"},
     "when": "steps.a.outputs.parameters.out >= 2 || steps.a.status == \"Failed\"",
     "repeat": {"while": "steps.b.outputs.result != \"done\"", "maxIterations": 3}}
  ]
}
"#;

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

fn collect_yaml(dir: &Path, out: &mut Vec<(String, Format)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            collect_yaml(&p, out);
        } else if matches!(
            p.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml" | "json")
        ) && let Ok(text) = std::fs::read_to_string(&p)
        {
            out.push((text, Format::from_path(&p)));
        }
    }
}

/// Every seed: the inlined specs, then whatever `examples/` holds now.
fn seeds() -> &'static [(String, Format)] {
    static SEEDS: OnceLock<Vec<(String, Format)>> = OnceLock::new();
    SEEDS.get_or_init(|| {
        let mut out = vec![
            (SMALL.to_string(), Format::Yaml),
            (CLUSTER.to_string(), Format::Yaml),
            (JSON.to_string(), Format::Json),
        ];
        collect_yaml(&examples_dir(), &mut out);
        out
    })
}

#[test]
fn inlined_seeds_are_valid() {
    for (text, format) in &seeds()[..3] {
        if let Err(e) = spec::load(text, *format) {
            panic!("{e:#?}");
        }
    }
}

// ---- the property every input must have ---------------------------------------------------------

fn well_formed(text: &str, format: Format) -> bool {
    match format {
        Format::Yaml => serde_norway::from_str::<serde::de::IgnoredAny>(text).is_ok(),
        Format::Json => serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok(),
    }
}

fn check_diagnostic(d: &Diagnostic, text: &str, must_locate: bool) -> Result<(), String> {
    if d.message.trim().is_empty() {
        return Err(format!("empty message: {d:?}"));
    }
    if d.help.as_deref().is_some_and(|h| h.trim().is_empty()) {
        return Err(format!("empty help: {d:?}"));
    }
    match d.location {
        Some(loc) => {
            // YAML also breaks lines at a lone CR, NEL, LS and PS; so do its line numbers.
            let lines = 1 + text
                .replace("\r\n", "\n")
                .matches(['\n', '\r', '\u{85}', '\u{2028}', '\u{2029}'])
                .count();
            if loc.line == 0 || loc.column == 0 || loc.line > lines + 1 {
                return Err(format!(
                    "location {loc:?} outside the text ({lines} lines): {d:?}"
                ));
            }
        }
        None if must_locate => return Err(format!("no location: {d:?}")),
        None => {}
    }
    Ok(())
}

/// Loads `text`; checks the result; runs validation and the graph queries on whatever parses.
/// Returns the errors.
fn check(text: &str, format: Format) -> Result<Vec<Diagnostic>, String> {
    // Errors in well-formed text must say where; asked only when one does not (it is slow on
    // hostile text, which the loader itself turns away early).
    let located = || well_formed(text, format);
    let errors = match spec::load(text, format) {
        Ok((_, warnings)) => {
            for w in &warnings {
                if w.is_error() {
                    return Err(format!("an error among the warnings: {w:?}"));
                }
                check_diagnostic(w, text, true)?;
            }
            Vec::new()
        }
        Err(errors) => {
            if !errors.iter().any(Diagnostic::is_error) {
                return Err(format!("Err without an error: {errors:?}"));
            }
            for e in &errors {
                check_diagnostic(e, text, e.location.is_none() && located())?;
            }
            errors
        }
    };
    // The one-pass read of valid specs gives what the exact passes give, errors included.
    let parsed = spec::parse(text, format);
    if parsed != spec::read_exactly(text, format) {
        return Err(format!("the quick and the exact read differ on {text:?}"));
    }
    if let Ok(wf) = parsed {
        let _ = validate(&wf);
        let g = Graph::new(&wf);
        if let Ok(order) = g.topological_order() {
            assert_eq!(order.len(), wf.steps.len());
        }
        let _ = g.levels();
        let _ = g.critical_path(|i| i as f64);
        // What parsed prints and reads back.
        let yaml = spec::to_yaml(&wf);
        assert_eq!(spec::parse(&yaml, Format::Yaml).as_ref(), Ok(&wf), "{yaml}");
    }
    Ok(errors)
}

// ---- byte-level mutations -----------------------------------------------------------------------

/// Text that tends to break parsers: quotes, braces, indentation, flow syntax, YAML specials.
const SNIPPETS: &[&str] = &[
    "{{",
    "}}",
    "{{params.",
    "{{ steps.x.outputs.result }}",
    "{{item.a.b}}",
    "\"",
    "'",
    "\\",
    "\t",
    "\n",
    "\n  ",
    "\r\n",
    ": ",
    "- ",
    "? ",
    "#",
    "&a ",
    "*a",
    "!local ",
    "!!binary ",
    "<<: ",
    "---\n",
    "...\n",
    "%YAML 1.2\n",
    "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
    "]]]]",
    "{{{{{{{{{{{{{{{{",
    "((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((",
    "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!",
    " && ",
    " || ",
    " == ",
    "!",
    "<=",
    "\0",
    "\u{feff}",
    "\u{85}",
    "\u{2028}",
    "\u{fffd}",
    "é",
    "99999999999999999999999999999",
    "-9223372036854775809",
    "1e999",
    "0x",
    ".nan",
    "null",
    "~",
    "true",
    "steps",
    "name",
    "dependsOn",
    "container",
    "script",
    "when",
    "map",
    "items",
    "range",
    "from",
];

#[derive(Clone, Debug)]
enum ByteMutation {
    Flip { at: u32, bit: u8 },
    Insert { at: u32, byte: u8 },
    Delete { at: u32, len: u8 },
    Truncate { at: u32 },
    Duplicate { from: u32, len: u16, to: u32 },
    Snippet { at: u32, text: &'static str },
}

fn byte_mutation() -> impl Strategy<Value = ByteMutation> {
    prop_oneof![
        1 => (any::<u32>(), 0u8..8).prop_map(|(at, bit)| ByteMutation::Flip { at, bit }),
        1 => (any::<u32>(), any::<u8>()).prop_map(|(at, byte)| ByteMutation::Insert { at, byte }),
        1 => (any::<u32>(), 1u8..16).prop_map(|(at, len)| ByteMutation::Delete { at, len }),
        1 => any::<u32>().prop_map(|at| ByteMutation::Truncate { at }),
        1 => (any::<u32>(), 1u16..400, any::<u32>())
            .prop_map(|(from, len, to)| ByteMutation::Duplicate { from, len, to }),
        3 => (any::<u32>(), select(SNIPPETS)).prop_map(|(at, text)| ByteMutation::Snippet { at, text }),
    ]
}

fn at(pos: u32, len: usize) -> usize {
    if len == 0 {
        0
    } else {
        pos as usize % (len + 1)
    }
}

fn apply(bytes: &mut Vec<u8>, m: &ByteMutation) {
    let n = bytes.len();
    match *m {
        ByteMutation::Flip { at: p, bit } => {
            if n > 0 {
                bytes[p as usize % n] ^= 1 << bit;
            }
        }
        ByteMutation::Insert { at: p, byte } => bytes.insert(at(p, n), byte),
        ByteMutation::Delete { at: p, len } => {
            let start = at(p, n);
            let end = (start + len as usize).min(n);
            bytes.drain(start..end);
        }
        ByteMutation::Truncate { at: p } => bytes.truncate(at(p, n)),
        ByteMutation::Duplicate { from, len, to } => {
            let start = at(from, n);
            let end = (start + len as usize).min(n);
            let piece: Vec<u8> = bytes[start..end].to_vec();
            let to = at(to, n);
            bytes.splice(to..to, piece);
        }
        ByteMutation::Snippet { at: p, text } => {
            let to = at(p, n);
            bytes.splice(to..to, text.bytes());
        }
    }
}

proptest! {
    #![proptest_config(config(384))]

    #[test]
    fn byte_mutations_never_panic(
        seed in any::<prop::sample::Index>(),
        mutations in vec(byte_mutation(), 1..6),
        swap_format in prop::bool::weighted(0.2),
    ) {
        let (text, format) = seed.get(seeds());
        let mut bytes = text.clone().into_bytes();
        for m in &mutations {
            apply(&mut bytes, m);
        }
        // The API takes text: bytes that are not UTF-8 become U+FFFD, as a reader would make them.
        let text = String::from_utf8_lossy(&bytes);
        let format = match (format, swap_format) {
            (f, false) => *f,
            (Format::Yaml, true) => Format::Json,
            (Format::Json, true) => Format::Yaml,
        };
        check(&text, format).map_err(TestCaseError::fail)?;
    }
}

// ---- structural mutations -----------------------------------------------------------------------

#[derive(Clone, Debug)]
enum Shape {
    Delete,
    Replace(Value),
    Duplicate,
    /// Rename a key (a typo, a case change) or, in a list, swap two items.
    Rename(String),
}

/// Values of every type, including ones that look like other types and hostile ones.
fn replacement() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        select(vec![
            "",
            "{{",
            "{{params.x}}",
            "{{steps.a.outputs.artifacts.x}}",
            "{{item.k}}",
            "5m",
            "500m",
            "4Gi",
            "-1",
            "1e3",
            "a == b",
            "steps.a.outputs.result == \"x\"",
            "params.",
            "((((x",
            "Invalid_Name",
            "@daily",
            "* * *",
            "couler.dev/v1",
            "Workflow",
            "container",
            "\0",
            "\u{fffd}",
            "json",
            "int",
            "steps.nope.status",
        ])
        .prop_map(|s| Value::String(s.to_string())),
        "(?s).{0,20}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..3).prop_map(Value::Array),
            vec(
                (
                    select(vec!["name", "image", "x", "steps", "from", "items"]),
                    inner
                ),
                0..3
            )
            .prop_map(|kv| Value::Object(
                kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
            )),
        ]
    })
}

fn shape_mutation() -> impl Strategy<Value = (u32, Shape)> {
    let shape = prop_oneof![
        2 => Just(Shape::Delete),
        3 => replacement().prop_map(Shape::Replace),
        1 => Just(Shape::Duplicate),
        1 => "[a-zA-Z_]{0,3}".prop_map(Shape::Rename),
    ];
    (any::<u32>(), shape)
}

fn count(v: &Value) -> usize {
    1 + match v {
        Value::Array(a) => a.iter().map(count).sum(),
        Value::Object(o) => o.values().map(count).sum(),
        _ => 0,
    }
}

/// Applies `shape` to the child number `target` (pre-order, the root excluded) of `v`.
fn mutate(v: &mut Value, target: &mut usize, shape: &Shape) -> bool {
    match v {
        Value::Array(items) => {
            for i in 0..items.len() {
                if *target == 0 {
                    match shape {
                        Shape::Delete => {
                            items.remove(i);
                        }
                        Shape::Replace(r) => items[i] = r.clone(),
                        Shape::Duplicate => {
                            let copy = items[i].clone();
                            items.insert(i, copy);
                        }
                        Shape::Rename(_) => {
                            let j = (i + 1) % items.len();
                            items.swap(i, j);
                        }
                    }
                    return true;
                }
                *target -= 1;
                if mutate(&mut items[i], target, shape) {
                    return true;
                }
            }
        }
        Value::Object(map) => {
            let keys: Vec<String> = map.keys().cloned().collect();
            for k in keys {
                if *target == 0 {
                    match shape {
                        Shape::Delete => {
                            map.remove(&k);
                        }
                        Shape::Replace(r) => {
                            map.insert(k, r.clone());
                        }
                        Shape::Duplicate => {
                            let copy = map[&k].clone();
                            map.insert(format!("{k}2"), copy);
                        }
                        Shape::Rename(extra) => {
                            if let Some(val) = map.remove(&k) {
                                let renamed = match extra.len() % 3 {
                                    0 => k.to_lowercase(),
                                    1 => format!("{k}{extra}"),
                                    _ => k.chars().skip(1).collect(),
                                };
                                map.insert(renamed, val);
                            }
                        }
                    }
                    return true;
                }
                *target -= 1;
                if let Some(child) = map.get_mut(&k)
                    && mutate(child, target, shape)
                {
                    return true;
                }
            }
        }
        _ => {}
    }
    false
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn structural_mutations_never_panic(
        seed in any::<prop::sample::Index>(),
        mutations in vec(shape_mutation(), 1..5),
    ) {
        let (text, format) = seed.get(seeds());
        let parsed: Option<Value> = match format {
            Format::Yaml => serde_norway::from_str(text).ok(),
            Format::Json => serde_json::from_str(text).ok(),
        };
        let Some(mut doc) = parsed else {
            return Ok(()); // an example being edited right now
        };
        for (target, shape) in &mutations {
            let nodes = count(&doc) - 1;
            if nodes == 0 {
                break;
            }
            let mut t = *target as usize % nodes;
            mutate(&mut doc, &mut t, shape);
        }
        let yaml = serde_norway::to_string(&doc).unwrap();
        check(&yaml, Format::Yaml).map_err(TestCaseError::fail)?;
        let json = serde_json::to_string_pretty(&doc).unwrap();
        check(&json, Format::Json).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn any_text_in_a_field_never_panics(field in "(?s).{0,40}", at in any::<prop::sample::Index>()) {
        // Every scalar position of a small spec, with arbitrary text (quoted, so it stays a string).
        let quoted = serde_json::to_string(&field).unwrap();
        let positions: Vec<(usize, usize)> = SMALL
            .match_indices(": ")
            .map(|(i, _)| i + 2)
            .map(|start| (start, SMALL[start..].find('\n').map_or(SMALL.len(), |e| start + e)))
            .collect();
        let (start, end) = *at.get(&positions);
        let text = format!("{}{}{}", &SMALL[..start], quoted, &SMALL[end..]);
        check(&text, Format::Yaml).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn any_condition_text_never_panics(
        words in vec(prop_oneof![
            select(vec!["params.a", "steps.flip.outputs.result", "item.x", "workflow.status",
                "\"s\"", "'s", "1.5", "-", "1e", "true", "and", "not", "(", ")", "&&", "||", "!", "==",
                "!=", "<", ">=", "{{", "}}", "\\", "\"\\u{", "\"\\u{110000}\"", "steps..x", "é"])
                .prop_map(str::to_string),
            "(?s).{0,3}",
        ], 0..12),
    ) {
        let text = words.join(" ");
        if let Ok(e) = Expr::parse(&text) {
            prop_assert_eq!(Expr::parse(&e.to_string()), Ok(e));
        }
    }
}

// ---- pathological inputs ------------------------------------------------------------------------

const HEAD: &str = "apiVersion: couler.dev/v1alpha1\nkind: Workflow\nname: x\n";

fn step_with(extra: &str) -> String {
    format!("{HEAD}steps:\n  - name: s\n    container: {{image: a}}\n{extra}")
}

/// Loads `text` on a thread with a small stack (as a test thread or a server worker has), within
/// `limit`, and checks the result like every other input.
fn hostile(label: &str, text: String, format: Format, limit: Duration) -> Vec<Diagnostic> {
    let started = Instant::now();
    let worker = std::thread::Builder::new()
        .stack_size(1 << 21)
        .spawn(move || check(&text, format).unwrap_or_else(|e| panic!("{e}")))
        .unwrap();
    let errors = worker
        .join()
        .unwrap_or_else(|_| panic!("{label}: panicked"));
    let took = started.elapsed();
    assert!(took < limit, "{label}: took {took:?}");
    errors
}

fn first_message(errors: &[Diagnostic]) -> &str {
    errors.first().map_or("", |e| e.message.as_str())
}

const FAST: Duration = Duration::from_secs(10);

#[test]
fn empty_and_comment_only_files_are_errors() {
    for text in [
        "",
        "\n",
        "   \n",
        "# only\n# comments\n",
        "---\n",
        "null\n",
        "~\n",
    ] {
        let errors = hostile(text, text.to_string(), Format::Yaml, FAST);
        assert!(
            first_message(&errors).contains("mapping at the top level"),
            "{text:?}: {errors:#?}"
        );
    }
    // A document end marker alone is a syntax error, not an empty document.
    assert!(!hostile("...", "...\n".to_string(), Format::Yaml, FAST).is_empty());
    for text in ["", "[]", "42", "\"x\"", "null"] {
        let errors = hostile(text, text.to_string(), Format::Json, FAST);
        assert!(!errors.is_empty(), "{text:?}");
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let n = 10_000;
    let deep_list = format!("{}1{}", "[".repeat(n), "]".repeat(n));
    let deep_map = format!("{}1{}", "{a: ".repeat(n), "}".repeat(n));
    for (label, text) in [
        ("top", deep_list.clone()),
        ("steps", format!("{HEAD}steps: {deep_list}\n")),
        (
            "items",
            step_with(&format!("    map: {{items: {deep_list}}}\n")),
        ),
        (
            "default",
            format!("{HEAD}params: [{{name: p, type: json, default: {deep_map}}}]\nsteps: []\n"),
        ),
        (
            "block",
            format!(
                "{HEAD}steps:\n{}",
                (0..2_000)
                    .map(|i| format!("{}- \n", "  ".repeat(i + 1)))
                    .collect::<String>()
            ),
        ),
    ] {
        let errors = hostile(label, text, Format::Yaml, FAST);
        assert!(!errors.is_empty(), "{label}");
    }
    let json = format!(
        "{{\"apiVersion\": \"couler.dev/v1alpha1\", \"kind\": \"Workflow\", \"name\": \"x\", \"steps\": {deep_list}}}"
    );
    assert!(!hostile("json", json, Format::Json, FAST).is_empty());
    // Far deeper still: the span index must stay linear (it once copied every parent's path).
    let deeper = format!(
        "{HEAD}steps: {}1{}\n",
        "[".repeat(200_000),
        "]".repeat(200_000)
    );
    assert!(!hostile("200k", deeper, Format::Yaml, FAST).is_empty());
}

#[test]
fn deep_and_long_conditions_are_errors_not_crashes() {
    let parens = format!("{}params.a{}", "(".repeat(10_000), ")".repeat(10_000));
    let nots = format!("{}params.a", "!".repeat(10_000));
    let chain = vec!["params.a"; 100_000].join(" && ");
    for (label, when) in [("parens", parens), ("nots", nots), ("chain", chain)] {
        let text = format!(
            "{HEAD}params: [{{name: a}}]\nsteps:\n  - name: s\n    container: {{image: a}}\n    when: \"{when}\"\n"
        );
        let errors = hostile(label, text, Format::Yaml, FAST);
        assert_eq!(
            errors[0].path.as_deref(),
            Some("steps[0].when"),
            "{label}: {errors:#?}"
        );
    }
    // The longest chain allowed is printed, compared, cloned and dropped on a small stack.
    let longest = vec!["params.a"; couler_ir::expr::MAX_EXPR_OPERATORS + 1].join(" || ");
    std::thread::Builder::new()
        .stack_size(1 << 21)
        .spawn(move || {
            let e = Expr::parse(&longest).unwrap();
            assert_eq!(e.to_string(), longest);
            assert_eq!(e.clone(), e);
            let text = format!("{HEAD}params: [{{name: a}}]\nsteps:\n  - {{name: s, container: {{image: a}}, when: \"{longest}\"}}\n");
            let (wf, _) = spec::load(&text, Format::Yaml).unwrap();
            assert_eq!(spec::parse(&spec::to_yaml(&wf), Format::Yaml).unwrap(), wf);
            assert_eq!(spec::parse(&spec::to_json(&wf), Format::Json).unwrap(), wf);
            let _ = format!("{wf:?}");
        })
        .unwrap()
        .join()
        .expect("a condition at the operator limit fits a 2 MiB stack");
}

#[test]
fn alias_expansion_is_bounded() {
    let mut text = String::from(HEAD);
    text.push_str("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..10 {
        let prev = format!("*a{}", i - 1);
        text.push_str(&format!(
            "a{i}: &a{i} [{}]\n",
            [prev.as_str(); 10].join(", ")
        ));
    }
    // In a position the typed pass reads (map items take any JSON), and as an unknown field.
    let laughs_in_items =
        text.clone() + "steps:\n  - name: s\n    container: {image: a}\n    map: {items: *a9}\n";
    let errors = hostile("laughs", laughs_in_items, Format::Yaml, FAST);
    assert!(!errors.is_empty());
    let items_only = format!(
        "{HEAD}steps:\n  - name: s\n    container: {{image: a}}\n    map:\n      items: &a [{}]\n    env: {{X: *a}}\n",
        "x, ".repeat(1000)
    );
    assert!(!hostile("alias", items_only, Format::Yaml, FAST).is_empty());
}

#[test]
fn huge_numbers_are_errors() {
    for extra in [
        "    retry: {limit: 99999999999999999999999999999}\n",
        "    retry: {limit: -1}\n",
        "    retry: {limit: 1e400}\n",
        "    timeout: 99999999999999999999999999999\n",
        "    timeout: 999999999999999999d\n",
        "    map: {range: {stop: -9223372036854775809}}\n",
        "    map: {items: [99999999999999999999999999999]}\n",
        "    when: params.a > 1e999\n",
        "    resources: {limits: {cpu: 99999999999999999999999999999}}\n",
    ] {
        let errors = hostile(extra, step_with(extra), Format::Yaml, FAST);
        assert!(!errors.is_empty(), "{extra}");
    }
    // Large but valid quantities are fine.
    let ok = step_with("    resources: {requests: {cpu: 1e308}, limits: {cpu: 9e999}}\n");
    hostile("quantity", ok, Format::Yaml, FAST);
    // An infinite float in JSON data (items, defaults) reads as null.
    let inf = step_with("    map: {items: [1e400, .inf, .nan]}\n");
    hostile("inf", inf, Format::Yaml, FAST);
}

#[test]
fn odd_characters_are_errors_or_text() {
    let texts = [
        format!("{HEAD}steps: []\n").replace("name: x", "name: \0x"),
        step_with("    description: \"a\\0b\"\n"),
        step_with("    description: \"\\ud800\"\n"),
        step_with("    description: \u{fffd}\u{fffd}\n"),
        format!("\u{feff}{}", step_with("")),
        step_with("\tdescription: tab\n"),
        step_with("    description: \x07bell\n"),
        step_with("    env: {\"\u{fffd}\": \"{{\u{fffd}}}\"}\n"),
        format!("{HEAD}name: again\nsteps: []\n"),
        format!("{}---\n{}", step_with(""), step_with("")),
        step_with("    description: !!binary aGVsbG8=\n"),
        step_with("    retry: !local {limit: 1}\n"),
        step_with("    ? [complex, key]\n    : value\n"),
        step_with("    <<: {description: merged}\n"),
    ];
    for text in texts {
        hostile(
            &text.escape_debug().to_string(),
            text.clone(),
            Format::Yaml,
            FAST,
        );
    }
    for json in [
        "{\"apiVersion\": \"couler.dev/v1alpha1\", \"kind\": \"Workflow\", \"name\": \"\\u0000\", \"steps\": []}",
        "{\"apiVersion\": \"couler.dev/v1alpha1\", \"kind\": \"Workflow\", \"name\": \"\\ud800\", \"steps\": []}",
        "{\"apiVersion\": \"couler.dev/v1alpha1\"\0}",
        "{\"a\": 1,}",
        "{\"apiVersion\": \"couler.dev/v1alpha1\", \"kind\": \"Workflow\", \"name\": \"x\", \"steps\": []} trailing",
    ] {
        hostile(json, json.to_string(), Format::Json, FAST);
    }
}

#[test]
fn ten_megabyte_strings_stay_linear() {
    let big = "x".repeat(10 << 20);
    let errors = hostile(
        "description",
        step_with(&format!("    description: {big}\n")),
        Format::Yaml,
        Duration::from_secs(30),
    );
    assert!(errors.is_empty(), "{errors:#?}");
    // Templates with a million `{{` and a `}}` at the end once took quadratic time.
    let braces = format!("{}}}}}", "{{ ".repeat(1 << 20));
    let errors = hostile(
        "braces",
        step_with(&format!("    env: {{X: \"{braces}\"}}\n")),
        Format::Yaml,
        Duration::from_secs(30),
    );
    assert!(errors.is_empty(), "{errors:#?}");
}
