"""Two output parameters read by the next step."""
import json

import couler.argo as couler


def producer_two():
    one = couler.create_parameter_artifact(path="/mnt/place_one.txt")
    two = couler.create_parameter_artifact(path="/mnt/place_two.txt")
    script = "echo -n output one > %s && echo -n output tw0 > %s" % (one.path, two.path)
    return couler.run_container(image="docker/whalesay:latest", command=["bash", "-c"],
                                args=script, output=[one, two])


def consume_two(outputs):
    return couler.run_container(image="docker/whalesay:latest", command=["cowsay"],
                                args=outputs)


consume_two(producer_two())
print(json.dumps(couler.workflow_yaml()))
