"""The reference implementation's names, over paramdelta.

Code written for the ParamΔ reference implementation runs with one changed
import::

    from paramdelta.compat import ParamDelta, ModelFormatHandler, ParamDeltaEvaluator, create_analysis_plots

    pd = ParamDelta(device="cpu")
    base = ModelFormatHandler.load_state_dict("path/to/base_model")
    post = ModelFormatHandler.load_state_dict("path/to/post_model")
    delta = pd.calculate_delta(post, base)
    ModelFormatHandler.save_state_dict(delta, "model_delta.safetensors")
    new_post = pd.apply_delta(new_base, delta, scale=0.5)
    combined = pd.combine_deltas([delta1, delta2], weights=[0.7, 0.3])
    create_analysis_plots(delta_path="model_delta.safetensors", output_dir="analysis_results/")
    ParamDeltaEvaluator().compare_models(
        original_model="path/to/chat_model", param_delta_model="path/to/paramdelta_model",
        tasks=["perplexity", "accuracy"], data=["heldout.txt", "tasks.jsonl"])

State dicts are dicts of NumPy arrays, or of torch tensors when torch is
installed (results have the inputs' kind). The arithmetic is the library's,
with the command line's rounding: a delta in the post tensor's dtype
(post − base in fp32, rounded to nearest even), base + scale·delta in fp32
rounded to the base's dtype. Differences from the reference: only
``device="cpu"``; outputs are never overwritten unless ``force=True``;
mismatched names or shapes raise :class:`paramdelta.MismatchError` naming the
tensor.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Sequence, Union

from . import _state_dicts
from ._operations import analyze, evaluate
from ._options import PathLike
from ._results import EvaluateResult
from ._tensors import open as open_checkpoint
from ._tensors import save, save_delta
from .errors import UsageError, _make


class ParamDelta:
    """Computes, applies and combines deltas of state dicts in memory."""

    def __init__(self, device: str = "cpu", *, threads: int = 0, allow_non_finite: bool = False) -> None:
        if str(device) != "cpu":
            raise _make(UsageError, f"device '{device}' is not supported", option="device", hint="use 'cpu'")
        self.device = "cpu"
        self.threads = threads
        self.allow_non_finite = allow_non_finite

    def calculate_delta(self, post_state_dict: Mapping[str, Any], base_state_dict: Mapping[str, Any]) -> Dict[str, Any]:
        """Δ = post − base, tensor by tensor."""
        return _state_dicts.calculate_delta(
            post_state_dict, base_state_dict, threads=self.threads, allow_non_finite=self.allow_non_finite
        )

    def apply_delta(
        self, base_state_dict: Mapping[str, Any], delta_state_dict: Mapping[str, Any], scale: float = 1.0
    ) -> Dict[str, Any]:
        """base + scale·Δ, tensor by tensor, in the base's dtypes."""
        return _state_dicts.apply_delta(
            base_state_dict,
            delta_state_dict,
            scale=scale,
            threads=self.threads,
            allow_non_finite=self.allow_non_finite,
        )

    def combine_deltas(
        self, deltas: Sequence[Mapping[str, Any]], weights: Optional[Sequence[float]] = None
    ) -> Dict[str, Any]:
        """Σ wᵢ·Δᵢ (weights default to 1 each)."""
        return _state_dicts.combine_deltas(
            deltas, weights, threads=self.threads, allow_non_finite=self.allow_non_finite
        )


class ModelFormatHandler:
    """Loading and saving state dicts as safetensors models."""

    @staticmethod
    def load_state_dict(path: PathLike, framework: Optional[str] = None) -> Dict[str, Any]:
        """Every tensor of a model (directory, ``.safetensors`` file or cached
        Hub id), read in place: read-only NumPy arrays, or torch tensors when
        torch is installed (``framework="np"`` or ``"pt"`` chooses)."""
        if framework is None:
            try:
                import torch  # noqa: F401

                framework = "pt"
            except ImportError:
                framework = "np"
        checkpoint = open_checkpoint(path)
        return {name: checkpoint.tensor(name, framework=framework) for name in checkpoint}

    @staticmethod
    def save_state_dict(
        state_dict: Mapping[str, Any],
        path: PathLike,
        *,
        metadata: Optional[Mapping[str, str]] = None,
        max_shard_size: Union[int, str] = "5GB",
        force: bool = False,
    ) -> None:
        """Writes a state dict as one ``.safetensors`` file or a model directory.
        A delta from :meth:`ParamDelta.calculate_delta` or ``combine_deltas`` is
        written as a delta (with its manifest), which ``paramdelta apply`` and
        :func:`create_analysis_plots` read."""
        if isinstance(state_dict, _state_dicts.DeltaStateDict):
            save_delta(state_dict, path, max_shard_size=max_shard_size, force=force)
        else:
            save(state_dict, path, metadata=metadata, max_shard_size=max_shard_size, force=force)


