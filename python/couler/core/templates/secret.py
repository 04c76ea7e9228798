"""Kubernetes secrets: ``create_secret`` keeps the data for the submitter (never in the spec);
steps read it as environment variables by reference."""

import json

from couler.core import states
from couler.core.errors import keywords


class Secret(object):
    def __init__(self, namespace, data, name=None, dry_run=False, use_existing=False,
                 artifact_secret=False):
        if not isinstance(data, dict):
            raise TypeError("argument `secret_data` must be a dict, not %s" % type(data).__name__)
        if not data:
            raise ValueError("argument `secret_data` is empty: give at least one key")
        import base64
        import hashlib

        digest = hashlib.md5(json.dumps(data, sort_keys=True).encode("utf-8")).hexdigest()
        self.name = name if name is not None else "couler-%s" % digest
        self.namespace = namespace
        self.keys = list(data)
        self.data = {
            k: base64.b64encode(str(v).encode("utf-8")).decode("ascii") for k, v in data.items()
        }
        self.dry_run = dry_run
        self.use_existing = use_existing
        self.artifact_secret = artifact_secret

    def to_yaml(self):
        """The Kubernetes Secret object (what a submitter creates)."""
        meta = {"name": self.name}
        if self.namespace != "default":
            meta["namespace"] = self.namespace
        return {"apiVersion": "v1", "kind": "Secret", "metadata": meta, "type": "Opaque",
                "data": dict(self.data)}

    def env_entries(self):
        """The spec's ``secrets`` entries: each key as an environment variable."""
        return [{"env": k, "secret": self.name, "key": k} for k in self.keys]

    def to_env_list(self):
        return [{"name": k, "valueFrom": {"secretKeyRef": {"name": self.name, "key": k}}}
                for k in self.keys]


@keywords
def create_secret(secret_data, namespace="default", name=None, dry_run=False,
                  use_existing=False, artifact_secret=False):
    """Records a secret for the submitter to create; returns its name for ``secret=``."""
    secret = Secret(namespace, secret_data, name, dry_run, use_existing, artifact_secret)
    states._secrets.setdefault(secret.name, secret)
    return secret.name


@keywords
def obtain_secret(secret_keys, namespace="default", name=None, dry_run=False):
    """Refers to an existing secret's keys; returns its name for ``secret=``."""
    if isinstance(secret_keys, str) or not hasattr(secret_keys, "__iter__"):
        raise TypeError("argument `secret_keys` must be a list of key names")
    return create_secret({k: "" for k in secret_keys}, namespace, name, dry_run,
                         use_existing=True)
