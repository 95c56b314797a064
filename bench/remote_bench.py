#!/usr/bin/env python3
"""The remote benchmark: paramdelta compute and apply between az:// locations
of an Azurite on 127.0.0.1 (blobs on disk, in a temporary directory), next to
the Azure SDK for Python merely downloading the inputs and uploading as many
bytes as paramdelta wrote (bench/peer_blob_transfer.py), at several
`max_concurrency` settings, all in one interleaved run.

It generates (or reuses) the deterministic model trio of generate_trio.py,
uploads it once, makes the delta that apply reads (untimed), runs every
contender once to warm up and then `--runs` rounds in rotated orders. Each
run gets a fresh empty TMPDIR and working directory; measured are the wall
time, the CPU time and peak RSS of the process (`/usr/bin/time -v`), the
bytes it wrote to local files (its write_bytes I/O counter), the largest size
its TMPDIR reached (sampled), and the CPU time Azurite spent meanwhile.

Usually started through bench/remote.sh, which sets up and builds first.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))
sys.path.insert(0, str(REPO_DIR / "tests" / "interop"))

import generate_trio  # noqa: E402
import machine  # noqa: E402
from azurite_server import ACCOUNT, KEY, azurite_program  # noqa: E402
from measure import GNU_TIME, parse_gnu_time, require_gnu_time  # noqa: E402
from run_bench import cli_version, detect_cli_extra  # noqa: E402

CONTAINER = "bench"
MODELS = ("base", "post", "newbase")
UPLOAD_CONCURRENCY = 8
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DiskAzurite:
    """Azurite's blob service on 127.0.0.1 keeping its blobs in `location`
    (the models are GBs: not in memory)."""

    def __init__(self, location: Path):
        program = azurite_program()
        if program is None:
            raise SystemExit("remote_bench: azurite is not installed: run tools/setup.sh (or set PARAMDELTA_AZURITE)")
        self.port = free_port()
        self.location = location
        self.log_file = location.parent / "azurite.log"
        self.process = subprocess.Popen(
            [str(program), "--blobHost", "127.0.0.1", "--blobPort", str(self.port), "--location", str(location),
             "--silent", "--disableTelemetry", "--skipApiVersionCheck", "--loose"],
            stdout=self.log_file.open("wb"), stderr=subprocess.STDOUT, cwd=location.parent, start_new_session=True)
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise SystemExit(f"remote_bench: azurite did not start: {self.log_file.read_text(errors='replace')}")
                time.sleep(0.2)

    @property
    def connection_string(self) -> str:
        return (f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={KEY};"
                f"BlobEndpoint=http://127.0.0.1:{self.port}/{ACCOUNT};")

    def cpu_seconds(self) -> float:
        """User + system CPU time of Azurite's process tree so far."""
        total = 0.0
        pids = {self.process.pid}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            # fields[0] is the state (field 3); pgrp is field 5, utime/stime fields 14/15.
            if int(fields[2]) == self.process.pid or int(stat.parent.name) in pids:
                total += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
        return total

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, 15)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, 9)
                self.process.wait()


def dir_bytes(path: Path) -> int:
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(root, f)).st_blocks * 512
            except OSError:
                pass
    return total


@dataclass
class Run:
    exit_code: int
    wall_s: float
    cpu_s: float | None
    peak_rss_mib: float | None
    local_write_bytes: int | None  # the process's write_bytes (File system outputs × 512)
    tmpdir_peak_bytes: int  # the largest size its TMPDIR and working directory reached (sampled)
    azurite_cpu_s: float
    stderr_tail: str = ""

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


@dataclass
class Contender:
    key: str  # e.g. "compute", "peer8:compute"
    operation: str  # compute or apply
    tool: str  # paramdelta or peer
    concurrency: int | None
    inputs: list[str]  # prefixes in the container
    output: str  # prefix written
    argv: list[str] = field(default_factory=list)
    input_bytes: int = 0
    output_bytes: int = 0
    warmup: Run | None = None
    runs: list[Run] = field(default_factory=list)
    error: str | None = None


