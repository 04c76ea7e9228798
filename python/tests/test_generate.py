"""``couler.generate``: the pipeline of ``couler generate`` from Python, against a scripted
chat-completions server on loopback (a real HTTP server speaking the OpenAI protocol; the
answers are what a model could say). What it is asked is checked: the model, the key, the
calibration prompt with the validator's located diagnostic."""

import json

import pytest

import couler
from couler._native import CoulerError
from standin import StandIn

PREP = "```yaml\nsteps:\n- name: prep\n  container:\n    image: alpine:3.19\n    command: [echo, data]\n```"
TYPO = "```yaml\nsteps:\n- name: train\n  dependsOn: [prepp]\n  container:\n    image: alpine:3.19\n    command: [echo, train]\n```"


@pytest.fixture
def key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-python-key")
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)


def test_a_valid_spec_comes_back_and_every_exchange_is_logged(tmp_path, key):
    model = StandIn(['["prepare the data"]', PREP])
    try:
        log = tmp_path / "g.generate.jsonl"
        spec = couler.generate("Prepare the data", model="m1", endpoint=model.url, log=log)
    finally:
        model.close()
    assert "name: prep" in spec
    stages = [json.loads(line)["stage"] for line in log.read_text().splitlines()]
    assert stages == ["decompose", "generate"]
    for path, authorization, body in model.requests:
        assert path == "/v1/chat/completions"
        assert body["model"] == "m1"
        assert authorization == "Bearer sk-python-key"
    assert model.requests[0][2]["messages"][1]["content"] == "Prepare the data"


def test_no_valid_spec_raises_with_the_best_attempt_and_its_diagnostics(key):
    model = StandIn(['["train a model"]', TYPO, TYPO])
    try:
        with pytest.raises(couler.GenerateError) as raised:
            couler.generate("Train a model", endpoint=model.url, rounds=1)
    finally:
        model.close()
    assert "prepp" in raised.value.spec
    assert any("prepp" in e for e in raised.value.errors)
    assert "1 calibration round" in str(raised.value)
    # The calibration round sent the validator's located diagnostic back.
    fix = model.requests[2][2]["messages"][1]["content"]
    assert "prepp" in fix and "--> generated.yaml:" in fix


@pytest.mark.parametrize("kwargs, says", [
    ({"description": "  "}, "description is empty"),
    ({"description": "x", "target": "k8s"}, "argo, airflow"),
    ({"description": "x", "rounds": -1}, "rounds=-1"),
    ({"description": "x", "top_k": True}, "top_k=True"),
])
def test_bad_arguments_are_refused_before_any_request(kwargs, says):
    with pytest.raises(ValueError, match=says):
        couler.generate(**kwargs)


def test_a_model_that_cannot_be_loaded_is_a_couler_error_naming_the_fix(tmp_path, key):
    with pytest.raises(CoulerError) as raised:
        couler.generate("x", model=str(tmp_path / "missing.gguf"))
    message = str(raised.value)
    # This build has no local model, or the file is not there: either way the fix is named.
    assert "missing.gguf" in message
    assert "local-model" in message or "scripts/model-deps" in message
