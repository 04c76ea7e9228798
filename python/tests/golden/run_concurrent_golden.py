"""Three steps started together (couler.concurrent); `heads` clears the GPU variables."""
import json

import couler.argo as couler
from _whalesay import bash_cowsay


def heads():
    return couler.run_container(image="docker/whalesay",
                                command=["bash", "-c", 'echo "it was heads"'])


def tails():
    return couler.run_container(image="docker/whalesay",
                                command=["bash", "-c", 'echo "it was tails"'])


def heads_without_gpu():
    couler.states._overwrite_nvidia_gpu_envs = True
    try:
        return heads()
    finally:
        couler.states._overwrite_nvidia_gpu_envs = False


couler.concurrent([lambda: bash_cowsay("hello1"), heads_without_gpu, tails])
print(json.dumps(couler.workflow_yaml()))
