"""``couler.steps.katib.run``: a Katib hyperparameter-tuning Experiment, as a resource step."""

import json

from couler.core.run_templates import run_job
from couler.core.errors import keywords


@keywords
def run(raw_template, tuning_params, objective, success_condition=None,
        failure_condition=None, algorithm="random", parallel_trial_count=3,
        max_trial_count=12, max_failed_trial_count=3):
    _check_objective(objective)
    _check_params(tuning_params)
    manifest = {
        "apiVersion": "kubeflow.org/v1alpha3",
        "kind": "Experiment",
        "metadata": {"labels": {"controller-tools.k8s.io": "1.0"}, "generateName": "katib-"},
        "spec": {
            "parallelTrialCount": parallel_trial_count,
            "maxTrialCount": max_trial_count,
            "maxFailedTrialCount": max_failed_trial_count,
            "objective": {"type": objective["type"], "goal": objective["goal"],
                          "objectiveMetricName": objective["metric_name"]},
            "algorithm": {"algorithmName": algorithm},
            "trialTemplate": {"goTemplate": {"rawTemplate": raw_template}},
            "parameters": [
                {"name": "--%s" % p["name"], "parameterType": p["type"],
                 "feasibleSpace": {"min": str(p["range"][0]), "max": str(p["range"][1])}}
                for p in tuning_params
            ],
        },
    }
    return run_job(json.dumps(manifest, indent=2) + "\n", success_condition=success_condition,
                   failure_condition=failure_condition)


def _check_objective(objective):
    if not isinstance(objective, dict):
        raise TypeError("argument `objective` must be a dict with type, goal and metric_name")
    missing = [k for k in ("type", "goal", "metric_name") if k not in objective]
    if missing:
        raise ValueError("argument `objective` lacks %s" % ", ".join(missing))


def _check_params(tuning_params):
    if not isinstance(tuning_params, list):
        raise TypeError("argument `tuning_params` must be a list of dicts")
    for p in tuning_params:
        if not isinstance(p, dict):
            raise TypeError("argument `tuning_params` holds a %s; give dicts"
                            % type(p).__name__)
        rng = p.get("range")
        if "name" not in p or "type" not in p or not isinstance(rng, list) or len(rng) != 2:
            raise ValueError("each tuning parameter needs name, type and a [min, max] range")
