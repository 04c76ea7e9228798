"""A, then B and C; D after B (couler.dag)."""
import json

import couler.argo as couler
from _diamond import cowsay

couler.config_workflow(name="pytest")
couler.dag([
    [lambda: cowsay("A")],
    [lambda: cowsay("A"), lambda: cowsay("B")],
    [lambda: cowsay("A"), lambda: cowsay("C")],
    [lambda: cowsay("B"), lambda: cowsay("D")],
])
print(json.dumps(couler.workflow_yaml()))
