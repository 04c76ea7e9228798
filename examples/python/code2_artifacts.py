"""Paper Code 2, "Basic workflow and artifact definition in COULER": a producer writes a
message into a parameter artifact; the consumer receives it.

As in the paper, except: `is_global=True` is left out (Couler refuses global outputs: read the
value from the step that makes it, as `consumer` does), the consumer prints what it received with
`echo` (`cowsay` exists only in the whalesay image; the local runtime runs commands on the host)
and actually passes `input` on, and the submitter is the embedded local runtime. The producer
writes the paper's literal path `/opt/hello_world.txt`: Couler turns a declared output's literal
path into its placeholder, so the file is the step's own on every engine.
"""

import couler.argo as couler


def producer(step_name):
    output_path = "/opt/hello_world.txt"
    output_place = couler.create_parameter_artifact(
        path=output_path
    )
    return couler.run_container(
        image="docker/whalesay:latest",
        args=["echo -n hello world > %s" % output_place.path],
        command=["bash", "-c"],
        output=output_place,
        step_name=step_name,
    )


def consumer(step_name, input):
    couler.run_container(
        image="docker/whalesay:latest",
        command=["echo"],
        args=input,
        step_name=step_name,
    )


output = producer("step1")
consumer("step2", output)

result = couler.run(submitter=couler.LocalSubmitter())
print(result.status)
