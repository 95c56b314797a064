"""The Python package against the program and against plain PyTorch.

    bench/python_api.sh files  [--preset 120m] [--runs 5]
    bench/python_api.sh memory [--runs 3]

files: ``paramdelta.compute`` / ``paramdelta.apply`` called from a Python
process against ``paramdelta compute`` / ``apply`` on a generated trio
(bench/generate_trio.py, cached in bench/data), every process measured whole
(interpreter start and import included) by /usr/bin/time, interleaved in
rotated order after a warm-up round; target: Python ≤ 1.05× the program.

memory: ``ParamDelta.calculate_delta`` / ``apply_delta`` on a state dict of
torch bf16 tensors with TinyLlama-1.1B's shapes against plain PyTorch
(``post[k] - base[k]``, ``base[k] + delta[k]`` per tensor) in the same
process, interleaved; then each contender alone in a fresh process for its
peak RSS (the inputs are 2 × 2.2 GB, the output 2.2 GB: anything above is a
copy). Target: at least as fast as PyTorch, no extra copy.

Prints a Markdown report (and writes it to bench/results/ unless --no-save).
Timings are never asserted by tests.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Dict, List

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))

import generate_trio  # noqa: E402
import machine  # noqa: E402
from measure import require_gnu_time, run_measured, safetensors_files  # noqa: E402

# The Python contender: a fresh interpreter that imports the package, makes
# the call and prints how long the call alone took.
PYTHON_CALL = """import sys, time
import paramdelta
start = time.perf_counter()
paramdelta.{op}(sys.argv[1], sys.argv[2], sys.argv[3])
print(time.perf_counter() - start)
"""


def log(message: str) -> None:
    print(f"[python_api] {message}", file=sys.stderr, flush=True)


def files_mode(args: argparse.Namespace) -> List[str]:
    require_gnu_time()
    cli = args.build / "paramdelta"
    trio = generate_trio.generate(args.preset, args.data, log=log, post_noise=args.post_noise)
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    delta = work / "delta"  # the input of apply, made once
    made = subprocess.run([str(cli), "compute", "--base", str(trio / "base"), "--post", str(trio / "post"), "-o",
                           str(delta), "--force", "--json"], check=True, capture_output=True, text=True)
    summary = json.loads(made.stdout)
    exceptions = summary.get("exception_elements")
    elements = summary.get("elements")

    env_python = sys.executable
    inputs = {
        "compute": [trio / "base", trio / "post"],
        "apply": [trio / "newbase", delta],
    }
    contenders: Dict[str, Callable[[Path], List[str]]] = {
        "paramdelta compute": lambda out: [str(cli), "compute", "--base", str(trio / "base"), "--post",
                                           str(trio / "post"), "-o", str(out)],
        "paramdelta.compute": lambda out: [env_python, "-c", PYTHON_CALL.format(op="compute"), str(trio / "base"),
                                           str(trio / "post"), str(out)],
        "paramdelta apply": lambda out: [str(cli), "apply", "--base", str(trio / "newbase"), "--delta", str(delta),
                                         "-o", str(out)],
        "paramdelta.apply": lambda out: [env_python, "-c", PYTHON_CALL.format(op="apply"), str(trio / "newbase"), str(delta),
                                         str(out)],
    }
    files = {name: [f for p in inputs[name.split(" ")[-1].split(".")[-1]] for f in safetensors_files(p)]
             for name in contenders}
    names = list(contenders)
    times: Dict[str, List[Any]] = {n: [] for n in names}
    for round_index in range(args.runs + 1):  # round 0 is the warm-up
        order = names[round_index % len(names):] + names[:round_index % len(names)]
        for name in order:
            result = run_measured(contenders[name](work / "out"), files[name], work / "out", warm_inputs=True)
            if result.exit_code != 0:
                raise SystemExit(f"{name} failed: {result.stderr_tail}")
            if round_index > 0:
                times[name].append(result)
        log(f"round {round_index}/{args.runs} done")

    def median(name: str, key: Callable[[Any], float]) -> float:
        return statistics.median(key(r) for r in times[name])

    lines = [f"### File level, preset `{args.preset}` ({args.runs} interleaved runs after a warm-up)", ""]
    if exceptions is not None and elements:
        lines += [f"Post model noise {args.post_noise:g} of the weights' spread; the lossless delta lists {exceptions:,} exception elements of {elements:,} "
                  f"({100 * exceptions / elements:.1f}%).", ""]
    lines += ["| operation | program: median wall | Python process: median wall | ratio | "
              "the call alone: median | ratio | program CPU | Python CPU | ratio | program peak RSS | Python peak RSS |",
              "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"]
    for op in ("compute", "apply"):
        cli_name, py_name = f"paramdelta {op}", f"paramdelta.{op}"
        wall_cli = median(cli_name, lambda r: r.wall_s)
        wall_py = median(py_name, lambda r: r.wall_s)
        cpu = {n: median(n, lambda r: r.counters.get("user_s", 0) + r.counters.get("system_s", 0))
               for n in (cli_name, py_name)}
        rss = {n: max(r.counters.get("peak_rss_kib", 0) for r in times[n]) / 1024**2 for n in (cli_name, py_name)}
        call = median(py_name, lambda r: float(r.stdout.strip().splitlines()[-1]))
        lines.append(f"| {op} | {wall_cli:.3f} s | {wall_py:.3f} s | {wall_py / wall_cli:.3f}× | "
                     f"{call:.3f} s | {call / wall_cli:.3f}× | "
                     f"{cpu[cli_name]:.2f} s | {cpu[py_name]:.2f} s | {cpu[py_name] / cpu[cli_name]:.3f}× | "
                     f"{rss[cli_name]:.2f} GiB | "
                     f"{rss[py_name]:.2f} GiB |")
    lines += ["", "The Python process's wall time includes starting the interpreter and importing the package "
              "(NumPy included); the call alone is timed inside it. CPU is user + system time of the whole process "
              "(medians), which other work on the machine disturbs far less than the wall time. Every run's wall time: "
              + "; ".join(f"{n} " + " ".join(f"{r.wall_s:.2f}" for r in times[n]) for n in names), ""]
    return lines


# ---------------------------------------------------------------------------
# In memory


def state_dicts(preset: str) -> tuple[Dict[str, Any], Dict[str, Any]]:
    """base: uniform weights; post: base plus noise of 1% of their spread, in bf16."""
    import torch

    generator = torch.Generator().manual_seed(0)
    base: Dict[str, Any] = {}
    post: Dict[str, Any] = {}
    for spec in generate_trio.llama_tensors(generate_trio.PRESETS[preset]):
        bound = 1.0 if spec.kind == "norm" else 1.0 / spec.shape[-1] ** 0.5
        value = torch.empty(spec.shape, dtype=torch.float32).uniform_(-bound, bound, generator=generator)
        base[spec.name] = value.to(torch.bfloat16)
        value.add_(torch.empty_like(value).uniform_(-0.01 * bound, 0.01 * bound, generator=generator))
        post[spec.name] = value.to(torch.bfloat16)
        del value
    return base, post


def contenders_in_memory() -> Dict[str, Callable[[Dict[str, Any], Dict[str, Any], Dict[str, Any]], Any]]:
    from paramdelta.compat import ParamDelta

    pd = ParamDelta(device="cpu")
    return {
        "torch: post - base": lambda base, post, delta: {k: post[k] - base[k] for k in post},
        "ParamDelta.calculate_delta": lambda base, post, delta: pd.calculate_delta(post, base),
        "torch: base + delta": lambda base, post, delta: {k: base[k] + delta[k] for k in base},
        "ParamDelta.apply_delta": lambda base, post, delta: pd.apply_delta(base, delta),
    }


def status_gib(field: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024**2
    raise RuntimeError(f"no {field} in /proc/self/status")


def reset_peak_rss() -> None:
    """Sets the peak RSS (VmHWM) to the current RSS, so that the peak the
    contender reaches is not hidden by the generator's temporaries."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def memory_child(args: argparse.Namespace) -> None:
    """One contender once, in this fresh process: prints its peak RSS."""
    import torch

    base, post = state_dicts(args.preset)
    delta = {k: post[k] - base[k] for k in post} if "apply" in args.only or "base + delta" in args.only else None
    gc.collect()
    run = contenders_in_memory()[args.only]
    reset_peak_rss()
    before = status_gib("VmRSS")
    start = time.perf_counter()
    result = run(base, post, delta)
    seconds = time.perf_counter() - start
    out_gib = sum(t.numel() * t.element_size() for t in result.values()) / 1024**3
    print(json.dumps({"before_gib": before, "peak_gib": status_gib("VmHWM"), "output_gib": out_gib,
                      "seconds": seconds, "threads": torch.get_num_threads()}))


