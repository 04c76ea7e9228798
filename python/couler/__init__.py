"""Couler: write an ML workflow once and run it on Argo, Airflow, Tekton or locally.

``import couler`` (or ``import couler.argo as couler``) gives the original Couler SDK's API
over Couler's Rust core; see docs/python.md."""

import importlib as _importlib

from couler import _record
from couler._generate import GenerateError, generate  # noqa: F401
from couler.argo import *  # noqa: F401, F403
from couler.argo import _cleanup, workflow  # noqa: F401

# The Pythonic API (couler.dsl) is imported on first use, so that a program of the original
# API does not pay for it: these names of the package, and `couler.workflow(...)`.
_DSL = frozenset({
    "Input", "NotInWorkflowError", "Output", "Param", "Task", "TunedTask", "Workflow",
    "condition", "exit_handler", "for_each", "search", "step",
})
del exit_handler  # noqa: F821 - couler.argo's; the package's is couler.dsl's


def __getattr__(name):
    if name in _DSL or name == "dsl":
        dsl = _importlib.import_module("couler.dsl")
        return dsl if name == "dsl" else getattr(dsl, name)
    raise AttributeError("module 'couler' has no attribute %r" % name)


def __dir__():
    return sorted(set(globals()) | _DSL)


def _workflow_block(name=None, **options):
    """``couler.workflow(name, ...)`` before couler.dsl is imported: couler.dsl's ``Workflow``
    (importing it makes that the block for later calls, ``_record.use_block``)."""
    return _importlib.import_module("couler.dsl").Workflow(name, **options)


_record.use_block(_workflow_block)
__all__ = sorted(n for n in set(globals()) | _DSL if not n.startswith("_"))
