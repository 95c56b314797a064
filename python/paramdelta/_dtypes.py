"""Element types between safetensors, NumPy (with ml_dtypes for BF16 and
8-bit floats) and torch."""

from __future__ import annotations

from typing import Any, Dict, Tuple

import numpy as np
import numpy.typing as npt

from .errors import UsageError, _make

# safetensors dtype -> NumPy dtype name (ml_dtypes' names for the types NumPy lacks)
_NUMPY_NAMES: Dict[str, str] = {
    "BOOL": "bool",
    "U8": "uint8",
    "I8": "int8",
    "U16": "uint16",
    "I16": "int16",
    "U32": "uint32",
    "I32": "int32",
    "U64": "uint64",
    "I64": "int64",
    "F16": "float16",
    "F32": "float32",
    "F64": "float64",
    "BF16": "bfloat16",
    "F8_E4M3": "float8_e4m3fn",
    "F8_E5M2": "float8_e5m2",
}
_FROM_NUMPY = {v: k for k, v in _NUMPY_NAMES.items()}
_ML_DTYPES = {"BF16", "F8_E4M3", "F8_E5M2"}


def numpy_dtype(name: str, tensor: str = "") -> np.dtype[Any]:
    """The NumPy dtype of a safetensors dtype; BF16 and the 8-bit floats need ml_dtypes."""
    numpy_name = _NUMPY_NAMES[name]
    if name in _ML_DTYPES:
        try:
            import ml_dtypes
        except ImportError:
            raise _make(
                UsageError,
                f"{name} elements need the ml_dtypes package for NumPy",
                tensor=tensor,
                hint="pip install ml_dtypes, or read the raw bits with raw=True",
            ) from None
        return np.dtype(getattr(ml_dtypes, numpy_name))
    return np.dtype(numpy_name)


def safetensors_dtype(dtype: np.dtype[Any], tensor: str = "") -> str:
    name = np.dtype(dtype).name
    if name not in _FROM_NUMPY:
        raise _make(UsageError, f"NumPy dtype {name} has no safetensors equivalent", tensor=tensor)
    return _FROM_NUMPY[name]


def is_torch_tensor(value: Any) -> bool:
    module = type(value).__module__
    return module.startswith("torch") and type(value).__name__ in ("Tensor", "Parameter")


_TORCH_NAMES = {
    "bool": "BOOL",
    "uint8": "U8",
    "int8": "I8",
    "int16": "I16",
    "uint16": "U16",
    "int32": "I32",
    "uint32": "U32",
    "int64": "I64",
    "uint64": "U64",
    "float16": "F16",
    "bfloat16": "BF16",
    "float32": "F32",
    "float64": "F64",
    "float8_e4m3fn": "F8_E4M3",
    "float8_e5m2": "F8_E5M2",
}


def torch_dtype(name: str) -> Any:
    import torch

    for torch_name, st in _TORCH_NAMES.items():
        if st == name:
            return getattr(torch, torch_name)
    raise KeyError(name)


def tensor_bytes(value: Any, tensor: str) -> Tuple[str, Tuple[int, ...], npt.NDArray[np.uint8]]:
    """(safetensors dtype, shape, the elements as a flat uint8 array) of a NumPy
    array or torch tensor on the CPU; no copy when it is already C-contiguous."""
    if is_torch_tensor(value):
        t = value.detach()
        if t.device.type != "cpu":
            raise _make(UsageError, f"is on {t.device}, not the CPU", tensor=tensor, hint="move it with .cpu()")
        name = _TORCH_NAMES.get(str(t.dtype).replace("torch.", ""))
        if name is None:
            raise _make(UsageError, f"torch dtype {t.dtype} has no safetensors equivalent", tensor=tensor)
        shape = tuple(int(d) for d in t.shape)
        import torch

        flat = t.contiguous().reshape(-1).view(torch.uint8).numpy()
        return name, shape, flat
    array = np.asarray(value)
    name = safetensors_dtype(array.dtype, tensor)
    array = np.ascontiguousarray(array)
    return name, tuple(int(d) for d in array.shape), array.reshape(-1).view(np.uint8)
