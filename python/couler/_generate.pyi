from os import PathLike
from typing import List, Optional, Union

TARGETS: tuple

class GenerateError(Exception):
    spec: str
    errors: List[str]
    def __init__(self, message: str, spec: str, errors: List[str]) -> None: ...

def generate(
    description: str,
    *,
    target: str = ...,
    model: str = ...,
    endpoint: Optional[str] = ...,
    rounds: int = ...,
    decompose: bool = ...,
    retrieve: bool = ...,
    calibrate: bool = ...,
    top_k: int = ...,
    timeout: int = ...,
    log: Optional[Union[str, PathLike]] = ...,
) -> str: ...
