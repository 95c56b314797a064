#!/usr/bin/env python3
"""A larger-than-RAM run: compute and apply on a model trio whose files
together exceed the machine's memory, to show that they complete, disk-bound,
with the same flat peak RSS as on small models.

Steps (each under /usr/bin/time -v, outputs removed as soon as they are no
longer needed so that the disk holds at most two models and one delta at a
time):
  1. generate base and post;
  2. paramdelta compute base post -> delta, then its I/O floor (if the disk has
     room for a second delta);
  3. remove base and post, generate newbase (the generator derives it from
     base's random streams, not from base's files); paramdelta apply newbase
     delta -> model, then its floor;
  4. remove everything (unless --keep, which generates the whole trio first).

Compute reads 2 models and apply reads a model and a delta: for 7b shapes
that is 27 GB of input each, more than this machine's 24 GB of RAM.

The preset is the largest of 7b and 3b that the disk can hold (--preset to
choose). Usually started through bench/larger_than_ram.sh.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import sys
from dataclasses import asdict
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))

import generate_trio  # noqa: E402
import machine  # noqa: E402
from measure import RunResult, floor_argv, remove, require_gnu_time, run_measured, safetensors_files  # noqa: E402

MARGIN = 5 * 10**9  # left free for everyone else on the disk
AUTO_PRESETS = ("7b", "3b")


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def disk_needed(model: int) -> int:
    """Peak disk use: two models plus the lossless delta (the post's dtype plus
    a list of the elements it cannot carry: a little over one model); newbase
    and apply's output come after base and post are gone."""
    return 2 * model + model * 5 // 4 + MARGIN


def choose_preset(requested: str, free: int) -> str:
    if requested != "auto":
        return requested
    for preset in AUTO_PRESETS:
        if disk_needed(generate_trio.model_bytes(generate_trio.PRESETS[preset])) <= free:
            return preset
    raise SystemExit(f"larger_than_ram: {free / 1e9:.0f} GB free is too little even for the 3b trio "
                     f"(needs {disk_needed(generate_trio.model_bytes(generate_trio.PRESETS['3b'])) / 1e9:.0f} GB)")


