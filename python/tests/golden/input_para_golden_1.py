"""The same step twice, with different words."""
import json

import couler.argo as couler
from _whalesay import whalesay

whalesay("hello1")
whalesay("hello2")
print(json.dumps(couler.workflow_yaml()))
