"""The Pythonic API: typed Python functions become workflow steps.

```python
import couler
from pathlib import Path

@couler.step(image="python:3.12-slim")
def make_data(rows: int, data: couler.Output[Path]) -> int:
    data.write_text("\\n".join(str(i) for i in range(rows)))
    return rows

@couler.step
def total(data: couler.Input[Path]) -> int:
    return sum(int(line) for line in data.read_text().split())

with couler.workflow("sums", params={"rows": 10}) as wf:
    made = make_data(rows=wf.params.rows)
    total(data=made.outputs.data)

print(wf.run().status)            # "Succeeded", on the local runtime
```

A decorated function is shipped as a script step (its source, plus a small runner); calling it
inside ``with couler.workflow(...)`` records a step through ``couler._record`` and returns a
:class:`Task` whose outputs are references. ``couler.condition``, ``couler.for_each`` and
``couler.exit_handler`` are the Pythonic forms of ``when``, ``map`` and the exit handler.
"""

import copy
import difflib
import functools
import inspect
from contextlib import contextmanager

from couler import _record, search
from couler._dsl_options import check_options, policies
from couler._dsl_refs import ArtifactRef, Condition, Ref, condition_text
from couler._dsl_script import function_source, program
from couler._dsl_types import Input, Output, check_value, encode_literal, read_signature
from couler._dsl_workflow import (
    DEFAULT_IMAGE,
    NotInWorkflowError,
    Param,
    Workflow,
    current,
    workflow,
)

__all__ = [  # the names couler re-exports
    "step",
    "workflow",
    "Workflow",
    "Task",
    "TunedTask",
    "search",
    "StepFunction",
    "Param",
    "Input",
    "Output",
    "Ref",
    "ArtifactRef",
    "Condition",
    "condition",
    "for_each",
    "exit_handler",
    "NotInWorkflowError",
    "DEFAULT_IMAGE",
]


_RETURN = "return"
_OPTIONS = ("name", "image", "command", "resources", "retry", "cache", "timeout", "env",
            "description")


class Task(object):
    """One recorded call of a step function: its outputs are references for later steps.

    Attributes:
        name: the step's unique name in the workflow (``train``, ``train-2``, …).
        output: the return value (a :class:`Ref` typed by the return annotation).
        outputs: the return value as ``outputs.return`` and each ``couler.Output`` artifact
            by its parameter name (``outputs.model``), as references.
        result: the step's standard output; ``status`` and ``exit_code``: how it ended.
    """

    def __init__(self, recorder, name, returns, artifacts, mapped):
        self._recorder = recorder
        self.name = name
        prefix = "steps.%s" % name
        what = "the return value of step `%s`" % name
        if returns is not None:
            kind = "json" if mapped else returns
            self._output = Ref("%s.outputs.parameters.%s" % (prefix, _RETURN), kind, what)
        else:
            self._output = None
        self.outputs = _Outputs(self._output, {a: ArtifactRef(name, a) for a in artifacts})
        self.result = Ref(prefix + ".outputs.result", "json" if mapped else "string",
                          "the standard output of step `%s`" % name)
        self.status = Ref(prefix + ".status", "string", "the status of step `%s`" % name)
        self.exit_code = Ref(prefix + ".exitCode", "int", "the exit code of step `%s`" % name)

    @property
    def output(self):
        """The return value, a :class:`Ref` typed by the return annotation.

        Raises:
            AttributeError: the function has no return annotation, so the step has no output.
        """
        if self._output is None:
            raise AttributeError(
                "step `%s` returns nothing: annotate its function's return type (`-> int`, "
                "...) to give it an output, or read `.result` (its standard output)" % self.name
            )
        return self._output

    def after(self, *tasks):
        """Runs this step after ``tasks`` (Tasks or step names) even without data between them.

        Returns:
            this Task, so ``train(x).after(prepare)`` reads naturally.
        """
        step = self._recorder.step(self.name)
        deps = step.setdefault("dependsOn", [])
        for t in tasks:
            if not isinstance(t, (Task, str)):
                raise TypeError("after() takes Tasks or step names, got %r" % (t,))
            name = t.name if isinstance(t, Task) else t
            if name not in deps:
                deps.append(name)
        return self

    def _single(self, fname, arg):
        """The one output a Task stands for when passed whole to another step."""
        if self._output is not None:
            return self._output
        arts = self.outputs.artifacts()
        if len(arts) == 1:
            return arts[0]
        raise TypeError(
            "%s() argument `%s`: step `%s` has %s, so pass one of them explicitly (%s)"
            % (fname, arg, self.name, "no return value" if not arts else "several outputs",
               ", ".join("`.outputs.%s`" % a.name for a in arts) or "`.result`")
        )

    def __repr__(self):
        return "Task(%r)" % self.name


