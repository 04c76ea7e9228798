"""Programs written for the original SDK run on the local runtime (real processes)."""

import os

import pytest

import couler.argo as couler
from couler._engine import ValidationError


@pytest.fixture(autouse=True)
def clean():
    couler._cleanup()
    yield
    couler._cleanup()


def run(tmp_path):
    return couler.run(submitter=couler.LocalSubmitter(state_dir=str(tmp_path / "state")))


def test_coin_flip_runs_the_branch_the_coin_chose(tmp_path):
    def flip_coin():
        return couler.run_script(
            image="python:3.12", source="import random\nprint(random.choice(['heads', 'tails']))")

    def heads():
        return couler.run_container(image="alpine:3.19", command=["echo", "it was heads"])

    def tails():
        return couler.run_container(image="alpine:3.19", command=["echo", "it was tails"])

    result = flip_coin()
    couler.when(couler.equal(result, "heads"), lambda: heads())
    couler.when(couler.equal(result, "tails"), lambda: tails())
    res = run(tmp_path)
    assert res.status == "Succeeded"
    side = [s for n, s in res.steps.items() if n.startswith("flip-coin")][0].result
    assert side in ("heads", "tails")
    ran = {n.split("-")[0]: s.status for n, s in res.steps.items()}
    assert ran[side] == "Succeeded"
    assert ran["tails" if side == "heads" else "heads"] == "Skipped"


def test_output_parameter_feeds_the_next_step(tmp_path):
    def produce():
        return couler.run_container(
            image="alpine:3.19",
            command=["sh", "-c", "printf 42 > /tmp/answer.txt"],
            output=couler.create_parameter_artifact("/tmp/answer.txt"))

    def consume(value):
        return couler.run_container(image="alpine:3.19", command=["echo"], args=["got", value])

    consume(produce()[0])
    res = run(tmp_path)
    assert res.status == "Succeeded"
    results = sorted((s.result or "") for s in res.steps.values())
    assert "got 42" in results


def test_map_runs_once_per_item_and_exit_handler_sees_status(tmp_path):
    marker = tmp_path / "exit.txt"

    def square(n):
        return couler.run_script(image="python:3.12", source="print(%s ** 2)" % n)

    def fail():
        return couler.run_container(image="alpine:3.19", command=["sh", "-c", "exit 3"])

    def notify():
        return couler.run_container(
            image="alpine:3.19", command=["sh", "-c", "echo failed > %s" % marker])

    couler.map(lambda n: couler.run_container(image="alpine:3.19", command=["echo", n]),
               ["a", "b", "c"])
    fail()
    couler.set_exit_handler(couler.WFStatus.Failed, notify)
    res = run(tmp_path)
    assert res.status == "Failed"
    mapped = [s for n, s in res.steps.items() if s.result and s.result.startswith("[")]
    assert mapped and mapped[0].result == '["a","b","c"]'
    assert marker.read_text().strip() == "failed"


def test_exec_while_repeats_until_the_condition_fails(tmp_path):
    counter = tmp_path / "count"
    counter.write_text("0")

    def bump():
        return couler.run_script(image="python:3.12", source=(
            "p = %r\nn = int(open(p).read()) + 1\nopen(p, 'w').write(str(n))\n"
            "print('again' if n < 3 else 'done')" % str(counter)))

    couler.exec_while(couler.equal("again"), bump)
    res = run(tmp_path)
    assert res.status == "Succeeded"
    assert counter.read_text() == "3"


def test_dag_order_is_respected(tmp_path):
    log = tmp_path / "order.log"

    def job(name):
        return couler.run_container(image="alpine:3.19",
                                    command=["sh", "-c", "echo %s >> %s" % (name, log)],
                                    step_name=name)

    couler.dag([[lambda: job("A")], [lambda: job("A"), lambda: job("B")],
                [lambda: job("B"), lambda: job("C")]])
    res = run(tmp_path)
    assert res.status == "Succeeded"
    assert log.read_text().split() == ["A", "B", "C"]


def test_script_source_from_a_function_runs(tmp_path):
    def body():
        import sys
        print("python", sys.version_info[0])

    couler.run_script(image="python:3.12", source=body)
    res = run(tmp_path)
    assert res.status == "Succeeded"
    assert list(res.steps.values())[0].result == "python 3"


def test_validation_error_points_at_the_users_line(tmp_path):
    def bad():
        return couler.run_container(image="alpine:3.19", command=["echo"],
                                    env={"bad-name": "x"})

    bad()
    with pytest.raises(ValidationError) as e:
        run(tmp_path)
    diag = e.value.diagnostics[0]
    assert diag.source is not None and diag.source[0] == __file__
    line = open(__file__).read().splitlines()[diag.source[1] - 1]
    assert "run_container" in line


def test_compile_writes_each_engines_files(tmp_path):
    couler.run_container(image="alpine:3.19", command=["echo", "hi"])
    for target in ("argo", "airflow", "tekton"):
        out = tmp_path / target
        files = couler.compile(target=target, output_dir=str(out))
        assert files and sorted(os.listdir(str(out))) == sorted(files)
    spec_text = couler.workflow_spec()
    assert "apiVersion: couler.dev/v1alpha1" in spec_text or '"couler.dev/v1alpha1"' in spec_text
    manifest = couler.workflow_yaml()
    assert manifest["kind"] == "Workflow"


def test_artifact_handed_over_by_set_dependencies_reaches_the_consumer(tmp_path):
    def producer():
        art = couler.create_local_artifact("/mnt/model.txt")
        return couler.run_container(image="alpine:3.19", command=["sh", "-c"],
                                    args="printf trained > /mnt/model.txt", output=art,
                                    step_name="train")

    def consumer():
        return couler.run_container(image="alpine:3.19", command=["cat", "/mnt/model.txt"],
                                    step_name="serve")

    couler.set_dependencies(producer)
    couler.set_dependencies(consumer, dependencies=["train"])
    res = run(tmp_path)
    assert res.status == "Succeeded"
    assert res.steps["serve"].result == "trained"


def test_concurrent_steps_all_run_before_the_next_stage(tmp_path):
    log = tmp_path / "log"

    def write(word):
        return couler.run_container(image="alpine:3.19",
                                    command=["sh", "-c", "echo %s >> %s" % (word, log)])

    couler.concurrent([lambda: write("a"), lambda: write("b")])
    write("after")
    res = run(tmp_path)
    assert res.status == "Succeeded"
    lines = log.read_text().split()
    assert sorted(lines[:2]) == ["a", "b"] and lines[2] == "after"
