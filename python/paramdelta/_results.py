"""What the operations return: typed views over the same JSON the command
line prints with ``--json`` (``to_dict()`` gives it back exactly)."""

from __future__ import annotations

import copy
from typing import Any, Dict, List, Optional


class Result:
    """A result; ``to_dict()`` equals ``json.loads`` of the command's ``--json`` output."""

    def __init__(self, data: Dict[str, Any]) -> None:
        self._data = data

    def to_dict(self) -> Dict[str, Any]:
        return copy.deepcopy(self._data)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._data!r})"


class OperationResult(Result):
    """What compute, apply, combine and save did."""

    @property
    def operation(self) -> str:
        return str(self._data["operation"])

    @property
    def output(self) -> Optional[str]:
        return self._data.get("output")

    @property
    def tensor_count(self) -> int:
        tensors = self._data["tensors"]
        return len(tensors) if isinstance(tensors, list) else int(tensors)

    @property
    def elements(self) -> int:
        return int(self._data["elements"])

    @property
    def bytes_read(self) -> int:
        return int(self._data["bytes_read"])

    @property
    def bytes_written(self) -> int:
        return int(self._data["bytes_written"])

    @property
    def seconds(self) -> float:
        return float(self._data["seconds"])

    @property
    def threads(self) -> int:
        return int(self._data["threads"])

    @property
    def notes(self) -> List[str]:
        return list(self._data.get("notes", []))

    @property
    def encoding(self) -> Optional[str]:
        return self._data.get("encoding")

    @property
    def lossless(self) -> Optional[bool]:
        return self._data.get("lossless")

    @property
    def exception_elements(self) -> Optional[int]:
        return self._data.get("exception_elements")


class VerifyResult(OperationResult):
    """Whether apply(base, delta) reproduced the expected model bit for bit."""

    @property
    def exact(self) -> bool:
        return bool(self._data["exact"])

    @property
    def total_elements(self) -> int:
        return int(self._data["total_elements"])

    @property
    def differing_elements(self) -> int:
        return int(self._data["differing_elements"])

    @property
    def base_matches_manifest(self) -> bool:
        return bool(self._data["base_matches_manifest"])

    @property
    def tensors(self) -> List[Dict[str, Any]]:
        """Per tensor: name, elements, differing, max_abs_difference (and a note)."""
        return copy.deepcopy(self._data["tensors"])


class AnalyzeResult(OperationResult):
    """A delta's size, and how it lines up with a base, a new base's drift, another delta."""

    @property
    def total(self) -> Dict[str, Any]:
        return copy.deepcopy(self._data["total"])

    @property
    def blocks(self) -> List[Dict[str, Any]]:
        return copy.deepcopy(self._data["blocks"])

    @property
    def tensors(self) -> List[Dict[str, Any]]:
        return copy.deepcopy(self._data["tensors"])

    @property
    def base_matches_manifest(self) -> Optional[bool]:
        return self._data.get("base_matches_manifest")


class InspectResult(Result):
    """What a model or delta holds."""

    @property
    def path(self) -> str:
        return str(self._data["path"])

    @property
    def kind(self) -> str:
        """``"model"`` or ``"delta"``."""
        return str(self._data["kind"])

    @property
    def shards(self) -> int:
        return int(self._data["shards"])

    @property
    def total_bytes(self) -> int:
        return int(self._data["total_bytes"])

    @property
    def parameters(self) -> int:
        return int(self._data["parameters"])

    @property
    def metadata(self) -> Dict[str, str]:
        return dict(self._data["metadata"])

    @property
    def files(self) -> List[str]:
        return list(self._data["files"])

    @property
    def manifest(self) -> Optional[Dict[str, Any]]:
        return copy.deepcopy(self._data.get("manifest"))

    @property
    def tensors(self) -> List[Dict[str, Any]]:
        return copy.deepcopy(self._data["tensors"])

    @property
    def warnings(self) -> List[str]:
        return list(self._data["warnings"])


class EvaluationScores:
    """One metric on one data file, for every model (the reference first)."""

    def __init__(self, data: Dict[str, Any]) -> None:
        self._data = data

    @property
    def metric(self) -> str:
        """``"perplexity"`` or ``"accuracy"``."""
        return str(self._data["metric"])

    @property
    def data(self) -> str:
        return str(self._data["data"])

    @property
    def reference(self) -> str:
        return str(self._data["reference"])

    @property
    def models(self) -> List[Dict[str, Any]]:
        """Per model, as the command's ``--json`` gives it: ``model``, ``reference``,
        ``percent_of_reference`` and the metric's fields (``perplexity``,
        ``bits_per_byte``, ... or ``accuracy``, ``correct``, ``total``, ``outcomes``, ...)."""
        return copy.deepcopy(self._data["models"])

    def score(self, model: str) -> float:
        """The model's perplexity or accuracy (``model`` as given to :func:`evaluate`)."""
        for record in self._data["models"]:
            if record["model"] == model:
                return float(record[self.metric])
        raise KeyError(model)

    def to_dict(self) -> Dict[str, Any]:
        return copy.deepcopy(self._data)

    def __repr__(self) -> str:
        return f"EvaluationScores({self.metric} on {self.data!r}: {len(self._data['models'])} models)"


class EvaluateResult(Result):
    """What :func:`evaluate` measured: one :class:`EvaluationScores` per metric asked."""

    def __init__(self, data: Dict[str, Any], notes: Optional[List[str]] = None) -> None:
        super().__init__(data)
        self._notes = list(notes or [])

    @property
    def reference(self) -> str:
        """The model whose score is 100%."""
        return str(self._data["reference"])

    @property
    def evaluations(self) -> List[EvaluationScores]:
        """In the order asked (the JSON nests them only when there are several)."""
        if "evaluations" in self._data:
            return [EvaluationScores(copy.deepcopy(e)) for e in self._data["evaluations"]]
        return [EvaluationScores(copy.deepcopy(self._data))]

    @property
    def notes(self) -> List[str]:
        """What the command prints as ``paramdelta: note:`` lines; not part of ``to_dict()``."""
        return list(self._notes)
