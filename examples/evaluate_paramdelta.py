"""Evaluation of ParamΔ against the reference chat model, on the tiny model
family in models/tiny: the chat delta of base-v1 (chat-v1 − base-v1) is
carried over to base-v2, and the result is compared with chat-v2 (the chat
model trained on base-v2, the reference) on held-out text (perplexity) and
on instruction tasks (accuracy, prompts through each model's chat template).

    python examples/evaluate_paramdelta.py [OUTPUT_DIR] [--limit N]

``--limit N`` evaluates the first N tasks only (and the first N tokens).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Optional

import paramdelta
from paramdelta.compat import ParamDeltaEvaluator

TINY = Path(__file__).resolve().parents[1] / "models" / "tiny"


def main(output_dir: Path, limit: Optional[int]) -> None:
    delta = output_dir / "chat-delta"
    paramdelta.compute(TINY / "base-v1", TINY / "chat-v1", delta)
    model = output_dir / "base-v2-paramdelta"
    paramdelta.apply(TINY / "base-v2", delta, model)

    evaluator = ParamDeltaEvaluator(device="cpu", threads=1)
    results = evaluator.compare_models(
        original_model=TINY / "chat-v2",
        param_delta_model=model,
        tasks=["perplexity", "accuracy"],
        data={"perplexity": TINY / "eval" / "ppl_new.txt", "accuracy": TINY / "eval" / "instruct.jsonl"},
        models={"new base": TINY / "base-v2"},
        # As models/tiny was trained: chat prompts, generation until the
        # end-of-turn token (no stop string), 256-token perplexity windows.
        chat_template=True,
        stop=[],
        stride=256,
        limit=limit,
    )

    print(f"{'model':<20} {'perplexity':>10} {'accuracy':>9} {'% of reference':>15}")
    for name, tasks in results.items():
        accuracy = tasks["accuracy"]
        print(
            f"{name:<20} {tasks['perplexity']['score']:>10.3f} "
            f"{100 * accuracy['score']:>8.1f}% {accuracy['percent_of_reference'] or 0:>14.1f}%"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("output_dir", nargs="?", type=Path)
    parser.add_argument("--limit", type=int)
    arguments = parser.parse_args()
    if arguments.output_dir is not None:
        arguments.output_dir.mkdir(parents=True, exist_ok=True)
        main(arguments.output_dir, arguments.limit)
    else:
        with tempfile.TemporaryDirectory() as scratch:
            main(Path(scratch), arguments.limit)
