"""The engine behind Couler's Python APIs: validating, printing, compiling and running a
recorded workflow through the Rust core (``couler._native``).

A recorded workflow is a plain ``dict`` in the Couler spec format (docs/spec.md) plus
``sources``: a mapping from a spec path prefix (``"steps[3]"``) to the user's
``(filename, lineno)`` where that element was made. Diagnostics carry their spec path; this
module maps each to the user's Python line (the longest matching prefix).
"""

import json
import os
import sys
import warnings

from couler import _native

__all__ = [
    "CoulerError",
    "ValidationError",
    "CompileError",
    "Diagnostic",
    "spec_yaml",
    "validate",
    "compile",
    "argo_workflow",
    "run_local",
    "RunResult",
    "StepResult",
    "LocalSubmitter",
    "submit_argo",
    "ArgumentError",
    "CoulerWarning",
    "TARGETS",
]

CoulerError = _native.CoulerError
CompileError = _native.CompileError

TARGETS = ("argo", "airflow", "tekton")


class Diagnostic:
    """One problem found in a spec, as ``couler validate`` reports it."""

    __slots__ = ("severity", "message", "path", "help", "source", "_rendered")

    def __init__(self, severity, message, path=None, help=None, source=None, rendered=None):
        self.severity = severity
        self.message = message
        self.path = path
        self.help = help
        self.source = source
        self._rendered = rendered

    def __str__(self):
        text = self._rendered or "{}: {}\n".format(self.severity, self.message)
        if self.source is not None:
            text += "  --> {}:{}\n".format(self.source[0], self.source[1])
        return text.rstrip("\n")

    def __repr__(self):
        return "Diagnostic({!r}, {!r}, path={!r}, source={!r})".format(
            self.severity, self.message, self.path, self.source
        )


class ValidationError(CoulerError, ValueError):
    """The spec is refused; ``diagnostics`` lists every problem (errors and warnings)."""

    def __init__(self, diagnostics):
        self.diagnostics = list(diagnostics)
        errors = sum(1 for d in self.diagnostics if d.severity == "error")
        head = "the workflow is not valid ({} error{})".format(errors, "" if errors == 1 else "s")
        super().__init__("\n".join([head] + [str(d) for d in self.diagnostics]))


def _source_of(path, sources):
    """The user's line of the longest prefix of ``path`` that ``sources`` maps."""
    if not path or not sources:
        return None
    best = None
    for prefix, where in sources.items():
        if path == prefix or path.startswith(prefix + ".") or path.startswith(prefix + "["):
            if best is None or len(prefix) > len(best[0]):
                best = (prefix, where)
    return None if best is None else (str(best[1][0]), int(best[1][1]))


def _diagnostics(raw_json, sources):
    return [
        Diagnostic(
            d["severity"],
            d["message"],
            d.get("path"),
            d.get("help"),
            _source_of(d.get("path"), sources),
            d.get("rendered"),
        )
        for d in json.loads(raw_json)
    ]


def _spec_json(spec):
    if not isinstance(spec, dict):
        raise TypeError("spec must be a dict (the workflow in the Couler spec format), got {}".format(
            type(spec).__name__))
    try:
        return json.dumps(spec)
    except (TypeError, ValueError) as e:
        raise TypeError("spec is not plain data (dicts, lists, str, numbers, bools, None): {}".format(e)) from None


def _call(spec, sources, fn, *args):
    """Calls a native function on the spec, turning a refused spec into ``ValidationError``."""
    if sources is not None and not isinstance(sources, dict):
        raise TypeError("sources must be a dict (spec path -> (file, line)), got {}".format(
            type(sources).__name__))
    try:
        return fn(_spec_json(spec), *args)
    except _native.InvalidSpec as e:
        raise ValidationError(_diagnostics(e.args[0], sources)) from None
    except _native.InvalidArgument as e:
        raise ArgumentError(e.args[0]) from None


def _check(name, value, types, what):
    """``TypeError`` naming the argument unless ``value`` is None or of ``types`` (not bool
    where an int is wanted)."""
    if value is None or (isinstance(value, types) and not (isinstance(value, bool) and bool not in types)):
        return value
    raise TypeError("{} must be {}, got {}".format(name, what, type(value).__name__))


def _path(value):
    return None if value is None else os.fspath(value)


class CoulerWarning(UserWarning):
    """What ``couler compile`` prints as a warning (the workflow still compiles)."""


