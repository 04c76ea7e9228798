"""The recorder: what `couler.*` calls write into while a program describes a workflow.

A :class:`Recorder` holds one workflow in the Couler spec shape (``docs/spec.md``) plus, per
element, the user's ``(file, line)`` where it was made, so the engine's diagnostics point at the
user's own Python line. Control flow (``when``, ``map``, ``concurrent``, ``exec_while``, the exit
handler, ``dag``) is a stack of scopes on the recorder: a step added inside one gets its
condition, fan-out, group, loop or place.

Ordering follows the original Couler SDK. Until ``dag``/``set_dependencies`` is used, a
workflow is a *sequence*: each stage (one step, a ``concurrent`` group, the branches of ``when``
on one output, or repeated calls from one line) runs after the previous stage. In DAG mode only
data references and explicit dependencies order steps.
"""

import copy
import functools
import os
import re
import sys

API_VERSION = "couler.dev/v1alpha1"
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))

__all__ = ["Recorder", "current", "caller", "invocation", "safe_name", "recording", "workflow"]


# A name that is already a DNS-1123 label: safe_name returns it unchanged (the common case,
# once per dependency name, so it skips the substitutions below).
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")


def safe_name(name):
    """A DNS-1123 label from a Python name: ``flip_coin`` -> ``flip-coin`` (the original's rule:
    ``_`` and ``.`` become ``-``), lowercased, at most 63 characters."""
    if type(name) is str and "--" not in name and _LABEL.fullmatch(name):
        return name
    return _label(str(name))


@functools.lru_cache(maxsize=1024)  # names made from a function's name, once per step
def _label(name):
    name = name.strip("<>")
    name = re.sub(r"[^a-z0-9-]", "-", name.replace("_", "-").replace(".", "-").lower())
    name = re.sub(r"-+", "-", name).strip("-")[:63].strip("-")
    return name or "step"


def program_name():
    """The running program's file name, as the original names a workflow: the outermost
    frame's file (``pytest`` under pytest, ``runpy`` under ``python -m``)."""
    frame = sys._getframe(0)
    while frame.f_back is not None:
        frame = frame.f_back
    path = frame.f_code.co_filename
    if path.startswith("<frozen ") and path.endswith(">"):  # <frozen runpy> on 3.11+
        path = path[len("<frozen "):-1]
    return safe_name(os.path.splitext(os.path.basename(path))[0])


# File name -> whether it is inside the couler package (asked per frame, per recorded step).
_ours = {}


def _is_ours(frame):
    filename = frame.f_code.co_filename
    ours = _ours.get(filename)
    if ours is None:
        path = os.path.abspath(filename)
        ours = path.startswith(_PACKAGE_DIR + os.sep) and "/tests/" not in path[len(_PACKAGE_DIR):]
        _ours[filename] = ours
    return ours



def _user_frame(depth):
    """The first frame at or above ``depth`` (above this function's caller) that is not inside
    the couler package."""
    frame = sys._getframe(depth + 1)
    while frame is not None and _is_ours(frame):
        frame = frame.f_back
    return frame


def caller(depth=1):
    """The user's ``(file, line)`` that called the API function calling this (``depth`` 1), skipping
    frames inside the couler package."""
    frame = _user_frame(depth + 1)
    if frame is None:
        return ("<unknown>", 0)
    return (frame.f_code.co_filename, frame.f_lineno)


def invocation(depth=1):
    """``(function name, call line, where)`` of an API call, as the original SDK names steps:
    the user function that called the API (``flip_coin``) and the line where that function was
    called; at module level, the file's name and the line of the call. ``where`` is the
    ``(file, line)`` of the API call itself."""
    frame = _user_frame(depth + 1)
    if frame is None:
        return ("step", 0, ("<unknown>", 0))
    where = (frame.f_code.co_filename, frame.f_lineno)
    func = frame.f_code.co_name
    if func == "<module>":
        base = os.path.splitext(os.path.basename(frame.f_code.co_filename))[0]
        return (safe_name(base), frame.f_lineno, where)
    outer = frame.f_back
    while outer is not None and _is_ours(outer):
        outer = outer.f_back
    line = outer.f_lineno if outer is not None else frame.f_lineno
    return (safe_name(func), line, where)


# Workflow fields a recording may set up front: ``couler.workflow("name", parallelism=4)``.
_SETTINGS = {
    "description": "description", "labels": "labels", "annotations": "annotations",
    "parallelism": "parallelism", "schedule": "schedule", "service_account": "serviceAccount",
    "image_pull_secrets": "imagePullSecrets", "volumes": "volumes",
    "volume_claims": "volumeClaims", "ttl": "ttl", "pod_gc": "podGC",
    "artifact_repository": "artifactRepository", "defaults": "defaults",
}


