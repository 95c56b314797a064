"""What a benchmark ran on, in one line: CPU, cores, memory, kernel, file
system, the build that was measured and the peer's versions."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path


def _run(argv: list[str], cwd: Path | None = None) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, check=True, cwd=cwd).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def memory_bytes() -> int:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def filesystem(path: Path) -> str:
    """File system type and device of `path` (findmnt), e.g. 'ext4 on /dev/vda'."""
    out = _run(["findmnt", "--noheadings", "--output", "FSTYPE,SOURCE", "--target", str(path)])
    parts = out.split()
    return f"{parts[0]} on {parts[1]}" if len(parts) >= 2 else (out or "unknown file system")


def build_type(build_dir: Path) -> str:
    try:
        for line in (build_dir / "CMakeCache.txt").read_text().splitlines():
            if line.startswith("CMAKE_BUILD_TYPE:"):
                return line.split("=", 1)[1] or "(none)"
    except OSError:
        pass
    return "unknown"


def source_revision(repo: Path) -> str:
    rev = _run(["git", "rev-parse", "--short", "HEAD"], cwd=repo)
    if not rev:
        return "unknown revision"
    dirty = _run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=repo)
    return rev + ("+local changes" if dirty else "")


def describe(data_dir: Path, build_dir: Path, repo: Path) -> dict[str, object]:
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "memory_bytes": memory_bytes(),
        "kernel": platform.release(),
        "filesystem": filesystem(data_dir),
        "build_type": build_type(build_dir),
        "revision": source_revision(repo),
    }


def describe_line(m: dict[str, object]) -> str:
    return (f"{m['cpu']}, {m['cores']} cores, {int(m['memory_bytes']) / 2**30:.1f} GiB RAM, "
            f"Linux {m['kernel']}, {m['filesystem']}; paramdelta {m['revision']} ({m['build_type']} build)")