class TunedTask(Task):
    """A recorded call of a tuned step (``StepFunction.tune``): its outputs are the best
    setting the study found.

    Attributes:
        best: the best setting, a reference per tuned argument (``best.k``).
        best_objective: the best trial's return value; ``best_trial``: its number, from 0.
        trials: every trial with its objective, as a JSON list (the selection's output).
    """

    def __init__(self, recorder, name, types):
        Task.__init__(self, recorder, name, None, [], False)
        prefix = "steps.%s.outputs" % name
        self.best = _Best({
            p: Ref("%s.parameters.best_%s" % (prefix, p), t,
                   "the best `%s` of the study `%s`" % (p, name))
            for p, t in types.items()
        })
        self.best_objective = Ref(prefix + ".parameters.best_objective", "float",
                                  "the best objective of the study `%s`" % name)
        self.best_trial = Ref(prefix + ".parameters.best_trial", "int",
                              "the best trial of the study `%s`" % name)
        self.trials = Ref(prefix + ".result", "json", "the trials of the study `%s`" % name)

    @property
    def output(self):
        """The best objective (the best trial's return value)."""
        return self.best_objective

    def _single(self, fname, arg):
        return self.best_objective

    def __repr__(self):
        return "TunedTask(%r)" % self.name


class _Best(object):
    def __init__(self, refs):
        self._refs = refs

    def __getattr__(self, key):
        if key.startswith("__"):
            raise AttributeError(key)
        return self[key]

    def __getitem__(self, key):
        if key in self._refs:
            return self._refs[key]
        near = difflib.get_close_matches(key, list(self._refs), n=1)
        raise AttributeError("no tuned argument `%s`%s; tuned: %s" % (
            key, " (did you mean `%s`?)" % near[0] if near else "", ", ".join(self._refs)))


class _Outputs(object):
    def __init__(self, output, artifacts):
        self._output = output
        self._artifacts = artifacts

    def artifacts(self):
        return list(self._artifacts.values())

    def __getattr__(self, key):
        if key.startswith("__"):
            raise AttributeError(key)
        return self[key]

    def __getitem__(self, key):
        if key == _RETURN and self._output is not None:
            return self._output
        if key in self._artifacts:
            return self._artifacts[key]
        valid = list(self._artifacts) + ([_RETURN] if self._output is not None else [])
        near = difflib.get_close_matches(key, valid, n=1)
        raise AttributeError(
            "no output `%s`%s; outputs: %s"
            % (key, " (did you mean `%s`?)" % near[0] if near else "", ", ".join(valid) or "none")
        )


