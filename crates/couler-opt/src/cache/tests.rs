//! Unit tests of the cache policies on hand-made DAGs where the right eviction is known, and
//! property tests of the simulator's invariants on random DAGs.

use super::policy::{CacheState, couler_score, paper_score};
use super::*;
use proptest::prelude::*;

/// `tasks`: (runtime, parents); `files`: (size, producer, consumers); files are named a, b, c….
fn dag(tasks: &[(f64, &[usize])], files: &[(f64, usize, &[usize])]) -> SimInput {
    SimInput::new(
        "hand-made",
        tasks
            .iter()
            .enumerate()
            .map(|(i, (rt, ps))| SimTask {
                name: format!("t{i}"),
                runtime: *rt,
                parents: ps.to_vec(),
            })
            .collect(),
        files
            .iter()
            .enumerate()
            .map(|(i, (size, p, cs))| SimFile {
                name: ((b'a' + i as u8) as char).to_string(),
                size: *size,
                producer: *p,
                consumers: cs.to_vec(),
            })
            .collect(),
    )
    .expect("hand-made DAG is valid")
}

fn one_slot() -> SimConfig {
    SimConfig {
        slots: 1,
        ..SimConfig::default()
    }
}

/// Tasks 0, 1, 3 write a, b, c (1 byte each) into a 2-byte cache; 2 reads a before c comes,
/// so when c arrives one of a (1 read left, rebuild 10 s) and b (2 reads left, rebuild 1 s)
/// must go. 4 reads b next, 5 reads a, b and c last.
fn choice() -> SimInput {
    dag(
        &[
            (10.0, &[]),
            (1.0, &[]),
            (0.0, &[0]),
            (10.0, &[]),
            (0.0, &[1]),
            (0.0, &[0, 1, 3]),
        ],
        &[(1.0, 0, &[2, 5]), (1.0, 1, &[4, 5]), (1.0, 3, &[5])],
    )
}

fn evicted(input: &SimInput, kind: PolicyKind, budget: f64) -> Vec<String> {
    let r = Replay::new(input, one_slot()).run(kind, budget);
    r.evicted
        .iter()
        .map(|&f| input.files[f].name.clone())
        .collect()
}

#[test]
fn fifo_evicts_the_oldest_insertion() {
    assert_eq!(evicted(&choice(), PolicyKind::Fifo, 2.0), ["a"]);
}

#[test]
fn lru_evicts_the_least_recently_used() {
    // a was read by task 2 after b was written.
    assert_eq!(evicted(&choice(), PolicyKind::Lru, 2.0), ["b"]);
}

#[test]
fn lrc_evicts_the_fewest_unread_consumers() {
    assert_eq!(evicted(&choice(), PolicyKind::Lrc, 2.0), ["a"]);
}

#[test]
fn gds_evicts_the_cheapest_per_byte() {
    assert_eq!(evicted(&choice(), PolicyKind::Gds, 2.0), ["b"]);
}

#[test]
fn belady_evicts_the_furthest_next_read() {
    // b is read by task 4 before task 5 reads a.
    assert_eq!(evicted(&choice(), PolicyKind::Belady, 2.0), ["a"]);
}

#[test]
fn couler_weighs_remaining_reads_by_rebuild_seconds() {
    // a: 1 read × 10 s = 10; b: 2 reads × 1 s = 2: b goes, though LRC would keep it.
    let input = choice();
    assert_eq!(evicted(&input, PolicyKind::Couler, 2.0), ["b"]);
    let r = Replay::new(&input, one_slot());
    let couler = r.run(PolicyKind::Couler, 2.0);
    let lrc = r.run(PolicyKind::Lrc, 2.0);
    // Missing b costs two 1 s rebuilds; missing a one 10 s rebuild.
    assert_eq!(couler.recompute_secs, 2.0);
    assert_eq!(lrc.recompute_secs, 10.0);
    assert!(couler.recompute_avoided_secs > lrc.recompute_avoided_secs);
}

/// a, b are read by task 3 next; c (written by 2) only by task 4, after 3.
fn late() -> SimInput {
    dag(
        &[
            (1.0, &[]),
            (1.0, &[]),
            (1.0, &[]),
            (0.0, &[0, 1]),
            (0.0, &[2, 3]),
        ],
        &[(1.0, 0, &[3]), (1.0, 1, &[3]), (1.0, 2, &[4])],
    )
}

#[test]
fn belady_bypasses_a_file_read_after_everything_cached() {
    let input = late();
    let r = Replay::new(&input, one_slot()).run(PolicyKind::Belady, 2.0);
    assert!(r.evicted.is_empty());
    assert_eq!(r.bypassed, 1);
    assert_eq!(r.hits, 2);
    // LRU admits c by evicting a, and misses a.
    let lru = Replay::new(&input, one_slot()).run(PolicyKind::Lru, 2.0);
    assert_eq!(evicted(&input, PolicyKind::Lru, 2.0), ["a"]);
    assert_eq!(lru.hits, 2);
    assert_eq!(lru.bypassed, 0);
}

