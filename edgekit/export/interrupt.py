"""Ctrl-C during an export always stops it: the interrupt is recorded, not only raised.

Python raises ``KeyboardInterrupt`` in whatever code runs when SIGINT arrives; inside a garbage
collector callback (JAX installs one, ``_xla_gc_callback``) the exception is printed as
"Exception ignored in ..." and dropped, and the export would go on and write its artifact.
:func:`interrupt_guard` installs a SIGINT handler that also sets a flag, and
:func:`raise_if_interrupted` (called between the export's steps and before the final rename)
raises ``KeyboardInterrupt`` when the flag is set, so nothing is placed.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType

_interrupted = threading.Event()
_depth = [0]  # nesting of interrupt_guard blocks (export_all_targets -> _run_job ...)


def _on_sigint(signum: int, frame: FrameType | None) -> None:
    _interrupted.set()
    raise KeyboardInterrupt


@contextlib.contextmanager
def interrupt_guard() -> Iterator[None]:
    """Record SIGINT for the block (main thread only; elsewhere Python delivers no signals)."""
    if threading.current_thread() is not threading.main_thread() or _depth[0]:
        _depth[0] += 1
        try:
            yield
        finally:
            _depth[0] -= 1
        return
    previous = signal.signal(signal.SIGINT, _on_sigint)
    _interrupted.clear()
    _depth[0] += 1
    try:
        yield
    finally:
        _depth[0] -= 1
        signal.signal(signal.SIGINT, previous)
        _interrupted.clear()


def raise_if_interrupted() -> None:
    """Raise ``KeyboardInterrupt`` if SIGINT arrived in the guarded block, even if swallowed."""
    if _interrupted.is_set():
        raise KeyboardInterrupt
