"""Tensors of a model or delta read in place, and tensors written as a model."""

from __future__ import annotations

import json
import warnings
from typing import Any, Dict, Iterator, Mapping, Optional, Tuple, Union

import numpy as np
import numpy.typing as npt

from . import _core
from ._dtypes import numpy_dtype, tensor_bytes, torch_dtype
from ._options import PathLike, byte_size, path_text
from ._progress import Progress, finish, progress_callback
from ._results import OperationResult
from .errors import UsageError, _make


class Checkpoint(Mapping[str, npt.NDArray[Any]]):
    """A model or delta opened lazily: nothing is read until a tensor is asked
    for, and a tensor is a read-only view into the file's memory mapping (no
    copy). The mapping stays alive while any array from it does."""

    def __init__(self, core: Any) -> None:
        self._handle: Any = core
        self._names = list(core.keys())
        self._known = set(self._names)

    @property
    def _core(self) -> Any:
        if self._handle is None:
            raise _make(UsageError, "the checkpoint is closed", hint="open it again with paramdelta.open")
        return self._handle

    @property
    def path(self) -> str:
        return str(self._core.path())

    @property
    def metadata(self) -> Dict[str, str]:
        """The first shard's ``__metadata__``."""
        return dict(self._core.metadata())

    @property
    def warnings(self) -> list[str]:
        return list(self._core.warnings())

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def __contains__(self, name: object) -> bool:
        return name in self._known

    def __getitem__(self, name: str) -> npt.NDArray[Any]:
        if name not in self._known:
            raise KeyError(name)
        array: npt.NDArray[Any] = self.tensor(name)
        return array

    def dtype(self, name: str) -> str:
        """The tensor's safetensors dtype (``"BF16"``, ``"F32"``, …)."""
        return str(self._core.info(name)[0])

    def shape(self, name: str) -> Tuple[int, ...]:
        return tuple(int(d) for d in self._core.info(name)[1])

    def tensor(self, name: str, *, framework: str = "np", raw: bool = False) -> Any:
        """The tensor in place. ``framework="np"``: a read-only NumPy array (BF16
        and 8-bit floats as ml_dtypes types; ``raw=True`` gives their bits as
        unsigned integers instead). ``framework="pt"``: a torch tensor sharing
        the same memory (torch warns that it is not writable; do not write to it)."""
        array = self._core.array(name)  # BF16/F8 arrive as their bits
        dtype = self.dtype(name)
        if framework == "pt":
            return _torch_view(array, dtype, self.shape(name))
        if framework != "np":
            raise _make(
                UsageError, f"framework '{framework}' is not supported", option="framework", hint="use 'np' or 'pt'"
            )
        if raw or dtype not in ("BF16", "F8_E4M3", "F8_E5M2"):
            return array
        return array.view(numpy_dtype(dtype, name))

    def close(self) -> None:
        """Drops this object's hold on the mapping (arrays already read keep it)."""
        self._handle = None

    def __enter__(self) -> "Checkpoint":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._handle is None else f"{self.path!r}"
        return f"paramdelta.Checkpoint({state}, {len(self)} tensors)"


def _torch_view(array: npt.NDArray[Any], dtype: str, shape: Tuple[int, ...]) -> Any:
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "The given buffer is not writable"
        if array.nbytes == 0:
            return torch.empty(shape, dtype=torch_dtype(dtype))
        flat = torch.frombuffer(array.reshape(-1).view(np.uint8).data, dtype=torch_dtype(dtype))
    return flat.reshape(shape)


def open(location: PathLike) -> Checkpoint:  # noqa: A001 - the package's verb
    """Open a model or delta for reading tensors in place: a model directory,
    a ``.safetensors`` file, a delta, or a Hub id in the local cache."""
    return Checkpoint(_core.Checkpoint.open(path_text(location)))


def save(
    tensors: Mapping[str, Any],
    path: PathLike,
    *,
    metadata: Optional[Mapping[str, str]] = None,
    max_shard_size: Union[int, str] = "5GB",
    force: bool = False,
    progress: Progress = None,
) -> OperationResult:
    """Write NumPy arrays or torch tensors (CPU) as a model: a directory
    (``model.safetensors``, or shards with ``model.safetensors.index.json``)
    or one file when ``path`` ends with ``.safetensors``. Nothing appears
    under ``path`` unless all was written; an existing output is an error
    unless ``force``."""
    items = []
    for name, value in tensors.items():
        dtype, shape, flat = tensor_bytes(value, name)
        items.append((name, dtype, list(shape), flat))
    callback = progress_callback(progress)
    try:
        text = _core.save(
            path_text(path),
            items,
            {str(k): str(v) for k, v in (metadata or {}).items()},
            force,
            byte_size(max_shard_size),
            callback,
        )
    finally:
        finish(callback)
    return OperationResult(json.loads(text))


def save_delta(
    delta: Any,
    path: PathLike,
    *,
    max_shard_size: Union[int, str] = "5GB",
    force: bool = False,
    progress: Progress = None,
) -> OperationResult:
    """Write a delta computed in memory (``compat.ParamDelta.calculate_delta``)
    as a delta the command line reads (plain encoding, with a manifest)."""
    items = []
    for name, value in delta.items():
        dtype, shape, flat = tensor_bytes(value, name)
        items.append((name, dtype, list(shape), flat, delta.base_dtypes[name], delta.post_dtypes[name]))
    callback = progress_callback(progress)
    try:
        text = _core.save_delta(path_text(path), items, force, byte_size(max_shard_size), callback)
    finally:
        finish(callback)
    return OperationResult(json.loads(text))


__all__ = ["Checkpoint", "open", "save", "save_delta"]
