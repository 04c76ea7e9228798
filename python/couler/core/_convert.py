"""Turns the original SDK's step arguments into the spec's step fields (docs/spec.md 4-14).

One function per argument; each raises ``TypeError`` naming the argument it cannot read, and
refuses (``UnsupportedFeature``) what Couler's IR cannot express."""

from couler.core.errors import RecordingError, check_type, refuse
from couler.core.templates.artifact import Artifact, TypedArtifact
from couler.core.templates.output import Output, OutputArtifact, OutputJob

_RESOURCE_KEYS = {"cpu": "cpu", "memory": "memory", "gpu": "gpu", "nvidia.com/gpu": "gpu",
                  "ephemeral-storage": "ephemeralStorage",
                  "ephemeralStorage": "ephemeralStorage"}


def text(value, argument):
    """A template string from an argument value: outputs become ``{{reference}}``."""
    if isinstance(value, OutputJob):
        refuse("reading `run_job`'s job name, uid or object (job outputs)",
               "read its status with `steps.NAME.status`, or run the job as a container step")
    if isinstance(value, Output):
        return value.template()
    if isinstance(value, bool):
        return str(value)  # "True"/"False", the text the original gave
    if isinstance(value, (str, int, float)):
        return str(value)
    raise TypeError("argument `%s` holds a %s; give text, numbers or step outputs"
                    % (argument, type(value).__name__))


def command(value):
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)):
        return [text(v, "command") for v in value]
    raise TypeError("argument `command` must be a str or a list, not %s" % type(value).__name__)


def flatten_args(args):
    if args is None:
        return []
    if not isinstance(args, (list, tuple)):
        args = [args]
    out = []
    for a in args:
        if isinstance(a, (list, tuple)):
            out.extend(a)
        else:
            out.append(a)
    return out


def args_and_inputs(args, inputs):
    """Arguments as templates. Output artifacts among them become input artifacts placed at
    the producer's path, as the original places them (they are not arguments)."""
    texts = []
    for a in args:
        if isinstance(a, OutputArtifact):
            add_input_artifact(inputs, a)
        else:
            texts.append(text(a, "args"))
    return texts


def para_inputs(step, template, args):
    """The original names a step's arguments ``para-TEMPLATE-I`` as input parameters; a
    program that writes ``{{inputs.parameters.para-…}}`` gets them declared."""
    if "{{inputs.parameters.para-" not in repr(step):
        return
    params = step.setdefault("inputs", {}).setdefault("parameters", [])
    for i, a in enumerate(args):
        if not isinstance(a, OutputArtifact):
            params.append({"name": "para-%s-%d" % (template, i), "value": text(a, "args")})


def add_input_artifact(inputs, art):
    arts = inputs.setdefault("artifacts", [])
    if isinstance(art, OutputArtifact):
        if any(x.get("from") == art.value for x in arts):
            return
        entry = {"name": art.name, "path": art.path, "from": art.value}
    elif isinstance(art, TypedArtifact):
        entry = art.input_entry()
    else:
        raise TypeError("argument `input` holds a %s; give artifacts or step outputs that are "
                        "artifacts" % type(art).__name__)
    entry["name"] = _unique(entry["name"], [x["name"] for x in arts])
    arts.append(entry)


def _unique(name, used):
    n, out = 1, name
    while out in used:
        n += 1
        out = "%s-%d" % (name, n)
    return out


def outputs(output):
    """The ``outputs`` of a step from ``output=`` (one or a list of artifacts)."""
    if output is None:
        return None
    items = output if isinstance(output, (list, tuple)) else [output]
    params, arts = [], []
    for o in items:
        if not isinstance(o, Artifact):
            raise TypeError("argument `output` holds a %s; give artifacts made by "
                            "couler.create_*_artifact" % type(o).__name__)
        if o.is_global:
            refuse("a global output (`is_global=True`)",
                   "read the output from the step that makes it "
                   "(`steps.NAME.outputs...`); drop `is_global`")
        entry = o.output_entry()
        if isinstance(o, TypedArtifact):
            if o.type == "git":
                raise RecordingError("a Git artifact is input only; give it in `input=`")
            entry["name"] = _unique(entry["name"], [x["name"] for x in arts])
            arts.append(entry)
        else:
            entry["name"] = _unique(entry["name"], [x["name"] for x in params])
            params.append(entry)
    out = {}
    if params:
        out["parameters"] = params
    if arts:
        out["artifacts"] = arts
    return out or None


def env(value, step):
    """``env`` as the spec's map; a ``secrets`` key (the original's secret env list) becomes
    the step's ``secrets``."""
    if value is None:
        return
    check_type("env", value, dict, "a dict")
    out = {}
    for k, v in value.items():
        if k == "secrets":
            for s in v if isinstance(v, list) else [v]:
                step.setdefault("secrets", []).append(_secret_env(s))
            continue
        out[str(k)] = text(v, "env")
    if out:
        step["env"] = out


def _secret_env(entry):
    try:
        ref = entry["valueFrom"]["secretKeyRef"]
        return {"env": entry["name"], "secret": ref["name"], "key": ref["key"]}
    except (KeyError, TypeError):
        raise TypeError("env `secrets` entries must be {name, valueFrom: {secretKeyRef: "
                        "{name, key}}}")


