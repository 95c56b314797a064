"""The command line's option values, spelled the same way in Python."""

from __future__ import annotations

import os
import re
from typing import Optional, Union

from .errors import _make, UsageError

PathLike = Union[str, "os.PathLike[str]"]

_SIZE_UNITS = {
    "": 1,
    "B": 1,
    "KB": 10**3,
    "MB": 10**6,
    "GB": 10**9,
    "TB": 10**12,
    "KIB": 1024,
    "MIB": 1024**2,
    "GIB": 1024**3,
}


def byte_size(value: Union[int, str], field: str = "max_shard_size") -> int:
    """``"5GB"``, ``"500MB"``, ``"2GiB"`` or a number of bytes, as ``--max-shard-size`` reads it
    (decimal units like the Hub; ``*iB`` binary)."""
    if isinstance(value, bool):
        raise _make(UsageError, f"{value!r} is not a size", field=field)
    if isinstance(value, int):
        if value <= 0:
            raise _make(UsageError, f"'{value}' is not a size", field=field, hint="use a positive number of bytes")
        return value
    match = re.fullmatch(r"([0-9.]*)(.*)", str(value))
    assert match is not None
    number, unit = match.group(1), match.group(2).upper()
    try:
        amount = float(number) if number else -1.0
    except ValueError:
        amount = -1.0
    if amount <= 0 or unit not in _SIZE_UNITS:
        raise _make(
            UsageError,
            f"'{value}' is not a size",
            field=field,
            hint="use a positive number with a unit such as 5GB, 500MB or 2GiB",
        )
    return int(amount * _SIZE_UNITS[unit])


_DTYPES = {
    "BF16": "BF16",
    "BFLOAT16": "BF16",
    "F16": "F16",
    "FP16": "F16",
    "FLOAT16": "F16",
    "F32": "F32",
    "FP32": "F32",
    "FLOAT32": "F32",
}


def float_dtype(value: Optional[object], field: str) -> Optional[str]:
    """``None`` or ``"auto"`` (keep each tensor's own), else ``bf16``, ``f16`` or ``f32``
    in any of the command line's spellings (or a NumPy / torch dtype of those)."""
    if value is None:
        return None
    text = str(value).rsplit(".", 1)[-1].upper()  # "torch.bfloat16", numpy's "float16"
    if text == "AUTO":
        return None
    if text not in _DTYPES:
        raise _make(UsageError, f"'{value}' is not supported", field=field, hint="use bf16, f16 or f32")
    return _DTYPES[text]


def path_text(value: PathLike) -> str:
    return os.fspath(value)
