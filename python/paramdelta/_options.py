"""The command line's option values, read by the library as the command line reads them."""

from __future__ import annotations

import os
from typing import Optional, Union

from . import _core
from .errors import _make, UsageError

PathLike = Union[str, "os.PathLike[str]"]


def byte_size(value: Union[int, str], field: str = "max_shard_size") -> int:
    """``"5GB"``, ``"500MB"``, ``"2GiB"`` or a number of bytes, as ``--max-shard-size`` reads it
    (decimal units like the Hub; ``*iB`` binary)."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise _make(
            UsageError,
            f"{field} {value!r} is not a size",
            option=field,
            hint="use a positive number with a unit such as 5GB, 500MB or 2GiB",
        )
    return _core.parse_byte_size(str(value), field)


def float_dtype(value: Optional[object], field: str) -> Optional[str]:
    """``None`` or ``"auto"`` (keep each tensor's own), else ``bf16``, ``f16`` or ``f32``
    in any of the command line's spellings (or a NumPy / torch dtype of those)."""
    if value is None:
        return None
    text = str(value).rsplit(".", 1)[-1]  # "torch.bfloat16", numpy's "float16"
    return _core.parse_float_dtype(text, field)


def path_text(value: PathLike) -> str:
    return os.fspath(value)
