"""``couler.steps.tensorflow.train``: a TFJob."""

from couler.steps._jobs import Role, record
from couler.core.errors import keywords


@keywords
def train(image=None, command="", secret=None, no_chief=True, chief_image=None,
          chief_resources=None, chief_restart_policy="Never", chief_command=None, num_ps=0,
          ps_image=None, ps_resources=None, ps_restart_policy="Never", ps_command=None,
          num_workers=0, worker_image=None, worker_resources=None,
          worker_restart_policy="Never", worker_command=None, num_evaluators=0,
          evaluator_image=None, evaluator_resources=None, evaluator_restart_policy="Never",
          evaluator_command=None, clean_pod_policy="Running", timeout=None):
    roles = [
        Role("Chief", 0 if no_chief else 1, chief_image or image, chief_command or command,
             chief_resources, chief_restart_policy),
        Role("PS", num_ps, ps_image or image, ps_command or command, ps_resources,
             ps_restart_policy),
        Role("Worker", num_workers, worker_image or image, worker_command or command,
             worker_resources, worker_restart_policy),
        Role("Evaluator", num_evaluators, evaluator_image or image,
             evaluator_command or command, evaluator_resources, evaluator_restart_policy),
    ]
    return record("tensorflow", roles, secret, clean_pod_policy, timeout, "kubeflow.org/v1",
                  "TFJob", "tfReplicaSpecs")
