"""A, B after A, a coin flip after B and, when it shows heads, a message."""
import json

import couler.argo as couler
from _diamond import cowsay

FLIP = '''
import random

result = "heads" if random.randint(0, 1) == 0 else "tails"
print(result)
'''


def flip():
    return couler.run_script(image="python:3.6", command="python", source=FLIP,
                             step_name="flip-coin-0")


def heads():
    return couler.run_container(image="python:3.6", command=["bash", "-c", 'echo "it was heads"'],
                                step_name="heads-0")


couler.config_workflow(name="pytest")
couler.set_dependencies(lambda: cowsay("A"))
couler.set_dependencies(lambda: cowsay("B"), dependencies=["A"])
couler.set_dependencies(lambda: couler.when(couler.equal(flip(), "heads"), heads),
                        dependencies=["B"])
print(json.dumps(couler.workflow_yaml()))
