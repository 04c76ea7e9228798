"""The Pythonic API (couler.dsl): typed step functions, references, control flow, errors, and
running and compiling what they record. Workflows run for real on the local runtime (host
processes, SQLite state under tmp_path)."""

import json
import py_compile
import sys
from pathlib import Path

import pytest

from couler import _engine, _record, dsl

# ---- step functions shared by the tests (module level: their source is shipped) ----------


@dsl.step
def add(a: int, b: int) -> int:
    return a + b


@dsl.step(retry=2, timeout="1m", resources={"cpu": "250m"}, cache=False)
def double(x: int) -> int:
    return 2 * x


@dsl.step
def describe(i: int, f: float, b: bool, s: str, items: list, table: dict) -> dict:
    return {"types": [type(v).__name__ for v in (i, f, b, s, items, table)],
            "values": [i, f, b, s, items, table]}


@dsl.step
def echo(text: str) -> str:
    return text


@dsl.step
def write_lines(n: int, data: dsl.Output[Path]):
    data.write_text("".join("line %d\n" % i for i in range(n)))


@dsl.step
def count_lines(data: dsl.Input[Path]) -> int:
    return len(data.read_text().splitlines())


@dsl.step
def constant(value: str) -> str:
    return value


@dsl.step
def square(x: int) -> int:
    return x * x


@dsl.step
def total(values: list) -> int:
    return sum(int(v) for v in values)


@dsl.step
def fail():
    raise SystemExit(3)


@dsl.step
def lies() -> int:  # deliberately wrong: the step must fail
    return "not a number"  # type: ignore[return-value]


def run(wf, tmp_path, **kw):
    return wf.run(state_dir=str(tmp_path / "state"), **kw)


def value(result, task):
    return result.steps[task.name].parameters["return"]


# ---- typed parameters and returns ----------------------------------------------------------


def test_typed_values_reach_the_function_with_their_python_types(tmp_path):
    with dsl.workflow("types") as wf:
        d = describe(i=7, f=0.5, b=True, s='it\'s "quoted"\nand {{braced}}', items=[1, "two"],
                     table={"k": [1.5]})
    result = run(wf, tmp_path)
    assert result.status == "Succeeded"
    got = json.loads(value(result, d))
    assert got["types"] == ["int", "float", "bool", "str", "list", "dict"]
    assert got["values"] == [7, 0.5, True, 'it\'s "quoted"\nand {{braced}}', [1, "two"],
                             {"k": [1.5]}]


def test_a_placeholder_lookalike_string_arrives_byte_for_byte(tmp_path):
    hostile = ("{{params.x}} {{ steps.a.outputs.result }} $HOME `id` 'q' \"dq\" \\ "
               "\u00e9\U0001F600\n\n")
    with dsl.workflow("hostile") as wf:
        e = echo(text=hostile)
    spec = wf.spec()
    assert "COULER_ARGB64_text" in spec["steps"][0]["env"]  # not a template: base64
    result = run(wf, tmp_path)
    assert value(result, e) == hostile


def test_returns_feed_later_steps_and_workflow_params_are_typed(tmp_path):
    with dsl.workflow("arith", params={"base": 20}) as wf:
        s = add(a=wf.params.base, b=1)
        d = double(x=s)
    spec = wf.spec()
    assert spec["params"] == [{"name": "base", "type": "int", "default": 20}]
    step = spec["steps"][1]
    assert step["env"]["COULER_ARG_x"] == "{{steps.add.outputs.parameters.return}}"
    assert step["retry"] == {"limit": 2} and step["timeout"] == "1m"
    assert step["resources"] == {"requests": {"cpu": "250m"}, "limits": {"cpu": "250m"}}
    assert step["cache"] == {"enabled": False}
    result = run(wf, tmp_path, params={"base": 100})
    assert result.status == "Succeeded"
    assert (value(result, s), value(result, d)) == ("101", "202")


