"""``validate_workflow_yaml``: checks a recorded workflow with Couler's own validation."""

from couler import _engine, _record


def validate_workflow_yaml(wf=None):
    """Validates the current recording (the argument, an Argo manifest in the original, is
    accepted and ignored: the spec is what is checked). Raises ``ValidationError`` listing
    every problem; returns the warnings."""
    rec = _record.current()
    from couler.argo import _finished_spec

    return _engine.validate(_finished_spec(rec), rec.sources())
