"""The drop-in API's fast paths (docs/performance.md) record what the plain rules record."""

import subprocess
import sys

import pytest

import couler.argo as couler
from couler import _record


@pytest.fixture(autouse=True)
def clean():
    couler._cleanup()
    yield
    couler._cleanup()


@pytest.mark.parametrize("name, label", [
    ("s-1-2", "s-1-2"),  # already a label: returned as is
    ("flip_coin", "flip-coin"),
    ("a.b", "a-b"),
    ("ABC", "abc"),
    ("a--b", "a-b"),
    ("-a-", "a"),
    ("<lambda>", "lambda"),
    ("x" * 70, "x" * 63),
    ("a" * 62 + "-b", "a" * 62),
    ("", "step"),
    (5, "5"),
])
def test_safe_name_fast_path_keeps_the_rule(name, label):
    assert _record.safe_name(name) == label


def echo(msg):
    return couler.run_container(image="alpine:3.19", command=["echo", msg], step_name=msg)


def test_handing_the_spec_to_the_engine_leaves_the_recording_unchanged():
    # Sequence mode: the second step gains an edge, and every step the toleration, in the
    # spec only; the recorded dicts, handed over without a copy, must not gain them.
    couler.add_toleration(couler.Toleration("gpu", "NoSchedule", "Exists"))
    echo("a")
    echo("b")
    first = couler.workflow_yaml()
    recorded = _record.current().steps
    assert [("dependsOn" in s, "tolerations" in s) for s in recorded] == [(False, False)] * 2
    assert couler.workflow_yaml() == first
    steps = couler.workflow.spec()["steps"]
    assert steps[1]["dependsOn"] == [steps[0]["name"]]
    assert all(s["tolerations"][0]["key"] == "gpu" for s in steps)
    # The deep copy Workflow.spec() gives is the caller's to change.
    steps[0]["container"]["args"] = ["changed"]
    assert "args" not in recorded[0]["container"]


def test_a_dependency_list_changed_in_place_is_resolved_again():
    echo("a")
    echo("b")
    deps = ["a"]
    couler.set_dependencies(lambda: echo("c"), dependencies=deps)
    deps.append("b")
    couler.set_dependencies(lambda: echo("d"), dependencies=deps)
    couler.set_dependencies(lambda: echo("e"), dependencies=list(deps))
    couler.set_dependencies(lambda: echo("f"), dependencies="a && b.Succeeded")
    got = {s["name"]: s.get("dependsOn") for s in couler.workflow.spec()["steps"]}
    assert got["c"] == ["a"]
    assert got["d"] == got["e"] == got["f"] == ["a", "b"]


def test_the_pythonic_api_is_imported_on_first_use():
    program = (
        "import sys, couler.argo\n"
        "assert 'couler.dsl' not in sys.modules, 'couler.argo imported couler.dsl'\n"
        "import couler\n"
        "print(type(couler.workflow('w')).__module__, couler.Workflow.__module__,\n"
        "      couler.exit_handler.__module__, 'Task' in dir(couler))\n"
        "from couler import *\n"
        "print(step.__module__)\n"
    )
    out = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["couler._dsl_workflow", "couler._dsl_workflow", "couler.dsl",
                                  "True", "couler.dsl"]
