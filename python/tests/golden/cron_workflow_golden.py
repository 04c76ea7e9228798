"""One step on a schedule: one minute past midnight every day."""
import json

import couler.argo as couler


def tails():
    return couler.run_container(image="python:3.6",
                                command=["bash", "-c", 'echo "run schedule job"'])


tails()
couler.config_workflow(name="pytest", cron_config={"schedule": "1 0 * * *", "suspend": "false"})
print(json.dumps(couler.workflow_yaml()))