class ParamDeltaEvaluator:
    """Compares a ParamΔ model with the model it stands in for, by
    :func:`paramdelta.evaluate` (the built-in evaluator of ``paramdelta eval``).

    Differences from the reference implementation: the tasks are the
    evaluator's metrics, ``"perplexity"`` (on a text file) and ``"accuracy"``
    (on a JSONL task file: exact-match generation or log-likelihood choices),
    each with a data file the caller gives (``data``: one per task, in the
    same order, or a dict task → file); nothing is downloaded, and benchmark
    names such as MMLU are not known. Models are directories of Llama-family
    models, run in fp32 on the CPU.
    """

    def __init__(self, device: str = "cpu", *, threads: int = 0) -> None:
        if str(device) != "cpu":
            raise _make(UsageError, f"device '{device}' is not supported", field="device", hint="use 'cpu'")
        self.device = "cpu"
        self.threads = threads
        #: The full result of the last :meth:`compare_models` (every field of ``paramdelta eval --json``).
        self.last_result: Optional[EvaluateResult] = None

    def compare_models(
        self,
        original_model: Optional[PathLike] = None,
        param_delta_model: Optional[PathLike] = None,
        tasks: Union[str, Sequence[str]] = ("perplexity",),
        *,
        data: Union[PathLike, Sequence[PathLike], Mapping[str, PathLike], None] = None,
        models: Optional[Mapping[str, PathLike]] = None,
        reference: Optional[str] = None,
        **options: Any,
    ) -> Dict[str, Dict[str, Dict[str, Any]]]:
        """Scores every model on every task: ``{name: {task: record}}``.

        The models are ``original_model`` and ``param_delta_model`` (named so
        in the result), and/or ``models`` (a dict name → directory). The
        reference, whose score is 100%, is ``reference`` (a name) or else the
        original model (else the first model). Each record is the model's
        record of ``paramdelta eval --json`` (``perplexity``,
        ``bits_per_byte``, ... or ``accuracy``, ``correct``, ``total``, ...,
        and ``percent_of_reference``) with ``score`` added: the perplexity or
        the accuracy. ``options`` are :func:`paramdelta.evaluate`'s
        (``context``, ``limit``, ``chat_template``, ``progress``, ...).
        """
        named: Dict[str, str] = {}
        if original_model is not None:
            named["original_model"] = os.fspath(original_model)
        if param_delta_model is not None:
            named["param_delta_model"] = os.fspath(param_delta_model)
        for name, path in (models or {}).items():
            if name in named:
                raise _make(UsageError, f"the model name '{name}' is given twice", field="models")
            named[name] = os.fspath(path)
        if not named:
            raise _make(UsageError, "no model to evaluate", field="models", hint="give original_model and param_delta_model")
        task_list = [tasks] if isinstance(tasks, str) else [str(t) for t in tasks]
        if data is None:
            raise _make(UsageError, "each task needs a data file", field="data",
                        hint="e.g. data=['heldout.txt', 'tasks.jsonl'] for tasks=['perplexity', 'accuracy']")
        if isinstance(data, Mapping):
            missing = [t for t in task_list if t not in data]
            if missing:
                raise _make(UsageError, f"no data file for task '{missing[0]}'", field="data")
            files = [os.fspath(data[t]) for t in task_list]
        elif isinstance(data, (str, os.PathLike)):
            files = [os.fspath(data)]
        else:
            files = [os.fspath(d) for d in data]
        reference_name = reference if reference is not None else next(iter(named))
        if reference_name not in named:
            raise _make(UsageError, f"'{reference_name}' is not one of the models", field="reference")
        paths = list(named.values())
        if len(set(paths)) != len(paths):
            raise _make(UsageError, "the same model directory is given twice", field="models")
        options.setdefault("threads", self.threads)
        result = evaluate(paths, files, task_list, reference=named[reference_name], **options)
        self.last_result = result
        by_path = {path: name for name, path in named.items()}
        out: Dict[str, Dict[str, Dict[str, Any]]] = {name: {} for name in named}
        for scores in result.evaluations:
            # A task asked twice (on two files) is keyed "<task>:<file>".
            key = scores.metric if task_list.count(scores.metric) == 1 else f"{scores.metric}:{scores.data}"
            for record in scores.models:
                record["score"] = record[scores.metric]
                out[by_path[record["model"]]][key] = record
        return out


def create_analysis_plots(
    delta_path: PathLike,
    output_dir: PathLike,
    *,
    base_path: Optional[PathLike] = None,
    new_base_path: Optional[PathLike] = None,
    plots: bool = False,
    force: bool = False,
) -> Path:
    """Writes the analysis of a delta to ``output_dir/analysis.html`` (the page
    of ``paramdelta analyze --html``) and returns its path. ``plots=True``
    also writes ``block_norms.png`` (needs matplotlib)."""
    directory = Path(os.fspath(output_dir))
    directory.mkdir(parents=True, exist_ok=True)
    page = directory / "analysis.html"
    result = analyze(delta_path, base=base_path, new_base=new_base_path, html=page, force=force)
    if plots:
        _plot_block_norms(result.blocks, directory / "block_norms.png")
    return page


def _plot_block_norms(blocks: Sequence[Mapping[str, Any]], path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise _make(UsageError, "plots=True needs matplotlib", option="plots", hint="pip install matplotlib") from None
    names = [str(b["name"]) for b in blocks]
    norms = [float(b["delta_norm"]) for b in blocks]
    figure, axes = plt.subplots(figsize=(max(4.0, 0.4 * len(names)), 3.0))
    axes.bar(range(len(names)), norms)
    axes.set_xticks(range(len(names)), names, rotation=90)
    axes.set_ylabel("‖Δ‖")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


__all__ = ["ParamDelta", "ModelFormatHandler", "ParamDeltaEvaluator", "create_analysis_plots"]
