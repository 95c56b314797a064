"""One function per command, with the command's options and defaults."""

from __future__ import annotations

import json
import os
from typing import Any, Callable, Optional, Sequence, TypeVar, Union

from . import _core
from ._options import PathLike, byte_size, float_dtype, path_text
from ._progress import Progress, finish, progress_callback
from ._results import AnalyzeResult, EvaluateResult, InspectResult, OperationResult, Result, VerifyResult
from .errors import UsageError, _make

R = TypeVar("R", bound=Result)


def _run(result: type[R], call: Callable[..., str], progress: Progress, **options: Any) -> R:
    callback = progress_callback(progress)
    try:
        text = call(progress=callback, **options)
    finally:
        finish(callback)
    return result(json.loads(text))


def compute(
    base: PathLike,
    post: PathLike,
    output: PathLike,
    *,
    delta_dtype: Optional[str] = None,
    vocab_mismatch: str = "error",
    allow_non_finite: bool = False,
    allow_architecture_mismatch: bool = False,
    threads: int = 0,
    force: bool = False,
    max_shard_size: Union[int, str] = "5GB",
    progress: Progress = None,
) -> OperationResult:
    """Compute a delta: post − base (``paramdelta compute``).

    ``output`` is a directory, or a single file when it ends with
    ``.safetensors``. ``delta_dtype``: None (lossless: the post model's dtype
    plus an exact list of the elements it cannot carry) or ``bf16``/``f16``/
    ``f32`` (compact, rounded to nearest). ``vocab_mismatch``: ``"error"`` or
    ``"overlap"`` (delta on the shared embedding/head rows, post-only rows kept
    as full values). ``allow_non_finite`` carries NaN and infinity exactly
    instead of refusing them; ``allow_architecture_mismatch`` accepts base and
    post models whose config.json names different architectures (recorded in
    the manifest). ``threads``: 0 for one per CPU. ``force`` replaces an
    existing output. ``progress``: True for a tqdm bar, or a callable
    ``progress(operation, done_bytes, total_bytes)``.
    """
    return _run(
        OperationResult,
        _core.compute,
        progress,
        base=path_text(base),
        post=path_text(post),
        output=path_text(output),
        delta_dtype=float_dtype(delta_dtype, "delta_dtype"),
        vocab_mismatch=vocab_mismatch,
        allow_non_finite=allow_non_finite,
        allow_architecture_mismatch=allow_architecture_mismatch,
        threads=threads,
        force=force,
        max_shard_size=byte_size(max_shard_size),
    )


def apply(
    base: PathLike,
    delta: PathLike,
    output: PathLike,
    *,
    scale: float = 1.0,
    dtype: Optional[str] = None,
    vocab_mismatch: str = "error",
    allow_non_finite: bool = False,
    allow_architecture_mismatch: bool = False,
    threads: int = 0,
    force: bool = False,
    max_shard_size: Union[int, str] = "5GB",
    progress: Progress = None,
) -> OperationResult:
    """Apply a delta to a (new) base model: base + scale·Δ (``paramdelta apply``).

    Writes a complete model directory (or one ``.safetensors`` file). Math in
    fp32 (F64 tensors: in double, with ``scale`` as given), rounded to nearest even; ``dtype`` None keeps each tensor's new-base
    dtype, else ``bf16``/``f16``/``f32``. Other options as for :func:`compute`.
    """
    return _run(
        OperationResult,
        _core.apply,
        progress,
        base=path_text(base),
        delta=path_text(delta),
        output=path_text(output),
        scale=float(scale),
        dtype=float_dtype(dtype, "dtype"),
        vocab_mismatch=vocab_mismatch,
        allow_non_finite=allow_non_finite,
        allow_architecture_mismatch=allow_architecture_mismatch,
        threads=threads,
        force=force,
        max_shard_size=byte_size(max_shard_size),
    )


