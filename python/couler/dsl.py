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

import difflib
import functools
from contextlib import contextmanager

from couler import _record
from couler._dsl_refs import SPEC_TYPES, ArtifactRef, Condition, Ref, condition_text
from couler._dsl_script import function_source, program
from couler._dsl_types import Input, Output, check_value, encode_literal, read_signature

__all__ = [
    "step",
    "workflow",
    "Workflow",
    "Task",
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

#: The image of a step when neither the step nor the workflow names one.
DEFAULT_IMAGE = "python:3.12-slim"

_RETURN = "return"
_OPTIONS = ("name", "image", "command", "resources", "retry", "cache", "timeout", "env",
            "description")
# couler.workflow's own options: step defaults. The spec's workflow fields (description,
# parallelism, labels, schedule, ...) and `dag` are the recorder's (couler._record).
_STEP_DEFAULTS = ("image", "retry", "timeout", "resources", "cache")
_active = []


class NotInWorkflowError(RuntimeError):
    """A step function was called, or a control-flow block opened, outside
    ``with couler.workflow(...)``."""


def _unknown(kind, key, valid):
    near = difflib.get_close_matches(key, valid, n=1)
    hint = "did you mean `%s`? " % near[0] if near else ""
    return TypeError(
        "%s got an unknown option `%s`; %svalid options: %s" % (kind, key, hint, ", ".join(valid))
    )


def _resources(value):
    if not isinstance(value, dict):
        raise TypeError("resources must be a dict, e.g. {'cpu': '500m', 'memory': '1Gi'}")
    if set(value) & {"requests", "limits"}:
        return dict(value)
    flat = {("ephemeralStorage" if k == "ephemeral_storage" else k): v for k, v in value.items()}
    return {"requests": dict(flat), "limits": dict(flat)}


def _retry(value):
    if isinstance(value, bool) or not isinstance(value, (int, dict)):
        raise TypeError("retry must be an int (retries after the first attempt) or a dict, got %r"
                        % (value,))
    return {"limit": value} if isinstance(value, int) else dict(value)


def _cache(value):
    if isinstance(value, bool):
        return {} if value else {"enabled": False}
    if isinstance(value, dict):
        return dict(value)
    raise TypeError("cache must be True, False or a dict such as {'version': '2'}, got %r"
                    % (value,))


def _policies(options, where):
    """The spec fields of ``resources``/``retry``/``cache``/``timeout``/``env``."""
    out = {}
    if options.get("resources") is not None:
        out["resources"] = _resources(options["resources"])
    if options.get("retry") is not None:
        out["retry"] = _retry(options["retry"])
    if options.get("cache") is not None:
        out["cache"] = _cache(options["cache"])
    if options.get("timeout") is not None:
        t = options["timeout"]
        if isinstance(t, bool) or not isinstance(t, (int, str)):
            raise TypeError("%s: timeout must be a duration such as '10m' or seconds, got %r"
                            % (where, t))
        out["timeout"] = t if isinstance(t, str) else "%ds" % t
    return out


def _check_options(options, valid, kind):
    for key in options:
        if key not in valid:
            raise _unknown(kind, key, valid)
    for key in ("name", "image", "description"):
        if options.get(key) is not None and not isinstance(options[key], str):
            raise TypeError("%s option `%s` must be a str, got %r" % (kind, key, options[key]))
    command = options.get("command")
    if command is not None and (
        isinstance(command, str) or not all(isinstance(c, str) for c in command)
    ):
        raise TypeError("%s option `command` must be a list of str, e.g. ['python3']" % kind)
    env = options.get("env")
    if env is not None and not (
        isinstance(env, dict) and all(isinstance(v, (str, Ref)) for v in env.values())
    ):
        raise TypeError("%s option `env` must be a dict of str (or references)" % kind)


class Task(object):
    """One recorded call of a step function: its outputs are references for later steps.

    Attributes:
        name: the step's unique name in the workflow (``train``, ``train-2``, …).
        output: the return value (a :class:`Ref` typed by the return annotation), or None.
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
            self.output = Ref("%s.outputs.parameters.%s" % (prefix, _RETURN), kind, what)
        else:
            self.output = None
        self.outputs = _Outputs(self.output, {a: ArtifactRef(name, a) for a in artifacts})
        self.result = Ref(prefix + ".outputs.result", "json" if mapped else "string",
                          "the standard output of step `%s`" % name)
        self.status = Ref(prefix + ".status", "string", "the status of step `%s`" % name)
        self.exit_code = Ref(prefix + ".exitCode", "int", "the exit code of step `%s`" % name)

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
        if self.output is not None:
            return self.output
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


def _current(what):
    if not _active:
        raise NotInWorkflowError(
            "%s was called outside a workflow, so nothing was recorded. Call it inside "
            "`with couler.workflow(\"name\") as wf:` to add it to that workflow; to run a step "
            "function as plain Python, call its `.fn(...)`" % what
        )
    return _active[-1]


class StepFunction(object):
    """A function decorated with ``@couler.step``. Calling it inside ``couler.workflow``
    records a script step and returns a :class:`Task`; ``.fn`` is the plain function."""

    def __init__(self, fn, options):
        _check_options(options, _OPTIONS, "@couler.step")
        self.fn = fn
        self.options = dict(options)
        self.args, self.returns, self.signature = read_signature(fn)
        self.source = function_source(fn)
        self.policies = _policies(options, "@couler.step on %s()" % fn.__name__)
        functools.update_wrapper(self, fn)

    def with_options(self, **options):
        """A copy of this step function with some options replaced (``name``, ``image``,
        ``retry``, …), e.g. ``train.with_options(name="train-big", resources={"cpu": 4})(x)``."""
        merged = dict(self.options)
        merged.update(options)
        return StepFunction(self.fn, merged)

    def __call__(self, *args, **kwargs):
        fname = self.fn.__name__
        wf = _current("%s()" % fname)
        self._check_keywords(kwargs)
        try:
            bound = self.signature.bind(*args, **kwargs)
        except TypeError as err:
            raise TypeError("%s(): %s" % (fname, err)) from None
        step = self._step(bound.arguments)
        # A new step each call (`add`, `add-2`, ...): the recorder in DAG mode would take a
        # name made again for the same step.
        step["name"] = wf._recorder.unique_name(_record.safe_name(step["name"]))
        name = wf._recorder.add_step(step, _record.caller())
        outputs = [a.name for a in self.args if a.kind == "output"]
        return Task(wf._recorder, name, self.returns, outputs, "map" in step)

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
        return StepFunction(f, options)

    return wrap(fn) if fn is not None else wrap


_NO_DEFAULT = object()


class Param(object):
    """A workflow parameter with more than a default: ``Param(type=int)`` (required at run
    time), ``Param(0.1, description="learning rate")``, ``Param("dev", enum=["dev", "prod"])``."""

    def __init__(self, default=_NO_DEFAULT, type=None, description=None, enum=None):
        if type is None:
            type = str if default is _NO_DEFAULT or default is None else default.__class__
        if type not in SPEC_TYPES:
            raise TypeError("a workflow param's type is int, float, bool, str, list or dict, not %r"
                            % (type,))
        self.default = default
        self.type = SPEC_TYPES[type]
        self.description = description
        self.enum = list(enum) if enum is not None else None

    def spec(self, name):
        out = {"name": name}
        if self.type != "string":
            out["type"] = self.type
        if self.default is not _NO_DEFAULT:
            out["default"] = self.default
        if self.description is not None:
            out["description"] = self.description
        if self.enum is not None:
            out["enum"] = self.enum
        return out


class _Params(object):
    def __init__(self, declared):
        self._declared = declared

    def __getattr__(self, key):
        if key.startswith("__"):
            raise AttributeError(key)
        return self[key]

    def __getitem__(self, key):
        if key not in self._declared:
            near = difflib.get_close_matches(key, list(self._declared), n=1)
            raise KeyError(
                "unknown workflow param `%s`%s; declare it in couler.workflow(..., params={...})"
                % (key, " (did you mean `%s`?)" % near[0] if near else "")
            )
        return Ref("params." + key, self._declared[key].type, "the workflow param `%s`" % key)


def _own_options(options):
    """Takes couler.workflow's own options out of ``options``; a near miss of one of them is a
    TypeError naming it (the recorder names near misses of the rest)."""
    own = {k: options.pop(k) for k in _STEP_DEFAULTS if k in options}
    for key in options:
        near = difflib.get_close_matches(key, _STEP_DEFAULTS, n=1, cutoff=0.8)
        if near:
            raise _unknown("couler.workflow()", key, list(_STEP_DEFAULTS))
    _check_options(own, _STEP_DEFAULTS, "couler.workflow()")
    return own


def _defaults(given, image, policies):
    """The spec's ``defaults``: the given dict, the image and the step policies."""
    out = dict(given or {})
    if image:
        out["image"] = image
    out.setdefault("image", DEFAULT_IMAGE)
    out.update(policies)
    return out


class Workflow(object):
    """A workflow described with the Pythonic API; make one with :func:`workflow`.

    Inside its ``with`` block, calls of step functions record steps. After it (or inside), it
    can be printed (:meth:`spec`, :meth:`spec_yaml`), checked (:meth:`validate`), run on the
    local runtime (:meth:`run`) and compiled (:meth:`compile`).

    Attributes:
        name: the workflow's name.
        params: the declared params as references, ``wf.params.lr`` (also ``wf.params["lr"]``).
        status: ``workflow.status``, for conditions in the exit handler.
    """

    def __init__(self, name=None, params=None, **options):
        if name is not None and not isinstance(name, str):
            raise TypeError("couler.workflow() takes the workflow's name as a str, got %r"
                            % (name,))
        own = _own_options(options)
        options.setdefault("dag", True)  # steps are ordered by their data, not by call order
        self._block = _record.recording(name, **options)  # checks the workflow fields
        if params is not None and not isinstance(params, dict):
            raise TypeError("couler.workflow() option `params` must be a dict name -> default")
        declared = {}
        for key, value in (params or {}).items():
            declared[key] = value if isinstance(value, Param) else Param(value)
        self.name = name
        self.params = _Params(declared)
        self.status = Ref("workflow.status", "string", "the workflow's status")
        self._image = own.get("image")
        self._policies = _policies(own, "couler.workflow()")
        self._recorder = None

    def __enter__(self):
        if self._recorder is not None:
            raise RuntimeError("a couler.workflow is recorded once; make a new one to record again")
        self._recorder = self._block.__enter__()
        where = _record.caller()
        for key, param in self.params._declared.items():
            self._recorder.add_param(param.spec(key), where)
        settings = self._recorder.settings
        settings["defaults"] = _defaults(settings.get("defaults"), self._image, self._policies)
        _active.append(self)
        return self

    def __exit__(self, *exc):
        _active.remove(self)
        self._block.__exit__(*exc)
        return False

    def _done(self):
        if self._recorder is None:
            raise RuntimeError("record the workflow first: `with couler.workflow(...) as wf:`")
        return self._recorder

    def spec(self):
        """The workflow as a spec dict (docs/spec.md, the JSON shape)."""
        return self._done().spec()

    def sources(self):
        """Spec path prefix (``steps[2]``) -> the ``(file, line)`` where it was recorded."""
        return self._done().sources()

    def spec_yaml(self):
        """The workflow as canonical spec YAML, as ``couler fmt`` prints it.

        Raises:
            couler._engine.ValidationError: the workflow is not valid (diagnostics point at
                the Python lines where the steps were recorded).
        """
        from couler import _engine

        return _engine.spec_yaml(self.spec(), self.sources())

    def validate(self):
        """Checks the workflow like ``couler validate``; returns the warnings.

        Raises:
            couler._engine.ValidationError: with every diagnostic, each pointing at the
                Python line of the step it is about.
        """
        from couler import _engine

        return _engine.validate(self.spec(), self.sources())

    def run(self, params=None, state_dir=None, parallelism=None, use_cache=True, runtime="host"):
        """Runs the workflow on the embedded local runtime and waits for it.

        Args:
            params: values for the workflow's params, ``{"lr": 0.5}``.
            state_dir: where runs, logs and artifacts are kept (default ``.couler``).
            parallelism: at most this many steps at once.
            use_cache: reuse outputs of identical earlier steps (memoization).
            runtime: ``"host"`` (processes) or ``"docker"``/``"podman"``.

        Returns:
            the run's result: ``.status`` (``"Succeeded"``, ``"Failed"``, …) and ``.steps``, a
            dict step name -> outcome (``.status``, ``.parameters["return"]``, ``.result``).

        Raises:
            couler._engine.ValidationError: the workflow is not valid; nothing ran.

        Example:
            >>> result = wf.run(params={"rows": 100}, state_dir="/tmp/state")
            >>> result.steps[total_task.name].parameters["return"]
        """
        from couler import _engine

        return _engine.run_local(self.spec(), self.sources(), params=params, state_dir=state_dir,
                                 parallelism=parallelism, use_cache=use_cache, runtime=runtime)

    def compile(self, target, output_dir=None, **options):
        """Compiles the workflow for an engine.

        Args:
            target: ``"argo"``, ``"airflow"`` or ``"tekton"``.
            output_dir: when given, the files are written there (all or none).
            options: the ``couler compile`` flags, e.g. ``operator="kubernetes"``.

        Returns:
            a dict file name -> text.

        Raises:
            couler._engine.ValidationError: the workflow is not valid, or the engine cannot
                express a feature it uses (the message says which and what to do instead).
        """
        from couler import _engine

        return _engine.compile(self.spec(), target, output_dir, self.sources(), **options)

    def __repr__(self):
        return "Workflow(%r)" % self.name


class _WorkflowEntry(object):
    """``couler.workflow``: called, it starts describing a workflow with the Pythonic API; as
    an object it stands for the workflow being recorded now (the original SDK's
    ``states.workflow``: its attributes are the current recorder's), so programs written for
    the original keep working."""

    def __call__(self, name=None, params=None, **options):
        """Starts describing a workflow: use as ``with couler.workflow("name") as wf:``.

        Args:
            name: the workflow's name (a DNS-1123 label; ``_`` becomes ``-``; default: the
                program's file name).
            params: the workflow's params, name -> default (its type is the default's) or
                :class:`Param`.
            image: the default image of every step (default ``DEFAULT_IMAGE``).
            retry, timeout, resources, cache: defaults for every step (as in ``@couler.step``).
            description, parallelism, labels, annotations, schedule, service_account,
                image_pull_secrets, volumes, volume_claims, ttl, pod_gc, artifact_repository,
                defaults: the spec's workflow fields (docs/spec.md §3), snake_case.
            dag: True (the default) orders steps by their data and ``after()`` only; False
                orders drop-in steps in program order, as the original SDK does.

        Returns:
            a :class:`Workflow` (a context manager).

        Raises:
            TypeError: an unknown option (naming the nearest valid one) or a wrong type.

        Example:
            >>> with couler.workflow("train", params={"lr": 0.1}) as wf:
            ...     train(lr=wf.params.lr)
            >>> wf.run().status
            'Succeeded'
        """
        return Workflow(name, params, **options)

    def __getattr__(self, key):
        return getattr(_record.workflow, key)

    def __setattr__(self, key, value):
        setattr(_record.workflow, key, value)

    def __repr__(self):
        return "<couler.workflow>"


workflow = _WorkflowEntry()


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
    wf = _current("couler.condition()")
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
    wf = _current("couler.for_each()")
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
    wf = _current("couler.exit_handler()")
    with wf._recorder.scope("exit"):
        yield
