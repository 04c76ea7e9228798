"""What a step returns: references to its outputs, usable in later steps' arguments, env and
conditions (reading one makes the reader run after the step)."""


class Output(object):
    """A reference to a step's output; ``value`` is the spec reference
    (``steps.train.outputs.parameters.acc``)."""

    def __init__(self, value, step=None, is_global=False):
        self.value = value
        self.step = step
        self.is_global = is_global

    def template(self):
        """The reference as a spec template placeholder."""
        return "{{%s}}" % self.value

    def __str__(self):
        return self.template()

    def __repr__(self):
        return "%s(%r)" % (type(self).__name__, self.value)


class OutputEmpty(Output):
    """A container step without declared outputs: its standard output."""


class OutputParameter(Output):
    def __init__(self, value, step=None, name=None, path=None, is_global=False):
        Output.__init__(self, value, step, is_global)
        self.name = name
        self.path = path


class OutputArtifact(Output):
    def __init__(self, value, path, artifact, step=None, is_global=False, type=""):
        Output.__init__(self, value, step, is_global)
        self.path = path
        self.artifact = artifact
        self.type = type
        self.name = artifact.get("name") if isinstance(artifact, dict) else None


class OutputScript(Output):
    """A script step's standard output (``result``)."""


class OutputJob(Output):
    """A resource step (``run_job``); its status is readable, its job name/uid are not."""

    def __init__(self, value, job_name=None, job_id=None, job_obj=None, step=None):
        Output.__init__(self, value, step)
        self.job_name = job_name
        self.job_id = job_id
        self.job_obj = job_obj


def first_output(value):
    """The original's rule for control flow: a step's return is a list whose first element
    stands for it."""
    if isinstance(value, (list, tuple)) and value and isinstance(value[0], Output):
        return value[0]
    return value