def test_param_declarations_required_and_enum(tmp_path):
    with dsl.workflow("declared", params={"n": dsl.Param(type=int, description="how many"),
                                          "env": dsl.Param("dev", enum=["dev", "prod"])}) as wf:
        s = add(a=wf.params.n, b=1)
        e = echo(text=wf.params.env)
    assert wf.spec()["params"] == [
        {"name": "n", "type": "int", "description": "how many"},
        {"name": "env", "default": "dev", "enum": ["dev", "prod"]}]
    result = run(wf, tmp_path, params={"n": 41})
    assert (value(result, s), value(result, e)) == ("42", "dev")
    with pytest.raises(_engine.CoulerError, match="`n`"):
        run(wf, tmp_path)  # required, not given
    with pytest.raises(TypeError, match="type is int, float, bool, str, list or dict"):
        dsl.Param(type=set)


def test_a_wrong_return_type_fails_the_step_and_says_why(tmp_path):
    with dsl.workflow("liar") as wf:
        t = lies()
    result = run(wf, tmp_path)
    assert result.status == "Failed"
    assert result.steps[t.name].status == "Failed"
    assert "lies() returned str 'not a number', but its return annotation says int" in (
        result.steps[t.name].message)


# ---- artifacts and dependencies ------------------------------------------------------------


def test_output_artifact_is_passed_as_an_input_file(tmp_path):
    with dsl.workflow("files") as wf:
        w = write_lines(n=5)
        c = count_lines(data=w.outputs.data)
        c2 = count_lines(data=w)  # a Task with one artifact and no return stands for it
    spec = wf.spec()
    assert spec["steps"][0]["outputs"] == {"artifacts": [{"name": "data", "path": "data"}]}
    assert spec["steps"][1]["inputs"] == {
        "artifacts": [{"name": "data", "path": "data",
                       "from": "steps.write-lines.outputs.artifacts.data"}]}
    result = run(wf, tmp_path)
    assert result.status == "Succeeded"
    assert value(result, c) == "5" and value(result, c2) == "5"


def test_references_and_after_make_the_engine_dependencies():
    with dsl.workflow("deps") as wf:
        a = constant(value="a")
        b = echo(text=a)
        c = constant(value="c").after(a, "echo")
    assert wf.spec()["steps"][2]["dependsOn"] == ["constant", "echo"]
    manifest = _engine.argo_workflow(wf.spec(), wf.sources())
    tasks = {t["name"]: t for t in manifest["spec"]["templates"][0]["dag"]["tasks"]}
    assert "constant" in json.dumps(tasks[b.name])
    assert "constant" in json.dumps(tasks[c.name]) and "echo" in json.dumps(tasks[c.name])
    assert "depend" not in json.dumps(tasks[a.name])


def test_workflow_options_become_spec_fields_and_step_defaults():
    with dsl.workflow("opts", image="alpine:3.19", retry=1, timeout=30, parallelism=2,
                      labels={"team": "ml"}, defaults={"cache": {"enabled": False}}) as wf:
        constant(value="x")
    spec = wf.spec()
    assert spec["parallelism"] == 2 and spec["labels"] == {"team": "ml"}
    assert spec["defaults"] == {"image": "alpine:3.19", "retry": {"limit": 1}, "timeout": "30s",
                                "cache": {"enabled": False}}
    wf.validate()


def test_repeated_calls_get_unique_names_and_with_options_renames():
    with dsl.workflow("names") as wf:
        one, two = constant(value="1"), constant(value="2")
        three = constant.with_options(name="third", image="alpine:3.19")(value="3")
    assert (one.name, two.name, three.name) == ("constant", "constant-2", "third")
    assert wf.spec()["steps"][2]["script"]["image"] == "alpine:3.19"
    assert "image" not in wf.spec()["steps"][0]["script"]  # the original keeps its options
    with pytest.raises(TypeError, match="did you mean `retry`"):
        constant.with_options(retyr=2)
    assert wf.spec()["defaults"] == {"image": dsl.DEFAULT_IMAGE}


# ---- control flow ---------------------------------------------------------------------------


def test_condition_runs_one_branch_and_skips_the_other(tmp_path):
    side = 'he said "heads"\t\\ \u00e9\U0001F600\x01\n'  # quoted and escaped by construction
    with dsl.workflow("branches") as wf:
        flip = constant(value=side)
        with dsl.condition(flip.output == side):
            yes = echo(text="yes")
        with dsl.condition(flip.output != side):
            no = echo(text="no")
    assert "\\u{1}" in wf.spec()["steps"][1]["when"]
    result = run(wf, tmp_path)
    assert result.status == "Succeeded"
    assert result.steps[yes.name].status == "Succeeded"
    assert result.steps[no.name].status == "Skipped"


