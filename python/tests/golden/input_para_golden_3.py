"""A script's standard output passed to a later step."""
import json

import couler.argo as couler
from _whalesay import whalesay

NUMBER = '''
import random

result = random.randint(0, 1)
print(result)
'''


def generate_number():
    return couler.run_script(image="python:3.6", command="python", source=NUMBER)


whalesay("test")
number = generate_number()
whalesay(number[0])
print(json.dumps(couler.workflow_yaml()))
