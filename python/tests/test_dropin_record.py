"""The drop-in API records what the original SDK's programs describe (spec dicts checked)."""

import pytest

import couler.argo as couler
from couler import _record
from couler._engine import CoulerError, ValidationError


@pytest.fixture(autouse=True)
def clean():
    couler._cleanup()
    yield
    couler._cleanup()


def spec():
    return couler.workflow.spec()


def steps_by_name():
    return {s["name"]: s for s in spec()["steps"]}


def echo(msg):
    return couler.run_container(image="alpine:3.19", command=["echo", msg])


def test_step_named_after_calling_function_and_line():
    def train():
        return couler.run_container(image="alpine:3.19", command=["echo", "x"])

    line = _record.caller(0)[1] + 1
    train()
    assert [s["name"] for s in spec()["steps"]] == ["train-%d" % line]


def test_repeated_names_are_unique_and_sources_point_at_user_line():
    for _ in range(3):
        echo("a")
    names = [s["name"] for s in spec()["steps"]]
    assert len(set(names)) == 3 and names[1] == names[0] + "-2"
    file, line = couler.workflow.sources()["steps[0]"]
    assert file == __file__
    # the line of the run_container call inside echo()
    assert "run_container" in open(file).read().splitlines()[line - 1]


def test_sequence_mode_orders_steps_by_program_order():
    def a():
        return echo("a")

    def b():
        return echo("b")

    a()
    b()
    s = spec()["steps"]
    assert s[1]["dependsOn"] == [s[0]["name"]]


def test_reading_an_output_passes_a_reference_and_artifact():
    def produce():
        return couler.run_container(
            image="alpine:3.19", command=["sh", "-c", "echo hi > /tmp/out.txt"],
            output=[couler.create_parameter_artifact("/tmp/out.txt"),
                    couler.create_local_artifact("/tmp/model")])

    def consume(param, art):
        return couler.run_container(image="alpine:3.19", command=["cat", "/tmp/model"],
                                    args=[param, art])

    outs = produce()
    consume(outs[0], outs[1])
    producer, consumer = spec()["steps"]
    assert producer["outputs"]["parameters"][0]["path"] == "/tmp/out.txt"
    # an artifact argument is placed as an input, not passed as an argument (as the original)
    assert consumer["container"]["args"] == ["{{%s}}" % outs[0].value]
    art = consumer["inputs"]["artifacts"][0]
    assert art["from"] == "steps.%s.outputs.artifacts.%s" % (producer["name"], art["name"])
    assert art["path"] == "/tmp/model"
    # literal absolute paths become placeholders (the same path on Argo, private locally)
    assert consumer["container"]["command"][1] == "{{inputs.artifacts.%s.path}}" % art["name"]
    assert producer["container"]["command"][2] == (
        "echo hi > {{outputs.parameters.%s.path}}" % producer["outputs"]["parameters"][0]["name"])


def test_when_map_concurrent_while_exit_handler():
    def flip():
        return couler.run_script(image="python:3.12", source="print('heads')")

    r = flip()
    couler.when(couler.equal(r, "heads"), lambda: echo("h"))
    couler.map(lambda x: echo(x), ["1", "2"])
    couler.concurrent([lambda: echo("c1"), lambda: echo("c2")])
    couler.exec_while(couler.equal("tails"), flip)
    couler.set_exit_handler(couler.WFStatus.Failed, lambda: echo("bye"))
    s = spec()
    steps = s["steps"]
    assert steps[1]["when"] == 'steps.%s.outputs.result == "heads"' % steps[0]["name"]
    assert steps[2]["map"] == {"items": ["1", "2"]}
    assert steps[2]["container"]["command"] == ["echo", "{{item}}"]
    assert s["groups"][0]["steps"] == [steps[3]["name"], steps[4]["name"]]
    assert steps[5]["repeat"]["while"] == 'steps.%s.outputs.result == "tails"' % steps[5]["name"]
    assert s["onExit"][0]["when"] == 'workflow.status == "Failed"'


def test_map_over_several_lists_zips_them():
    couler.map(lambda a, b: echo("%s-%s" % (a, b)), [1, 2], ["x", "y"])
    step = spec()["steps"][0]
    assert step["map"]["items"] == [{"a0": 1, "a1": "x"}, {"a0": 2, "a1": "y"}]
    assert step["container"]["command"] == ["echo", "{{item.a0}}-{{item.a1}}"]


def test_dag_paths_and_set_dependencies():
    def job(name):
        return couler.run_container(image="alpine:3.19", command=["echo", name], step_name=name)

    couler.dag([[lambda: job("A")], [lambda: job("A"), lambda: job("B")],
                [lambda: job("A"), lambda: job("C")], [lambda: job("B"), lambda: job("D")],
                [lambda: job("C"), lambda: job("D")]])
    s = steps_by_name()
    assert sorted(s) == ["a", "b", "c", "d"]
    assert s["b"]["dependsOn"] == ["a"] and sorted(s["d"]["dependsOn"]) == ["b", "c"]
    couler.set_dependencies(lambda: job("E"), dependencies=["D"])
    assert steps_by_name()["e"]["dependsOn"] == ["d"]


