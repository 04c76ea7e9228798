"""The original SDK's ``couler.workflow`` inspection methods (``templates``,
``get_template(name).to_dict()``, ``get_steps_dict()``, …), answered from the Argo manifest
our backend makes. Names and layout are our Argo backend's, not the original's."""

from couler.core.errors import refuse


class TemplateView(object):
    """One recorded step's Argo template."""

    def __init__(self, recorder, step_name):
        self._recorder = recorder
        self.name = step_name

    def to_dict(self):
        from couler.argo import _finished_spec
        from couler import _engine

        manifest = _engine.argo_workflow(_finished_spec(self._recorder),
                                         self._recorder.sources())
        spec = manifest["spec"].get("workflowSpec", manifest["spec"])
        templates = {t["name"]: t for t in spec["templates"]}
        wanted = _task_template(spec["templates"], self.name)
        return templates.get(wanted or self.name, {})


def _task_template(templates, step_name):
    for t in templates:
        tasks = t.get("dag", {}).get("tasks", [])
        steps = [s for group in t.get("steps", []) for s in group]
        for task in tasks + steps:
            if task.get("name") == step_name:
                return task.get("template")
    return None


class ArgoView(object):
    def __init__(self, recorder):
        self._recorder = recorder

    @property
    def templates(self):
        return {t: TemplateView(self._recorder, s)
                for t, s in self._recorder.template_steps.items()}

    def get_template(self, name):
        return self.templates.get(name)

    def get_step(self, name):
        return self._recorder.step(name)

    def get_steps_dict(self):
        """The steps as the original's list of parallel groups, in order."""
        groups = []
        for (prefix, _), names in self._recorder._stages.items():
            if prefix != "steps":
                continue
            group = []
            for n in names:
                entry = {"name": n, "template": n}
                when = self._recorder.step(n).get("when")
                if when:
                    entry["when"] = when
                group.append(entry)
            groups.append(group)
        return groups

    def dag_mode_enabled(self):
        return self._recorder.dag_mode

    def to_dict(self):
        from couler.argo import workflow_yaml

        return workflow_yaml()

    @property
    def service_account(self):
        return self._recorder.settings.get("serviceAccount")

    @property
    def security_context(self):
        return None

    def set_security_context(self, security_context):
        refuse("a workflow security context (`set_security_context`)",
               "set the pod security policy of the namespace, or build it into the image")

    @property
    def exit_handler_step(self):
        return {s["name"]: s for s in self._recorder.exit_steps}
