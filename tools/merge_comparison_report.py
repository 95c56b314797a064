"""Prints the table of tools/merge_comparison.sh from its evaluator output.

Arguments: the work folder, then the variants as the script lists them
("name|combine flags|scale")."""
from __future__ import annotations

import json
import sys
from pathlib import Path


def by_model(path: Path) -> dict[str, dict]:
    return {Path(m["model"]).name: m for m in json.loads(path.read_text())["models"]}


def main() -> int:
    work = Path(sys.argv[1])
    variants = [v.split("|") for v in sys.argv[2:]]
    instruct = by_model(work / "eval" / "instruct.json")
    ppl = by_model(work / "eval" / "ppl_new.json")
    reference = instruct["chat-v2"]["accuracy"]
    print("| merge of Δcpt and Δchat | applied scale | instruction | % of chat-v2 | perplexity, new facts |")
    print("|---|--:|--:|--:|--:|")
    for name in ("chat-v2", "base-v2"):
        print(f"| {name} (reference) | | {instruct[name]['accuracy']:.1%} | "
              f"{instruct[name]['accuracy'] / reference:.1%} | {ppl[name]['perplexity']:.3f} |")
    for name, flags, scale in variants:
        model = f"model-{name}"
        label = f"`{flags}`" if flags else "sum (= ParamΔ)"
        print(f"| {label} | {scale} | {instruct[model]['accuracy']:.1%} | "
              f"{instruct[model]['accuracy'] / reference:.1%} | {ppl[model]['perplexity']:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