def test_conditions_combine_and_nest(tmp_path):
    with dsl.workflow("logic", params={"n": 5, "go": True}) as wf:
        n = wf.params.n
        with dsl.condition((n > 3) & ~(n >= 10) | (n == 0)):
            with dsl.condition(wf.params.go):
                inner = echo(text="ran")
        with dsl.condition((n < 3) | (n <= 2)):
            skipped = echo(text="never")
    when = wf.spec()["steps"][0]["when"]
    assert "params.go" in when and "params.n > 3" in when and "!(params.n >= 10)" in when
    result = run(wf, tmp_path)
    assert result.steps[inner.name].status == "Succeeded"
    assert result.steps[skipped.name].status == "Skipped"
    result = run(wf, tmp_path, params={"go": False})
    assert result.steps[inner.name].status == "Skipped"


def test_for_each_fans_out_and_collects_the_outputs(tmp_path):
    with dsl.workflow("fan", params={"xs": [1, 2, 3]}) as wf:
        with dsl.for_each([1, 2, 3, 4], parallelism=2) as x:
            squares = square(x=x)
        with dsl.for_each(range(0, 10, 5)) as y:
            from_range = square(x=y)
        with dsl.for_each(wf.params.xs) as z:
            from_param = square(x=z)
        with dsl.for_each(squares) as s:  # map.from a step's collected list
            again = square(x=s)
        summed = total(values=squares)
    steps = {s["name"]: s for s in wf.spec()["steps"]}
    assert steps[squares.name]["map"] == {"items": [1, 2, 3, 4], "parallelism": 2}
    assert steps[from_range.name]["map"] == {"range": {"start": 0, "stop": 10, "step": 5}}
    assert steps[from_param.name]["map"] == {"from": "params.xs"}
    assert steps[again.name]["map"] == {"from": "steps.square.outputs.parameters.return"}
    result = run(wf, tmp_path)
    assert result.status == "Succeeded"
    assert json.loads(value(result, squares)) == ["1", "4", "9", "16"]
    assert json.loads(value(result, from_range)) == ["0", "25"]
    assert json.loads(value(result, from_param)) == ["1", "4", "9"]
    assert json.loads(value(result, again)) == ["1", "16", "81", "256"]
    assert value(result, summed) == "30"


def test_for_each_over_dicts_reads_fields(tmp_path):
    with dsl.workflow("fields") as wf:
        with dsl.for_each([{"a": 1, "b": 2}, {"a": 10, "b": 20}]) as item:
            sums = add(a=item.a, b=item["b"])
    assert wf.spec()["steps"][0]["env"]["COULER_ARG_a"] == "{{item.a}}"
    result = run(wf, tmp_path)
    assert json.loads(value(result, sums)) == ["3", "30"]


def test_exit_handler_runs_after_a_failure_and_sees_the_status(tmp_path):
    with dsl.workflow("cleanup") as wf:
        fail()
        with dsl.exit_handler():
            report = echo(text=wf.status)
            with dsl.condition(wf.status == "Succeeded"):
                cheer = echo(text="hooray")
    spec = wf.spec()
    assert [s["name"] for s in spec["onExit"]] == [report.name, cheer.name]
    result = run(wf, tmp_path)
    assert result.status == "Failed"
    assert result.steps[report.name].parameters["return"] == "Failed"
    assert result.steps[cheer.name].status == "Skipped"


# ---- errors ---------------------------------------------------------------------------------


