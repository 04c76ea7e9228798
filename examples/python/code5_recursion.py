"""Paper Code 5, "Recursive in COULER": flip a coin again and again while it shows tails.

`couler.exec_while(couler.equal("tails"), ...)` re-runs the step while its output equals
"tails" (the spec's `repeat`), so the last flip is "heads". Couler's loops are bounded: at
most 100 runs by default (`max_iterations=`). As in the paper, except the script's image
(`alpine3.6`, which has no Python, is `python:alpine3.6` here) and the run on the embedded
local runtime.
"""

import couler.argo as couler


def random_code():
    import random

    result = "heads" if random.randint(0, 1) == 0 else "tails"
    print(result)


def flip_coin():
    return couler.run_script(
        image="python:alpine3.6",
        source=random_code)


# Stop flipping coin until the outputs of 'flip_coin' is not 'tails'
couler.exec_while(couler.equal("tails"),
                  lambda: flip_coin())

outcome = couler.run(submitter=couler.LocalSubmitter())
print(outcome.status)
