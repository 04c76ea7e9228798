//! Property tests of the partitioner and the IR split: over random DAGs × budgets and over every
//! shared WfCommons trace × budgets, for both methods, every invariant holds: each step in
//! exactly one part, every part within every budget, every edge inside a part or pointing
//! forward; no method beats the lower bound; the default never needs more parts than the
//! paper's DFS greedy; and the split workflows hold exactly the original steps and edges.

use couler_ir::{ArtifactSource, Graph, Reference, StepKind, StepOutput, Workflow};
use couler_opt::split::{
    Budget, Exchange, Method, Partition, Problem, Size, lower_bound, partition, split_workflow,
};
use proptest::prelude::*;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

mod split_gen;

/// A random DAG: node `i`'s predecessors are drawn from the nodes before it.
fn dag() -> impl Strategy<Value = (Vec<Vec<usize>>, Vec<Size>)> {
    (1usize..120).prop_flat_map(|n| {
        let preds = (0..n)
            .map(|i| {
                if i == 0 {
                    Just(Vec::new()).boxed()
                } else {
                    proptest::collection::vec(0..i, 0..4)
                        .prop_map(|mut v| {
                            v.sort_unstable();
                            v.dedup();
                            v
                        })
                        .boxed()
                }
            })
            .collect::<Vec<_>>();
        let weights = proptest::collection::vec((1u64..2000, 0u64..5), n)
            .prop_map(|v| v.into_iter().map(|(b, p)| [b, 1, p]).collect());
        (preds, weights)
    })
}

/// Checks a partition's invariants and its figures against the lower bound.
fn check_all(problem: &Problem, budget: &Budget) -> (Partition, Partition) {
    let mut got = Vec::new();
    for method in Method::ALL {
        let p =
            partition(problem, budget, method).unwrap_or_else(|e| panic!("{}: {e}", method.name()));
        p.check(problem, budget)
            .unwrap_or_else(|e| panic!("{}: {e}", method.name()));
        let stats = p.stats(problem, budget);
        assert!(
            p.parts >= stats.lower_bound,
            "{}: {} parts, below the lower bound {}",
            method.name(),
            p.parts,
            stats.lower_bound
        );
        assert!(stats.depth <= p.parts && (p.parts == 0 || stats.depth >= 1));
        got.push(p);
    }
    let packed = got.pop().unwrap();
    let dfs = got.pop().unwrap();
    assert!(
        packed.parts <= dfs.parts,
        "packed {} parts, dfs greedy {}",
        packed.parts,
        dfs.parts
    );
    (dfs, packed)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn every_invariant_holds_on_random_dags(
        (preds, weights) in dag(),
        overhead in 0u64..500,
        byte_slack in 0u64..20_000,
        max_steps in proptest::option::of(1u64..40),
        max_pods in proptest::option::of(4u64..60),
    ) {
        let g = Graph::from_predecessors(preds);
        let largest = weights.iter().map(|w| w[0]).max().unwrap_or(0);
        let budget = Budget::new(Some(largest + overhead + byte_slack), max_steps, max_pods);
        let problem = Problem { graph: &g, weights, overhead: [overhead, 0, 0] };
        check_all(&problem, &budget);
    }

    #[test]
    fn the_ir_split_keeps_every_step_and_edge(n in 1usize..150, width in 1usize..12, max_steps in 1u64..30) {
        let mut wf = split_gen::layered(n, width);
        wf.timeout = Some(couler_ir::Duration::from_secs(3600));
        let g = Graph::new(&wf);
        let problem = Problem { graph: &g, weights: vec![[1, 1, 1]; n], overhead: [0; 3] };
        let budget = Budget::new(None, Some(max_steps), None);
        let (_, p) = check_all(&problem, &budget);
        check_ir_split(&wf, &p);
    }
}

