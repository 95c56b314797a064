# The extension module built from python/src (nanobind). Internal: the
# paramdelta package wraps every call with typed results and defaults.
from typing import Callable, Optional, Sequence, Tuple

import numpy as np
import numpy.typing as npt

__version__: str

_Progress = Optional[Callable[[str, int, int], None]]
_Bytes = npt.NDArray[np.uint8]
_Tensor = Tuple[str, Sequence[int], _Bytes]

def parse_byte_size(text: str, field: str) -> int: ...
def parse_float_dtype(text: str, field: str) -> Optional[str]: ...
def compute(
    base: str,
    post: str,
    output: str,
    delta_dtype: Optional[str],
    vocab_mismatch: str,
    allow_non_finite: bool,
    allow_architecture_mismatch: bool,
    threads: int,
    force: bool,
    max_shard_size: int,
    progress: _Progress,
) -> str: ...
def apply(
    base: str,
    delta: str,
    output: str,
    scale: float,
    dtype: Optional[str],
    vocab_mismatch: str,
    allow_non_finite: bool,
    allow_architecture_mismatch: bool,
    threads: int,
    force: bool,
    max_shard_size: int,
    progress: _Progress,
) -> str: ...
def combine(
    deltas: Sequence[str],
    output: str,
    weights: Sequence[float],
    method: str,
    density: float,
    seed: Optional[int],
    delta_dtype: Optional[str],
    threads: int,
    force: bool,
    max_shard_size: int,
    progress: _Progress,
) -> str: ...
def verify(base: str, delta: str, expect: str, scale: float, threads: int, progress: _Progress) -> str: ...
def analyze(
    delta: str,
    base: str,
    new_base: str,
    other_delta: str,
    html: str,
    force: bool,
    threads: int,
    progress: _Progress,
) -> str: ...
def copy(source: str, destination: str, force: bool, progress: _Progress) -> str: ...
def inspect(path: str) -> str: ...
def evaluate(
    models: Sequence[str],
    data: Sequence[str],
    metrics: Sequence[str],
    reference: str,
    context: int,
    stride: int,
    max_new_tokens: int,
    batch: int,
    stop: Sequence[str],
    chat_template: bool,
    threads: int,
    limit: int,
    progress: _Progress,
) -> Tuple[str, list[str]]: ...

class Checkpoint:
    @staticmethod
    def open(location: str) -> Checkpoint: ...
    def keys(self) -> list[str]: ...
    def info(self, name: str) -> Tuple[str, list[int], int, str]: ...
    def array(self, name: str) -> npt.NDArray[np.generic]: ...
    def address(self, name: str) -> Tuple[int, int]: ...
    def metadata(self) -> dict[str, str]: ...
    def path(self) -> str: ...
    def warnings(self) -> list[str]: ...

def save(
    output: str,
    tensors: Sequence[Tuple[str, str, Sequence[int], _Bytes]],
    metadata: dict[str, str],
    force: bool,
    max_shard_size: int,
    progress: _Progress,
) -> str: ...
def save_delta(
    output: str,
    tensors: Sequence[Tuple[str, str, Sequence[int], _Bytes, str, str]],
    force: bool,
    max_shard_size: int,
    progress: _Progress,
) -> str: ...
def delta_dtype_for(post_dtype: str) -> str: ...
def compute_delta_tensor(
    name: str, base: _Tensor, post: _Tensor, out: _Tensor, threads: int, allow_non_finite: bool
) -> None: ...
def apply_delta_tensor(
    name: str, base: _Tensor, delta: _Tensor, scale: float, out: _Tensor, threads: int, allow_non_finite: bool
) -> None: ...
def combine_delta_tensors(
    name: str, deltas: Sequence[_Tensor], weights: Sequence[float], out: _Tensor, threads: int, allow_non_finite: bool
) -> None: ...
def _raise_error(
    kind: str, message: str, file: str, tensor: str, field: str, hint: str, option: str = ...
) -> None: ...
