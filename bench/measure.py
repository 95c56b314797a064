"""Running one benchmarked command: wall time, peak RSS and I/O counters from
`/usr/bin/time -v`, bytes in and out, and how much of the input was in the
page cache just before. Shared by run_bench.py and larger_than_ram.py."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

GNU_TIME = "/usr/bin/time"

# Lines of `/usr/bin/time -v` that are kept, under shorter names.
TIME_FIELDS = {
    "Maximum resident set size (kbytes)": "peak_rss_kib",
    "User time (seconds)": "user_s",
    "System time (seconds)": "system_s",
    "Major (requiring I/O) page faults": "major_faults",
    "File system inputs": "fs_input_blocks",
    "File system outputs": "fs_output_blocks",
}


@dataclass
class RunResult:
    argv: list[str]
    exit_code: int
    wall_s: float
    input_bytes: int
    output_bytes: int
    output_files: dict[str, int]  # relative path -> bytes
    input_resident: float | None  # fraction of input bytes in the page cache before the run
    counters: dict[str, float] = field(default_factory=dict)
    stdout: str = ""
    stderr_tail: str = ""

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    @property
    def peak_rss_mib(self) -> float | None:
        kib = self.counters.get("peak_rss_kib")
        return None if kib is None else kib / 1024.0

    @property
    def gb_per_s(self) -> float:
        return (self.input_bytes + self.output_bytes) / self.wall_s / 1e9 if self.wall_s > 0 else 0.0


def require_gnu_time() -> None:
    if not os.access(GNU_TIME, os.X_OK):
        raise SystemExit(f"{GNU_TIME} is missing: install Debian's 'time' package (bench/setup.sh does)")


def files_under(path: Path) -> dict[str, int]:
    """Relative path -> size of every regular file under `path` (or of `path`)."""
    if path.is_file():
        return {path.name: path.stat().st_size}
    out: dict[str, int] = {}
    if path.is_dir():
        for p in sorted(path.rglob("*")):
            if p.is_file() and not p.is_symlink():
                out[str(p.relative_to(path))] = p.stat().st_size
    return out


def safetensors_files(path: Path) -> list[Path]:
    """The weight files an operation reads from a checkpoint directory or file."""
    if path.is_file():
        return [path]
    return sorted(p for p in path.glob("*.safetensors") if p.is_file())


def resident_fraction(files: list[Path]) -> float | None:
    """Fraction of the files' bytes in the page cache (util-linux fincore)."""
    if not files or shutil.which("fincore") is None:
        return None
    try:
        out = subprocess.run(["fincore", "--bytes", "--noheadings", "--raw", "--output", "RES,SIZE", *map(str, files)],
                             check=True, capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    res = size = 0
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2:
            res += int(parts[0])
            size += int(parts[1])
    # RES counts whole pages, so a cached file's last page can make it exceed SIZE.
    return min(1.0, res / size) if size else None


def read_through(files: list[Path]) -> None:
    """Reads the files once so that their pages are in the page cache."""
    buffer = bytearray(1 << 20)
    for path in files:
        with open(path, "rb", buffering=0) as f:
            while f.readinto(buffer):
                pass


def parse_gnu_time(text: str) -> dict[str, float]:
    counters: dict[str, float] = {}
    for line in text.splitlines():
        key, _, value = line.strip().rpartition(": ")
        if key in TIME_FIELDS:
            try:
                counters[TIME_FIELDS[key]] = float(value)
            except ValueError:
                pass
    return counters


def remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def run_measured(argv: list[str], inputs: list[Path], output: Path, timeout_s: float = 3600.0,
                 keep_output: bool = False, sync_before: bool = True, warm_inputs: bool = False) -> RunResult:
    """Runs `argv` (which writes to `output`) under /usr/bin/time -v.

    Before the clock starts: any old output is removed, dirty pages are
    flushed (so one run's write-back does not land in the next one's time)
    and, with warm_inputs, inputs that another run pushed out of the page
    cache are read back in, so that every run starts from the same state.
    The output is measured, then removed unless keep_output."""
    remove(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    if sync_before:
        os.sync()
    resident = resident_fraction(inputs)
    if warm_inputs and resident is not None and resident < 0.999:
        read_through(inputs)
        resident = resident_fraction(inputs)
    input_bytes = sum(p.stat().st_size for p in inputs)
    with tempfile.NamedTemporaryFile("r", prefix="gnu-time-", suffix=".txt") as tf:
        start = time.perf_counter()
        # Its own process group, so that a timeout ends the command too, not only time(1).
        proc = subprocess.Popen([GNU_TIME, "-v", "-o", tf.name, *argv], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, start_new_session=True)
        try:
            stdout, stderr = proc.communicate(timeout=timeout_s)
            exit_code = proc.returncode
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            stdout, stderr = proc.communicate()
            exit_code, stderr = 124, f"timed out after {timeout_s:.0f} s\n{stderr}"
        wall = time.perf_counter() - start
        counters = parse_gnu_time(Path(tf.name).read_text(errors="replace"))
    outputs = files_under(output)
    result = RunResult(argv=argv, exit_code=exit_code, wall_s=wall, input_bytes=input_bytes,
                       output_bytes=sum(outputs.values()), output_files=outputs, input_resident=resident,
                       counters=counters, stdout=stdout or "", stderr_tail=(stderr or "")[-2000:])
    if not keep_output:
        remove(output)
    return result


def floor_argv(io_floor: Path, inputs: list[Path], output: Path, output_files: dict[str, int]) -> list[str]:
    """io_floor command reading `inputs` and writing files of the given sizes.

    Files in subdirectories are flattened into one directory with unique names:
    the bytes and the file count are what matter for the floor."""
    argv = [str(io_floor), "--output-dir", str(output)]
    for rel, size in output_files.items():
        argv += ["--output", f"{re.sub(r'[^A-Za-z0-9._-]', '_', rel)}:{size}"]
    return argv + [str(p) for p in inputs]
