"""``config_workflow(timeout=SECONDS)``: the original's workflow deadline, recorded as the
workflow's ``timeout`` and kept by every backend and the local runtime."""

import time

import pytest

import couler.argo as couler
from couler._engine import ValidationError


@pytest.fixture(autouse=True)
def clean():
    couler._cleanup()
    yield
    couler._cleanup()


def test_the_timeout_is_the_workflows_deadline_on_argo():
    couler.config_workflow(name="deadline", timeout=3600)
    couler.run_container(image="alpine:3.19", command=["echo", "hi"])
    assert "\ntimeout: 1h\n" in couler.workflow_spec()
    assert couler.workflow_yaml()["spec"]["activeDeadlineSeconds"] == 3600


def test_fractional_seconds_are_kept_and_other_engines_get_it_too(tmp_path):
    couler.config_workflow(name="deadline", timeout=1.5)
    couler.run_container(image="alpine:3.19", command=["echo", "hi"])
    assert "\ntimeout: 1s500ms\n" in couler.workflow_spec()
    files = couler.compile(target="airflow", output_dir=str(tmp_path / "dags"))
    assert "dagrun_timeout=timedelta(seconds=1.5)" in files["deadline.py"]
    files = couler.compile(target="tekton", output_dir=str(tmp_path / "tekton"))
    assert any("pipeline: 2s" in text for text in files.values())


def test_a_bad_timeout_is_refused_naming_it():
    with pytest.raises(TypeError, match="`timeout`"):
        couler.config_workflow(timeout=[10])
    couler.config_workflow(timeout=0)
    couler.run_container(image="alpine:3.19", command=["echo", "hi"])
    with pytest.raises(ValidationError, match="workflow timeout of 0"):
        couler.workflow_spec()


def test_the_deadline_stops_a_local_run_and_the_exit_handler_still_runs(tmp_path):
    marker = tmp_path / "exit.txt"

    def slow():
        return couler.run_container(image="alpine:3.19", command=["sleep", "60"])

    def notify():
        return couler.run_container(
            image="alpine:3.19", command=["sh", "-c", "echo ran > %s" % marker])

    couler.config_workflow(name="deadline", timeout=1)
    slow()
    couler.set_exit_handler(couler.WFStatus.Failed, notify)
    started = time.monotonic()
    res = couler.run(submitter=couler.LocalSubmitter(state_dir=str(tmp_path / "state")))
    assert time.monotonic() - started < 40, "the 60 s step was stopped at the deadline"
    assert res.status == "Failed"
    assert "timeout of 1s passed" in res.message
    assert marker.read_text().strip() == "ran"
