"""Search spaces for tuned steps (``StepFunction.tune``; docs/tuning.md).

Pass one of these instead of a value for each argument a study tunes::

    best = fit.tune(budget=12, parallelism=4, method="tpe")(
        k=couler.search.integer(1, 40, log=True),
        c=couler.search.real(1e-3, 1e2, log=True),
        kernel=couler.search.choice(["linear", "rbf"]),
        epochs=couler.search.fidelity(1, 27),   # for method="sh" or "hyperband"
        data=prepared.outputs.data,             # other arguments as usual
    )

Each becomes an entry of the spec's ``tune.space`` (``fidelity`` the ``tune.fidelity``)."""

__all__ = ["Domain", "real", "integer", "choice", "fidelity"]


class Domain(object):
    """A tuned argument's domain. ``kind`` is ``float``, ``int``, ``categorical`` or
    ``fidelity``; ``types`` the annotations it fits."""

    def __init__(self, kind, spec, types, describe):
        self.kind = kind
        self._spec = spec
        self.types = types
        self.describe = describe

    def spec(self, name):
        """The spec's entry for the argument ``name``."""
        return dict(self._spec, name=name)

    def __repr__(self):
        return "couler.search.%s" % self.describe


def _number(value, what):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError("%s must be a number, got %r" % (what, value))
    return value


def _bounds(fn, low, high, log):
    _number(low, "couler.search.%s() low" % fn)
    _number(high, "couler.search.%s() high" % fn)
    if not low < high:
        raise ValueError("couler.search.%s(): low (%r) must be below high (%r)" % (fn, low, high))
    if not isinstance(log, bool):
        raise TypeError("couler.search.%s() log must be True or False, got %r" % (fn, log))
    if log and low <= 0:
        raise ValueError("couler.search.%s(): log=True needs low > 0, got %r" % (fn, low))


def real(low, high, log=False):
    """A real number in ``[low, high]``, drawn evenly (or evenly over its logarithm with
    ``log=True``, which needs ``low > 0``). Fits a ``float`` argument."""
    _bounds("real", low, high, log)
    spec = {"type": "float", "low": low, "high": high}
    if log:
        spec["log"] = True
    return Domain("float", spec, ("float",), "real(%r, %r%s)" % (low, high, ", log=True" * log))


def integer(low, high, log=False):
    """An integer in ``[low, high]``, both included (log-spaced with ``log=True``, which needs
    ``low >= 1``). Fits an ``int`` or ``float`` argument."""
    for v in (low, high):
        if isinstance(v, bool) or not isinstance(v, int):
            raise TypeError("couler.search.integer() bounds must be ints, got %r" % (v,))
    _bounds("integer", low, high, log)
    spec = {"type": "int", "low": low, "high": high}
    if log:
        spec["log"] = True
    return Domain("int", spec, ("int", "float"),
                  "integer(%r, %r%s)" % (low, high, ", log=True" * log))


def choice(options):
    """One of ``options`` (strings, each once). Fits a ``str`` argument."""
    if isinstance(options, str) or not isinstance(options, (list, tuple)) or not options:
        raise TypeError("couler.search.choice() takes a non-empty list of str, got %r"
                        % (options,))
    if not all(isinstance(o, str) for o in options):
        raise TypeError("couler.search.choice() options must be str, got %r" % (options,))
    if len(set(options)) != len(options):
        raise ValueError("couler.search.choice(): an option is listed twice in %r" % (options,))
    return Domain("categorical", {"type": "categorical", "choices": list(options)}, ("string",),
                  "choice(%r)" % (list(options),))


def fidelity(low, high):
    """The fidelity a multi-fidelity method (``sh``, ``hyperband``) varies, from ``low`` to
    ``high``, the full evaluation (epochs, say); other methods run every trial at ``high``.
    Fits an ``int`` or ``float`` argument; at most one per study."""
    _bounds("fidelity", low, high, False)
    if low <= 0:
        raise ValueError("couler.search.fidelity(): low must be above 0, got %r" % (low,))
    return Domain("fidelity", {"min": low, "max": high}, ("int", "float"),
                  "fidelity(%r, %r)" % (low, high))
