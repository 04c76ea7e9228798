"""A step writes an output parameter that the next step reads."""
import json

import couler.argo as couler


def producer():
    out = couler.create_parameter_artifact(path="/mnt/hello_world.txt")
    return couler.run_container(image="docker/whalesay:latest", command=["bash", "-c"],
                                args="echo -n hello world > %s" % out.path, output=out)


def consumer(message):
    return couler.run_container(image="docker/whalesay:latest", command=["cowsay"],
                                args=[message])


consumer(producer()[0])
print(json.dumps(couler.workflow_yaml()))
