"""examples/python: the paper's Codes 1-7 and the Pythonic example, each run as a user runs it
(`python examples/python/FILE.py`, a real process) on the local runtime. The outcome is read
back from the run's state (SQLite under tmp_path): the spec that ran, and each step's status,
start and end times and outputs."""

import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "python"


class Run(object):
    """One example's run, read from its state database."""

    def __init__(self, state_dir, stdout):
        self.stdout = stdout
        db = sqlite3.connect(str(state_dir / "state.db"))
        ((spec, self.status),) = db.execute("SELECT spec, status FROM runs").fetchall()
        self.spec = json.loads(spec)
        self.steps = {}
        for node, status, start, end, outputs in db.execute(
            "SELECT node, status, started_at, finished_at, outputs FROM steps"
        ):
            self.steps[node] = {"status": status, "start": start, "end": end,
                                "outputs": json.loads(outputs) if outputs else {}}
        db.close()

    def node(self, prefix):
        """The one step (not map instance) whose name is ``prefix`` or ``prefix-LINE``."""
        found = [n for n in self.steps if re.fullmatch(re.escape(prefix) + r"(-\d+)?", n)]
        assert len(found) == 1, (prefix, sorted(self.steps))
        return found[0]

    def instances(self, name):
        return sorted(n for n in self.steps if n.startswith(name + "["))

    def result(self, node):
        return self.steps[node]["outputs"].get("result")

    def spec_step(self, node):
        return next(s for s in self.spec["steps"] if s["name"] == node)


def run_example(name, tmp_path, *args):
    state = tmp_path / "state"
    env = dict(os.environ, COULER_STATE_DIR=str(state))
    proc = subprocess.run([sys.executable, str(EXAMPLES / name)] + list(args), cwd=str(tmp_path),
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return Run(state, proc.stdout) if (state / "state.db").exists() else proc.stdout


def test_every_example_is_tested():
    tested = ["code1_workflow_dag.py", "code2_artifacts.py", "code3_coin_flip.py",
              "code4_diamond.py", "code5_recursion.py", "code6_model_search.py",
              "code7_automl.py", "pythonic.py"]
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == tested


def assert_diamond(run):
    a, b, c, d = (run.node(x) for x in "abcd")  # step names are DNS labels: A -> a
    assert run.status == "Succeeded"
    assert all(run.steps[n]["status"] == "Succeeded" for n in (a, b, c, d))
    assert [run.result(n) for n in (a, b, c, d)] == ["A", "B", "C", "D"]
    deps = {n: sorted(run.spec_step(n).get("dependsOn", [])) for n in (a, b, c, d)}
    assert deps == {a: [], b: [a], c: [a], d: sorted([b, c])}
    assert run.steps[b]["start"] >= run.steps[a]["end"]
    assert run.steps[d]["start"] >= max(run.steps[b]["end"], run.steps[c]["end"])


def test_code1_workflow_dag_runs(tmp_path):
    run = run_example("code1_workflow_dag.py", tmp_path)
    assert run.stdout.strip() == "Succeeded"
    assert_diamond(run)


def test_code4_diamond_runs(tmp_path):
    assert_diamond(run_example("code4_diamond.py", tmp_path))


def test_code2_artifacts_runs(tmp_path):
    run = run_example("code2_artifacts.py", tmp_path)
    step1, step2 = run.node("step1"), run.node("step2")
    assert run.status == "Succeeded"
    (param,) = run.spec_step(step1)["outputs"]["parameters"]
    assert run.steps[step1]["outputs"]["parameters"][param["name"]] == "hello world"
    assert run.result(step2) == "hello world"  # the consumer got the producer's message
    assert run.steps[step2]["start"] >= run.steps[step1]["end"]


def test_code3_coin_flip_runs(tmp_path):
    run = run_example("code3_coin_flip.py", tmp_path)
    flip, heads, tails = run.node("flip-coin"), run.node("heads"), run.node("tails")
    assert run.status == "Succeeded"
    side = run.result(flip)
    assert side in ("heads", "tails")
    taken, skipped = (heads, tails) if side == "heads" else (tails, heads)
    assert run.steps[taken]["status"] == "Succeeded"
    assert run.result(taken) == "it was %s" % ("headed" if side == "heads" else "tailed")
    assert run.steps[skipped]["status"] == "Skipped"


def test_code5_recursion_runs(tmp_path):
    run = run_example("code5_recursion.py", tmp_path)
    flip = run.node("flip-coin")
    assert run.status == "Succeeded"
    assert run.spec_step(flip)["repeat"]["while"] == 'steps.%s.outputs.result == "tails"' % flip
    assert run.result(flip) == "heads"  # the loop ran until the coin stopped showing tails


def test_code6_model_search_runs(tmp_path):
    run = run_example("code6_model_search.py", tmp_path)
    train, evaluate = run.node("train"), run.node("eval")
    assert run.status == "Succeeded"
    models = ["/models/wide-deep-bs%d" % b for b in (100, 200, 300, 400, 500)]
    assert [run.result(n) for n in run.instances(train)] == models
    assert run.spec_step(evaluate)["map"] == {"from": "steps.%s.outputs.result" % train}
    assert [run.result(n) for n in run.instances(evaluate)] == ["evaluating " + m for m in models]


def test_code6_model_search_records_tensorflow_jobs_for_argo(tmp_path):
    out = run_example("code6_model_search.py", tmp_path, "--tensorflow")
    manifest = json.loads(out)
    templates = {t["name"]: t for t in manifest["spec"]["templates"]}
    jobs = [t for t in templates.values()
            if "kind: TFJob" in t.get("resource", {}).get("manifest", "")]
    assert len(jobs) == 1
    assert "--batch_size={{inputs.parameters.item}}" in jobs[0]["resource"]["manifest"]
    tasks = [task for t in templates.values() for task in t.get("dag", {}).get("tasks", [])]
    assert sorted(len(t.get("withItems", [])) for t in tasks) == [5, 5]


def test_code7_automl_runs(tmp_path):
    run = run_example("code7_automl.py", tmp_path)
    xgb, lgbm = run.node("train-xgboost"), run.node("train-lgbm")
    assert run.status == "Succeeded"
    assert run.spec["groups"][0]["steps"] == [xgb, lgbm]
    for node in (xgb, lgbm):
        assert 0.6 < float(run.result(node)) <= 1.0
    # concurrent: neither waited for the other
    assert run.steps[xgb]["start"] < run.steps[lgbm]["end"]
    assert run.steps[lgbm]["start"] < run.steps[xgb]["end"]


def test_pythonic_runs(tmp_path):
    run = run_example("pythonic.py", tmp_path)
    assert run.status == "Succeeded"
    assert run.stdout.splitlines()[-1] == "workflow Succeeded"
    scores = json.loads(run.steps["train"]["outputs"]["parameters"]["return"])
    assert [s["threshold"] for s in scores] == [0.5, 1.0, 1.5]
    best = max(s["accuracy"] for s in scores)
    assert float(run.steps["pick-best"]["outputs"]["parameters"]["return"]) == best
    assert run.steps["publish"]["status"] == ("Succeeded" if best >= 0.7 else "Skipped")
    assert run.result("report") == "model search finished: Succeeded"


@pytest.mark.parametrize("target", ["argo", "airflow"])
def test_pythonic_compiles(tmp_path, target):
    out = run_example("pythonic.py", tmp_path, "--compile", target, str(tmp_path / "out"))
    names = out.split()
    assert names and all((tmp_path / "out" / n).is_file() for n in names)
