"""The drop-in's step zoo, storages, workflow settings, daemon steps and refusals."""

import os

import pytest

import couler
import couler.argo
import couler.steps.katib as katib
import couler.steps.mpi as mpi
import couler.steps.pytorch as pytorch
import couler.steps.tensorflow as tf
from couler._engine import CoulerError, ValidationError
from couler.core import states, syntax, templates, utils  # noqa: F401 (the original's layout)


@pytest.fixture(autouse=True)
def clean():
    couler._cleanup()
    yield
    couler._cleanup()


def steps():
    return couler.workflow.spec()["steps"]


def test_import_couler_and_couler_argo_are_the_same_api():
    assert couler.run_container is couler.argo.run_container
    assert couler.workflow is couler.argo.workflow is states.workflow


def test_uniform_training_jobs_are_distributed_job_steps():
    pytorch.train(image="trainer:1", command="python train.py", num_workers=3,
                  worker_resources="cpu=1,memory=1024", master_resources="cpu=1,memory=1024")
    mpi.train(image="mpi:1", command="mpirun x", num_workers=2, clean_pod_policy="All")
    job, mpi_job = steps()
    assert job["job"] == {"framework": "pytorch", "image": "trainer:1",
                          "command": ["python", "train.py"],
                          "replicas": {"master": 1, "worker": 3}}
    assert job["resources"] == {"limits": {"cpu": "1", "memory": "1024Mi"}}
    assert mpi_job["job"]["replicas"] == {"launcher": 1, "worker": 2}
    assert mpi_job["job"]["cleanPodPolicy"] == "all"
    couler.argo.validate_workflow_yaml()


def test_roles_that_differ_keep_the_operators_manifest():
    tf.train(image="tf:1", command="python tf.py", num_ps=1, num_workers=2,
             worker_resources="cpu=0.5,memory=1024", worker_restart_policy="OnFailure")
    step = steps()[0]
    assert step["resource"]["action"] == "create"
    assert '"kind": "TFJob"' in step["resource"]["manifest"]
    assert step["resource"]["successCondition"] == "status.replicaStatuses.Worker.succeeded == 2"
    couler.argo.validate_workflow_yaml()


def test_katib_experiment_is_a_resource_step():
    katib.run(raw_template="kind: Job", tuning_params=[
        {"name": "lr", "type": "double", "range": [1, 5]}],
        objective={"type": "maximize", "goal": 0.9, "metric_name": "acc"},
        success_condition="status.trialsSucceeded > 4")
    assert '"parameterType": "double"' in steps()[0]["resource"]["manifest"]
    with pytest.raises(ValueError, match="metric_name"):
        katib.run(raw_template="x", tuning_params=[], objective={"type": "max", "goal": 1})


def test_storages_of_every_kind():
    gcs = couler.create_gcs_artifact("/in/data", bucket="datasets", key="train")
    git = couler.create_git_artifact("/src", repo="https://example.com/r.git", revision="v1")
    hdfs = couler.create_hdfs_artifact("/out/model", addresses=["nn:8020"], hdfs_path="/m")
    s3 = couler.create_s3_artifact("/out/s3", bucket="b", key="k", accesskey_id="id",
                                   accesskey_secret="secret", endpoint="minio:9000",
                                   insecure=True)
    couler.run_container(image="a", command=["true"], input=[gcs, git], output=[hdfs, s3])
    step = steps()[0]
    ins = {a["path"]: a["storage"] for a in step["inputs"]["artifacts"]}
    assert ins["/in/data"] == {"gcs": {"bucket": "datasets", "key": "train"}}
    assert ins["/src"] == {"git": {"repo": "https://example.com/r.git", "revision": "v1"}}
    outs = {a["path"]: a["storage"] for a in step["outputs"]["artifacts"]}
    assert outs["/out/model"] == {"hdfs": {"addresses": ["nn:8020"], "path": "/m"}}
    secret = list(states._secrets)[0]
    assert outs["/out/s3"]["s3"]["accessKey"] == {"name": secret, "key": "accessKey"}
    assert outs["/out/s3"]["s3"]["insecure"] is True
    couler.argo.validate_workflow_yaml()
    with pytest.raises(CoulerError, match="input only"):
        couler.run_container(image="a", output=git)


def test_workflow_settings_and_volumes():
    couler.add_volume(couler.Volume("data", "data-pvc"))
    couler.add_image_pull_secret(couler.ImagePullSecret("registry"))
    name = couler.obtain_secret(["token"], name="existing")
    couler.run_container(image="a", command=["true"], secret=name,
                         volume_mounts=[couler.VolumeMount("data", "/data"),
                                        couler.VolumeMount("scratch", "/scratch")])
    spec = couler.argo._finished_spec()
    assert spec["volumes"] == [{"name": "data", "source": {"claim": {"name": "data-pvc"}}},
                               {"name": "scratch", "source": {"emptyDir": {}}}]
    assert spec["imagePullSecrets"] == ["registry"]
    assert spec["steps"][0]["secrets"] == [{"env": "token", "secret": "existing", "key": "token"}]


