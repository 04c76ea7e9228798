"""``add_toleration``: a toleration for every step of the workflow."""

from couler import _record
from couler.core.templates.toleration import Toleration


def add_toleration(toleration):
    if not isinstance(toleration, Toleration):
        raise TypeError("argument `toleration` must be a couler Toleration")
    _record.current().step_defaults.setdefault("tolerations", []).append(toleration.to_spec())
