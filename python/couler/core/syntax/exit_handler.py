"""``set_exit_handler``: steps that run after everything else, when the workflow ended with
the given status."""

from couler import _record
from couler.core.constants import WFStatus
from couler.core.errors import keywords


@keywords
def set_exit_handler(status, exit_handler):
    if not isinstance(status, WFStatus):
        raise TypeError("argument `status` must be a couler.WFStatus (Succeeded, Failed, Error)")
    if not callable(exit_handler):
        raise TypeError("argument `exit_handler` must be callable (it records the exit steps)")
    rec = _record.current()
    cond = 'workflow.status == "%s"' % status.value
    with rec.scope("exit", stage=None):
        with rec.scope("when", condition=cond, stage="exit:%s" % status.value):
            return exit_handler()
