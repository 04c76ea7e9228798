"""The same step twice and another, started together."""
import json

import couler.argo as couler
from _whalesay import bash_cowsay


def tails():
    return couler.run_container(image="docker/whalesay",
                                command=["bash", "-c", 'echo "it was tails"'])


couler.concurrent([lambda: bash_cowsay("hello1"), lambda: bash_cowsay("hello1"), tails])
print(json.dumps(couler.workflow_yaml()))
