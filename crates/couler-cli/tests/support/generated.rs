//! The workflow generator of the differential tests (argo_decisions.rs, airflow_decisions.rs):
//! output values both engines must read alike, conditions over typed params and outputs, and
//! small random workflows (`when`, `map` with per-item `when`, `repeat`) drawn from a fixed seed.

use couler_ir::{CmpOp, Expr, Literal, Reference, StepOutput, Workflow};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::{Value, json};

/// Values outputs take in assignments: numbers both engines read alike, the forms govaluate
/// could not lex, quotes, braces, Argo's ternary characters, whitespace, the empty string.
pub const VALUES: &[&str] = &[
    "42",
    " 42",
    "42.0",
    "1e-05",
    "1E3",
    "-3",
    "+5",
    ".5",
    "5.",
    "10",
    "9",
    "0.5",
    "inf",
    "-Infinity",
    "nan",
    "0x10",
    "1,000",
    "heads",
    "tails",
    "true",
    "false",
    " true",
    "it's",
    "\"x\"",
    "a\"b'c",
    "",
    "{{x}}",
    "}}",
    "a?b:c",
    "\\",
    "done\n",
    "Succeeded",
    "ü",
];

/// The generator's fixed seed: every run draws the same workflows and values.
pub fn rng() -> TestRng {
    TestRng::from_seed(RngAlgorithm::ChaCha, &[28; 32])
}

pub mod conds {
    use super::*;
    use proptest::prelude::*;

    /// A literal a condition compares with.
    fn literal() -> impl Strategy<Value = Literal> {
        prop_oneof![
            prop::sample::select(vec![
                0.0, 0.5, 1.0, 9.0, 10.0, 42.0, -3.0, 1e-7, 0.001, 1e21
            ])
            .prop_map(Literal::Number),
            prop::sample::select(VALUES.to_vec()).prop_map(|s| Literal::String(s.to_string())),
            any::<bool>().prop_map(Literal::Bool),
        ]
    }

    /// A reference a condition of step `i` may read: params, outputs of steps before it,
    /// its own outputs when it is a loop, and `item` when it is mapped.
    pub fn operand(refs: Vec<Reference>) -> impl Strategy<Value = Expr> {
        prop_oneof![
            3 => prop::sample::select(refs).prop_map(Expr::Ref),
            2 => literal().prop_map(Expr::Literal),
        ]
    }

    /// Conditions of the shapes Tekton's `when` can hold (equalities with text, bare values,
    /// `!`, `||` and `&&` of them), over `refs`.
    pub fn tekton_condition(refs: Vec<Reference>) -> impl Strategy<Value = Expr> {
        let words = vec![
            "Succeeded",
            "Failed",
            "Completed",
            "heads",
            "true",
            "false",
            "it's",
            "",
            " true",
        ];
        let leaf = prop_oneof![
            3 => (
                prop::sample::select(refs.clone()),
                prop::sample::select(vec![CmpOp::Eq, CmpOp::Ne]),
                prop::sample::select(words),
            )
                .prop_map(|(r, op, w)| Expr::compare(
                    op,
                    Expr::Ref(r),
                    Expr::Literal(Literal::String(w.to_string()))
                )),
            1 => prop::sample::select(refs).prop_map(Expr::Ref),
        ];
        leaf.prop_recursive(2, 6, 2, |inner| {
            prop_oneof![
                (inner.clone(), inner.clone())
                    .prop_map(|(a, b)| Expr::And(Box::new(a), Box::new(b))),
                (inner.clone(), inner.clone())
                    .prop_map(|(a, b)| Expr::Or(Box::new(a), Box::new(b))),
                inner.prop_map(|a| Expr::Not(Box::new(a))),
            ]
        })
    }

    pub fn condition(refs: Vec<Reference>) -> impl Strategy<Value = Expr> {
        let ops = prop::sample::select(CmpOp::ALL.to_vec());
        let leaf = prop_oneof![
            4 => (ops, operand(refs.clone()), operand(refs.clone()))
                .prop_map(|(op, l, r)| Expr::compare(op, l, r)),
            1 => operand(refs),
        ];
        leaf.prop_recursive(3, 8, 2, |inner| {
            let ops = prop::sample::select(vec![CmpOp::Eq, CmpOp::Ne]);
            prop_oneof![
                (inner.clone(), inner.clone())
                    .prop_map(|(a, b)| Expr::And(Box::new(a), Box::new(b))),
                (inner.clone(), inner.clone())
                    .prop_map(|(a, b)| Expr::Or(Box::new(a), Box::new(b))),
                inner.clone().prop_map(|a| Expr::Not(Box::new(a))),
                (ops, inner, any::<bool>()).prop_map(|(op, a, b)| Expr::compare(
                    op,
                    a,
                    Expr::Literal(Literal::Bool(b))
                )),
            ]
        })
    }
}

