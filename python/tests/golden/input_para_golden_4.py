"""One step with one argument."""
import json

import couler.argo as couler
from _whalesay import whalesay

whalesay("test")
print(json.dumps(couler.workflow_yaml()))