/// The children hold every step once, validate on their own, and every original edge is either
/// inside a child or an artifact exchanged from an earlier part that the parent orders first.
fn check_ir_split(wf: &Workflow, p: &Partition) {
    let exchange = Exchange::parse("s3://bucket/prefix").unwrap();
    let split = split_workflow(wf, p, &exchange).unwrap();
    assert_eq!(split.children.len(), p.parts);
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (k, child) in split.children.iter().enumerate() {
        let diags = couler_ir::validate(child);
        assert!(
            diags
                .iter()
                .all(|d| d.severity != couler_ir::Severity::Error),
            "{}: {diags:?}",
            child.name
        );
        // A part never outlasts the whole run's deadline.
        assert_eq!(child.timeout, wf.timeout, "{}", child.name);
        for s in &child.steps {
            assert!(seen.insert(&s.name, k).is_none(), "{} twice", s.name);
        }
    }
    assert_eq!(seen.len(), wf.steps.len());
    assert_eq!(
        split.parent.timeout, wf.timeout,
        "the deadline bounds the parent's run"
    );
    let diags = couler_ir::validate(&split.parent);
    assert!(
        diags
            .iter()
            .all(|d| d.severity != couler_ir::Severity::Error),
        "parent: {diags:?}"
    );
    // The parent's order between parts.
    let parent_after: HashMap<&str, BTreeSet<&str>> = split
        .parent
        .steps
        .iter()
        .map(|s| {
            assert!(matches!(s.kind, StepKind::Workflow(_)));
            (
                s.name.as_str(),
                s.depends_on.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    let g = Graph::new(wf);
    for (from, to) in g.edges() {
        let (a, b) = (&wf.steps[from].name, &wf.steps[to].name);
        let (pa, pb) = (seen[a.as_str()], seen[b.as_str()]);
        if pa == pb {
            // Still an edge inside the child.
            let child = &split.children[pa];
            let cg = Graph::new(child);
            let (ia, ib) = (child.step_index(a).unwrap(), child.step_index(b).unwrap());
            assert!(cg.predecessors(ib).contains(&ia), "{a} → {b} lost");
        } else {
            assert!(pa < pb, "{a} → {b} goes back");
            let parent_name = &split.parent.steps[pb].name;
            assert!(
                parent_after[parent_name.as_str()].contains(split.parent.steps[pa].name.as_str())
            );
            // The artifact travels through the exchange: written by `a`, read by `b`.
            let consumer = split.children[pb].step(b).unwrap();
            let producer = split.children[pa].step(a).unwrap();
            for input in &wf.steps[to].inputs.artifacts {
                if let Some(ArtifactSource::From(Reference::Step {
                    step,
                    output: StepOutput::Artifact(out),
                })) = &input.source
                    && step == a
                {
                    let place = exchange.location(a, out);
                    let read = consumer
                        .inputs
                        .artifacts
                        .iter()
                        .find(|i| i.name == input.name)
                        .unwrap();
                    assert_eq!(read.source, Some(ArtifactSource::Storage(place.clone())));
                    let written = producer
                        .outputs
                        .artifacts
                        .iter()
                        .find(|o| o.name == *out)
                        .unwrap();
                    assert_eq!(written.storage, Some(place));
                }
            }
        }
    }
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every shared trace, imported, under byte budgets from one step's size up to the whole, and
/// under the paper's 200 steps.
#[test]
fn every_invariant_holds_on_the_shared_traces() {
    let dir = repo().join("../shared/traces/wfinstances");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        println!("skipping: {} is absent", dir.display());
        return;
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "no traces in {}", dir.display());
    for path in paths {
        let text = std::fs::read_to_string(&path).unwrap();
        let options = couler_wfformat::ImportOptions {
            time_scale: 0.0,
            size_scale: 1.0,
            name: None,
        };
        let wf = couler_wfformat::import(&text, &options)
            .unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
        let (bytes, fixed) = couler_backends::SplitLowering::step_bytes(
            &couler_backends::argo::Argo,
            &wf,
            &Default::default(),
        )
        .unwrap();
        let g = Graph::new(&wf);
        let problem = Problem {
            graph: &g,
            weights: couler_opt::split::weights(&wf, &bytes),
            overhead: [fixed, 0, 0],
        };
        let largest = bytes.iter().copied().max().unwrap_or(0) + fixed;
        let total: u64 = bytes.iter().sum::<u64>() + fixed;
        let mut budgets = vec![Budget::new(None, Some(200), None)];
        for k in [1u64, 2, 3, 7, 20, 100] {
            budgets.push(Budget::new(Some(largest.max(total / k)), None, None));
        }
        for budget in &budgets {
            let (_, packed) = check_all(&problem, budget);
            if budget.limits[1] == Some(200) {
                assert_eq!(
                    packed.parts,
                    lower_bound(&problem, budget),
                    "{}: a steps-only budget is met exactly",
                    path.display()
                );
            }
        }
        let p = partition(&problem, &budgets[0], Method::Packed).unwrap();
        check_ir_split(&wf, &p);
    }
}
