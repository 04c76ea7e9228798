r"""Paper Code 4, "Workflow DAG in COULER": a diamond defined explicitly with `couler.dag`;
each inner list is a path, and a job named in several paths is one step.

      A
     / \
    B   C
     \ /
      D

As in the paper, except that the job echoes its name (`cowsay` exists only in the whalesay
image; the local runtime runs a step's command on the host). The paper stops at `diamond()`;
here the workflow is also run, on the embedded local runtime.
"""

import couler.argo as couler


def job(name):
    couler.run_container(
        image="docker/whalesay:latest",
        command=["echo"],
        args=[name],
        step_name=name,
    )


def diamond():
    couler.dag(
        [
            [lambda: job(name="A")],
            [lambda: job(name="A"),
             lambda: job(name="B")],  # A -> B
            [lambda: job(name="A"),
             lambda: job(name="C")],  # A -> C
            [lambda: job(name="B"),
             lambda: job(name="D")],  # B -> D
            [lambda: job(name="C"),
             lambda: job(name="D")],  # C -> D
        ]
    )


diamond()
spec = couler.workflow_spec()  # the recorded workflow, as Couler spec YAML
result = couler.run(submitter=couler.LocalSubmitter())
print(result.status)
