"""A step of two arguments, twice."""
import json

import couler.argo as couler
from _whalesay import whalesay_two

whalesay_two("hello1", "hello2")
whalesay_two("x", "y")
print(json.dumps(couler.workflow_yaml()))