def _settings(options):
    """The spec fields of ``options`` (snake_case keywords); ``dag`` is the recorder's own. An
    unknown keyword is a ``TypeError`` naming the nearest valid one."""
    out = {}
    for key, value in options.items():
        if key == "dag":
            continue
        field = _SETTINGS.get(key)
        if field is None:
            import difflib

            near = difflib.get_close_matches(key, list(_SETTINGS) + ["dag"], n=1)
            raise TypeError("workflow() got an unexpected keyword argument `%s`%s" % (
                key, "; did you mean `%s`?" % near[0] if near else ""))
        out[field] = value
    return out


class Scope(object):
    """One level of control flow; the recorder applies every open scope to each new step."""

    def __init__(self, kind, **fields):
        self.kind = kind
        self.fields = fields
        self.steps = []

    def __getitem__(self, key):
        return self.fields.get(key)


class _Open(object):
    """A scope open on a recorder's stack for a ``with`` block (a class, not a generator:
    entered once per recorded step)."""

    __slots__ = ("stack", "scope")

    def __init__(self, stack, scope):
        self.stack = stack
        self.scope = scope

    def __enter__(self):
        self.stack.append(self.scope)
        return self.scope

    def __exit__(self, *exc):
        self.stack.remove(self.scope)
        return False


class Recorder(object):
    """One workflow being recorded, in the spec's shape."""

    def __init__(self, name=None, **options):
        self.name = name
        self.options = dict(options)
        self.settings = _settings(options)
        self.step_defaults = {}
        self.template_steps = {}
        self.steps = []
        self.exit_steps = []
        self.params = []
        self.groups = []
        self._sources = {}
        self._by_name = {}
        self._scopes = []
        self._stages = {}
        self.dag_mode = bool(options.get("dag", False))

    # ---- steps -------------------------------------------------------------------------

    def add_step(self, step, where, stage=None, template=None):
        """Adds ``step`` (a spec dict) inside the open scopes; returns its unique name.

        ``stage`` groups steps that run side by side in sequence mode (the original's step
        key); by default the step's base name, so calls from one line share a stage."""
        base = safe_name(step.get("name") or "step")
        if self.dag_mode and base in self._by_name:
            # In DAG mode a name made again (a node in a second `dag` path, a step given to
            # `set_dependencies` again) is the same step: it only gains the new edges.
            existing = self._by_name[base]
            for scope in self._scopes:
                if scope.kind in ("dag", "depends"):
                    self._apply(scope, existing)
                scope.steps.append(base)
            return base
        name = self._unique(base)
        step["name"] = name
        exit_scope = self._innermost("exit")
        for scope in self._scopes:
            self._apply(scope, step)
        target = self.exit_steps if exit_scope is not None else self.steps
        prefix = "onExit" if target is self.exit_steps else "steps"
        self._sources["%s[%d]" % (prefix, len(target))] = where
        target.append(step)
        self._by_name[name] = step
        self.template_steps.setdefault(safe_name(template or base), name)
        key = stage if stage is not None else base
        for scope in self._scopes:
            scope.steps.append(name)
            if scope["stage"] is not None:
                key = scope["stage"]
        self._stages.setdefault((prefix, key), []).append(name)
        return name

    def unique_name(self, base):
        """``base``, or ``base-2``, ``base-3`` … if a step or group has it."""
        return self._unique(base)

    def _unique(self, base):
        name, n = base, 1
        while name in self._by_name or (self.groups and
                                         any(g["name"] == name for g in self.groups)):
            n += 1
            suffix = "-%d" % n
            name = base[: 63 - len(suffix)] + suffix
        return name

    def _apply(self, scope, step):
        if scope.kind == "when":
            cond = scope["condition"]
            old = step.get("when")
            step["when"] = cond if old is None else "(%s) && (%s)" % (cond, old)
        elif scope.kind == "map":
            if "map" in step:
                raise _engine_error(
                    "step `%s` is inside two `map`s: a step fans out over one list"
                    % step["name"]
                )
            step["map"] = dict(scope["map"])
        elif scope.kind == "depends":
            names = dict.fromkeys(scope["on"])  # each once, in order
            deps = step.get("dependsOn")
            if deps is None:
                step["dependsOn"] = list(names)
            else:
                deps.extend([d for d in names if d not in deps])
        elif scope.kind == "dag":
            prev = scope["previous"]
            if prev is not None:
                deps = step.setdefault("dependsOn", [])
                if prev not in deps:
                    deps.append(prev)

    def step(self, name):
        """The recorded step dict named ``name`` (main or exit), or None."""
        return self._by_name.get(name)

    def add_param(self, param, where):
        self._sources["params[%d]" % len(self.params)] = where
        self.params.append(param)

    def add_group(self, name, members):
        self.groups.append({"name": name, "steps": list(members)})

    # ---- scopes ------------------------------------------------------------------------

    def scope(self, kind, **fields):
        """``with recorder.scope(kind, ...) as s``: a control-flow scope open for the block
        (``s.steps`` lists the names added inside)."""
        return _Open(self._scopes, Scope(kind, **fields))

    def _innermost(self, kind):
        for s in reversed(self._scopes):
            if s.kind == kind:
                return s
        return None

    def innermost(self, kind):
        return self._innermost(kind)

    def enable_dag_mode(self):
        self.dag_mode = True

    # ---- results -----------------------------------------------------------------------

    def _sequence_edges(self, prefix):
        """Step name -> the names it runs after in sequence mode (the previous stage)."""
        edges = {}
        if self.dag_mode:
            return edges
        stages = [names for key, names in self._stages.items() if key[0] == prefix]
        for before, after in zip(stages, stages[1:]):
            for name in after:
                edges[name] = [d for d in before if d != name]
        return edges

    def _finished_steps(self, steps, prefix):
        """``steps`` with their sequence edges and the step defaults added. A step that gains
        nothing is the recorder's own dict; one that does is a shallow copy (with its own
        ``dependsOn``), so the recording itself never changes."""
        edges = self._sequence_edges(prefix)
        out = []
        for step in steps:
            after = edges.get(step["name"])
            if after is not None or self.step_defaults:
                step = dict(step)
            if after is not None:
                deps = list(step.get("dependsOn", []))
                for d in after:
                    if d not in deps:
                        deps.append(d)
                step["dependsOn"] = deps
            for key, value in self.step_defaults.items():
                step.setdefault(key, copy.deepcopy(value))
            out.append(step)
        return out

    def spec(self, shared=False):
        """The whole workflow as a spec dict for ``couler._engine``: a deep copy the caller may
        change, or with ``shared`` one whose steps share the recorder's dicts (for handing
        straight to the engine, which only reads them; no copy of thousands of steps)."""
        main = self._finished_steps(self.steps, "steps")
        exits = self._finished_steps(self.exit_steps, "onExit")
        if not shared:
            main, exits = copy.deepcopy(main), copy.deepcopy(exits)
        spec = {"apiVersion": API_VERSION, "kind": "Workflow", "name": self.workflow_name()}
        if self.params:
            spec["params"] = copy.deepcopy(self.params)
        for key in sorted(self.settings):
            spec[key] = copy.deepcopy(self.settings[key])
        if self.groups:
            spec["groups"] = copy.deepcopy(self.groups)
        spec["steps"] = main
        if exits:
            spec["onExit"] = exits
        return spec

    def workflow_name(self):
        if self.name:
            return safe_name(self.name)
        return program_name()

    def sources(self):
        return dict(self._sources)


