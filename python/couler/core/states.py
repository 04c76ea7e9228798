"""Recording state the original SDK's programs and tests reach into (``couler.core.states``).

The workflow itself lives in :mod:`couler._record`; ``states.workflow`` is the current recorder.
"""

from couler import _record

workflow = _record.workflow
_secrets = {}
_steps_outputs = {}
_enable_print_yaml = True
default_service_account = None
# The original's switch: when True, steps without GPUs get NVIDIA_VISIBLE_DEVICES and
# NVIDIA_DRIVER_CAPABILITIES set empty.
_overwrite_nvidia_gpu_envs = False


def _default_salter(name):
    return name


_workflow_name_salter = _default_salter


def get_step_output(step_name):
    """What ``run_*`` returned for the step named ``step_name`` (a list of outputs)."""
    return _steps_outputs.get(step_name)


def get_secret(name):
    return _secrets.get(name)


def _cleanup():
    """Forgets everything recorded (the original's test helper)."""
    _secrets.clear()
    _steps_outputs.clear()
    _record.reset()
