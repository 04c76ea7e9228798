"""``when``: the steps ``function`` records run only if ``condition`` holds."""

from couler import _record
from couler.core.syntax.predicates import Condition
from couler.core.errors import keywords


@keywords
def when(condition, function):
    if not isinstance(condition, Condition):
        raise TypeError("argument `condition` must come from couler.equal, couler.bigger, ...")
    if not callable(function):
        raise TypeError("argument `function` must be callable (the steps to run)")
    expr = condition.expression()
    stage = "when:%s" % (condition.left_reference() or expr)
    with _record.current().scope("when", condition=expr, stage=stage):
        return function()
