#!/usr/bin/env python3
"""The paramdelta benchmark: compute, apply and combine against the I/O floor
and a whole-state-dict Python peer, measured in one interleaved run.

For each model size it generates (or reuses) a deterministic bf16 model trio,
prepares the deltas that apply and combine read (untimed), then runs every
contender once to warm the page cache and then `--runs` more times, round-robin
(each round in a rotated order), so that drift in the machine's state affects
all contenders alike. Every run starts with its old output removed and dirty
pages flushed; the reported wall time is the median.

Usually started through bench/run.sh, which sets up and builds first.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))

import generate_trio  # noqa: E402
import machine  # noqa: E402
from measure import (RunResult, floor_argv, remove, require_gnu_time, run_measured,  # noqa: E402
                     safetensors_files)

OPERATIONS = ("compute", "compute-bf16", "apply", "analyze", "combine", "combine-ties", "combine-dare-ties")
# analyze and the merge methods of combine are measured on request (--operations).
DEFAULT_OPERATIONS = ("compute", "compute-bf16", "apply", "combine")
OPERATION_TITLES = {
    "compute": "compute (lossless delta)",
    "compute-bf16": "compute --delta-dtype bf16",
    "apply": "apply (lossless delta)",
    "analyze": "analyze --base --new-base (lossless delta)",
    "combine": "combine of 3 deltas",
    "combine-ties": "combine of 3 deltas, --method ties --density 0.2",
    "combine-dare-ties": "combine of 3 deltas, --method dare-ties --density 0.2",
}
COMBINE_FLAGS = {
    "combine": [],
    "combine-ties": ["--method", "ties", "--density", "0.2"],
    "combine-dare-ties": ["--method", "dare-ties", "--density", "0.2"],
}
# The peer implements these operations; compute-bf16 writes what the peer writes (a bf16 delta).
PEER_OF = {"compute": "compute", "compute-bf16": "compute", "apply": "apply"}
# Combine reads three deltas; together with the models they may not fit in the
# page cache next to the other operations' inputs, so it is its own round-robin.
PHASES = (("compute", "compute-bf16", "apply", "analyze"), ("combine", "combine-ties", "combine-dare-ties"))
MIN_RUNS = 5


@dataclass
class Contender:
    key: str  # unique, e.g. "apply", "floor:apply", "peer:apply"
    operation: str
    tool: str  # "paramdelta", "floor" or "peer"
    inputs: list[Path]
    make_argv: Callable[[Path], list[str]]  # output path -> command
    warmup: RunResult | None = None
    runs: list[RunResult] = field(default_factory=list)
    error: str | None = None


@dataclass
class Tools:
    cli: Path
    io_floor: Path
    peer_python: Path | None
    cli_extra: list[str]
    threads: int | None
    timeout_s: float
    baseline: Path | None = None  # another paramdelta build, measured alongside (--baseline-cli)
    baseline_extra: list[str] = field(default_factory=list)


def paramdelta_argv(tools: Tools, *args: str, baseline: bool = False) -> list[str]:
    argv = [str(tools.baseline), *args, *tools.baseline_extra] if baseline else [str(tools.cli), *args, *tools.cli_extra]
    if tools.threads:
        argv += ["--threads", str(tools.threads)]
    return argv


def detect_cli_extra(cli: Path) -> list[str]:
    """--quiet where the CLI has it: progress output is not what is measured."""
    try:
        help_text = subprocess.run([str(cli), "compute", "--help"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return []
    return ["--quiet"] if "--quiet" in help_text else []


def cli_version(cli: Path) -> str:
    try:
        out = subprocess.run([str(cli), "--version"], capture_output=True, text=True, timeout=30)
        return (out.stdout or out.stderr).strip().splitlines()[0] if out.returncode == 0 else "unknown"
    except (OSError, subprocess.TimeoutExpired, IndexError):
        return "unknown"


def peer_versions(python: Path) -> str:
    code = "import torch, safetensors; print(torch.__version__, torch.get_num_threads(), safetensors.__version__)"
    try:
        out = subprocess.run([str(python), "-c", code], capture_output=True, text=True, timeout=120, check=True)
        torch_v, threads, st_v = out.stdout.split()
        return f"PyTorch {torch_v} ({threads} thread{'s' if threads != '1' else ''}), safetensors {st_v}"
    except (OSError, subprocess.SubprocessError, ValueError):
        return "unavailable"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def prepare(tools: Tools, trio: Path, prep: Path, operations: list[str], with_peer: bool,
            made: dict[str, Path | str]) -> dict[str, Path | str]:
    """Untimed inputs of apply and combine: deltas made by paramdelta (and by the
    peer for the peer's apply), added to `made` unless already there. A failure
    is recorded, not raised."""
    wanted: list[str] = []
    combining = any(op in COMBINE_FLAGS for op in operations)
    if "apply" in operations or "analyze" in operations or combining:
        wanted.append("post")
    if combining:
        wanted += ["post2", "newbase"]
    for model in wanted:
        if model in made:
            continue
        out = prep / f"delta-{model}"
        log(f"  prepare: paramdelta compute base -> {model}")
        r = run_measured(paramdelta_argv(tools, "compute", "--base", str(trio / "base"), "--post", str(trio / model),
                                         "-o", str(out)), [], out, tools.timeout_s, keep_output=True)
        made[model] = out if r.ok else f"paramdelta compute exited {r.exit_code}: {r.stderr_tail.strip()[-300:]}"
    if with_peer and "apply" in operations and "peer" not in made:
        out = prep / "peer-delta"
        log("  prepare: peer compute base -> post")
        r = run_measured([str(tools.peer_python), str(BENCH_DIR / "peer_state_dict.py"), "compute", "--base",
                          str(trio / "base"), "--post", str(trio / "post"), "-o", str(out)], [], out, tools.timeout_s,
                         keep_output=True)
        made["peer"] = out if r.ok else f"peer compute exited {r.exit_code}: {r.stderr_tail.strip()[-300:]}"
    return made


def make_contenders(tools: Tools, trio: Path, prep: dict[str, Path | str], operations: list[str],
                    with_peer: bool) -> list[Contender]:
    base, post, newbase = trio / "base", trio / "post", trio / "newbase"
    model_inputs = {"compute": safetensors_files(base) + safetensors_files(post),
                    "compute-bf16": safetensors_files(base) + safetensors_files(post)}
    out: list[Contender] = []

    def add_with_floor(op: str, inputs: list[Path], make_argv: Callable[[Path], list[str]], error: str | None) -> None:
        main = Contender(op, op, "paramdelta", inputs, make_argv, error=error)
        out.append(main)
        if tools.baseline is not None:
            # The same command run by the baseline build: its argv with the other binary and flags.
            def baseline_argv(o: Path, make_argv=make_argv) -> list[str]:
                argv = make_argv(o)
                rest = [a for a in argv[1:] if a not in tools.cli_extra]
                return [str(tools.baseline), *rest, *tools.baseline_extra]
            out.append(Contender(f"baseline:{op}", op, "baseline", inputs, baseline_argv, error=error))
        # The floor's output sizes are those of the operation's warm-up run.
        out.append(Contender(f"floor:{op}", op, "floor", inputs,
                             lambda o, m=main: floor_argv(tools.io_floor, m.inputs, o, m.warmup.output_files),
                             error=error))

    def missing(name: str) -> str | None:
        value = prep.get(name)
        return value if isinstance(value, str) else None if value else f"no prepared {name} delta"

    if "compute" in operations:
        add_with_floor("compute", model_inputs["compute"],
                       lambda o: paramdelta_argv(tools, "compute", "--base", str(base), "--post", str(post),
                                                 "-o", str(o)), None)
    if "compute-bf16" in operations:
        add_with_floor("compute-bf16", model_inputs["compute-bf16"],
                       lambda o: paramdelta_argv(tools, "compute", "--base", str(base), "--post", str(post),
                                                 "--delta-dtype", "bf16", "-o", str(o)), None)
    if "apply" in operations:
        d = prep.get("post")
        inputs = safetensors_files(newbase) + (safetensors_files(d) if isinstance(d, Path) else [])
        add_with_floor("apply", inputs,
                       lambda o, d=d: paramdelta_argv(tools, "apply", "--base", str(newbase), "--delta", str(d),
                                                      "-o", str(o)), missing("post"))
    if "analyze" in operations:
        # Reads the delta, the base and the new base; writes nothing (its report goes to standard output).
        d = prep.get("post")
        inputs = (safetensors_files(d) if isinstance(d, Path) else []) + safetensors_files(base) + \
            safetensors_files(newbase)
        add_with_floor("analyze", inputs,
                       lambda o, d=d: paramdelta_argv(tools, "analyze", "--delta", str(d), "--base", str(base),
                                                      "--new-base", str(newbase)), missing("post"))
    for op, flags in COMBINE_FLAGS.items():
        if op not in operations:
            continue
        ds = [prep.get(m) for m in ("post", "post2", "newbase")]
        inputs = [f for d in ds if isinstance(d, Path) for f in safetensors_files(d)]
        args = [a for d in ds for a in ("--delta", str(d))] + flags
        error = missing("post") or missing("post2") or missing("newbase")
        add_with_floor(op, inputs, lambda o, args=args: paramdelta_argv(tools, "combine", *args, "-o", str(o)), error)
    if with_peer:
        peer = [str(tools.peer_python), str(BENCH_DIR / "peer_state_dict.py")]
        if "compute" in operations or "compute-bf16" in operations:
            out.append(Contender("peer:compute", "compute", "peer", model_inputs["compute"],
                                 lambda o: peer + ["compute", "--base", str(base), "--post", str(post), "-o", str(o)]))
        if "apply" in operations:
            pd = prep.get("peer")
            inputs = safetensors_files(newbase) + (safetensors_files(pd) if isinstance(pd, Path) else [])
            out.append(Contender("peer:apply", "apply", "peer", inputs,
                                 lambda o: peer + ["apply", "--base", str(newbase), "--delta", str(pd), "-o", str(o)],
                                 error=missing("peer")))
    return out


def run_phase(contenders: list[Contender], tools: Tools, work: Path, runs: int) -> None:
    """One warm-up round, then `runs` rounds, each in a rotated order."""
    def output_of(c: Contender) -> Path:
        return work / c.key.replace(":", "-")

    # Warm-up in list order: an operation runs before its floor, which needs its output sizes.
    for c in contenders:
        if c.error:
            continue
        if c.tool == "floor":
            main = next(m for m in contenders if m.key == c.operation)
            if main.error:
                c.error = f"no floor: {c.operation} failed"
                continue
        log(f"  warm-up: {c.key}")
        c.warmup = run_measured(c.make_argv(output_of(c)), c.inputs, output_of(c), tools.timeout_s, warm_inputs=True)
        if not c.warmup.ok:
            c.error = f"exited {c.warmup.exit_code}: {c.warmup.stderr_tail.strip()[-300:]}"
            log(f"    failed: {c.error}")
    active = [c for c in contenders if not c.error]
    for r in range(runs):
        shift = r % len(active) if active else 0
        order = active[shift:] + active[:shift]
        log(f"  round {r + 1}/{runs}: " + ", ".join(c.key for c in order))
        for c in order:
            result = run_measured(c.make_argv(output_of(c)), c.inputs, output_of(c), tools.timeout_s,
                                  warm_inputs=True)
            c.runs.append(result)
            if not result.ok:
                log(f"    {c.key} failed: exit {result.exit_code}: {result.stderr_tail.strip()[-300:]}")


def summarize(c: Contender) -> dict[str, object] | None:
    ok = [r for r in c.runs if r.ok]
    if not ok:
        return None
    walls = [r.wall_s for r in ok]
    median = statistics.median(walls)
    rss = [r.peak_rss_mib for r in ok if r.peak_rss_mib is not None]
    cpu = [r.counters["user_s"] + r.counters["system_s"] for r in ok
           if "user_s" in r.counters and "system_s" in r.counters]
    resident = [r.input_resident for r in ok if r.input_resident is not None]
    out_bytes = statistics.median([r.output_bytes for r in ok])
    return {
        "runs": len(ok),
        "failed_runs": len(c.runs) - len(ok),
        "median_s": median,
        "min_s": min(walls),
        "max_s": max(walls),
        "input_bytes": ok[0].input_bytes,
        "output_bytes": out_bytes,
        "output_bytes_vary": len({r.output_bytes for r in ok}) > 1,
        "gb_per_s": (ok[0].input_bytes + out_bytes) / median / 1e9 if median > 0 else 0.0,
        "peak_rss_mib": max(rss) if rss else None,
        "median_cpu_s": statistics.median(cpu) if cpu else None,
        "min_input_resident": min(resident) if resident else None,
    }


def ratio_text(a: dict | None, b: dict | None) -> str:
    if not a or not b or not b["median_s"]:
        return "–"
    return f"{a['median_s'] / b['median_s']:.2f}×"


def human(n: float, unit: str) -> str:
    for factor, prefix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if n >= factor:
            return f"{n / factor:.3g} {prefix}{unit}"
    return f"{n:.0f} {unit}".strip()


def gb(n: float) -> str:
    return f"{n / 1e9:.2f}" if n >= 1e8 else f"{n / 1e9:.2g}"


def size_table(size: str, contenders: list[Contender], baseline_label: str = "") -> list[str]:
    shape = generate_trio.PRESETS[size]
    params = sum(t.numel for t in generate_trio.llama_tensors(shape))
    lines = [f"### {size}: {human(params, '')} parameters, {human(2 * params, 'B')} per bf16 model "
             f"({shape.layers} layers, hidden {shape.hidden}, vocab {shape.vocab})", "",
             "| operation | tool | median s | min–max s | CPU s | input GB | output GB | GB/s | peak RSS MiB | × floor "
             "| × peer |" + (" × baseline |" if baseline_label else ""),
             "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|" + ("--:|" if baseline_label else "")]
    by_key = {c.key: c for c in contenders}
    summaries = {c.key: summarize(c) for c in contenders}
    tool_names = {"paramdelta": "paramdelta", "floor": "I/O floor", "peer": "Python peer (whole state dict)",
                  "baseline": f"paramdelta baseline ({baseline_label})"}
    for op in OPERATIONS:
        keys = [k for k in (op, f"baseline:{op}", f"floor:{op}") if k in by_key]
        peer_key = f"peer:{PEER_OF[op]}" if op in PEER_OF else None
        # Each peer row is shown once, under the first operation that has it.
        if peer_key in by_key and not any(PEER_OF.get(o) == PEER_OF[op] and o in by_key
                                          for o in OPERATIONS[:OPERATIONS.index(op)]):
            keys.append(peer_key)
        floor_s = summaries.get(f"floor:{op}")
        peer_s = summaries.get(peer_key) if peer_key else None
        baseline_s = summaries.get(f"baseline:{op}")
        for i, key in enumerate(keys):
            c, s = by_key[key], summaries[key]
            title = OPERATION_TITLES[op] if i == 0 else ""
            if s is None:
                lines.append(f"| {title} | {tool_names[c.tool]} | failed: {(c.error or 'all runs failed')[:120]} "
                             "| | | | | | | | |" + (" |" if baseline_label else ""))
                continue
            rss = f"{s['peak_rss_mib']:.0f}" if s["peak_rss_mib"] is not None else "–"
            cpu = f"{s['median_cpu_s']:.2f}" if s["median_cpu_s"] is not None else "–"
            vary = " (varies)" if s["output_bytes_vary"] else ""
            to_peer = ratio_text(s, peer_s) if c.tool == "paramdelta" else ""
            to_baseline = ""
            if baseline_label:
                to_baseline = f" {ratio_text(s, baseline_s) if c.tool == 'paramdelta' else ''} |"
            lines.append(f"| {title} | {tool_names[c.tool]} | {s['median_s']:.2f} | {s['min_s']:.2f}–{s['max_s']:.2f} | {cpu} "
                         f"| {gb(s['input_bytes'])} | {gb(s['output_bytes'])}{vary} | {s['gb_per_s']:.2f} "
                         f"| {rss} | {ratio_text(s, floor_s)} | {to_peer} |{to_baseline}")
    return lines


def residency_note(contenders: list[Contender]) -> str:
    values = [r.input_resident for c in contenders for r in c.runs if r.input_resident is not None]
    if not values:
        return "page cache: not measured (no fincore)"
    low = min(values)
    state = "warm" if low >= 0.99 else "partly warm (the inputs do not fit in memory next to the runs)"
    return (f"Page cache {state}: inputs pushed out by an earlier run are read back before the clock starts; "
            f"at least {100 * low:.1f}% of each run's input was cached when it started")


def report(results: dict[str, list[Contender]], meta: dict[str, object], runs: int) -> str:
    lines = ["## paramdelta benchmark", "",
             f"Machine: {machine.describe_line(meta['machine'])}.  ",
             f"CLI: {meta['cli_version']}; peer: {meta['peer']}.  ",
             *([f"Baseline: {meta['baseline_label']}, measured alongside in the same rounds; × baseline is "
                f"paramdelta's median over the baseline's.  "] if meta.get("baseline_label") else []),
             f"Median of {runs} interleaved runs after one warm-up; {meta['date']}; 1-minute load average "
             f"{meta['load_average']['start']:.2f} at the start, {meta['load_average']['end']:.2f} at the end."]
    if runs < MIN_RUNS:
        lines.append(f"**Only {runs} run(s): a trial of the harness, not a result to publish.**")
    for size, contenders in results.items():
        lines += ["", *size_table(size, contenders, meta.get("baseline_label") or ""), "",
                  residency_note(contenders) + "."]
    lines += ["",
              "GB/s counts input plus output bytes (10⁹ bytes) over the median wall time of the whole process. "
              "CPU s is the median user + system time of the process (all its threads): unlike the wall time it "
              "hardly changes when other work shares the machine. "
              "The I/O floor reads the operation's input files once and writes as many bytes, in as many files, "
              "as the operation wrote (1 MiB buffers, write then rename, no fsync: what paramdelta does). "
              "The peer loads both checkpoints whole with the `safetensors` library, works in bf16 and saves "
              "one file; its apply reads its own bf16 delta. × floor is the median time over the floor of the "
              "same operation; × peer is paramdelta's median over the peer's. Peak RSS is the maximum resident "
              "set size reported by `/usr/bin/time -v` (mapped file pages count). The peer's × floor is relative to "
              "the floor of paramdelta's operation, whose output may be larger than the peer's."]
    return "\n".join(lines) + "\n"


def run_to_json(r: RunResult | None) -> dict | None:
    if r is None:
        return None
    d = asdict(r)
    d["gb_per_s"] = r.gb_per_s
    return d


def free_bytes(path: Path) -> int:
    path.mkdir(parents=True, exist_ok=True)
    return shutil.disk_usage(path).free


def bench_size(size: str, args: argparse.Namespace, tools: Tools, operations: list[str],
               with_peer: bool) -> list[Contender]:
    log(f"{size}: preparing")
    models = ["base", "post", "newbase"] + (["post2"] if any(op in COMBINE_FLAGS for op in operations) else [])
    trio = generate_trio.generate(size, args.data, models=models, log=log)
    work = args.work / size
    remove(work)
    # Worst case: 3 deltas in float32 (2× a model each), the peer's delta and one output of 2× a model.
    model = generate_trio.model_bytes(generate_trio.PRESETS[size])
    needed = 9 * model + 2 * 10**9
    if free_bytes(args.work) < needed:
        raise SystemExit(f"run_bench: {args.work} needs about {needed / 1e9:.0f} GB free for {size}; "
                         f"it has {free_bytes(args.work) / 1e9:.0f} GB")
    prep: dict[str, Path | str] = {}
    contenders: list[Contender] = []
    try:
        for phase in PHASES:
            ops = [op for op in phase if op in operations]
            if not ops:
                continue
            # Made just before the phase that reads them, so as not to push the
            # earlier phases' inputs out of the page cache.
            prepare(tools, trio, work / "prep", ops, with_peer, prep)
            cs = make_contenders(tools, trio, prep, ops, with_peer)
            log(f"{size}: measuring {', '.join(c.key for c in cs)}")
            run_phase(cs, tools, work / "runs", args.runs)
            contenders += cs
    finally:
        remove(work)
    return contenders


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", type=Path, default=REPO_DIR / "build", help="CMake build directory")
    parser.add_argument("--cli", type=Path, help="paramdelta binary (default: BUILD/paramdelta)")
    parser.add_argument("--io-floor", type=Path, help="io_floor binary (default: BUILD/bench/io_floor)")
    parser.add_argument("--sizes", default="120m,1.1b", help="presets of generate_trio.py (default: %(default)s)")
    parser.add_argument("--operations", default=",".join(DEFAULT_OPERATIONS),
                        help=f"default: %(default)s; all: {','.join(OPERATIONS)}")
    parser.add_argument("--runs", type=int, default=MIN_RUNS, help="timed runs after the warm-up (default: %(default)s)")
    parser.add_argument("--baseline-cli", type=Path,
                        help="another paramdelta binary (e.g. an older revision's build), measured alongside")
    parser.add_argument("--baseline-label", help="what the baseline is, for the report (e.g. its revision)")
    parser.add_argument("--no-peer", action="store_true", help="skip the Python peer")
    parser.add_argument("--peer-python", type=Path, help="Python with torch and safetensors (default: bench/.venv)")
    parser.add_argument("--threads", type=int, help="pass --threads N to paramdelta (default: its own choice)")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds per run before it is killed")
    parser.add_argument("--data", type=Path, default=BENCH_DIR / "data", help="generated models (cached)")
    parser.add_argument("--work", type=Path, default=BENCH_DIR / "out", help="outputs while running (removed)")
    parser.add_argument("--results", type=Path, default=BENCH_DIR / "results", help="where the report is written")
    parser.add_argument("--no-save", action="store_true", help="print the report only")
    args = parser.parse_args(argv)

    require_gnu_time()
    operations = [op for op in args.operations.split(",") if op]
    sizes = [s for s in args.sizes.split(",") if s]
    for op in operations:
        if op not in OPERATIONS:
            parser.error(f"unknown operation {op} (choose from {', '.join(OPERATIONS)})")
    for s in sizes:
        if s not in generate_trio.PRESETS:
            parser.error(f"unknown size {s} (choose from {', '.join(generate_trio.PRESETS)})")
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    cli = (args.cli or args.build / "paramdelta").resolve()
    io_floor = (args.io_floor or args.build / "bench" / "io_floor").resolve()
    for what, path in (("paramdelta", cli), ("io_floor", io_floor)):
        if not os.access(path, os.X_OK):
            raise SystemExit(f"run_bench: {what} not found at {path}; build it (bench/run.sh does)")
    with_peer = not args.no_peer
    peer_python = args.peer_python or BENCH_DIR / ".venv" / "bin" / "python"
    peer = peer_versions(peer_python) if with_peer else "skipped"
    if with_peer and peer == "unavailable":
        raise SystemExit(f"run_bench: {peer_python} cannot import torch and safetensors; run bench/setup.sh "
                         "(or pass --no-peer)")
    args.data, args.work, args.results = args.data.resolve(), args.work.resolve(), args.results.resolve()
    tools = Tools(cli, io_floor, peer_python, detect_cli_extra(cli), args.threads, args.timeout)
    baseline_label = None
    if args.baseline_cli:
        tools.baseline = args.baseline_cli.resolve()
        if not os.access(tools.baseline, os.X_OK):
            raise SystemExit(f"run_bench: baseline paramdelta not found at {tools.baseline}")
        tools.baseline_extra = detect_cli_extra(tools.baseline)
        baseline_label = args.baseline_label or "another build"

    meta = {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine.describe(args.data, cli.parent, REPO_DIR),
        "cli_version": cli_version(cli),
        "peer": peer,
        "baseline_label": baseline_label,
        "settings": {"sizes": sizes, "operations": operations, "runs": args.runs, "threads": args.threads,
                     "cli_extra": tools.cli_extra},
    }
    if meta["machine"]["build_type"] not in ("Release", "unknown"):
        log(f"warning: {cli} is a {meta['machine']['build_type']} build; the benchmark wants Release")

    load_before = os.getloadavg()[0]
    results = {size: bench_size(size, args, tools, operations, with_peer) for size in sizes}
    # Other work on the machine shows up in the timings; say how much there was.
    meta["load_average"] = {"start": load_before, "end": os.getloadavg()[0]}
    text = report(results, meta, args.runs)
    print(text)
    if not args.no_save:
        args.results.mkdir(parents=True, exist_ok=True)
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        payload = {**meta, "sizes": {
            size: {c.key: {"operation": c.operation, "tool": c.tool, "error": c.error, "summary": summarize(c),
                           "warmup": run_to_json(c.warmup), "runs": [run_to_json(r) for r in c.runs]}
                   for c in cs} for size, cs in results.items()}}
        (args.results / f"bench-{stamp}.json").write_text(json.dumps(payload, indent=1, default=str) + "\n")
        (args.results / f"bench-{stamp}.md").write_text(text)
        log(f"results: {args.results / f'bench-{stamp}.md'} (and .json)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
