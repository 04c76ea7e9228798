"""Couler: write an ML workflow once and run it on Argo, Airflow, Tekton or locally.

``import couler`` (or ``import couler.argo as couler``) gives the original Couler SDK's API
over Couler's Rust core; see docs/python.md."""

from couler.argo import *  # noqa: F401, F403
from couler.argo import _cleanup, workflow  # noqa: F401
from couler.dsl import (  # noqa: F401
    Input,
    NotInWorkflowError,
    Output,
    Param,
    Task,
    Workflow,
    condition,
    exit_handler,
    for_each,
    step,
)