class ArgumentError(CoulerError, ValueError):
    """An argument other than the spec is wrong (an unknown target, an option for another one)."""


def spec_yaml(spec, sources=None):
    """The workflow as canonical Couler spec YAML (what ``couler fmt`` writes)."""
    return _call(spec, sources, _native.spec_yaml)


def validate(spec, sources=None):
    """Checks the workflow as ``couler validate`` does: raises ``ValidationError`` when it is
    refused, else returns its warnings (a list of ``Diagnostic``)."""
    return _diagnostics(_call(spec, sources, _native.validate), sources)


def compile(spec, target, output_dir=None, sources=None, **options):
    """Compiles the workflow for ``target`` ("argo", "airflow" or "tekton"); returns file name
    -> text. With ``output_dir``, also writes the files there, all or nothing. ``options`` are
    ``couler compile``'s flags in snake_case: kind ("workflow", "workflow-template",
    "cron-workflow"), no_template_reuse, operator ("host", "kubernetes", "docker"), launcher,
    launcher_image, artifact_store, no_recursion_limit, ignore_parallelism."""
    if not isinstance(target, str):
        raise TypeError("target must be a str (one of {}), got {}".format(
            ", ".join(TARGETS), type(target).__name__))
    given = {k: v for k, v in options.items() if v is not None}
    files, warned = _call(spec, sources, _native.compile, target, json.dumps(given))
    for text in warned:
        warnings.warn(text, CoulerWarning, stacklevel=2)
    if output_dir is not None:
        _write_all(os.fspath(output_dir), files)
    return files


def _write_all(directory, files):
    """Writes every file or none: each goes to a temporary file beside its place first, and
    only when all are written (and no place is taken by a directory) are they renamed."""
    import tempfile

    os.makedirs(directory, exist_ok=True)
    staged = []
    try:
        for name in files:
            path = os.path.join(directory, name)
            if os.path.isdir(path):
                raise IsADirectoryError("cannot write {}: a directory is in the way".format(path))
            fd, tmp = tempfile.mkstemp(prefix=".{}.".format(name), suffix=".couler-tmp", dir=directory)
            staged.append((tmp, path))
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(files[name])
        for tmp, path in staged:
            os.replace(tmp, path)
    except BaseException:
        for tmp, _ in staged:
            _remove(tmp)
        raise


def _remove(path):
    try:
        os.remove(path)
    except OSError:
        pass


def argo_workflow(spec, sources=None):
    """The Argo Workflow manifest of the workflow, as a dict."""
    return json.loads(_call(spec, sources, _native.argo_workflow))


class StepResult:
    """What one step (or one map instance, ``train[2]``) of a local run ended with."""

    __slots__ = ("name", "status", "exit_code", "result", "parameters", "artifacts", "message",
                 "attempts", "log_dir")

    def __init__(self, record):
        outputs = record.get("outputs") or {}
        self.name = record["node"]
        self.status = record["status"]
        self.exit_code = record.get("exitCode")
        self.result = outputs.get("result")
        self.parameters = dict(outputs.get("parameters") or {})
        self.artifacts = dict(record.get("artifactPaths") or {})
        self.message = record.get("message")
        self.attempts = record.get("attempts", 0)
        self.log_dir = record.get("logDir")

    def __repr__(self):
        return "StepResult({!r}, status={!r}, exit_code={!r})".format(
            self.name, self.status, self.exit_code)


class RunResult:
    """A local run's outcome: ``status`` ("Succeeded", "Failed", "Error", ...), ``run_id``,
    ``state_dir``, ``message`` and ``steps`` (node name -> ``StepResult``)."""

    __slots__ = ("status", "run_id", "workflow", "state_dir", "message", "seconds", "steps")

    def __init__(self, report):
        self.status = report["status"]
        self.run_id = report["runId"]
        self.workflow = report["workflow"]
        self.state_dir = report["stateDir"]
        self.message = report.get("message")
        self.seconds = report.get("seconds")
        self.steps = {s["node"]: StepResult(s) for s in report.get("steps", [])}

    @property
    def succeeded(self):
        return self.status == "Succeeded"

    def __repr__(self):
        return "RunResult({!r}, status={!r}, steps={})".format(
            self.run_id, self.status, len(self.steps))


def _param_text(name, value):
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        raise TypeError("params[{!r}] must be a str, number, bool, list or dict, got {}".format(
            name, type(value).__name__)) from None