#[test]
fn couler_bypasses_a_file_whose_reader_waits_on_more_parents() {
    // Same value density everywhere; c's reader still waits for task 3, a's and b's for none.
    let r = Replay::new(&late(), one_slot()).run(PolicyKind::Couler, 2.0);
    assert!(r.evicted.is_empty());
    assert_eq!(r.bypassed, 1);
}

#[test]
fn none_and_all_bound_everything() {
    let input = choice();
    let replay = Replay::new(&input, one_slot());
    let none = replay.run(PolicyKind::None, 1e9);
    let all = replay.run(PolicyKind::All, 0.0);
    assert_eq!(none.hits, 0);
    assert_eq!(none.recompute_avoided_secs, 0.0);
    // 2 rebuilds of a (10 s), 2 of b (1 s), 1 of c (10 s).
    assert_eq!(none.recompute_secs, 32.0);
    assert_eq!(all.hits, input.read_count());
    assert_eq!(all.recompute_secs, 0.0);
    assert_eq!(all.recompute_avoided_secs, 32.0);
    assert!(all.makespan_secs < none.makespan_secs);
}

#[test]
fn a_miss_rebuilds_uncached_ancestors_once() {
    // Chain 0 → 1 → 2 with files a (0→1), b (1→2) and a fan-in task 3 reading b and a.
    let input = dag(
        &[(5.0, &[]), (3.0, &[0]), (0.0, &[1]), (0.0, &[1])],
        &[(1.0, 0, &[1, 3]), (1.0, 1, &[2, 3])],
    );
    let r = Replay::new(&input, one_slot()).run(PolicyKind::None, 0.0);
    // Task 1 rebuilds a (5); task 2 rebuilds b (3 + 5); task 3 rebuilds b and a once (3 + 5).
    assert_eq!(r.recompute_secs, 5.0 + 8.0 + 8.0);
}

#[test]
fn paper_score_follows_equations_3_to_6() {
    // Chain 0 → 1 → 2 → 3; u = file of task 1 read by 2; runtimes 4, 2, 1, 1.
    let input = dag(
        &[(4.0, &[]), (2.0, &[0]), (1.0, &[1]), (1.0, &[2])],
        &[(1.0, 0, &[1]), (3.0, 1, &[2]), (1.0, 2, &[3])],
    );
    let mut s = state(&input, 10.0);
    let params = CoulerParams::default();
    // G_p = {1, 0}: one edge 0→1, w_0 + d_0·d_1 = 4 + 1·2 = 6.
    // G_s within 3 hops of 1: task 2 (κ=1, ζ+1 = 0), task 3 (κ=2, ζ+1 = 1): F = 1/2.
    let want = 1.5 * 7f64.ln() + 0.25 - (-3f64).exp();
    let got = paper_score(params, 1, &mut s);
    assert!((got - want).abs() < 1e-12, "{got} != {want}");
    // With a (file 0) cached, G_p is truncated to {1}: L = 0.
    s.cached[0] = true;
    let got = paper_score(params, 1, &mut s);
    assert!((got - (0.25 - (-3f64).exp())).abs() < 1e-12);
}

#[test]
fn couler_values_a_file_whose_sibling_is_lost_at_nothing() {
    // Tasks 0 and 1 each write two files (a, b from 0; c, d from 1); task 2 reads a and b,
    // task 3 reads c and d. b is lost: task 2's read re-runs task 0 whether a is kept or
    // not, so a saves nothing; c (its sibling d still cached) saves task 1's run.
    let input = dag(
        &[(5.0, &[]), (5.0, &[]), (0.0, &[0]), (0.0, &[1])],
        &[
            (1.0, 0, &[2]),
            (1.0, 0, &[2]),
            (1.0, 1, &[3]),
            (1.0, 1, &[3]),
        ],
    );
    let mut s = state(&input, 4.0);
    s.cached = vec![true, false, true, true];
    s.lost[1] = true;
    let params = CoulerParams::default();
    let a = couler_score(params, 0, &mut s);
    let c = couler_score(params, 2, &mut s);
    assert!(a < c, "a {a} should rank below c {c}");
    // Nothing reads a again in effect: the score of a file with no reads to come.
    assert!((a - -(-0.25f64).exp()).abs() < 1e-12, "{a}");
}

