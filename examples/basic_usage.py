"""The reference implementation's basic usage, on the tiny model family in
models/tiny: compute the chat delta of base-v1, save it, carry it over to
base-v2 at half and full strength, combine two deltas, and write the
analysis page.

    python examples/basic_usage.py [OUTPUT_DIR]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from paramdelta.compat import ModelFormatHandler, ParamDelta, create_analysis_plots

TINY = Path(__file__).resolve().parents[1] / "models" / "tiny"


def as_float32(tensor: Any) -> "np.ndarray[Any, np.dtype[np.float32]]":
    """A float32 NumPy copy of a state dict's tensor: a NumPy array, or a torch
    tensor when torch is installed (NumPy cannot take torch's bfloat16)."""
    if hasattr(tensor, "detach"):
        tensor = tensor.detach().float().numpy()
    return np.asarray(tensor, np.float32)


def main(output_dir: Path) -> None:
    pd = ParamDelta(device="cpu")
    base = ModelFormatHandler.load_state_dict(TINY / "base-v1")
    post = ModelFormatHandler.load_state_dict(TINY / "chat-v1")
    delta = pd.calculate_delta(post, base)
    delta_path = output_dir / "model_delta.safetensors"
    ModelFormatHandler.save_state_dict(delta, delta_path)

    new_base = ModelFormatHandler.load_state_dict(TINY / "base-v2")
    half = pd.apply_delta(new_base, delta, scale=0.5)
    full = pd.apply_delta(new_base, delta, scale=1.0)
    ModelFormatHandler.save_state_dict(full, output_dir / "base-v2-paramdelta.safetensors")

    drift = pd.calculate_delta(new_base, base)
    combined = pd.combine_deltas([delta, drift], weights=[0.7, 0.3])

    page = create_analysis_plots(delta_path=delta_path, output_dir=output_dir / "analysis_results")

    name = "lm_head.weight"
    print(f"delta: {len(delta)} tensors, |delta[{name}]| = {np.linalg.norm(as_float32(delta[name])):.3f}")
    moved = float(np.abs(as_float32(full[name]) - as_float32(half[name])).max())
    print(f"scale 1 vs 0.5: largest change in {name}: {moved:.4f}")
    print(f"combined: {len(combined)} tensors")
    print(f"analysis: {page}")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        target = Path(sys.argv[1])
        target.mkdir(parents=True, exist_ok=True)
        main(target)
    else:
        with tempfile.TemporaryDirectory() as scratch:
            main(Path(scratch))