def test_policies_map_to_spec_fields():
    secret = couler.create_secret({"TOKEN": "abc"})
    couler.create_workflow_volume(couler.VolumeClaimTemplate("work", ["ReadWriteOnce"], "1Gi"))
    couler.add_toleration(couler.Toleration("gpu", "NoSchedule", "Exists"))
    couler.config_workflow(name="pol", time_to_clean=60, service_account="sa",
                           cron_config={"schedule": "1 0 * * *"})
    couler.run_container(
        image="alpine:3.19", command="env", secret=secret, resources={"cpu": "1", "memory": "1Gi"},
        retry=2, timeout=30, node_selector={"disk": "ssd"},
        volume_mounts=[couler.VolumeMount("work", "/work")], cache=couler.Cache(max_age="1h"),
        env={"A": 1, "B": False})
    s = spec()
    step = s["steps"][0]
    assert step["secrets"] == [{"env": "TOKEN", "secret": secret, "key": "TOKEN"}]
    assert step["resources"]["limits"] == {"cpu": "1", "memory": "1Gi"}
    assert step["retry"] == {"limit": 2, "on": "always"} and step["timeout"] == 30
    assert step["tolerations"] == [{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}]
    assert step["cache"] == {"enabled": True, "maxAge": "1h"} and step["env"] == {"A": "1", "B": "False"}
    assert s["name"] == "pol" and s["serviceAccount"] == "sa" and s["ttl"]["afterCompletion"] == 60
    assert s["schedule"]["cron"] == "1 0 * * *"
    assert s["volumeClaims"][0]["name"] == "work"
    couler.validate_workflow_yaml()


def test_unsupported_features_are_refused_by_name():
    with pytest.raises(CoulerError, match="image_pull_policy"):
        couler.run_container(image="a", image_pull_policy=couler.ImagePullPolicy.Always)
    with pytest.raises(CoulerError, match="env_from"):
        couler.run_container(image="a", env_from=[{"configMapRef": {"name": "x"}}])
    with pytest.raises(CoulerError, match="global output"):
        couler.run_container(image="a", output=couler.create_parameter_artifact("/a", True))
    with pytest.raises(CoulerError, match="DNS"):
        couler.set_dns("None", None)


def test_bad_arguments_raise_type_errors_naming_them():
    with pytest.raises(TypeError, match="`image`"):
        couler.run_container(image=3)
    with pytest.raises(TypeError, match="`env`"):
        couler.run_container(image="a", env=["A=1"])
    with pytest.raises(TypeError, match="did you mean `memory`"):
        couler.run_container(image="a", resources={"memroy": "1Gi"})
    with pytest.raises(TypeError, match="`comand`.*did you mean `command`"):
        couler.run_container(image="a", comand=["x"])


def test_dependency_cycle_is_an_error_naming_it():
    def job(name):
        return couler.run_container(image="alpine:3.19", command=["echo"], step_name=name)

    couler.dag([[lambda: job("A"), lambda: job("B"), lambda: job("A")]])
    with pytest.raises(ValidationError, match="cycle") as e:
        couler.workflow_yaml()
    assert "a → b → a" in str(e.value) or "b → a → b" in str(e.value)


def test_workflow_context_manager_records_a_fresh_workflow():
    echo("outer")
    with couler.workflow("inner-wf") as wf:
        echo("inner")
        assert couler.workflow.name == "inner-wf"
        assert len(wf.spec()["steps"]) == 1
    assert len(spec()["steps"]) == 1
    assert spec()["steps"][0]["container"]["command"] == ["echo", "outer"]


def test_set_dependencies_hands_upstream_outputs_over_as_the_original():
    def producer():
        return couler.run_container(
            image="alpine:3.19", command=["sh", "-c", "echo 1 > /tmp/p.txt; echo 2 > /tmp/a"],
            output=[couler.create_parameter_artifact("/tmp/p.txt"),
                    couler.create_local_artifact("/tmp/a")], step_name="A")

    def consumer():
        return couler.run_container(image="alpine:3.19",
                                    command=["echo", "{{inputs.parameters.para-B-1}}"],
                                    args=["x"], step_name="B")

    couler.set_dependencies(producer)
    couler.set_dependencies(consumer, dependencies=["A"])
    s = steps_by_name()
    b = s["b"]
    param = "steps.a.outputs.parameters.%s" % s["a"]["outputs"]["parameters"][0]["name"]
    assert b["dependsOn"] == ["a"]
    assert b["container"]["args"] == ["x", "{{%s}}" % param]
    assert b["inputs"]["parameters"] == [{"name": "para-B-0", "value": "x"},
                                         {"name": "para-B-1", "value": "{{%s}}" % param}]
    assert b["inputs"]["artifacts"][0]["from"].startswith("steps.a.outputs.artifacts.")
    couler.validate_workflow_yaml()


def test_script_arguments_join_the_interpreter_command():
    couler.run_script(image="bash", command=["bash", "-c"], args=["echo hi"], source="unused")
    assert spec()["steps"][0]["script"]["command"] == ["bash", "-c", "echo hi"]
    with pytest.raises(CoulerError, match="script step"):
        out = couler.run_script(image="python", source="print(1)")
        couler.run_script(image="python", source="print(2)", args=[out[0]])