def test_wrong_literal_types_name_the_parameter():
    with dsl.workflow("bad"):
        with pytest.raises(TypeError, match=r"add\(\) argument `b` expects int, got str '2'"):
            add(a=1, b="2")
        with pytest.raises(TypeError, match="argument `a` expects int, got bool"):
            add(a=True, b=1)
        with pytest.raises(TypeError, match="argument `items` expects json"):
            describe(i=1, f=1, b=True, s="", items={1, 2}, table={})
        with pytest.raises(TypeError, match=r"add\(\): missing a required argument: 'b'"):
            add(a=1)
        with pytest.raises(TypeError, match="unexpected keyword argument 'c'"):
            add(a=1, b=2, c=3)
        with pytest.raises(TypeError, match="unexpected keyword argument 'bb'.*did you mean `b`"):
            add(a=1, bb=2)


def test_wrong_reference_types_name_the_parameter_and_the_source():
    with dsl.workflow("bad-refs", params={"name": "x", "rate": 0.5}) as wf:
        with pytest.raises(TypeError, match=r"`a` expects int, but got the workflow param "
                                            r"`name` \(string\)"):
            add(a=wf.params.name, b=1)
        with pytest.raises(TypeError, match=r"`b` expects int, but got the workflow param "
                                            r"`rate` \(float\)"):
            add(a=1, b=wf.params.rate)
        e = echo(text="x")
        with pytest.raises(TypeError,
                           match=r"`b` expects int, but got the return value of step `echo`"):
            add(a=1, b=e)
        echo(text=add(a=1, b=2))  # any value reads as text
        w = write_lines(n=1)
        with pytest.raises(TypeError, match="`a` expects a int value, but got the artifact `data`"):
            add(a=w.outputs.data, b=1)
        with pytest.raises(TypeError, match="`data` is an output .*callers do not pass it"):
            write_lines(n=1, data="x")
        with pytest.raises(TypeError, match="`data` is an input artifact"):
            count_lines(data="/etc/passwd")
        with pytest.raises(TypeError, match="no return value"):
            add(a=fail(), b=1)
        with pytest.raises(AttributeError, match="step `fail-2` returns nothing: annotate"):
            fail().output
        with pytest.raises(KeyError,
                           match="unknown workflow param `nme` \\(did you mean `name`\\?\\)"):
            wf.params.nme


def test_calling_outside_a_workflow_records_nothing_and_says_how():
    before = _record.current().spec()["steps"] if _record.current().steps else []
    with pytest.raises(dsl.NotInWorkflowError,
                       match=r"add\(\) was called outside a workflow.*with couler.workflow"):
        add(a=1, b=2)
    with pytest.raises(dsl.NotInWorkflowError):
        with dsl.condition(dsl.Ref("params.x") == 1):
            pass
    after = _record.current().spec()["steps"] if _record.current().steps else []
    assert before == after
    assert add.fn(1, 2) == 3  # the plain function is still there


def test_decoration_errors_are_clear():
    with pytest.raises(TypeError, match="unknown option `retires`; did you mean `retry`"):
        dsl.step(retires=3)(lambda: None)
    with pytest.raises(TypeError, match="parameter `x` of bad_type\\(\\) has type set"):
        @dsl.step
        def bad_type(x: set):
            pass
    with pytest.raises(TypeError, match="not \\*args or \\*\\*kwargs"):
        @dsl.step
        def var(*xs: int):
            pass
    with pytest.raises(TypeError, match="an artifact is a path"):
        @dsl.step
        def bad_artifact(x: dsl.Input[int]):
            pass
    with pytest.raises(TypeError, match="takes a plain `def` function"):
        dsl.step(lambda x: x)
    with pytest.raises(ValueError, match="is a Couler placeholder"):
        @dsl.step
        def templated():
            print("{{params.x}}")
    with pytest.raises(TypeError, match="by keyword"):
        dsl.step("python:3.12")
    with pytest.raises(TypeError, match="defined with `def`, not builtin_function"):
        dsl.step(len)
    scale = 3
    with pytest.raises(TypeError, match="closure\\(\\) uses `scale` of the function around it"):
        @dsl.step
        def closure(x: int) -> int:
            return x * scale
    with pytest.raises(TypeError, match="`paralelism`; did you mean `parallelism`"):
        dsl.workflow("w", paralelism=2)
    with pytest.raises(TypeError, match="unknown option `imgae`; did you mean `image`"):
        dsl.workflow("w", imgae="alpine")
    with pytest.raises(TypeError, match="retry must be an int"):
        dsl.workflow("w", retry="3")
    with pytest.raises(TypeError, match="unknown resource `cpus`; did you mean `cpu`"):
        dsl.step(resources={"cpus": 2})(add.fn)


