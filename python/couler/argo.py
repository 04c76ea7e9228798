"""The original Couler SDK's API (``import couler.argo as couler``) over Couler's Rust core.

A program records steps with ``run_container``/``run_script``/``run_job`` and control flow;
``workflow_yaml()`` is the Argo manifest of our Argo backend, ``workflow_spec()`` the Couler
spec text, ``compile()`` any engine's files, and ``run(submitter=LocalSubmitter())`` runs it on
the embedded local runtime. What differs from the original is listed in docs/python.md."""

from couler import _engine, _record
from couler._engine import CoulerError, LocalSubmitter, ValidationError  # noqa: F401
from couler.argo_submitter import ArgoSubmitter
from couler.core import states  # noqa: F401
from couler.core.config import config_defaults, config_workflow  # noqa: F401
from couler.core.constants import *  # noqa: F401, F403
from couler.core.errors import RecordingError, UnsupportedFeature  # noqa: F401
from couler.core.run_templates import (  # noqa: F401
    run_canned_step,
    run_container,
    run_job,
    run_script,
)
from couler.core.states import _cleanup, get_secret, get_step_output  # noqa: F401
from couler.core.syntax import *  # noqa: F401, F403
from couler.core.templates import (  # noqa: F401
    Artifact,
    Cache,
    GcsArtifact,
    GitArtifact,
    HdfsArtifact,
    ImagePullSecret,
    LocalArtifact,
    OssArtifact,
    S3Artifact,
    Secret,
    Toleration,
    Volume,
    VolumeClaimTemplate,
    VolumeMount,
)
from couler.core.templates.artifact import (  # noqa: F401
    create_gcs_artifact,
    create_git_artifact,
    create_hdfs_artifact,
    create_local_artifact,
    create_oss_artifact,
    create_parameter_artifact,
    create_s3_artifact,
)
from couler.core.templates.secret import create_secret, obtain_secret  # noqa: F401
from couler.core.workflow_validation_utils import validate_workflow_yaml  # noqa: F401

workflow = _record.workflow


def _finished_spec(rec=None, shared=True):
    """The recording as a spec dict; volumes that steps mount without declaring them become
    empty directories, as the original makes them. ``shared``: its steps are the recorder's
    own dicts (see ``Recorder.spec``), for our engine only, which reads them."""
    rec = rec or _record.current()
    spec = rec.spec(shared=shared)
    declared = {v["name"] for v in spec.get("volumes", []) + spec.get("volumeClaims", [])}
    for step in spec["steps"] + spec.get("onExit", []):
        for mount in step.get("volumeMounts", []):
            if mount["name"] not in declared:
                declared.add(mount["name"])
                spec.setdefault("volumes", []).append(
                    {"name": mount["name"], "source": {"emptyDir": {}}}
                )
    return spec


def workflow_spec():
    """The recorded workflow as Couler spec text (YAML, canonical form)."""
    rec = _record.current()
    return _engine.spec_yaml(_finished_spec(rec), rec.sources())


def workflow_yaml():
    """The Argo Workflow manifest our Argo backend makes for the recorded workflow (a dict)."""
    rec = _record.current()
    return _engine.argo_workflow(_finished_spec(rec), rec.sources())


def compile(target="argo", output_dir=None, **options):
    """Compiles the recorded workflow for ``target`` (argo, airflow, tekton); returns file
    name -> text, and writes the files into ``output_dir`` when given (all or nothing)."""
    rec = _record.current()
    return _engine.compile(_finished_spec(rec), target, output_dir=output_dir,
                           sources=rec.sources(), **options)


def run(submitter=None):
    """Runs the recorded workflow with ``submitter``: ``couler.LocalSubmitter()`` on the local
    runtime (returns its result), or an ``ArgoSubmitter`` on a cluster. The recording is
    cleared after, as in the original, so a program may record another workflow."""
    if submitter is None:
        submitter = ArgoSubmitter._default_submitter
    if submitter is None:
        raise TypeError("run() needs a submitter: couler.LocalSubmitter() runs here, "
                        "couler.ArgoSubmitter() on a cluster")
    if isinstance(submitter, type):
        submitter = submitter()
    rec = _record.current()
    # A submitter may be the program's own: it gets a copy it may change.
    spec, sources = _finished_spec(rec, shared=False), rec.sources()
    if isinstance(submitter, ArgoSubmitter):
        res = submitter.submit(_engine.argo_workflow(spec, sources),
                               secrets=list(states._secrets.values()))
    elif hasattr(submitter, "submit"):
        res = submitter.submit(spec, sources)
    else:
        raise TypeError("argument `submitter` must have a `submit` method, not %s"
                        % type(submitter).__name__)
    _cleanup()
    return res


def set_default_submitter(submitter=None):
    if submitter is not None:
        if not isinstance(submitter, ArgoSubmitter):
            raise TypeError("argument `submitter` must be an ArgoSubmitter")
        ArgoSubmitter._default_submitter = submitter


def delete(name, namespace="default", **kwargs):
    """Deletes a submitted workflow through the Kubernetes API."""
    return ArgoSubmitter(namespace=namespace, **kwargs).delete(name)