#[test]
fn couler_keeps_what_the_rebuild_of_a_lost_file_reads_again() {
    // 0 writes a (read by 1); 1 writes b, larger than the cache, read by 2 and 3 later.
    // 4 writes c, read by 5. After 1 and 5 started, a and c have no consumer left to start,
    // but each read of b re-runs 1, which reads a: a is worth keeping, c is not.
    let input = dag(
        &[
            (8.0, &[]),
            (1.0, &[0]),
            (0.0, &[1]),
            (0.0, &[1]),
            (8.0, &[]),
            (0.0, &[4]),
        ],
        &[(1.0, 0, &[1]), (100.0, 1, &[2, 3]), (1.0, 4, &[5])],
    );
    let mut s = state(&input, 4.0);
    assert!(
        s.lost[1],
        "a file larger than the budget is lost from the start"
    );
    s.cached = vec![true, false, true];
    for t in [0, 1, 4, 5] {
        s.started[t] = true;
    }
    let params = CoulerParams::default();
    let a = couler_score(params, 0, &mut s);
    let c = couler_score(params, 2, &mut s);
    assert!(a > c, "a {a} should rank above c {c}");
    // The two reads of b count as a's reads to come; depth 1 stops at a's own consumers.
    let shallow = couler_score(CoulerParams { depth: 1, ..params }, 0, &mut s);
    assert!((shallow - c).abs() < 1e-12, "{shallow} != {c}");
}

fn state(input: &SimInput, budget: f64) -> CacheState<'_> {
    let mut s = CacheState::initial(input, budget);
    s.mean_runtime = 1.0;
    s
}

#[test]
fn budgets_parse_percentages_and_sizes() {
    assert_eq!(Budget::parse("5%"), Ok(Budget::Percent(5.0)));
    assert_eq!(Budget::parse("2Ki"), Ok(Budget::Bytes(2048.0)));
    assert_eq!(Budget::Percent(10.0).bytes(500.0), 50.0);
    let e = Budget::parse("five").unwrap_err();
    assert!(e.contains("`five`") && e.contains("5%"), "{e}");
    assert!(Budget::parse("-1%").is_err());
}

#[test]
fn cycles_and_bad_indices_are_reported() {
    let e = SimInput::new(
        "x",
        vec![
            SimTask {
                name: "p".into(),
                runtime: 1.0,
                parents: vec![1],
            },
            SimTask {
                name: "q".into(),
                runtime: 1.0,
                parents: vec![0],
            },
        ],
        vec![],
    )
    .unwrap_err();
    assert!(e.0.contains("cycle"), "{e}");
    let e = SimInput::new(
        "x",
        vec![],
        vec![SimFile {
            name: "f".into(),
            size: 1.0,
            producer: 3,
            consumers: vec![],
        }],
    )
    .unwrap_err();
    assert!(e.0.contains("`f`"), "{e}");
}

