"""The step starters of the original SDK: ``run_container``, ``run_script``, ``run_job``.

Each records one step into the current recorder (``couler._record``) and returns the step's
outputs as the original does: a list of :class:`~couler.core.templates.output.Output`, the
first standing for the step in control flow (``when``, ``exec_while``)."""


from couler import _record
from couler.core import _convert, states
from couler.core.constants import OVERWRITE_GPU_ENVS
from couler.core.errors import ArgumentError, check_type, refuse
from couler.core.templates.output import (
    OutputArtifact,
    OutputEmpty,
    OutputJob,
    OutputParameter,
    OutputScript,
)
from couler.core.errors import keywords


def _name_step(explicit):
    """The step's name, the user's line and the original's template name: ``FUNC-LINE`` (the
    calling function and where it was called), ``NAME-LINE`` with ``step_name`` given, or in
    DAG mode the given name alone (or ``FUNC-LINE`` of the ``dag`` call)."""
    func, line, where = _record.invocation(2)
    rec = _record.current()
    check_type("step_name", explicit, str, "a str")
    dag = rec.innermost("dag")
    if dag is not None and dag["line"] is not None:
        line = dag["line"]
    if explicit is not None:
        template = explicit.replace("_", "-").replace(".", "-")
        if rec.dag_mode or rec.innermost("dag") is not None:
            return _record.safe_name(explicit), where, template
        return "%s-%s" % (_record.safe_name(explicit), line), where, template
    return "%s-%s" % (func, line), where, func


def _upstream(jobs=False):
    """The outputs ``set_dependencies`` hands to the step: its upstream steps' output
    parameters (appended to the arguments) and artifacts (placed as inputs), as the original
    hands them; with ``jobs``, also ``run_job`` outputs (which Couler cannot pass)."""
    scope = _record.current().innermost("depends")
    if scope is None:
        return []
    kinds = (OutputArtifact, OutputParameter, OutputJob) if jobs else (OutputArtifact,
                                                                       OutputParameter)
    outputs = states._steps_outputs
    return [o for name in scope["on"] for o in outputs.get(name, ()) if isinstance(o, kinds)]


def _policies(step, env=None, secret=None, resources=None, timeout=None, retry=None,
              volume_mounts=None, node_selector=None, cache=None):
    if states._overwrite_nvidia_gpu_envs and not _wants_gpu(resources):
        # The original's switch: steps without GPUs see no GPU devices.
        env = dict(OVERWRITE_GPU_ENVS, **(env or {}))
    _convert.env(env, step)
    _convert.secret(secret, step)
    _convert.resources(resources, step)
    _convert.timeout(timeout, step)
    _convert.retry(retry, step)
    _convert.volume_mounts(volume_mounts, step)
    _convert.node_selector(node_selector, step)
    _convert.cache(cache, step)


def _wants_gpu(resources):
    if not isinstance(resources, dict):
        return False
    lists = [resources.get("limits", {}), resources.get("requests", {}), resources]
    return any("gpu" in str(k).lower() and v not in (0, "0")
               for d in lists if isinstance(d, dict) for k, v in d.items())


def _add(step, where, inputs, template, upstream=None):
    for o in _upstream() if upstream is None else upstream:
        if isinstance(o, OutputArtifact):
            _convert.add_input_artifact(inputs, o)
    if inputs:
        step.setdefault("inputs", {}).update(inputs)
    _convert.path_placeholders(step)
    return _record.current().add_step(step, where, template=template)


def _outputs_of(name, outputs, result_cls):
    refs = []
    for p in (outputs or {}).get("parameters", []):
        refs.append(OutputParameter("steps.%s.outputs.parameters.%s" % (name, p["name"]),
                                    name, p["name"], p["path"]))
    for a in (outputs or {}).get("artifacts", []):
        refs.append(OutputArtifact("steps.%s.outputs.artifacts.%s" % (name, a["name"]),
                                   a["path"], a, name))
    if result_cls is OutputScript or not refs:
        refs.append(result_cls("steps.%s.outputs.result" % name, name))
    states._steps_outputs[name] = refs
    return refs


