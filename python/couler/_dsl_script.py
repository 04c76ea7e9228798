"""The shipped program of a ``@couler.step`` function: its own source plus a small runner.

The runner reads each argument from the environment variable ``COULER_ARG_<name>`` (or
``COULER_ARGB64_<name>``, base64, for a literal whose text holds ``{{``, which a template would
read as a placeholder), converts it to the annotated type, calls the function and writes its
return value to ``COULER_RETURN`` (the ``return`` output parameter's path), plus the one
newline every engine trims from an output parameter (docs/spec.md §6.1), so a str arrives
exactly. The text added here
holds no ``{{``, so nothing but the user's own source is read as a template.
"""

import ast
import inspect
import re
import textwrap

__all__ = ["function_source", "program"]

_PLACEHOLDER = re.compile(r"\{\{\s*(params|steps|inputs|outputs|item|workflow)\b")

RUNNER = '''
def _couler_main(fn, kinds, returns):
    import base64, json, os, pathlib

    def flag(text):
        if text.lower() not in ("true", "false"):
            raise ValueError("expected true or false, got %r" % text)
        return text.lower() == "true"

    read = {"string": str, "pathstr": str, "path": pathlib.Path, "int": int, "float": float,
            "bool": flag, "json": json.loads}
    kwargs = {}
    for name, kind in kinds.items():
        text = os.environ.get("COULER_ARG_" + name)
        if "COULER_ARGB64_" + name in os.environ:
            text = base64.b64decode(os.environ["COULER_ARGB64_" + name]).decode("utf-8")
        if text is not None:
            kwargs[name] = read[kind](text)
    value = fn(**kwargs)
    if returns is None:
        return
    fits = {"string": str, "int": int, "float": (int, float), "bool": bool,
            "json": (list, tuple, dict)}[returns]
    if not isinstance(value, fits) or (isinstance(value, bool) and returns in ("int", "float")):
        raise TypeError("%s() returned %s %r, but its return annotation says %s"
                        % (fn.__name__, type(value).__name__, value, returns))
    text = {"bool": lambda: "true" if value else "false", "float": lambda: repr(float(value)),
            "json": lambda: json.dumps(value, sort_keys=True)}.get(returns, lambda: str(value))()
    with open(os.environ["COULER_RETURN"], "w") as out:
        out.write(text + "\\n")  # every engine drops one final newline
'''


def function_source(fn):
    """The function's own text without its decorators, dedented; TypeError when Python has
    no source for it (a lambda, a function typed into the interpreter) or it is not a plain
    ``def``."""
    name = getattr(fn, "__name__", repr(fn))
    try:
        text = textwrap.dedent(inspect.getsource(fn))
    except (OSError, TypeError) as err:
        raise TypeError(
            "@couler.step ships %s()'s source to the step, but Python has none for it (%s): "
            "define it with `def` in a file" % (name, err)
        )
    free = getattr(getattr(fn, "__code__", None), "co_freevars", ())
    if free:
        raise TypeError(
            "%s() uses %s of the function around it, but a step runs on its own: pass %s as "
            "arguments, or define the function at module level"
            % (name, ", ".join("`%s`" % v for v in free), "them" if len(free) > 1 else "it")
        )
    tree = ast.parse(text)
    node = tree.body[0] if tree.body else None
    if not isinstance(node, ast.FunctionDef) or node.name != name:
        raise TypeError(
            "@couler.step takes a plain `def` function (not async, not a lambda); %s() is not"
            % name
        )
    source = "\n".join(text.splitlines()[node.lineno - 1 :]) + "\n"
    match = _PLACEHOLDER.search(source)
    if match:
        line = node.lineno + source[: match.start()].count("\n")
        raise ValueError(
            "%s() holds `%s…` at line %d of its definition: in a step's source, `{{%s…}}` is a "
            "Couler placeholder. Pass the value as an argument instead"
            % (name, match.group(0), line, match.group(1))
        )
    return source


def program(source, fn_name, kinds, returns):
    """The whole script of a step: the function, the runner and the call."""
    return "from __future__ import annotations\n\n%s%s\n_couler_main(%s, %r, %r)\n" % (
        source,
        RUNNER,
        fn_name,
        dict(kinds),
        returns,
    )
