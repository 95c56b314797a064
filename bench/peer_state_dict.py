#!/usr/bin/env python3
"""The whole-state-dict peer: ParamΔ as the Python reference implementation
does it, for the benchmark to compare against.

It loads every tensor of both checkpoints into memory with the `safetensors`
library (PyTorch tensors), does the arithmetic in the checkpoints' own dtype,
and saves the result as one safetensors file:

    peer_state_dict.py compute --base BASE --post POST -o OUT     # OUT/delta.safetensors = post - base
    peer_state_dict.py apply --base NEWBASE --delta DELTA -o OUT [--scale S]
                                                                 # OUT/model.safetensors = newbase + s * delta

BASE, POST and NEWBASE are model directories (sharded or not) or .safetensors
files; DELTA is a directory with delta.safetensors, or the file itself. Prints
one JSON line with the time spent after the imports.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file


def weight_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    files = sorted(path.glob("*.safetensors"))
    if not files:
        raise SystemExit(f"peer_state_dict: no .safetensors files in {path}")
    return files


def load_state_dict(path: Path) -> dict[str, torch.Tensor]:
    state: dict[str, torch.Tensor] = {}
    for f in weight_files(path):
        state.update(load_file(str(f)))
    return state


def check_same_names(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor], what: str) -> None:
    if a.keys() != b.keys():
        only = sorted(a.keys() ^ b.keys())[:5]
        raise SystemExit(f"peer_state_dict: {what} have different tensors, e.g. {only}")


def compute(args: argparse.Namespace) -> None:
    base = load_state_dict(args.base)
    post = load_state_dict(args.post)
    check_same_names(base, post, "base and post")
    delta = {name: post[name] - base[name] for name in post}
    args.output.mkdir(parents=True, exist_ok=True)
    save_file(delta, str(args.output / "delta.safetensors"), metadata={"format": "pt"})


def apply(args: argparse.Namespace) -> None:
    base = load_state_dict(args.base)
    delta = load_state_dict(args.delta)
    check_same_names(base, delta, "base and delta")
    if args.scale == 1.0:
        model = {name: base[name] + delta[name] for name in base}
    else:
        model = {name: base[name] + args.scale * delta[name] for name in base}
    args.output.mkdir(parents=True, exist_ok=True)
    save_file(model, str(args.output / "model.safetensors"), metadata={"format": "pt"})
    if args.base.is_dir() and (args.base / "config.json").exists():
        shutil.copyfile(args.base / "config.json", args.output / "config.json")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("compute")
    c.add_argument("--base", type=Path, required=True)
    c.add_argument("--post", type=Path, required=True)
    c.add_argument("-o", "--output", type=Path, required=True)
    a = sub.add_parser("apply")
    a.add_argument("--base", type=Path, required=True)
    a.add_argument("--delta", type=Path, required=True)
    a.add_argument("-o", "--output", type=Path, required=True)
    a.add_argument("--scale", type=float, default=1.0)
    args = parser.parse_args(argv)

    start = time.perf_counter()
    {"compute": compute, "apply": apply}[args.command](args)
    print(json.dumps({"seconds_after_imports": round(time.perf_counter() - start, 6),
                      "torch": torch.__version__, "torch_threads": torch.get_num_threads()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
