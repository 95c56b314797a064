"""Long calls release the GIL, deliver progress on the calling thread, and
stop on Ctrl-C (or an exception from the progress callback) leaving no output."""

from __future__ import annotations

import _thread
import threading

import numpy as np
import pytest

import paramdelta


@pytest.fixture(scope="module")
def large_pair(tmp_path_factory):
    """Two 128 MiB F32 models: long enough to act on while they are processed."""
    root = tmp_path_factory.mktemp("large")
    rng = np.random.default_rng(0)
    base = {f"layer.{i}.weight": rng.standard_normal((1024, 2048)).astype(np.float32) for i in range(16)}
    paramdelta.save(base, root / "base")
    post = {name: value + np.float32(0.001) for name, value in base.items()}
    paramdelta.save(post, root / "post")
    return root / "base", root / "post"


def test_progress_reaches_the_total_on_the_calling_thread(tmp_path, large_pair):
    calls = []
    caller = threading.get_ident()

    def progress(operation, done, total):
        calls.append((operation, done, total, threading.get_ident()))

    paramdelta.compute(*large_pair, tmp_path / "d", threads=2, progress=progress)
    assert calls, "no progress was reported"
    assert {c[3] for c in calls} == {caller}
    assert {c[0] for c in calls} == {"compute"}
    dones = [c[1] for c in calls]
    assert dones == sorted(dones)
    assert calls[-1][1] == calls[-1][2] > 0


def test_a_python_thread_runs_while_an_operation_works(tmp_path, large_pair):
    ticks = 0
    stop = threading.Event()

    def count():
        nonlocal ticks
        while not stop.is_set():
            ticks += 1

    ticks_during = []

    def progress(operation, done, total):
        ticks_during.append(ticks)

    thread = threading.Thread(target=count)
    thread.start()
    try:
        paramdelta.compute(*large_pair, tmp_path / "d", threads=1, progress=progress)
    finally:
        stop.set()
        thread.join()
    # Between two progress reports (the GIL released in between) the counter moved.
    assert len(ticks_during) >= 2 and ticks_during[-1] > ticks_during[0]


def test_ctrl_c_stops_the_operation_and_leaves_no_output(tmp_path, large_pair):
    def progress(operation, done, total):
        _thread.interrupt_main()  # as if Ctrl-C were pressed now

    with pytest.raises(KeyboardInterrupt):
        paramdelta.compute(*large_pair, tmp_path / "d", threads=1, progress=progress)
    assert list(tmp_path.iterdir()) == []


def test_an_exception_in_the_progress_callback_stops_the_operation_and_is_raised(tmp_path, large_pair):
    class Enough(Exception):
        pass

    def progress(operation, done, total):
        raise Enough()

    with pytest.raises(Enough):
        paramdelta.compute(*large_pair, tmp_path / "out.safetensors", threads=1, progress=progress)
    assert list(tmp_path.iterdir()) == []


def test_ctrl_c_during_apply_keeps_the_existing_output(tmp_path, large_pair):
    base, post = large_pair
    paramdelta.compute(base, post, tmp_path / "d")
    paramdelta.save({"mine": np.zeros(1, np.float32)}, tmp_path / "out")
    # A model (config and weights): what --force may replace.
    (tmp_path / "out" / "config.json").write_text("{}")
    with pytest.raises(KeyboardInterrupt):
        paramdelta.apply(base, tmp_path / "d", tmp_path / "out", force=True, threads=1,
                         progress=lambda *a: _thread.interrupt_main())
    assert list(paramdelta.open(tmp_path / "out").keys()) == ["mine"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d", "out"]


def test_progress_true_draws_a_tqdm_bar(tmp_path, large_pair, capsys):
    pytest.importorskip("tqdm")
    paramdelta.compute(*large_pair, tmp_path / "d", progress=True)
    assert "compute" in capsys.readouterr().err
