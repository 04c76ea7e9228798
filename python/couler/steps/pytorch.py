"""``couler.steps.pytorch.train``: a PyTorchJob."""

from couler.steps._jobs import Role, record
from couler.core.errors import keywords


@keywords
def train(image=None, command="", secret=None, master_image=None, master_resources=None,
          master_restart_policy="Never", master_command=None, num_workers=0,
          worker_image=None, worker_resources=None, worker_restart_policy="Never",
          worker_command=None, clean_pod_policy="Running", timeout=None):
    roles = [
        Role("Master", 1, master_image or image, master_command or command, master_resources,
             master_restart_policy),
        Role("Worker", num_workers, worker_image or image, worker_command or command,
             worker_resources, worker_restart_policy),
    ]
    return record("pytorch", roles, secret, clean_pod_policy, timeout, "kubeflow.org/v1",
                  "PyTorchJob", "pytorchReplicaSpecs")
