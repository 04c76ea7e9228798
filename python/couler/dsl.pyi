# Type stubs of couler.dsl, the Pythonic API (docs/python.md).
import builtins
from contextlib import AbstractContextManager
from typing import (Annotated, Any, Callable, Dict, Generic, List, Literal, Mapping, Optional,
                    Sequence, Tuple, TypeVar, Union, overload)

from typing_extensions import TypedDict, Unpack

from couler import search as search
from couler._engine import Diagnostic, RunResult

_T = TypeVar("_T")
_F = TypeVar("_F", bound=Callable[..., Any])

class _ArtifactMarker: ...

# `couler.Input[Path]`: a file or directory another step produced (the function gets its path).
Input = Annotated[_T, _ArtifactMarker]
# `couler.Output[Path]`: where the step writes a file or directory (callers do not pass it).
Output = Annotated[_T, _ArtifactMarker]

DEFAULT_IMAGE: str

_Literal = Union[str, int, float, bool]
_Operand = Union[_Literal, "Ref"]

class NotInWorkflowError(RuntimeError): ...

class _StepOptions(TypedDict, total=False):
    name: str
    image: str
    command: Sequence[str]
    resources: Mapping[str, Any]
    retry: Union[int, Mapping[str, Any]]
    cache: Union[bool, Mapping[str, Any]]
    timeout: Union[str, int]
    env: Mapping[str, Union[str, Ref]]
    description: str

class Condition:
    text: str
    def __init__(self, text: str) -> None: ...
    def __and__(self, other: Union[Condition, Ref, bool]) -> Condition: ...
    def __rand__(self, other: Union[Condition, Ref, bool]) -> Condition: ...
    def __or__(self, other: Union[Condition, Ref, bool]) -> Condition: ...
    def __ror__(self, other: Union[Condition, Ref, bool]) -> Condition: ...
    def __invert__(self) -> Condition: ...

class Ref:
    expr: str
    type: Optional[str]
    what: str
    def __init__(self, expr: str, type: Optional[str] = ..., what: Optional[str] = ...) -> None: ...
    def __eq__(self, other: _Operand) -> Condition: ...  # type: ignore[override]
    def __ne__(self, other: _Operand) -> Condition: ...  # type: ignore[override]
    def __lt__(self, other: _Operand) -> Condition: ...
    def __le__(self, other: _Operand) -> Condition: ...
    def __gt__(self, other: _Operand) -> Condition: ...
    def __ge__(self, other: _Operand) -> Condition: ...
    def __invert__(self) -> Condition: ...
    def __and__(self, other: Union[Condition, Ref, bool]) -> Condition: ...
    def __or__(self, other: Union[Condition, Ref, bool]) -> Condition: ...
    def __hash__(self) -> int: ...
    def __getattr__(self, key: str) -> Ref: ...
    def __getitem__(self, key: str) -> Ref: ...

class ArtifactRef:
    step: str
    name: str
    expr: str
    def __init__(self, step: str, name: str) -> None: ...

class _Outputs:
    def __init__(self, output: Optional[Ref], artifacts: Mapping[str, ArtifactRef]) -> None: ...
    def artifacts(self) -> List[ArtifactRef]: ...
    def __getattr__(self, key: str) -> Union[Ref, ArtifactRef]: ...
    def __getitem__(self, key: str) -> Union[Ref, ArtifactRef]: ...

class Task:
    def __init__(
        self, recorder: Any, name: str, returns: Optional[str], artifacts: Sequence[str], mapped: bool
    ) -> None: ...
    name: str
    @property
    def output(self) -> Ref: ...
    outputs: _Outputs
    result: Ref
    status: Ref
    exit_code: Ref
    def after(self, *tasks: Union[Task, str]) -> Task: ...

class StepFunction(Generic[_F]):
    fn: _F
    options: Dict[str, Any]
    source: str
    def __init__(self, fn: _F, options: Mapping[str, Any]) -> None: ...
    def with_options(self, **options: Unpack[_StepOptions]) -> StepFunction[_F]: ...
    def __call__(self, *args: Any, **kwargs: Any) -> Task: ...
    def tune(
        self,
        *,
        budget: int,
        goal: Literal["maximize", "minimize"] = ...,
        parallelism: Optional[int] = ...,
        method: Literal["random", "sobol", "tpe", "sh", "hyperband", "asha", "llm"] = ...,
        seed: int = ...,
        llm: Optional[Dict[str, Any]] = ...,
        schedule: Optional[Literal["rounds", "asynchronous"]] = ...,
    ) -> Callable[..., TunedTask]: ...