class StepFunction(object):
    """A function decorated with ``@couler.step``. Calling it inside ``couler.workflow``
    records a script step and returns a :class:`Task`; ``.fn`` is the plain function."""

    def __init__(self, fn, options):
        self.fn = fn
        self._set_options(options)
        self.args, self.returns, self.signature = read_signature(fn)  # once, here
        self.source = function_source(fn)
        functools.update_wrapper(self, fn)

    def _set_options(self, options):
        check_options(options, _OPTIONS, "@couler.step")
        name = getattr(self.fn, "__name__", repr(self.fn))
        self.policies = policies(options, "@couler.step on %s()" % name)
        self.options = dict(options)

    def with_options(self, **options):
        """A copy of this step function with some options replaced (``name``, ``image``,
        ``retry``, …), e.g. ``train.with_options(name="train-big", resources={"cpu": 4})(x)``."""
        merged = dict(self.options)
        merged.update(options)
        clone = copy.copy(self)
        clone._set_options(merged)
        return clone

    def __call__(self, *args, **kwargs):
        wf, arguments = self._bind("%s()" % self.fn.__name__, args, kwargs)
        step = self._step(arguments)
        name = self._record(wf, step)
        outputs = [a.name for a in self.args if a.kind == "output"]
        return Task(wf._recorder, name, self.returns, outputs, "map" in step)

    def _bind(self, what, args, kwargs):
        """The current workflow and the call's arguments by name."""
        wf = current(what)
        self._check_keywords(kwargs)
        try:
            bound = self.signature.bind(*args, **kwargs)
        except TypeError as err:
            raise TypeError("%s(): %s" % (self.fn.__name__, err)) from None
        return wf, bound.arguments

    def _record(self, wf, step):
        # A new step each call (`add`, `add-2`, ...): the recorder in DAG mode would take a
        # name made again for the same step.
        step["name"] = wf._recorder.unique_name(_record.safe_name(step["name"]))
        return wf._recorder.add_step(step, _record.caller())

    def tune(self, *, budget, goal="maximize", parallelism=None, method="sobol", seed=0,
             llm=None, schedule=None):
        """This step as a hyperparameter study: call the result with a ``couler.search``
        domain instead of a value for each argument to tune (docs/tuning.md). The objective is
        the step's return value (annotate it ``-> float``); the best setting is published.

        Args:
            budget: how many trials (full-fidelity evaluations) the study may run.
            goal: ``"maximize"`` or ``"minimize"`` the return value.
            parallelism: at most this many trials at once; the learning methods run rounds of
                this many (the whole budget in one round when None).
            method: ``random``, ``sobol``, ``tpe``, ``sh``, ``hyperband``, ``asha`` or
                ``llm``.
            seed: the method's seed: equal seeds propose equal trials.
            llm: for ``method="llm"`` (the paper's Algorithm 4), a dict with ``model`` (a name
                the endpoint serves, or ``"local"``), optional ``endpoint`` and
                ``candidates``, and the cards ``dataCard`` (``name``, ``inputType``,
                ``labelSpace``, ``metrics``) and ``modelCard`` (``name``, ``structure``,
                ``description``): docs/tuning.md, "The llm method".
            schedule: ``"rounds"`` (rounds fixed when the step is lowered: runs on every
                engine) or ``"asynchronous"`` (a trial starts whenever a worker is free, the
                method told each result as it arrives: the local runtime only). None: the
                method's own, asynchronous for ``asha``, rounds otherwise (docs/tuning.md,
                "Asynchronous studies").

        Returns:
            a callable taking the step's arguments and returning a :class:`TunedTask`.

        Raises:
            TypeError: an option of the wrong type; at the call, no domain given, a domain
                that does not fit its argument's annotation, or a step that returns nothing.

        Example:
            >>> best = fit.tune(budget=12, parallelism=4, method="tpe")(
            ...     k=couler.search.integer(1, 40), folds=3)
            >>> publish(k=best.best.k, accuracy=best.best_objective)
        """
        for key, value in (("budget", budget), ("seed", seed)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError("%s.tune(): %s must be an int, got %r"
                                % (self.fn.__name__, key, value))
        if parallelism is not None and (isinstance(parallelism, bool)
                                        or not isinstance(parallelism, int)):
            raise TypeError("%s.tune(): parallelism must be an int or None, got %r"
                            % (self.fn.__name__, parallelism))
        if goal not in ("maximize", "minimize"):
            raise ValueError('%s.tune(): goal must be "maximize" or "minimize", got %r'
                             % (self.fn.__name__, goal))
        if not isinstance(method, str):
            raise TypeError("%s.tune(): method must be a str such as \"tpe\", got %r"
                            % (self.fn.__name__, method))
        if schedule not in (None, "rounds", "asynchronous"):
            raise ValueError('%s.tune(): schedule must be "rounds", "asynchronous" or None, '
                             "got %r" % (self.fn.__name__, schedule))
        if llm is not None and not isinstance(llm, dict):
            raise TypeError("%s.tune(): llm must be a dict with model, dataCard and modelCard, "
                            "got %r" % (self.fn.__name__, llm))
        study = {"objective": {"parameter": _RETURN, "goal": goal}, "budget": budget,
                 "method": method, "seed": seed}
        if parallelism is not None:
            study["parallelism"] = parallelism
        if llm is not None:
            study["llm"] = llm
        if schedule is not None:
            study["schedule"] = schedule
        return functools.partial(self._tuned, study)

    def _tuned(self, study, *args, **kwargs):
        fname = self.fn.__name__
        wf, arguments = self._bind("%s.tune()(...)" % fname, args, kwargs)
        if self.returns not in ("int", "float"):
            raise TypeError("%s.tune(): the objective is the step's return value; annotate "
                            "%s() `-> float`" % (fname, fname))
        if any(a.kind == "output" for a in self.args):
            raise TypeError("%s.tune(): a tuned step publishes its best setting, not its "
                            "trials' artifacts; drop the couler.Output arguments" % fname)
        tuned = {k: v for k, v in arguments.items() if isinstance(v, search.Domain)}
        if not tuned:
            raise TypeError("%s.tune(): give at least one argument a couler.search domain "
                            "(e.g. k=couler.search.integer(1, 40))" % fname)
        args = {a.name: a for a in self.args}
        step = self._step({k: v for k, v in arguments.items() if k not in tuned})
        study = dict(study, space=[])
        params = step.setdefault("inputs", {}).setdefault("parameters", [])
        for name, domain in tuned.items():
            if args[name].type not in domain.types:
                raise TypeError("%s() argument `%s` is %s, which %r does not fit (it fits %s)"
                                % (fname, name, args[name].type, domain,
                                   " or ".join(domain.types)))
            if domain.kind == "fidelity":
                if "fidelity" in study:
                    raise TypeError("%s.tune(): one couler.search.fidelity per study" % fname)
                study["fidelity"] = domain.spec(name)
            else:
                study["space"].append(domain.spec(name))
            params.append({"name": name})
            step["env"]["COULER_ARG_" + name] = "{{inputs.parameters.%s}}" % name
        step["tune"] = study
        name = self._record(wf, step)
        types = {n: args[n].type for n in tuned if tuned[n].kind != "fidelity"}
        return TunedTask(wf._recorder, name, types)

    def _check_keywords(self, kwargs):
        """TypeError for a keyword the call does not take, naming the nearest one."""
        known = list(self.signature.parameters)
        outputs = [a.name for a in self.args if a.kind == "output"]
        for key in kwargs:
            if key in outputs:
                raise TypeError("%s(): `%s` is an output (couler.Output): the step writes it, "
                                "so callers do not pass it" % (self.fn.__name__, key))
            if key not in known:
                near = difflib.get_close_matches(key, known, n=1)
                raise TypeError("%s() got an unexpected keyword argument '%s'%s" % (
                    self.fn.__name__, key, "; did you mean `%s`?" % near[0] if near else ""))

    def _argument(self, arg, value, env, inputs):
        fname = self.fn.__name__
        if isinstance(value, Task):
            value = value._single(fname, arg.name)
        check_value(arg, value, fname)
        key = "COULER_ARG_" + arg.name
        if arg.kind == "input":
            inputs.append({"name": arg.name, "path": arg.name, "from": value.expr})
            env[key] = "{{inputs.artifacts.%s.path}}" % arg.name
        elif isinstance(value, Ref):
            env[key] = str(value)
        else:
            text = encode_literal(value, arg.type)
            if "{{" in text:
                import base64

                env["COULER_ARGB64_" + arg.name] = base64.b64encode(text.encode()).decode()
            else:
                env[key] = text

    def _step(self, arguments):
        env, inputs, outputs = {}, [], {}
        for arg in self.args:
            if arg.kind == "output":
                outputs.setdefault("artifacts", []).append({"name": arg.name, "path": arg.name})
                env["COULER_ARG_" + arg.name] = "{{outputs.artifacts.%s.path}}" % arg.name
            elif arg.name in arguments:
                self._argument(arg, arguments[arg.name], env, inputs)
        if self.returns is not None:
            outputs["parameters"] = [{"name": _RETURN, "path": _RETURN + ".txt"}]
            env["COULER_RETURN"] = "{{outputs.parameters.%s.path}}" % _RETURN
        for key, value in (self.options.get("env") or {}).items():
            env[key] = str(value)
        kinds = {a.name: a.decode for a in self.args}
        script = {"source": program(self.source, self.fn.__name__, kinds, self.returns)}
        for key in ("image", "command"):
            if self.options.get(key) is not None:
                script[key] = list(self.options[key]) if key == "command" else self.options[key]
        step = {"name": self.options.get("name") or self.fn.__name__, "script": script}
        if self.options.get("description"):
            step["description"] = self.options["description"]
        if inputs:
            step["inputs"] = {"artifacts": inputs}
        if outputs:
            step["outputs"] = outputs
        step["env"] = env
        step.update(self.policies)
        return step

    def __repr__(self):
        return "<couler step %s%s>" % (self.fn.__name__, self.signature)


def step(fn=None, **options):
    """Turns a typed Python function into a workflow step (a script step shipping its source).

    Parameters annotated ``int``, ``float``, ``bool``, ``str``, ``list`` or ``dict`` become typed
    inputs; ``couler.Input[Path]`` an input artifact (the function gets the file's path) and
    ``couler.Output[Path]`` an output artifact (the function writes the path it gets; callers
    do not pass it). The return annotation types the step's output, ``task.output``. The
    function runs in its own process: import what it needs inside its body.

    Args:
        fn: the function, when used as ``@couler.step`` without parentheses.
        name: the step's name (default: the function's, ``_`` becoming ``-``).
        image: the container image (default: the workflow's ``image``, else ``DEFAULT_IMAGE``).
        command: the interpreter (default ``["python3"]``).
        resources: ``{"cpu": "500m", "memory": "1Gi", "gpu": 1}`` (requests = limits), or the
            spec's ``{"requests": {...}, "limits": {...}}``.
        retry: retries after the first attempt (an int), or the spec's retry dict.
        cache: ``True``/``False`` to turn memoization on or off, or the spec's cache dict.
        timeout: a duration such as ``"10m"``, or seconds.
        env: extra environment variables (values may be references).
        description: free text.

    Returns:
        a :class:`StepFunction` (or, with options only, a decorator making one).

    Raises:
        TypeError: an unknown option (naming the nearest valid one), an option of the wrong
            type, an unsupported annotation, ``*args``/``**kwargs``, or a function whose source
            Python cannot find.
        ValueError: the source holds a ``{{params…}}``-style placeholder.

    Example:
        >>> @couler.step(retry=2)
        ... def add(a: int, b: int) -> int:
        ...     return a + b
    """
    if fn is not None and not callable(fn):
        raise TypeError(
            "@couler.step takes its options by keyword, e.g. @couler.step(image=%r)" % (fn,)
        )

    def wrap(f):
        if not inspect.isfunction(f):
            raise TypeError("@couler.step takes a function defined with `def`, not %s"
                            % type(f).__name__)
        return StepFunction(f, options)

    return wrap(fn) if fn is not None else wrap


@contextmanager
def condition(cond):
    """Steps called inside the block run only if ``cond`` holds (the spec's ``when``).

    Args:
        cond: a comparison of references (``flip.output == "heads"``,
            ``evaluate.output >= wf.params.threshold``), a bool reference, or a combination
            with ``&``, ``|`` and ``~``. Blocks nest (their conditions are and-ed).

    Raises:
        NotInWorkflowError: outside ``couler.workflow``.
        TypeError: ``cond`` is not a condition.

    Example:
        >>> with couler.condition(flip().output == "heads"):
        ...     heads()
    """
    text = condition_text(cond)
    wf = current("couler.condition()")
    with wf._recorder.scope("when", condition=text):
        yield


def _map_of(items):
    """The spec's ``map`` for ``items`` and the type of one item."""
    if isinstance(items, Task):
        items = items._single("couler.for_each", "items")
    if isinstance(items, Ref):
        if items.type not in (None, "json"):
            raise TypeError("couler.for_each() fans out over a list; %s is %s"
                            % (items.what, items.type))
        return {"from": items.expr}, None
    if isinstance(items, range):
        return {"range": {"start": items.start, "stop": items.stop, "step": items.step}}, "int"
    if not isinstance(items, (list, tuple)):
        raise TypeError("couler.for_each() takes a list, a range, a list-typed param or a step's "
                        "list output; got %s" % type(items).__name__)
    kinds = {type(i) for i in items}
    for kind, name in ((bool, "bool"), (int, "int"), (str, "string")):
        if kinds == {kind}:
            return {"items": list(items)}, name
    return {"items": list(items)}, "float" if kinds and kinds <= {int, float} else None


@contextmanager
def for_each(items, parallelism=None):
    """Steps called inside the block run once per item (the spec's ``map``); yields the
    current item as a reference (``item``, or ``item.key`` / ``item["key"]`` for dict items).

    Args:
        items: a list (or tuple) of JSON values, a ``range``, a list-typed workflow param or a
            step's list output (``map.from``: known at run time).
        parallelism: at most this many instances at once.

    Returns:
        (as the ``with`` target) the item reference. Outside the block, the output of a step
        called inside is the JSON list of the instances' values.

    Raises:
        NotInWorkflowError: outside ``couler.workflow``.
        TypeError: ``items`` is not a list of any of those kinds.

    Example:
        >>> with couler.for_each([0.1, 0.01]) as lr:
        ...     scores = train(lr=lr)
        >>> pick_best(scores=scores)
    """
    wf = current("couler.for_each()")
    spec, item_type = _map_of(items)
    if parallelism is not None:
        if isinstance(parallelism, bool) or not isinstance(parallelism, int) or parallelism < 1:
            raise TypeError("couler.for_each() parallelism must be an int >= 1, got %r"
                            % (parallelism,))
        spec["parallelism"] = parallelism
    with wf._recorder.scope("map", map=spec):
        yield Ref("item", item_type, "the current item")


@contextmanager
def exit_handler():
    """Steps called inside the block form the exit handler: they run after every other step,
    whatever happened; ``wf.status`` tells how the workflow ended.

    Raises:
        NotInWorkflowError: outside ``couler.workflow``.

    Example:
        >>> with couler.exit_handler():
        ...     with couler.condition(wf.status != "Succeeded"):
        ...         alert()
    """
    wf = current("couler.exit_handler()")
    with wf._recorder.scope("exit"):
        yield
