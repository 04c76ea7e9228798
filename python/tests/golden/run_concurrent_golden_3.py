"""Two concurrent jobs whose outputs a summary step reads."""
import json

import couler.argo as couler


def job(text, path):
    out = couler.create_parameter_artifact(path=path)
    return couler.run_container(image="python:3.6", command=["bash", "-c"],
                                args="echo -n %s > %s" % (text, path), output=out)


def job_one():
    return job("step one", "/tmp/job_one.txt")


def job_two():
    return job("step two", "/tmp/job_two.txt")


def summary(one, two):
    return couler.run_container(image="docker/whalesay", command=["bash", "-c", "cowsay"],
                                args=[one, two])


one, two = couler.concurrent([job_one, job_two])
summary(one[0], two[0])
print(json.dumps(couler.workflow_yaml()))
