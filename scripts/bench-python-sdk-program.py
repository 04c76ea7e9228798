"""The program scripts/bench-python-sdk times: a layered workflow recorded through the original
Couler SDK's API (`import couler.argo as couler`), which both SDKs run unchanged.

    python bench-python-sdk-program.py STEPS OUT.yaml    record STEPS steps, write the Argo YAML
    python bench-python-sdk-program.py STEPS -           record only (for the memory figures)
    python bench-python-sdk-program.py STEPS F.spec.yaml write the Couler spec (ours only)

Layers of 10 steps; each step depends on all 10 of the previous layer (set_dependencies). The
YAML is written the way each SDK makes text: ours compiles it (`couler.compile`, our Argo
backend); the original dumps its dict with pyaml, as its own `_dump_yaml` does.
"""

import resource
import sys

import couler.argo as couler

WIDTH = 10


def record(steps):
    couler.config_workflow(name="layered")
    previous = []
    for layer in range((steps + WIDTH - 1) // WIDTH):
        current = []
        for i in range(min(WIDTH, steps - layer * WIDTH)):
            name = "s-{}-{}".format(layer, i)
            couler.set_dependencies(
                lambda name=name: couler.run_container(
                    image="alpine:3.19", command=["echo"], args=[name], step_name=name
                ),
                dependencies=previous or None,
            )
            current.append(name)
        previous = current


def argo_yaml():
    if hasattr(couler, "compile"):  # ours
        files = couler.compile(target="argo")
        return "".join(files.values())
    import pyaml  # the original

    return pyaml.dump(couler.workflow_yaml())


def main():
    steps, out = int(sys.argv[1]), sys.argv[2]
    record(steps)
    if out.endswith(".spec.yaml"):
        with open(out, "w") as f:
            f.write(couler.workflow_spec())
    elif out != "-":
        text = argo_yaml()
        with open(out, "w") as f:
            f.write(text)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print("steps={} peak_rss_kib={} cpu_s={:.3f}".format(
        steps, usage.ru_maxrss, usage.ru_utime + usage.ru_stime), file=sys.stderr)


if __name__ == "__main__":
    main()
