"""Between a start and a finish step, two sub-pipelines run side by side (one of three steps,
one of one): couler.concurrent(..., subtasks=True)."""
import json

import couler.argo as couler
from _whalesay import whalesay


def pipeline_one():
    whalesay("workflow one")
    whalesay("t1")
    whalesay("t2")


def pipeline_two():
    whalesay("workflow two")


whalesay("workflow start")
couler.concurrent([pipeline_one, pipeline_two], subtasks=True)
whalesay("workflow finish")
print(json.dumps(couler.workflow_yaml()))