/// A random DAG: each task's parents are earlier tasks; each file one producer and later
/// readers (made parents by [`SimInput::new`]).
fn arb_dag(unit: bool, single_read: bool) -> impl Strategy<Value = SimInput> {
    (2usize..24).prop_flat_map(move |n| {
        let tasks = proptest::collection::vec(
            (
                0.0f64..20.0,
                proptest::collection::vec(any::<prop::sample::Index>(), 0..3),
            ),
            n,
        );
        let files = proptest::collection::vec(
            (
                1.0f64..100.0,
                any::<prop::sample::Index>(),
                proptest::collection::vec(any::<prop::sample::Index>(), 1..4),
            ),
            1..(2 * n),
        );
        (tasks, files).prop_map(move |(tasks, files)| {
            let n = tasks.len();
            let tasks = tasks
                .into_iter()
                .enumerate()
                .map(|(i, (rt, ps))| SimTask {
                    name: format!("t{i}"),
                    runtime: rt,
                    parents: if i == 0 {
                        vec![]
                    } else {
                        let mut p: Vec<usize> = ps.iter().map(|x| x.index(i)).collect();
                        p.sort_unstable();
                        p.dedup();
                        p
                    },
                })
                .collect();
            let files = files
                .into_iter()
                .enumerate()
                .map(|(k, (size, p, cs))| {
                    let p = p.index(n - 1);
                    let mut cs: Vec<usize> =
                        cs.iter().map(|c| p + 1 + c.index(n - 1 - p)).collect();
                    if single_read {
                        cs.truncate(1);
                    }
                    SimFile {
                        name: format!("f{k}"),
                        size: if unit { 1.0 } else { size },
                        producer: p,
                        consumers: cs,
                    }
                })
                .collect();
            SimInput::new("random", tasks, files).expect("random DAG is acyclic")
        })
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn replay_invariants(input in arb_dag(false, false), share in 0.0f64..1.0, slots in 1usize..4, seed in 0u64..3) {
        let config = SimConfig { slots, seed, ..SimConfig::default() };
        let replay = Replay::new(&input, config);
        let budget = share * input.intermediate_bytes();
        let all = replay.run(PolicyKind::All, budget);
        prop_assert_eq!(all.recompute_secs, 0.0);
        prop_assert_eq!(all.hits, input.read_count());
        for kind in PolicyKind::ALL {
            let r = replay.run(kind, budget);
            prop_assert!((0.0..=1.0).contains(&r.hit_ratio()), "{} hit ratio {}", kind.name(), r.hit_ratio());
            prop_assert!((0.0..=1.0).contains(&r.byte_hit_ratio()));
            if kind != PolicyKind::All {
                prop_assert!(r.peak_bytes <= budget * (1.0 + 1e-9), "{} peak {} > {}", kind.name(), r.peak_bytes, budget);
            }
            prop_assert!(r.recompute_avoided_secs <= all.recompute_avoided_secs + 1e-9);
            prop_assert!(r.recompute_avoided_secs >= -1e-9, "{} avoided {}", kind.name(), r.recompute_avoided_secs);
            prop_assert!(r.hits <= all.hits);
            prop_assert!(r.makespan_secs + 1e-9 >= all.makespan_secs || slots > 1);
            // Same seed, same result.
            prop_assert_eq!(&r, &replay.run(kind, budget));
        }
    }

    #[test]
    fn belady_bounds_practical_hits_on_unit_files_read_once(input in arb_dag(true, true), cap in 0usize..6, slots in 1usize..4) {
        let replay = Replay::new(&input, SimConfig { slots, ..SimConfig::default() });
        let belady = replay.run(PolicyKind::Belady, cap as f64);
        for kind in PolicyKind::PRACTICAL.into_iter().chain([PolicyKind::Couler, PolicyKind::CoulerPaper]) {
            let r = replay.run(kind, cap as f64);
            prop_assert!(belady.hits >= r.hits, "{} {} > belady {}", kind.name(), r.hits, belady.hits);
        }
    }
}

/// Three producers (a, b, c) and a consumer reading all three; with recorded sizes of 100
/// bytes and a 200-byte budget, one of them cannot stay: the one quickest to rebuild.
const THREE: &str = r#"
apiVersion: couler.dev/v1alpha1
kind: Workflow
name: three
steps:
  - {name: a, container: {image: alpine:3.19, command: [sh]}, outputs: {artifacts: [{name: out, path: o}]}}
  - {name: b, container: {image: alpine:3.19, command: [sh]}, outputs: {artifacts: [{name: out, path: o}]}}
  - {name: c, container: {image: alpine:3.19, command: [sh]}, outputs: {artifacts: [{name: out, path: o}]}}
  - name: d
    container: {image: alpine:3.19, command: [sh]}
    inputs:
      artifacts:
        - {name: a, path: a, from: steps.a.outputs.artifacts.out}
        - {name: b, path: b, from: steps.b.outputs.artifacts.out}
        - {name: c, path: c, from: steps.c.outputs.artifacts.out}
"#;

#[test]
fn cache_pass_keeps_what_is_costly_to_rebuild() {
    let wf = couler_ir::spec::parse(THREE, couler_ir::Format::Yaml).expect("valid spec");
    let mut recorded = Recorded::default();
    for (step, secs) in [("a", 30.0), ("b", 2.0), ("c", 20.0)] {
        recorded.runtimes.insert(step.to_string(), secs);
        recorded.sizes.insert(format!("{step}/out"), 100.0);
    }
    let pass = CachePass {
        budget: Some(200.0),
        slots: 1,
        recorded,
        ..CachePass::default()
    };
    let plan = pass.plan(&wf).expect("plan");
    assert_eq!(plan.pass, "cache");
    let action = |s: &str| {
        plan.decisions
            .iter()
            .find(|d| d.subject == s)
            .map(|d| d.action.as_str())
            .unwrap()
    };
    assert_eq!(action("a/out"), "cache");
    assert_eq!(action("c/out"), "cache");
    assert_eq!(action("b/out"), "cache, evicted later");
    let b = plan
        .decisions
        .iter()
        .find(|d| d.subject == "b/out")
        .unwrap();
    assert!(
        b.reason.contains("2 s (recorded)") && b.reason.contains("100 bytes (recorded)"),
        "{}",
        b.reason
    );
    assert!(
        plan.summary.contains("2 hit(s) of 3 read(s)"),
        "{}",
        plan.summary
    );
    // Without records every figure is an estimate.
    let plan = CachePass::default().plan(&wf).unwrap();
    assert!(
        plan.decisions
            .iter()
            .all(|d| d.reason.contains("(estimated)"))
    );
    assert!(
        plan.summary.contains("cache unbounded: 3 hit(s)"),
        "{}",
        plan.summary
    );
}