def run_measured(argv: list[str], env: dict[str, str], azurite: DiskAzurite, scratch: Path, timeout_s: float) -> Run:
    """Runs `argv` with an empty TMPDIR and working directory under `scratch`."""
    shutil.rmtree(scratch, ignore_errors=True)
    (scratch / "tmp").mkdir(parents=True)
    env = {**env, "TMPDIR": str(scratch / "tmp")}
    os.sync()
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.1):
            peak[0] = max(peak[0], dir_bytes(scratch))

    sampler = threading.Thread(target=sample, daemon=True)
    with tempfile.NamedTemporaryFile("r", prefix="gnu-time-", suffix=".txt") as tf:
        cpu_before = azurite.cpu_seconds()
        start = time.perf_counter()
        proc = subprocess.Popen([GNU_TIME, "-v", "-o", tf.name, *argv], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=env, cwd=scratch, start_new_session=True)
        sampler.start()
        try:
            _, stderr = proc.communicate(timeout=timeout_s)
            code = proc.returncode
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            _, stderr = proc.communicate()
            code, stderr = 124, f"timed out after {timeout_s:.0f} s\n{stderr}"
        wall = time.perf_counter() - start
        azurite_cpu = azurite.cpu_seconds() - cpu_before
        done.set()
        sampler.join()
        # The sampler may have missed what the process removed just before it ended.
        peak[0] = max(peak[0], dir_bytes(scratch))
        c = parse_gnu_time(Path(tf.name).read_text(errors="replace"))
    cpu = c["user_s"] + c["system_s"] if "user_s" in c and "system_s" in c else None
    rss = c["peak_rss_kib"] / 1024 if "peak_rss_kib" in c else None
    writes = int(c["fs_output_blocks"] * 512) if "fs_output_blocks" in c else None
    shutil.rmtree(scratch, ignore_errors=True)
    return Run(code, wall, cpu, rss, writes, peak[0], azurite_cpu, (stderr or "")[-1500:])


class Bench:
    def __init__(self, args: argparse.Namespace, azurite: DiskAzurite, cli: Path):
        from azure.storage.blob import BlobServiceClient

        self.args = args
        self.azurite = azurite
        self.cli = cli
        self.cli_extra = detect_cli_extra(cli)
        self.container = BlobServiceClient.from_connection_string(azurite.connection_string).get_container_client(
            CONTAINER)
        base_env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "AWS_"))}
        self.env = {**base_env, "AZURE_STORAGE_CONNECTION_STRING": azurite.connection_string}
        self.scratch = args.work / "scratch"

    def url(self, prefix: str) -> str:
        return f"az://{CONTAINER}/{prefix}"

    def blobs(self, prefix: str) -> dict[str, int]:
        return {b.name: b.size for b in self.container.list_blobs(name_starts_with=prefix + "/")}

    def delete(self, prefix: str) -> None:
        for name in self.blobs(prefix):
            self.container.delete_blob(name, delete_snapshots="include")

    def upload_trio(self, trio: Path, size: str) -> None:
        self.container.create_container()
        for model in MODELS:
            local = trio / model
            t = time.perf_counter()
            total = 0
            for f in sorted(p for p in local.iterdir() if p.is_file()):
                with f.open("rb") as fh:
                    self.container.upload_blob(f"{size}/{model}/{f.name}", fh, overwrite=True,
                                               max_concurrency=UPLOAD_CONCURRENCY)
                total += f.stat().st_size
            log(f"  uploaded {model}: {total / 1e9:.2f} GB in {time.perf_counter() - t:.1f} s")

    def paramdelta(self, *args: str) -> list[str]:
        return [str(self.cli), *args, *self.cli_extra]

    def measure(self, c: Contender) -> Run:
        self.delete(c.output)
        run = run_measured(c.argv, self.env, self.azurite, self.scratch, self.args.timeout)
        if run.ok and c.tool == "paramdelta":
            c.output_bytes = sum(self.blobs(c.output).values())
        return run


def summarize(c: Contender) -> dict[str, object] | None:
    ok = [r for r in c.runs if r.ok]
    if not ok:
        return None
    walls = [r.wall_s for r in ok]
    med = statistics.median(walls)

    def biggest(values):
        values = [v for v in values if v is not None]
        return max(values) if values else None

    cpus = [r.cpu_s for r in ok if r.cpu_s is not None]
    return {
        "runs": len(ok), "failed_runs": len(c.runs) - len(ok), "median_s": med, "min_s": min(walls),
        "max_s": max(walls), "median_cpu_s": statistics.median(cpus) if cpus else None,
        "median_azurite_cpu_s": statistics.median([r.azurite_cpu_s for r in ok]),
        "peak_rss_mib": biggest(r.peak_rss_mib for r in ok),
        "local_write_bytes": biggest(r.local_write_bytes for r in ok),
        "tmpdir_peak_bytes": biggest(r.tmpdir_peak_bytes for r in ok),
        "input_bytes": c.input_bytes, "output_bytes": c.output_bytes,
        "gb_per_s": (c.input_bytes + c.output_bytes) / med / 1e9 if med > 0 else 0.0,
    }


