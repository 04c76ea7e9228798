r"""Paper Code 1, "An Example Workflow DAG in COULER": a diamond of four jobs, submitted.

        A
       / \
      B   C
       \ /
        D

As in the paper, except two things so that it runs on any machine: the job echoes its name
(`cowsay` exists only in the whalesay image; the local runtime runs a step's command as a host
process and keeps `image` for cluster engines), and the submitter is the embedded local runtime.
`python code1_workflow_dag.py --argo` submits to the Argo of your kubeconfig as the paper does.
"""

import sys

import couler.argo as couler
from couler.argo_submitter import ArgoSubmitter


def job(name):
    couler.run_container(
        image="whalesay:latest",
        command=["echo"],
        args=[name], step_name=name)


def diamond():
    couler.dag(
        [[lambda: job(name="A")],
         [lambda: job(name="A"),  # A -> B
          lambda: job(name="B")],
         [lambda: job(name="A"),  # A -> C
          lambda: job(name="C")],
         [lambda: job(name="B"),  # B -> D
          lambda: job(name="D")],
         [lambda: job(name="C"),  # C -> D
          lambda: job(name="D")]
         ])


diamond()  # Execute the diamond function.
# Submit and run the workflow (the paper: over Argo).
submitter = ArgoSubmitter() if "--argo" in sys.argv else couler.LocalSubmitter()
result = couler.run(submitter=submitter)
print(result.status)
