"""couler._engine: the Rust core behind both Python APIs, driven for real (the spec loader,
the backends, the local runtime with real processes and SQLite)."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from couler import _engine as engine


def workflow(name, steps, **extra):
    spec = {"apiVersion": "couler.dev/v1alpha1", "kind": "Workflow", "name": name, "steps": steps}
    spec.update(extra)
    return spec


def echo(name, *words, **extra):
    step = {"name": name, "container": {"image": "alpine:3.19", "command": ["echo"] + list(words)}}
    step.update(extra)
    return step


HELLO = workflow("hello", [echo("say", "hi")])


def test_spec_yaml_is_canonical_and_round_trips():
    text = engine.spec_yaml(HELLO)
    assert text.startswith("apiVersion: couler.dev/v1alpha1\nkind: Workflow\nname: hello\n")
    assert "- name: say\n" in text
    # The canonical text is a fixed point: the same spec, re-recorded, prints the same bytes.
    again = workflow("hello", [{"container": {"command": ["echo", "hi"], "image": "alpine:3.19"}, "name": "say"}])
    assert engine.spec_yaml(again) == text


def test_validation_error_carries_the_cli_diagnostic_and_the_python_line():
    spec = workflow("bad", [echo("ok", "x"), {"name": "typo", "container": {"imge": "alpine"}}])
    sources = {"steps[0]": ("flow.py", 10), "steps[1]": ("flow.py", 12), "steps": ("flow.py", 1)}
    with pytest.raises(engine.ValidationError) as info:
        engine.validate(spec, sources)
    err = info.value
    assert isinstance(err, ValueError) and isinstance(err, engine.CoulerError)
    [d] = err.diagnostics
    assert d.severity == "error"
    assert d.path == "steps[1].container.imge"
    assert d.help == "did you mean `image`?"
    assert d.source == ("flow.py", 12)  # the longest matching prefix, not `steps`
    rendered = str(d)
    assert rendered.startswith("error: unknown field `imge`")
    assert "(at `steps[1].container.imge`)" in rendered
    assert rendered.endswith("  --> flow.py:12")
    assert "flow.py:12" in str(err)


def test_semantic_errors_all_come_back_each_with_its_line():
    spec = workflow("cycle", [echo("a", "x", dependsOn=["b"]), echo("b", "y", dependsOn=["a"])])
    with pytest.raises(engine.ValidationError) as info:
        engine.spec_yaml(spec, {"steps[0]": ("flow.py", 3), "steps[1]": ("flow.py", 4)})
    messages = [d.message for d in info.value.diagnostics]
    assert any("cycle" in m for m in messages), messages
    assert all(d.source in {("flow.py", 3), ("flow.py", 4), None} for d in info.value.diagnostics)
    assert any(d.source is not None for d in info.value.diagnostics)


def test_validate_returns_warnings_of_a_valid_spec():
    assert engine.validate(HELLO) == []


def test_argo_workflow_is_a_dict():
    doc = engine.argo_workflow(HELLO)
    assert doc["apiVersion"] == "argoproj.io/v1alpha1"
    assert doc["kind"] == "Workflow"
    templates = {t["name"]: t for t in doc["spec"]["templates"]}
    assert any(t.get("container", {}).get("args", t.get("container", {}).get("command")) for t in templates.values())


@pytest.mark.parametrize("target, expected", [
    ("argo", ["hello.yaml"]),
    ("airflow", ["hello.py"]),
    ("tekton", None),
])
def test_compile_writes_every_file_of_each_target(tmp_path, target, expected):
    files = engine.compile(HELLO, target, output_dir=tmp_path / "out")
    if expected is not None:
        assert sorted(files) == expected
    assert files
    written = sorted(os.listdir(tmp_path / "out"))
    assert written == sorted(files)
    for name, text in files.items():
        assert (tmp_path / "out" / name).read_text() == text


def test_compile_options_are_the_cli_flags():
    files = engine.compile(HELLO, "argo", kind="workflow-template")
    assert "kind: WorkflowTemplate" in files["hello.yaml"]
    airflow = engine.compile(HELLO, "airflow", operator="docker", launcher_image="couler:1")
    assert "DockerOperator" in airflow["hello.py"]


def test_compile_refusal_writes_nothing(tmp_path):
    # A cron-workflow needs a schedule: the backend refuses, and the directory stays as it was.
    out = tmp_path / "out"
    with pytest.raises(engine.CompileError) as info:
        engine.compile(HELLO, "argo", output_dir=out, kind="cron-workflow")
    assert "schedule" in str(info.value)
    assert not out.exists()


def test_a_write_that_fails_midway_leaves_nothing(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    # A directory where one file should go: that rename fails; no temporary file is left.
    files = engine.compile(HELLO, "tekton")
    blocker = sorted(files)[-1]
    (out / blocker).mkdir()
    (out / blocker / "keep").write_text("x")
    with pytest.raises(IsADirectoryError, match="a directory is in the way"):
        engine.compile(HELLO, "tekton", output_dir=out)
    assert os.listdir(out) == [blocker]


def test_bad_target_names_the_nearest_one():
    with pytest.raises(engine.ArgumentError) as info:
        engine.compile(HELLO, "argp")
    assert isinstance(info.value, ValueError)
    assert 'did you mean "argo"?' in str(info.value)
    with pytest.raises(engine.ArgumentError, match='operator= applies to target="airflow" only'):
        engine.compile(HELLO, "argo", operator="host")
    with pytest.raises(TypeError, match="did you mean `no_template_reuse`"):
        engine.compile(HELLO, "argo", no_template_resue=True)


def test_bad_types_raise_type_error_naming_the_argument():
    with pytest.raises(TypeError, match="spec must be a dict"):
        engine.spec_yaml([HELLO])
    with pytest.raises(TypeError, match="target must be a str"):
        engine.compile(HELLO, 3)
    with pytest.raises(TypeError, match="no_template_reuse= must be a bool"):
        engine.compile(HELLO, "argo", no_template_reuse="yes")
    with pytest.raises(TypeError, match="parallelism must be an int"):
        engine.run_local(HELLO, parallelism="2")
    with pytest.raises(TypeError, match="spec is not plain data"):
        engine.validate(workflow("x", [echo("a", object())]))
    # A wrong type inside the spec is a diagnostic at its path.
    with pytest.raises(engine.ValidationError) as info:
        engine.validate(workflow("x", [echo("a", "b", retries="three")]))
    assert info.value.diagnostics[0].path.startswith("steps[0].retries")


def test_no_panic_crosses_into_python():
    with pytest.raises(engine.CoulerError, match="internal error: a panic raised on purpose"):
        engine._native._panic_for_test()


SMALL = workflow("small", [
    {
        "name": "gen",
        "script": {
            "image": "python:3.12-slim",
            "command": [sys.executable],
            "source": textwrap.dedent("""\
                print("heads")
                open("answer.txt", "w").write("42")
                open("data.csv", "w").write("a,b\\n1,2\\n")
            """),
        },
        "outputs": {
            "parameters": [{"name": "answer", "path": "answer.txt"}],
            "artifacts": [{"name": "data", "path": "data.csv"}],
        },
    },
    echo("heads", "got {{steps.gen.outputs.parameters.answer}}",
         when='steps.gen.outputs.result == "heads"'),
    echo("tails", "never", when='steps.gen.outputs.result == "tails"'),
    {"name": "boom", "container": {"image": "alpine:3.19", "command": ["sh", "-c", "exit 3"]},
     "dependsOn": ["gen"]},
])


def test_run_local_runs_real_processes(tmp_path):
    result = engine.run_local(SMALL, state_dir=tmp_path / "state")
    assert result.status == "Failed"
    assert result.state_dir == str(tmp_path / "state")
    assert (tmp_path / "state" / "state.db").is_file()
    gen = result.steps["gen"]
    assert (gen.status, gen.exit_code, gen.result) == ("Succeeded", 0, "heads")
    assert gen.parameters == {"answer": "42"}
    with open(gen.artifacts["data"]) as f:
        assert f.read() == "a,b\n1,2\n"
    assert result.steps["heads"].status == "Succeeded"
    assert result.steps["heads"].result == "got 42"
    assert result.steps["tails"].status == "Skipped"
    boom = result.steps["boom"]
    assert (boom.status, boom.exit_code) == ("Failed", 3)
    assert "exited with code 3" in boom.message
    # A second run reuses gen (it declares outputs); the failing step runs again.
    again = engine.LocalSubmitter(state_dir=tmp_path / "state").submit(SMALL)
    assert again.run_id != result.run_id
    assert again.steps["gen"].status == "Cached"
    assert again.steps["boom"].status == "Failed"


def test_run_local_params_and_bad_input(tmp_path):
    spec = workflow("p", [echo("show", "{{params.n}}")], params=[{"name": "n", "type": "int", "default": 1}])
    result = engine.run_local(spec, params={"n": 7}, state_dir=tmp_path)
    assert result.status == "Succeeded"
    assert result.steps["show"].result == "7"
    with pytest.raises(engine.ArgumentError, match="nope"):
        engine.run_local(spec, params={"nope": 1}, state_dir=tmp_path)
    with pytest.raises(engine.ArgumentError, match='runtime="hots"'):
        engine.run_local(spec, runtime="hots", state_dir=tmp_path)


def test_ctrl_c_stops_the_run_like_couler_stop(tmp_path):
    # A child Python runs a long step; SIGINT (Ctrl-C) stops it, the exit handler still runs,
    # the run is recorded stopped and KeyboardInterrupt reaches the program.
    program = tmp_path / "prog.py"
    marker = tmp_path / "exit-handler-ran"
    program.write_text(textwrap.dedent("""\
        import sys
        from couler import _engine as engine
        spec = {{"apiVersion": "couler.dev/v1alpha1", "kind": "Workflow", "name": "long",
                 "steps": [{{"name": "sleep", "container": {{"image": "a", "command": ["sleep", "60"]}}}}],
                 "onExit": [{{"name": "bye", "container": {{"image": "a", "command": ["touch", {marker!r}]}}}}]}}
        print("started", flush=True)
        try:
            engine.run_local(spec, state_dir={state!r})
        except KeyboardInterrupt:
            print("interrupted", flush=True)
            sys.exit(7)
    """).format(marker=str(marker), state=str(tmp_path / "state")))
    # SIGINT back to its default in the child: a suite started in the background by a
    # non-interactive shell inherits it ignored, and Python then never sees Ctrl-C.
    child = subprocess.Popen([sys.executable, str(program)], stdout=subprocess.PIPE, text=True,
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert child.stdout.readline() == "started\n"
    deadline = time.time() + 20
    while not list((tmp_path / "state").glob("runs/*/steps/sleep.1")) and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    began = time.time()
    child.send_signal(signal.SIGINT)
    out, _ = child.communicate(timeout=30)
    assert child.returncode == 7, out
    assert "interrupted" in out
    assert time.time() - began < 15  # SIGTERM (then SIGKILL after the grace), not 60 s
    assert marker.exists()


class _ApiStandIn:
    """A loopback stand-in for the Kubernetes API server (no real one runs here), as
    crates/couler-cli/tests/support/fake_api.rs: it accepts the created object, names it, and
    logs every request."""

    def __init__(self, reply_code=201, exists=()):
        import http.server
        import json
        import threading

        log = self.log = []

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                path = self.path.split("?")[0]
                log.append(("POST", path, json.loads(raw)))
                body = json.loads(raw)
                code = 409 if body["metadata"].get("name") in exists else reply_code
                if code == 409:
                    reply = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                             "message": "already exists", "reason": "AlreadyExists", "code": 409}
                elif code == 201:
                    body["metadata"]["name"] = body["metadata"].get("generateName", "x-") + "abc12"
                    body["metadata"]["uid"] = "0b7f-uid"
                    reply = body
                else:
                    reply = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                             "message": "workflows is forbidden", "reason": "Forbidden", "code": reply_code}
                data = json.dumps(reply).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_DELETE(self):
                log.append(("DELETE", self.path.split("?")[0], None))
                data = json.dumps({"kind": "Status", "apiVersion": "v1", "metadata": {},
                                   "status": "Success", "code": 200}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:{}".format(self.server.server_address[1])
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def kubeconfig(self, directory):
        path = directory / "kubeconfig"
        path.write_text(textwrap.dedent("""\
            apiVersion: v1
            kind: Config
            clusters:
            - name: standin
              cluster: {{server: "{url}"}}
            users:
            - name: standin
              user: {{}}
            contexts:
            - name: standin
              context: {{cluster: standin, user: standin, namespace: from-context}}
            - name: other
              context: {{cluster: standin, user: standin, namespace: other-ns}}
            current-context: standin
        """).format(url=self.url))
        return path


def test_submit_argo_creates_the_workflow_through_the_kubernetes_api(tmp_path):
    api = _ApiStandIn()
    try:
        config = api.kubeconfig(tmp_path)
        created = engine.submit_argo(HELLO, namespace="ml", kubeconfig=config)
        assert created == {"kind": "Workflow", "namespace": "ml", "name": "hello-abc12", "uid": "0b7f-uid"}
        method, path, body = api.log[0]
        assert (method, path) == ("POST", "/apis/argoproj.io/v1alpha1/namespaces/ml/workflows")
        assert body == engine.argo_workflow(HELLO)  # exactly what compile makes
        # namespace=None: the context's; context= picks another context of the kubeconfig.
        assert engine.submit_argo(HELLO, namespace=None, kubeconfig=config)["namespace"] == "from-context"
        assert engine.submit_argo(HELLO, namespace=None, kubeconfig=config, context="other")["namespace"] == "other-ns"
        assert api.log[2][1] == "/apis/argoproj.io/v1alpha1/namespaces/other-ns/workflows"
    finally:
        api.server.shutdown()


def test_submit_argo_errors_name_the_cause(tmp_path):
    api = _ApiStandIn(reply_code=403)
    try:
        with pytest.raises(engine.CoulerError, match="the API server refused the Workflow.*forbidden"):
            engine.submit_argo(HELLO, kubeconfig=api.kubeconfig(tmp_path))
    finally:
        api.server.shutdown()
    with pytest.raises(engine.CoulerError, match="cannot read kubeconfig"):
        engine.submit_argo(HELLO, kubeconfig=tmp_path / "missing")
    with pytest.raises(engine.ValidationError):
        engine.submit_argo(workflow("bad", [{"name": "x"}]), kubeconfig=tmp_path / "missing")
    # Only the first call reached the server, into the default namespace.
    assert [(m, p) for m, p, _ in api.log] == [("POST", "/apis/argoproj.io/v1alpha1/namespaces/default/workflows")]


def test_compile_warnings_are_python_warnings():
    # Many steps with long arguments: an Argo Workflow over what Argo keeps in one object; the
    # backend's warning (couler compile prints it) reaches Python as a CoulerWarning.
    steps = [echo("s{}".format(i), "x" * 2000 + str(i)) for i in range(1200)]
    with pytest.warns(engine.CoulerWarning, match="above what Argo stores in one object.*couler split"):
        files = engine.compile(workflow("big", steps), "argo")
    assert len(files["big.yaml"]) > 2_000_000


def test_run_local_releases_the_gil(tmp_path):
    # While a run waits on a 1-second step, other Python threads keep running.
    import threading

    spec = workflow("slow", [{"name": "nap", "container": {"image": "a", "command": ["sleep", "1"]}}])
    results = []
    runner = threading.Thread(target=lambda: results.append(engine.run_local(spec, state_dir=tmp_path)))
    runner.start()
    ticks = 0
    while runner.is_alive():
        ticks += 1
        time.sleep(0.01)
    runner.join()
    assert results[0].status == "Succeeded"
    assert ticks > 50  # about 100 with the GIL free; 1 or 2 if the run held it


def test_argo_submitter_creates_the_secrets_then_the_workflow(tmp_path):
    # The drop-in's ArgoSubmitter goes through the same Rust client as `couler submit`: the
    # secrets a step reads first (an existing one kept, a use_existing one never sent), then
    # the workflow, all into the submitter's namespace.
    import couler

    api = _ApiStandIn(exists={"kept"})
    try:
        couler._cleanup()
        fresh = couler.create_secret({"TOKEN": "abc"})
        kept = couler.create_secret({"KEY": "k"}, name="kept")
        reused = couler.create_secret({"OTHER": "o"}, name="reused", use_existing=True)
        for secret in (fresh, kept, reused):
            couler.run_container(image="alpine:3.19", command=["env"], secret=secret)
        created = couler.run(submitter=couler.ArgoSubmitter(
            namespace="ml", config_file=str(api.kubeconfig(tmp_path))))
        assert created["kind"] == "Workflow" and created["namespace"] == "ml"
        posts = [(path, body["kind"], body["metadata"].get("name")) for _, path, body in api.log]
        assert posts[:2] == [("/api/v1/namespaces/ml/secrets", "Secret", fresh),
                             ("/api/v1/namespaces/ml/secrets", "Secret", "kept")]
        assert posts[2][:2] == ("/apis/argoproj.io/v1alpha1/namespaces/ml/workflows", "Workflow")
        assert len(posts) == 3
        assert api.log[0][2]["data"] == {"TOKEN": "YWJj"}  # base64 of the value, never in the spec
    finally:
        api.server.shutdown()
        couler._cleanup()


def test_a_submitted_workflow_is_deleted_through_the_same_client(tmp_path):
    import couler

    api = _ApiStandIn()
    try:
        config = str(api.kubeconfig(tmp_path))
        assert couler.delete("hello-abc12", namespace="ml", config_file=config) == "ml"
        assert engine.delete("cron-1", kind="CronWorkflow", namespace=None, kubeconfig=config) == "from-context"
        assert [(m, p) for m, p, _ in api.log] == [
            ("DELETE", "/apis/argoproj.io/v1alpha1/namespaces/ml/workflows/hello-abc12"),
            ("DELETE", "/apis/argoproj.io/v1alpha1/namespaces/from-context/cronworkflows/cron-1"),
        ]
        with pytest.raises(TypeError, match="name must be a str"):
            engine.delete(3, kubeconfig=config)
    finally:
        api.server.shutdown()
