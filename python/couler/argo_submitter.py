"""``ArgoSubmitter``: creates the recorded workflow (and its secrets) on a cluster, or deletes
one, through the Kubernetes API with Couler's own client (the one ``couler submit`` uses)."""

import re

from couler.core.constants import WorkflowCRD
from couler.core.errors import UnsupportedFeature


# The original chose a Python or a Go implementation with this variable; both submit the same
# workflow, so either value uses Couler's Kubernetes client here.
_SUBMITTER_IMPL_ENV_VAR_KEY = "SUBMITTER_IMPLEMENTATION"


class _SubmitterImplTypes(object):
    PYTHON = "Python"
    GO = "Go"


class ArgoSubmitter(object):
    """Creates the recorded workflow, and the secrets it reads, on a cluster through the
    Kubernetes API (Couler's Rust client, as ``couler submit``: no Python Kubernetes package
    needed). ``config_file`` and ``context`` pick the kubeconfig and its context (default:
    ``$KUBECONFIG`` or ``~/.kube/config``, else the pod's service account)."""

    _default_submitter = None

    def __init__(self, namespace="default", config_file=None, context=None,
                 client_configuration=None, persist_config=True):
        if client_configuration is not None:
            raise UnsupportedFeature(
                "a kubernetes-client `client_configuration`: give `config_file` and `context` "
                "(a kubeconfig) instead")
        self.namespace = namespace
        self.config_file = config_file
        self.context = context

    @staticmethod
    def check_name(name):
        if len(name) > WorkflowCRD.NAME_MAX_LENGTH or not re.fullmatch(
                WorkflowCRD.NAME_PATTERN, name.rstrip("-")):
            raise ValueError("workflow name `%s` must match %s and be at most %d characters"
                             % (name, WorkflowCRD.NAME_PATTERN, WorkflowCRD.NAME_MAX_LENGTH))

    def submit(self, workflow_yaml, secrets=None):
        """Creates ``workflow_yaml`` (the Argo manifest, a dict) after the ``secrets`` it reads
        (``couler.create_secret``'s; existing ones and ``use_existing``/``dry_run`` ones are
        not created); returns ``{"kind", "namespace", "name", "uid"}`` of the workflow."""
        import logging

        from couler import _engine

        meta = workflow_yaml["metadata"]
        self.check_name(meta.get("name") or meta.get("generateName"))
        to_create = [s.to_yaml() for s in secrets or []
                     if not s.use_existing and not s.dry_run]
        logging.info("Submitting workflow to Argo in namespace %s", self.namespace)
        return _engine.submit_manifest(workflow_yaml, self.namespace, self.config_file,
                                       self.context, secrets=to_create)

    def delete(self, name):
        """Deletes the submitted workflow ``name`` (its pods go with it)."""
        from couler import _engine

        return _engine.delete(name, WorkflowCRD.KIND, self.namespace, self.config_file, self.context)