class _Best:
    def __getattr__(self, key: str) -> Ref: ...
    def __getitem__(self, key: str) -> Ref: ...

class TunedTask(Task):
    def __init__(self, recorder: Any, name: str, types: Mapping[str, str]) -> None: ...
    best: _Best
    best_objective: Ref
    best_trial: Ref
    trials: Ref

@overload
def step(fn: _F) -> StepFunction[_F]: ...
@overload
def step(fn: None = ..., **options: Unpack[_StepOptions]) -> Callable[[_F], StepFunction[_F]]: ...

class Param:
    default: Any
    type: str
    description: Optional[str]
    enum: Optional[List[Any]]
    def __init__(
        self,
        default: Any = ...,
        type: Optional[builtins.type] = ...,
        description: Optional[str] = ...,
        enum: Optional[Sequence[Any]] = ...,
    ) -> None: ...
    def spec(self, name: str) -> Dict[str, Any]: ...

class _Params:
    def __init__(self, declared: Mapping[str, Param]) -> None: ...
    def __getattr__(self, key: str) -> Ref: ...
    def __getitem__(self, key: str) -> Ref: ...

class Workflow:
    name: str
    params: _Params
    status: Ref
    def __init__(
        self, name: Optional[str] = ..., params: Optional[Mapping[str, Any]] = ..., **options: Any
    ) -> None: ...
    def __enter__(self) -> Workflow: ...
    def __exit__(self, *exc: Any) -> bool: ...
    def spec(self) -> Dict[str, Any]: ...
    def sources(self) -> Dict[str, Tuple[str, int]]: ...
    def spec_yaml(self) -> str: ...
    def validate(self) -> List[Diagnostic]: ...
    def run(
        self,
        params: Optional[Mapping[str, Any]] = ...,
        state_dir: Optional[str] = ...,
        parallelism: Optional[int] = ...,
        use_cache: bool = ...,
        runtime: str = ...,
    ) -> RunResult: ...
    def compile(self, target: str, output_dir: Optional[str] = ..., **options: Any) -> Dict[str, str]: ...

class _WorkflowEntry:
    def __call__(
        self,
        name: Optional[str] = ...,
        params: Optional[Mapping[str, Any]] = ...,
        *,
        image: Optional[str] = ...,
        retry: Union[int, Mapping[str, Any], None] = ...,
        timeout: Union[str, int, None] = ...,
        resources: Optional[Mapping[str, Any]] = ...,
        cache: Union[bool, Mapping[str, Any], None] = ...,
        dag: bool = ...,
        description: Optional[str] = ...,
        parallelism: Optional[int] = ...,
        labels: Optional[Mapping[str, str]] = ...,
        annotations: Optional[Mapping[str, str]] = ...,
        schedule: Optional[Mapping[str, Any]] = ...,
        service_account: Optional[str] = ...,
        image_pull_secrets: Optional[Sequence[str]] = ...,
        volumes: Optional[Sequence[Mapping[str, Any]]] = ...,
        volume_claims: Optional[Sequence[Mapping[str, Any]]] = ...,
        ttl: Optional[Mapping[str, Any]] = ...,
        pod_gc: Optional[Mapping[str, Any]] = ...,
        artifact_repository: Optional[Mapping[str, Any]] = ...,
        defaults: Optional[Mapping[str, Any]] = ...,
    ) -> Workflow: ...
    def __getattr__(self, key: str) -> Any: ...

workflow: _WorkflowEntry

def condition(cond: Union[Condition, Ref, bool]) -> AbstractContextManager[None]: ...
def for_each(
    items: Union[Sequence[Any], range, Ref, Task], parallelism: Optional[int] = ...
) -> AbstractContextManager[Ref]: ...
def exit_handler() -> AbstractContextManager[None]: ...
