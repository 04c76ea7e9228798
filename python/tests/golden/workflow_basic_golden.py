"""A coin flip with an exit handler: "heads" when the workflow succeeded, "tails" when it
failed."""
import json

import couler.argo as couler

FLIP = '''
import random

result = "heads" if random.randint(0, 1) == 0 else "tails"
print(result)
'''


def flip_coin():
    return couler.run_script(image="python:3.6", command="python", source=FLIP)


def heads():
    return couler.run_container(image="python:3.6", command=["bash", "-c", 'echo "it was heads"'])


def tails():
    return couler.run_container(image="python:3.6", command=["bash", "-c", 'echo "it was tails"'])


flip_coin()
couler.set_exit_handler(couler.WFStatus.Succeeded, heads)
couler.set_exit_handler(couler.WFStatus.Failed, tails)
print(json.dumps(couler.workflow_yaml()))
