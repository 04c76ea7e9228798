//! AutoML-style model selection with `concurrent` (paper Code 7); the builder form of
//! `examples/automl.yaml`. Run with `cargo run -p couler --example automl`.
//!
//! Two boosting candidates train at the same time as the group `train-candidates`; `select`
//! waits for the whole group and keeps the more accurate one.

use couler::{BuildError, Param, Template, Workflow, WorkflowBuilder, concat, this};
use std::process::ExitCode;
use std::time::Duration;

/// Stand-in for XGBoost: boosted stumps with exact (sorted) split search.
const XGBOOST_HEAD: &str = r#"import math, os, random

rng = random.Random(int(os.environ["SEED"]))
def sample():
    x = [rng.uniform(-2, 2) for _ in range(4)]
    return x, int(x[0] + x[1] ** 2 - 1 + rng.gauss(0, 0.3) > 0)
train = [sample() for _ in range(800)]
valid = [sample() for _ in range(400)]

def best_stump(residuals):
    best = None
    for j in range(4):
        pts = sorted((x[j], r) for (x, _), r in zip(train, residuals))
        total, left_sum = sum(r for _, r in pts), 0.0
        for i in range(1, len(pts)):
            left_sum += pts[i - 1][1]
            if pts[i][0] == pts[i - 1][0]:
                continue
            right_sum = total - left_sum
            gain = left_sum ** 2 / i + right_sum ** 2 / (len(pts) - i)
            if best is None or gain > best[0]:
                thr = (pts[i][0] + pts[i - 1][0]) / 2
                best = (gain, j, thr, left_sum / i, right_sum / (len(pts) - i))
    return best[1:]

stumps, lr = [], 0.3
def margin(x):
    return sum(lr * (lv if x[j] <= t else rv) for j, t, lv, rv in stumps)
for _ in range(int(os.environ["ROUNDS"])):
    residuals = [y - 1 / (1 + math.exp(-margin(x))) for x, y in train]
    stumps.append(best_stump(residuals))

accuracy = sum((margin(x) > 0) == bool(y) for x, y in valid) / len(valid)
with open(""#;
const XGBOOST_TAIL: &str = r#"", "w") as f:
    f.write(f"{accuracy:.4f}")
print(f"xgboost stand-in: {len(stumps)} stumps, validation accuracy {accuracy:.4f}")
"#;

/// Stand-in for LightGBM: boosted stumps with split search over 16-bin feature histograms.
const LIGHTGBM_HEAD: &str = r#"import math, os, random

rng = random.Random(int(os.environ["SEED"]))
def sample():
    x = [rng.uniform(-2, 2) for _ in range(4)]
    return x, int(x[0] + x[1] ** 2 - 1 + rng.gauss(0, 0.3) > 0)
train = [sample() for _ in range(800)]
valid = [sample() for _ in range(400)]

BINS = 16
edges = []
for j in range(4):
    col = sorted(x[j] for x, _ in train)
    edges.append([col[len(col) * b // BINS] for b in range(1, BINS)])
def bin_of(v, j):
    return sum(v > e for e in edges[j])
binned = [[bin_of(x[j], j) for j in range(4)] for x, _ in train]

def best_stump(residuals):
    best = None
    for j in range(4):
        sums, counts = [0.0] * BINS, [0] * BINS
        for b, r in zip(binned, residuals):
            sums[b[j]] += r
            counts[b[j]] += 1
        total, n = sum(sums), len(residuals)
        left_sum = left_n = 0
        for b in range(BINS - 1):
            left_sum += sums[b]
            left_n += counts[b]
            if left_n in (0, n):
                continue
            gain = left_sum ** 2 / left_n + (total - left_sum) ** 2 / (n - left_n)
            if best is None or gain > best[0]:
                best = (gain, j, edges[j][b], left_sum / left_n, (total - left_sum) / (n - left_n))
    return best[1:]

stumps, lr = [], 0.3
def margin(x):
    return sum(lr * (lv if x[j] <= t else rv) for j, t, lv, rv in stumps)
for _ in range(int(os.environ["ROUNDS"])):
    residuals = [y - 1 / (1 + math.exp(-margin(x))) for x, y in train]
    stumps.append(best_stump(residuals))

accuracy = sum((margin(x) > 0) == bool(y) for x, y in valid) / len(valid)
with open(""#;
const LIGHTGBM_TAIL: &str = r#"", "w") as f:
    f.write(f"{accuracy:.4f}")
print(f"lightgbm stand-in: {len(stumps)} stumps, validation accuracy {accuracy:.4f}")
"#;

const SELECT_HEAD: &str = r#"import os

scores = {"xgboost": float(os.environ["XGBOOST_SCORE"]),
          "lightgbm": float(os.environ["LIGHTGBM_SCORE"])}
for name, score in scores.items():
    print(f"{name:9s} {score:.4f}")
best = max(scores, key=scores.get)
print(f"selected: {best}")
with open(""#;
const SELECT_TAIL: &str = r#"", "w") as f:
    f.write(best)
"#;

/// A script source from its two halves around the path of output parameter `output` (the spec's
/// `{{outputs.parameters.NAME.path}}`): the engine picks that path, so it goes in as a reference.
fn writing(head: &str, output: &str, tail: &str) -> Template {
    concat([
        head.into(),
        this::output_parameter_path(output).into(),
        tail.into(),
    ])
}

pub fn workflow() -> Result<Workflow, BuildError> {
    let mut wf = WorkflowBuilder::new("automl");
    wf.description("Two boosting candidates trained concurrently; select keeps the more accurate.")
        .default_image("python:3.12-slim")
        .default_timeout(Duration::from_secs(5 * 60));
    let seed = wf.param("seed", 3);
    let rounds = wf.param(
        "rounds",
        Param::new(30).description("Boosting rounds for each candidate."),
    );

    let candidate = |wf: &mut WorkflowBuilder, name: &str, about: &str, source: Template| {
        wf.run_script(name, source)
            .description(about)
            .env("SEED", seed.clone())
            .env("ROUNDS", rounds.clone())
            .output_parameter("score", Some("score.txt"))
            .add()
    };
    let (xgboost, lightgbm) = wf.concurrent("train-candidates", |wf| {
        (
            candidate(
                wf,
                "train-xgboost",
                "Stand-in for XGBoost; boosted stumps with exact (sorted) split search.",
                writing(XGBOOST_HEAD, "score", XGBOOST_TAIL),
            ),
            candidate(
                wf,
                "train-lightgbm",
                "Stand-in for LightGBM; boosted stumps with split search over 16-bin feature histograms.",
                writing(LIGHTGBM_HEAD, "score", LIGHTGBM_TAIL),
            ),
        )
    });

    wf.run_script("select", writing(SELECT_HEAD, "best", SELECT_TAIL))
        .description("Keep the candidate with the higher validation accuracy.")
        // Waits for every member of the group (it also reads both scores).
        .depends_on("train-candidates")
        .env("XGBOOST_SCORE", xgboost.parameter("score"))
        .env("LIGHTGBM_SCORE", lightgbm.parameter("score"))
        .output_parameter("best", Some("best.txt"))
        .add();
    wf.build()
}

fn main() -> ExitCode {
    couler::print_spec(workflow())
}