def secret(name, step):
    if name is None:
        return
    from couler.core import states

    check_type("secret", name, str, "a secret name from couler.create_secret")
    s = states.get_secret(name)
    if s is None:
        raise RecordingError("unknown secret `%s`: make it with couler.create_secret or "
                             "couler.obtain_secret first" % name)
    step.setdefault("secrets", []).extend(s.env_entries())


def resources(value, step):
    if value is None:
        return
    check_type("resources", value, dict, "a dict such as {'cpu': '1', 'memory': '1Gi'}")
    if set(value) <= {"requests", "limits"}:
        step["resources"] = {k: _resource_list(v) for k, v in value.items()}
        return
    r = _resource_list(value)
    step["resources"] = {"requests": dict(r), "limits": dict(r)}


def _resource_list(value):
    out = {}
    for k, v in value.items():
        key = _RESOURCE_KEYS.get(str(k).strip())
        if key is None:
            import difflib

            near = difflib.get_close_matches(str(k), list(_RESOURCE_KEYS), n=1)
            raise TypeError("argument `resources` has unknown resource `%s`%s" % (
                k, "; did you mean `%s`?" % near[0] if near else ""))
        out[key] = int(v) if key == "gpu" else (v if isinstance(v, (int, float)) else str(v))
    return out


def retry(value, step):
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("argument `retry` must be an int (the number of retries)")
    step["retry"] = {"limit": value, "on": "always"}


def seconds(argument, value):
    """A duration from seconds (an int or float, as the original takes them) or duration text."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise TypeError("argument `%s` must be seconds (a number) or a duration such as `1h30m`"
                        % argument)
    if isinstance(value, float):
        return int(value) if value.is_integer() else "%dms" % round(value * 1000)
    return value


def timeout(value, step):
    if value is None:
        return
    step["timeout"] = seconds("timeout", value)


def volume_mounts(value, step):
    if not value:
        return
    mounts = []
    for m in value:
        if not hasattr(m, "to_spec"):
            raise TypeError("argument `volume_mounts` holds a %s; give couler VolumeMount "
                            "objects" % type(m).__name__)
        mounts.append(m.to_spec())
    step["volumeMounts"] = mounts


def cache(value, step):
    if value is None:
        return
    if not hasattr(value, "to_spec"):
        raise TypeError("argument `cache` must be a couler.Cache")
    step["cache"] = value.to_spec()


def node_selector(value, step):
    if value is None:
        return
    check_type("node_selector", value, dict, "a dict of labels")
    step["nodeSelector"] = {str(k): str(v) for k, v in value.items()}


def daemon(value, kind):
    """``daemon=True`` makes the step a service (docs/spec.md, "Daemon steps"): Succeeded once
    started, running beside the later steps, which reach it at ``{{steps.NAME.ip}}``."""
    check_type("daemon", value, bool, "a bool")
    if value:
        kind["daemon"] = True


def unsupported(image_pull_policy=None, env_from=None, pool=None, parallelism=None):
    if image_pull_policy is not None:
        refuse("`image_pull_policy`", "drop it: engines pull by their default policy "
               "(Always for `:latest`, else IfNotPresent); pin images by tag or digest")
    if env_from is not None:
        refuse("`env_from` (environment from config maps or secrets)",
               "list the variables in `env`, or read secret keys with `secret=`")
    if pool is not None:
        refuse("`pool` (cluster-specific pod pools)", "use `node_selector` and tolerations")
    if parallelism is not None:
        refuse("a step's `parallelism`",
               "set `couler.map(..., parallelism=N)` or the workflow's parallelism")


def path_placeholders(step):
    """Absolute paths the step declares (its outputs and input artifacts), written literally in
    its command, args, source or env, become their placeholders. On Argo a placeholder is that
    very path; the local runtime gives each step private paths (docs/spec.md 6.2), which only
    placeholders name, so the original's programs run there too."""
    if "outputs" not in step and "inputs" not in step:
        return
    import re

    found = []
    for io, kind in (("outputs", "parameters"), ("outputs", "artifacts"), ("inputs", "artifacts")):
        for entry in step.get(io, {}).get(kind, []):
            path = entry.get("path") or ""
            if path.startswith("/") and len(path) > 1:
                found.append((path, "{{%s.%s.%s.path}}" % (io, kind, entry["name"])))
    if not found:
        return
    found.sort(key=lambda p: -len(p[0]))
    pattern = re.compile("|".join(r"(?<![\w./-])%s(?![\w.-])" % re.escape(p) for p, _ in found))
    table = dict(found)

    def sub(text):
        return pattern.sub(lambda m: table[m.group(0)], text) if isinstance(text, str) else text

    body = step.get("container") or step.get("script") or {}
    for key in ("command", "args") if "container" in step else ():
        if key in body:
            body[key] = [sub(t) for t in body[key]]
    if "source" in body:
        body["source"] = sub(body["source"])
    if "env" in step:
        step["env"] = {k: sub(v) for k, v in step["env"].items()}
