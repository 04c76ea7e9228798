"""``ArgoSubmitter``: creates the recorded workflow (and its secrets) on a cluster through the
Kubernetes API. Needs the ``kubernetes`` package (``pip install kubernetes``)."""

import logging
import re

from couler.core.constants import CronWorkflowCRD, WorkflowCRD
from couler.core.errors import RecordingError


# The original chose a Python or a Go implementation with this variable; both submit the same
# workflow, so either value uses the Kubernetes API from Python here.
_SUBMITTER_IMPL_ENV_VAR_KEY = "SUBMITTER_IMPLEMENTATION"


class _SubmitterImplTypes(object):
    PYTHON = "Python"
    GO = "Go"


class ArgoSubmitter(object):
    _default_submitter = None

    def __init__(self, namespace="default", config_file=None, context=None,
                 client_configuration=None, persist_config=True):
        self.namespace = namespace
        self._config = (config_file, context, client_configuration, persist_config)
        self._clients = None

    def _api(self):
        if self._clients is None:
            try:
                from kubernetes import client, config
            except ImportError:
                raise RecordingError("ArgoSubmitter needs the `kubernetes` package: "
                                     "pip install kubernetes (or run with LocalSubmitter)")
            try:
                config.load_kube_config(*self._config)
            except Exception:
                config.load_incluster_config()
            self._clients = (client.CustomObjectsApi(), client.CoreV1Api(), client)
        return self._clients

    @staticmethod
    def check_name(name):
        if len(name) > WorkflowCRD.NAME_MAX_LENGTH or not re.fullmatch(
                WorkflowCRD.NAME_PATTERN, name.rstrip("-")):
            raise ValueError("workflow name `%s` must match %s and be at most %d characters"
                             % (name, WorkflowCRD.NAME_PATTERN, WorkflowCRD.NAME_MAX_LENGTH))

    def submit(self, workflow_yaml, secrets=None):
        custom, core, _ = self._api()
        for secret in secrets or []:
            if not secret.use_existing and not secret.dry_run:
                existing = [s.metadata.name for s in
                            core.list_namespaced_secret(namespace=self.namespace).items]
                if secret.name not in existing:
                    core.create_namespaced_secret(self.namespace, secret.to_yaml())
        meta = workflow_yaml["metadata"]
        self.check_name(meta.get("name") or meta.get("generateName"))
        plural = (WorkflowCRD.PLURAL if workflow_yaml["kind"] == WorkflowCRD.KIND
                  else CronWorkflowCRD.PLURAL)
        logging.info("Submitting workflow to Argo in namespace %s", self.namespace)
        return custom.create_namespaced_custom_object(
            WorkflowCRD.GROUP, WorkflowCRD.VERSION, self.namespace, plural, workflow_yaml)

    def delete(self, name):
        custom, _, client = self._api()
        body = client.V1DeleteOptions(grace_period_seconds=5, propagation_policy="Background")
        return custom.delete_namespaced_custom_object(
            WorkflowCRD.GROUP, WorkflowCRD.VERSION, self.namespace, WorkflowCRD.PLURAL, name,
            body=body)
