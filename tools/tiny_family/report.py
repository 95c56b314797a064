#!/usr/bin/env python3
"""Prints the drift-sweep table of one or more training records (results.json
from train.py) as Markdown: how far base-v2 moved from base-v1 against how
much of chat-v2's instruction score the ParamDelta model keeps.

  tools/tiny_family/report.py models/tiny/training_results.json tools/tiny_family/results/*.json
"""

import json
import sys


def main() -> None:
    print("| base-v1 steps | base-v2 LR | drift ‖Δbase‖/‖Δchat‖ | cos(Δchat v1, Δchat v2) | chat-v2 instruction "
          "| ParamΔ instruction | ParamΔ, % of chat-v2 | record |")
    print("|---:|---:|---:|---:|---:|---:|---:|---|")
    rows = []
    for path in sys.argv[1:]:
        r = json.load(open(path))
        steps = r["config"]["base_v1"]["steps"]
        for row in r["drift_sweep"]:
            if "skipped" in row:
                continue
            rows.append((steps, row["drift_ratio"], row, path, row["label"]))
    for steps, _, row, path, label in sorted(rows, key=lambda t: (-t[0], t[1])):
        pct = row.get("paramdelta_instruct_pct_of_chat_v2")
        print(f"| {steps} | {row['lr']:.2g} | {row['drift_ratio']:.2f} | {row['cos_chat_deltas']:.2f} "
              f"| {100 * row['chat_v2_instruct']:.1f}% | {100 * row['paramdelta_instruct']:.1f}% "
              f"| {'—' if pct is None else f'{pct:.1f}%'} | {path.split('/')[-1]} ({label}) |")


if __name__ == "__main__":
    main()
