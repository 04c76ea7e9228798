"""Helpers of the original SDK that programs call directly."""

import base64
import inspect
import textwrap
import uuid

from couler import _record


def argo_safe_name(name):
    """The original's rule: ``<>`` around the name are dropped, ``_`` and ``.`` become ``-``.
    (Step names go further, to DNS-1123 labels: ``couler._record.safe_name``.)"""
    if name is None:
        return None
    if name.startswith("<") and name.endswith(">"):
        name = name.strip("<>")
    return name.replace("_", "-").replace(".", "-")


def invocation_location():
    """``(function name, line)`` naming a step made by the caller, as the original does."""
    func, line, _ = _record.invocation(2)
    return func, line


def invocation_name(function_name, caller_line):
    return "%s-%s" % (function_name, caller_line)


def body(func_obj):
    """The source of a function's body, without its signature (which may span lines),
    dedented."""
    import ast

    if func_obj is None:
        return None
    try:
        lines, _ = inspect.getsourcelines(func_obj)
    except (OSError, TypeError):
        from couler.core.errors import RecordingError

        raise RecordingError("the source of `%s` cannot be read (made interactively?); pass "
                             "the script as text" % getattr(func_obj, "__name__", func_obj))
    code = textwrap.dedent("".join(lines))
    fn = ast.parse(code).body[0]
    if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
        raise TypeError("argument `source` must be a function defined with `def`, or text")
    first = fn.body[0]
    code_lines = code.splitlines(True)
    if first.lineno == fn.lineno:  # def f(): return 1
        return code_lines[first.lineno - 1][first.col_offset:].strip() + "\n"
    # As the original, the body starts with the newline that ends the signature.
    return "\n" + textwrap.dedent("".join(code_lines[first.lineno - 1:]))


def workflow_filename():
    return _record.program_name()


def input_parameter_name(name, var_pos):
    return "para-%s-%s" % (name, var_pos)


def encode_base64(s):
    return base64.b64encode(s.encode("utf-8")).decode("utf-8")


def make_list_if_not(item):
    if item is None or isinstance(item, list):
        return item
    return [item]


def non_empty(d):
    return d is not None and len(d) > 0


def bool_to_str(bool_val):
    if not isinstance(bool_val, bool):
        raise TypeError("The bool_val is required to be boolean type")
    return "true" if bool_val else "false"


def gpu_requested(resources):
    if resources is None:
        return False
    if not isinstance(resources, dict):
        raise TypeError("Parameter resources is required to be a dict")
    return any("gpu" in k.strip().lower() and int(v) > 0 for k, v in resources.items())


def _get_uuid():
    return uuid.uuid4().hex[:8]
