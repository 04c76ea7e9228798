"""Options of ``@couler.step`` and ``couler.workflow``: checked once, turned into the spec's
step policies (docs/spec.md §14)."""

import difflib

from couler._dsl_refs import Ref

__all__ = ["unknown", "policies", "check_options"]


def unknown(kind, key, valid):
    near = difflib.get_close_matches(key, valid, n=1)
    hint = "did you mean `%s`? " % near[0] if near else ""
    return TypeError(
        "%s got an unknown option `%s`; %svalid options: %s" % (kind, key, hint, ", ".join(valid))
    )


def _resources(value):
    """The drop-in API's rule, so both APIs read resources alike: a flat dict (``cpu``,
    ``memory``, ``gpu``, ``ephemeral-storage``) is requests = limits."""
    from couler.core import _convert

    step = {}
    _convert.resources(value, step)
    return step["resources"]


def _retry(value):
    if isinstance(value, bool) or not isinstance(value, (int, dict)):
        raise TypeError("retry must be an int (retries after the first attempt) or a dict, got %r"
                        % (value,))
    return {"limit": value} if isinstance(value, int) else dict(value)


def _cache(value):
    if isinstance(value, bool):
        return {} if value else {"enabled": False}
    if isinstance(value, dict):
        return dict(value)
    raise TypeError("cache must be True, False or a dict such as {'version': '2'}, got %r"
                    % (value,))


def policies(options, where):
    """The spec fields of ``resources``/``retry``/``cache``/``timeout``/``env``."""
    out = {}
    if options.get("resources") is not None:
        out["resources"] = _resources(options["resources"])
    if options.get("retry") is not None:
        out["retry"] = _retry(options["retry"])
    if options.get("cache") is not None:
        out["cache"] = _cache(options["cache"])
    if options.get("timeout") is not None:
        t = options["timeout"]
        if isinstance(t, bool) or not isinstance(t, (int, str)):
            raise TypeError("%s: timeout must be a duration such as '10m' or seconds, got %r"
                            % (where, t))
        out["timeout"] = t if isinstance(t, str) else "%ds" % t
    return out


def check_options(options, valid, kind):
    for key in options:
        if key not in valid:
            raise unknown(kind, key, valid)
    for key in ("name", "image", "description"):
        if options.get(key) is not None and not isinstance(options[key], str):
            raise TypeError("%s option `%s` must be a str, got %r" % (kind, key, options[key]))
    command = options.get("command")
    if command is not None and (
        isinstance(command, str) or not all(isinstance(c, str) for c in command)
    ):
        raise TypeError("%s option `command` must be a list of str, e.g. ['python3']" % kind)
    env = options.get("env")
    if env is not None and not (
        isinstance(env, dict) and all(isinstance(v, (str, Ref)) for v in env.values())
    ):
        raise TypeError("%s option `env` must be a dict of str (or references)" % kind)