def memory_mode(args: argparse.Namespace) -> List[str]:
    import torch

    log(f"building the {args.preset} state dicts (bf16)")
    base, post = state_dicts(args.preset)
    params = sum(t.numel() for t in base.values())
    reference_delta = {k: post[k] - base[k] for k in post}
    runs = contenders_in_memory()
    names = list(runs)
    seconds: Dict[str, List[float]] = {n: [] for n in names}
    same: Dict[str, bool] = {}
    for round_index in range(args.runs + 1):  # round 0 is the warm-up
        order = names[round_index % len(names):] + names[:round_index % len(names)]
        for name in order:
            gc.collect()
            start = time.perf_counter()
            result = runs[name](base, post, reference_delta)
            elapsed = time.perf_counter() - start
            if round_index > 0:
                seconds[name].append(elapsed)
            elif name == "ParamDelta.calculate_delta":  # the numbers: the same bits as torch's?
                same[name] = all(torch.equal(result[k].view(torch.int16), reference_delta[k].view(torch.int16))
                                 for k in result)
            del result
        log(f"round {round_index}/{args.runs} done")
    applied_ours = runs["ParamDelta.apply_delta"](base, post, reference_delta)
    same_apply = all(torch.equal(applied_ours[k].view(torch.int16), (base[k] + reference_delta[k]).view(torch.int16))
                     for k in base)
    del applied_ours, base, post, reference_delta
    gc.collect()

    peaks: Dict[str, Dict[str, float]] = {}
    for name in names:
        child = subprocess.run([sys.executable, __file__, "memory-child", "--preset", args.preset, "--only", name],
                               check=True, capture_output=True, text=True)
        peaks[name] = json.loads(child.stdout.strip().splitlines()[-1])
        log(f"peak RSS of {name}: {peaks[name]['peak_gib']:.2f} GiB")

    lines = [f"### In memory, {params / 1e9:.2f} B bf16 parameters ({args.runs} interleaved runs after a warm-up, "
             f"torch {torch.__version__} with {torch.get_num_threads()} threads)", "",
             "| contender | median | min | peak RSS (fresh process, during the call) | RSS before the call | output | "
             "above inputs + output |",
             "|---|--:|--:|--:|--:|--:|--:|"]
    for name in names:
        p = peaks[name]
        extra = p["peak_gib"] - p["before_gib"] - p["output_gib"]
        lines.append(f"| {name} | {statistics.median(seconds[name]):.3f} s | {min(seconds[name]):.3f} s | "
                     f"{p['peak_gib']:.2f} GiB | {p['before_gib']:.2f} GiB | {p['output_gib']:.2f} GiB | "
                     f"{extra:+.2f} GiB |")
    ratio_sub = statistics.median(seconds["ParamDelta.calculate_delta"]) / statistics.median(
        seconds["torch: post - base"])
    ratio_add = statistics.median(seconds["ParamDelta.apply_delta"]) / statistics.median(
        seconds["torch: base + delta"])
    lines += ["", f"calculate_delta / torch subtraction: {ratio_sub:.2f}×; apply_delta / torch addition: "
              f"{ratio_add:.2f}×. Same bits as torch: delta {same.get('ParamDelta.calculate_delta')}, "
              f"applied {same_apply}.", ""]
    return lines