def size_text(n: int | None) -> str:
    if n is None:
        return "–"
    for factor, unit in ((1e9, "GB"), (1e6, "MB"), (1e3, "kB")):
        if n >= factor:
            return f"{n / factor:.3g} {unit}"
    return f"{n} B"


def report(contenders: list[Contender], meta: dict[str, object]) -> str:
    sums = {c.key: summarize(c) for c in contenders}
    lines = ["## paramdelta remote benchmark (Azurite on 127.0.0.1)", "",
             f"Machine: {machine.describe_line(meta['machine'])}.  ",
             f"CLI: {meta['cli_version']}; peer: azure-storage-blob {meta['sdk_version']} (Python "
             f"{meta['python_version']}); Azurite {meta['azurite_version']}, blobs on disk ({meta['filesystem']}).  ",
             f"Model: {meta['size']} ({meta['model_gb']:.2f} GB per bf16 model); median of {meta['runs']} interleaved "
             f"runs after one warm-up; {meta['date']}; 1-minute load average {meta['load_average']['start']:.2f} "
             f"at the start, {meta['load_average']['end']:.2f} at the end."]
    if meta["runs"] < 3:
        lines.append(f"**Only {meta['runs']} run(s): a trial of the harness, not a result to publish.**")
    lines += ["", "| operation | tool | median s | min–max s | CPU s | Azurite CPU s | input GB | output GB | GB/s "
              "| peak RSS MiB | local disk written | TMPDIR peak | × best peer |",
              "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"]
    verdicts = []
    for op in ("compute", "apply"):
        ours = [c for c in contenders if c.operation == op and c.tool == "paramdelta"]
        peers = [c for c in contenders if c.operation == op and c.tool == "peer"]
        ok_peers = [c for c in peers if sums[c.key]]
        best = min(ok_peers, key=lambda c: sums[c.key]["median_s"]) if ok_peers else None
        for i, c in enumerate(ours + peers):
            s = sums[c.key]
            title = op if i == 0 else ""
            tool = "paramdelta" if c.tool == "paramdelta" else \
                f"azure-storage-blob, max_concurrency {c.concurrency}" + (" (best)" if c is best else "")
            if s is None:
                lines.append(f"| {title} | {tool} | failed: {(c.error or 'all runs failed')[:150]} "
                             "| | | | | | | | | | |")
                continue
            ratio = ""
            if c.tool == "paramdelta" and best is not None:
                r = s["median_s"] / sums[best.key]["median_s"]
                ratio = f"{r:.2f}×"
                verdicts.append(
                    f"{op}: wall {r:.2f}× the best peer's (target ≤ 1.2×: {'met' if r <= 1.2 else 'missed'}); "
                    f"peak RSS {s['peak_rss_mib']:.0f} MiB (target ≤ 256 MiB: "
                    f"{'met' if s['peak_rss_mib'] is not None and s['peak_rss_mib'] <= 256 else 'missed'}); "
                    f"local disk written {size_text(s['local_write_bytes'])}, TMPDIR peak "
                    f"{size_text(s['tmpdir_peak_bytes'])}")
            rss = f"{s['peak_rss_mib']:.0f}" if s["peak_rss_mib"] is not None else "–"
            cpu = f"{s['median_cpu_s']:.1f}" if s["median_cpu_s"] is not None else "–"
            lines.append(f"| {title} | {tool} | {s['median_s']:.1f} | {s['min_s']:.1f}–{s['max_s']:.1f} | {cpu} "
                         f"| {s['median_azurite_cpu_s']:.1f} | {s['input_bytes'] / 1e9:.2f} "
                         f"| {s['output_bytes'] / 1e9:.2f} | {s['gb_per_s']:.2f} | {rss} "
                         f"| {size_text(s['local_write_bytes'])} | {size_text(s['tmpdir_peak_bytes'])} | {ratio} |")
    lines += ["", *[f"- {v}" for v in verdicts], "",
              "paramdelta reads its inputs from and writes its output to Azurite (`az://`), remote to remote. "
              "The peer moves the same bytes with the Azure SDK for Python and computes nothing: it downloads every "
              "blob of the inputs into a sink that keeps nothing, then uploads blobs of the sizes paramdelta wrote, "
              "one after the other, each blob with `max_concurrency` connections. CPU s is the process's user + "
              "system time, Azurite CPU s what the emulator spent meanwhile (both share the machine's cores). "
              "Local disk written is the process's write_bytes counter (bytes it dirtied in local files); TMPDIR "
              "peak is the largest size its (fresh, empty) TMPDIR and working directory reached, sampled every "
              "0.1 s. Peak RSS is `/usr/bin/time -v`'s maximum resident set size. GB/s counts input plus output "
              "bytes over the median wall time."]
    return "\n".join(lines) + "\n"


