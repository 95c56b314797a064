"""paramdelta: compute, keep, combine and apply ParamΔ weight deltas of
Hugging Face safetensors models (Θ'post = Θ'base + s·(Θpost − Θbase)).

File level, one function per command, with the command's options and
defaults: :func:`compute`, :func:`apply`, :func:`combine`, :func:`verify`,
:func:`analyze`, :func:`inspect`, :func:`copy`, :func:`evaluate`. Tensors: :func:`open` reads a model's or
delta's tensors in place as NumPy arrays (or torch tensors), :func:`save`
writes arrays as a model. The reference implementation's names are in
:mod:`paramdelta.compat`.

Errors are :class:`Error` subclasses by kind, with ``file``, ``tensor``,
``field`` and ``hint``. Long calls release the GIL; Ctrl-C stops them and
leaves no output.
"""

from __future__ import annotations

from . import _core
from ._operations import analyze, apply, combine, compute, copy, evaluate, inspect, verify
from ._results import (
    AnalyzeResult,
    EvaluateResult,
    EvaluationScores,
    InspectResult,
    OperationResult,
    Result,
    VerifyResult,
)
from ._tensors import Checkpoint, open, save
from .errors import (
    CancelledError,
    Error,
    ExistsError,
    InternalError,
    InvalidInputError,
    IoError,
    MismatchError,
    NonFiniteError,
    NotFoundError,
    UsageError,
)

__version__: str = _core.__version__

__all__ = [
    "__version__",
    "compute",
    "apply",
    "combine",
    "verify",
    "analyze",
    "copy",
    "inspect",
    "evaluate",
    "open",
    "save",
    "Checkpoint",
    "Result",
    "OperationResult",
    "VerifyResult",
    "AnalyzeResult",
    "InspectResult",
    "EvaluateResult",
    "EvaluationScores",
    "Error",
    "UsageError",
    "InvalidInputError",
    "MismatchError",
    "NonFiniteError",
    "IoError",
    "ExistsError",
    "NotFoundError",
    "CancelledError",
    "InternalError",
]
