"""``couler.steps.mpi.train``: an MPIJob."""

from couler.steps._jobs import Role, record
from couler.core.errors import keywords


@keywords
def train(image=None, command="", secret=None, launcher_image=None, launcher_resources=None,
          launcher_command=None, num_workers=0, worker_image=None, worker_resources=None,
          worker_command=None, clean_pod_policy="Running", timeout=None):
    roles = [
        Role("Launcher", 1, launcher_image or image, launcher_command or command,
             launcher_resources, None),
        Role("Worker", num_workers, worker_image or image, worker_command or command,
             worker_resources, None),
    ]
    return record("mpi", roles, secret, clean_pod_policy, timeout, "kubeflow.org/v1",
                  "MPIJob", "mpiReplicaSpecs")