/// A workflow of `n` steps with typed params, each step reading earlier steps in its `when`;
/// some mapped (their `when` may read `item`), some loops (their `while` reads their own
/// outputs). No name is a prefix of another (Argo refuses those, see `check_names`).
pub fn generated_spec(rng: &mut TestRng, index: usize) -> Value {
    use proptest::prelude::Rng;
    use proptest::strategy::{Strategy, ValueTree};
    let mut seed = [0u8; 32];
    rng.fill_bytes(&mut seed);
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &seed),
    );
    let param_defaults = [
        ("n", json!({"name": "n", "type": "int", "default": 10})),
        ("k", json!({"name": "k", "type": "int", "default": 9})),
        (
            "lr",
            json!({"name": "lr", "type": "float", "default": 1e-7}),
        ),
        (
            "thr",
            json!({"name": "thr", "type": "float", "default": 0.5}),
        ),
        (
            "flag",
            json!({"name": "flag", "type": "bool", "default": true}),
        ),
        (
            "mode",
            json!({"name": "mode", "type": "string", "default": "it's"}),
        ),
        (
            "word",
            json!({"name": "word", "type": "string", "default": "1e-05"}),
        ),
    ];
    let steps_n = 2 + (rng.next_u32() % 4) as usize;
    let mut steps = Vec::new();
    let mut readable: Vec<Reference> = param_defaults
        .iter()
        .map(|(n, _)| Reference::Param(n.to_string()))
        .collect();
    for i in 0..steps_n {
        let name = format!("s{i}");
        let shape = rng.next_u32() % 4;
        let mut refs = readable.clone();
        let mut step = json!({
            "name": name,
            "container": {"image": "alpine:3.19", "command": ["echo", "x"]},
            "outputs": {"parameters": [{"name": "p", "path": "/tmp/p"}, {"name": "q", "path": "/tmp/q"}]},
        });
        let own = |o: StepOutput| Reference::Step {
            step: name.clone(),
            output: o,
        };
        match shape {
            1 => {
                step["map"] = json!({"items": ["1e-05", 3, 0.5, "it's", true, "x"]});
                refs.push(Reference::Item(vec![]));
            }
            2 => {
                let own_refs = vec![
                    own(StepOutput::Result),
                    own(StepOutput::Parameter("p".into())),
                    own(StepOutput::ExitCode),
                    Reference::Param("n".into()),
                ];
                let c = conds::condition(own_refs)
                    .new_tree(&mut runner)
                    .unwrap()
                    .current();
                step["repeat"] = json!({"while": c.to_string(), "maxIterations": 5});
            }
            _ => {}
        }
        if !rng.next_u32().is_multiple_of(5) {
            let c = conds::condition(refs)
                .new_tree(&mut runner)
                .unwrap()
                .current();
            step["when"] = json!(c.to_string());
        }
        if shape == 0 || shape == 3 {
            for o in [
                StepOutput::Result,
                StepOutput::Parameter("p".into()),
                StepOutput::Parameter("q".into()),
                StepOutput::ExitCode,
                StepOutput::Status,
            ] {
                readable.push(own(o));
            }
        }
        steps.push(step);
    }
    json!({
        "apiVersion": "couler.dev/v1alpha1",
        "kind": "Workflow",
        "name": format!("gen-{index}"),
        "params": param_defaults.iter().map(|(_, p)| p.clone()).collect::<Vec<_>>(),
        "steps": steps,
    })
}

/// [`generated_spec`], loaded.
pub fn generated(rng: &mut TestRng, index: usize) -> Workflow {
    let text = generated_spec(rng, index).to_string();
    match couler_ir::spec::load(&text, couler_ir::Format::Json) {
        Ok((wf, _)) => wf,
        Err(d) => panic!("generated spec does not load: {d:?}\n{text}"),
    }
}