def combine(
    deltas: Sequence[PathLike],
    output: PathLike,
    *,
    weights: Optional[Sequence[float]] = None,
    method: str = "sum",
    density: float = 1.0,
    seed: Optional[int] = None,
    delta_dtype: Optional[str] = None,
    threads: int = 0,
    force: bool = False,
    max_shard_size: Union[int, str] = "5GB",
    progress: Progress = None,
) -> OperationResult:
    """Combine deltas (``paramdelta combine``): Σ wᵢ·Δᵢ, or a TIES / DARE merge.

    ``weights``: one per delta (default all 1: a sum, i.e. chained updates).
    ``method``: ``sum``, ``ties``, ``dare`` or ``dare-ties``; ``density`` the
    fraction of each delta's elements kept; ``seed`` (dare methods only) the
    random drop's seed (default 0).
    """
    return _run(
        OperationResult,
        _core.combine,
        progress,
        deltas=[path_text(d) for d in deltas],
        output=path_text(output),
        weights=[float(w) for w in weights] if weights is not None else [],
        method=method,
        density=float(density),
        seed=seed,
        delta_dtype=float_dtype(delta_dtype, "delta_dtype"),
        threads=threads,
        force=force,
        max_shard_size=byte_size(max_shard_size),
    )


def verify(
    base: PathLike,
    delta: PathLike,
    expect: PathLike,
    *,
    scale: float = 1.0,
    threads: int = 0,
    progress: Progress = None,
) -> VerifyResult:
    """Check that base + scale·Δ reproduces ``expect`` bit for bit (``paramdelta verify``).

    Returns the counts; ``result.exact`` is True only when no element differs
    (the command exits 0 only then).
    """
    return _run(
        VerifyResult,
        _core.verify,
        progress,
        base=path_text(base),
        delta=path_text(delta),
        expect=path_text(expect),
        scale=float(scale),
        threads=threads,
    )


def analyze(
    delta: PathLike,
    *,
    base: Optional[PathLike] = None,
    new_base: Optional[PathLike] = None,
    other_delta: Optional[PathLike] = None,
    html: Optional[PathLike] = None,
    force: bool = False,
    threads: int = 0,
    progress: Progress = None,
) -> AnalyzeResult:
    """‖Δ‖ per tensor, per block and in total (``paramdelta analyze``).

    With ``base`` its relative size; with ``new_base`` the drift
    ‖new_base − base‖/‖Δ‖ and the cosine between the two moves; with
    ``other_delta`` the cosine and sign conflicts of two deltas. ``html``
    also writes the report as one self-contained page (``force`` replaces it).
    """
    return _run(
        AnalyzeResult,
        _core.analyze,
        progress,
        delta=path_text(delta),
        base=path_text(base) if base is not None else "",
        new_base=path_text(new_base) if new_base is not None else "",
        other_delta=path_text(other_delta) if other_delta is not None else "",
        html=path_text(html) if html is not None else "",
        force=force,
        threads=threads,
    )


def copy(source: PathLike, destination: PathLike, *, force: bool = False, progress: Progress = None) -> OperationResult:
    """Copy a model or delta between locations (``paramdelta cp``): local paths,
    ``az://container/path``, ``s3://bucket/path``, and Hub ids as sources.

    The source is checked whole before any weight byte moves; weights are
    copied byte for byte with the files paramdelta reads (config, tokenizer,
    index, manifest), and the destination appears only when complete.
    ``force`` replaces an existing model or delta there.
    """
    return _run(OperationResult, _core.copy, progress, source=path_text(source),
                destination=path_text(destination), force=force)


def inspect(path: PathLike) -> InspectResult:
    """Tensors, dtypes, shapes, bytes, parameter count and metadata of a model or
    delta (and a delta's manifest) (``paramdelta inspect``)."""
    return InspectResult(json.loads(_core.inspect(path_text(path))))


