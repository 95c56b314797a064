"""Crash safety of outputs: `kill -9` of a running compute or apply at random
moments leaves either no output or a complete one (the previous output, when
--force replaces one); a full disk (a small tmpfs where one can be mounted,
and RLIMIT_FSIZE everywhere) gives exit code 1, one clear line and no
temporary files.

Models come from tools/make_llama.py (written by Hugging Face's safetensors),
large enough (~60 MB) that a run takes a noticeable time to interrupt."""

from __future__ import annotations

import hashlib
import os
import random
import resource
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

import make_llama

SIZE = dict(layers=8, hidden=512, intermediate=1024, vocab=4096, heads=8, kv_heads=4)
TRIALS = 6  # per scenario; the kill moments are spread over the run's duration


def snapshot(path: Path) -> dict[str, str]:
    """Name -> sha256 of every visible file of an output (a directory or a single file)."""
    if path.is_file():
        return {path.name: hashlib.sha256(path.read_bytes()).hexdigest()}
    return {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in sorted(path.iterdir()) if not f.name.startswith(".")}


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith(".") and ".paramdelta-" in p.name)


def clear_leftovers(directory: Path) -> None:
    for name in leftovers(directory):
        p = directory / name
        shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("crash")
    make_llama.write_model(str(root / "base"), 1, **SIZE, max_shard_bytes=20_000_000)
    make_llama.write_model(str(root / "post"), 1, **SIZE, noise=0.02, noise_seed=3, max_shard_bytes=20_000_000)
    return root


def timed(cmd: list[str]) -> float:
    start = time.monotonic()
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return time.monotonic() - start


def kill_at(cmd: list[str], delay: float) -> int:
    """Starts cmd, sends SIGKILL after `delay` seconds (if still running); returns its exit status."""
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        p.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        p.send_signal(signal.SIGKILL)
    return p.wait(timeout=60)


def kill_moments(duration: float, seed: int) -> list[float]:
    # Mostly inside the run, some near its end (the commit), one past it.
    rng = random.Random(seed)
    return sorted([rng.uniform(0.0, duration) for _ in range(TRIALS - 2)] +
                  [rng.uniform(0.85 * duration, 1.05 * duration), past_the_end(duration)])


def past_the_end(duration: float) -> float:
    # A run lets this trial end on its own: the machine may be busier now than
    # when `duration` was measured (kill_at returns as soon as the run ends).
    return max(1.5 * duration, duration + 60.0)


def test_kill_during_compute_leaves_nothing_or_a_complete_delta(models, paramdelta_cli, tmp_path):
    base, post = models / "base", models / "post"
    out = tmp_path / "delta"
    cmd = [paramdelta_cli, "compute", "--base", str(base), "--post", str(post), "-o", str(out), "-q", "--threads", "2"]
    duration = timed(cmd)
    shutil.rmtree(out)
    outcomes = []
    for delay in kill_moments(duration, seed=11):
        status = kill_at(cmd, delay)
        if out.exists():
            # Present means complete: it must reproduce the post model exactly.
            v = subprocess.run([paramdelta_cli, "verify", "--base", str(base), "--delta", str(out), "--expect", str(post)],
                               capture_output=True, text=True, timeout=300)
            assert v.returncode == 0, f"killed after {delay:.2f}s (status {status}): incomplete delta\n{v.stdout}{v.stderr}"
            shutil.rmtree(out)
            outcomes.append("complete")
        else:
            outcomes.append("none")
        # What a kill leaves behind is hidden: it never takes the output's name.
        assert all(name.startswith(".") for name in os.listdir(tmp_path) if name != "delta")
        clear_leftovers(tmp_path)
    assert "none" in outcomes, outcomes  # the kills did interrupt runs
    # A new run is not disturbed by what a killed one left behind.
    subprocess.run(cmd, check=True, timeout=300)


@pytest.mark.parametrize("output_name", ["model", "model.safetensors"])
def test_kill_during_forced_apply_keeps_old_or_new_output(models, paramdelta_cli, tmp_path, output_name):
    base, post = models / "base", models / "post"
    delta = tmp_path / "delta"
    subprocess.run([paramdelta_cli, "compute", "--base", str(base), "--post", str(post), "-o", str(delta), "-q"],
                   check=True, timeout=300)
    out = tmp_path / output_name
    apply = [paramdelta_cli, "apply", "--base", str(base), "--delta", str(delta), "-o", str(out), "-q", "--threads", "2"]
    timed(apply + ["--scale", "0.5"])
    old = snapshot(out)
    duration = timed(apply + ["--scale", "1", "--force"])
    new = snapshot(out)
    assert old != new
    outcomes = []
    for delay in kill_moments(duration, seed=23):
        # Start every trial from the old output.
        subprocess.run(apply + ["--scale", "0.5", "--force"], check=True, timeout=300)
        kill_at(apply + ["--scale", "1", "--force"], delay)
        assert out.exists(), f"killed after {delay:.2f}s: the output vanished"
        state = snapshot(out)
        assert state in (old, new), f"killed after {delay:.2f}s: a mixed or partial output"
        outcomes.append("old" if state == old else "new")
        clear_leftovers(tmp_path)
    assert "old" in outcomes and "new" in outcomes, outcomes


def test_refuses_to_overwrite_without_force(models, paramdelta_cli, tmp_path):
    out = tmp_path / "delta"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    r = subprocess.run([paramdelta_cli, "compute", "--base", str(models / "base"), "--post", str(models / "post"),
                        "-o", str(out)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 1
    assert r.stderr.count("\n") == 1 and "already exists" in r.stderr and "--force" in r.stderr
    assert snapshot(out) == {"notes.txt": hashlib.sha256(b"mine").hexdigest()}
    assert leftovers(tmp_path) == []


def limit_file_size(limit: int):
    def apply_limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply_limit


@pytest.mark.parametrize("output_name", ["delta", "delta.safetensors"])
def test_file_size_limit_gives_one_line_and_no_leftovers(models, paramdelta_cli, tmp_path, output_name):
    out = tmp_path / output_name
    # Python restores SIGXFSZ to its default action in the child: the program
    # itself must ignore it to report the error instead of dying.
    r = subprocess.run([paramdelta_cli, "compute", "--base", str(models / "base"), "--post", str(models / "post"),
                        "-o", str(out)], capture_output=True, text=True, timeout=300,
                       preexec_fn=limit_file_size(5_000_000))
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("paramdelta: error: "), r.stderr
    assert "File too large" in r.stderr, r.stderr
    assert not out.exists()
    assert leftovers(tmp_path) == []


@pytest.fixture
def small_tmpfs(tmp_path):
    """A 4 MB tmpfs, where this process may mount one (root with CAP_SYS_ADMIN)."""
    mount_point = tmp_path / "tmpfs"
    mount_point.mkdir()
    if shutil.which("mount") is None:
        pytest.skip("no mount command")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount_point)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=False)


@pytest.mark.parametrize("output_name", ["delta", "delta.safetensors"])
def test_full_disk_gives_one_line_and_no_leftovers(models, paramdelta_cli, small_tmpfs, output_name):
    out = small_tmpfs / output_name
    r = subprocess.run([paramdelta_cli, "compute", "--base", str(models / "base"), "--post", str(models / "post"),
                        "-o", str(out)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert r.stderr.count("\n") == 1 and "No space left on device" in r.stderr, r.stderr
    assert "free some disk space" in r.stderr, r.stderr
    assert os.listdir(small_tmpfs) == [], os.listdir(small_tmpfs)
