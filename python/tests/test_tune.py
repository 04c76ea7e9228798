"""Tuned steps in the Pythonic API (``StepFunction.tune``, ``couler.search``): the spec's
``tune`` block they record, a study run in rounds on the local runtime through the native
proposer (no couler command installed), and the errors of a study that cannot run."""

import json
import sys

import pytest

import couler
from couler._engine import CompileError, ValidationError
from standin import StandIn


@couler.step
def fit(x: float, kind: str, epochs: int = 9) -> float:
    # Best at x = 3 with kind "b"; more epochs are better.
    return -(x - 3) ** 2 - (0.0 if kind == "b" else 1.0) - 1.0 / epochs


@couler.step
def report(x: float, score: float) -> str:
    return "%.4f %.4f" % (x, score)


def _study(method="tpe", schedule=None, **search):
    search = search or {"x": couler.search.real(0, 10), "kind": couler.search.choice(["a", "b"])}
    with couler.workflow("tuned") as wf:
        study = fit.tune(budget=12, parallelism=4, method=method, seed=2,
                         schedule=schedule)(**search)
        report(x=study.best.x, score=study.best_objective)
    return wf, study


def test_the_tune_block_names_the_domains_the_objective_and_the_study():
    wf, study = _study()
    step = wf.spec()["steps"][0]
    assert step["tune"] == {
        "objective": {"parameter": "return", "goal": "maximize"},
        "budget": 12, "parallelism": 4, "method": "tpe", "seed": 2,
        "space": [{"name": "x", "type": "float", "low": 0, "high": 10},
                  {"name": "kind", "type": "categorical", "choices": ["a", "b"]}],
    }
    assert step["inputs"]["parameters"] == [{"name": "x"}, {"name": "kind"}]
    assert step["env"]["COULER_ARG_x"] == "{{inputs.parameters.x}}"
    assert str(study.best.x) == "{{steps.fit.outputs.parameters.best_x}}"
    assert study.best_objective.type == "float"
    with pytest.raises(AttributeError, match="did you mean `kind`"):
        study.best.kinds


def test_a_tpe_study_runs_in_rounds_here_and_publishes_the_arg_best(tmp_path):
    wf, study = _study()
    result = wf.run(state_dir=str(tmp_path / "state"))
    assert result.status == "Succeeded", result.message
    rounds = [n for n in result.steps if n.startswith("fit-trials-") and "[" not in n]
    assert len(rounds) == 3, sorted(result.steps)
    assert result.steps["fit-propose-2"].status == "Succeeded"
    trials = json.loads(result.steps["fit"].result)
    assert len(trials) == 12
    best = max(range(12), key=lambda i: (trials[i]["objective"], -i))
    published = result.steps["fit"].parameters
    assert int(published["best_trial"]) == best
    assert float(published["best_x"]) == trials[best]["x"]
    assert published["best_kind"] == trials[best]["kind"]
    # The round after the first is what its proposer printed, and it ran.
    proposed = json.loads(result.steps["fit-propose-1"].result)
    assert [dict(t, objective=None) for t in trials[4:8]] == \
        [dict(p, objective=None) for p in proposed]
    shown = result.steps[[n for n in result.steps if n.startswith("report")][0]]
    assert shown.parameters["return"] == "%.4f %.4f" % (trials[best]["x"],
                                                     trials[best]["objective"])


def test_hyperband_varies_the_fidelity_argument_and_compiles_with_its_proposers():
    wf, _ = _study("hyperband", x=couler.search.real(0, 10), kind="b",
                   epochs=couler.search.fidelity(1, 9))
    step = wf.spec()["steps"][0]
    assert step["tune"]["fidelity"] == {"name": "epochs", "min": 1, "max": 9}
    files = wf.compile("argo")
    text = "\n".join(files.values()) if isinstance(files, dict) else str(files)
    # Compiled for an engine, the proposers run `couler tune propose` in the couler image,
    # not this Python.
    assert "fit-propose-1" in text and "ghcr.io/couler-dev/couler:" in text
    assert sys.executable not in text


