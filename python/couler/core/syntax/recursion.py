"""``exec_while``: run a step again while a condition on its own output holds."""

from couler import _record
from couler.core.errors import RecordingError
from couler.core.syntax.predicates import Condition
from couler.core.templates.output import Output, first_output
from couler.core.errors import keywords

# Argo nests one template per iteration and stops near 100 (its maxAllowedStackDepth).
DEFAULT_MAX_ITERATIONS = 90


@keywords
def exec_while(condition, inner_while, max_iterations=DEFAULT_MAX_ITERATIONS):
    """``exec_while(couler.equal("tails"), flip_coin)`` runs ``flip_coin``'s step until its
    output is no longer "tails", at most ``max_iterations`` runs (Couler's loops are bounded)."""
    if not isinstance(condition, Condition):
        raise TypeError("argument `condition` must come from couler.equal, couler.bigger, ...")
    if not callable(inner_while):
        raise TypeError("argument `inner_while` must be callable (it records the step)")
    if isinstance(max_iterations, bool) or not isinstance(max_iterations, int):
        raise TypeError("argument `max_iterations` must be an int")
    rec = _record.current()
    with rec.scope("while", stage=None) as scope:
        ret = inner_while()
    if len(scope.steps) != 1:
        raise RecordingError("`exec_while` needs exactly one step, but %d were recorded%s; "
                             "to repeat several, run them in one script step"
                             % (len(scope.steps), " (%s)" % ", ".join(scope.steps)
                                if scope.steps else ""))
    out = first_output(ret)
    if not isinstance(out, Output):
        raise RecordingError("`exec_while`'s function must return its step's outputs")
    step = rec.step(scope.steps[0])
    step["repeat"] = {"while": condition.expression(left=out), "maxIterations": max_iterations}
    return ret
