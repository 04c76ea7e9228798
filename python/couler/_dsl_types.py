"""Annotations of a ``@couler.step`` function, read once at decoration time.

Each parameter becomes an :class:`Arg`: a typed value (``int``, ``float``, ``bool``, ``str``,
``list``, ``dict`` -> the spec's ``int``/``float``/``bool``/``string``/``json``), an input
artifact (``couler.Input[Path]``) or an output artifact (``couler.Output[Path]``). The return
annotation becomes the step's typed output. Values are checked against them when the function is
called inside a workflow.
"""

import inspect
import json
import typing
from pathlib import Path

from couler._dsl_refs import SPEC_TYPES, ArtifactRef, Ref

from typing import Annotated, get_args, get_origin  # Python >= 3.9

__all__ = ["Input", "Output", "Arg", "read_signature", "check_value", "encode_literal"]

_T = typing.TypeVar("_T")


class _ArtifactMarker(object):
    def __init__(self, direction):
        self.direction = direction

    def __repr__(self):
        return "couler.%s" % ("Input" if self.direction == "input" else "Output")


_INPUT = _ArtifactMarker("input")
_OUTPUT = _ArtifactMarker("output")

#: ``couler.Input[Path]``: a file or directory another step produced, placed before this one runs.
Input = Annotated[_T, _INPUT]
#: ``couler.Output[Path]``: where this step writes a file or directory it produces.
Output = Annotated[_T, _OUTPUT]

_PATH_KINDS = {Path: "path", str: "pathstr"}
_SUPPORTED = "int, float, bool, str, list, dict, couler.Input[Path] or couler.Output[Path]"


class Arg(object):
    """One parameter of a step function: ``kind`` is ``value``, ``input`` or ``output``;
    ``type`` the spec type of a value; ``decode`` how the step process reads it."""

    def __init__(self, name, kind, type=None, decode=None, has_default=False):
        self.name = name
        self.kind = kind
        self.type = type
        self.decode = decode or type
        self.has_default = has_default


def _spec_type(tp, what):
    """The spec type of a plain annotation, or TypeError naming ``what``."""
    origin = get_origin(tp) or tp
    if origin in SPEC_TYPES:
        return SPEC_TYPES[origin]
    raise TypeError("%s has type %s, which a step cannot take; use %s"
                    % (what, _name(tp), _SUPPORTED))


def _name(tp):
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _artifact(tp, what):
    """``(direction, decode)`` for ``Input[...]``/``Output[...]``, else None."""
    if get_origin(tp) is not Annotated:
        return None
    base, *extra = get_args(tp)
    marker = next((m for m in extra if isinstance(m, _ArtifactMarker)), None)
    if marker is None:
        return None
    if base not in _PATH_KINDS:
        raise TypeError(
            "%s is %r[%s]; an artifact is a path: use %r[Path] (or [str])"
            % (what, marker, _name(base), marker)
        )
    return marker.direction, _PATH_KINDS[base]


def _arg(param, hints, fname):
    what = "parameter `%s` of %s()" % (param.name, fname)
    if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
        raise TypeError("%s: a step takes named parameters, not *args or **kwargs" % what)
    if not param.name.isascii():
        raise TypeError("%s: a step's parameter names must be ASCII identifiers" % what)
    has_default = param.default is not param.empty
    tp = hints.get(param.name)
    if tp is None:
        tp = type(param.default) if has_default and param.default is not None else str
    art = _artifact(tp, what)
    if art is not None:
        return Arg(param.name, art[0], decode=art[1], has_default=has_default)
    return Arg(param.name, "value", _spec_type(tp, what), has_default=has_default)


def read_signature(fn):
    """``(args, return type or None, call signature)`` of a step function; the call signature
    leaves out ``Output[...]`` parameters (the step fills them, not the caller)."""
    sig = inspect.signature(fn)
    try:
        hints = typing.get_type_hints(fn, include_extras=True)
    except Exception as err:  # a NameError in a string annotation, for one
        raise TypeError("the annotations of %s() cannot be read: %s" % (fn.__name__, err))
    args = [_arg(p, hints, fn.__name__) for p in sig.parameters.values()]
    ret = hints.get("return")
    if ret is None or ret is type(None):
        returns = None
    else:
        returns = _spec_type(ret, "the return value of %s()" % fn.__name__)
    callable_params = [p for p, a in zip(sig.parameters.values(), args) if a.kind != "output"]
    return args, returns, sig.replace(parameters=callable_params)


_PYTHON = {"string": (str,), "int": (int,), "float": (int, float), "bool": (bool,),
           "json": (list, tuple, dict)}
_ACCEPTS = {"string": {"string", "int", "float", "bool", "json"}, "int": {"int"},
            "float": {"int", "float"}, "bool": {"bool"}, "json": {"json"}}


def check_value(arg, value, fname):
    """TypeError unless ``value`` fits ``arg``; names the parameter and what was given."""
    what = "%s() argument `%s`" % (fname, arg.name)
    if arg.kind == "input":
        if not isinstance(value, ArtifactRef):
            raise TypeError(
                "%s is an input artifact (couler.Input): pass a step's output artifact "
                "(e.g. `producer_step.outputs.NAME`), not %s" % (what, _describe(value))
            )
        return
    if isinstance(value, ArtifactRef):
        raise TypeError(
            "%s expects a %s value, but got the artifact `%s` of step `%s`; annotate the "
            "parameter couler.Input[Path] to receive a file"
            % (what, arg.type, value.name, value.step)
        )
    if isinstance(value, Ref):
        if value.type is not None and value.type not in _ACCEPTS[arg.type]:
            raise TypeError("%s expects %s, but got %s (%s)"
                            % (what, arg.type, value.what, value.type))
        return
    ok = isinstance(value, _PYTHON[arg.type]) and not (
        isinstance(value, bool) and arg.type in ("int", "float")
    )
    if not ok:
        raise TypeError("%s expects %s, got %s" % (what, arg.type, _describe(value)))
    if arg.type == "json":
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError) as err:
            raise TypeError("%s must be JSON data: %s" % (what, err))


def _describe(value):
    if isinstance(value, Ref):
        return value.what
    text = repr(value)
    return "%s %s" % (type(value).__name__, text if len(text) <= 40 else text[:37] + "...")


def encode_literal(value, spec_type):
    """A Python value as the text a step reads (the same text a param of that type renders as)."""
    if spec_type == "string":
        return value if isinstance(value, str) else encode_literal(value, _type_of(value))
    if spec_type == "bool":
        return "true" if value else "false"
    if spec_type == "int":
        return str(int(value))
    if spec_type == "float":
        return repr(float(value)) if isinstance(value, float) else str(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)


def _type_of(value):
    for py, spec in SPEC_TYPES.items():
        if type(value) is py:
            return spec
    return "json"
