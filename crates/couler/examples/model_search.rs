//! Hyper-parameter search with `map` (paper Code 6); the builder form of
//! `examples/model-search.yaml`. Run with `cargo run -p couler --example model_search`.
//!
//! `train` fans out over five batch sizes, `evaluate` over the list of trained models, and
//! `pick-best` reads the list of evaluations.

use couler::{BuildError, Over, Workflow, WorkflowBuilder, concat, this};
use std::process::ExitCode;

/// Trains on seeded synthetic data; the model is written to the `model` output's path.
const TRAIN_HEAD: &str = r#"import json, math, os, random, sys

batch_size = int(os.environ["BATCH_SIZE"])
seed, epochs = int(os.environ["SEED"]), int(os.environ["EPOCHS"])

# The same seeded data for every instance: two Gaussian blobs in 4 dimensions.
rng = random.Random(seed)
data = [([rng.gauss(0.8 * y, 1.0) for _ in range(4)], y)
        for y in (rng.randint(0, 1) for _ in range(2000))]

def sigmoid(z):
    return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))

w, b, lr = [0.0] * 4, 0.0, 0.5
order = random.Random(seed + batch_size)
for epoch in range(epochs):
    order.shuffle(data)
    for start in range(0, len(data), batch_size):
        batch = data[start:start + batch_size]
        gw, gb = [0.0] * 4, 0.0
        for x, y in batch:
            err = sigmoid(sum(wi * xi for wi, xi in zip(w, x)) + b) - y
            gw = [g + err * xi for g, xi in zip(gw, x)]
            gb += err
        w = [wi - lr * g / len(batch) for wi, g in zip(w, gw)]
        b -= lr * gb / len(batch)

score = sum((sum(wi * xi for wi, xi in zip(w, x)) + b > 0) == bool(y) for x, y in data) / len(data)
print(f"batch size {batch_size}: {epochs} epochs, train accuracy {score:.4f}", file=sys.stderr)
with open(""#;
const TRAIN_TAIL: &str = r#"", "w") as f:
    json.dump({"batch_size": batch_size, "weights": [round(v, 6) for v in w],
               "bias": round(b, 6)}, f)
print(f"{score:.4f}")  # stdout is the `score` output parameter
"#;

/// Scores one model on held-out data; the result goes to the `evaluation` output's path.
const EVALUATE_HEAD: &str = r#"import json, os, random

model = json.loads(os.environ["MODEL"])
# Held-out data: the same distribution, a different seed.
rng = random.Random(int(os.environ["SEED"]) + 1000)
test = [([rng.gauss(0.8 * y, 1.0) for _ in range(4)], y)
        for y in (rng.randint(0, 1) for _ in range(1000))]
correct = sum((sum(w * x for w, x in zip(model["weights"], xs)) + model["bias"] > 0) == bool(y)
              for xs, y in test)
evaluation = {"batch_size": model["batch_size"], "accuracy": round(correct / len(test), 4)}
print(f"batch size {evaluation['batch_size']}: held-out accuracy {evaluation['accuracy']:.4f}")
with open(""#;
const EVALUATE_TAIL: &str = r#"", "w") as f:
    json.dump(evaluation, f)
"#;

const PICK_BEST: &str = r#"import json, os

# A JSON list with one evaluation per model. Each element is the evaluation object
# (or its JSON text, which is decoded the same way).
evaluations = [json.loads(e) if isinstance(e, str) else e
               for e in json.loads(os.environ["EVALUATIONS"])]
for e in sorted(evaluations, key=lambda e: e["batch_size"]):
    print(f"batch size {e['batch_size']:4d}  accuracy {e['accuracy']:.4f}")
best = max(evaluations, key=lambda e: (e["accuracy"], -e["batch_size"]))
print(f"best: batch size {best['batch_size']} (accuracy {best['accuracy']:.4f})")
"#;

pub fn workflow() -> Result<Workflow, BuildError> {
    let mut wf = WorkflowBuilder::new("model-search");
    wf.description("Map a training step over batch sizes, evaluate every model, keep the best.")
        .default_image("python:3.12-slim");
    let seed = wf.param("seed", 7);
    let epochs = wf.param("epochs", 3);

    let batch_sizes = Over::items([100, 200, 300, 400, 500]).parallelism(3);
    let train = wf.map(batch_sizes, |wf, batch_size| {
        let source = concat([
            TRAIN_HEAD.into(),
            this::output_parameter_path("model").into(),
            TRAIN_TAIL.into(),
        ]);
        wf.run_script("train", source)
            .env("BATCH_SIZE", batch_size)
            .env("SEED", seed.clone())
            .env("EPOCHS", epochs)
            // No path: the score is what the script prints.
            .output_parameter("score", None)
            .output_parameter("model", Some("model.json"))
            .add()
    });

    // One instance per trained model: a mapped step's output is the list of every instance's.
    let evaluate = wf.map(train.parameter("model"), |wf, model| {
        let source = concat([
            EVALUATE_HEAD.into(),
            this::output_parameter_path("evaluation").into(),
            EVALUATE_TAIL.into(),
        ]);
        wf.run_script("evaluate", source)
            .env("MODEL", model)
            .env("SEED", seed.clone())
            .output_parameter("evaluation", Some("evaluation.json"))
            .add()
    });

    wf.run_script("pick-best", PICK_BEST)
        .env("EVALUATIONS", evaluate.parameter("evaluation"))
        .add();
    wf.build()
}

fn main() -> ExitCode {
    couler::print_spec(workflow())
}
