"""A writes a file kept in OSS; B, which depends on A, gets it placed at the same path."""
import json

import couler.argo as couler


def write_hello():
    art = couler.create_oss_artifact(path="/mnt/t1.txt", bucket="test-bucket/", key="osspath/t1",
                                     accesskey_id="id", accesskey_secret="secret",
                                     endpoint="xyz.com")
    return couler.run_container(image="docker/whalesay:latest", command=["bash", "-c"],
                                args="echo -n hello world > %s" % art.path, output=art,
                                step_name="A")


def read_hello():
    return couler.run_container(image="docker/whalesay:latest", command=["cat /mnt/t1.txt"],
                                args=["--test 1"], step_name="B")


couler.config_workflow(name="pytest")
couler.set_dependencies(write_hello)
couler.set_dependencies(read_hello, dependencies=["A"])
print(json.dumps(couler.workflow_yaml()))
