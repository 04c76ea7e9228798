"""``map``: the step ``function`` records runs once per item."""

from couler import _record
from couler.core.errors import RecordingError
from couler.core.templates.output import Output, first_output


def map(function, *arguments, **options):
    """``map(f, [1, 2, 3])`` runs ``f``'s step for each item; several lists are zipped
    (``f(a, b)`` per pair); a step output holding a JSON list fans out at run time."""
    if not callable(function):
        raise TypeError("argument `function` must be callable (it records the step to map)")
    if not arguments:
        raise TypeError("map() needs at least one list of items")
    parallelism = options.pop("parallelism", None)
    if options:
        from couler.core.errors import unknown_keywords

        unknown_keywords("map", options, ["parallelism"])
    over, params = _over(arguments)
    if parallelism is not None:
        over["parallelism"] = parallelism
    with _record.current().scope("map", map=over, stage=None) as scope:
        ret = function(*params)
    if not scope.steps:
        raise RecordingError("`map` recorded no step: its function must run a step")
    return ret


def _over(arguments):
    if len(arguments) == 1:
        arg = first_output(arguments[0])
        if isinstance(arg, Output):
            return {"from": arg.value}, ["{{item}}"]
        return {"items": _items(arg, 0)}, ["{{item}}"]
    lists = [_items(a, i) for i, a in enumerate(arguments)]
    if len(set(len(x) for x in lists)) != 1:
        raise TypeError("map() lists must have the same length, got %s"
                        % ", ".join(str(len(x)) for x in lists))
    keys = ["a%d" % i for i in range(len(lists))]
    items = [dict(zip(keys, row)) for row in zip(*lists)]
    return {"items": items}, ["{{item.%s}}" % k for k in keys]


def _items(arg, position):
    if not isinstance(arg, (list, tuple)):
        raise TypeError("map() argument %d must be a list of items or a step output, not %s"
                        % (position + 1, type(arg).__name__))
    return list(arg)
