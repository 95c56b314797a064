"""Progress of long operations: a callback, or a tqdm bar when tqdm is installed."""

from __future__ import annotations

from typing import Any, Callable, Optional, Union

#: progress(operation, done_bytes, total_bytes), called on the calling thread.
ProgressCallback = Callable[[str, int, int], None]
Progress = Union[None, bool, ProgressCallback]


class _TqdmBar:
    """Feeds byte counts to one tqdm bar per phase of an operation."""

    def __init__(self) -> None:
        from tqdm.auto import tqdm

        self._tqdm = tqdm
        self._bar: Any = None
        self._operation = ""

    def __call__(self, operation: str, done: int, total: int) -> None:
        if self._bar is None or operation != self._operation:
            self.close()
            self._operation = operation
            self._bar = self._tqdm(total=total, desc=operation, unit="B", unit_scale=True, unit_divisor=1000)
        self._bar.update(done - self._bar.n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def progress_callback(progress: Progress) -> Optional[ProgressCallback]:
    """``None``/``False``: no progress. ``True``: a tqdm bar (none if tqdm is not
    installed). A callable: called as ``progress(operation, done, total)``."""
    if progress is None or progress is False:
        return None
    if progress is True:
        try:
            return _TqdmBar()
        except ImportError:
            return None
    if not callable(progress):
        from .errors import UsageError, _make

        raise _make(UsageError, f"progress {progress!r} is neither a callable nor a bool", option="progress")
    return progress


def finish(callback: Optional[ProgressCallback]) -> None:
    if isinstance(callback, _TqdmBar):
        callback.close()
