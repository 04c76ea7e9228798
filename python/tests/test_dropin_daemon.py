"""Daemon steps through the drop-in: ``run_container``/``run_script(daemon=True)`` record
``daemon: true`` (the original refused nothing here; Couler used to), Argo gets a daemon
template, Airflow and Tekton refuse it by name, and the local runtime runs it as a service."""

import os

import pytest

import couler.argo as couler
from couler._engine import CoulerError, ValidationError


@pytest.fixture(autouse=True)
def clean():
    couler._cleanup()
    yield
    couler._cleanup()


def steps():
    return couler.workflow.spec()["steps"]


def test_daemon_true_is_recorded_on_containers_and_scripts_and_argo_runs_it():
    cache = couler.run_container(image="redis:7", command="redis-server", daemon=True,
                                 step_name="cache")[0].step
    couler.run_script(image="python:3.12", source="print(1)", daemon=True, step_name="echo")
    # A daemon's address, as Argo names it: its step (what it returned names it) and `ip`.
    ip = "{{steps.%s.ip}}" % cache
    couler.run_container(image="redis:7", command=["redis-cli", "-h", ip, "ping"],
                         step_name="ping")
    server, echo, ping = steps()
    assert server["container"]["daemon"] is True and echo["script"]["daemon"] is True
    assert "daemon" not in ping["container"]
    assert ping["container"]["command"][2] == ip
    argo = couler.workflow_yaml()
    daemons = {t["name"].rsplit("-", 1)[0]: t.get("daemon")
               for t in argo["spec"]["templates"] if "dag" not in t and "steps" not in t}
    assert daemons == {"cache": True, "echo": True, "ping": None}
    # In the entry DAG the reader waits for the daemon by its bare name (Daemoned will do).
    tasks = {t["name"]: t for t in argo["spec"]["templates"][0]["dag"]["tasks"]}
    reader = tasks[ping["name"]]
    assert cache in reader["dependencies"]  # a list of names: no `.Succeeded`
    assert reader["arguments"]["parameters"][0]["value"] == "{{tasks.%s.ip}}" % cache


def test_daemon_false_records_nothing_and_a_non_bool_is_a_type_error():
    couler.run_container(image="a", command="true", daemon=False, step_name="plain")
    assert "daemon" not in steps()[0]["container"]
    with pytest.raises(TypeError, match="`daemon`"):
        couler.run_container(image="a", daemon="yes")


def test_engines_without_daemons_refuse_them_naming_the_feature(tmp_path):
    couler.run_container(image="redis:7", command="redis-server", daemon=True,
                         step_name="cache")
    for target in ("airflow", "tekton"):
        with pytest.raises(CoulerError, match="does not support daemon steps.*`cache-[0-9]+`.*outside the workflow"):
            couler.compile(target=target, output_dir=str(tmp_path / target))


def test_a_daemon_with_outputs_is_refused_pointing_at_the_program():
    couler.run_container(image="a", command="true", daemon=True, step_name="db",
                         output=couler.create_parameter_artifact("/tmp/p"))
    with pytest.raises(ValidationError, match="daemon step has no outputs"):
        couler.workflow_spec()


SERVER = """
import os, socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen()
open(os.environ["PID_FILE"], "w").write(str(os.getpid()))
open(os.environ["PORT_FILE"] + ".tmp", "w").write(str(s.getsockname()[1]))
os.rename(os.environ["PORT_FILE"] + ".tmp", os.environ["PORT_FILE"])
while True:
    c, _ = s.accept()
    c.sendall(b"pong")
    c.close()
"""

CLIENT = """
import os, socket, sys, time
for _ in range(400):
    if os.path.exists(os.environ["PORT_FILE"]):
        break
    time.sleep(0.05)
c = socket.create_connection((sys.argv[1], int(open(os.environ["PORT_FILE"]).read())))
print(c.recv(10).decode())
"""


def test_a_daemon_serves_a_later_step_locally_and_is_gone_after_the_run(tmp_path):
    files = {"PORT_FILE": str(tmp_path / "port"), "PID_FILE": str(tmp_path / "pid")}
    server = couler.run_script(image="python:3.12", source=SERVER, env=files, daemon=True,
                               step_name="server")
    couler.run_container(image="python:3.12", command=["python3", "-c", CLIENT,
                                                       "{{steps.%s.ip}}" % server[0].step],
                         env=files, step_name="client")
    res = couler.run(submitter=couler.LocalSubmitter(state_dir=str(tmp_path / "state")))
    assert res.status == "Succeeded"
    by_step = {n.rsplit("-", 1)[0]: s for n, s in res.steps.items()}
    assert by_step["server"].status == "Succeeded"
    assert by_step["client"].result == "pong"
    pid = int(open(files["PID_FILE"]).read())
    assert not os.path.exists("/proc/%d" % pid), "the daemon outlived its run"
