"""Flip a coin until it shows heads (couler.exec_while)."""
import json

import couler.argo as couler

FLIP = '''
import random
result = "heads" if random.randint(0, 1) == 0 else "tails"
print(result)
'''


def flip_coin():
    return couler.run_script(image="python:3.6", command="python", source=FLIP)


couler.exec_while(couler.equal("tails"), flip_coin)
print(json.dumps(couler.workflow_yaml()))
