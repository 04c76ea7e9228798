"""``concurrent``: the steps of several functions start together."""

from couler import _record
from couler.core.errors import keywords


@keywords
def concurrent(function_list, subtasks=False):
    """Runs each function of ``function_list``; their steps form one group that starts
    together. With ``subtasks=True`` each function's own steps run one after another."""
    if not isinstance(function_list, (list, tuple)):
        raise TypeError("argument `function_list` must be a list of functions")
    rec = _record.current()
    line = _record.caller()[1]
    group = rec.unique_name("concurrent-%s" % line)
    rets = []
    with rec.scope("group", stage=group) as scope:
        for function in function_list:
            if not callable(function):
                raise TypeError("argument `function_list` holds a %s; give functions"
                                % type(function).__name__)
            start = len(scope.steps)
            rets.append(function())
            if subtasks:
                _chain(rec, scope.steps[start:])
    if scope.steps:
        rec.add_group(group, scope.steps)
    return rets


def _chain(rec, names):
    for before, after in zip(names, names[1:]):
        deps = rec.step(after).setdefault("dependsOn", [])
        if before not in deps:
            deps.append(before)
