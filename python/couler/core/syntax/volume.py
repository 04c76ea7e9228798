"""Workflow volumes: existing claims (``add_volume``) and claims made for the run
(``create_workflow_volume``)."""

from couler import _record
from couler.core.templates.volume import Volume
from couler.core.templates.volume_claim import VolumeClaimTemplate


def add_volume(volume):
    if not isinstance(volume, Volume):
        raise TypeError("argument `volume` must be a couler Volume")
    _record.current().settings.setdefault("volumes", []).append(volume.to_spec())


def create_workflow_volume(volume_claim_template):
    if not isinstance(volume_claim_template, VolumeClaimTemplate):
        raise TypeError("argument `volume_claim_template` must be a VolumeClaimTemplate")
    claims = _record.current().settings.setdefault("volumeClaims", [])
    claims.append(volume_claim_template.to_spec())
