"""The step zoo (docs/zoo.md) in the Pythonic API: reusable, typed step templates.

```python
import couler
from couler import zoo

with couler.workflow("churn") as wf:
    data = zoo.read_csv(file=made.outputs.data)              # or zoo.use("read-csv", ...)
    parts = zoo.split(data=data.outputs.data, label="churned")
    forest = zoo.train_random_forest(train=parts.outputs.train, label="churned", n_estimators=50)
```

Each call records a step ``uses: zoo/NAME@VERSION`` with ``with:`` set from the keyword
arguments, so it compiles to exactly the IR of the same step in a spec file (the Rust core
expands both). Arguments are checked against the entry's typed parameters and inputs when the
call is made; the returned :class:`couler.Task` has each output (parameters and artifacts) under
``.outputs``.
"""

import difflib
import json

from couler import _native, _record
from couler._dsl_refs import ArtifactRef, Ref
from couler._dsl_workflow import current

__all__ = ["use", "entries"]

_TYPES = {"int": (int,), "float": (int, float), "bool": (bool,), "string": (str,)}
_ENTRIES = []


def entries():
    """Every entry of the zoo (as ``couler zoo list --output json`` gives them)."""
    if not _ENTRIES:
        _ENTRIES.extend(json.loads(_native.zoo_entries()))
    return list(_ENTRIES)


def _entry(name, version):
    found = [e for e in entries() if e["name"] == name]
    if not found:
        near = difflib.get_close_matches(name, [e["name"] for e in entries()], n=1)
        raise ValueError("unknown zoo entry `%s`%s; `couler zoo list` lists them"
                         % (name, "; did you mean `%s`?" % near[0] if near else ""))
    if version is None:
        return max(found, key=lambda e: e["version"])
    for e in found:
        if e["version"] == version:
            return e
    raise ValueError("zoo entry `%s` has no version %s (available: %s)"
                     % (name, version, ", ".join(str(e["version"]) for e in found)))


def _artifact(entry, key, value):
    from couler.dsl import Task

    if isinstance(value, Task):
        value = value._single("zoo.%s" % entry["name"], key)
    if not isinstance(value, ArtifactRef):
        raise TypeError("zoo.%s(): input `%s` takes an artifact (a step's `.outputs.NAME`), got %r"
                        % (entry["name"], key, value))
    return value.expr


def _value(entry, key, value):
    inputs = {i["name"]: i for i in entry.get("inputs", [])}
    if key in inputs:
        if inputs[key].get("list"):
            return [_artifact(entry, key, v) for v in value]
        return _artifact(entry, key, value)
    params = {p["name"]: p for p in entry.get("params", [])}
    if key not in params:
        near = difflib.get_close_matches(key, list(params) + list(inputs), n=1)
        raise TypeError("zoo.%s() got an unexpected keyword argument `%s`%s" % (
            entry["name"], key, "; did you mean `%s`?" % near[0] if near else ""))
    if isinstance(value, Ref):
        return str(value)
    if isinstance(value, (list, tuple)):
        value = [str(v) if isinstance(v, Ref) else v for v in value]
    types = _TYPES.get(params[key].get("type", "string"))
    if types and (not isinstance(value, types) or (bool not in types and isinstance(value, bool))):
        raise TypeError("zoo.%s(): parameter `%s` expects %s, got %r"
                        % (entry["name"], key, params[key].get("type", "string"), value))
    return value


def use(entry, name=None, version=None, **arguments):
    """Adds a step running the zoo entry ``entry`` (its latest version unless ``version``);
    ``name`` is the step's name (default: the entry's). Returns a :class:`couler.Task`."""
    from couler.dsl import Task, _Outputs

    e = _entry(entry, version)
    wf = current("zoo.use(%r)" % entry)
    with_ = {k: _value(e, k, v) for k, v in arguments.items()}
    step = {"name": wf._recorder.unique_name(_record.safe_name(name or entry)),
            "uses": "zoo/%s@%d" % (e["name"], e["version"])}
    if with_:
        step["with"] = with_
    step_name = wf._recorder.add_step(step, _record.caller())
    task = Task(wf._recorder, step_name, None, [], False)
    outputs = e.get("outputs", {})
    refs = {o["name"]: ArtifactRef(step_name, o["name"]) for o in outputs.get("artifacts", [])}
    for o in outputs.get("parameters", []):
        refs[o["name"]] = Ref("steps.%s.outputs.parameters.%s" % (step_name, o["name"]), "string",
                              "output `%s` of step `%s`" % (o["name"], step_name))
    task.outputs = _Outputs(None, refs)
    return task


def __getattr__(attr):
    """``zoo.train_random_forest(...)`` is ``zoo.use("train-random-forest", ...)``."""
    entry = attr.replace("_", "-")
    if attr.startswith("__") or not any(e["name"] == entry for e in entries()):
        raise AttributeError("module 'couler.zoo' has no attribute %r" % attr)

    def call(name=None, version=None, **arguments):
        return use(entry, name=name, version=version, **arguments)

    call.__name__ = attr
    return call