def main(argv: List[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["files", "memory", "memory-child"])
    parser.add_argument("--preset", default=None, help="generate_trio preset (files: 120m; memory: 1.1b)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--post-noise", type=float, default=0.15,
                        help="files: the post model's relative noise (0.15: about 4%% exception elements)")
    parser.add_argument("--build", type=Path, default=REPO_DIR / "build")
    parser.add_argument("--data", type=Path, default=BENCH_DIR / "data")
    parser.add_argument("--work", type=Path, default=BENCH_DIR / "out" / "python_api")
    parser.add_argument("--results", type=Path, default=BENCH_DIR / "results")
    parser.add_argument("--no-save", action="store_true")
    parser.add_argument("--only", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.mode == "memory-child":
        args.preset = args.preset or "1.1b"
        memory_child(args)
        return 0
    args.preset = args.preset or ("120m" if args.mode == "files" else "1.1b")
    started = datetime.now(timezone.utc)
    lines = files_mode(args) if args.mode == "files" else memory_mode(args)
    described = machine.describe(args.data, args.build, REPO_DIR)
    load = os.getloadavg()
    header = [f"## Python API benchmark: {args.mode}, {started:%Y-%m-%d %H:%M} UTC", "",
              f"Machine: {machine.describe_line(described)}; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
              " at the end.", ""]
    text = "\n".join(header + lines)
    print(text)
    if not args.no_save:
        args.results.mkdir(parents=True, exist_ok=True)
        path = args.results / f"python-api-{args.mode}-{args.preset}-{started:%Y%m%dT%H%M%SZ}.md"
        path.write_text(text + "\n")
        log(f"report: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