def row(step: str, r: RunResult | None, note: str = "") -> str:
    if r is None:
        return f"| {step} | skipped: {note} | | | | | | | |"
    if not r.ok:
        return f"| {step} | failed (exit {r.exit_code}): {r.stderr_tail.strip()[-150:]} | | | | | | | |"
    rss = f"{r.peak_rss_mib:.0f}" if r.peak_rss_mib is not None else "–"
    disk_in = r.counters.get("fs_input_blocks")
    disk_in_text = f"{disk_in * 512 / 1e9:.1f}" if disk_in is not None else "–"
    resident = f"{100 * r.input_resident:.0f}%" if r.input_resident is not None else "–"
    c = r.counters
    cpu = f"{c['user_s'] + c['system_s']:.1f}" if "user_s" in c and "system_s" in c else "–"
    return (f"| {step} | {r.wall_s:.1f} | {cpu} | {r.input_bytes / 1e9:.2f} | {r.output_bytes / 1e9:.2f} | {r.gb_per_s:.2f} "
            f"| {rss} | {disk_in_text} | {resident} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="auto", choices=["auto", *generate_trio.PRESETS])
    parser.add_argument("--build", type=Path, default=REPO_DIR / "build")
    parser.add_argument("--cli", type=Path, help="paramdelta binary (default: BUILD/paramdelta)")
    parser.add_argument("--io-floor", type=Path, help="io_floor binary (default: BUILD/bench/io_floor)")
    parser.add_argument("--work", type=Path, default=BENCH_DIR / "out" / "larger-than-ram",
                        help="where the trio and outputs go (removed afterwards)")
    parser.add_argument("--results", type=Path, default=BENCH_DIR / "results")
    parser.add_argument("--no-floor", action="store_true", help="skip the I/O floor runs")
    parser.add_argument("--threads", type=int, help="pass --threads N to paramdelta")
    parser.add_argument("--keep", action="store_true", help="keep the generated trio and outputs")
    parser.add_argument("--no-save", action="store_true", help="print the report only")
    parser.add_argument("--timeout", type=float, default=4 * 3600.0, help="seconds per step before it is killed")
    args = parser.parse_args(argv)

    require_gnu_time()
    cli = (args.cli or args.build / "paramdelta").resolve()
    io_floor = (args.io_floor or args.build / "bench" / "io_floor").resolve()
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(work).free
    preset = choose_preset(args.preset, free)
    model = generate_trio.model_bytes(generate_trio.PRESETS[preset])
    if disk_needed(model) > free:
        raise SystemExit(f"larger_than_ram: {preset} needs about {disk_needed(model) / 1e9:.0f} GB free in {work}; "
                         f"there are {free / 1e9:.0f} GB")
    meta = machine.describe(work, cli.parent, REPO_DIR)
    ram = int(meta["memory_bytes"])
    trio_bytes = 3 * model
    exceeds = 2 * model > ram
    log(f"larger_than_ram: {preset} trio = {trio_bytes / 1e9:.1f} GB of files, each operation reads "
        f"{2 * model / 1e9:.1f} GB, RAM = {ram / 2**30:.1f} GiB, disk free = {free / 1e9:.0f} GB"
        + ("" if exceeds else " (an operation's inputs do NOT exceed RAM)"))

    extra = ["--threads", str(args.threads)] if args.threads else []
    steps: list[tuple[str, RunResult | None, str]] = []
    try:
        first = ["base", "post", "newbase"] if args.keep else ["base", "post"]
        trio = generate_trio.generate(preset, work / "data", models=first, log=log)
        base, post, newbase = trio / "base", trio / "post", trio / "newbase"
        delta, out = work / "delta", work / "model"

        log("compute ...")
        inputs = safetensors_files(base) + safetensors_files(post)
        compute = run_measured([str(cli), "compute", "--base", str(base), "--post", str(post), "-o", str(delta),
                                *extra], inputs, delta, args.timeout, keep_output=True)
        steps.append(("paramdelta compute", compute, ""))
        if not compute.ok:
            raise RuntimeError("compute failed")
        if args.no_floor:
            steps.append(("I/O floor of compute", None, "--no-floor"))
        elif shutil.disk_usage(work).free < compute.output_bytes + MARGIN:
            steps.append(("I/O floor of compute", None, "no disk room for a second delta"))
        else:
            log("floor of compute ...")
            steps.append(("I/O floor of compute",
                          run_measured(floor_argv(io_floor, inputs, work / "floor", compute.output_files), inputs,
                                       work / "floor", args.timeout), ""))
        if not args.keep:
            remove(base)
            remove(post)
            generate_trio.generate(preset, work / "data", models=["newbase"], log=log)

        log("apply ...")
        inputs = safetensors_files(newbase) + safetensors_files(delta)
        apply = run_measured([str(cli), "apply", "--base", str(newbase), "--delta", str(delta), "-o", str(out),
                              *extra], inputs, out, args.timeout, keep_output=args.keep)
        steps.append(("paramdelta apply", apply, ""))
        if apply.ok and not args.no_floor:
            log("floor of apply ...")
            steps.append(("I/O floor of apply",
                          run_measured(floor_argv(io_floor, inputs, work / "floor", apply.output_files), inputs,
                                       work / "floor", args.timeout), ""))
    except RuntimeError as e:
        log(f"larger_than_ram: {e}")
    finally:
        if not args.keep:
            remove(work)

    shape = generate_trio.PRESETS[preset]
    lines = [f"## Larger-than-RAM run: {preset} trio", "",
             f"Machine: {machine.describe_line(meta)}.  ",
             f"Trio: {preset} ({shape.layers} layers, hidden {shape.hidden}), {trio_bytes / 1e9:.1f} GB of files; "
             f"each operation reads {2 * model / 1e9:.1f} GB, for {ram / 2**30:.1f} GiB of RAM"
             + (" (exceeds RAM)" if exceeds else " (**does not exceed RAM**)")
             + f"; one run each, {dt.datetime.now(dt.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}.", "",
             "| step | wall s | CPU s | input GB | output GB | GB/s | peak RSS MiB | read from disk GB "
             "| input cached at start |",
             "|---|--:|--:|--:|--:|--:|--:|--:|--:|"]
    lines += [row(step, r, note) for step, r, note in steps]
    lines += ["", "GB/s counts input plus output bytes over the wall time. 'Read from disk' is the file system "
              "input that `/usr/bin/time -v` reports; outputs are not fsynced (paramdelta does not fsync)."]
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.no_save:
        args.results.mkdir(parents=True, exist_ok=True)
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        (args.results / f"larger-than-ram-{stamp}.md").write_text(text)
        payload = {"machine": meta, "preset": preset, "trio_bytes": trio_bytes, "exceeds_ram": exceeds,
                   "steps": [{"step": s, "note": n, "result": asdict(r) if r else None} for s, r, n in steps]}
        (args.results / f"larger-than-ram-{stamp}.json").write_text(json.dumps(payload, indent=1) + "\n")
        log(f"results: {args.results / f'larger-than-ram-{stamp}.md'} (and .json)")
    return 0 if steps and all(r is None or r.ok for _, r, _ in steps) else 1


if __name__ == "__main__":
    sys.exit(main())
