"""Requests and limits of one step."""
import json

import couler.argo as couler


def test_resource_setup():
    return couler.run_container(image="docker/whalesay", command=["bash", "-c", "cowsay"],
                                args=["resource test"],
                                resources={"cpu": "1", "memory": "100Mi"})


test_resource_setup()
print(json.dumps(couler.workflow_yaml()))
