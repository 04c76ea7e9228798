"""One rule for the zoo's training jobs: roles that share an image, command and resources are
Couler's distributed ``job`` step (runnable on every engine); roles that differ need the
operator's own manifest, recorded as a resource step as the original records every job."""

import json

from couler import _record
from couler.core import _convert, states
from couler.core.errors import RecordingError
from couler.core.run_templates import run_job
from couler.core.templates.output import OutputJob


class Role(object):
    def __init__(self, kind, replicas, image, command, resources, restart_policy):
        if replicas and image is None:
            raise TypeError("argument `image` is required for the %s replicas" % kind)
        if kind in ("Chief", "Master", "Launcher") and replicas > 1:
            raise ValueError("a job has one %s replica, not %d" % (kind, replicas))
        self.kind = kind
        self.replicas = replicas
        self.image = image
        self.command = _command(command)
        self.resources = _resources(resources)
        self.restart_policy = restart_policy


def _command(command):
    if command is None or command == "":
        return []
    if isinstance(command, str):
        return command.split()
    return [str(c) for c in command]


def _resources(text):
    """The original's ``"cpu=1,memory=1024,gpu=1"`` (memory in MiB) as a resource list."""
    if text is None:
        return None
    if not isinstance(text, str):
        raise TypeError("argument `*_resources` must be text like \"cpu=1,memory=1024,gpu=1\"")
    out = {}
    for kv in text.split(","):
        key, sep, value = kv.partition("=")
        key = key.strip()
        if not sep or key not in ("cpu", "memory", "gpu"):
            raise TypeError("resource `%s` in \"%s\": give cpu=, memory= (MiB) and gpu="
                            % (kv, text))
        out[key] = "%sMi" % int(value) if key == "memory" else (
            int(value) if key == "gpu" else value.strip())
    return out


def record(framework, roles, secret=None, clean_pod_policy="Running", timeout=None,
           api_version="kubeflow.org/v1", kind=None, spec_key=None, extra_spec=None):
    """Records the job; returns its outputs."""
    roles = [r for r in roles if r.replicas]
    if not roles:
        raise RecordingError("the %s job has no replicas: set num_workers" % framework)
    policy = str(clean_pod_policy).lower()
    if policy not in ("running", "all", "none"):
        raise TypeError("argument `clean_pod_policy` must be Running, All or None")
    uniform = (len({r.image for r in roles}) == 1
               and len({tuple(r.command) for r in roles}) == 1
               and len({json.dumps(r.resources, sort_keys=True) for r in roles}) == 1
               and all(r.restart_policy in (None, "Never") for r in roles)
               and not extra_spec)
    if not uniform:
        return _as_resource(roles, secret, clean_pod_policy, timeout, api_version, kind,
                            spec_key, extra_spec)
    func, line, where = _record.invocation(2)
    job = {"framework": framework, "image": roles[0].image,
           "replicas": {r.kind.lower(): r.replicas for r in roles}}
    if roles[0].command:
        job["command"] = roles[0].command
    if policy != "running":
        job["cleanPodPolicy"] = policy
    step = {"name": "%s-%s" % (func, line), "job": job}
    if roles[0].resources:
        step["resources"] = {"limits": roles[0].resources}
    _convert.secret(secret, step)
    _convert.timeout(timeout, step)
    name = _record.current().add_step(step, where)
    out = [OutputJob("steps.%s.status" % name, step=name)]
    states._steps_outputs[name] = out
    return out


def _as_resource(roles, secret, clean_pod_policy, timeout, api_version, kind, spec_key,
                 extra_spec):
    specs = {}
    for r in roles:
        container = {"name": kind.lower(), "image": r.image, "command": r.command}
        if secret is not None:
            s = states.get_secret(secret)
            if s is None:
                raise RecordingError("unknown secret `%s`: make it with couler.create_secret"
                                     % secret)
            container["env"] = s.to_env_list()
        if r.resources:
            container["resources"] = {"limits": r.resources}
        pod = {"replicas": r.replicas, "template": {"spec": {"containers": [container]}}}
        if r.restart_policy:
            pod["restartPolicy"] = r.restart_policy
        specs[r.kind] = pod
    func, line, _ = _record.invocation(3)
    spec = {"cleanPodPolicy": clean_pod_policy, spec_key: specs}
    spec.update(extra_spec or {})
    manifest = {"apiVersion": api_version, "kind": kind,
                "metadata": {"generateName": "%s-" % func}, "spec": spec}
    workers = sum(r.replicas for r in roles if r.kind == "Worker")
    return run_job(json.dumps(manifest, indent=2) + "\n",
                   success_condition="status.replicaStatuses.Worker.succeeded == %d" % workers,
                   failure_condition="status.replicaStatuses.Worker.failed > 0",
                   step_name=func, timeout=timeout)