def _names(value: Union[PathLike, Sequence[PathLike]]) -> list[str]:
    if isinstance(value, (str, os.PathLike)):
        return [path_text(value)]
    return [path_text(v) for v in value]


def _metrics(value: Union[str, Sequence[str]]) -> list[str]:
    # "perplexity,accuracy" as --metric reads it, or a list of names.
    items = [value] if isinstance(value, str) else list(value)
    return [name.strip() for item in items for name in str(item).split(",")]


def _count(value: int, field: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _make(UsageError, f"{value!r} is out of range", field=field, hint=f"use {low} to {high}")
    return value


def evaluate(
    models: Union[PathLike, Sequence[PathLike]],
    data: Union[PathLike, Sequence[PathLike]],
    metric: Union[str, Sequence[str]],
    *,
    reference: Optional[PathLike] = None,
    context: int = 2048,
    stride: Optional[int] = None,
    max_new_tokens: int = 32,
    batch: int = 16,
    stop: Optional[Sequence[str]] = None,
    chat_template: bool = False,
    threads: int = 0,
    limit: Optional[int] = None,
    progress: Progress = None,
) -> EvaluateResult:
    """Compare models' perplexity on a text or accuracy on JSONL tasks against
    a reference model (``paramdelta eval``).

    ``models``: one model directory (config.json, safetensors, tokenizer.json)
    or several. ``metric``: ``"perplexity"`` or ``"accuracy"``, or several
    (a list, or ``"perplexity,accuracy"``), the i-th measured on the i-th of
    ``data`` (a text file for perplexity, a JSONL task file for accuracy).
    ``reference``: the model whose score is 100% (evaluated too; default the
    first model). ``context``: the window in tokens, capped at
    max_position_embeddings. ``stride`` (perplexity): tokens between window
    starts (default half the window). ``max_new_tokens``, ``batch``,
    ``stop``, ``chat_template`` (accuracy): the generation length limit, the
    generation tasks decoded together (the results do not depend on it), the
    stop strings for tasks without their own (default ``["\\n"]``; ``[]`` is
    ``--no-stop``), prompts rendered with each model's chat template.
    ``threads``: compute threads (0: the BLAS's own setting). ``limit``: only
    the first N tasks (accuracy) or tokens (perplexity). ``progress``: True
    for a tqdm bar, or ``progress(operation, done, total)`` counting
    perplexity windows or tasks of each model's evaluation.

    ``result.to_dict()`` is the command's ``--json`` output; ``result.notes``
    what it prints as notes (ignored task fields, what loading noticed).
    """
    metrics = _metrics(metric)
    measured = set(metrics)
    if chat_template and "accuracy" not in measured:
        raise _make(UsageError, "applies to the accuracy metric only", field="chat_template")
    if stride is not None and "perplexity" not in measured:
        raise _make(UsageError, "applies to the perplexity metric only", field="stride")
    stops = ["\n"] if stop is None else [str(s) for s in ([stop] if isinstance(stop, str) else stop)]
    if any(s == "" for s in stops):
        raise _make(UsageError, "stop strings must not be empty", field="stop", hint="use [] for no stop string")
    callback = progress_callback(progress)
    try:
        text, notes = _core.evaluate(
            models=_names(models),
            data=_names(data),
            metrics=metrics,
            reference=path_text(reference) if reference is not None else "",
            context=_count(context, "context", 2, 1 << 40),
            stride=_count(stride, "stride", 1, 1 << 40) if stride is not None else 0,
            max_new_tokens=_count(max_new_tokens, "max_new_tokens", 1, 1 << 20),
            batch=_count(batch, "batch", 1, 4096),
            stop=stops,
            chat_template=bool(chat_template),
            threads=_count(threads, "threads", 0, 4096),
            limit=_count(limit, "limit", 1, 1 << 40) if limit is not None else 0,
            progress=callback,
        )
    finally:
        finish(callback)
    return EvaluateResult(json.loads(text), notes=notes)