@keywords
def run_container(image, command=None, args=None, output=None, input=None, env=None,
                  env_from=None, secret=None, resources=None, timeout=None, retry=None,
                  step_name=None, image_pull_policy=None, pool=None, enable_ulogfs=True,
                  daemon=False, volume_mounts=None, working_dir=None, node_selector=None,
                  cache=None, parallelism=None):
    """A step that runs ``command`` + ``args`` in ``image``."""
    name, where, template = _name_step(step_name)
    check_type("image", image, str, "a str")
    _convert.unsupported(image_pull_policy, env_from, pool, parallelism)
    inputs = {}
    for art in _convert.flatten_args(input):
        _convert.add_input_artifact(inputs, art)
    container = {"image": image}
    cmd = _convert.command(command)
    if cmd is not None:
        container["command"] = cmd
    # Looked up once per step: a step after a whole layer has many upstream outputs.
    upstream = _upstream(jobs=True)
    passed = [o for o in upstream if not isinstance(o, OutputJob)]
    args = _convert.flatten_args(args) + passed
    arg_list = _convert.args_and_inputs(args, inputs)
    if arg_list:
        container["args"] = arg_list
    if working_dir is not None:
        container["workingDir"] = working_dir
    _convert.daemon(daemon, container)
    step = {"name": name, "container": container}
    outs = _convert.outputs(output)
    if outs:
        step["outputs"] = outs
    _policies(step, env, secret, resources, timeout, retry, volume_mounts, node_selector, cache)
    # A job's outputs would be among the original's para-… inputs: refused if they are read.
    _convert.para_inputs(step, template, args + [o for o in upstream
                                                  if isinstance(o, OutputJob)])
    name = _add(step, where, inputs, template, passed)
    return _outputs_of(name, outs, OutputEmpty)


@keywords
def run_script(image, command=None, source=None, args=None, output=None, input=None, env=None,
               secret=None, resources=None, timeout=None, retry=None, step_name=None,
               image_pull_policy=None, pool=None, enable_ulogfs=True, daemon=False,
               volume_mounts=None, working_dir=None, node_selector=None, cache=None):
    """A step that runs ``source`` (a function's body, or text) with ``command`` (python)."""
    name, where, template = _name_step(step_name)
    if source is None:
        raise ArgumentError("argument `source` is required: a function or the script's text")
    check_type("image", image, str, "a str")
    _convert.unsupported(image_pull_policy, None, pool)
    if callable(source):
        from couler.core.utils import body

        source = body(source)
    check_type("source", source, str, "a function or a str")
    inputs = {}
    extra = _convert.args_and_inputs(_convert.flatten_args(args), inputs)
    if any("{{" in a for a in extra):
        refuse("step outputs as arguments of a script step",
               "pass them through `env` and read them from the environment")
    if working_dir is not None:
        refuse("`working_dir` on a script step", "use run_container for a working directory")
    script = {"source": source}
    if image is not None:
        script["image"] = image
    cmd = _convert.command(command)
    if extra:
        # Argo runs a script as command + args + [its file]; so does Couler with the arguments
        # joined to the command.
        cmd = (cmd or ["python3"]) + extra
    if cmd:
        script["command"] = cmd
    _convert.daemon(daemon, script)
    for art in _convert.flatten_args(input):
        _convert.add_input_artifact(inputs, art)
    step = {"name": name, "script": script}
    outs = _convert.outputs(output)
    if outs:
        step["outputs"] = outs
    _policies(step, env, secret, resources, timeout, retry, volume_mounts, node_selector, cache)
    name = _add(step, where, inputs, template)
    return _outputs_of(name, outs, OutputScript)


_ACTIONS = ("create", "apply", "delete", "patch", "replace")


@keywords
def run_job(manifest, success_condition=None, failure_condition=None, timeout=None, retry=None,
            step_name=None, pool=None, env=None, action="create", set_owner_reference=True,
            cache=None):
    """A step that creates (or changes) the Kubernetes object ``manifest`` and waits until
    ``success_condition`` or ``failure_condition`` holds on it."""
    name, where, template = _name_step(step_name)
    if manifest is None:
        raise ArgumentError("argument `manifest` is required: the object's YAML text")
    check_type("manifest", manifest, str, "the object's YAML text")
    if action not in _ACTIONS:
        refuse("resource action `%s`" % action, "use one of %s" % ", ".join(_ACTIONS))
    _convert.unsupported(pool=pool)
    if env:
        manifest = _manifest_with_env(manifest, env)
    resource = {"action": action, "manifest": manifest}
    if success_condition:
        resource["successCondition"] = success_condition
    if failure_condition:
        resource["failureCondition"] = failure_condition
    step = {"name": name, "resource": resource}
    _convert.timeout(timeout, step)
    _convert.retry(retry, step)
    _convert.cache(cache, step)
    name = _add(step, where, {}, template)
    ref = "steps.%s.status" % name
    out = [OutputJob(ref, ref, ref, ref, name)]
    states._steps_outputs[name] = out
    return out


def _manifest_with_env(manifest, env):
    """The original writes ``env`` into the manifest's ``spec.env``."""
    import json

    try:
        import yaml
    except ImportError:  # pragma: no cover - PyYAML ships with the test environment
        refuse("`env` of run_job without PyYAML", "install PyYAML, or write env in the manifest")
    doc = yaml.safe_load(manifest)
    check_type("env", env, dict, "a dict")
    doc.setdefault("spec", {})["env"] = [
        {"name": str(k), "value": _convert.text(v, "env")} for k, v in env.items()
    ]
    return json.dumps(doc, indent=2, sort_keys=False) + "\n"


@keywords
def run_canned_step(name, args, inputs=None, outputs=None, step_name=None, cache=None):
    refuse("canned steps (`run_canned_step`, the original's proto-only steps)",
           "run the step with run_container or run_script")