def test_workflow_context_takes_spec_settings_and_names_unknown_ones():
    with couler.workflow("ctx", parallelism=2) as wf:
        couler.run_container(image="a", command=["true"])
        couler.run_container(image="a", command=["true"])
        spec = wf.spec()
    assert spec["parallelism"] == 2
    assert all("dependsOn" not in s for s in spec["steps"])  # DAG mode: no program order
    with pytest.raises(TypeError, match="did you mean `parallelism`"):
        couler.workflow("x", paralelism=2)


def test_control_flow_misuse_is_reported():
    with pytest.raises(CoulerError, match="exactly one step"):
        couler.exec_while(couler.equal("x"), lambda: [
            couler.run_script(image="a", source="print(1)"),
            couler.run_script(image="a", source="print(2)")][0])
    with pytest.raises(CoulerError, match="recorded no step"):
        couler.map(lambda x: None, [1, 2])
    with pytest.raises(CoulerError, match="Failed"):
        couler.set_dependencies(lambda: couler.run_container(image="a"),
                                dependencies="A.Failed || B")
    with pytest.raises(TypeError, match="`function_list`"):
        couler.concurrent(lambda: None)
    with pytest.raises(TypeError, match="`status`"):
        couler.set_exit_handler("Failed", lambda: None)


def test_concurrent_subtasks_run_in_order_inside_each_function():
    def one():
        couler.run_container(image="a", command=["echo", "1"])
        couler.run_container(image="a", command=["echo", "2"])

    def two():
        couler.run_container(image="a", command=["echo", "3"])

    couler.concurrent([one, two], subtasks=True)
    s = steps()
    assert s[1]["dependsOn"] == [s[0]["name"]]
    assert "dependsOn" not in s[2]
    assert couler.workflow.spec()["groups"][0]["steps"] == [x["name"] for x in s]


def test_templates_view_reads_our_argo_manifest():
    def hello():
        return couler.run_script(image="python:3.12", command="bash", source="ls")

    assert len(couler.workflow.templates) == 0
    hello()
    assert list(couler.workflow.templates) == ["hello"]
    template = couler.workflow.get_template("hello").to_dict()
    assert template["script"]["source"] == "ls"
    assert template["script"]["command"] == ["bash"]


def test_script_body_of_a_function_drops_its_signature():
    def multi_line_signature(
        a=1,
    ):
        x = 1
        return x

    assert utils.body(multi_line_signature) == "\nx = 1\nreturn x\n"


def test_workflow_block_in_program_order_when_asked():
    def run(word):
        return couler.run_container(image="a", command=["echo", word])

    with couler.workflow("ordered", dag=False) as wf:
        run("first")
        run("second")
        first, second = wf.spec()["steps"]
    assert second["dependsOn"] == [first["name"]]


def test_reading_a_jobs_outputs_is_refused_by_name():
    manifest = "apiVersion: batch/v1\nkind: Job\nmetadata: {generateName: x-}\n"
    couler.set_dependencies(lambda: couler.run_job(manifest=manifest, step_name="A"))
    with pytest.raises(CoulerError, match="job outputs"):
        couler.set_dependencies(
            lambda: couler.run_container(image="a", command=[
                "echo", "{{inputs.parameters.para-B-0}}"], step_name="B"),
            dependencies=["A"])


def test_seconds_may_be_floats_as_the_original_takes_them():
    couler.config_workflow(name="ttl", time_to_clean=3600 * 1.5)
    couler.run_container(image="a", command=["true"], timeout=2.5)
    spec = couler.workflow.spec()
    assert spec["ttl"] == {"afterCompletion": 5400}
    assert spec["steps"][0]["timeout"] == "2500ms"
    couler.argo.validate_workflow_yaml()
    with pytest.raises(TypeError, match="`timeout`"):
        couler.run_container(image="a", timeout=[1])


def test_the_originals_submitter_switch_is_importable():
    from couler.argo_submitter import _SUBMITTER_IMPL_ENV_VAR_KEY, _SubmitterImplTypes

    assert _SUBMITTER_IMPL_ENV_VAR_KEY == "SUBMITTER_IMPLEMENTATION"
    assert {_SubmitterImplTypes.GO, _SubmitterImplTypes.PYTHON} == {"Go", "Python"}


def test_a_condition_on_non_ascii_text_compares_that_text(tmp_path):
    # The drop-in quotes condition strings with the spec's own escapes (one rule with the
    # Pythonic API): json.dumps' \uXXXX would compare against other text.
    def greet():
        return couler.run_script(image="python:3", source="print('caf\u00e9 \"ol\u00e9\"')")

    def matched():
        return couler.run_container(image="alpine", command=["echo", "matched"])

    def missed():
        return couler.run_container(image="alpine", command=["echo", "missed"])

    out = greet()
    couler.when(couler.equal(out, 'caf\u00e9 "ol\u00e9"'), lambda: matched())
    couler.when(couler.not_equal(out, 'caf\u00e9 "ol\u00e9"'), lambda: missed())
    result = couler.run(submitter=couler.LocalSubmitter(state_dir=str(tmp_path)))
    by_kind = {name.rsplit("-", 1)[0]: step.status for name, step in result.steps.items()}
    assert by_kind == {"greet": "Succeeded", "matched": "Succeeded", "missed": "Skipped"}


# Daemon steps: `run_container`/`run_script(daemon=True)` record `daemon: true`, Argo gets a
# daemon template, Airflow and Tekton refuse it by name, the local runtime runs it as a service.

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