def sdk_version() -> str:
    try:
        from azure.storage.blob import __version__
        return __version__
    except ImportError:
        return "unknown"


def azurite_version() -> str:
    program = azurite_program()
    try:
        out = subprocess.run([str(program), "--version"], capture_output=True, text=True, timeout=60)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError, TypeError):
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", type=Path, default=REPO_DIR / "build", help="CMake build directory")
    parser.add_argument("--cli", type=Path, help="paramdelta binary (default: BUILD/paramdelta)")
    parser.add_argument("--size", default="1.1b", help="preset of generate_trio.py (default: %(default)s)")
    parser.add_argument("--runs", type=int, default=3, help="timed runs after the warm-up (default: %(default)s)")
    parser.add_argument("--concurrency", default="4,8,16",
                        help="the peer's max_concurrency settings, each measured (default: %(default)s)")
    parser.add_argument("--operations", default="compute,apply", help="default: %(default)s")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds per run before it is killed")
    parser.add_argument("--data", type=Path, default=BENCH_DIR / "data", help="generated models (cached)")
    parser.add_argument("--work", type=Path, default=BENCH_DIR / "out",
                        help="Azurite's blobs and scratch directories (removed)")
    parser.add_argument("--results", type=Path, default=BENCH_DIR / "results", help="where the report is written")
    parser.add_argument("--no-save", action="store_true", help="print the report only")
    args = parser.parse_args(argv)

    require_gnu_time()
    if args.size not in generate_trio.PRESETS:
        parser.error(f"unknown size {args.size} (choose from {', '.join(generate_trio.PRESETS)})")
    operations = [op for op in args.operations.split(",") if op]
    if not operations or any(op not in ("compute", "apply") for op in operations):
        parser.error("--operations takes compute and/or apply")
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    concurrency = [int(c) for c in args.concurrency.split(",") if c]
    cli = (args.cli or args.build / "paramdelta").resolve()
    if not os.access(cli, os.X_OK):
        raise SystemExit(f"remote_bench: paramdelta not found at {cli}; build it (bench/remote.sh does)")
    args.data, args.work, args.results = args.data.resolve(), args.work.resolve(), args.results.resolve()

    trio = generate_trio.generate(args.size, args.data, models=list(MODELS), log=log)
    shape = generate_trio.PRESETS[args.size]
    model = generate_trio.model_bytes(shape)
    args.work.mkdir(parents=True, exist_ok=True)
    needed = 7 * model + 2 * 10**9  # three models, the delta (up to 2× a model), outputs and a margin
    if shutil.disk_usage(args.work).free < needed:
        raise SystemExit(f"remote_bench: {args.work} needs about {needed / 1e9:.0f} GB free for Azurite's blobs")
    work = Path(tempfile.mkdtemp(prefix="remote-bench-", dir=args.work))
    args.work = work
    (work / "azurite").mkdir()
    meta: dict[str, object] = {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine.describe(args.data, cli.parent, REPO_DIR),
        "cli_version": cli_version(cli), "sdk_version": sdk_version(), "azurite_version": azurite_version(),
        "python_version": sys.version.split()[0], "filesystem": machine.filesystem(work), "size": args.size,
        "model_gb": model / 1e9, "runs": args.runs, "concurrency": concurrency,
    }
    load_before = os.getloadavg()[0]
    azurite = DiskAzurite(work / "azurite")
    try:
        bench = Bench(args, azurite, cli)
        log(f"{args.size}: uploading the trio to Azurite")
        bench.upload_trio(trio, args.size)
        sz = args.size
        contenders: list[Contender] = []
        specs = {"compute": ([f"{sz}/base", f"{sz}/post"], ["--base", f"{sz}/base", "--post", f"{sz}/post"]),
                 "apply": ([f"{sz}/newbase", f"{sz}/delta"], ["--base", f"{sz}/newbase", "--delta", f"{sz}/delta"])}
        for op in operations:
            inputs, flags = specs[op]
            argv = bench.paramdelta(op, *[bench.url(f) if i % 2 else f for i, f in enumerate(flags)],
                                    "-o", bench.url(f"out/{op}"))
            ours = Contender(op, op, "paramdelta", None, inputs, f"out/{op}", argv)
            ours.input_bytes = sum(sum(bench.blobs(p).values()) for p in inputs)
            contenders.append(ours)
            for conc in concurrency:
                contenders.append(Contender(f"peer{conc}:{op}", op, "peer", conc, inputs, f"out/peer{conc}-{op}",
                                            input_bytes=ours.input_bytes))

        def peer_argv(c: Contender, ours: Contender) -> list[str]:
            argv = [sys.executable, str(BENCH_DIR / "peer_blob_transfer.py"), "--container", CONTAINER,
                    "--max-concurrency", str(c.concurrency)]
            for p in c.inputs:
                argv += ["--download", p]
            for name, size in bench.blobs(ours.output).items():
                argv += ["--upload", f"{c.output}/{name[len(ours.output) + 1:]}:{size}"]
            return argv

        # Warm-up, in list order: paramdelta's run of an operation gives its peers the output sizes.
        # compute's warm-up writes the delta that apply reads.
        for c in contenders:
            if c.key == "compute" or (c.key == "apply" and "compute" not in operations):
                log("  warm-up: compute base -> post, writing the delta that apply reads")
                ours = next(o for o in contenders if o.key == "compute") if c.key == "compute" else None
                argv = bench.paramdelta("compute", "--base", bench.url(f"{sz}/base"), "--post",
                                        bench.url(f"{sz}/post"), "-o", bench.url(f"{sz}/delta"))
                prep = run_measured(argv, bench.env, azurite, bench.scratch, args.timeout)
                log(f"    {prep.wall_s:.1f} s, exit {prep.exit_code}")
                if not prep.ok:
                    raise SystemExit(f"remote_bench: computing the delta failed: {prep.stderr_tail}")
                if ours is not None:
                    ours.warmup = prep
                    ours.output_bytes = sum(bench.blobs(f"{sz}/delta").values())
                    ours.output = f"{sz}/delta"  # its peers' upload sizes; the timed runs write out/compute
                    continue
            if c.tool == "peer":
                ours = next(o for o in contenders if o.tool == "paramdelta" and o.operation == c.operation)
                if ours.error:
                    c.error = f"no peer: paramdelta {c.operation} failed"
                    continue
                c.argv = peer_argv(c, ours)
                c.output_bytes = ours.output_bytes
            log(f"  warm-up: {c.key}")
            c.warmup = bench.measure(c)
            log(f"    {c.warmup.wall_s:.1f} s, exit {c.warmup.exit_code}")
            if not c.warmup.ok:
                c.error = f"exited {c.warmup.exit_code}: {c.warmup.stderr_tail.strip()[-300:]}"
                log(f"    failed: {c.error}")
        for c in contenders:
            # The delta apply reads exists only now.
            c.input_bytes = sum(sum(bench.blobs(p).values()) for p in c.inputs)
            if c.tool == "peer":
                bench.delete(c.output)
            if c.key == "compute":
                c.output = "out/compute"
        active = [c for c in contenders if not c.error]
        for r in range(args.runs):
            shift = r % len(active) if active else 0
            order = active[shift:] + active[:shift]
            log(f"  round {r + 1}/{args.runs}: " + ", ".join(c.key for c in order))
            for c in order:
                run = bench.measure(c)
                c.runs.append(run)
                log(f"    {c.key}: {run.wall_s:.1f} s, RSS {run.peak_rss_mib or 0:.0f} MiB, "
                    f"wrote {size_text(run.local_write_bytes)}, exit {run.exit_code}")
                if not run.ok:
                    log(f"    {c.key} failed: {run.stderr_tail.strip()[-300:]}")
                if c.tool == "peer":
                    bench.delete(c.output)
    finally:
        azurite.stop()
        shutil.rmtree(work, ignore_errors=True)
    meta["load_average"] = {"start": load_before, "end": os.getloadavg()[0]}
    text = report(contenders, meta)
    print(text)
    if not args.no_save:
        args.results.mkdir(parents=True, exist_ok=True)
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        payload = {**meta, "contenders": {c.key: {"operation": c.operation, "tool": c.tool,
                                                  "concurrency": c.concurrency, "argv": c.argv, "error": c.error,
                                                  "summary": summarize(c),
                                                  "warmup": asdict(c.warmup) if c.warmup else None,
                                                  "runs": [asdict(r) for r in c.runs]} for c in contenders}}
        (args.results / f"remote-{stamp}.json").write_text(json.dumps(payload, indent=1, default=str) + "\n")
        (args.results / f"remote-{stamp}.md").write_text(text)
        log(f"results: {args.results / f'remote-{stamp}.md'} (and .json)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
