"""``couler.generate``: a workflow spec from a description in natural language, through the
pipeline of ``couler generate`` (docs/generate.md) in the Rust core."""

import json

TARGETS = ("argo", "airflow", "tekton", "local")


class GenerateError(Exception):
    """No valid workflow came out of the calibration rounds. ``spec`` is the best attempt (the
    one with the fewest errors), ``errors`` the checks' diagnostics for it (rendered, with
    line, column and fix); never run or save ``spec`` as if it were valid."""

    def __init__(self, message, spec, errors):
        super().__init__(message)
        self.spec = spec
        self.errors = errors


def generate(
    description,
    *,
    target="argo",
    model="gpt-4o-mini",
    endpoint=None,
    rounds=3,
    decompose=True,
    retrieve=True,
    calibrate=True,
    top_k=3,
    timeout=300,
    log=None,
):
    """The spec (YAML text) that ``couler generate DESCRIPTION`` would write: valid and
    compiling for ``target``. ``model`` is a name the OpenAI-compatible ``endpoint`` serves
    (default ``$OPENAI_BASE_URL``, else OpenAI; the key is ``$OPENAI_API_KEY``), ``"local"``
    for the in-process CPU model (a build with the ``local-model`` feature), or a ``.gguf``
    file. ``log``: a path for every prompt and answer (JSON lines, replayable with
    ``couler generate --replay``). Raises ``GenerateError`` when no valid spec came out,
    ``couler.CoulerError`` when the model failed, ``ValueError`` for a bad argument."""
    if not isinstance(description, str) or not description.strip():
        raise ValueError(
            "generate: the description is empty: say what the workflow should do, e.g. "
            "couler.generate('train a model on iris and publish it if accuracy > 0.9')"
        )
    if target not in TARGETS:
        raise ValueError("generate: target=%r: give one of %s" % (target, ", ".join(TARGETS)))
    for name, value, low in (("rounds", rounds, 0), ("top_k", top_k, 1), ("timeout", timeout, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError("generate: %s=%r: give an integer of at least %d" % (name, value, low))
    from couler import _native

    request = {
        "description": description,
        "target": target,
        "model": str(model),
        "endpoint": endpoint,
        "rounds": rounds,
        "decompose": bool(decompose),
        "retrieve": bool(retrieve),
        "calibrate": bool(calibrate),
        "top_k": top_k,
        "timeout": timeout,
        "log": None if log is None else str(log),
    }
    answer = json.loads(_native.generate_spec(json.dumps(request)))
    if not answer["valid"]:
        raise GenerateError(
            "generate: no valid workflow for %s after %d calibration round(s) (%d error(s)); "
            "the best attempt is the error's .spec, its diagnostics .errors; give more rounds, "
            "a stronger model, or retry" % (target, rounds if calibrate else 0, len(answer["errors"])),
            answer["spec"],
            answer["errors"],
        )
    return answer["spec"]
