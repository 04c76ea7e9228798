"""``python -m couler._propose``: the proposer of a tuned step's next round on the Python SDK's
local runtime (docs/tuning.md, "How it runs"). It is ``couler tune propose`` through the native
module: it reads the study, the round and the earlier rounds' objectives from the environment
the lowered step sets, and prints the round's settings as a JSON list."""

import sys

from couler import _native


def main():
    try:
        print(_native.tune_propose())
    except _native.InvalidArgument as e:
        sys.stderr.write("error: %s\n" % e)
        sys.exit(2)


if __name__ == "__main__":
    main()
