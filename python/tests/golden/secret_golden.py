"""Two sequential steps that read a secret's keys as environment variables."""
import json

import couler.argo as couler

secret = couler.create_secret({"uname": "abc", "passwd": "def"})


def job_1():
    return couler.run_container(image="python:3.6", command="echo $uname", secret=secret)


def job_2():
    return couler.run_container(image="python:3.6", command="echo $uname", secret=secret)


job_1()
job_2()
print(json.dumps(couler.workflow_yaml()))
