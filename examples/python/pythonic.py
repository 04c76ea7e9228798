"""The Pythonic API: a small model search written as typed Python functions.

    make-data ──► train ×3 (for_each) ──► pick-best ──► publish (if good enough)
                                                         exit handler: report

Each `@couler.step` function runs in its own process (its source is shipped as a script step),
so it imports what it needs inside its body. Annotations type the step: `int`/`float`/`str`/
`list` parameters and returns are typed values, `couler.Output[Path]` is a file the step
writes and `couler.Input[Path]` a file another step wrote. Passing a step's output to another
step makes the dependency. Pure standard library, so it runs anywhere on the local runtime:

    python examples/python/pythonic.py              # run it; prints each step's outcome
    python examples/python/pythonic.py --spec       # print the Couler spec instead
    python examples/python/pythonic.py --compile argo out/   # write Argo YAML
"""

import sys
from pathlib import Path

import couler


@couler.step
def make_data(rows: int, seed: int, data: couler.Output[Path]) -> int:
    """Two noisy clusters on a line, as CSV."""
    import random

    rng = random.Random(seed)
    lines = []
    for _ in range(rows):
        label = rng.randint(0, 1)
        lines.append("%.4f,%d" % (rng.gauss(2.0 * label, 1.0), label))
    data.write_text("\n".join(lines) + "\n")
    return rows


@couler.step(retry=1, resources={"cpu": "500m", "memory": "256Mi"})
def train(data: couler.Input[Path], threshold: float) -> dict:
    """A one-feature threshold classifier; returns its accuracy."""
    rows = [line.split(",") for line in data.read_text().split()]
    correct = sum((float(x) > threshold) == (y == "1") for x, y in rows)
    return {"threshold": threshold, "accuracy": round(correct / len(rows), 4)}


@couler.step
def pick_best(scores: list) -> float:
    import json

    scores = [json.loads(s) if isinstance(s, str) else s for s in scores]
    best = max(scores, key=lambda s: s["accuracy"])
    print("best threshold %s: accuracy %s" % (best["threshold"], best["accuracy"]))
    return best["accuracy"]


@couler.step
def publish(accuracy: float):
    print("publishing a model with accuracy %.4f" % accuracy)


@couler.step
def report(status: str):
    print("model search finished: %s" % status)


with couler.workflow("pythonic-search", params={"rows": 400, "min_accuracy": 0.7}) as wf:
    data = make_data(rows=wf.params.rows, seed=7)
    with couler.for_each([0.5, 1.0, 1.5]) as threshold:
        scores = train(data=data.outputs.data, threshold=threshold)
    best = pick_best(scores=scores)
    with couler.condition(best.output >= wf.params.min_accuracy):
        publish(accuracy=best)
    with couler.exit_handler():
        report(status=wf.status)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--spec"]:
        print(wf.spec_yaml(), end="")
    elif sys.argv[1:2] == ["--compile"]:
        for name in sorted(wf.compile(sys.argv[2], sys.argv[3])):
            print(name)
    else:
        result = wf.run()
        for name, outcome in sorted(result.steps.items()):
            print(name, outcome.status)
        print("workflow", result.status)
        sys.exit(0 if result.status == "Succeeded" else 1)