def run_local(spec, sources=None, *, params=None, state_dir=None, parallelism=None,
              use_cache=True, runtime="host", spec_dir=None):
    """Runs the workflow on the embedded local runtime, in this process, as ``couler run``
    does, and returns a ``RunResult``. A failing step is a status, not an exception. State
    (runs, logs, artifacts, cache) goes to ``state_dir`` (default ``$COULER_STATE_DIR`` or
    ``.couler``). Ctrl-C stops the run as ``couler stop`` does (the exit handler still runs),
    then raises ``KeyboardInterrupt``."""
    params = _check("params", params, (dict,), "a dict (name -> value)") or {}
    _check("parallelism", parallelism, (int,), "an int or None")
    _check("runtime", runtime, (str,), 'a str ("host", "docker" or "podman")')
    _check("use_cache", use_cache, (bool,), "a bool")
    pairs = [(str(k), _param_text(k, v)) for k, v in params.items()]
    # On the host, a tuned step's proposers run the native proposal with this Python
    # (docs/tuning.md): no couler command needs to be installed. In containers they run
    # `couler tune propose` in the couler image ([] keeps that default).
    propose = [sys.executable, "-m", "couler._propose"] if runtime == "host" else []
    report = _call(spec, sources, _native.run_local, pairs, _path(state_dir), parallelism,
                   use_cache, runtime, _path(spec_dir), propose)
    return RunResult(json.loads(report))


class LocalSubmitter:
    """Runs a recorded workflow on the embedded local runtime: ``couler.run(submitter=
    LocalSubmitter())``."""

    def __init__(self, state_dir=None, params=None, parallelism=None, use_cache=True):
        self.state_dir = state_dir
        self.params = params
        self.parallelism = parallelism
        self.use_cache = use_cache

    def submit(self, spec, sources=None):
        return run_local(spec, sources, params=self.params, state_dir=self.state_dir,
                         parallelism=self.parallelism, use_cache=self.use_cache)


def submit_argo(spec, namespace="default", kubeconfig=None, context=None, sources=None, server=None,
                secrets=None):
    """Compiles the workflow for Argo and creates it on a cluster through the Kubernetes API,
    as ``couler submit`` does; returns what was created: ``{"kind", "namespace", "name",
    "uid"}``. ``kubeconfig`` (a path) and ``context`` choose the cluster and credentials
    (default: ``$KUBECONFIG`` or ``~/.kube/config`` and its current context, else the pod's
    service account); ``server`` talks to an API server URL directly (``kubectl proxy``).
    ``namespace=None`` uses the context's. ``secrets``: Kubernetes Secret manifests (dicts) the
    workflow reads, created first in the same namespace unless one of that name is there."""
    manifest = argo_workflow(spec, sources)
    return submit_manifest(manifest, namespace, kubeconfig, context, server, secrets)


def submit_manifest(manifest, namespace="default", kubeconfig=None, context=None, server=None,
                    secrets=None):
    """Creates an Argo document already compiled (a dict, as :func:`argo_workflow` returns)
    and the ``secrets`` it reads on a cluster; arguments as :func:`submit_argo`."""
    for name, value in (("namespace", namespace), ("context", context), ("server", server)):
        _check(name, value, (str,), "a str or None")
    _check("manifest", manifest, (dict,), "a dict (an Argo document)")
    if secrets is not None and not all(isinstance(s, dict) for s in secrets):
        raise TypeError("secrets must be a list of Kubernetes Secret manifests (dicts)")
    try:
        created = _native.submit_manifest(json.dumps(manifest), namespace, _path(kubeconfig),
                                          context, server, json.dumps(list(secrets or [])))
    except _native.InvalidArgument as e:
        raise ArgumentError(e.args[0]) from None
    return json.loads(created)


def delete(name, kind="Workflow", namespace="default", kubeconfig=None, context=None, server=None):
    """Deletes the Argo object ``kind``/``name`` (a submitted Workflow by default; its pods go
    with it) from a cluster, through the same client as :func:`submit_argo`; returns the
    namespace it was deleted from. Arguments as :func:`submit_argo`."""
    for arg, value in (("name", name), ("kind", kind)):
        _check(arg, value, (str,), "a str")
    for arg, value in (("namespace", namespace), ("context", context), ("server", server)):
        _check(arg, value, (str,), "a str or None")
    return _native.delete(kind, name, namespace, _path(kubeconfig), context, server)
