"""Paper Code 3, "Workflow control in COULER": flip a coin in a Python script step, then run
`heads` or `tails` depending on its result; the branch not taken is Skipped.

As in the paper; the steps' images are kept for cluster engines, and the submitter is the
embedded local runtime (steps run as host processes: `python3`, `sh`).
"""

import couler.argo as couler


def random_code():
    import random
    res = "heads" if random.randint(0, 1) == 0 else "tails"
    print(res)


def flip_coin():
    return couler.run_script(
        image="python:alpine3.6",
        source=random_code)


def heads():
    return couler.run_container(
        image="alpine:3.6",
        command=["sh", "-c", 'echo "it was headed"']
    )


def tails():
    return couler.run_container(
        image="alpine:3.6",
        command=["sh", "-c", 'echo "it was tailed"']
    )


result = flip_coin()
couler.when(couler.equal(result, "heads"), lambda: heads())
couler.when(couler.equal(result, "tails"), lambda: tails())

outcome = couler.run(submitter=couler.LocalSubmitter())
print(outcome.status)
