"""Keep converters' chatter off stdout (it goes to stderr), and off stderr unless asked for.

stdout is for results. :func:`quiet_stderr` (what ``edgekit export`` runs under unless
``--verbose``) sends the converters' stderr (absl and TensorFlow C++ logs, torchao's library
notices, tqdm bars, FutureWarnings) to a discarded temporary file; edgekit's own lines still reach
the terminal through :func:`terminal`.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from typing import TextIO

_terminal: list[TextIO] = []  # the real stderr while quiet_stderr is active (innermost last)


def terminal() -> TextIO:
    """Where edgekit's own progress and warnings go: the real stderr, even under quiet_stderr."""
    return _terminal[-1] if _terminal else sys.stderr


def stderr_log(msg: str) -> None:
    """The default progress callback: one ``edgekit: ...`` line on stderr."""
    print(f"edgekit: {msg}", file=terminal(), flush=True)


@contextlib.contextmanager
def quiet_stderr(enabled: bool = True) -> Iterator[None]:
    """Discard everything written to stderr (Python and C level) in the block, except edgekit's.

    ``enabled=False`` (``--verbose``) changes nothing.
    """
    if not enabled:
        yield
        return
    sys.stderr.flush()
    try:
        fd_err = sys.__stderr__.fileno() if sys.__stderr__ else 2
        saved = os.dup(fd_err)
    except (OSError, ValueError, AttributeError):  # no real stderr: nothing to quieten
        yield
        return
    prev = sys.stderr
    try:
        on_fd = prev.fileno() == fd_err
    except (OSError, ValueError, AttributeError):  # a Python-level stream (pytest's capsys...)
        on_fd = False
    # edgekit's lines keep going where sys.stderr went; a stream on the real fd if it was that
    real = (os.fdopen(os.dup(saved), "w", encoding="utf-8", errors="replace", buffering=1)
            if on_fd else prev)
    sink = tempfile.TemporaryFile()
    os.dup2(sink.fileno(), fd_err)
    _terminal.append(real)
    try:
        yield
    finally:
        _terminal.pop()
        with contextlib.suppress(ValueError, OSError):
            sys.stderr.flush()
        os.dup2(saved, fd_err)
        os.close(saved)
        if real is not prev:
            real.close()
        sink.close()


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Send everything written to stdout (Python and C level) to stderr while converters run.

    Converters print progress on stdout; the CLI keeps stdout for results.
    """
    sys.stdout.flush()
    try:
        fd_out = sys.__stdout__.fileno() if sys.__stdout__ else 1
        saved = os.dup(fd_out)
    except (OSError, ValueError, AttributeError):  # no real stdout (embedded interpreter)
        saved = None
    try:
        if saved is not None:
            os.dup2(sys.__stderr__.fileno() if sys.__stderr__ else 2, fd_out)
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        with contextlib.suppress(ValueError, OSError):
            sys.stdout.flush()
        if saved is not None:
            os.dup2(saved, fd_out)
            os.close(saved)
