"""ParamΔ on state dicts in memory (dicts of NumPy arrays or torch tensors),
computed tensor by tensor by the library's kernels with the command line's
rounding: no Python loop touches an element."""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Sequence

import numpy as np
import numpy.typing as npt

from . import _core
from ._dtypes import is_torch_tensor, numpy_dtype, tensor_bytes, torch_dtype
from .errors import MismatchError, UsageError, _make

StateDict = Mapping[str, Any]


class DeltaStateDict(Dict[str, Any]):
    """A delta in memory: tensor name -> post − base, remembering the dtypes
    of the base and post tensors, so that saving it writes a delta (with a
    manifest) that the command line and :func:`paramdelta.analyze` read."""

    def __init__(self) -> None:
        super().__init__()
        self.base_dtypes: Dict[str, str] = {}
        self.post_dtypes: Dict[str, str] = {}


def _same_names(first: StateDict, first_role: str, second: StateDict, second_role: str) -> None:
    for name in first:
        if name not in second:
            raise _make(
                MismatchError,
                f"exists only in the {first_role} state dict",
                tensor=name,
                hint=f"the {first_role} and {second_role} must hold the same tensors",
            )
    for name in second:
        if name not in first:
            raise _make(
                MismatchError,
                f"exists only in the {second_role} state dict",
                tensor=name,
                hint=f"the {first_role} and {second_role} must hold the same tensors",
            )


def _empty_like(template: Any, dtype: str, shape: Sequence[int], name: str) -> Any:
    """A new tensor of the template's kind (torch or NumPy) with a safetensors dtype."""
    if is_torch_tensor(template):
        import torch

        return torch.empty(tuple(shape), dtype=torch_dtype(dtype))
    return np.empty(tuple(shape), dtype=numpy_dtype(dtype, name))


def _argument(value: Any, name: str) -> tuple[str, List[int], npt.NDArray[np.uint8]]:
    dtype, shape, flat = tensor_bytes(value, name)
    return dtype, list(shape), flat


def calculate_delta(
    post: StateDict, base: StateDict, *, threads: int = 0, allow_non_finite: bool = False
) -> DeltaStateDict:
    """post − base per tensor, in the post tensor's dtype (fp32 arithmetic,
    rounded to nearest even): the values ``paramdelta compute`` stores."""
    _same_names(post, "post", base, "base")
    delta = DeltaStateDict()
    for name, p in post.items():
        post_arg = _argument(p, name)
        base_arg = _argument(base[name], name)
        out = _empty_like(p, _core.delta_dtype_for(post_arg[0]), post_arg[1], name)
        out_arg = _argument(out, name)
        _core.compute_delta_tensor(name, base_arg, post_arg, out_arg, threads, allow_non_finite)
        delta[name] = out
        delta.base_dtypes[name] = base_arg[0]
        delta.post_dtypes[name] = post_arg[0]
    return delta


def apply_delta(
    base: StateDict,
    delta: StateDict,
    *,
    scale: float = 1.0,
    threads: int = 0,
    allow_non_finite: bool = False,
) -> Dict[str, Any]:
    """base + scale·delta per tensor in fp32 (F64: double), rounded to the
    base tensor's dtype: what ``paramdelta apply`` writes for a delta without
    an exception list."""
    _same_names(base, "base", delta, "delta")
    result: Dict[str, Any] = {}
    for name, b in base.items():
        base_arg = _argument(b, name)
        delta_arg = _argument(delta[name], name)
        out = _empty_like(b, base_arg[0], base_arg[1], name)
        _core.apply_delta_tensor(name, base_arg, delta_arg, float(scale), _argument(out, name), threads, allow_non_finite)
        result[name] = out
    return result


def combine_deltas(
    deltas: Sequence[StateDict],
    weights: Optional[Sequence[float]] = None,
    *,
    threads: int = 0,
    allow_non_finite: bool = False,
) -> DeltaStateDict:
    """Σ wᵢ·deltaᵢ per tensor, summed in fp32 and rounded once to the first
    delta's dtype: ``paramdelta combine``'s sum."""
    if len(deltas) == 0:
        raise _make(UsageError, "no deltas to combine (deltas is empty)", option="deltas")
    w = [1.0] * len(deltas) if weights is None else [float(x) for x in weights]
    if len(w) != len(deltas):
        raise _make(
            UsageError,
            f"got {len(w)} weights (weights) for {len(deltas)} deltas",
            option="weights",
            hint="give one weight per delta",
        )
    for i, other in enumerate(deltas[1:], start=2):
        _same_names(deltas[0], "first", other, f"delta #{i}")
    result = DeltaStateDict()
    first_dtypes = deltas[0] if isinstance(deltas[0], DeltaStateDict) else None
    for name, first in deltas[0].items():
        args = [_argument(d[name], name) for d in deltas]
        out = _empty_like(first, args[0][0], args[0][1], name)
        _core.combine_delta_tensors(name, args, w, _argument(out, name), threads, allow_non_finite)
        result[name] = out
        result.base_dtypes[name] = first_dtypes.base_dtypes[name] if first_dtypes else args[0][0]
        result.post_dtypes[name] = first_dtypes.post_dtypes[name] if first_dtypes else args[0][0]
    return result
