"""couler.zoo: the step zoo from the Pythonic API records `uses:` steps that compile to the same
IR as the spec format's, and checks arguments against the entries' types when called."""

import json

import pytest

import couler
from couler import _native, zoo

# The same workflow in the spec format (JSON is a spec format too: docs/spec.md §2).
SPEC = {
    "apiVersion": "couler.dev/v1alpha1",
    "kind": "Workflow",
    "name": "churn-py",
    "defaults": {"image": "python:3.12-slim"},  # what every Pythonic workflow sets
    "steps": [
        {"name": "read", "uses": "zoo/read-sql-table@1",
         "with": {"database": "/tmp/shop.db", "table": "customers"}},
        {"name": "split", "uses": "zoo/split@1",
         "with": {"data": "steps.read.outputs.artifacts.data", "label": "churned"}},
        {"name": "forest", "uses": "zoo/train-random-forest@1",
         "with": {"train": "steps.split.outputs.artifacts.train", "label": "churned", "n_estimators": 50}},
        {"name": "logreg", "uses": "zoo/train-logistic-regression@1",
         "with": {"train": "steps.split.outputs.artifacts.train", "label": "churned"}},
        {"name": "evaluate-forest", "uses": "zoo/evaluate@1",
         "with": {"model": "steps.forest.outputs.artifacts.model", "test": "steps.split.outputs.artifacts.test",
                  "label": "churned"}},
        {"name": "evaluate-logreg", "uses": "zoo/evaluate@1",
         "with": {"model": "steps.logreg.outputs.artifacts.model", "test": "steps.split.outputs.artifacts.test",
                  "label": "churned"}},
        {"name": "select", "uses": "zoo/select-best@1",
         "with": {"models": ["steps.forest.outputs.artifacts.model", "steps.logreg.outputs.artifacts.model"],
                  "scores": ["{{steps.evaluate-forest.outputs.parameters.score}}",
                             "{{steps.evaluate-logreg.outputs.parameters.score}}"]}},
    ],
}


def test_zoo_steps_compile_to_the_ir_of_the_spec_formats_uses():
    with couler.workflow("churn-py") as wf:
        read = zoo.read_sql_table(name="read", database="/tmp/shop.db", table="customers")
        parts = zoo.use("split", data=read.outputs.data, label="churned")
        forest = zoo.train_random_forest(name="forest", train=parts.outputs.train, label="churned",
                                         n_estimators=50)
        logreg = zoo.train_logistic_regression(name="logreg", train=parts.outputs.train, label="churned")
        scores = [zoo.evaluate(name="evaluate-" + m.name, model=m.outputs.model, test=parts.outputs.test,
                               label="churned").outputs.score for m in (forest, logreg)]
        zoo.select_best(name="select", models=[forest.outputs.model, logreg.outputs.model], scores=scores)
    want = _native.spec_yaml(json.dumps(SPEC))
    assert wf.spec_yaml() == want
    assert "N_ESTIMATORS: '50'" in want  # expanded: the value reaches the step through env


def test_arguments_are_checked_against_the_entry_when_called():
    with couler.workflow("bad"):
        with pytest.raises(TypeError, match="parameter `n_estimators` expects int, got 'many'"):
            zoo.train_random_forest(n_estimators="many")
        with pytest.raises(TypeError, match="unexpected keyword argument `seeed`; did you mean `seed`"):
            zoo.split(seeed=3)
        with pytest.raises(TypeError, match="input `data` takes an artifact"):
            zoo.split(data="data.csv")
        with pytest.raises(ValueError, match="unknown zoo entry `splt`; did you mean `split`"):
            zoo.use("splt")
        with pytest.raises(ValueError, match=r"has no version 9 \(available: 1\)"):
            zoo.use("split", version=9)
    with pytest.raises(AttributeError):
        zoo.no_such_entry


def test_entries_carry_their_typed_interface():
    rf = next(e for e in zoo.entries() if e["name"] == "train-random-forest")
    assert rf["category"] == "train"
    assert {p["name"]: p["type"] for p in rf["params"]}["n_estimators"] == "int"
    assert [o["name"] for o in rf["outputs"]["artifacts"]] == ["model"]
