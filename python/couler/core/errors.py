"""Errors of the drop-in API, all derived from ``couler._engine.CoulerError``."""

from couler._engine import CoulerError


class RecordingError(CoulerError, ValueError):
    """A program asked for something that cannot be recorded as a workflow."""


class ArgumentError(TypeError, ValueError):
    """A required argument is missing or unusable (a ``TypeError``, and a ``ValueError`` as the
    original raised)."""


class UnsupportedFeature(RecordingError, NotImplementedError):
    """The original SDK's feature has no equivalent in Couler's IR (see docs/python.md)."""

    def __init__(self, feature, instead):
        self.feature = feature
        super().__init__(
            "%s is not supported by Couler's IR, so no backend can run it; %s"
            % (feature, instead)
        )


def refuse(feature, instead):
    raise UnsupportedFeature(feature, instead)


def check_type(name, value, types, what):
    """Raises ``TypeError`` naming the argument unless ``value`` is None or of ``types``."""
    if value is not None and not isinstance(value, types):
        raise TypeError(
            "argument `%s` must be %s, not %s" % (name, what, type(value).__name__)
        )


def unknown_keywords(function, given, valid):
    """``TypeError`` naming the nearest valid keyword for each unknown one."""
    import difflib

    for key in given:
        if key not in valid:
            near = difflib.get_close_matches(key, list(valid), n=1)
            hint = "; did you mean `%s`?" % near[0] if near else ""
            raise TypeError(
                "%s() got an unexpected keyword argument `%s`%s" % (function, key, hint)
            )


def keywords(function):
    """Makes an unknown keyword argument a ``TypeError`` that names the nearest valid one."""
    import functools

    # The parameters a keyword may name, read off the code object (inspect costs an import
    # of ast and dis at start): positional-or-keyword, then keyword-only.
    code = function.__code__
    valid = list(code.co_varnames[code.co_posonlyargcount:
                                  code.co_argcount + code.co_kwonlyargcount])
    valid_set = frozenset(valid)

    @functools.wraps(function)
    def checked(*args, **kwargs):
        if kwargs and not valid_set.issuperset(kwargs):
            unknown_keywords(function.__name__, kwargs, valid)
        return function(*args, **kwargs)

    return checked
