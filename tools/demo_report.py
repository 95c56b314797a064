#!/usr/bin/env python3
"""Renders the demo's evaluation records (paramdelta eval --json) and its
analysis (paramdelta analyze --json) as the three Markdown tables the README
shows. Usage: demo_report.py DEMO_DIR"""

import json
import sys
from pathlib import Path

NAMES = {"base-v2": "base-v2 (new base)", "chat-v1": "chat-v1 (old chat)", "chat-v2": "chat-v2 (reference)",
         "paramdelta": "**ParamΔ** = base-v2 + (chat-v1 − base-v1)"}


def records(path: Path) -> dict:
    """{model folder name: record} of one eval run."""
    return {Path(m["model"]).name: m for m in json.loads(path.read_text())["models"]}


def score(r: dict) -> str:
    return f"{100 * r['accuracy']:.1f}% ({r['correct']}/{r['total']})"


def pct(r: dict) -> str:
    return "—" if r.get("percent_of_reference") is None else f"{r['percent_of_reference']:.1f}%"


def main() -> None:
    work = Path(sys.argv[1])
    ev = work / "eval"
    ins, kn = records(ev / "instruct.json"), records(ev / "knowledge_new.json")
    po, pn = records(ev / "ppl_old.json"), records(ev / "ppl_new.json")
    out = ["| model | instruction task | % of chat-v2 | new-fact questions | % of chat-v2 "
           "| perplexity, old text | perplexity, new text |",
           "|---|---:|---:|---:|---:|---:|---:|"]
    for key, label in NAMES.items():
        out.append(f"| {label} | {score(ins[key])} | {pct(ins[key])} | {score(kn[key])} | {pct(kn[key])} "
                   f"| {po[key]['perplexity']:.3f} | {pn[key]['perplexity']:.3f} |")
    out += ["", "| α in base-v2 + α·Δ | instruction task | % of chat-v2 | perplexity, new text |",
            "|---:|---:|---:|---:|"]
    si, sp = records(ev / "sweep_instruct.json"), records(ev / "sweep_ppl_new.json")
    reference = ins["chat-v2"]["accuracy"]
    for key in sorted(si, key=lambda k: float(k[len("alpha-"):])):
        share = "—" if reference == 0 else f"{100 * si[key]['accuracy'] / reference:.1f}%"
        out.append(f"| {key[len('alpha-'):]} | {score(si[key])} | {share} | {sp[key]['perplexity']:.3f} |")
    out += ["", *drift_table(json.loads((work / "analysis.json").read_text()))]
    print("\n".join(out))


def drift_table(analysis: dict) -> list:
    """The whole model, each block, then the tensors outside the blocks."""
    rows = [("whole model", analysis["total"]), *((b["name"], b) for b in analysis["blocks"]),
            *((t["name"], t) for t in analysis["tensors"] if not any(t["name"].startswith(b["name"] + ".")
                                                                      for b in analysis["blocks"]))]
    out = ["| part of the model (paramdelta analyze) | ‖Δ‖ | ‖base-v2 − base-v1‖ / ‖Δ‖ | cos(Δ, base-v2 − base-v1) |",
           "|---|---:|---:|---:|"]
    for name, r in rows:
        out.append(f"| {name} | {r['delta_norm']:.3f} | {r['drift']['ratio']:.3f} | {r['drift']['cosine']:.3f} |")
    return out


if __name__ == "__main__":
    main()
