"""Explicit dependencies: ``dag`` (paths of steps) and ``set_dependencies``. Either switches
the workflow to DAG mode: steps are ordered by their dependencies only, not by program order."""

import re

from couler import _record
from couler.core.errors import refuse
from couler.core.errors import keywords


@keywords
def dag(dependency_graph):
    """``dag([[a, b, d], [a, c, d]])``: in each path every step runs after the one before it;
    a function named in several paths is one step."""
    if not isinstance(dependency_graph, (list, tuple)):
        raise TypeError("argument `dependency_graph` must be a list of paths (lists of functions)")
    rec = _record.current()
    rec.enable_dag_mode()
    line = _record.caller()[1]
    for path in dependency_graph:
        if not isinstance(path, (list, tuple)):
            raise TypeError("argument `dependency_graph` holds a %s; each path is a list of "
                            "functions" % type(path).__name__)
        previous = None
        for node in path:
            if not callable(node):
                raise TypeError("a `dag` path holds a %s; give functions that run steps"
                                % type(node).__name__)
            with rec.scope("dag", line=line, previous=previous) as scope:
                node()
            if scope.steps:
                previous = scope.steps[-1]


_DEPENDS_WORD = re.compile(r"^[A-Za-z0-9_.-]+$")


@keywords
def set_dependencies(step_function, dependencies=None):
    """Runs ``step_function``'s steps after the steps named in ``dependencies`` (a list of
    names, or names joined by ``&&``); their output artifacts are handed to it."""
    if not callable(step_function):
        raise TypeError("argument `step_function` must be callable (it records the step)")
    names = _resolved(dependencies)
    rec = _record.current()
    rec.enable_dag_mode()
    with rec.scope("depends", on=names):
        return step_function()


# The last dependency list resolved and its names: a layered program gives one list to every
# step of the next layer, so each list is checked and resolved once.
_last = (None, None)


def _resolved(dependencies):
    global _last
    key = tuple(dependencies) if isinstance(dependencies, list) else dependencies
    if _last[0] != key or key is None:
        _last = (key, tuple(_names(dependencies)))
    return _last[1]


def _names(dependencies):
    if dependencies is None:
        return []
    if isinstance(dependencies, str):
        words = [w.strip() for w in dependencies.split("&&")]
        if not all(_DEPENDS_WORD.match(w) for w in words):
            refuse("Argo's enhanced `depends` logic (`%s`)" % dependencies,
                   "give the list of step names; for `B.Failed`-style conditions use "
                   "`couler.when` on `steps.B.status`")
        # `A.Succeeded` is what a dependency means in Couler: run after A succeeded.
        words = [w[: -len(".Succeeded")] if w.endswith(".Succeeded") else w for w in words]
        bad = [w for w in words if "." in w]
        if bad:
            refuse("task results other than Succeeded in `depends` (`%s`)" % bad[0],
                   "depend on the step by name; read its status with a `when`")
        dependencies = words
    if not isinstance(dependencies, (list, tuple)):
        raise TypeError("argument `dependencies` must be a list of step names or a str")
    for d in dependencies:
        if not isinstance(d, str):
            raise TypeError("argument `dependencies` holds a %s; give step names"
                            % type(d).__name__)
    return [_record.safe_name(d) for d in dependencies]
