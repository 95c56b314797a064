#!/usr/bin/env python3
"""Renders the demo's evaluation records (paramdelta eval --json) as the two
Markdown tables the README shows. Usage: demo_report.py DEMO_DIR"""

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
    print("\n".join(out))


if __name__ == "__main__":
    main()
