"""Type stubs of ``couler._native``, the Rust core (crates/couler-py). Use ``couler._engine``:
these functions take JSON text and answer in JSON text (``compile``: a dict of file texts and
a list of warnings)."""

from typing import Dict, List, Optional, Tuple

class CoulerError(Exception):
    """Base of every error Couler raises."""

class InvalidSpec(CoulerError):
    """The spec is refused; ``args[0]`` is its diagnostics as JSON."""

class CompileError(CoulerError):
    """The engine cannot express the workflow (the message says why and what to do instead)."""

class InvalidArgument(CoulerError):
    """An argument other than the spec is wrong."""

def spec_yaml(spec_json: str) -> str: ...
def validate(spec_json: str) -> str: ...
def zoo_entries() -> str: ...
def compile(spec_json: str, target: str, options_json: str) -> Tuple[Dict[str, str], List[str]]: ...
def argo_workflow(spec_json: str) -> str: ...
def run_local(
    spec_json: str,
    params: List[Tuple[str, str]],
    state_dir: Optional[str],
    parallelism: Optional[int],
    use_cache: bool,
    runtime: str,
    spec_dir: Optional[str],
    propose: List[str],
) -> str: ...
def tune_propose() -> str: ...
def generate_spec(request_json: str) -> str: ...
def _panic_for_test() -> None: ...
def submit_manifest(
    manifest_json: str,
    namespace: Optional[str],
    kubeconfig: Optional[str],
    context: Optional[str],
    server: Optional[str],
    secrets_json: str,
) -> str: ...
def delete(
    kind: str,
    name: str,
    namespace: Optional[str],
    kubeconfig: Optional[str],
    context: Optional[str],
    server: Optional[str],
) -> str: ...
