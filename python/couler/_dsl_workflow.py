"""``couler.workflow`` of the Pythonic API: a recording (``couler._record``) with typed
params and step defaults that can be printed, validated, run and compiled."""

import difflib

from couler import _record
from couler._dsl_options import check_options, policies, unknown
from couler._dsl_refs import SPEC_TYPES, Ref

__all__ = ["DEFAULT_IMAGE", "NotInWorkflowError", "Param", "Workflow", "workflow", "current"]

#: The image of a step when neither the step nor the workflow names one.
DEFAULT_IMAGE = "python:3.12-slim"

# couler.workflow's own options: step defaults. The spec's workflow fields (description,
# parallelism, labels, schedule, ...) and `dag` are the recorder's (couler._record).
_STEP_DEFAULTS = ("image", "retry", "timeout", "resources", "cache")
_active = []


class NotInWorkflowError(RuntimeError):
    """A step function was called, or a control-flow block opened, outside
    ``with couler.workflow(...)``."""


def current(what):
    """The innermost Pythonic workflow being recorded; ``what`` names the caller in the error."""
    if not _active:
        raise NotInWorkflowError(
            "%s was called outside a workflow, so nothing was recorded. Call it inside "
            "`with couler.workflow(\"name\") as wf:` to add it to that workflow; to run a step "
            "function as plain Python, call its `.fn(...)`" % what
        )
    return _active[-1]


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
        """The spec's param entry (docs/spec.md §3.1)."""
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
            raise unknown("couler.workflow()", key, list(_STEP_DEFAULTS))
    check_options(own, _STEP_DEFAULTS, "couler.workflow()")
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
        self._policies = policies(own, "couler.workflow()")
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


# ``couler.workflow`` is one object: the recorder's (the original SDK's ``states.workflow``, whose
# attributes are the current recording's); called, it makes the Pythonic API's Workflow.
_record.use_block(Workflow)
workflow = _record.workflow
