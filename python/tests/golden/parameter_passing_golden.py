"""Two output parameters of A handed to B by set_dependencies (appended to B's arguments)."""
import json

import couler.argo as couler


def produce_two():
    one = couler.create_parameter_artifact(path="/mnt/t1.txt")
    two = couler.create_parameter_artifact(path="/mnt/t2.txt")
    return couler.run_container(image="docker/whalesay:latest", command=["bash", "-c"],
                                args="echo -n A > %s && echo -n B > %s" % (one.path, two.path),
                                output=[one, two], step_name="A")


def consume_two():
    return couler.run_container(image="docker/whalesay:latest", command=["echo"],
                                args=["--input: x"], step_name="B")


couler.config_workflow(name="pytest")
couler.set_dependencies(produce_two)
couler.set_dependencies(consume_two, dependencies=["A"])
print(json.dumps(couler.workflow_yaml()))