def test_a_cycle_made_with_after_is_refused_naming_it(tmp_path):
    with dsl.workflow("cycle") as wf:
        a = constant(value="a")
        b = echo(text=a)
        a.after(b)
    with pytest.raises(_engine.ValidationError, match="cycle: constant → echo → constant"):
        wf.run(state_dir=str(tmp_path / "state"))
    assert not (tmp_path / "state").exists()  # nothing ran, nothing was written


def test_references_have_no_truth_value():
    with dsl.workflow("truth"):
        t = add(a=1, b=2)
        with pytest.raises(TypeError, match="only known when the workflow runs"):
            if t.output:
                pass
        with pytest.raises(TypeError, match="&, \\| and ~"):
            if t.output == 3:
                pass


def test_invalid_spec_points_at_the_python_line(tmp_path):
    bad = dsl.step(timeout="2h30")(add.fn)
    with dsl.workflow("bad-timeout") as wf:
        line = sys._getframe().f_lineno + 1
        bad(a=1, b=2)
    with pytest.raises(_engine.ValidationError) as err:
        wf.run(state_dir=str(tmp_path / "state"))
    diag = [d for d in err.value.diagnostics if d.severity == "error"][0]
    assert "2h30" in diag.message
    assert diag.source == (__file__, line)
    assert "%s:%d" % (__file__, line) in str(err.value)


# ---- compiling ------------------------------------------------------------------------------


def _pipeline():
    with dsl.workflow("compiled", params={"n": 3}, description="compiled three ways") as wf:
        w = write_lines(n=wf.params.n)
        c = count_lines(data=w.outputs.data)
        with dsl.condition(c.output > 2):
            echo(text="many")
        with dsl.exit_handler():
            echo(text=wf.status)
    return wf


def test_compiles_for_argo(tmp_path):
    files = _pipeline().compile("argo", str(tmp_path))
    assert sorted(files) == ["compiled.yaml"]
    manifest = _engine.argo_workflow(_pipeline().spec())
    assert manifest["kind"] == "Workflow" and manifest["spec"]["onExit"]
    text = (tmp_path / "compiled.yaml").read_text()
    assert "COULER_ARG_n" in text and "{{workflow.parameters.n}}" in text


def test_compiles_for_airflow(tmp_path):
    files = _pipeline().compile("airflow", str(tmp_path), artifact_store=str(tmp_path / "store"))
    (name,) = files
    assert name.endswith(".py")
    py_compile.compile(str(tmp_path / name), doraise=True)
    assert "compiled" in files[name] and str(tmp_path / "store") in files[name]


def test_compiles_for_tekton(tmp_path):
    files = _pipeline().compile("tekton", str(tmp_path))
    text = "\n".join(files.values())
    assert "kind: Pipeline\n" in text and "kind: PipelineRun" in text and "finally" in text
    assert all((tmp_path / name).is_file() for name in files)


def test_spec_yaml_is_canonical_text():
    text = _pipeline().spec_yaml()
    assert text.startswith("apiVersion: couler.dev/v1alpha1\nkind: Workflow\nname: compiled\n")
    assert _pipeline().spec_yaml() == text


# ---- with the drop-in API -------------------------------------------------------------------


def test_workflow_entry_also_stands_for_the_current_recording():
    with dsl.workflow("outer"):
        constant(value="x")
        assert dsl.workflow.workflow_name() == "outer"
        assert [s["name"] for s in dsl.workflow.steps] == ["constant"]


def test_drop_in_steps_record_into_a_pythonic_workflow(tmp_path):
    import couler.argo as dropin

    with dsl.workflow("mixed") as wf:
        t = constant(value="from python")
        dropin.run_container(image="alpine:3.19", command=["echo", str(t.output)],
                             step_name="shout")
    (shout,) = [s["name"] for s in wf.spec()["steps"] if s["name"].startswith("shout")]
    result = run(wf, tmp_path)
    assert result.status == "Succeeded"
    assert result.steps[shout].result == "from python"