def test_a_study_that_cannot_run_is_refused_with_the_reason():
    with pytest.raises(TypeError, match="does not fit"):
        _study(x=couler.search.choice(["1", "2"]), kind="a")
    with pytest.raises(TypeError, match="at least one argument"):
        _study(x=1.0, kind="a")
    with pytest.raises(ValueError, match="below high"):
        couler.search.real(2, 1)
    with pytest.raises(ValueError, match='"maximize" or "minimize"'):
        fit.tune(budget=4, goal="max")
    with pytest.raises(ValueError, match='"rounds", "asynchronous" or None'):
        fit.tune(budget=4, schedule="async")
    wf, _ = _study("asha", "rounds", x=couler.search.real(0, 10), kind="b",
                   epochs=couler.search.fidelity(1, 9))
    with pytest.raises(ValidationError, match="`asha` promotes as results arrive"):
        wf.validate()


def test_an_asha_study_runs_as_results_arrive_here_and_engines_refuse_it(tmp_path):
    wf, study = _study("asha", x=couler.search.real(0, 10), kind="b",
                       epochs=couler.search.fidelity(1, 9))
    assert "schedule" not in wf.spec()["steps"][0]["tune"]
    result = wf.run(state_dir=str(tmp_path / "state"))
    assert result.status == "Succeeded", result.message
    # No rounds and no proposers: each trial is a node of its own, started as a worker freed.
    assert not [n for n in result.steps if "-propose-" in n or n.startswith("fit-trials-")]
    trials = json.loads(result.steps["fit"].result)
    assert [n for n in result.steps if n.startswith("fit-trials[")] == \
        ["fit-trials[%d]" % k for k in range(len(trials))]
    top = max(t["epochs"] for t in trials)
    assert top == 9 and min(t["epochs"] for t in trials) == 1, trials
    best = max((i for i in range(len(trials)) if trials[i]["epochs"] == top),
               key=lambda i: (trials[i]["objective"], -i))
    published = result.steps["fit"].parameters
    assert int(published["best_trial"]) == best
    assert float(published["best_x"]) == trials[best]["x"]
    with pytest.raises(CompileError, match="schedule: rounds"):
        wf.compile("argo")


def _predictions(order):
    # Predicted final scores (higher is better here) of candidates 1..8, best first in `order`.
    score = {c: 100 - i for i, c in enumerate(order)}
    return json.dumps({"predictions": [{"candidate": c, "log": [0, 0, score.get(c, 0)]}
                                       for c in range(1, 9)]})


def test_an_llm_study_asks_the_endpoint_once_a_round_here(tmp_path):
    endpoint = StandIn([_predictions([5, 2, 7, 1]), _predictions([8, 3, 4, 6])])
    llm = {"model": "stand-in", "endpoint": endpoint.url,
           "dataCard": {"name": "toy", "inputType": "tabular", "labelSpace": "real value",
                        "metrics": ["score"]},
           "modelCard": {"name": "parabola", "structure": "a formula",
                         "description": "best near one x"}}
    with couler.workflow("llm-study") as wf:
        study = fit.tune(budget=8, parallelism=4, method="llm", seed=2, llm=llm)(
            x=couler.search.real(0, 10), kind="b")
        report(x=study.best.x, score=study.best_objective)
    assert wf.spec()["steps"][0]["tune"]["llm"] == llm
    result = wf.run(state_dir=str(tmp_path / "state"))
    assert result.status == "Succeeded", result.message
    questions = [body["messages"][-1]["content"] for _, _, body in endpoint.requests]
    endpoint.close()
    assert len(questions) == 2, "one question a round"
    assert "Data Card" in questions[0]
    assert "Measured so far (score)" in questions[1]
    # Round 0 ran the four candidates predicted best, in that order.
    lines = [line for line in questions[0].splitlines() if ". x=" in line]
    xs = {int(line.split(".")[0]): float(line.split("x=")[1]) for line in lines}
    proposed = json.loads(result.steps["fit-propose-0"].result)
    assert len(proposed) == 4
    for p, c in zip(proposed, (5, 2, 7, 1)):
        assert abs(p["x"] - xs[c]) < 0.01, (proposed, xs)
    assert json.loads(result.steps["fit-propose-1"].parameters["answers"]) == \
        [_predictions([8, 3, 4, 6])]
    with pytest.raises(TypeError, match="llm must be a dict"):
        fit.tune(budget=4, method="llm", llm="gpt-4o")