def _engine_error(message):
    from couler.core.errors import RecordingError

    return RecordingError(message)


_stack = [Recorder()]


def current():
    """The recorder ``couler.*`` records into now."""
    return _stack[-1]


class recording(object):
    """Records into a fresh :class:`Recorder` for a ``with`` block, restoring the previous one
    after. Bad options raise at the call, before the block."""

    def __init__(self, name=None, **options):
        # A block is a new-style workflow: ordered by data and explicit dependencies only
        # (dag=False asks for the original SDK's program order).
        options.setdefault("dag", True)
        self.recorder = Recorder(name, **options)

    def __enter__(self):
        _stack.append(self.recorder)
        return self.recorder

    def __exit__(self, *exc):
        _stack.remove(self.recorder)
        return False


def reset():
    """Starts over with an empty default recorder (the original's ``_cleanup``)."""
    del _stack[1:]
    _stack[0] = Recorder()


# What ``couler.workflow(...)`` makes: a plain recording block here; the package's top level
# (``couler/__init__.py``) names the Pythonic API's workflow instead, so this ground-floor module
# never imports the floors above it.
_block = recording


def use_block(factory):
    """Makes ``couler.workflow(name, **options)`` return ``factory(name, **options)``."""
    global _block
    _block = factory


class _Current(object):
    """``couler.workflow``: stands for the current recorder (attributes are read from and
    written to it); called, ``with couler.workflow("name", **options) as wf:`` records the
    block into a fresh recorder and restores the previous one after."""

    def __getattr__(self, name):
        rec = current()
        try:
            return getattr(rec, name)
        except AttributeError:
            from couler.core.argo_view import ArgoView

            return getattr(ArgoView(rec), name)

    def __setattr__(self, name, value):
        setattr(current(), name, value)

    def __call__(self, name=None, **options):
        return _block(name, **options)

    def __repr__(self):
        return "<couler.workflow %r: %d steps>" % (current().workflow_name(), len(current().steps))


workflow = _Current()
