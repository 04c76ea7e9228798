"""References and conditions of the Pythonic API (``couler.dsl``).

A :class:`Ref` names a value known only when the workflow runs (a workflow param, a step's
return value, the current ``map`` item, ``workflow.status``): passing one to a step makes the
dependency, comparing one builds a :class:`Condition` for ``couler.condition``. Both render to
the spec's syntax (docs/spec.md §8, §10) by construction: literals are quoted and escaped here,
never pasted.
"""

import math
from couler.core.syntax.predicates import quote as _quote

__all__ = ["Ref", "ArtifactRef", "Condition", "condition_text"]

# Python type -> the spec's parameter type (docs/spec.md §3.1).
SPEC_TYPES = {str: "string", int: "int", float: "float", bool: "bool", list: "json", dict: "json"}


def _operand(value):
    """One side of a comparison, in condition syntax."""
    if isinstance(value, Ref):
        return value.expr
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("a condition cannot compare with %r: use a finite number" % value)
        return repr(value)
    if isinstance(value, str):
        return _quote(value)
    raise TypeError(
        "a condition compares with a str, int, float, bool or another reference, not %s"
        % type(value).__name__
    )


class Condition(object):
    """A condition over references, e.g. ``flip.output == "heads"``; combine with ``&``, ``|``
    and ``~`` (Python's ``and``/``or``/``not`` cannot be overloaded)."""

    def __init__(self, text):
        self.text = text

    def __and__(self, other):
        return Condition("(%s) && (%s)" % (self.text, condition_text(other)))

    def __rand__(self, other):
        return Condition("(%s) && (%s)" % (condition_text(other), self.text))

    def __or__(self, other):
        return Condition("(%s) || (%s)" % (self.text, condition_text(other)))

    def __ror__(self, other):
        return Condition("(%s) || (%s)" % (condition_text(other), self.text))

    def __invert__(self):
        return Condition("!(%s)" % self.text)

    def __bool__(self):
        raise TypeError(
            "a couler condition has no truth value while the workflow is being described: "
            "combine conditions with &, | and ~ (not `and`, `or`, `not`) and pass the result "
            "to `with couler.condition(...)`"
        )

    def __str__(self):
        return self.text

    def __repr__(self):
        return "Condition(%r)" % self.text


def condition_text(value):
    """The condition text of a :class:`Condition`, or of a reference used as a boolean."""
    if isinstance(value, Condition):
        return value.text
    if isinstance(value, Ref):
        return value.expr
    if isinstance(value, bool):
        return "true" if value else "false"
    raise TypeError(
        "a condition is a comparison of references (e.g. `flip.output == \"heads\"`), a "
        "reference, or a combination of those with &, | and ~; got %s" % type(value).__name__
    )


class Ref(object):
    """A value known when the workflow runs.

    ``expr`` is the spec reference (``params.lr``, ``steps.train.outputs.parameters.return``,
    ``item``); ``type`` the spec type (``"string"``, ``"int"``, ``"float"``, ``"bool"``,
    ``"json"``) or None when unknown. ``str(ref)`` is the ``{{…}}`` placeholder, so a reference
    can be put into a drop-in step's command too.
    """

    def __init__(self, expr, type=None, what=None):
        self.expr = expr
        self.type = type
        self.what = what or expr

    def _compare(self, op, other):
        return Condition("%s %s %s" % (self.expr, op, _operand(other)))

    def __eq__(self, other):
        return self._compare("==", other)

    def __ne__(self, other):
        return self._compare("!=", other)

    def __lt__(self, other):
        return self._compare("<", other)

    def __le__(self, other):
        return self._compare("<=", other)

    def __gt__(self, other):
        return self._compare(">", other)

    def __ge__(self, other):
        return self._compare(">=", other)

    def __invert__(self):
        return Condition("!%s" % self.expr)

    def __and__(self, other):
        return Condition(self.expr) & other

    def __or__(self, other):
        return Condition(self.expr) | other

    __hash__ = object.__hash__

    def __bool__(self):
        raise TypeError(
            "%s is only known when the workflow runs, so it has no truth value now: use "
            "`with couler.condition(reference == value):` to run steps depending on it"
            % self.what
        )

    def __getattr__(self, key):
        if key.startswith("_"):
            raise AttributeError(key)
        return self[key]

    def __getitem__(self, key):
        if self.expr != "item" and not self.expr.startswith("item."):
            raise TypeError(
                "only a `for_each` item has fields; %s is one value (pass it whole, or "
                "parse it in the step)" % self.what
            )
        return Ref("%s.%s" % (self.expr, key), None, "the item's field `%s`" % key)

    def __iter__(self):
        raise TypeError(
            "%s is only known when the workflow runs, so it cannot be iterated now: fan out "
            "over it with `with couler.for_each(ref) as item:`" % self.what
        )

    def __str__(self):
        return "{{%s}}" % self.expr

    def __repr__(self):
        return "Ref(%r, type=%r)" % (self.expr, self.type)


class ArtifactRef(object):
    """An output artifact of a step (``steps.S.outputs.artifacts.NAME``): a file or directory,
    passed to a parameter annotated ``couler.Input[Path]``."""

    def __init__(self, step, name):
        self.step = step
        self.name = name
        self.expr = "steps.%s.outputs.artifacts.%s" % (step, name)

    def __repr__(self):
        return "ArtifactRef(%r, %r)" % (self.step, self.name)
