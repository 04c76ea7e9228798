"""Comparisons for ``when`` and ``exec_while``: ``equal(a, b)`` is ``a == b`` in the spec's
condition language (docs/spec.md section 10)."""

import json

from couler.core.templates.output import Output, OutputJob, first_output


class Condition(dict):
    """``{"pre", "post", "condition"}`` as the original's predicates; ``expression`` gives the
    spec condition."""

    def expression(self, left=None):
        """The condition text; ``left`` stands in for a missing left side (``exec_while``)."""
        pre, post = self["pre"], self["post"]
        if post is None:
            pre, post = left, pre
        if pre is None:
            raise TypeError("a comparison needs two sides: `%s(a, b)`" % _NAMES[self["condition"]])
        return "%s %s %s" % (operand(pre), self["condition"], operand(post))

    def left_reference(self):
        pre = first_output(self["pre"])
        return pre.value if isinstance(pre, Output) else None


def quote(text):
    """``text`` as a double-quoted condition string (docs/spec.md §10.1 escapes): the one quoting
    rule of both Python APIs."""
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append("\\u{%x}" % ord(ch))
        else:
            out.append(ch)
    return '"%s"' % "".join(out)


def operand(value):
    """A value as a condition operand: a step output is its reference, text is quoted."""
    value = first_output(value)
    if isinstance(value, OutputJob):
        return value.value  # steps.NAME.status
    if isinstance(value, Output):
        return value.value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    if isinstance(value, str):
        return quote(value)
    raise TypeError("a condition compares step outputs, text and numbers, not %s"
                    % type(value).__name__)


def _predicate(pre, post, condition):
    if callable(pre) and not isinstance(pre, Output):
        pre = pre()
    if callable(post) and not isinstance(post, Output):
        post = post()
    return Condition(pre=pre, post=post, condition=condition)


_NAMES = {"==": "equal", "!=": "not_equal", ">": "bigger", "<": "smaller",
          ">=": "bigger_equal", "<=": "smaller_equal"}


def equal(pre, post=None):
    return _predicate(pre, post, "==")


def not_equal(pre, post=None):
    return _predicate(pre, post, "!=")


def bigger(pre, post=None):
    return _predicate(pre, post, ">")


def smaller(pre, post=None):
    return _predicate(pre, post, "<")


def bigger_equal(pre, post=None):
    return _predicate(pre, post, ">=")


def smaller_equal(pre, post=None):
    return _predicate(pre, post, "<=")


__all__ = ["equal", "not_equal", "bigger", "smaller", "bigger_equal", "smaller_equal"]
